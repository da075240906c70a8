//! A structural reading of a v1 update: which items it inserts, where, with what content, and
//! what it deletes. yrs decodes updates only into private types, so we walk the same format
//! with yrs' own public decoder primitives; `Update::decode_v1` still decodes the bytes before
//! they are applied, and anything this reader does not understand is refused.

use crate::error::{Error, Result};
use std::sync::Arc;
use yrs::block::{
    ItemContent, BLOCK_GC_REF_NUMBER, BLOCK_ITEM_ANY_REF_NUMBER, BLOCK_ITEM_DELETED_REF_NUMBER,
    BLOCK_SKIP_REF_NUMBER, HAS_ORIGIN, HAS_PARENT_SUB, HAS_RIGHT_ORIGIN,
};
use yrs::encoding::read::Read;
use yrs::updates::decoder::{Decoder, DecoderV1};
use yrs::{Any, ClientID, IdSet, ID};

/// Where an item says it belongs.
#[derive(Clone, Debug, PartialEq)]
pub enum Parent {
    /// Written out: a root type by name, with the map key if any.
    Root {
        name: Arc<str>,
        key: Option<Arc<str>>,
    },
    /// Written out: a nested shared type (our schema has none).
    Nested(ID),
    /// Not written: the same as the item's origin's (or right origin's) parent.
    FromOrigin,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// Plain values; a map entry holds exactly one.
    Any(Vec<Any>),
    /// A tombstone of `len` deleted items.
    Deleted,
    /// Any other content type (its lib0 reference number): not part of our schema.
    Other(u8),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ItemBlock {
    pub origin: Option<ID>,
    pub right_origin: Option<ID>,
    pub parent: Parent,
    pub content: Content,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BlockKind {
    Item(ItemBlock),
    Gc,
    Skip,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub client: u64,
    pub clock: u32,
    pub len: u32,
    pub kind: BlockKind,
}

/// One decoded update.
#[derive(Debug)]
pub struct ParsedUpdate {
    pub blocks: Vec<Block>,
    pub deletes: IdSet,
}

impl ParsedUpdate {
    /// Reads a v1 update. Refuses trailing bytes, empty blocks and absurd counts before
    /// allocating for them.
    pub fn parse(bytes: &[u8]) -> Result<ParsedUpdate> {
        let mut d = DecoderV1::from(bytes);
        let malformed = |e: yrs::encoding::read::Error| Error::Malformed(e.to_string());
        let clients: u32 = d.read_var().map_err(malformed)?;
        // Every block takes at least one byte: a count beyond the input is a lie.
        if clients as usize > bytes.len() {
            return Err(Error::Malformed("client count exceeds input".into()));
        }
        let mut blocks = Vec::new();
        for _ in 0..clients {
            let count: u32 = d.read_var().map_err(malformed)?;
            if count as usize > bytes.len() {
                return Err(Error::Malformed("block count exceeds input".into()));
            }
            let client = d.read_client().map_err(malformed)?.get();
            let mut clock: u32 = d.read_var().map_err(malformed)?;
            for _ in 0..count {
                let block = read_block(&mut d, client, clock)?;
                clock = clock
                    .checked_add(block.len)
                    .ok_or_else(|| Error::Malformed("clock overflow".into()))?;
                blocks.push(block);
            }
        }
        let deletes = read_delete_set(&mut d)?;
        if !d.read_to_end().map_err(malformed)?.is_empty() {
            return Err(Error::Malformed("trailing bytes after update".into()));
        }
        Ok(ParsedUpdate { blocks, deletes })
    }

    /// Client ids that insert something.
    pub fn writers(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.blocks.iter().map(|b| b.client).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

fn read_block(d: &mut DecoderV1, client: u64, clock: u32) -> Result<Block> {
    let malformed = |e: yrs::encoding::read::Error| Error::Malformed(e.to_string());
    let info = d.read_info().map_err(malformed)?;
    let (len, kind) = match info {
        BLOCK_SKIP_REF_NUMBER => (d.read_var().map_err(malformed)?, BlockKind::Skip),
        BLOCK_GC_REF_NUMBER => (d.read_len().map_err(malformed)?, BlockKind::Gc),
        info => {
            let origin = if info & HAS_ORIGIN != 0 {
                Some(d.read_left_id().map_err(malformed)?)
            } else {
                None
            };
            let right_origin = if info & HAS_RIGHT_ORIGIN != 0 {
                Some(d.read_right_id().map_err(malformed)?)
            } else {
                None
            };
            let parent = if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
                let named = d.read_parent_info().map_err(malformed)?;
                let parent_id = if named {
                    None
                } else {
                    Some(d.read_left_id().map_err(malformed)?)
                };
                let name: Option<Arc<str>> = if named {
                    Some(d.read_string().map_err(malformed)?.into())
                } else {
                    None
                };
                let key: Option<Arc<str>> = if info & HAS_PARENT_SUB != 0 {
                    Some(d.read_string().map_err(malformed)?.into())
                } else {
                    None
                };
                match (name, parent_id) {
                    (Some(name), _) => Parent::Root { name, key },
                    (None, Some(id)) => Parent::Nested(id),
                    (None, None) => unreachable!("a parent is either named or an id"),
                }
            } else {
                Parent::FromOrigin
            };
            let content = ItemContent::decode(d, info).map_err(malformed)?;
            let (len, content) = match info & 0b1111 {
                BLOCK_ITEM_ANY_REF_NUMBER => match content {
                    ItemContent::Any(values) => (values.len() as u32, Content::Any(values)),
                    _ => unreachable!("decoded by its reference number"),
                },
                BLOCK_ITEM_DELETED_REF_NUMBER => match content {
                    ItemContent::Deleted(n) => (n, Content::Deleted),
                    _ => unreachable!("decoded by its reference number"),
                },
                other => (content.len_utf16(), Content::Other(other)),
            };
            (
                len,
                BlockKind::Item(ItemBlock {
                    origin,
                    right_origin,
                    parent,
                    content,
                }),
            )
        }
    };
    if len == 0 {
        return Err(Error::Malformed("empty block".into()));
    }
    Ok(Block {
        client,
        clock,
        len,
        kind,
    })
}

/// The delete set at the end of an update. Read here rather than with yrs' `IdSet::decode`,
/// which adds `clock + len` and takes the client id unchecked: with overflow checks on
/// (debug builds, the fuzzers) a forged range or a client id over 53 bits panics inside yrs.
fn read_delete_set(d: &mut DecoderV1) -> Result<IdSet> {
    let malformed = |e: yrs::encoding::read::Error| Error::Malformed(e.to_string());
    let mut set = IdSet::new();
    let clients: u32 = d.read_var().map_err(malformed)?;
    for _ in 0..clients {
        let client: u64 = d.read_var().map_err(malformed)?;
        if client >> 53 != 0 {
            return Err(Error::Malformed("client id over 53 bits".into()));
        }
        let ranges: u32 = d.read_var().map_err(malformed)?;
        for _ in 0..ranges {
            let clock = d.read_ds_clock().map_err(malformed)?;
            let len = d.read_ds_len().map_err(malformed)?;
            if clock.checked_add(len).is_none() {
                return Err(Error::Malformed("delete range overflows".into()));
            }
            set.insert(ID::new(ClientID::new(client), clock), len);
        }
    }
    Ok(set)
}
