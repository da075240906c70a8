//! `ServerDoc`: the server's replica of one document, which accepts an update only after
//! checking it against its sender.

use crate::frame::DocId;
use crate::ids::UserId;
use crate::schema::Root;
use crate::update::ParsedUpdate;
use crate::validate::{
    self, Accepted, PersonalPolicy, Policy, RoomPolicy, Slot, SlotIndex, Violation,
};
use yrs::updates::decoder::Decode;
use yrs::{Any, ClientID, Doc, Options, ReadTxn, StateVector, Transact, Update};

pub struct ServerDoc {
    doc: Doc,
    index: SlotIndex,
    policy: &'static (dyn Policy + Send + Sync),
}

/// An update that passed validation, ready to apply.
pub struct Checked {
    /// The update's bytes, decoded by yrs when applied: a decoded yrs `Update` is not
    /// `Send`, and the caller awaits storage between checking and applying.
    update: Vec<u8>,
    accepted: Accepted,
    /// The yrs client ids that wrote it: the caller must make sure they are the sender's.
    pub writers: Vec<u64>,
    /// False when the server already had all of it (a resend from an outbox).
    pub is_new: bool,
}

impl Checked {
    /// Whether part of it is already in the replica: then what it brought is to be relayed
    /// ([`ServerDoc::apply_news`]), not the update as sent.
    pub fn repeats_known(&self) -> bool {
        self.accepted.has_known_items
    }
}

/// Storage is trusted: what it holds was validated when it was written.
struct Trusted;

impl Policy for Trusted {
    fn check(
        &self,
        _: UserId,
        _: &Slot,
        _: Option<&Any>,
        _: Option<&Any>,
        _: crate::validate::Lookup<'_>,
        _: i64,
    ) -> Result<(), Violation> {
        Ok(())
    }

    fn trusts_all(&self) -> bool {
        true
    }
}

impl Checked {
    /// The slots (root map, key) this update writes or clears: what a projection of the
    /// document must re-read once it is applied.
    pub fn touched(&self) -> Vec<crate::validate::Slot> {
        self.accepted.touched()
    }
}

