//! The server's validation (ARCHITECTURE.md, "Validation of updates"): what a team member
//! may and may not write.

use renraku_sync::validate::MAX_CLOCK_AHEAD_MS;
use renraku_sync::yrs::{Any, Map, MapPrelim, Text, Transact};
use renraku_sync::{DocId, PostId, Reaction, RoomDoc, RoomId, ServerDoc, UserId, Violation};
use std::collections::HashMap;

const NURSE: UserId = UserId::new(1);
const DOCTOR: UserId = UserId::new(2);
const ROOM: DocId = DocId::Room(RoomId::new(1));
/// The server's clock in these tests (Unix ms); the posts below are dated before it.
const NOW: i64 = 1_000_000;

fn pid(n: u8) -> PostId {
    PostId::parse(&format!("01J{:0>23}", n)).unwrap()
}

/// Server accepts `update` from `sender` (the way the hub does: check, then apply).
fn accept(server: &mut ServerDoc, sender: UserId, update: &[u8]) -> Result<bool, Violation> {
    let checked = server.check(sender, update, NOW)?;
    let is_new = checked.is_new;
    server.apply(checked)?;
    Ok(is_new)
}

/// A server and two clients that already share one thread by the nurse.
fn setup() -> (ServerDoc, RoomDoc, RoomDoc) {
    let mut server = ServerDoc::new(ROOM);
    let nurse = RoomDoc::new(100);
    let doctor = RoomDoc::new(200);
    let u = nurse.start_thread(NURSE, pid(1), "血圧 150/90", 1_000);
    accept(&mut server, NURSE, &u).unwrap();
    doctor.apply_update(&u).unwrap();
    (server, nurse, doctor)
}

/// A raw write into a root map, bypassing the typed API's own checks (a hostile client).
fn raw_insert(client: &RoomDoc, root: &str, key: &str, value: Any) -> Vec<u8> {
    let map = client.doc().get_or_insert_map(root);
    let mut txn = client.doc().transact_mut();
    map.insert(&mut txn, key, value);
    txn.encode_update_v1()
}

fn post_value(author: &str, text: &str) -> Any {
    Any::from(HashMap::from([
        ("author".to_owned(), Any::from(author)),
        ("created_at".to_owned(), Any::from(5_i64)),
        ("text".to_owned(), Any::from(text)),
        ("parent".to_owned(), Any::Null),
        ("deleted".to_owned(), Any::from(false)),
    ]))
}

#[test]
fn legitimate_team_work_is_accepted() {
    let (mut server, nurse, doctor) = setup();
    let updates = [
        (
            DOCTOR,
            doctor
                .reply(DOCTOR, pid(2), &pid(1), "降圧剤を調整", 2_000)
                .unwrap(),
        ),
        (DOCTOR, doctor.react(DOCTOR, &pid(1), Reaction::Ack)),
        (DOCTOR, doctor.pin(DOCTOR, &pid(1), 3_000)),
        (DOCTOR, doctor.mark_read(DOCTOR, &pid(1), 3_000)),
        (
            NURSE,
            nurse.edit(NURSE, &pid(1), "血圧 150/92", 4_000).unwrap(),
        ),
        (NURSE, nurse.react(NURSE, &pid(1), Reaction::Like)),
        (NURSE, nurse.unreact(NURSE, &pid(1))),
    ];
    for (sender, update) in &updates {
        assert_eq!(accept(&mut server, *sender, update), Ok(true));
    }
    // Anyone on the team may unpin what someone else pinned.
    nurse.apply_update(&server.encode_state()).unwrap();
    assert_eq!(accept(&mut server, NURSE, &nurse.unpin(&pid(1))), Ok(true));
    // The nurse deletes her own post.
    assert_eq!(
        accept(
            &mut server,
            NURSE,
            &nurse.delete(NURSE, &pid(1), 5_000).unwrap()
        ),
        Ok(true)
    );
    let view = RoomDoc::new(9);
    view.apply_update(&server.encode_state()).unwrap();
    assert!(view.post(&pid(1)).unwrap().deleted);
    assert_eq!(view.threads()[0].replies[0].text, "降圧剤を調整");
    assert!(view.pins().is_empty());
}

