//! The relational projection of room documents (`posts`, `read_markers`): what members write
//! through `/ws` shows there exactly, refused updates leave no trace, and the rows are as
//! durable as the log: on SQLite the projection follows the log a moment after the
//! acknowledgement, yet every list read after a save holds it, and a crash in between
//! costs nothing (the next start projects the log past its marks). Runs on SQLite and
//! PostgreSQL.

use renraku_server::Db;
use renraku_sync::{PostId, RoomDoc, RoomId, UserId};
use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::process::ServerProcess;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{flood_args, signin_at, team, team_at, TestServer, TestStorage};

use crate::BIN;

/// The projection holds exactly the document's posts and read markers.
async fn assert_projection_is(db: &Db, room: RoomId, doc: &RoomDoc) {
    let projected: Vec<_> = db
        .projected_posts(room)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.post)
        .collect();
    assert_eq!(projected, doc.posts(), "posts table vs the document");
    let markers = db.projected_read_markers(room).await.unwrap();
    assert_eq!(
        markers,
        doc.read_markers(),
        "read_markers table vs the document"
    );
}

async fn unread(db: &Db, user: UserId, room: RoomId) -> (i64, Option<i64>) {
    let activity = db.room_activity(user).await.unwrap();
    let entry = activity
        .iter()
        .find(|a| a.room == room)
        .expect("the room is listed for its member");
    (entry.unread, entry.latest_activity_at)
}

test_both_dbs!(posting_replying_editing_deleting_and_reading_show_in_the_projection);
async fn posting_replying_editing_deleting_and_reading_show_in_the_projection() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (room, ua, ub) = (t.room, t.a.id, t.b.id);
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 3101)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 3202)
        .await
        .unwrap();
    a.open(room).await.unwrap();
    b.open(room).await.unwrap();
    let db = server.db();

    let root = new_post_id();
    let at = now_ms();
    let u = a
        .doc(room)
        .start_thread(ua, root.clone(), "山田様 本日 37.8℃ の発熱", at);
    a.write(room, u).await.unwrap();
    assert_projection_is(db, room, a.doc(room)).await;
    let rows = db.projected_posts(room).await.unwrap();
    assert_eq!(rows[0].post.author, ua);
    assert_eq!(rows[0].post.text, "山田様 本日 37.8℃ の発熱");
    assert_eq!(rows[0].post.created_at, at);
    assert_eq!(rows[0].post.parent, None);
    assert!(rows[0].stored_at >= at, "stored_at is the server's clock");
    assert_eq!(unread(db, ub, room).await, (1, Some(at)));
    assert_eq!(
        unread(db, ua, room).await.0,
        0,
        "one's own posts are never unread"
    );

    b.wait_for(room, "the thread", |d| d.post(&root).is_some())
        .await
        .unwrap();
    let reply = new_post_id();
    let u = b
        .doc(room)
        .reply(ub, reply.clone(), &root, "明日往診します", now_ms())
        .unwrap();
    b.write(room, u).await.unwrap();
    assert_projection_is(db, room, b.doc(room)).await;
    let rows = db.projected_posts(room).await.unwrap();
    let projected_reply = rows.iter().find(|r| r.post.id == reply).unwrap();
    assert_eq!(projected_reply.post.parent.as_ref(), Some(&root));
    assert_eq!(projected_reply.post.author, ub);

    a.wait_for(room, "the reply", |d| d.post(&reply).is_some())
        .await
        .unwrap();
    let edited_at = now_ms() + 5;
    let u = a
        .doc(room)
        .edit(ua, &root, "山田様 本日 38.1℃ の発熱（訂正）", edited_at)
        .unwrap();
    a.write(room, u).await.unwrap();
    assert_projection_is(db, room, a.doc(room)).await;
    let rows = db.projected_posts(room).await.unwrap();
    let edited = rows.iter().find(|r| r.post.id == root).unwrap();
    assert_eq!(edited.post.text, "山田様 本日 38.1℃ の発熱（訂正）");
    assert_eq!(edited.post.edited_at, Some(edited_at));
    assert_eq!(unread(db, ub, room).await, (1, Some(edited_at)));

    b.wait_for(room, "the edit", |d| {
        d.post(&root).is_some_and(|p| p.edited_at.is_some())
    })
    .await
    .unwrap();
    let u = b.doc(room).delete(ub, &reply, now_ms()).unwrap();
    b.write(room, u).await.unwrap();
    assert_projection_is(db, room, b.doc(room)).await;
    let rows = db.projected_posts(room).await.unwrap();
    let deleted = rows.iter().find(|r| r.post.id == reply).unwrap();
    assert!(deleted.post.deleted);
    assert_eq!(
        deleted.post.text, "",
        "a deleted post's text is gone from the table too"
    );
    assert_eq!(
        unread(db, ua, room).await.0,
        0,
        "deleted posts are not unread"
    );

    let u = b.doc(room).mark_read(ub, &root, now_ms());
    b.write(room, u).await.unwrap();
    assert_projection_is(db, room, b.doc(room)).await;
    assert_eq!(unread(db, ub, room).await.0, 0);

    // A newer post by A is unread for B again, and only it.
    let second = new_post_id();
    let u = a
        .doc(room)
        .start_thread(ua, second.clone(), "次回訪問は木曜です", now_ms());
    a.write(room, u).await.unwrap();
    assert_eq!(unread(db, ub, room).await.0, 1);
    b.wait_for(room, "the second thread", |d| d.post(&second).is_some())
        .await
        .unwrap();
    let u = b.doc(room).mark_read(ub, &second, now_ms());
    b.write(room, u).await.unwrap();
    assert_eq!(unread(db, ub, room).await.0, 0);
    assert_projection_is(db, room, b.doc(room)).await;
}

