//! Room activity for room lists: after a group commit stored new posts, every member of
//! their rooms hears of each one on every `/ws` socket they have open on this node
//! (`Frame::RoomActivity`: room, author, time, first line), so that a home screen's unread
//! badges, newest lines and order follow without a reload; other nodes tell their own
//! sockets (`cluster::Order::Tell`). A socket that has the room open is not told: the
//! update reached it, and its client reads the news from that (`renraku_sync::client`).
//! Members are read at the time of sending, so only those who may read the room are told
//! (tenancy); `/yjs/{room}` sockets speak no frames and are not told.

use super::registry::HubInner;
use crate::db::posts::NewPost;
use renraku_sync::{Frame, RoomId};
use std::sync::Weak;
use tokio::sync::mpsc;

/// Commits whose new posts wait to be told before the writer stops queuing them.
pub(super) const QUEUE: usize = 1024;

/// Tells members of new posts, batch by batch, until the writer (and so the hub) is gone.
pub(super) async fn fan_out(hub: Weak<HubInner>, mut rx: mpsc::Receiver<Vec<NewPost>>) {
    while let Some(posts) = rx.recv().await {
        let Some(hub) = hub.upgrade() else {
            return;
        };
        // Nobody to tell (no `/ws` socket here, and no other node): nothing to read.
        if !hub.live.anyone_hears_news() && !hub.clustered() {
            continue;
        }
        let mut rooms: Vec<RoomId> = posts.iter().map(|p| p.room).collect();
        rooms.sort();
        rooms.dedup();
        let members = match hub.db.member_ids(&rooms).await {
            Ok(members) => members,
            Err(e) => {
                tracing::warn!(error = %e, "room activity not sent: reading members failed");
                continue;
            }
        };
        for new in &posts {
            let Some(users) = members.get(&new.room) else {
                continue;
            };
            let frame = Frame::RoomActivity {
                room: new.room,
                author: new.post.author,
                at: new.post.created_at,
                text: renraku_sync::frame::preview(&new.post.text),
            };
            hub.tell_encoded(users.clone(), Some(new.room), frame.encode());
        }
    }
}