#[test]
fn a_post_in_someone_elses_name_is_refused() {
    let (mut server, _, doctor) = setup();
    let forged = doctor.start_thread(NURSE, pid(3), "看護師のふり", 2_000);
    assert_eq!(
        accept(&mut server, DOCTOR, &forged),
        Err(Violation::ForgedAuthor)
    );
    assert!(server_view(&server).post(&pid(3)).is_none());
}

#[test]
fn editing_or_deleting_anothers_post_is_refused() {
    let (mut server, _, doctor) = setup();
    // Keeping the nurse as author does not help: the slot is hers.
    let edit = raw_insert(&doctor, "posts", pid(1).as_str(), post_value("1", "改ざん"));
    assert_eq!(
        accept(&mut server, DOCTOR, &edit),
        Err(Violation::NotYourPost)
    );

    let (mut server, _, doctor) = setup();
    let takeover = raw_insert(
        &doctor,
        "posts",
        pid(1).as_str(),
        post_value("2", "乗っ取り"),
    );
    assert_eq!(
        accept(&mut server, DOCTOR, &takeover),
        Err(Violation::NotYourPost)
    );

    let (mut server, _, doctor) = setup();
    let delete = {
        let map = doctor.doc().get_or_insert_map("posts");
        let mut txn = doctor.doc().transact_mut();
        map.remove(&mut txn, pid(1).as_str());
        txn.encode_update_v1()
    };
    assert_eq!(
        accept(&mut server, DOCTOR, &delete),
        Err(Violation::NotYourPost)
    );
    assert_eq!(
        server_view(&server).post(&pid(1)).unwrap().text,
        "血圧 150/90"
    );
}

#[test]
fn reactions_pins_and_read_markers_under_anothers_id_are_refused() {
    let (mut server, _, doctor) = setup();
    let forged = doctor.react(NURSE, &pid(1), Reaction::Ack);
    assert_eq!(
        accept(&mut server, DOCTOR, &forged),
        Err(Violation::NotYourKey)
    );
    let (mut server, _, doctor) = setup();
    let forged = doctor.mark_read(NURSE, &pid(1), 1);
    assert_eq!(
        accept(&mut server, DOCTOR, &forged),
        Err(Violation::NotYourKey)
    );
    let (mut server, _, doctor) = setup();
    let forged = doctor.pin(NURSE, &pid(1), 1);
    assert_eq!(
        accept(&mut server, DOCTOR, &forged),
        Err(Violation::NotYourKey)
    );
    let (mut server, _, doctor) = setup();
    let bad = raw_insert(
        &doctor,
        "reactions",
        &format!("{}/2", pid(1)),
        Any::from("💩"),
    );
    assert!(matches!(
        accept(&mut server, DOCTOR, &bad),
        Err(Violation::BadValue(_))
    ));
    assert!(server_view(&server).reactions(&pid(1)).is_empty());
}

#[test]
fn anything_outside_the_schema_is_refused() {
    let (mut server, _, doctor) = setup();
    let nested = {
        let map = doctor.doc().get_or_insert_map("posts");
        let mut txn = doctor.doc().transact_mut();
        map.insert(&mut txn, pid(5).as_str(), MapPrelim::default());
        txn.encode_update_v1()
    };
    assert_eq!(
        accept(&mut server, DOCTOR, &nested),
        Err(Violation::OutsideSchema)
    );
    let (mut server, _, doctor) = setup();
    let unknown_root = raw_insert(&doctor, "evil", "k", Any::from(1_i64));
    assert_eq!(
        accept(&mut server, DOCTOR, &unknown_root),
        Err(Violation::OutsideSchema)
    );
    let (mut server, _, doctor) = setup();
    let text = {
        let t = doctor.doc().get_or_insert_text("notes");
        let mut txn = doctor.doc().transact_mut();
        t.insert(&mut txn, 0, "hello");
        txn.encode_update_v1()
    };
    assert_eq!(
        accept(&mut server, DOCTOR, &text),
        Err(Violation::OutsideSchema)
    );
    let long = "あ".repeat(20_001);
    let (mut server, _, doctor) = setup();
    let too_long = doctor.start_thread(DOCTOR, pid(6), &long, 1);
    assert_eq!(
        accept(&mut server, DOCTOR, &too_long),
        Err(Violation::TextTooLong)
    );
}

