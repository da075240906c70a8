//! Room activity for the home screen: every member's `/ws` socket hears of a new post in
//! their rooms (`Frame::RoomActivity`), opened or not; nobody else does; edits and reactions
//! are not news; `/api/rooms` carries the newest post's first line. Both backends.

use renraku_sync::frame::preview;
use renraku_sync::{Frame, Reaction, RoomId};
use renraku_tests::api::Api;
use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{team, TestServer};
use std::time::Duration;

fn activity_in(room: RoomId) -> impl Fn(&Frame) -> bool {
    move |f| matches!(f, Frame::RoomActivity { room: r, .. } if *r == room)
}

test_both_dbs!(members_hear_of_a_new_post_and_outsiders_do_not);
async fn members_hear_of_a_new_post_and_outsiders_do_not() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let room = t.room;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    a.open(room).await.unwrap();
    // B is on her home screen: connected, the room not opened. The outsider is connected too.
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    let mut outsider = SyncClient::connect(&server.ws_url(), &t.outsider.token, 3003)
        .await
        .unwrap();

    let text = "本日の訪問: 発熱 37.8℃。\n解熱剤を使用し、経過観察とします。";
    let first = new_post_id();
    let at = now_ms();
    let u = a.doc(room).start_thread(t.a.id, first.clone(), text, at);
    a.write(room, u).await.unwrap();

    let heard = b.wait_event(activity_in(room)).await.unwrap();
    assert_eq!(
        heard,
        Frame::RoomActivity {
            room,
            author: t.a.id,
            at,
            text: "本日の訪問: 発熱 37.8℃。".into(),
        }
    );
    // The author's own sockets hear of it too (her other devices' lists).
    a.wait_event(activity_in(room)).await.unwrap();

    // An edit, a reaction and a read marker are not news.
    let u = a
        .doc(room)
        .edit(t.a.id, &first, "訂正: 37.5℃", now_ms())
        .unwrap();
    a.write(room, u).await.unwrap();
    let u = a.doc(room).react(t.a.id, &first, Reaction::Ack);
    a.write(room, u).await.unwrap();
    // A reply is: the newest line is the reply's (long: shortened).
    let long = "了解しました。".repeat(20);
    let u = a
        .doc(room)
        .reply(t.a.id, new_post_id(), &first, &long, now_ms())
        .unwrap();
    a.write(room, u).await.unwrap();
    let heard = b.wait_event(activity_in(room)).await.unwrap();
    let Frame::RoomActivity { text: line, .. } = heard else {
        unreachable!()
    };
    assert_eq!(line, preview(&long));
    assert!(line.ends_with('…') && line.chars().count() == 60, "{line}");
    b.drain(Duration::from_millis(300)).await;
    assert!(
        !b.events.iter().any(activity_in(room)),
        "the edit and the reaction were not news: {:?}",
        b.events
    );

    // Someone who is not a member hears nothing of the room.
    outsider.drain(Duration::from_millis(300)).await;
    assert!(
        !outsider
            .events
            .iter()
            .any(|f| matches!(f, Frame::RoomActivity { .. })),
        "an outsider heard of a post: {:?}",
        outsider.events
    );
}

test_both_dbs!(the_room_list_shows_the_newest_live_posts_first_line);
async fn the_room_list_shows_the_newest_live_posts_first_line() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let room = t.room;
    let api_b = Api::new(&server.base_url(), &t.b.token);
    let listed = |rooms: Vec<renraku_contract::RoomSummary>| {
        rooms.into_iter().find(|r| r.id == room).expect("listed")
    };
    let before = listed(api_b.rooms().await.unwrap());
    assert_eq!(before.last_text, None, "no posts yet");

    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    a.open(room).await.unwrap();
    let older = new_post_id();
    let u = a.doc(room).start_thread(
        t.a.id,
        older.clone(),
        "  \n褥瘡の処置をしました。\n詳細は次回",
        now_ms(),
    );
    a.write(room, u).await.unwrap();
    let newer = new_post_id();
    let u = a
        .doc(room)
        .start_thread(t.a.id, newer.clone(), "明日の訪問は 10 時です", now_ms());
    a.write(room, u).await.unwrap();

    let now = listed(api_b.rooms().await.unwrap());
    assert_eq!(now.last_text.as_deref(), Some("明日の訪問は 10 時です"));
    assert_eq!(now.unread, Some(2));
    assert!(now.last_activity.is_some());

    // A deleted post is skipped: the line is the newest live one's, its first line.
    let u = a.doc(room).delete(t.a.id, &newer, now_ms()).unwrap();
    a.write(room, u).await.unwrap();
    let now = listed(api_b.rooms().await.unwrap());
    assert_eq!(now.last_text.as_deref(), Some("褥瘡の処置をしました。"));
    assert_eq!(now.unread, Some(1));

    // The JSON field, as the app reads it.
    let raw = server.get_json(&t.b.token, "/api/rooms").await;
    let entry = raw
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room.get())
        .unwrap();
    assert_eq!(entry["last_text"], "褥瘡の処置をしました。");
}
