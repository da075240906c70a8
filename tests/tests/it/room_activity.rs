//! Room activity for the home screen: every member's devices hear of a new post in their
//! rooms exactly once — a socket that has not opened the room from the server
//! (`Frame::RoomActivity`), one that has from the relayed update (the server does not send
//! it the frame), the author's from the server's `Saved`; nobody else does; edits and
//! reactions are not news; `/api/rooms` carries the newest post's first line. Both backends.

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

test_both_dbs!(members_hear_of_a_new_post_once_on_every_device_and_outsiders_do_not);
async fn members_hear_of_a_new_post_once_on_every_device_and_outsiders_do_not() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let room = t.room;
    let connect = |token: String, client: u64| {
        let url = server.ws_url();
        async move { SyncClient::connect(&url, &token, client).await.unwrap() }
    };
    let mut a = connect(t.a.token.clone(), 1001).await;
    a.open(room).await.unwrap();
    // B's phone is on her home screen: connected, the room not opened. Her desk has the
    // room open. The outsider is connected too.
    let mut b_home = connect(t.b.token.clone(), 2002).await;
    let mut b_desk = connect(t.b.token.clone(), 2003).await;
    b_desk.open(room).await.unwrap();
    let mut outsider = connect(t.outsider.token.clone(), 3003).await;

    let text = "本日の訪問: 発熱 37.8℃。\n解熱剤を使用し、経過観察とします。";
    let first = new_post_id();
    let at = now_ms();
    let u = a.doc(room).start_thread(t.a.id, first.clone(), text, at);
    a.write_post(room, &first, u).await.unwrap();

    let expected = Frame::RoomActivity {
        room,
        author: t.a.id,
        at,
        text: "本日の訪問: 発熱 37.8℃。".into(),
    };
    assert_eq!(b_home.wait_news(activity_in(room)).await.unwrap(), expected);
    assert_eq!(b_desk.wait_news(activity_in(room)).await.unwrap(), expected);
    // The author's own device hears of it too (her list's newest line).
    assert_eq!(a.wait_news(activity_in(room)).await.unwrap(), expected);

    // An edit, a reaction and a read marker are not news.
    let u = a
        .doc(room)
        .edit(t.a.id, &first, "訂正: 37.5℃", now_ms())
        .unwrap();
    a.write_post(room, &first, u).await.unwrap();
    let u = a.doc(room).react(t.a.id, &first, Reaction::Ack);
    a.write(room, u).await.unwrap();
    // A reply is: the newest line is the reply's (long: shortened).
    let long = "了解しました。".repeat(20);
    let reply = new_post_id();
    let u = a
        .doc(room)
        .reply(t.a.id, reply.clone(), &first, &long, now_ms())
        .unwrap();
    a.write_post(room, &reply, u).await.unwrap();
    for device in [&mut b_home, &mut b_desk, &mut a] {
        let heard = device.wait_news(activity_in(room)).await.unwrap();
        let Frame::RoomActivity { text: line, .. } = heard else {
            unreachable!()
        };
        assert_eq!(line, preview(&long));
        assert!(line.ends_with('…') && line.chars().count() == 60, "{line}");
        device.drain(Duration::from_millis(300)).await;
        assert!(
            !device.news.iter().any(activity_in(room)),
            "each post once; the edit and the reaction were not news: {:?}",
            device.news
        );
    }
    // The desk, which has the room open, was never sent the frame: it read the news from
    // the updates themselves.
    assert!(
        !b_desk.events.iter().any(activity_in(room)),
        "a socket with the room open was told of its posts: {:?}",
        b_desk.events
    );

    // Someone who is not a member hears nothing of the room.
    outsider.drain(Duration::from_millis(300)).await;
    assert!(
        !outsider
            .events
            .iter()
            .chain(&outsider.news)
            .any(|f| matches!(f, Frame::RoomActivity { .. })),
        "an outsider heard of a post: {:?}",
        outsider.events
    );
}

test_both_dbs!(closing_a_room_brings_its_news_from_the_server_again);
async fn closing_a_room_brings_its_news_from_the_server_again() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let room = t.room;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    a.open(room).await.unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    b.open(room).await.unwrap();
    // B leaves the room's screen and the app stops syncing it.
    b.close(room).await.unwrap();
    b.drain(Duration::from_millis(200)).await;
    let u = a
        .doc(room)
        .start_thread(t.a.id, new_post_id(), "閉じたあとの投稿", now_ms());
    a.write(room, u).await.unwrap();
    let heard = b.wait_event(activity_in(room)).await.unwrap();
    assert!(matches!(heard, Frame::RoomActivity { text, .. } if text == "閉じたあとの投稿"));
    b.drain(Duration::from_millis(300)).await;
    assert_eq!(
        b.news.iter().filter(|f| activity_in(room)(f)).count(),
        1,
        "once: {:?}",
        b.news
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