#[test]
fn gaps_resends_and_garbage() {
    let (mut server, _, doctor) = setup();
    let first = doctor.react(DOCTOR, &pid(1), Reaction::Ack);
    let second = doctor.react(DOCTOR, &pid(1), Reaction::Like);
    assert_eq!(
        accept(&mut server, DOCTOR, &second),
        Err(Violation::MissingDependencies)
    );
    assert_eq!(accept(&mut server, DOCTOR, &first), Ok(true));
    assert_eq!(accept(&mut server, DOCTOR, &second), Ok(true));
    // An outbox resend after a lost acknowledgement: accepted, but nothing new.
    assert_eq!(accept(&mut server, DOCTOR, &first), Ok(false));
    assert_eq!(accept(&mut server, DOCTOR, &second), Ok(false));

    for garbage in [&[][..], &[1, 2, 3], &[0xff; 40], &[1, 1, 200, 1, 0, 8, 1]] {
        assert!(matches!(
            server.check(DOCTOR, garbage, NOW),
            Err(Violation::Malformed(_))
        ));
    }
}

#[test]
fn writers_name_the_client_ids_used() {
    let (server, _, doctor) = setup();
    let checked = server
        .check(DOCTOR, &doctor.react(DOCTOR, &pid(1), Reaction::Ack), NOW)
        .unwrap();
    assert_eq!(checked.writers, vec![200]);
}

#[test]
fn a_server_reloaded_from_its_snapshot_still_knows_who_wrote_what() {
    let (mut server, nurse, doctor) = setup();
    accept(
        &mut server,
        NURSE,
        &nurse.edit(NURSE, &pid(1), "v2", 2).unwrap(),
    )
    .unwrap();
    let reply = doctor.reply(DOCTOR, pid(2), &pid(1), "re", 3).unwrap();
    accept(&mut server, DOCTOR, &reply).unwrap();

    let mut reloaded = ServerDoc::new(ROOM);
    reloaded.load(&server.encode_state()).unwrap();
    doctor.apply_update(&server.encode_state()).unwrap();
    nurse.apply_update(&server.encode_state()).unwrap();
    let forged = raw_insert(&doctor, "posts", pid(1).as_str(), post_value("1", "改ざん"));
    assert_eq!(
        accept(&mut reloaded, DOCTOR, &forged),
        Err(Violation::NotYourPost)
    );
    let own = nurse.edit(NURSE, &pid(1), "v3", 4).unwrap();
    assert_eq!(accept(&mut reloaded, NURSE, &own), Ok(true));
    assert_eq!(server_view(&reloaded).post(&pid(1)).unwrap().text, "v3");
}

#[test]
fn random_bytes_never_panic() {
    // A cheap in-test fuzz of the decoding path: mutate a valid update byte by byte.
    let (server, _, doctor) = setup();
    let valid = doctor.reply(DOCTOR, pid(2), &pid(1), "ok", 1).unwrap();
    let mut seed: u64 = 0x9E3779B97F4A7C15;
    for _ in 0..5_000 {
        let mut bytes = valid.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % bytes.len();
            bytes[i] = (seed >> 32) as u8;
        }
        let _ = server.check(DOCTOR, &bytes, NOW);
    }
}