test_both_dbs!(a_refused_update_projects_nothing);
async fn a_refused_update_projects_nothing() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (room, ua, ub) = (t.room, t.a.id, t.b.id);
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 3303)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 3404)
        .await
        .unwrap();
    a.open(room).await.unwrap();
    b.open(room).await.unwrap();
    let db = server.db();

    let root = new_post_id();
    let u = a.doc(room).start_thread(ua, root.clone(), "原文", now_ms());
    a.write(room, u).await.unwrap();
    b.wait_for(room, "the thread", |d| d.post(&root).is_some())
        .await
        .unwrap();
    let before = db.projected_posts(room).await.unwrap();

    // B posts in A's name, edits A's post, and marks A's read position: all refused.
    let forged = b
        .doc(room)
        .start_thread(ua, new_post_id(), "なりすまし", now_ms());
    let ack = b.send_update(room, forged).await.unwrap();
    assert!(b.verdict(ack).await.unwrap().is_err());

    let mut other = SyncClient::connect(&server.ws_url(), &t.b.token, 3405)
        .await
        .unwrap();
    other.open(room).await.unwrap();
    let tampered = other.doc(room).edit(ua, &root, "改ざん", now_ms()).unwrap();
    let ack = other.send_update(room, tampered).await.unwrap();
    assert!(other.verdict(ack).await.unwrap().is_err());

    let mut third = SyncClient::connect(&server.ws_url(), &t.b.token, 3406)
        .await
        .unwrap();
    third.open(room).await.unwrap();
    let marker = third.doc(room).mark_read(ua, &root, now_ms());
    let ack = third.send_update(room, marker).await.unwrap();
    assert!(third.verdict(ack).await.unwrap().is_err());

    assert_eq!(db.projected_posts(room).await.unwrap(), before);
    assert!(db.projected_read_markers(room).await.unwrap().is_empty());
    assert_eq!(unread(db, ub, room).await.0, 1);
    assert_projection_is(db, room, a.doc(room)).await;
}

test_both_dbs!(the_demo_conversations_are_projected_at_start);
async fn the_demo_conversations_are_projected_at_start() {
    let server = TestServer::start().await;
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts")
        .fetch_one(server.db().pool())
        .await
        .unwrap();
    assert!(posts > 10, "the demo posts are in the projection ({posts})");
}

/// The server's arguments with the projection held back for an hour (where it follows the
/// log): only a reader waiting for it, or a start after a crash, gets it written.
fn projection_held_args(storage: &TestStorage) -> Vec<String> {
    let mut args = flood_args(storage);
    args.extend(["--projection-ms".into(), "3600000".into()]);
    args
}

