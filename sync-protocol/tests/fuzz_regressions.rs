//! Inputs the fuzz targets (fuzz/) found, kept so they stay handled.

use renraku_sync::{DocId, Frame, RoomId, ServerDoc, UserId};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// update_validator, 2026-11: an update naming a yrs client id wider than 53 bits. yrs
/// `debug_assert!`s on it while decoding (a panic in debug builds, a masked id in release).
/// The server runs `check` under `catch_unwind`, as here; either way it must not be
/// accepted.
#[test]
fn a_client_id_wider_than_53_bits_is_never_accepted() {
    let input: &[u8] = &[
        0xfe, 0x01, 0x01, 0xc3, 0xc3, 0xc3, 0xc3, 0xff, 0xff, 0xff, 0x66,
    ];
    let (&who, update) = input.split_first().unwrap();
    let sender = UserId::new(1 + i64::from(who % 3));
    let doc = ServerDoc::new(DocId::Room(RoomId::new(1)));
    let verdict = catch_unwind(AssertUnwindSafe(|| doc.check(sender, update, 0).is_ok()));
    assert!(!matches!(verdict, Ok(true)), "the update was accepted");
}

/// update_validator, 2026-11 (found by the CI run's 20 s): a delete set whose range
/// `clock + len` overflows u32. yrs' own delete-set decoder adds without checking and panicked
/// (overflow checks on); the update is now read by our decoder and refused as malformed.
#[test]
fn a_delete_range_past_u32_is_malformed_not_a_panic() {
    let input: &[u8] = &[
        0xc9, 0x01, 0x01, 0x3a, 0x65, 0x03, 0xa8, 0x65, 0x01, 0x76, 0x07, 0x09, 0x9c, 0x64, 0x69,
        0xb8, 0x74, 0x65, 0x64, 0x5f, 0x61, 0x09, 0x9c, 0x64, 0x69, 0xb8, 0x74, 0x74, 0x65, 0x01,
        0x28, 0x00, 0x01, 0x01, 0x01, 0x3a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x01, 0xaf, 0x02, 0x00, 0x28, 0x01, 0x04, 0x70,
        0x69, 0x6e, 0x73, 0x1a, 0x38, 0x31, 0x4a, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x01, 0x76, 0x02, 0x02, 0x74, 0x73, 0x75,
    ];
    let (&who, update) = input.split_first().unwrap();
    let sender = UserId::new(1 + i64::from(who % 3));
    let doc = ServerDoc::new(DocId::Room(RoomId::new(1)));
    let verdict = doc.check(sender, update, 0);
    assert!(verdict.is_err(), "the update was accepted");
}

/// update_validator, 2026-11: a variable-length integer in a value longer than an i64 holds.
/// yrs shifts past 63 bits while decoding it (a panic with overflow checks, as in this debug
/// test build; a wrapped number in release). As above: contained, and never accepted.
#[test]
fn an_overlong_varint_in_a_value_is_never_accepted() {
    let input: &[u8] = &[
        0x02, 0x05, 0x01, 0xaf, 0x02, 0x00, 0x28, 0x01, 0x04, 0x70, 0x69, 0x6e, 0x73, 0x1a, 0x30,
        0x31, 0x31, 0x00, 0x00, 0x00, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x01, 0x76, 0x02, 0x02, 0x61,
        0x74, 0x7d, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9,
        0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0xb9, 0x05, 0x02, 0x62, 0x79, 0x77, 0x01, 0x33, 0x00,
    ];
    let (&who, update) = input.split_first().unwrap();
    let sender = UserId::new(1 + i64::from(who % 3));
    let doc = ServerDoc::new(DocId::Room(RoomId::new(1)));
    let verdict = catch_unwind(AssertUnwindSafe(|| doc.check(sender, update, 0).is_ok()));
    assert!(!matches!(verdict, Ok(true)), "the update was accepted");
}

/// frame_decode: truncated and empty inputs decode to an error, not a panic.
#[test]
fn truncated_frames_are_errors() {
    let whole = Frame::Sync {
        doc: DocId::Room(RoomId::new(7)),
        ack: Some(3),
        message: vec![0, 1, 2, 3],
    }
    .encode();
    for end in 0..whole.len() {
        assert!(
            Frame::decode(&whole[..end]).is_err(),
            "prefix of {end} bytes"
        );
    }
    assert!(Frame::decode(&whole).is_ok());
}

/// Writes the seed corpora of fuzz/ (`cargo test -p renraku-sync --test fuzz_regressions --
/// --ignored`): real frames and real updates, so the fuzzer starts from valid structure.
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_fuzz_seeds() {
    use renraku_sync::{PostId, Reaction, RoomDoc};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let room = DocId::Room(RoomId::new(1));
    let frames = [
        Frame::Hello { version: 1 },
        Frame::Open { doc: room },
        Frame::Close {
            doc: DocId::Personal(UserId::new(2)),
        },
        Frame::Sync {
            doc: room,
            ack: Some(9),
            message: vec![0, 0, 1, 0],
        },
    ];
    for (i, frame) in frames.iter().enumerate() {
        write("frame_decode", &format!("seed-{i}"), &frame.encode());
    }
    // update_validator: first byte picks the sender (1 + b % 3); the room holds a thread by
    // user 1 (client 101) and a reply by user 2 (client 202), as the target seeds it.
    let (u1, u2, u3) = (UserId::new(1), UserId::new(2), UserId::new(3));
    let root_id = PostId::parse("01JAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    let reply_id = PostId::parse("01JAAAAAAAAAAAAAAAAAAAAAAB").unwrap();
    let doctor = RoomDoc::new(101);
    let nurse = RoomDoc::new(202);
    let first = doctor.start_thread(u1, root_id.clone(), "発熱 37.8℃", 1);
    nurse.apply_update(&first).unwrap();
    let second = nurse
        .reply(u2, reply_id, &root_id, "明日往診します", 2)
        .unwrap();
    doctor.apply_update(&second).unwrap();
    let other = RoomDoc::new(303);
    other.apply_update(&first).unwrap();
    other.apply_update(&second).unwrap();
    let seeds: Vec<(u8, Vec<u8>)> = vec![
        (
            0,
            doctor.start_thread(
                u1,
                PostId::parse("01JAAAAAAAAAAAAAAAAAAAAAAC").unwrap(),
                "新しい投稿",
                3,
            ),
        ),
        (0, doctor.edit(u1, &root_id, "訂正 38.0℃", 4).unwrap()),
        (1, nurse.react(u2, &root_id, Reaction::Ack)),
        (2, other.pin(u3, &root_id, 5)),
        (2, other.mark_read(u3, &root_id, 6)),
        (0, doctor.delete(u1, &root_id, 7).unwrap()),
    ];
    for (i, (who, update)) in seeds.into_iter().enumerate() {
        let mut bytes = vec![who];
        bytes.extend(update);
        write("update_validator", &format!("seed-{i}"), &bytes);
    }
}