/// Issue 13 §5: a nurse's replica answers the server's sync step 1 with its whole delete set,
/// which names the doctor's replaced read marker and the old text of his edited reply. Those
/// are deleted on the server already: deleting them again changes nothing and is accepted.
#[test]
fn a_replicas_delete_set_naming_others_replaced_values_is_accepted() {
    let (mut server, nurse, doctor) = setup();
    let doctors = [
        doctor.mark_read(DOCTOR, &pid(1), 2_000),
        doctor
            .reply(DOCTOR, pid(2), &pid(1), "往診します", 3_000)
            .unwrap(),
        doctor.mark_read(DOCTOR, &pid(2), 4_000),
        doctor
            .edit(DOCTOR, &pid(2), "明日往診します", 5_000)
            .unwrap(),
    ];
    for update in &doctors {
        assert_eq!(accept(&mut server, DOCTOR, update), Ok(true));
        nurse.apply_update(update).unwrap();
    }
    // Nothing but deletes the server has: accepted, and nothing new to store.
    let known = nurse.encode_diff(&server.state_vector());
    assert_eq!(accept(&mut server, NURSE, &known), Ok(false));
    // With the nurse's offline post riding along: accepted whole.
    nurse.start_thread(NURSE, pid(3), "オフラインの記録", 6_000);
    let step2 = nurse.encode_diff(&server.state_vector());
    assert_eq!(accept(&mut server, NURSE, &step2), Ok(true));
    let view = server_view(&server);
    assert_eq!(view.post(&pid(3)).unwrap().text, "オフラインの記録");
    assert_eq!(view.post(&pid(2)).unwrap().text, "明日往診します");
    let marker = view.read_markers().into_iter().find(|m| m.user == DOCTOR);
    assert_eq!(marker.unwrap().post, pid(2));
}

/// Accepting deletes of deleted items opens no door: a delete of someone else's live value is
/// refused, also when it comes with deletes of already-deleted ones.
#[test]
fn deleting_someone_elses_live_value_is_still_refused() {
    let (mut server, nurse, doctor) = setup();
    for update in [
        nurse.mark_read(NURSE, &pid(1), 2_000),
        nurse.mark_read(NURSE, &pid(1), 3_000),
    ] {
        accept(&mut server, NURSE, &update).unwrap();
        doctor.apply_update(&update).unwrap();
    }
    let removal = {
        let map = doctor.doc().get_or_insert_map("read");
        let mut txn = doctor.doc().transact_mut();
        map.remove(&mut txn, &NURSE.to_string());
        txn.encode_update_v1()
    };
    assert_eq!(
        accept(&mut server, DOCTOR, &removal),
        Err(Violation::NotYourKey)
    );
    // The doctor's whole delete set: the nurse's replaced marker (deleted) and her live one.
    let step2 = doctor.encode_diff(&server.state_vector());
    assert_eq!(
        accept(&mut server, DOCTOR, &step2),
        Err(Violation::NotYourKey)
    );
    let marker = server_view(&server).read_markers();
    assert_eq!(marker.len(), 1);
    assert_eq!((marker[0].user, marker[0].at), (NURSE, 3_000));
}

/// Issue 13 §7: a post dated 2099 stayed at the top of every timeline.
#[test]
fn a_post_dated_ahead_of_the_servers_clock_is_refused() {
    let (mut server, nurse, doctor) = setup();
    let year_2099 = 4_070_908_800_000;
    let far = doctor.start_thread(DOCTOR, pid(3), "未来の投稿", year_2099);
    assert_eq!(
        accept(&mut server, DOCTOR, &far),
        Err(Violation::DatedInFuture)
    );
    let (mut server, _, doctor) = setup();
    let just_over = doctor.start_thread(DOCTOR, pid(3), "少し未来", NOW + MAX_CLOCK_AHEAD_MS + 1);
    assert_eq!(
        accept(&mut server, DOCTOR, &just_over),
        Err(Violation::DatedInFuture)
    );
    assert!(server_view(&server).post(&pid(3)).is_none());
    // A phone a minute fast, and one at the very edge, are fine.
    let (mut server, _, doctor) = setup();
    let minute = doctor.start_thread(DOCTOR, pid(3), "1分進んだ時計", NOW + 60_000);
    assert_eq!(accept(&mut server, DOCTOR, &minute), Ok(true));
    let edge = doctor.start_thread(DOCTOR, pid(4), "ぎりぎり", NOW + MAX_CLOCK_AHEAD_MS);
    assert_eq!(accept(&mut server, DOCTOR, &edge), Ok(true));
    // An edit dated in the future would lift the thread to the top as well.
    let edit = nurse
        .edit(NURSE, &pid(1), "血圧 150/92", year_2099)
        .unwrap();
    assert_eq!(
        accept(&mut server, NURSE, &edit),
        Err(Violation::DatedInFuture)
    );
    assert_eq!(
        server_view(&server).post(&pid(1)).unwrap().text,
        "血圧 150/90"
    );
    assert!(Violation::DatedInFuture
        .to_string()
        .contains("check the device's date and time"));
}