test_both_dbs!(a_list_read_right_after_the_save_holds_the_post_though_its_projection_waits);
async fn a_list_read_right_after_the_save_holds_the_post_though_its_projection_waits() {
    let server = TestServer::start_with(|c| c.projection_ms = 3_600_000).await;
    let t = team(&server).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 3601)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let listed = |rooms: serde_json::Value| {
        rooms
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == t.room.get())
            .cloned()
            .expect("the room is listed for its member")
    };
    let before = listed(server.get_json(&t.b.token, "/api/rooms").await);

    let id = new_post_id();
    let u = a
        .doc(t.room)
        .start_thread(t.a.id, id.clone(), "褥瘡の処置について相談です", now_ms());
    a.write(t.room, u).await.unwrap();

    // Saved: B's room list, B's search and the statistics count it at once.
    let after = listed(server.get_json(&t.b.token, "/api/rooms").await);
    assert_eq!(after["last_text"], "褥瘡の処置について相談です");
    assert_eq!(
        after["unread"].as_i64(),
        Some(before["unread"].as_i64().unwrap_or(0) + 1)
    );
    let found = server
        .get_json(&t.b.token, "/api/search?q=%E8%A4%A5%E7%98%A1")
        .await;
    let posts: Vec<&str> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["post"].as_str().unwrap())
        .collect();
    assert_eq!(posts, [id.as_str()], "B finds the post saved a moment ago");

    // An edit right after is read as edited, not as it first stood.
    let u = a
        .doc(t.room)
        .edit(
            t.a.id,
            &id,
            "褥瘡の処置について相談です（写真あり）",
            now_ms() + 1,
        )
        .unwrap();
    a.write(t.room, u).await.unwrap();
    let rows = server.db().projected_posts(t.room).await.unwrap();
    let row = rows.iter().find(|r| r.post.id == id).unwrap();
    assert_eq!(row.post.text, "褥瘡の処置について相談です（写真あり）");
    assert_projection_is(server.db(), t.room, a.doc(t.room)).await;
}

test_both_dbs!(projected_rows_survive_kill_9_exactly_like_the_log);
async fn projected_rows_survive_kill_9_exactly_like_the_log() {
    let storage = TestStorage::new().await;
    // Held back for an hour: on SQLite nothing streamed below is projected before the kill,
    // and the restarted server must project all of it from the log.
    let server = ServerProcess::spawn(BIN, &projection_held_args(&storage))
        .await
        .unwrap();
    let t = team_at(&server.base_url, &storage).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 3507)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();

    let streamed = a
        .stream_then_kill_9(server, t.room, t.a.id, 300, 50)
        .await
        .unwrap();

    // The log as the restarted server loads it, and the table as it was left.
    let server = ServerProcess::spawn(BIN, &flood_args(&storage))
        .await
        .unwrap();
    let token = signin_at(&server.base_url, &t.a.login).await;
    let mut fresh = SyncClient::connect(&server.ws_url(), &token, 3508)
        .await
        .unwrap();
    fresh.open(t.room).await.unwrap();
    let db = Db::connect(&storage.database_url()).await.unwrap();
    let projected: Vec<PostId> = db
        .projected_posts(t.room)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.post.id)
        .collect();
    for (ack, id) in streamed.acknowledged() {
        assert!(
            projected.contains(id),
            "acknowledged post {ack} not projected"
        );
    }
    assert_projection_is(&db, t.room, fresh.doc(t.room)).await;
    // B's room list counts every one of them as unread.
    let stored = fresh.doc(t.room).posts().len() as i64;
    assert_eq!(unread(&db, t.b.id, t.room).await.0, stored);
    db.close().await;
    server.kill_9().await.unwrap();
}

