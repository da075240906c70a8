//! The `/ws` wire format: one binary WebSocket message is one postcard-encoded `Frame`.
//! Many documents share one socket; each frame names its document. The y-protocols message
//! inside `Sync` is encoded by yrs' `sync` module, byte for byte what y-websocket sends.

use crate::error::{Error, Result};
use crate::ids::{MunicipalityId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Version of the frame format; the server refuses clients that speak another.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame the server accepts from a client, checked before decoding.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Largest frame a client accepts from the server: the first sync of a large room is one
/// frame (a 10,000-post room is about 2 MB), and clients trust their server's size.
pub const MAX_SERVER_FRAME_BYTES: usize = 256 * 1024 * 1024;

/// A synchronised document: a room's conversation, or a user's personal state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DocId {
    // Do not reorder: the variant index is the wire format.
    Room(RoomId),
    Personal(UserId),
}

impl DocId {
    /// The key under which the document's log and snapshot are stored.
    pub fn storage_key(self) -> String {
        match self {
            DocId::Room(r) => format!("room/{r}"),
            DocId::Personal(u) => format!("user/{u}"),
        }
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.storage_key())
    }
}

/// One message on `/ws`, in either direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    // Do not reorder or remove variants: the variant index is the wire format. Append only.
    /// Client → server, first frame: the protocol version spoken.
    Hello { version: u32 },
    /// Client → server: start syncing a document. The server answers with its sync step 1
    /// and, to the client's step 1, step 2.
    Open { doc: DocId },
    /// Client → server: stop syncing a document.
    Close { doc: DocId },
    /// Either way: a y-protocols message (sync step 1 / step 2 / update, or awareness).
    /// A client sets `ack` on a message carrying an update it keeps in its outbox; the server
    /// answers `Saved` with the same number once the update is durably stored.
    Sync {
        doc: DocId,
        ack: Option<u64>,
        #[serde(with = "serde_bytes")]
        message: Vec<u8>,
    },
    /// Server → client: the update sent with `ack` is committed to storage (or was already).
    Saved { doc: DocId, ack: u64 },
    /// Server → client: the sender may not open or write this document. `reason` is for
    /// people, except the [`denied`] reasons about membership, which tell a device to forget
    /// what it keeps of the room.
    Denied { doc: DocId, reason: String },
    /// Server → client: the update was refused whole; nothing of it was stored or forwarded.
    Invalid {
        doc: DocId,
        ack: Option<u64>,
        reason: String,
    },
    /// Server → client: the frame exceeded `limit` bytes and was not read.
    TooLarge { limit: u64 },
    /// Server → client: a frame that could not be decoded at all.
    Malformed { reason: String },
    /// Server → client: a new post was stored in a room the user is a member of. Sent, once
    /// the group commit that stored it is done, to every `/ws` socket of every member that
    /// has not opened the room (not for edits, deletions, reactions), so that a room list
    /// follows without asking; a socket that has it open reads the same news from the
    /// update itself (`ClientSession` does). `at` is the post's time (unix ms), `text` its first line as
    /// [`preview`] shortens it (empty for a post of attachments only).
    RoomActivity {
        room: RoomId,
        author: UserId,
        at: i64,
        text: String,
    },
    /// Server → client: a safety mark (安否確認) was stored on an entry of `municipality`'s
    /// register that the recipient sees. `mark` is the API's JSON of it
    /// (`renraku_contract::SafetyMark`): this crate does not know the register's types.
    RegisterMarked {
        municipality: MunicipalityId,
        mark: String,
    },
    /// Server → client: `municipality`'s register changed otherwise (災害モード declared or
    /// ended, a partner granted or withdrawn, entries created, edited, retired or imported,
    /// the legend): a register screen reloads.
    RegisterChanged { municipality: MunicipalityId },
}

/// Characters of a post's first line a room list shows ([`preview`]).
pub const PREVIEW_CHARS: usize = 60;

/// A post's text as a room list shows it: its first line that is not blank, trimmed, at most
/// [`PREVIEW_CHARS`] characters (cut with "…"). Empty for an empty text.
pub fn preview(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= PREVIEW_CHARS {
        line.to_owned()
    } else {
        let mut cut: String = line.chars().take(PREVIEW_CHARS - 1).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        cut
    }
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("frames always serialise")
    }

    /// Decodes a frame from a client, refusing oversized input before looking at it.
    pub fn decode(bytes: &[u8]) -> Result<Frame> {
        Self::decode_with_limit(bytes, MAX_FRAME_BYTES)
    }

    /// Decodes a frame from the server (see `MAX_SERVER_FRAME_BYTES`).
    pub fn decode_from_server(bytes: &[u8]) -> Result<Frame> {
        Self::decode_with_limit(bytes, MAX_SERVER_FRAME_BYTES)
    }

    fn decode_with_limit(bytes: &[u8], limit: usize) -> Result<Frame> {
        if bytes.len() > limit {
            return Err(Error::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        postcard::from_bytes(bytes).map_err(|e| Error::Malformed(e.to_string()))
    }
}

/// `Frame::Denied` reasons a client acts on (the others are passing: retry later).
pub mod denied {
    /// The user is not (or no longer) a member of the room.
    pub const NOT_A_MEMBER: &str = "not a member of this room";
    /// The user was removed from the room while it was open.
    pub const REMOVED: &str = "removed from the room";

    /// Whether the refusal is about membership, not a passing condition: the device should
    /// no longer keep the room's data.
    pub fn is_membership(reason: &str) -> bool {
        reason == NOT_A_MEMBER || reason == REMOVED
    }
}
