//! `RoomDoc`: the typed API over one room's yrs document. Mutators return the v1 update they
//! produced, which is exactly what a client sends to the server (and keeps in its outbox).

use crate::ack::{self, Ack, AckRequest, AckStatus};
use crate::error::{Error, Result};
use crate::ids::{PostId, UserId};
use crate::schema::{self, any_i64, any_str, any_user_id, field, Root};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use yrs::types::EntryChange;
use yrs::updates::decoder::Decode;
use yrs::{Any, ClientID, Doc, Map, MapRef, Observable, Options, Out, ReadTxn, Transact, Update};

/// The reaction buttons. The wire names are part of the stored format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// いいね
    Like,
    /// 了解 — "I read it", the button the service was built around.
    Ack,
    /// 確認しました
    Checked,
}

impl Reaction {
    pub const ALL: [Reaction; 3] = [Reaction::Like, Reaction::Ack, Reaction::Checked];

    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Like => "like",
            Reaction::Ack => "ack",
            Reaction::Checked => "checked",
        }
    }

    pub fn parse(s: &str) -> Option<Reaction> {
        Reaction::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A post as readers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub id: PostId,
    pub author: UserId,
    pub created_at: i64,
    pub text: String,
    pub parent: Option<PostId>,
    pub attachments: Vec<String>,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// Who is asked to acknowledge the post, and by when (要確認).
    #[serde(default)]
    pub ack: Option<AckRequest>,
    /// 至急: shown apart and kept on top until the people asked have acknowledged it.
    #[serde(default)]
    pub urgent: bool,
}

/// A thread root with its replies (oldest first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub root: Post,
    pub replies: Vec<Post>,
    /// The newest `created_at` or `edited_at` in the thread.
    pub last_activity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub kind: Reaction,
    pub count: usize,
    /// Who pressed it, in user id order.
    pub users: Vec<UserId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedPost {
    pub post: PostId,
    pub by: UserId,
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    pub user: UserId,
    pub post: PostId,
    pub at: i64,
}

/// One room's conversation.
pub struct RoomDoc {
    doc: Doc,
    posts: MapRef,
    reactions: MapRef,
    pins: MapRef,
    read: MapRef,
    acks: MapRef,
}

impl RoomDoc {
    /// A document whose local edits carry `client_id` (53 bits at most, as in Yjs).
    pub fn new(client_id: u64) -> Self {
        Self::with_options(Options {
            client_id: ClientID::new(client_id & ((1 << 53) - 1)),
            ..Options::default()
        })
    }

    /// The server's replica: it never garbage-collects deleted items, so every item keeps the
    /// map key it was written under, which the validator needs to attribute later updates.
    pub fn server_replica() -> Self {
        Self::with_options(Options {
            client_id: ClientID::new(1),
            skip_gc: true,
            ..Options::default()
        })
    }

