//! The server's check of every incoming update against its sender (ARCHITECTURE.md,
//! "Validation of updates").
//!
//! All values live directly under root maps (`schema.rs`), so every item an update inserts or
//! deletes belongs to one *slot*: a root map and a key. An item either names its slot or
//! inherits it from its origin, which is an item of the same update or one the server already
//! holds; `SlotIndex` remembers the slot of every item the server has accepted. A `Policy` then
//! says which slots the sender may write, given the slot's current value. Anything the reader
//! cannot attribute — nested types, unknown roots, gaps, deletes of unknown items — is refused.
//!
//! Deleting what the server already holds as deleted changes nothing, so it is accepted without
//! being attributed to anyone: every sync step 2 carries the sender's whole delete set, which
//! names other members' replaced values (read markers, edited posts) too.

use crate::ids::{PostId, RoomId, UserId};
use crate::room::post_from_any;
use crate::schema::{self, any_i64, any_str, any_user_id, field, Root};
use crate::update::{BlockKind, Content, Parent, ParsedUpdate};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use thiserror::Error;
use yrs::{Any, ClientID, Doc, IdSet, Map, Out, ReadTxn, Transact, ID};

/// Longest post text, in characters. A long referral letter belongs in an attachment.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Longest map key, in bytes.
pub const MAX_KEY_BYTES: usize = 128;
/// How far ahead of the server's clock a post's `created_at` / `edited_at` may be. Timelines
/// sort by these times, so a post dated 2099 would stay on top for good; phones set their
/// clocks from the network, and five minutes leaves room for one that drifted or is set a
/// little fast.
pub const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// Why an update was refused. The text is shown to the sender.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Violation {
    #[error("malformed update: {0}")]
    Malformed(String),
    #[error("update skips over missing changes; resynchronise")]
    MissingDependencies,
    #[error("update partly repeats saved changes; resynchronise")]
    PartialOverlap,
    #[error("only flat values under known root maps are allowed")]
    OutsideSchema,
    #[error("the item's place in the document is unknown")]
    UnknownOrigin,
    #[error("deletes items the server does not know")]
    UnknownDelete,
    #[error("a post may only be written by its author")]
    NotYourPost,
    #[error("a post's author must be its sender")]
    ForgedAuthor,
    #[error("reactions and read markers may only be written under one's own user id")]
    NotYourKey,
    #[error("only the people a post asks may acknowledge it")]
    NotAsked,
    #[error("value does not follow the schema: {0}")]
    BadValue(&'static str),
    #[error("text longer than {MAX_TEXT_CHARS} characters")]
    TextTooLong,
    #[error("yrs client id {0} belongs to another user")]
    ForeignClient(u64),
    #[error(
        "the post is dated more than {} minutes ahead of the server's clock: \
         check the device's date and time",
        MAX_CLOCK_AHEAD_MS / 60_000
    )]
    DatedInFuture,
}

/// A root map and a key: where an item lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    pub root: Root,
    pub key: Arc<str>,
}

/// For every accepted item, its slot, and which items are deleted. Kept per loaded document,
/// rebuilt when it is loaded.
#[derive(Default, Debug)]
pub struct SlotIndex {
    /// client → first clock of a run → (end clock, slot)
    clients: HashMap<u64, BTreeMap<u32, (u32, Slot)>>,
    /// Every item deleted in the document, kept up to date from each applied transaction so
    /// that no check has to walk the whole document for it.
    deleted: IdSet,
}

impl SlotIndex {
    pub fn get(&self, id: &ID) -> Option<&Slot> {
        lookup(&self.clients, id.client.get(), id.clock)
    }

    /// Records what an applied transaction deleted (`TransactionMut::delete_set`).
    pub fn record_deleted(&mut self, deleted: IdSet) {
        self.deleted.merge_with(deleted);
    }

    /// The items known to be deleted.
    pub fn deleted(&self) -> &IdSet {
        &self.deleted
    }

    /// Where the run of deleted items holding `clock` ends, if that item is deleted.
    fn deleted_until(&self, client: u64, clock: u32) -> Option<u32> {
        let ranges = self.deleted.get(&ClientID::new(client))?.as_slice();
        let after = ranges.partition_point(|(r, _)| r.start <= clock);
        let (range, _) = ranges.get(after.checked_sub(1)?)?;
        (clock < range.end).then_some(range.end)
    }

    /// Records what `validate` resolved, once the update has been applied.
    pub fn record(&mut self, accepted: Accepted) {
        for (client, clock, len, slot) in accepted.slots {
            self.clients
                .entry(client)
                .or_default()
                .insert(clock, (clock + len, slot));
        }
    }