impl ServerDoc {
    pub fn new(id: DocId) -> Self {
        let doc = Doc::with_options(Options {
            // The server never writes content itself; its client id only names its replica.
            client_id: ClientID::new(1),
            // Deleted items keep their place, so later updates stay attributable.
            skip_gc: true,
            ..Options::default()
        });
        // No root map is made up front: yrs makes each when the first update under it
        // arrives, and reads find an absent one empty. A loaded room pays only for the roots
        // it uses (a root's branch is about 200 bytes, five per document otherwise).
        let policy: &'static (dyn Policy + Send + Sync) = match id {
            DocId::Room(_) => &RoomPolicy,
            DocId::Personal(_) => &PersonalPolicy,
        };
        Self {
            doc,
            index: SlotIndex::default(),
            policy,
        }
    }

    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// Applies an update from storage; returns whether it changed the replica (false for
    /// content it held already, deletions included).
    pub fn load(&mut self, update: &[u8]) -> Result<bool, Violation> {
        let checked = self.check_with(UserId::new(0), update, &Trusted, 0)?;
        self.apply(checked)
    }

    /// Applies an update that another replica stored and returns what of it is new here,
    /// encoded as an update (`None`: nothing). A row stored elsewhere can partly repeat what
    /// this replica has — a client's offline writes, sent as one step 2 to a node that had
    /// some of them from a node that died before telling the rest — and relaying the row
    /// whole would hand this replica's clients those posts a second time.
    pub fn load_news(&mut self, update: &[u8]) -> Result<Option<Vec<u8>>, Violation> {
        let checked = self.check_with(UserId::new(0), update, &Trusted, 0)?;
        self.integrate(checked, true)
    }

    /// Validates an update from `sender` without changing anything; `now_ms` is the server's
    /// clock (Unix ms), which posts may not be dated far ahead of.
    pub fn check(&self, sender: UserId, update: &[u8], now_ms: i64) -> Result<Checked, Violation> {
        self.check_with(sender, update, self.policy, now_ms)
    }

    fn check_with(
        &self,
        sender: UserId,
        bytes: &[u8],
        policy: &dyn Policy,
        now_ms: i64,
    ) -> Result<Checked, Violation> {
        let parsed = ParsedUpdate::parse(bytes).map_err(|e| Violation::Malformed(e.to_string()))?;
        let accepted = validate::validate(&parsed, sender, &self.doc, &self.index, policy, now_ms)?;
        // Loading from storage applies everything anyway, and attributes no deletes.
        let is_new = accepted.has_new_items || (!policy.trusts_all() && accepted.has_new_deletes);
        Ok(Checked {
            is_new,
            update: bytes.to_vec(),
            accepted,
            writers: parsed.writers(),
        })
    }

    /// Applies a checked update. yrs decodes it here, once; bytes that our reader accepted
    /// but yrs refuses are refused whole, before anything is recorded. Returns whether it
    /// changed the replica: yrs records in the transaction only the items it inserted and
    /// the deletions it made, so a delete set applied twice counts once.
    /// [`ServerDoc::apply`], returning what of it was new here, encoded as an update
    /// (`None`: nothing).
    pub fn apply_news(&mut self, checked: Checked) -> Result<Option<Vec<u8>>, Violation> {
        self.integrate(checked, true)
    }

    pub fn apply(&mut self, checked: Checked) -> Result<bool, Violation> {
        Ok(self.integrate(checked, false)?.is_some())
    }

    /// Applies `checked`; `None` if that changed nothing, else what changed, encoded as an
    /// update when `encode` (empty otherwise).
    fn integrate(&mut self, checked: Checked, encode: bool) -> Result<Option<Vec<u8>>, Violation> {
        let update =
            Update::decode_v1(&checked.update).map_err(|e| Violation::Malformed(e.to_string()))?;
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update)
            .map_err(|e| Violation::Malformed(e.to_string()))?;
        txn.commit();
        let changed = !txn.insert_set().is_empty() || !txn.delete_set().is_empty();
        // The items this transaction integrated and the deletions it made, nothing else.
        let news = changed.then(|| {
            if encode {
                txn.encode_update_v1()
            } else {
                Vec::new()
            }
        });
        let deleted = txn.delete_set().clone();
        drop(txn);
        self.index.record(checked.accepted);
        self.index.record_deleted(deleted);
        Ok(news)
    }

    /// A post as it stands in this replica (`None`: absent, removed, or not a post value).
    pub fn post(&self, id: &crate::ids::PostId) -> Option<crate::room::Post> {
        use yrs::{Map, Out};
        let txn = self.doc.transact();
        match txn.get_map(Root::Posts.name())?.get(&txn, id.as_str())? {
            Out::Any(v) => crate::room::post_from_any(id.clone(), &v),
            _ => None,
        }
    }

    /// A member's read marker (`None`: absent or removed).
    pub fn read_marker(&self, user: UserId) -> Option<crate::room::ReadMarker> {
        use crate::schema::{any_i64, any_str, field};
        use yrs::{Map, Out};
        let txn = self.doc.transact();
        let Out::Any(v) = txn
            .get_map(Root::Read.name())?
            .get(&txn, &user.to_string())?
        else {
            return None;
        };
        Some(crate::room::ReadMarker {
            user,
            post: crate::ids::PostId::parse(any_str(field(&v, "post")?)?)?,
            at: any_i64(field(&v, "at")?)?,
        })
    }

    /// When `user` acknowledged `post` (`None`: not, or taken back).
    pub fn ack(&self, post: &crate::ids::PostId, user: UserId) -> Option<i64> {
        use yrs::{Map, Out};
        let txn = self.doc.transact();
        let Out::Any(v) = txn
            .get_map(Root::Acks.name())?
            .get(&txn, &crate::schema::ack_key(post, user))?
        else {
            return None;
        };
        crate::ack::ack_at(&v)
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    /// What a peer at `remote` lacks, as one v1 update (sync step 2).
    pub fn encode_diff(&self, remote: &StateVector) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(remote)
    }

    /// The whole document as one update: what a snapshot stores.
    pub fn encode_state(&self) -> Vec<u8> {
        self.encode_diff(&StateVector::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PostId, RoomId};
    use crate::room::RoomDoc;

    #[test]
    fn an_update_repeating_a_clients_blocks_is_refused_not_applied() {
        // From the fuzzer: client 0's blocks twice over (a GC range of 1, then one of 101
        // from the same clock), which made yrs divide by zero.
        let update = [2, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0x65, 0];
        let mut server = ServerDoc::new(DocId::Room(RoomId::new(1)));
        let verdict = server.check(UserId::new(1), &update, 1);
        assert!(
            matches!(verdict, Err(Violation::Malformed(ref why)) if why.contains("overlap")),
            "{:?}",
            verdict.map(|c| c.is_new)
        );
        // The document still takes ordinary writes.
        let writer = crate::RoomDoc::new(5);
        let post = writer.start_thread(
            UserId::new(1),
            crate::PostId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap(),
            "ok",
            1,
        );
        let checked = server.check(UserId::new(1), &post, 1).unwrap();
        assert!(server.apply(checked).unwrap());
    }

    /// The index's deleted items, kept from each transaction, are exactly yrs' own delete set
    /// (which yrs can only compute by walking the whole document).
    #[test]
    fn the_indexs_deleted_items_match_the_documents_delete_set() {
        let pid = |n: u8| PostId::parse(&format!("01J{:0>23}", n)).unwrap();
        let (nurse, doctor) = (UserId::new(1), UserId::new(2));
        let mut server = ServerDoc::new(DocId::Room(RoomId::new(1)));
        let a = RoomDoc::new(100);
        let b = RoomDoc::new(200);
        let mut updates = vec![(nurse, a.start_thread(nurse, pid(1), "1", 1))];
        b.apply_update(&updates[0].1).unwrap();
        updates.push((doctor, b.mark_read(doctor, &pid(1), 2)));
        updates.push((doctor, b.reply(doctor, pid(2), &pid(1), "2", 3).unwrap()));
        updates.push((doctor, b.mark_read(doctor, &pid(2), 4)));
        updates.push((nurse, a.edit(nurse, &pid(1), "1'", 5).unwrap()));
        updates.push((nurse, a.delete(nurse, &pid(1), 6).unwrap()));
        for (sender, update) in &updates {
            let checked = server.check(*sender, update, 10).unwrap();
            server.apply(checked).unwrap();
        }
        let expected = server.doc.transact().snapshot().delete_set;
        assert!(!expected.is_empty());
        assert_eq!(server.index.deleted(), &expected);

        let mut reloaded = ServerDoc::new(DocId::Room(RoomId::new(1)));
        reloaded.load(&server.encode_state()).unwrap();
        assert_eq!(reloaded.index.deleted(), &expected);
    }

    /// A row stored twice (a client's resend, saved again by a node that had not caught up)
    /// changes nothing the second time — not even its deletions — so another node relays
    /// it once.
    #[test]
    fn a_stored_update_loaded_again_changes_nothing_even_when_it_deletes() {
        let pid = |n: u8| PostId::parse(&format!("01J{:0>23}", n)).unwrap();
        let nurse = UserId::new(1);
        let a = RoomDoc::new(100);
        let post = a.start_thread(nurse, pid(1), "1", 1);
        // Setting the post again replaces its value: the update carries a delete set.
        let edit = a.edit(nurse, &pid(1), "1'", 2).unwrap();
        assert!(
            !Update::decode_v1(&edit).unwrap().delete_set().is_empty(),
            "the edit must delete the value it replaces, or this test shows nothing"
        );
        let mut server = ServerDoc::new(DocId::Room(RoomId::new(1)));
        assert!(server.load(&post).unwrap());
        assert!(server.load(&edit).unwrap(), "first time: news");
        assert!(!server.load(&edit).unwrap(), "second time: nothing new");
        assert!(!server.load(&post).unwrap());
    }

    /// A row stored by another node that partly repeats what this replica has is relayed
    /// as its new part only.
    fn pid(n: u8) -> PostId {
        PostId::parse(&format!("01J{:0>23}", n)).unwrap()
    }

    /// A nurse's phone wrote posts 1 and 2: the update of post 1 alone, and both posts as one
    /// update (what the phone's step 2 gives a node that had neither).
    fn two_posts() -> (UserId, Vec<u8>, Vec<u8>) {
        let nurse = UserId::new(1);
        let phone = RoomDoc::new(100);
        let first = phone.start_thread(nurse, pid(1), "1", 1);
        phone.start_thread(nurse, pid(2), "2", 2);
        (nurse, first, phone.encode_state())
    }

    /// Only post 2 is in `news`.
    fn only_the_second(news: &[u8]) {
        let fresh = RoomDoc::new(300);
        fresh.apply_update(news).unwrap();
        assert!(fresh.post(&pid(2)).is_some(), "the new post is relayed");
        assert!(
            fresh.post(&pid(1)).is_none(),
            "the known post is not relayed again"
        );
    }

    #[test]
    fn a_stored_update_that_partly_repeats_the_replica_relays_only_what_is_new() {
        let (_, first, both) = two_posts();
        let mut server = ServerDoc::new(DocId::Room(RoomId::new(1)));
        server.load(&first).unwrap();
        let news = server.load_news(&both).unwrap().expect("post 2 is new");
        only_the_second(&news);
        assert_eq!(
            server.load_news(&both).unwrap(),
            None,
            "then nothing is new"
        );
    }

    #[test]
    fn a_members_update_that_partly_repeats_the_replica_says_so_and_yields_what_is_new() {
        let (nurse, first, both) = two_posts();
        let mut server = ServerDoc::new(DocId::Room(RoomId::new(1)));
        let checked = server.check(nurse, &first, 10).unwrap();
        assert!(!checked.repeats_known(), "all of it is new");
        server.apply(checked).unwrap();
        let checked = server.check(nurse, &both, 10).unwrap();
        assert!(checked.is_new && checked.repeats_known());
        let news = server.apply_news(checked).unwrap().expect("post 2 is new");
        only_the_second(&news);
    }
}