test_both_dbs!(one_commit_of_many_posts_projects_as_if_written_one_at_a_time);
/// A busy group commit writes its posts with a few multi-row statements: every post of it
/// is projected (more than one statement's worth), an edit in the same commit as new posts
/// updates its row, the log's seqs of two shares of one room in one commit follow each
/// other, and a post that comes twice in one commit (written, then deleted) ends as its last
/// write says.
async fn one_commit_of_many_posts_projects_as_if_written_one_at_a_time() {
    use renraku_server::db::doc_log::{DocAppend, LogRow};
    use renraku_server::db::posts::Projection;
    use renraku_sync::{DocId, Post};
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (room, ua, ub) = (t.room, t.a.id, t.b.id);
    let db = server.db();
    let doc = DocId::Room(room).storage_key();
    let at = now_ms();
    let post = |id: &PostId, author: UserId, text: String| Post {
        id: id.clone(),
        author,
        created_at: at,
        text,
        parent: None,
        attachments: vec![],
        edited_at: None,
        deleted: false,
        ack: None,
        urgent: false,
    };
    let projection = |posts: Vec<(PostId, Option<Post>)>| Projection {
        room,
        posts,
        reads: vec![],
        acks: vec![],
    };
    let commit = |shares: Vec<(Vec<LogRow>, Projection)>| {
        let doc = doc.clone();
        async move {
            let appends: Vec<DocAppend> = shares
                .iter()
                .map(|(rows, projection)| DocAppend {
                    doc: &doc,
                    rows,
                    bind: &[],
                    projection: Some(projection),
                })
                .collect();
            db.append_batch_posts(&appends, &[], &[]).await.unwrap()
        }
    };

    // One post first, to be edited later.
    let edited = new_post_id();
    let (seqs, new) = commit(vec![(
        vec![(ua, vec![1])],
        projection(vec![(edited.clone(), Some(post(&edited, ua, "前".into())))]),
    )])
    .await;
    assert_eq!(seqs, vec![Ok(vec![1])]);
    assert_eq!(new.len(), 1);

    // 45 new posts (a statement's worth and more) and the edit, in two shares of one room.
    let ids: Vec<PostId> = (0..45).map(|_| new_post_id()).collect();
    let mut first: Vec<_> = ids[..30]
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), Some(post(id, ub, format!("記録 {i}")))))
        .collect();
    let mut after_edit = post(&edited, ua, "後".into());
    after_edit.edited_at = Some(at + 1);
    first.push((edited.clone(), Some(after_edit)));
    let second: Vec<_> = ids[30..]
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), Some(post(id, ub, format!("記録 {}", i + 30)))))
        .collect();
    let (seqs, new) = commit(vec![
        (vec![(ub, vec![2]), (ub, vec![3])], projection(first)),
        (vec![(ub, vec![4])], projection(second)),
    ])
    .await;
    assert_eq!(
        seqs,
        vec![Ok(vec![2, 3]), Ok(vec![4])],
        "seqs follow each other"
    );
    assert_eq!(new.len(), 45, "the edit is no new post");
    let rows = db.projected_posts(room).await.unwrap();
    assert_eq!(rows.len(), 46);
    for (i, id) in ids.iter().enumerate() {
        let row = rows.iter().find(|r| &r.post.id == id).expect("projected");
        assert_eq!(row.post.text, format!("記録 {i}"));
    }
    let row = rows.iter().find(|r| r.post.id == edited).unwrap();
    assert_eq!(
        (row.post.text.as_str(), row.post.edited_at),
        ("後", Some(at + 1))
    );

    // Written and deleted in one commit: deleted, and never announced as new.
    let gone = new_post_id();
    let (_, new) = commit(vec![
        (
            vec![(ua, vec![5])],
            projection(vec![(gone.clone(), Some(post(&gone, ua, "誤送信".into())))]),
        ),
        (vec![(ua, vec![6])], projection(vec![(gone.clone(), None)])),
    ])
    .await;
    let rows = db.projected_posts(room).await.unwrap();
    let row = rows
        .iter()
        .find(|r| r.post.id == gone)
        .expect("kept as deleted");
    assert!(row.post.deleted, "the last write wins");
    assert_eq!(row.post.text, "");
    assert_eq!(
        new.len(),
        1,
        "announced when stored, as one at a time would"
    );
    assert_eq!(
        db.load_doc(&doc).await.unwrap().1.len(),
        6,
        "every row of the log"
    );
}
