//! The update validator on arbitrary bytes, as the server runs it on every update a client
//! sends: `ServerDoc::check` (with the room policy) and, when it accepts, `apply`. Neither
//! may panic or run away; an accepted update must load again from storage (the server
//! persists the update bytes and replays them at the next load).
//!
//! Input: the first byte picks the sender among three users; the rest is the update. The
//! room already holds a thread by user 1 and a reply by user 2, so edits, deletes, reactions
//! and pins have something to aim at.
#![no_main]

use libfuzzer_sys::fuzz_target;
use renraku_sync::{DocId, PostId, RoomDoc, RoomId, ServerDoc, UserId};
use std::sync::OnceLock;

const ROOM: DocId = DocId::Room(RoomId::new(1));
/// The server's clock (Unix ms): the seed posts are dated long before it.
const NOW: i64 = 1_000_000;

/// The room's log before the fuzzed update: each update as the server stored it.
fn seed_log() -> &'static [Vec<u8>] {
    static LOG: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let (u1, u2) = (UserId::new(1), UserId::new(2));
        let root = PostId::parse("01JAAAAAAAAAAAAAAAAAAAAAAA").expect("a valid post id");
        let reply = PostId::parse("01JAAAAAAAAAAAAAAAAAAAAAAB").expect("a valid post id");
        let doctor = RoomDoc::new(101);
        let nurse = RoomDoc::new(202);
        let mut log = vec![doctor.start_thread(u1, root.clone(), "発熱 37.8℃", 1)];
        nurse.apply_update(&log[0]).expect("seed applies");
        log.push(
            nurse
                .reply(u2, reply, &root, "明日往診します", 2)
                .expect("seed reply"),
        );
        log
    })
}

fn loaded(log: &[Vec<u8>]) -> ServerDoc {
    let mut doc = ServerDoc::new(ROOM);
    for update in log {
        doc.load(update).expect("the seed log loads");
    }
    doc
}

fuzz_target!(|data: &[u8]| {
    let Some((&who, update)) = data.split_first() else {
        return;
    };
    let sender = UserId::new(1 + i64::from(who % 3));
    let mut doc = loaded(seed_log());
    let Ok(checked) = doc.check(sender, update, NOW) else {
        return;
    };
    // As the server does: a resend of what it has is acknowledged, not applied again.
    if !checked.is_new || doc.apply(checked).is_err() {
        return;
    }
    // Accepted and stored: the next load replays the log with it.
    let mut replay = loaded(seed_log());
    replay
        .load(update)
        .expect("an accepted update loads from storage");
    assert_eq!(replay.state_vector(), doc.state_vector());
});