    /// Number of runs held (a rough size measure).
    pub fn len(&self) -> usize {
        self.clients.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

fn lookup(
    clients: &HashMap<u64, BTreeMap<u32, (u32, Slot)>>,
    client: u64,
    clock: u32,
) -> Option<&Slot> {
    span(clients, client, clock).map(|(_, slot)| slot)
}

/// The slots of an accepted update's new items, to be recorded in the `SlotIndex`.
#[derive(Debug, Default)]
pub struct Accepted {
    slots: Vec<(u64, u32, u32, Slot)>,
    /// Whether the update inserts anything the server does not have yet.
    pub has_new_items: bool,
    /// Whether the update also carries items the server has (a client's step 2 computed
    /// against another replica, after a node died): relayed whole, it would hand them to
    /// this replica's clients a second time.
    pub has_known_items: bool,
    /// Whether the update deletes anything the server does not hold as deleted yet.
    pub has_new_deletes: bool,
    /// Slots whose items the update deletes (projections re-read them after applying).
    pub cleared: Vec<Slot>,
}

impl Accepted {
    /// Every slot the update writes or clears, each once.
    pub fn touched(&self) -> Vec<Slot> {
        let mut slots: Vec<Slot> = Vec::new();
        for slot in self.slots.iter().map(|(.., s)| s).chain(&self.cleared) {
            if !slots.contains(slot) {
                slots.push(slot.clone());
            }
        }
        slots
    }
}

/// Reads another slot's value as the server holds it (before the update being checked).
pub type Lookup<'a> = &'a dyn Fn(Root, &str) -> Option<Any>;

/// Who may write what, for one kind of document.
pub trait Policy {
    /// May `sender` put `value` (`None`: a tombstone or a delete) into `slot`, whose current
    /// value is `current`, when the server's clock says `now_ms`? `lookup` reads other slots
    /// (an acknowledgement is checked against the post it acknowledges).
    fn check(
        &self,
        sender: UserId,
        slot: &Slot,
        value: Option<&Any>,
        current: Option<&Any>,
        lookup: Lookup<'_>,
        now_ms: i64,
    ) -> Result<(), Violation>;

    /// True for storage, which holds only what was validated when it was written: then
    /// items are only attributed to their slots, and nothing is checked.
    fn trusts_all(&self) -> bool {
        false
    }
}

/// Checks `update` from `sender` against `doc` (the server's replica) and its `index`, at the
/// server's time `now_ms` (Unix ms). Nothing is changed: on `Ok`, apply the update, then
/// `index.record(accepted)` and `index.record_deleted(…)` with what the application deleted.
pub fn validate(
    update: &ParsedUpdate,
    sender: UserId,
    doc: &Doc,
    index: &SlotIndex,
    policy: &dyn Policy,
    now_ms: i64,
) -> Result<Accepted, Violation> {
    let txn = doc.transact();
    let sv = txn.state_vector();

    // 1. Which blocks are new, and do they continue exactly where the server's state ends?
    // Where each client's next new block must start (its previous one's end).
    let mut next_clock: HashMap<u64, u32> = HashMap::new();
    let mut new_blocks = Vec::new();
    for block in &update.blocks {
        if matches!(block.kind, BlockKind::Skip) {
            return Err(Violation::MissingDependencies);
        }
        // No encoder writes an empty block, nor one client's blocks twice or with a gap
        // between them; yrs, given either, can corrupt its block list and panic (found by
        // fuzzing `update_validator`).
        if block.len == 0 {
            return Err(Violation::Malformed("a block of length 0".into()));
        }
        let known = sv.get(&yrs::ClientID::new(block.client));
        if block.clock + block.len <= known {
            continue; // already integrated: yrs ignores it, and so do we
        }
        if block.clock < known {
            return Err(Violation::PartialOverlap);
        }
        match next_clock.get(&block.client) {
            None if block.clock > known => return Err(Violation::MissingDependencies),
            Some(&end) if block.clock != end => {
                return Err(Violation::Malformed(
                    "one client's blocks overlap or leave a gap".into(),
                ))
            }
            _ => {}
        }
        next_clock.insert(block.client, block.clock + block.len);
        new_blocks.push(block);
    }

    // 2. Resolve every new item's slot, following origins (possibly across this update).
    let mut resolved: HashMap<u64, BTreeMap<u32, (u32, Slot)>> = HashMap::new();
    let mut pending = Vec::new();
    for block in &new_blocks {
        let BlockKind::Item(item) = &block.kind else {
            continue; // GC ranges carry no content and no place
        };
        match &item.parent {
            Parent::Root { name, key } => {
                let root = Root::from_name(name).ok_or(Violation::OutsideSchema)?;
                let key = key.clone().ok_or(Violation::OutsideSchema)?;
                if key.len() > MAX_KEY_BYTES {
                    return Err(Violation::BadValue("key too long"));
                }
                resolved
                    .entry(block.client)
                    .or_default()
                    .insert(block.clock, (block.clock + block.len, Slot { root, key }));
            }
            Parent::Nested(_) => return Err(Violation::OutsideSchema),
            Parent::FromOrigin => pending.push(*block),
        }
    }
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|block| {
            let BlockKind::Item(item) = &block.kind else {
                return false;
            };
            let find = |id: &ID| {
                lookup(&resolved, id.client.get(), id.clock)
                    .or_else(|| index.get(id))
                    .cloned()
            };
            let slot = item
                .origin
                .as_ref()
                .and_then(find)
                .or_else(|| item.right_origin.as_ref().and_then(find));
            match slot {
                Some(slot) => {
                    resolved
                        .entry(block.client)
                        .or_default()
                        .insert(block.clock, (block.clock + block.len, slot));
                    false
                }
                None => true,
            }
        });
        if pending.len() == before {
            return Err(Violation::UnknownOrigin);
        }
    }

