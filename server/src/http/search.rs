//! Search (issue 18): the posts of the rooms the user is a member of now, never a room they
//! left or never joined. What matches is `renraku_sync::search`'s rule; the database part is
//! `db/search.rs`. Every search is audited with the query's length, never its text (it may
//! hold a patient's name).

use super::ApiQuery;
use crate::auth::CurrentUser;
use crate::db::audit::AuditEntry;
use crate::db::search::PostSearch;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use renraku_contract::SearchResults;
use renraku_sync::search::{terms, MAX_QUERY_CHARS};
use renraku_sync::{RoomId, UserId};
use serde::Deserialize;

/// Results per answer unless fewer are asked for.
const DEFAULT_LIMIT: usize = 30;
const MAX_LIMIT: usize = 100;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find, separated by spaces; every one must occur. Full-width and half-width
    /// forms match each other; two characters are enough (発熱).
    pub q: String,
    /// Only this room.
    pub room: Option<i64>,
    /// Only posts by this user.
    pub author: Option<i64>,
    /// Only my own posts.
    #[serde(default)]
    pub mine: bool,
    /// Written at or after (unix ms).
    pub from: Option<i64>,
    /// Written at or before (unix ms).
    pub to: Option<i64>,
    /// Only posts with attachments.
    #[serde(default)]
    pub has_attachment: bool,
    /// Only acknowledgement requests still waiting for me.
    #[serde(default)]
    pub unacknowledged: bool,
    /// The next page: the last hit's `created_at` …
    pub before: Option<i64>,
    /// … and its `post` (posts of the same millisecond are told apart by id). Without it,
    /// `before` alone pages by time.
    pub before_post: Option<String>,
    /// At most this many hits (default 30, at most 100).
    pub limit: Option<usize>,
}

/// Finds posts in my rooms, newest first.
#[utoipa::path(get, path = "/api/search", tag = "rooms", params(SearchParams),
    responses((status = 200, body = SearchResults),
              (status = 400, description = "No words to look for, or a query too long", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>> {
    let length = params.q.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(Error::BadRequest(format!(
            "q: at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let terms = terms(&params.q);
    if terms.is_empty() {
        return Err(Error::BadRequest(
            "q: give at least one word to look for".into(),
        ));
    }
    let search = PostSearch {
        user: user.id,
        terms,
        room: params.room.map(RoomId::new),
        author: if params.mine {
            Some(user.id)
        } else {
            params.author.map(UserId::new)
        },
        from: params.from,
        to: params.to,
        has_attachment: params.has_attachment,
        unacknowledged: params.unacknowledged,
        // Without an id, every post of that millisecond comes before any id ("~" sorts after
        // every ULID character).
        before: params
            .before
            .map(|at| (at, params.before_post.clone().unwrap_or_else(|| "~".into()))),
        limit: params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let results = state.db.search_posts(&search).await?;
    let entry = AuditEntry::new(AuditAction::Search, "search")
        .by(user.id, user.municipality)
        .detail(format!(
            "query_chars={length} hits={}{}",
            results.hits.len(),
            if results.more { "+" } else { "" }
        ));
    state.db.audit(entry).await?;
    Ok(Json(results))
}
