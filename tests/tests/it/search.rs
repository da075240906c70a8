//! Search (issue 18): a member finds posts of the rooms they are a member of now — two-letter
//! Japanese terms, full-width and half-width forms alike — never a room they left, never
//! joined, or of another municipality; filters; edits and deletions followed by the index;
//! each search audited with the query's length, not its text; bad queries refused clearly.
//! The same posts and queries on SQLite (FTS5 bigrams) and PostgreSQL (pg_trgm) must give the
//! same hits: each backend's run checks them against the one rule
//! (`renraku_sync::search::matches`) over every post written.

use renraku_contract::SearchResults;
use renraku_server::db::audit::AuditFilter;
use renraku_server::db::search::PostSearch;
use renraku_server::db::users::Role;
use renraku_sync::{PostId, RoomId, UserId};
use renraku_tests::api::Api;
use renraku_tests::fixture::{Built, Fixture};
use renraku_tests::helpers::{self, new_post_id, now_ms, tiny_pdf};
use renraku_tests::sync_client::SyncClient;
use renraku_tests::TestServer;
use std::collections::BTreeSet;

fn scene() -> Fixture {
    Fixture::new()
        .municipality("m")
        .municipality("n")
        .user("m", "nurse", Role::Member)
        .user("m", "doctor", Role::Member)
        .user("n", "far", Role::Member)
        .room("m", "care", &["nurse", "doctor"])
        .room("m", "elsewhere", &["doctor"])
        .room("n", "far-room", &["far"])
}

/// Posts as (room, author, text): what every backend indexes.
const POSTS: &[(&str, &str, &str)] = &[
    ("care", "doctor", "発熱 37.8℃。抗菌薬を開始します。"),
    ("care", "nurse", "夜間のＳｐＯ２は 92％ でした"),
    ("care", "doctor", "褥瘡の処置をしました。発赤は縮小。"),
    ("care", "nurse", "SpO2 回復、酸素は不要です"),
    ("care", "nurse", "100%_done \\ 記号の検索"),
    ("elsewhere", "doctor", "発熱 別の患者さん"),
    ("far-room", "far", "発熱 遠方の患者さん"),
];

struct Written {
    /// (room title, post id, author login, text) of every post written.
    posts: Vec<(String, PostId, String, String)>,
}

async fn write_all(server: &TestServer, f: &Built) -> Written {
    let mut posts = Vec::new();
    let mut clients = Vec::new();
    for (i, login) in ["nurse", "doctor", "far"].into_iter().enumerate() {
        let token = f.signin(server, login).await;
        let client = SyncClient::connect(&server.ws_url(), &token, 9_000 + i as u64)
            .await
            .unwrap();
        clients.push((login, client));
    }
    for (n, (room, author, text)) in POSTS.iter().enumerate() {
        let (_, client) = clients.iter_mut().find(|(l, _)| l == author).unwrap();
        let room_id = f.room(room);
        client.open(room_id).await.unwrap();
        let id = new_post_id();
        let update =
            client
                .doc(room_id)
                .start_thread(f.user(author), id.clone(), text, now_ms() + n as i64);
        client.write(room_id, update).await.unwrap();
        posts.push((room.to_string(), id, author.to_string(), text.to_string()));
    }
    Written { posts }
}

async fn search(api: &Api, query: &str) -> SearchResults {
    let q = urlencode(query);
    api.get(&format!("/api/search?{}", q)).await.unwrap()
}

