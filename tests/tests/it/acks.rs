//! Acknowledgement requests (要確認) and urgent posts (至急), issue 15: who may acknowledge
//! (through the real `/ws` client), the projection and the 「確認待ち」 list, and the
//! re-notification schedule on a clock the test moves (pushes received and decrypted by the
//! local push service of `push.rs`). Runs on SQLite and PostgreSQL.

use crate::push::{outbox_drained, put_settings, subscribe, Device, PushService};
use renraku_server::db::users::Role;
use renraku_server::{Clock, Db};
use renraku_sync::{AckRequest, PostId, RoomId, UserId};
use renraku_tests::fixture::{Built, Fixture};
use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::sync_client::SyncClient;
use renraku_tests::TestServer;
use serde_json::{json, Value};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

fn care_team() -> Fixture {
    Fixture::new()
        .municipality("m")
        .user("m", "nurse", Role::Member)
        .user("m", "doctor", Role::Member)
        .user("m", "pharmacist", Role::Member)
        .room("m", "care", &["nurse", "doctor", "pharmacist"])
}

struct Person {
    id: UserId,
    token: String,
    sync: SyncClient,
}

async fn person(server: &TestServer, f: &Built, login: &str, client_id: u64) -> Person {
    let token = f.signin(server, login).await;
    let mut sync = SyncClient::connect(&server.ws_url(), &token, client_id)
        .await
        .unwrap();
    sync.open(f.room("care")).await.unwrap();
    Person {
        id: f.user(login),
        token,
        sync,
    }
}

/// The author posts a thread asking `request`; everyone else's replica has it afterwards.
async fn ask(
    author: &mut Person,
    others: &mut [&mut Person],
    room: RoomId,
    request: AckRequest,
    urgent: bool,
) -> PostId {
    let id = new_post_id();
    let u = author.sync.doc(room).start_thread_asking(
        author.id,
        id.clone(),
        "明日 9:00 までに確認してください",
        vec![],
        Some(request),
        urgent,
        now_ms(),
    );
    author.sync.write(room, u).await.unwrap();
    for other in others.iter_mut() {
        other
            .sync
            .wait_for(room, "the request", |d| d.post(&id).is_some())
            .await
            .unwrap();
    }
    id
}

/// `who` acknowledges `post`; the server's verdict.
async fn acknowledge(who: &mut Person, room: RoomId, post: &PostId) -> Result<(), String> {
    let me = who.id;
    acknowledge_as(who, room, post, me).await
}

/// `who` writes an acknowledgement of `post` under `as_user`'s id; the server's verdict.
async fn acknowledge_as(
    who: &mut Person,
    room: RoomId,
    post: &PostId,
    as_user: UserId,
) -> Result<(), String> {
    let u = who.sync.doc(room).acknowledge(as_user, post, now_ms());
    let ack = who.sync.send_update(room, u).await.unwrap();
    who.sync.verdict(ack).await.unwrap()
}

async fn acks_of(db: &Db, room: RoomId, post: &PostId) -> Vec<UserId> {
    db.projected_acks(room)
        .await
        .unwrap()
        .into_iter()
        .filter(|(p, ..)| p == post)
        .map(|(_, u, _)| u)
        .collect()
}

async fn inbox(server: &TestServer, token: &str) -> Value {
    server.get_json(token, "/api/acks").await
}

fn posts_in(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["post"].as_str().unwrap().to_owned())
        .collect()
}