    // 3. Every new item must be a value the sender may write there.
    let read = |root: Root, key: &str| -> Option<Any> {
        let map = txn.get_map(root.name())?;
        match map.get(&txn, key)? {
            Out::Any(v) => Some(v),
            _ => None,
        }
    };
    let current = |slot: &Slot| read(slot.root, &slot.key);
    let mut accepted = Accepted {
        slots: Vec::with_capacity(new_blocks.len()),
        has_new_items: !new_blocks.is_empty(),
        has_known_items: new_blocks.len() < update.blocks.len(),
        has_new_deletes: false,
        cleared: Vec::new(),
    };
    let trusted = policy.trusts_all();
    for block in &new_blocks {
        let BlockKind::Item(item) = &block.kind else {
            continue;
        };
        let slot = lookup(&resolved, block.client, block.clock)
            .expect("resolved above")
            .clone();
        if trusted {
            accepted
                .slots
                .push((block.client, block.clock, block.len, slot));
            continue;
        }
        let value = match &item.content {
            Content::Any(values) if values.len() == 1 => Some(&values[0]),
            Content::Any(_) => return Err(Violation::OutsideSchema),
            Content::Deleted => None,
            Content::Other(_) => return Err(Violation::OutsideSchema),
        };
        policy.check(sender, &slot, value, current(&slot).as_ref(), &read, now_ms)?;
        accepted
            .slots
            .push((block.client, block.clock, block.len, slot));
    }

    // 4. Every deleted item must be known, and in a slot the sender may clear, unless the
    // server holds it as deleted already.
    if trusted {
        return Ok(accepted);
    }
    for (client, ranges) in update.deletes.iter() {
        let client = client.get();
        let gc_ranges: Vec<(u32, u32)> = new_blocks
            .iter()
            .filter(|b| b.client == client && matches!(b.kind, BlockKind::Gc))
            .map(|b| (b.clock, b.clock + b.len))
            .collect();
        for range in ranges.iter() {
            let mut clock = range.start;
            while clock < range.end {
                if let Some(&(_, end)) = gc_ranges.iter().find(|(s, e)| *s <= clock && clock < *e) {
                    clock = end;
                    continue;
                }
                if let Some(end) = index.deleted_until(client, clock) {
                    clock = end;
                    continue;
                }
                let (end, slot) = span(&resolved, client, clock)
                    .or_else(|| span(&index.clients, client, clock))
                    .ok_or(Violation::UnknownDelete)?;
                policy.check(sender, slot, None, current(slot).as_ref(), &read, now_ms)?;
                accepted.cleared.push(slot.clone());
                accepted.has_new_deletes = true;
                clock = end;
            }
        }
    }
    Ok(accepted)
}

/// The run holding `clock`: where it ends, and its slot.
fn span(
    clients: &HashMap<u64, BTreeMap<u32, (u32, Slot)>>,
    client: u64,
    clock: u32,
) -> Option<(u32, &Slot)> {
    let (_, (end, slot)) = clients.get(&client)?.range(..=clock).next_back()?;
    (clock < *end).then_some((*end, slot))
}

/// The rules of a room document.
pub struct RoomPolicy;

