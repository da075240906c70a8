//! The typed document API, as two team members' replicas see it.

use renraku_sync::{PersonalDoc, PostId, Reaction, RoomDoc, RoomId, UserId};

const NURSE: UserId = UserId::new(1);
const DOCTOR: UserId = UserId::new(2);

fn pid(n: u8) -> PostId {
    PostId::parse(&format!("01J{:0>23}", n)).unwrap()
}

/// Applies `update` to every replica in `to`.
fn send(update: &[u8], to: &[&RoomDoc]) {
    for doc in to {
        doc.apply_update(update).unwrap();
    }
}

#[test]
fn thread_reply_reaction_and_pin_reach_the_other_replica() {
    let nurse = RoomDoc::new(11);
    let doctor = RoomDoc::new(22);

    send(
        &nurse.start_thread(NURSE, pid(1), "褥瘡の写真です", 1_000),
        &[&doctor],
    );
    let reply = doctor
        .reply(DOCTOR, pid(2), &pid(1), "軟膏を変更します", 2_000)
        .unwrap();
    send(&reply, &[&nurse]);
    send(&doctor.react(DOCTOR, &pid(1), Reaction::Ack), &[&nurse]);
    send(&nurse.react(NURSE, &pid(1), Reaction::Ack), &[&doctor]);
    send(&doctor.pin(DOCTOR, &pid(1), 3_000), &[&nurse]);

    for replica in [&nurse, &doctor] {
        let threads = replica.threads();
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].root.text, "褥瘡の写真です");
        assert_eq!(threads[0].root.author, NURSE);
        assert_eq!(threads[0].replies.len(), 1);
        assert_eq!(threads[0].replies[0].text, "軟膏を変更します");
        assert_eq!(threads[0].last_activity, 2_000);
        let reactions = replica.reactions(&pid(1));
        assert_eq!(reactions.len(), 1);
        assert_eq!(reactions[0].kind, Reaction::Ack);
        assert_eq!(reactions[0].count, 2);
        assert_eq!(reactions[0].users, vec![NURSE, DOCTOR]);
        let pins = replica.pins();
        assert_eq!(pins.len(), 1);
        assert_eq!((pins[0].post.clone(), pins[0].by), (pid(1), DOCTOR));
    }
}

#[test]
fn replies_to_replies_join_the_thread_and_threads_sort_by_activity() {
    let doc = RoomDoc::new(5);
    doc.start_thread(NURSE, pid(1), "first", 1_000);
    doc.start_thread(NURSE, pid(2), "second", 2_000);
    doc.reply(DOCTOR, pid(3), &pid(1), "re first", 3_000)
        .unwrap();
    doc.reply(NURSE, pid(4), &pid(3), "re re first", 4_000)
        .unwrap();
    let threads = doc.threads();
    assert_eq!(
        threads[0].root.id,
        pid(1),
        "the thread with the newest reply comes first"
    );
    assert_eq!(threads[0].replies.len(), 2);
    assert_eq!(threads[0].replies[1].parent, Some(pid(1)));
    assert_eq!(threads[1].root.id, pid(2));
    assert!(doc.reply(NURSE, pid(5), &pid(9), "orphan", 5_000).is_err());
}

#[test]
fn only_the_author_edits_or_deletes_and_deleted_posts_stay_as_tombstones() {
    let doc = RoomDoc::new(5);
    doc.start_thread(NURSE, pid(1), "訪問は14時", 1_000);
    doc.reply(DOCTOR, pid(2), &pid(1), "了解です", 2_000)
        .unwrap();
    assert!(doc.edit(DOCTOR, &pid(1), "改ざん", 3_000).is_err());
    assert!(doc.delete(DOCTOR, &pid(1), 3_000).is_err());
    doc.edit(NURSE, &pid(1), "訪問は15時に変更", 3_000).unwrap();
    let post = doc.post(&pid(1)).unwrap();
    assert_eq!(post.text, "訪問は15時に変更");
    assert_eq!(post.edited_at, Some(3_000));
    doc.delete(NURSE, &pid(1), 4_000).unwrap();
    let threads = doc.threads();
    assert!(threads[0].root.deleted);
    assert!(threads[0].root.text.is_empty());
    assert_eq!(
        threads[0].replies.len(),
        1,
        "replies survive their root's deletion"
    );
}

#[test]
fn unreact_unpin_and_read_markers() {
    let doc = RoomDoc::new(5);
    doc.start_thread(NURSE, pid(1), "a", 1_000);
    doc.start_thread(NURSE, pid(2), "b", 2_000);
    doc.react(DOCTOR, &pid(1), Reaction::Like);
    doc.react(DOCTOR, &pid(1), Reaction::Checked);
    let r = doc.reactions(&pid(1));
    assert_eq!(
        r.len(),
        1,
        "one reaction per person: a new one replaces the old"
    );
    assert_eq!(r[0].kind, Reaction::Checked);
    doc.unreact(DOCTOR, &pid(1));
    assert!(doc.reactions(&pid(1)).is_empty());
    doc.pin(NURSE, &pid(2), 5);
    doc.unpin(&pid(2));
    assert!(doc.pins().is_empty());
    doc.mark_read(DOCTOR, &pid(1), 10);
    doc.mark_read(NURSE, &pid(2), 11);
    assert_eq!(doc.readers_of(&pid(1)), vec![NURSE, DOCTOR]);
    assert_eq!(doc.readers_of(&pid(2)), vec![NURSE]);
}

#[test]
fn offline_edits_by_both_converge() {
    let a = RoomDoc::new(1);
    let b = RoomDoc::new(2);
    send(&a.start_thread(NURSE, pid(1), "root", 1), &[&b]);
    // Both offline: each writes without seeing the other.
    let ua = [
        a.reply(NURSE, pid(2), &pid(1), "from a", 2).unwrap(),
        a.react(NURSE, &pid(1), Reaction::Ack),
        a.pin(NURSE, &pid(1), 3),
    ];
    let ub = [
        b.reply(DOCTOR, pid(3), &pid(1), "from b", 2).unwrap(),
        b.react(DOCTOR, &pid(1), Reaction::Like),
        b.unpin(&pid(1)),
    ];
    for u in &ua {
        send(u, &[&b]);
    }
    for u in &ub {
        send(u, &[&a]);
    }
    assert_eq!(a.threads(), b.threads());
    assert_eq!(a.reactions(&pid(1)), b.reactions(&pid(1)));
    assert_eq!(a.pins(), b.pins());
    assert_eq!(a.threads()[0].replies.len(), 2);
}

#[test]
fn personal_doc_keeps_pinned_rooms_and_read_positions() {
    let phone = PersonalDoc::new(7);
    let pc = PersonalDoc::new(8);
    let u = phone.pin_room(RoomId::new(3), 100);
    let v = phone.pin_room(RoomId::new(9), 200);
    let w = phone.mark_room_read(RoomId::new(3), &pid(4), 300);
    for update in [u, v, w] {
        let mut txn = yrs::Transact::transact_mut(pc.doc());
        txn.apply_update(yrs::updates::decoder::Decode::decode_v1(&update).unwrap())
            .unwrap();
    }
    assert_eq!(
        pc.pinned_rooms(),
        vec![(RoomId::new(9), 200), (RoomId::new(3), 100)]
    );
    assert_eq!(pc.last_read(RoomId::new(3)), Some(pid(4)));
    pc.unpin_room(RoomId::new(9));
    assert_eq!(pc.pinned_rooms(), vec![(RoomId::new(3), 100)]);
}