test_both_dbs!(only_the_people_asked_acknowledge_and_only_under_their_own_id);
async fn only_the_people_asked_acknowledge_and_only_under_their_own_id() {
    let (server, f) = care_team().start().await;
    let room = f.room("care");
    let mut nurse = person(&server, &f, "nurse", 7101).await;
    let mut doctor = person(&server, &f, "doctor", 7202).await;
    let mut pharmacist = person(&server, &f, "pharmacist", 7303).await;
    let due = now_ms() + 3_600_000;

    // Named members: the nurse asks the doctor.
    let asked = AckRequest {
        everyone: false,
        to: vec![doctor.id],
        due: Some(due),
    };
    let post = ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        asked,
        true,
    )
    .await;
    let waiting = inbox(&server, &doctor.token).await;
    assert_eq!(posts_in(&waiting["waiting_for_me"]), vec![post.to_string()]);
    assert_eq!(waiting["waiting_for_me"][0]["urgent"], true);
    assert_eq!(waiting["waiting_for_me"][0]["due_at"], due);
    assert!(posts_in(&inbox(&server, &pharmacist.token).await["waiting_for_me"]).is_empty());

    // Not asked: refused, and stored nowhere.
    let refused = acknowledge(&mut pharmacist, room, &post).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|r| r.contains("only the people a post asks")),
        "{refused:?}"
    );
    // Under someone else's id: refused, even the one asked.
    let forged = acknowledge_as(&mut pharmacist, room, &post, doctor.id).await;
    assert!(
        forged.as_ref().is_err_and(|r| r.contains("own user id")),
        "{forged:?}"
    );
    assert!(acks_of(server.db(), room, &post).await.is_empty());
    assert_eq!(server.audit_count("update.refused").await, 2);

    // The one asked: saved, projected, seen by the author with the time.
    acknowledge(&mut doctor, room, &post).await.unwrap();
    assert_eq!(acks_of(server.db(), room, &post).await, vec![doctor.id]);
    let members = [nurse.id, doctor.id, pharmacist.id];
    nurse
        .sync
        .wait_for(room, "the doctor's acknowledgement", |d| {
            d.ack_status(&post, members).is_some_and(|s| s.complete())
        })
        .await
        .unwrap();
    let status = nurse.sync.doc(room).ack_status(&post, members).unwrap();
    assert_eq!(status.acked.len(), 1);
    assert_eq!(status.acked[0].user, doctor.id);
    assert!(status.missing.is_empty());
    assert!(posts_in(&inbox(&server, &doctor.token).await["waiting_for_me"]).is_empty());
    assert!(
        posts_in(&inbox(&server, &nurse.token).await["mine"]).is_empty(),
        "complete"
    );

    // The whole team: anyone but the author.
    let everyone = AckRequest {
        everyone: true,
        to: vec![],
        due: None,
    };
    let post = ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        everyone,
        false,
    )
    .await;
    let mine = inbox(&server, &nurse.token).await;
    assert_eq!(posts_in(&mine["mine"]), vec![post.to_string()]);
    assert_eq!(mine["mine"][0]["asked"], 2);
    assert_eq!(mine["mine"][0]["acked"], 0);
    acknowledge(&mut pharmacist, room, &post).await.unwrap();
    let own = acknowledge(&mut nurse, room, &post).await;
    assert!(
        own.is_err(),
        "the author does not acknowledge their own request"
    );
    let mine = inbox(&server, &nurse.token).await;
    assert_eq!(mine["mine"][0]["acked"], 1);
    assert_eq!(
        posts_in(&inbox(&server, &doctor.token).await["waiting_for_me"]),
        vec![post.to_string()]
    );
    acknowledge(&mut doctor, room, &post).await.unwrap();
    assert_eq!(acks_of(server.db(), room, &post).await, {
        let mut v = vec![doctor.id, pharmacist.id];
        v.sort();
        v
    });
    assert!(posts_in(&inbox(&server, &nurse.token).await["mine"]).is_empty());

    // A request whose post is deleted asks nothing any more.
    let withdrawn = AckRequest {
        everyone: false,
        to: vec![doctor.id],
        due: None,
    };
    let post = ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        withdrawn,
        true,
    )
    .await;
    assert_eq!(
        posts_in(&inbox(&server, &doctor.token).await["waiting_for_me"]),
        vec![post.to_string()]
    );
    let u = nurse
        .sync
        .doc(room)
        .delete(nurse.id, &post, now_ms())
        .unwrap();
    nurse.sync.write(room, u).await.unwrap();
    assert!(posts_in(&inbox(&server, &doctor.token).await["waiting_for_me"]).is_empty());
    assert!(posts_in(&inbox(&server, &nurse.token).await["mine"]).is_empty());
}