impl Policy for RoomPolicy {
    fn check(
        &self,
        sender: UserId,
        slot: &Slot,
        value: Option<&Any>,
        current: Option<&Any>,
        lookup: Lookup<'_>,
        now_ms: i64,
    ) -> Result<(), Violation> {
        match slot.root {
            Root::Posts => {
                let id = PostId::parse(&slot.key).ok_or(Violation::BadValue("post id"))?;
                if let Some(current) = current {
                    let author = field(current, "author").and_then(any_user_id);
                    if author != Some(sender) {
                        return Err(Violation::NotYourPost);
                    }
                }
                if let Some(value) = value {
                    let post = post_from_any(id, value).ok_or(Violation::BadValue("post"))?;
                    if post.author != sender {
                        return Err(Violation::ForgedAuthor);
                    }
                    if post.text.chars().count() > MAX_TEXT_CHARS {
                        return Err(Violation::TextTooLong);
                    }
                    let latest = now_ms.saturating_add(MAX_CLOCK_AHEAD_MS);
                    if post.created_at > latest || post.edited_at.is_some_and(|t| t > latest) {
                        return Err(Violation::DatedInFuture);
                    }
                }
                Ok(())
            }
            Root::Reactions => {
                let (_, user) =
                    schema::parse_reaction_key(&slot.key).ok_or(Violation::BadValue("key"))?;
                if user != sender {
                    return Err(Violation::NotYourKey);
                }
                match value {
                    None => Ok(()),
                    Some(v) => any_str(v)
                        .and_then(crate::room::Reaction::parse)
                        .map(|_| ())
                        .ok_or(Violation::BadValue("reaction")),
                }
            }
            Root::Read => {
                if slot.key.parse::<UserId>().ok() != Some(sender) {
                    return Err(Violation::NotYourKey);
                }
                match value {
                    None => Ok(()),
                    Some(v) => {
                        let post = field(v, "post").and_then(any_str).and_then(PostId::parse);
                        let at = field(v, "at").and_then(any_i64);
                        match (post, at) {
                            (Some(_), Some(_)) => Ok(()),
                            _ => Err(Violation::BadValue("read marker")),
                        }
                    }
                }
            }
            Root::Acks => {
                let (post, user) =
                    schema::parse_reaction_key(&slot.key).ok_or(Violation::BadValue("key"))?;
                if user != sender {
                    return Err(Violation::NotYourKey);
                }
                let Some(value) = value else {
                    return Ok(()); // taking one's own acknowledgement back
                };
                let at = crate::ack::ack_at(value).ok_or(Violation::BadValue("ack"))?;
                if at > now_ms.saturating_add(MAX_CLOCK_AHEAD_MS) {
                    return Err(Violation::DatedInFuture);
                }
                // Only a post that asks the sender, as the server holds it now.
                let asked = lookup(Root::Posts, post.as_str())
                    .and_then(|v| post_from_any(post.clone(), &v))
                    .filter(|p| !p.deleted)
                    .is_some_and(|p| p.ack.as_ref().is_some_and(|r| r.asks(sender, p.author)));
                if !asked {
                    return Err(Violation::NotAsked);
                }
                Ok(())
            }
            Root::Pins => {
                PostId::parse(&slot.key).ok_or(Violation::BadValue("post id"))?;
                match value {
                    None => Ok(()),
                    Some(v) => {
                        if field(v, "by").and_then(any_user_id) != Some(sender) {
                            return Err(Violation::NotYourKey);
                        }
                        field(v, "at")
                            .and_then(any_i64)
                            .map(|_| ())
                            .ok_or(Violation::BadValue("pin"))
                    }
                }
            }
        }
    }
}

/// The rules of a user's personal document: only its owner connects to it, and it holds
/// pinned rooms and read positions keyed by room id.
pub struct PersonalPolicy;

impl Policy for PersonalPolicy {
    fn check(
        &self,
        _sender: UserId,
        slot: &Slot,
        value: Option<&Any>,
        _current: Option<&Any>,
        _lookup: Lookup<'_>,
        _now_ms: i64,
    ) -> Result<(), Violation> {
        if !matches!(slot.root, Root::Pins | Root::Read) {
            return Err(Violation::OutsideSchema);
        }
        slot.key
            .parse::<RoomId>()
            .map_err(|_| Violation::BadValue("room id"))?;
        match value {
            None => Ok(()),
            Some(v) => field(v, "at")
                .and_then(any_i64)
                .map(|_| ())
                .ok_or(Violation::BadValue("personal entry")),
        }
    }
}