fn urlencode(query: &str) -> String {
    // The query string as a browser's URLSearchParams would send it.
    let mut out = String::new();
    for pair in query.split('&') {
        if !out.is_empty() {
            out.push('&');
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push_str(k);
        out.push('=');
        for b in v.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => out.push(b as char),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    out
}

fn ids(results: &SearchResults) -> BTreeSet<String> {
    results.hits.iter().map(|h| h.post.clone()).collect()
}

/// What the rule says `login` should find for `query`: posts of rooms they are a member of
/// whose text contains every term.
fn expected(w: &Written, rooms: &[&str], query: &str) -> BTreeSet<String> {
    let terms = renraku_sync::search::terms(query);
    w.posts
        .iter()
        .filter(|(room, _, _, text)| {
            rooms.contains(&room.as_str()) && renraku_sync::search::matches(text, &terms)
        })
        .map(|(_, id, _, _)| id.to_string())
        .collect()
}

test_both_dbs!(a_member_finds_japanese_terms_in_their_rooms_only);
async fn a_member_finds_japanese_terms_in_their_rooms_only() {
    let (server, f) = scene().start().await;
    let w = write_all(&server, &f).await;
    let nurse = Api::new(&server.base_url(), &f.signin(&server, "nurse").await);
    let mine = ["care"];
    for query in [
        "発熱",
        "褥瘡",
        "spo2",
        "ＳｐＯ２",
        "SPO2 回復",
        "発熱 抗菌薬",
        "発熱 褥瘡",
        "の",
        "37.8",
        "100%_",
        "\\ 記号",
        "患者",
    ] {
        let found = search(&nurse, &format!("q={query}")).await;
        assert_eq!(ids(&found), expected(&w, &mine, query), "query {query:?}");
        // The same through SQLite's full-text index, which larger rooms use.
        check_through_index(&server, &f, &w, query, "as the API found").await;
    }
    // Concretely: the two-letter term, and never the rooms of others.
    let fever = search(&nurse, "q=発熱").await;
    assert_eq!(fever.hits.len(), 1);
    let hit = &fever.hits[0];
    assert_eq!(hit.room, f.room("care"));
    assert_eq!(hit.author, f.user("doctor"));
    assert_eq!(hit.text, POSTS[0].2);
    assert_eq!(hit.highlights, vec![[0, 2]]);
    assert!(search(&nurse, "q=患者").await.hits.is_empty());
    // Full-width and half-width forms find each other, highlighted where they stand.
    let spo2 = search(&nurse, "q=ＳｐＯ２").await;
    assert_eq!(spo2.hits.len(), 2);
    for h in &spo2.hits {
        let chars: Vec<char> = h.text.chars().collect();
        let [s, e] = h.highlights[0];
        let shown: String = chars[s..e].iter().collect();
        assert!(shown == "ＳｐＯ２" || shown == "SpO2", "{shown}");
    }
    // The doctor, a member of both rooms of m, finds both; the far user only theirs.
    let doctor = Api::new(&server.base_url(), &f.signin(&server, "doctor").await);
    assert_eq!(
        ids(&search(&doctor, "q=発熱").await),
        expected(&w, &["care", "elsewhere"], "発熱")
    );
    let far = Api::new(&server.base_url(), &f.signin(&server, "far").await);
    assert_eq!(
        ids(&search(&far, "q=発熱").await),
        expected(&w, &["far-room"], "発熱")
    );
}

test_both_dbs!(filters_narrow_the_hits);
async fn filters_narrow_the_hits() {
    let (server, f) = scene().start().await;
    let w = write_all(&server, &f).await;
    let doctor = Api::new(&server.base_url(), &f.signin(&server, "doctor").await);
    let by_nurse: BTreeSet<String> = w
        .posts
        .iter()
        .filter(|(room, _, author, text)| {
            room == "care"
                && author == "nurse"
                && renraku_sync::search::matches(text, &["spo2".to_owned()])
        })
        .map(|(_, id, _, _)| id.to_string())
        .collect();
    let nurse_id: UserId = f.user("nurse");
    assert_eq!(
        ids(&search(&doctor, &format!("q=spo2&author={}", nurse_id.get())).await),
        by_nurse
    );
    assert!(search(&doctor, "q=spo2&mine=true").await.hits.is_empty());
    let elsewhere: RoomId = f.room("elsewhere");
    assert_eq!(
        ids(&search(&doctor, &format!("q=発熱&room={}", elsewhere.get())).await),
        expected(&w, &["elsewhere"], "発熱")
    );
    assert!(search(&doctor, "q=発熱&has_attachment=true")
        .await
        .hits
        .is_empty());
    assert!(search(&doctor, "q=発熱&unacknowledged=true")
        .await
        .hits
        .is_empty());
    // A period that ends before everything.
    assert!(search(&doctor, "q=発熱&to=1").await.hits.is_empty());
    // Paging: one at a time, newest first, then the next.
    let first = search(&doctor, "q=発熱&limit=1").await;
    assert_eq!(first.hits.len(), 1);
    assert!(first.more);
    let next = search(
        &doctor,
        &format!(
            "q=発熱&limit=1&before={}&before_post={}",
            first.hits[0].created_at, first.hits[0].post
        ),
    )
    .await;
    assert_eq!(next.hits.len(), 1);
    assert!(!next.more);
    assert_ne!(next.hits[0].post, first.hits[0].post);

    // Two posts of the same millisecond: paging one at a time still gives both.
    let token = f.signin(&server, "doctor").await;
    let mut sync = SyncClient::connect(&server.ws_url(), &token, 9_200)
        .await
        .unwrap();
    let room = f.room("care");
    sync.open(room).await.unwrap();
    let at = now_ms();
    for text in ["同時刻の記録 その一", "同時刻の記録 その二"] {
        let u = sync
            .doc(room)
            .start_thread(f.user("doctor"), new_post_id(), text, at);
        sync.write(room, u).await.unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let page = search(&doctor, &format!("q=同時刻&limit=1{cursor}")).await;
        assert!(page.hits.len() <= 1);
        let Some(hit) = page.hits.first() else { break };
        assert!(seen.insert(hit.post.clone()), "a post came twice");
        cursor = format!("&before={}&before_post={}", hit.created_at, hit.post);
        if !page.more {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "both posts of the same millisecond");
}

test_both_dbs!(the_index_follows_edits_deletions_and_membership);
async fn the_index_follows_edits_deletions_and_membership() {
    let (server, f) = scene().start().await;
    let w = write_all(&server, &f).await;
    let room = f.room("care");
    let doctor_id = f.user("doctor");
    let token = f.signin(&server, "doctor").await;
    let mut sync = SyncClient::connect(&server.ws_url(), &token, 9_100)
        .await
        .unwrap();
    sync.open(room).await.unwrap();
    let fever = w.posts[0].1.clone();
    let nurse_token = f.signin(&server, "nurse").await;
    let nurse = Api::new(&server.base_url(), &nurse_token);

    let edit = sync
        .doc(room)
        .edit(
            doctor_id,
            &fever,
            "解熱しました。抗菌薬を継続します。",
            now_ms(),
        )
        .unwrap();
    sync.write(room, edit).await.unwrap();
    assert!(search(&nurse, "q=発熱").await.hits.is_empty());
    assert_eq!(search(&nurse, "q=解熱").await.hits.len(), 1);

    let delete = sync.doc(room).delete(doctor_id, &fever, now_ms()).unwrap();
    sync.write(room, delete).await.unwrap();
    assert!(search(&nurse, "q=解熱").await.hits.is_empty());

    // Someone who leaves the room finds nothing of it any more.
    assert_eq!(search(&nurse, "q=褥瘡").await.hits.len(), 1);
    server
        .db()
        .remove_member(room, f.user("nurse"))
        .await
        .unwrap();
    assert!(search(&nurse, "q=褥瘡").await.hits.is_empty());
}

/// Searches `query` through SQLite's full-text index (the path of rooms with many posts) as
/// `login`, and checks it finds what the rule says of the posts as they are now.
async fn check_through_index(server: &TestServer, f: &Built, w: &Written, query: &str, when: &str) {
    let found = server
        .db()
        .search_posts_reading_at_most(
            &PostSearch::new(f.user("nurse"), renraku_sync::search::terms(query)),
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&found),
        expected(w, &["care"], query),
        "query {query:?} through the index, {when}"
    );
}

test_both_dbs!(posts_are_found_through_the_index_before_and_after_it_takes_them);
async fn posts_are_found_through_the_index_before_and_after_it_takes_them() {
    // The writer indexes at its start, then not for an hour: the test says when.
    let server = TestServer::start_with(|c| {
        c.demo = false;
        c.search_index_ms = 3_600_000;
    })
    .await;
    let f = scene().build(server.db()).await;
    let mut w = write_all(&server, &f).await;
    let queries = ["発熱", "解熱", "褥瘡", "spo2", "酸素", "抗菌薬", "記号"];
    for query in queries {
        check_through_index(&server, &f, &w, query, "new posts not indexed yet").await;
    }

    // Edited and deleted while still waiting for the index.
    edit_and_delete(
        &server,
        &f,
        &mut w,
        "doctor",
        (0, "解熱しました。抗菌薬を継続します。"),
        2,
    )
    .await;
    for query in queries {
        check_through_index(&server, &f, &w, query, "edited before indexing").await;
    }

    // Three in one step (the oldest), the rest after: searches find both kinds meanwhile.
    let mut conn = server.db().pool().acquire().await.unwrap();
    let (taken, first) = server
        .db()
        .index_pending_posts_on(&mut conn, 3)
        .await
        .unwrap();
    drop(conn);
    for query in queries {
        check_through_index(&server, &f, &w, query, "partly indexed").await;
    }
    let rest = server.db().index_pending_posts().await.unwrap();
    if server.db().backend() == renraku_server::db::Backend::Sqlite {
        assert_eq!((taken, first), (3, 3));
        // Every post written is a row (a deleted one too, found by nobody).
        assert_eq!(first + rest, POSTS.len() as u64);
    }
    assert_eq!(
        server.db().index_pending_posts().await.unwrap(),
        0,
        "indexed once"
    );
    for query in queries {
        check_through_index(&server, &f, &w, query, "once indexed").await;
    }

    // Edited and deleted once in the index: the index follows at once.
    edit_and_delete(&server, &f, &mut w, "nurse", (2, "酸素は不要、記号なし"), 1).await;
    for query in queries {
        check_through_index(&server, &f, &w, query, "edited after indexing").await;
    }
}

/// As `login`, who wrote both posts: replaces the text of `w.posts[edit.0]` with `edit.1`
/// and deletes `w.posts[delete]`, in `care`, and says so in `w`.
async fn edit_and_delete(
    server: &TestServer,
    f: &Built,
    w: &mut Written,
    login: &str,
    (edit, text): (usize, &str),
    delete: usize,
) {
    let room = f.room("care");
    let user = f.user(login);
    let token = f.signin(server, login).await;
    let mut client = SyncClient::connect(&server.ws_url(), &token, 9_200 + user.get() as u64)
        .await
        .unwrap();
    client.open(room).await.unwrap();
    let (edited, deleted) = (w.posts[edit].1.clone(), w.posts[delete].1.clone());
    let update = client
        .doc(room)
        .edit(user, &edited, text, now_ms())
        .unwrap();
    client.write(room, update).await.unwrap();
    w.posts[edit].3 = text.to_owned();
    let update = client.doc(room).delete(user, &deleted, now_ms()).unwrap();
    client.write(room, update).await.unwrap();
    w.posts.retain(|p| p.1 != deleted);
}

test_both_dbs!(searches_are_audited_without_their_text_and_bad_queries_refused);
async fn searches_are_audited_without_their_text_and_bad_queries_refused() {
    let (server, f) = scene().start().await;
    write_all(&server, &f).await;
    let nurse = Api::new(&server.base_url(), &f.signin(&server, "nurse").await);
    search(&nurse, "q=褥瘡").await;
    let rows = server
        .db()
        .audit_rows(&AuditFilter {
            action: Some("search".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user_id, Some(f.user("nurse").get()));
    assert_eq!(rows[0].detail, "query_chars=2 hits=1");
    assert!(!rows[0].detail.contains("褥瘡") && !rows[0].target.contains("褥瘡"));

    for (query, what) in [("q=", "empty"), ("q=%20%20", "blank")] {
        let err = nurse
            .get::<SearchResults>(&format!("/api/search?{query}"))
            .await
            .expect_err(what);
        assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{what}");
    }
    let long = "あ".repeat(renraku_sync::search::MAX_QUERY_CHARS + 1);
    let err = nurse
        .get::<SearchResults>(&format!("/api/search?{}", urlencode(&format!("q={long}"))))
        .await
        .expect_err("too long");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    // Signed out: nothing.
    let anonymous = Api::anonymous(&server.base_url());
    let err = anonymous
        .get::<SearchResults>("/api/search?q=%E8%A4%A5%E7%98%A1")
        .await
        .expect_err("anonymous");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
}

test_both_dbs!(a_member_from_a_partner_municipality_finds_the_rooms_they_joined);
async fn a_member_from_a_partner_municipality_finds_the_rooms_they_joined() {
    let (server, f) = scene().start().await;
    let w = write_all(&server, &f).await;
    let far = Api::new(&server.base_url(), &f.signin(&server, "far").await);
    assert_eq!(
        ids(&search(&far, "q=発熱").await),
        expected(&w, &["far-room"], "発熱"),
        "another municipality's rooms stay out of reach"
    );
    // Under a wide-area agreement the far professional joins the care room, and finds it.
    let db = server.db();
    let agreement = db.create_agreement("広域連携").await.unwrap();
    db.join_agreement(agreement, f.municipality("m"))
        .await
        .unwrap();
    db.join_agreement(agreement, f.municipality("n"))
        .await
        .unwrap();
    db.add_member(f.room("care"), f.user("far"), "member", None)
        .await
        .unwrap();
    assert_eq!(
        ids(&search(&far, "q=発熱").await),
        expected(&w, &["far-room", "care"], "発熱")
    );
}

/// Uploads a small PDF named `name` as attachment `id` of `room`.
async fn upload(server: &TestServer, token: &str, room: RoomId, id: &str, name: &str) {
    let answer = helpers::upload(server, token, room.get(), id, name, tiny_pdf()).await;
    assert!(answer.status().is_success(), "upload: {}", answer.status());
}

test_both_dbs!(a_post_is_found_by_its_files_names_whenever_they_arrive);
async fn a_post_is_found_by_its_files_names_whenever_they_arrive() {
    let (server, f) = scene().start().await;
    let room = f.room("care");
    let nurse = f.user("nurse");
    let token = f.signin(&server, "nurse").await;
    let api = Api::new(&server.base_url(), &token);
    let mut sync = SyncClient::connect(&server.ws_url(), &token, 9_200)
        .await
        .unwrap();
    sync.open(room).await.unwrap();

    // The usual order: the file is there before the post naming it.
    let first_file = ulid::Ulid::new().to_string();
    upload(&server, &token, room, &first_file, "処方箋_11月.pdf").await;
    let with_file = new_post_id();
    let u = sync.doc(room).start_thread_with(
        nurse,
        with_file.clone(),
        "本日分をお送りします",
        vec![first_file.clone()],
        now_ms(),
    );
    sync.write(room, u).await.unwrap();
    // A phone that was offline: the post arrives, its file later.
    let late_file = ulid::Ulid::new().to_string();
    let late = new_post_id();
    let u = sync.doc(room).start_thread_with(
        nurse,
        late.clone(),
        "写真を添付します",
        vec![late_file.clone()],
        now_ms() + 1,
    );
    sync.write(room, u).await.unwrap();
    assert_eq!(
        ids(&search(&api, "q=処方箋").await),
        BTreeSet::from([with_file.to_string()]),
        "the late file is not there yet"
    );
    upload(&server, &token, room, &late_file, "褥瘡処方箋の写真.pdf").await;
    let results = search(&api, "q=処方箋").await;
    assert_eq!(
        ids(&results),
        BTreeSet::from([with_file.to_string(), late.to_string()])
    );
    let hit = results
        .hits
        .iter()
        .find(|h| h.post == with_file.to_string())
        .unwrap();
    assert_eq!(
        hit.attachments,
        ["処方箋_11月.pdf"],
        "the hit names its files"
    );
    assert!(hit.highlights.is_empty(), "the text itself has no match");
    // Width folding applies to names as to text; the text still matches as before.
    assert_eq!(
        ids(&search(&api, "q=１１月").await),
        BTreeSet::from([with_file.to_string()])
    );
    assert_eq!(
        ids(&search(&api, "q=写真を添付").await),
        BTreeSet::from([late.to_string()])
    );

    // An edit changes the text and keeps the files: still found by the name.
    let u = sync
        .doc(room)
        .edit(
            nurse,
            &with_file,
            "本日分をお送りします（訂正）",
            now_ms() + 2,
        )
        .unwrap();
    sync.write(room, u).await.unwrap();
    assert_eq!(
        ids(&search(&api, "q=処方箋_11").await),
        BTreeSet::from([with_file.to_string()])
    );
    // Deleted: found by nothing.
    let u = sync
        .doc(room)
        .delete(nurse, &with_file, now_ms() + 3)
        .unwrap();
    sync.write(room, u).await.unwrap();
    assert!(search(&api, "q=処方箋_11").await.hits.is_empty());

    // Someone outside the room never finds it by its file's name.
    let far = Api::new(&server.base_url(), &f.signin(&server, "far").await);
    assert!(search(&far, "q=褥瘡処方箋").await.hits.is_empty());
}