/// Pushes each device has received, decrypted: their `body` texts.
fn bodies(service: &PushService, device: &Device) -> Vec<String> {
    service
        .delivered_to(&device.name)
        .iter()
        .map(|r| device.decrypt(&r.body)["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Moves the clock and waits until the scheduler has looked and every push it queued has
/// been delivered.
async fn advance(server: &TestServer, by: Duration) {
    server.clock().advance(by);
    server
        .state()
        .ack_progress
        .reached(server.clock().now_ms())
        .await;
    outbox_drained(server.db()).await;
}

/// A server on a manual clock that may push over plain HTTP. Sessions outlive the hours the
/// tests move the clock (a push subscription ends with its session).
async fn scheduled_server() -> TestServer {
    TestServer::start_with_clock(Clock::manual(now_ms()), |c| {
        c.demo = false;
        c.push_allow_http = true;
        c.session_idle_minutes = 24 * 60;
        c.session_absolute_hours = 48;
    })
    .await
}

test_both_dbs!(the_missing_are_pushed_at_the_deadline_and_once_more_and_the_author_is_told);
async fn the_missing_are_pushed_at_the_deadline_and_once_more_and_the_author_is_told() {
    let server = scheduled_server().await;
    let f = care_team().build(server.db()).await;
    let service = PushService::start().await;
    let base = server.base_url();
    let room = f.room("care");
    let mut nurse = person(&server, &f, "nurse", 8101).await;
    let mut doctor = person(&server, &f, "doctor", 8202).await;
    let mut pharmacist = person(&server, &f, "pharmacist", 8303).await;
    let devices = [
        Device::new(&service, "nurse"),
        Device::new(&service, "doctor"),
        Device::new(&service, "pharmacist"),
    ];
    for (who, device) in [&nurse, &doctor, &pharmacist].iter().zip(&devices) {
        subscribe(&base, &who.token, device).await;
    }
    let [nurse_phone, doctor_phone, pharmacist_phone] = &devices;

    // The nurse asks both, by an hour from now. Each gets the new post's push.
    let request = AckRequest {
        everyone: false,
        to: vec![doctor.id, pharmacist.id],
        due: Some(server.clock().now_ms() + 3_600_000),
    };
    let post = ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        request,
        false,
    )
    .await;
    service
        .wait_until("the new post's pushes", |r| r.len() >= 2)
        .await;
    outbox_drained(server.db()).await;
    assert_eq!(
        bodies(&service, doctor_phone),
        ["確認をお願いする投稿があります"]
    );
    assert_eq!(
        bodies(&service, pharmacist_phone),
        ["確認をお願いする投稿があります"]
    );
    assert!(bodies(&service, nurse_phone).is_empty());

    // The doctor acknowledges in time; before the deadline, nothing more.
    acknowledge(&mut doctor, room, &post).await.unwrap();
    advance(&server, 59 * MINUTE).await;
    assert_eq!(service.received().len(), 2);

    // The deadline: the pharmacist is pushed, the author told who is missing.
    advance(&server, 2 * MINUTE).await;
    assert_eq!(
        bodies(&service, pharmacist_phone)[1..],
        ["確認をお願いされた投稿の期限が来ました"]
    );
    assert_eq!(
        bodies(&service, nurse_phone),
        ["確認をお願いした投稿の期限が過ぎました（未確認 1 人）"]
    );
    assert_eq!(
        bodies(&service, doctor_phone).len(),
        1,
        "the doctor has acknowledged"
    );
    let overdue = inbox(&server, &pharmacist.token).await;
    assert_eq!(posts_in(&overdue["waiting_for_me"]), vec![post.to_string()]);

    // Once more an hour later, and never again.
    advance(&server, 30 * MINUTE).await;
    assert_eq!(bodies(&service, pharmacist_phone).len(), 2);
    advance(&server, 31 * MINUTE).await;
    assert_eq!(
        bodies(&service, pharmacist_phone)[2..],
        ["確認をお願いされた投稿がまだ確認されていません"]
    );
    advance(&server, 5 * HOUR).await;
    assert_eq!(bodies(&service, pharmacist_phone).len(), 3);
    assert_eq!(bodies(&service, nurse_phone).len(), 1);

    // The last one acknowledges: the author is told, in the commit that stored it.
    acknowledge(&mut pharmacist, room, &post).await.unwrap();
    service
        .wait_until("the author's news", |r| {
            r.iter().filter(|r| r.device == "nurse").count() >= 2
        })
        .await;
    outbox_drained(server.db()).await;
    assert_eq!(
        bodies(&service, nurse_phone)[1..],
        ["確認をお願いした投稿を全員（2 人）が確認しました"]
    );

    // A request everyone acknowledges before its deadline: the author is told, and the
    // deadline and the hour after it pass without a push to anyone.
    let request = AckRequest {
        everyone: true,
        to: vec![],
        due: Some(server.clock().now_ms() + 3_600_000),
    };
    let before = service.received().len();
    let post = ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        request,
        false,
    )
    .await;
    service
        .wait_until("the second post's pushes", |r| r.len() >= before + 2)
        .await;
    acknowledge(&mut doctor, room, &post).await.unwrap();
    acknowledge(&mut pharmacist, room, &post).await.unwrap();
    service
        .wait_until("the author's second news", |r| r.len() >= before + 3)
        .await;
    outbox_drained(server.db()).await;
    assert_eq!(
        bodies(&service, nurse_phone).last().unwrap(),
        "確認をお願いした投稿を全員（2 人）が確認しました"
    );
    let settled = service.received().len();
    advance(&server, 61 * MINUTE).await;
    advance(&server, 61 * MINUTE).await;
    assert_eq!(
        service.received().len(),
        settled,
        "nothing after everyone acknowledged"
    );
}

test_both_dbs!(quiet_hours_hold_deadline_pushes_unless_urgent_and_allowed);
async fn quiet_hours_hold_deadline_pushes_unless_urgent_and_allowed() {
    let server = scheduled_server().await;
    let f = care_team().build(server.db()).await;
    let service = PushService::start().await;
    let base = server.base_url();
    let room = f.room("care");
    let mut nurse = person(&server, &f, "nurse", 9101).await;
    let mut doctor = person(&server, &f, "doctor", 9202).await;
    let mut pharmacist = person(&server, &f, "pharmacist", 9303).await;
    let doctor_phone = Device::new(&service, "doctor");
    let pharmacist_phone = Device::new(&service, "pharmacist");
    subscribe(&base, &doctor.token, &doctor_phone).await;
    subscribe(&base, &pharmacist.token, &pharmacist_phone).await;

    // Both are in quiet hours at the deadline (an hour from now, Japan time); only the
    // doctor lets urgent posts through.
    let due = server.clock().now_ms() + 3_600_000;
    let minute = ((due / 60_000) + 9 * 60).rem_euclid(24 * 60);
    let (start, end) = (
        (minute + 24 * 60 - 30) % (24 * 60),
        (minute + 90) % (24 * 60),
    );
    let quiet = |urgent: bool| {
        json!({"enabled": true, "show_details": false, "quiet_start": start, "quiet_end": end,
               "urgent_in_quiet": urgent, "muted_rooms": []})
    };
    put_settings(&base, &doctor.token, quiet(true)).await;
    put_settings(&base, &pharmacist.token, quiet(false)).await;
    let saved = server.get_json(&doctor.token, "/api/push/settings").await;
    assert_eq!(saved["urgent_in_quiet"], true);
    let default = server.get_json(&nurse.token, "/api/push/settings").await;
    assert_eq!(default["urgent_in_quiet"], false, "off unless turned on");

    let routine = AckRequest {
        everyone: true,
        to: vec![],
        due: Some(due),
    };
    ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        routine.clone(),
        false,
    )
    .await;
    ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        routine,
        true,
    )
    .await;
    outbox_drained(server.db()).await;
    let before_doctor = bodies(&service, &doctor_phone).len();
    let before_pharmacist = bodies(&service, &pharmacist_phone).len();

    advance(&server, 61 * MINUTE).await;
    // Quiet hours hold back the routine request's deadline push for both; the urgent one's
    // reaches the doctor, who allowed it, and not the pharmacist.
    assert_eq!(
        bodies(&service, &doctor_phone)[before_doctor..],
        ["確認をお願いされた投稿の期限が来ました"]
    );
    assert_eq!(bodies(&service, &pharmacist_phone).len(), before_pharmacist);
    let pushed = service.delivered_to("doctor");
    let last = pushed.last().unwrap();
    assert_eq!(last.headers["urgency"].to_str().unwrap(), "high");
}