fn server_view(server: &ServerDoc) -> RoomDoc {
    let view = RoomDoc::new(999);
    view.apply_update(&server.encode_state()).unwrap();
    view
}

// ---- acknowledgement requests (要確認) ----

const PHARMACIST: UserId = UserId::new(3);

fn asking(to: &[UserId], everyone: bool) -> renraku_sync::AckRequest {
    renraku_sync::AckRequest {
        everyone,
        to: to.to_vec(),
        due: Some(NOW + 3_600_000),
    }
}

/// A server and three clients; the nurse's thread pid(2) asks `request`.
fn asking_setup(request: renraku_sync::AckRequest) -> (ServerDoc, RoomDoc, RoomDoc, RoomDoc) {
    let mut server = ServerDoc::new(ROOM);
    let nurse = RoomDoc::new(100);
    let doctor = RoomDoc::new(200);
    let pharmacist = RoomDoc::new(300);
    let u = nurse.start_thread_asking(
        NURSE,
        pid(2),
        "明日 9:00 までに確認してください",
        vec![],
        Some(request),
        true,
        1_000,
    );
    accept(&mut server, NURSE, &u).unwrap();
    doctor.apply_update(&u).unwrap();
    pharmacist.apply_update(&u).unwrap();
    (server, nurse, doctor, pharmacist)
}

#[test]
fn a_named_member_acknowledges_and_everyone_sees_who_and_when() {
    let (mut server, nurse, doctor, _) = asking_setup(asking(&[DOCTOR], false));
    let post = nurse.post(&pid(2)).unwrap();
    assert!(post.urgent);
    assert_eq!(post.ack.as_ref().unwrap().to, vec![DOCTOR]);
    let u = doctor.acknowledge(DOCTOR, &pid(2), 2_000);
    assert_eq!(accept(&mut server, DOCTOR, &u), Ok(true));
    assert_eq!(server.ack(&pid(2), DOCTOR), Some(2_000));
    nurse.apply_update(&u).unwrap();
    let status = nurse
        .ack_status(&pid(2), [NURSE, DOCTOR, PHARMACIST])
        .unwrap();
    assert!(status.complete());
    assert_eq!(status.acked[0].user, DOCTOR);
    assert_eq!(status.acked[0].at, 2_000);
}

#[test]
fn an_acknowledgement_only_under_ones_own_id() {
    let (mut server, _, doctor, _) = asking_setup(asking(&[DOCTOR], false));
    // The pharmacist's client writes the doctor's acknowledgement.
    let forged = doctor.acknowledge(DOCTOR, &pid(2), 2_000);
    assert_eq!(
        accept(&mut server, PHARMACIST, &forged),
        Err(Violation::NotYourKey)
    );
    assert_eq!(server.ack(&pid(2), DOCTOR), None);
}

#[test]
fn a_member_not_named_may_not_acknowledge() {
    let (mut server, _, _, pharmacist) = asking_setup(asking(&[DOCTOR], false));
    let u = pharmacist.acknowledge(PHARMACIST, &pid(2), 2_000);
    assert_eq!(
        accept(&mut server, PHARMACIST, &u),
        Err(Violation::NotAsked)
    );
    // Nor anyone a post that asks nothing, nor the author their own request.
    let (mut server, _, doctor) = setup();
    let u = doctor.acknowledge(DOCTOR, &pid(1), 2_000);
    assert_eq!(accept(&mut server, DOCTOR, &u), Err(Violation::NotAsked));
    let (mut server, nurse, _, _) = asking_setup(asking(&[], true));
    let u = nurse.acknowledge(NURSE, &pid(2), 2_000);
    assert_eq!(accept(&mut server, NURSE, &u), Err(Violation::NotAsked));
}