    fn with_options(options: Options) -> Self {
        let doc = Doc::with_options(options);
        let [posts, reactions, pins, read, acks] =
            Root::ALL.map(|r| doc.get_or_insert_map(r.name()));
        Self {
            doc,
            posts,
            reactions,
            pins,
            read,
            acks,
        }
    }

    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    /// Applies a v1 update (from the server or the log).
    pub fn apply_update(&self, update: &[u8]) -> Result<()> {
        let update = Update::decode_v1(update).map_err(|e| Error::Malformed(e.to_string()))?;
        self.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|e| Error::Malformed(e.to_string()))
    }

    /// Applies another device's v1 update and returns the posts it created: new to this
    /// replica, valid and not deleted, in id order. These are what a room list hears of
    /// (the server's rule for `RoomActivity`); an edit, a reaction or a post this replica
    /// already had is not among them.
    pub fn apply_remote(&self, update: &[u8]) -> Result<Vec<Post>> {
        // Registered for this one transaction only: a device's own writes and the state an
        // opening brings are not news.
        const OBSERVER: &str = "renraku:created-posts";
        let created: Arc<Mutex<Vec<Arc<str>>>> = Arc::default();
        let seen = Arc::clone(&created);
        self.posts.observe(OBSERVER, move |txn, event| {
            let inserted = event
                .keys(txn)
                .iter()
                .filter(|(_, change)| matches!(change, EntryChange::Inserted(_)))
                .map(|(key, _)| Arc::clone(key));
            seen.lock().expect("observer lock").extend(inserted);
        });
        let applied = self.apply_update(update);
        self.posts.unobserve(OBSERVER);
        applied?;
        let keys = std::mem::take(&mut *created.lock().expect("observer lock"));
        let mut posts: Vec<Post> = keys
            .iter()
            .filter_map(|key| self.post(&PostId::parse(key)?))
            .filter(|post| !post.deleted)
            .collect();
        posts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(posts)
    }

    /// Whether the post `id` is new and standing: written, neither edited nor deleted since.
    /// Right after a device wrote it, this tells a new post from an edit of one.
    pub fn is_fresh_post(&self, id: &PostId) -> bool {
        self.post(id)
            .is_some_and(|post| !post.deleted && post.edited_at.is_none())
    }

    /// The whole document as one v1 update.
    pub fn encode_state(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default())
    }

    pub fn state_vector(&self) -> yrs::StateVector {
        self.doc.transact().state_vector()
    }

    /// Everything `remote` (a v1-encoded state vector) lacks.
    pub fn encode_diff(&self, remote: &yrs::StateVector) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(remote)
    }

    fn write(&self, root: &MapRef, key: &str, value: Any) -> Vec<u8> {
        let mut txn = self.doc.transact_mut();
        root.insert(&mut txn, key, value);
        txn.encode_update_v1()
    }

    fn remove(&self, root: &MapRef, key: &str) -> Vec<u8> {
        let mut txn = self.doc.transact_mut();
        root.remove(&mut txn, key);
        txn.encode_update_v1()
    }

    /// Starts a new thread.
    pub fn start_thread(&self, author: UserId, id: PostId, text: &str, now_ms: i64) -> Vec<u8> {
        self.start_thread_with(author, id, text, vec![], now_ms)
    }

    /// Starts a new thread naming attachments (their ids; the files may still be on their
    /// way to the server).
    pub fn start_thread_with(
        &self,
        author: UserId,
        id: PostId,
        text: &str,
        attachments: Vec<String>,
        now_ms: i64,
    ) -> Vec<u8> {
        self.start_thread_asking(author, id, text, attachments, None, false, now_ms)
    }

    /// Starts a new thread that may ask members to acknowledge it (`ack`) and may be urgent.
    #[allow(clippy::too_many_arguments)]
    pub fn start_thread_asking(
        &self,
        author: UserId,
        id: PostId,
        text: &str,
        attachments: Vec<String>,
        ack: Option<AckRequest>,
        urgent: bool,
        now_ms: i64,
    ) -> Vec<u8> {
        let post = Post {
            id,
            author,
            created_at: now_ms,
            text: text.to_owned(),
            parent: None,
            attachments,
            edited_at: None,
            deleted: false,
            ack,
            urgent,
        };
        self.write(&self.posts, post.id.as_str(), post_to_any(&post))
    }

    /// Replies to a thread (a reply to a reply is attached to its thread's root).
    pub fn reply(
        &self,
        author: UserId,
        id: PostId,
        parent: &PostId,
        text: &str,
        now_ms: i64,
    ) -> Result<Vec<u8>> {
        self.reply_with(author, id, parent, text, vec![], now_ms)
    }

    /// [`RoomDoc::reply`] naming attachments.
    pub fn reply_with(
        &self,
        author: UserId,
        id: PostId,
        parent: &PostId,
        text: &str,
        attachments: Vec<String>,
        now_ms: i64,
    ) -> Result<Vec<u8>> {
        let parent = self.post(parent).ok_or(Error::NoSuchPost)?;
        let root = parent.parent.unwrap_or(parent.id);
        let post = Post {
            id,
            author,
            created_at: now_ms,
            text: text.to_owned(),
            parent: Some(root),
            attachments,
            edited_at: None,
            deleted: false,
            ack: None,
            urgent: false,
        };
        Ok(self.write(&self.posts, post.id.as_str(), post_to_any(&post)))
    }

    fn own_post(&self, author: UserId, id: &PostId) -> Result<Post> {
        let post = self.post(id).ok_or(Error::NoSuchPost)?;
        if post.author != author {
            return Err(Error::NotYours);
        }
        if post.deleted {
            return Err(Error::NoSuchPost);
        }
        Ok(post)
    }

    /// Replaces the text of one's own post.
    pub fn edit(&self, author: UserId, id: &PostId, text: &str, now_ms: i64) -> Result<Vec<u8>> {
        let mut post = self.own_post(author, id)?;
        post.text = text.to_owned();
        post.edited_at = Some(now_ms);
        Ok(self.write(&self.posts, id.as_str(), post_to_any(&post)))
    }

    /// Deletes one's own post: it stays as a tombstone so replies keep their thread.
    pub fn delete(&self, author: UserId, id: &PostId, now_ms: i64) -> Result<Vec<u8>> {
        let mut post = self.own_post(author, id)?;
        post.text.clear();
        post.attachments.clear();
        post.deleted = true;
        // A deleted post asks nothing of anyone any more.
        post.ack = None;
        post.urgent = false;
        post.edited_at = Some(now_ms);
        Ok(self.write(&self.posts, id.as_str(), post_to_any(&post)))
    }

    /// Sets (or changes) `user`'s reaction to a post.
    pub fn react(&self, user: UserId, post: &PostId, kind: Reaction) -> Vec<u8> {
        let key = schema::reaction_key(post, user);
        self.write(&self.reactions, &key, Any::from(kind.as_str()))
    }

    pub fn unreact(&self, user: UserId, post: &PostId) -> Vec<u8> {
        self.remove(&self.reactions, &schema::reaction_key(post, user))
    }

    /// Pins a post for the whole team.
    pub fn pin(&self, user: UserId, post: &PostId, now_ms: i64) -> Vec<u8> {
        let value = Any::from(HashMap::from([
            ("by".to_owned(), Any::from(user.to_string())),
            ("at".to_owned(), Any::from(now_ms)),
        ]));
        self.write(&self.pins, post.as_str(), value)
    }

    pub fn unpin(&self, post: &PostId) -> Vec<u8> {
        self.remove(&self.pins, post.as_str())
    }

    /// Records that `user` has read everything up to `post` (post ids sort by time).
    pub fn mark_read(&self, user: UserId, post: &PostId, now_ms: i64) -> Vec<u8> {
        let value = Any::from(HashMap::from([
            ("post".to_owned(), Any::from(post.as_str())),
            ("at".to_owned(), Any::from(now_ms)),
        ]));
        self.write(&self.read, &user.to_string(), value)
    }

    /// Records that `user` acknowledges `post` (確認しました).
    pub fn acknowledge(&self, user: UserId, post: &PostId, now_ms: i64) -> Vec<u8> {
        let key = schema::ack_key(post, user);
        self.write(&self.acks, &key, ack::ack_to_any(now_ms))
    }

    // ---- readers ----

    /// Who has acknowledged `post`, oldest first (anyone's, asked or not).
    pub fn acks(&self, post: &PostId) -> Vec<Ack> {
        let txn = self.doc.transact();
        let mut acks: Vec<Ack> = self
            .acks
            .iter(&txn)
            .filter_map(|(key, value)| {
                let (p, user) = schema::parse_reaction_key(key)?;
                let Out::Any(v) = value else { return None };
                (&p == post).then_some(Ack {
                    user,
                    at: ack::ack_at(&v)?,
                })
            })
            .collect();
        acks.sort_by_key(|a| (a.at, a.user));
        acks
    }

    /// The standing of `post`'s request, if it makes one; `members` are the room's members
    /// (who a whole-team request asks).
    pub fn ack_status(
        &self,
        post: &PostId,
        members: impl IntoIterator<Item = UserId>,
    ) -> Option<AckStatus> {
        let p = self.post(post)?;
        let request = p.ack.clone()?;
        let asked = request.recipients(p.author, members);
        let acked: Vec<Ack> = self
            .acks(post)
            .into_iter()
            .filter(|a| request.asks(a.user, p.author))
            .collect();
        let missing = asked
            .into_iter()
            .filter(|u| !acked.iter().any(|a| a.user == *u))
            .collect();
        Some(AckStatus {
            post: post.clone(),
            request,
            acked,
            missing,
        })
    }

    pub fn post(&self, id: &PostId) -> Option<Post> {
        let txn = self.doc.transact();
        match self.posts.get(&txn, id.as_str())? {
            Out::Any(v) => post_from_any(id.clone(), &v),
            _ => None,
        }
    }

    /// All posts, valid ones only, in id (creation) order.
    pub fn posts(&self) -> Vec<Post> {
        let txn = self.doc.transact();
        let mut posts: Vec<Post> = self
            .posts
            .iter(&txn)
            .filter_map(|(k, v)| match v {
                Out::Any(v) => post_from_any(PostId::parse(k)?, &v),
                _ => None,
            })
            .collect();
        posts.sort_by(|a, b| a.id.cmp(&b.id));
        posts
    }

    /// Threads, the most recently active first; replies oldest first. Replies whose thread
    /// root is unknown are dropped from this view (they cannot be shown in context).
    pub fn threads(&self) -> Vec<Thread> {
        let mut roots: BTreeMap<PostId, Thread> = BTreeMap::new();
        let mut replies = Vec::new();
        for post in self.posts() {
            match &post.parent {
                None => {
                    let last = post.edited_at.unwrap_or(0).max(post.created_at);
                    roots.insert(
                        post.id.clone(),
                        Thread {
                            root: post,
                            replies: vec![],
                            last_activity: last,
                        },
                    );
                }
                Some(_) => replies.push(post),
            }
        }
        for reply in replies {
            let parent = reply.parent.clone().expect("replies have parents");
            if let Some(thread) = roots.get_mut(&parent) {
                let at = reply.edited_at.unwrap_or(0).max(reply.created_at);
                thread.last_activity = thread.last_activity.max(at);
                thread.replies.push(reply);
            }
        }
        let mut threads: Vec<Thread> = roots.into_values().collect();
        threads.sort_by(|a, b| {
            b.last_activity
                .cmp(&a.last_activity)
                .then_with(|| b.root.id.cmp(&a.root.id))
        });
        threads
    }

    /// Reaction counts of one post, with who pressed each.
    pub fn reactions(&self, post: &PostId) -> Vec<ReactionCount> {
        let txn = self.doc.transact();
        let mut by_kind: BTreeMap<Reaction, Vec<UserId>> = BTreeMap::new();
        for (key, value) in self.reactions.iter(&txn) {
            let Some((p, user)) = schema::parse_reaction_key(key) else {
                continue;
            };
            if &p != post {
                continue;
            }
            if let Out::Any(Any::String(kind)) = value {
                if let Some(kind) = Reaction::parse(&kind) {
                    by_kind.entry(kind).or_default().push(user);
                }
            }
        }
        by_kind
            .into_iter()
            .map(|(kind, mut users)| {
                users.sort();
                ReactionCount {
                    kind,
                    count: users.len(),
                    users,
                }
            })
            .collect()
    }

    /// Posts pinned for the team, the most recent pin first.
    pub fn pins(&self) -> Vec<PinnedPost> {
        let txn = self.doc.transact();
        let mut pins: Vec<PinnedPost> = self
            .pins
            .iter(&txn)
            .filter_map(|(k, v)| {
                let Out::Any(v) = v else { return None };
                Some(PinnedPost {
                    post: PostId::parse(k)?,
                    by: any_user_id(field(&v, "by")?)?,
                    at: any_i64(field(&v, "at")?)?,
                })
            })
            .collect();
        pins.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.post.cmp(&b.post)));
        pins
    }

    pub fn read_markers(&self) -> Vec<ReadMarker> {
        let txn = self.doc.transact();
        let mut markers: Vec<ReadMarker> = self
            .read
            .iter(&txn)
            .filter_map(|(k, v)| {
                let Out::Any(v) = v else { return None };
                Some(ReadMarker {
                    user: k.parse().ok()?,
                    post: PostId::parse(any_str(field(&v, "post")?)?)?,
                    at: any_i64(field(&v, "at")?)?,
                })
            })
            .collect();
        markers.sort_by_key(|m| m.user);
        markers
    }

    /// Who has read `post`: everyone whose read marker is at or past it.
    pub fn readers_of(&self, post: &PostId) -> Vec<UserId> {
        self.read_markers()
            .into_iter()
            .filter(|m| &m.post >= post)
            .map(|m| m.user)
            .collect()
    }
}