test_both_dbs!(an_urgent_post_reaches_through_quiet_hours_only_those_who_allowed_it);
async fn an_urgent_post_reaches_through_quiet_hours_only_those_who_allowed_it() {
    let server = scheduled_server().await;
    let f = care_team().build(server.db()).await;
    let service = PushService::start().await;
    let base = server.base_url();
    let room = f.room("care");
    let mut nurse = person(&server, &f, "nurse", 9401).await;
    let mut doctor = person(&server, &f, "doctor", 9502).await;
    let mut pharmacist = person(&server, &f, "pharmacist", 9603).await;
    let doctor_phone = Device::new(&service, "doctor");
    let pharmacist_phone = Device::new(&service, "pharmacist");
    subscribe(&base, &doctor.token, &doctor_phone).await;
    subscribe(&base, &pharmacist.token, &pharmacist_phone).await;
    // Quiet hours around now (new posts are pushed by the time they are stored, Japan time);
    // only the doctor lets urgent posts through.
    let minute = ((now_ms() / 60_000) + 9 * 60).rem_euclid(24 * 60);
    let (start, end) = (
        (minute + 24 * 60 - 60) % (24 * 60),
        (minute + 60) % (24 * 60),
    );
    let quiet = |urgent: bool| {
        json!({"enabled": true, "show_details": false, "quiet_start": start, "quiet_end": end,
               "urgent_in_quiet": urgent, "muted_rooms": []})
    };
    put_settings(&base, &doctor.token, quiet(true)).await;
    put_settings(&base, &pharmacist.token, quiet(false)).await;

    // A routine post reaches no one; an urgent one only the doctor, marked high.
    let routine = new_post_id();
    let u = nurse
        .sync
        .doc(room)
        .start_thread(nurse.id, routine, "定期訪問: 変化なし", now_ms());
    nurse.sync.write(room, u).await.unwrap();
    let request = AckRequest {
        everyone: true,
        to: vec![],
        due: None,
    };
    ask(
        &mut nurse,
        &mut [&mut doctor, &mut pharmacist],
        room,
        request,
        true,
    )
    .await;
    service
        .wait_until("the urgent push", |r| !r.is_empty())
        .await;
    outbox_drained(server.db()).await;
    assert_eq!(bodies(&service, &doctor_phone), ["至急の投稿があります"]);
    assert!(bodies(&service, &pharmacist_phone).is_empty());
    let pushed = service.delivered_to("doctor");
    assert_eq!(pushed[0].headers["urgency"].to_str().unwrap(), "high");
}