#[test]
fn anyone_acknowledges_a_whole_team_request() {
    let (mut server, _, doctor, pharmacist) = asking_setup(asking(&[], true));
    let u = doctor.acknowledge(DOCTOR, &pid(2), 2_000);
    assert_eq!(accept(&mut server, DOCTOR, &u), Ok(true));
    let u = pharmacist.acknowledge(PHARMACIST, &pid(2), 2_100);
    assert_eq!(accept(&mut server, PHARMACIST, &u), Ok(true));
    // Taking one's own back is one's own write too.
    let u = pharmacist.doc().get_or_insert_map("acks");
    let mut txn = pharmacist.doc().transact_mut();
    u.remove(&mut txn, &format!("{}/{}", pid(2), PHARMACIST));
    let removal = txn.encode_update_v1();
    drop(txn);
    assert_eq!(accept(&mut server, PHARMACIST, &removal), Ok(true));
    assert_eq!(server.ack(&pid(2), PHARMACIST), None);
}

#[test]
fn malformed_requests_and_acknowledgements_are_refused() {
    let (mut server, _, _, _) = asking_setup(asking(&[DOCTOR], false));
    // Each hostile write from a fresh client that holds the server's state.
    let fresh = |server: &ServerDoc, id: u64| {
        let client = RoomDoc::new(id);
        client.apply_update(&server.encode_state()).unwrap();
        client
    };
    // A request that asks nobody, or both everyone and names.
    for (i, ack) in [
        Any::from(HashMap::from([("all".to_owned(), Any::from(false))])),
        Any::from(HashMap::from([
            ("all".to_owned(), Any::from(true)),
            ("to".to_owned(), Any::from(vec![Any::from("2")])),
        ])),
        Any::from("everyone"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut value = post_value("1", "x");
        if let Any::Map(m) = &mut value {
            std::sync::Arc::make_mut(m).insert("ack".to_owned(), ack);
        }
        let nurse = fresh(&server, 900 + i as u64);
        let u = raw_insert(&nurse, "posts", pid(9).as_str(), value);
        assert_eq!(
            accept(&mut server, NURSE, &u),
            Err(Violation::BadValue("post"))
        );
    }
    // An acknowledgement without a time, or dated far ahead.
    let key = format!("{}/{}", pid(2), DOCTOR);
    let u = raw_insert(&fresh(&server, 950), "acks", &key, Any::from(true));
    assert_eq!(
        accept(&mut server, DOCTOR, &u),
        Err(Violation::BadValue("ack"))
    );
    let u = fresh(&server, 951).acknowledge(DOCTOR, &pid(2), NOW + MAX_CLOCK_AHEAD_MS + 1);
    assert_eq!(
        accept(&mut server, DOCTOR, &u),
        Err(Violation::DatedInFuture)
    );
}

#[test]
fn an_edit_keeps_the_request_and_a_delete_withdraws_it() {
    let (mut server, nurse, doctor, _) = asking_setup(asking(&[DOCTOR], false));
    let u = nurse
        .edit(NURSE, &pid(2), "訂正: 明日 10:00 まで", 3_000)
        .unwrap();
    accept(&mut server, NURSE, &u).unwrap();
    let edited = server.post(&pid(2)).unwrap();
    assert!(edited.urgent);
    assert_eq!(edited.ack.unwrap().to, vec![DOCTOR]);
    let u = nurse.delete(NURSE, &pid(2), 4_000).unwrap();
    accept(&mut server, NURSE, &u).unwrap();
    let deleted = server.post(&pid(2)).unwrap();
    assert!(deleted.ack.is_none() && !deleted.urgent);
    // Nothing left to acknowledge.
    doctor.apply_update(&server.encode_state()).unwrap();
    let u = doctor.acknowledge(DOCTOR, &pid(2), 5_000);
    assert_eq!(accept(&mut server, DOCTOR, &u), Err(Violation::NotAsked));
}