pub(crate) fn post_to_any(post: &Post) -> Any {
    let opt_i64 = |v: Option<i64>| v.map(Any::from).unwrap_or(Any::Null);
    let mut fields = HashMap::from([
        ("author".to_owned(), Any::from(post.author.to_string())),
        ("created_at".to_owned(), Any::from(post.created_at)),
        ("text".to_owned(), Any::from(post.text.as_str())),
        (
            "parent".to_owned(),
            post.parent
                .as_ref()
                .map(|p| Any::from(p.as_str()))
                .unwrap_or(Any::Null),
        ),
        (
            "attachments".to_owned(),
            Any::from(
                post.attachments
                    .iter()
                    .map(|a| Any::from(a.as_str()))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("edited_at".to_owned(), opt_i64(post.edited_at)),
        ("deleted".to_owned(), Any::from(post.deleted)),
    ]);
    // Only posts that use them carry the fields: every other post stays as it always was.
    if let Some(request) = &post.ack {
        fields.insert("ack".to_owned(), ack::request_to_any(request));
    }
    if post.urgent {
        fields.insert("urgent".to_owned(), Any::from(true));
    }
    Any::from(fields)
}

/// Reads a post value; `None` when it does not follow the schema (such values are refused by
/// the server, but a reader stays total).
pub(crate) fn post_from_any(id: PostId, value: &Any) -> Option<Post> {
    let opt_i64 = |name| match field(value, name) {
        None | Some(Any::Null) | Some(Any::Undefined) => Some(None),
        Some(v) => any_i64(v).map(Some),
    };
    let parent = match field(value, "parent") {
        None | Some(Any::Null) | Some(Any::Undefined) => None,
        Some(v) => Some(PostId::parse(any_str(v)?)?),
    };
    let attachments = match field(value, "attachments") {
        None | Some(Any::Null) | Some(Any::Undefined) => vec![],
        Some(Any::Array(items)) => items
            .iter()
            .map(|a| any_str(a).map(str::to_owned))
            .collect::<Option<Vec<_>>>()?,
        Some(_) => return None,
    };
    Some(Post {
        id,
        author: any_user_id(field(value, "author")?)?,
        created_at: any_i64(field(value, "created_at")?)?,
        text: any_str(field(value, "text")?)?.to_owned(),
        parent,
        attachments,
        edited_at: opt_i64("edited_at")?,
        deleted: matches!(field(value, "deleted"), Some(Any::Bool(true))),
        ack: ack::request_from_any(field(value, "ack"))?,
        urgent: match field(value, "urgent") {
            None | Some(Any::Null) | Some(Any::Undefined) => false,
            Some(Any::Bool(b)) => *b,
            Some(_) => return None,
        },
    })
}
