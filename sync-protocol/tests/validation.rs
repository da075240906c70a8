//! The server's validation (DESIGN §5): what a team member may and may not write.

use renraku_sync::yrs::{Any, Map, MapPrelim, Text, Transact};
use renraku_sync::{DocId, PostId, Reaction, RoomDoc, RoomId, ServerDoc, UserId, Violation};
use std::collections::HashMap;

const NURSE: UserId = UserId::new(1);
const DOCTOR: UserId = UserId::new(2);
const ROOM: DocId = DocId::Room(RoomId::new(1));

fn pid(n: u8) -> PostId {
    PostId::parse(&format!("01J{:0>23}", n)).unwrap()
}

/// Server accepts `update` from `sender` (the way the hub does: check, then apply).
fn accept(server: &mut ServerDoc, sender: UserId, update: &[u8]) -> Result<bool, Violation> {
    let checked = server.check(sender, update)?;
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
            server.check(DOCTOR, garbage),
            Err(Violation::Malformed(_))
        ));
    }
}

#[test]
fn writers_name_the_client_ids_used() {
    let (server, _, doctor) = setup();
    let checked = server
        .check(DOCTOR, &doctor.react(DOCTOR, &pid(1), Reaction::Ack))
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
        let _ = server.check(DOCTOR, &bytes);
    }
}

fn server_view(server: &ServerDoc) -> RoomDoc {
    let view = RoomDoc::new(999);
    view.apply_update(&server.encode_state()).unwrap();
    view
}
