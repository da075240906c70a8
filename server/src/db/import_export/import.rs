//! Writes a checked [`Dataset`] in one transaction.

use super::placement_facts;
use crate::db::audit::{self, AuditEntry};
use crate::db::doc_log;
use crate::db::posts::Projection;
use crate::db::{now_ms, Db};
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::import_export::format::{Dataset, RoomRec};
use crate::import_export::placement;
use renraku_sync::{DocId, RoomDoc, RoomId, ServerDoc, UserId};
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// What an import did. Re-running the same file reports zero created everywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub municipalities_created: usize,
    pub organizations_created: usize,
    pub users_created: usize,
    pub patients_created: usize,
    pub rooms_created: usize,
    pub members_added: usize,
    pub posts_added: usize,
    pub reactions_added: usize,
    pub pins_added: usize,
}

/// A password hash nothing verifies against: imported accounts without one must have their
/// password reset by an administrator.
const NO_PASSWORD: &str = "!imported-without-password";

/// The `external_ids` table, read once and written through.
pub(crate) struct ExternalIds(HashMap<(&'static str, String), i64>);

impl ExternalIds {
    async fn load(conn: &mut AnyConnection) -> Result<Self> {
        let rows = sqlx::query("SELECT kind, external_id, local_id FROM external_ids")
            .fetch_all(&mut *conn)
            .await?;
        let mut map = HashMap::new();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let Some(kind) = KINDS.iter().find(|k| **k == kind) else {
                continue;
            };
            map.insert(
                (*kind, row.try_get("external_id")?),
                row.try_get("local_id")?,
            );
        }
        Ok(Self(map))
    }

    pub(crate) fn get(&self, kind: &'static str, id: &str) -> Option<i64> {
        self.0.get(&(kind, id.to_owned())).copied()
    }

    fn local(&self, kind: &'static str, id: &str) -> Result<i64> {
        self.get(kind, id)
            .ok_or_else(|| Error::internal(format!("{kind} {id:?} missing after its insert")))
    }

    async fn put(
        &mut self,
        conn: &mut AnyConnection,
        kind: &'static str,
        id: &str,
        local: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO external_ids (kind, external_id, local_id) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, external_id) DO UPDATE SET local_id = excluded.local_id",
        )
        .bind(kind)
        .bind(id)
        .bind(local)
        .execute(&mut *conn)
        .await?;
        self.0.insert((kind, id.to_owned()), local);
        Ok(())
    }
}

pub(super) const KINDS: [&str; 6] = [
    "municipality",
    "agreement",
    "organization",
    "user",
    "patient",
    "room",
];

async fn returning_id<'a>(
    q: sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments<'a>>,
    conn: &mut AnyConnection,
) -> Result<i64> {
    Ok(q.fetch_one(&mut *conn).await?.try_get("id")?)
}

/// Imports `d` (already checked by [`crate::import_export::parse`]) in one transaction: on any error
/// nothing is written.
/// A data set that breaks the tenancy rule (or would move a record to another
/// municipality) is refused with [`Error::ImportRefused`] before the first write.
pub async fn import(db: &Db, d: &Dataset) -> Result<ImportReport> {
    let mut tx = db.begin_write().await?;
    let ids = ExternalIds::load(&mut tx).await?;
    let existing = placement_facts(&mut tx, db.backend()).await?;
    placement::check(d, &ids, &existing).map_err(Error::ImportRefused)?;
    let report = import_in(&mut tx, db, d, ids).await?;
    tx.commit().await?;
    Ok(report)
}

async fn import_in(
    conn: &mut AnyConnection,
    db: &Db,
    d: &Dataset,
    mut ids: ExternalIds,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let now = now_ms();

    for m in &d.municipalities {
        let existing = match ids.get("municipality", &m.id) {
            Some(id) => Some(id),
            // A municipality already here under the same slug is the same one.
            None => sqlx::query("SELECT id FROM municipalities WHERE slug = $1")
                .bind(&m.slug)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.try_get::<i64, _>("id"))
                .transpose()?,
        };
        let id = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE municipalities SET slug = $1, name = $2, require_second_factor = $3 \
                     WHERE id = $4",
                )
                .bind(&m.slug)
                .bind(&m.name)
                .bind(m.require_second_factor)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                id
            }
            None => {
                report.municipalities_created += 1;
                returning_id(
                    sqlx::query(
                        "INSERT INTO municipalities (slug, name, created_at, require_second_factor) \
                         VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(&m.slug)
                    .bind(&m.name)
                    .bind(now)
                    .bind(m.require_second_factor),
                    conn,
                )
                .await?
            }
        };
        ids.put(conn, "municipality", &m.id, id).await?;
    }

    for a in &d.agreements {
        let id = match ids.get("agreement", &a.id) {
            Some(id) => {
                sqlx::query("UPDATE agreements SET name = $1 WHERE id = $2")
                    .bind(&a.name)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                id
            }
            None => {
                returning_id(
                    sqlx::query("INSERT INTO agreements (name) VALUES ($1) RETURNING id")
                        .bind(&a.name),
                    conn,
                )
                .await?
            }
        };
        ids.put(conn, "agreement", &a.id, id).await?;
        for m in &a.members {
            sqlx::query(
                "INSERT INTO agreement_members (agreement_id, municipality_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(ids.local("municipality", m)?)
            .execute(&mut *conn)
            .await?;
        }
    }

    for o in &d.organizations {
        let m = ids.local("municipality", &o.municipality)?;
        let id = match ids.get("organization", &o.id) {
            Some(id) => {
                sqlx::query("UPDATE organizations SET name = $1, kind = $2 WHERE id = $3")
                    .bind(&o.name)
                    .bind(o.kind.as_str())
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                id
            }
            None => {
                report.organizations_created += 1;
                returning_id(
                    sqlx::query(
                        "INSERT INTO organizations (municipality_id, name, kind) \
                         VALUES ($1, $2, $3) RETURNING id",
                    )
                    .bind(m)
                    .bind(&o.name)
                    .bind(o.kind.as_str()),
                    conn,
                )
                .await?
            }
        };
        ids.put(conn, "organization", &o.id, id).await?;
    }

    for u in &d.users {
        let m = ids.local("municipality", &u.municipality)?;
        let org = u
            .organization
            .as_deref()
            .map(|o| ids.local("organization", o))
            .transpose()?;
        let existing = match ids.get("user", &u.id) {
            Some(id) => Some(id),
            None => {
                sqlx::query("SELECT id FROM users WHERE municipality_id = $1 AND login_id = $2")
                    .bind(m)
                    .bind(&u.login_id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|r| r.try_get::<i64, _>("id"))
                    .transpose()?
            }
        };
        let id = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE users SET organization_id = $1, login_id = $2, display_name = $3, \
                         display_name_kana = $4, profession = $5, role = $6, disabled = $7, \
                         password_hash = COALESCE($8, password_hash) WHERE id = $9",
                )
                .bind(org)
                .bind(&u.login_id)
                .bind(&u.display_name)
                .bind(&u.display_name_kana)
                .bind(u.profession.as_str())
                .bind(u.role.as_str())
                .bind(u.disabled)
                .bind(u.password_hash.as_deref())
                .bind(id)
                .execute(&mut *conn)
                .await?;
                id
            }
            None => {
                report.users_created += 1;
                returning_id(
                    sqlx::query(
                        "INSERT INTO users (municipality_id, organization_id, login_id, \
                             password_hash, display_name, display_name_kana, profession, role, \
                             disabled, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    )
                    .bind(m)
                    .bind(org)
                    .bind(&u.login_id)
                    .bind(u.password_hash.as_deref().unwrap_or(NO_PASSWORD))
                    .bind(&u.display_name)
                    .bind(&u.display_name_kana)
                    .bind(u.profession.as_str())
                    .bind(u.role.as_str())
                    .bind(u.disabled)
                    .bind(now),
                    conn,
                )
                .await?
            }
        };
        ids.put(conn, "user", &u.id, id).await?;
    }

    for p in &d.patients {
        let m = ids.local("municipality", &p.municipality)?;
        let triage = p.triage.as_deref().filter(|t| !t.is_empty());
        let id = match ids.get("patient", &p.id) {
            Some(id) => {
                sqlx::query(
                    "UPDATE patients SET name = $1, name_kana = $2, birth_date = $3, \
                         address = $4, care_level = $5, disaster_flag = $6, triage = $7, \
                         archived = $8 WHERE id = $9",
                )
                .bind(&p.name)
                .bind(&p.name_kana)
                .bind(&p.birth_date)
                .bind(&p.address)
                .bind(&p.care_level)
                .bind(p.disaster_flag)
                .bind(triage)
                .bind(p.archived)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                id
            }
            None => {
                report.patients_created += 1;
                returning_id(
                    sqlx::query(
                        "INSERT INTO patients (municipality_id, name, name_kana, birth_date, \
                             address, care_level, disaster_flag, triage, archived) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    )
                    .bind(m)
                    .bind(&p.name)
                    .bind(&p.name_kana)
                    .bind(&p.birth_date)
                    .bind(&p.address)
                    .bind(&p.care_level)
                    .bind(p.disaster_flag)
                    .bind(triage)
                    .bind(p.archived),
                    conn,
                )
                .await?
            }
        };
        ids.put(conn, "patient", &p.id, id).await?;
    }

    // One fresh yrs client id per author per import: never one a real device may be using.
    let mut clients: HashMap<UserId, u64> = HashMap::new();
    for r in &d.rooms {
        let room = import_room(conn, &mut ids, &mut report, r, now).await?;
        import_conversation(conn, db, &ids, &mut clients, &mut report, r, room, now).await?;
    }

    let entry = AuditEntry::new(AuditAction::DataImport, "")
        .detail(serde_json::to_string(&report).unwrap_or_default());
    audit::append(conn, &[entry], now).await?;
    Ok(report)
}

async fn import_room(
    conn: &mut AnyConnection,
    ids: &mut ExternalIds,
    report: &mut ImportReport,
    r: &RoomRec,
    now: i64,
) -> Result<RoomId> {
    let m = ids.local("municipality", &r.municipality)?;
    let patient = r
        .patient
        .as_deref()
        .map(|p| ids.local("patient", p))
        .transpose()?;
    let id = match ids.get("room", &r.id) {
        Some(id) => {
            sqlx::query(
                "UPDATE rooms SET title = $1, archived = $2, patient_id = $3 WHERE id = $4",
            )
            .bind(&r.title)
            .bind(r.archived)
            .bind(patient)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            id
        }
        None => {
            report.rooms_created += 1;
            returning_id(
                sqlx::query(
                    "INSERT INTO rooms (municipality_id, kind, title, patient_id, created_at, \
                         archived) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(m)
                .bind(r.kind.as_str())
                .bind(&r.title)
                .bind(patient)
                .bind(if r.created_at > 0 { r.created_at } else { now })
                .bind(r.archived),
                conn,
            )
            .await?
        }
    };
    ids.put(conn, "room", &r.id, id).await?;
    for member in &r.members {
        let user = ids.local("user", &member.user)?;
        let added = sqlx::query(
            "INSERT INTO room_members (room_id, user_id, role, added_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (room_id, user_id) DO NOTHING",
        )
        .bind(id)
        .bind(user)
        .bind(&member.role)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if added == 0 {
            sqlx::query("UPDATE room_members SET role = $1 WHERE room_id = $2 AND user_id = $3")
                .bind(&member.role)
                .bind(id)
                .bind(user)
                .execute(&mut *conn)
                .await?;
        } else {
            report.members_added += 1;
        }
    }
    Ok(RoomId::new(id))
}

/// Writes the posts, reactions and pins the room's document does not have yet, each under
/// its author's own client id (as if they had written it), as one update.
#[allow(clippy::too_many_arguments)]
async fn import_conversation(
    conn: &mut AnyConnection,
    db: &Db,
    ids: &ExternalIds,
    clients: &mut HashMap<UserId, u64>,
    report: &mut ImportReport,
    r: &RoomRec,
    room: RoomId,
    now: i64,
) -> Result<()> {
    if r.posts.is_empty() && r.reactions.is_empty() && r.pins.is_empty() {
        return Ok(());
    }
    let key = DocId::Room(room).storage_key();
    let main = RoomDoc::server_replica();
    for update in doc_log::load_in(conn, &key).await? {
        main.apply_update(&update).map_err(Error::internal)?;
    }
    let before = main.state_vector();
    let mut writers: HashMap<UserId, RoomDoc> = HashMap::new();
    let bad = |e: renraku_sync::Error| Error::internal(format!("room {}: {e}", r.id));

    for post in &r.posts {
        if main.post(&post.id).is_some() {
            continue;
        }
        let author = UserId::new(ids.local("user", &post.author)?);
        let w = writer(conn, clients, &mut writers, &main, author).await?;
        let mut updates = vec![match &post.parent {
            None => w.start_thread(author, post.id.clone(), &post.text, post.created_at),
            Some(parent) => w
                .reply(author, post.id.clone(), parent, &post.text, post.created_at)
                .map_err(bad)?,
        }];
        if post.deleted {
            let at = post.edited_at.unwrap_or(post.created_at);
            updates.push(w.delete(author, &post.id, at).map_err(bad)?);
        } else if let Some(at) = post.edited_at {
            updates.push(w.edit(author, &post.id, &post.text, at).map_err(bad)?);
        }
        for u in updates {
            main.apply_update(&u).map_err(bad)?;
        }
        report.posts_added += 1;
    }
    for reaction in &r.reactions {
        let user = UserId::new(ids.local("user", &reaction.user)?);
        let present = main
            .reactions(&reaction.post)
            .iter()
            .any(|c| c.kind == reaction.kind && c.users.contains(&user));
        if present {
            continue;
        }
        let w = writer(conn, clients, &mut writers, &main, user).await?;
        main.apply_update(&w.react(user, &reaction.post, reaction.kind))
            .map_err(bad)?;
        report.reactions_added += 1;
    }
    for pin in &r.pins {
        if main.pins().iter().any(|p| p.post == pin.post) {
            continue;
        }
        let by = UserId::new(ids.local("user", &pin.by)?);
        let w = writer(conn, clients, &mut writers, &main, by).await?;
        main.apply_update(&w.pin(by, &pin.post, pin.at))
            .map_err(bad)?;
        report.pins_added += 1;
    }
    if main.state_vector() != before {
        let update = main.encode_diff(&before);
        // user 0: written by the import, not by one professional (each item's author is in
        // the post itself and its client id is bound to them).
        doc_log::append_in(conn, db.backend(), &key, UserId::new(0), &update, now).await?;
        // The projection (search, unread counts, 確認待ち) follows in the same transaction:
        // imported posts are found at once. Backfill: no pushes for imports.
        let mut replica = ServerDoc::new(DocId::Room(room));
        replica.load(&main.encode_state()).map_err(|e| {
            Error::internal(format!("room/{room} does not load after the import: {e}"))
        })?;
        let projection = Projection::whole(room, &replica);
        let projected =
            crate::db::posts::project_in(conn, db.backend(), &[&projection], now, true).await?;
        crate::db::acks::project_in(conn, &[&projection], &projected, now, false).await?;
        // Projected to the log's head: a start does not project the room again.
        crate::db::projection_follow::mark_whole_in(conn, db.backend(), &key).await?;
    }
    Ok(())
}

/// `user`'s writing replica, brought up to date with `main`.
async fn writer<'w>(
    conn: &mut AnyConnection,
    clients: &mut HashMap<UserId, u64>,
    writers: &'w mut HashMap<UserId, RoomDoc>,
    main: &RoomDoc,
    user: UserId,
) -> Result<&'w RoomDoc> {
    let client = match clients.get(&user) {
        Some(c) => *c,
        None => {
            let c = fresh_client(conn, user).await?;
            clients.insert(user, c);
            c
        }
    };
    let w = writers.entry(user).or_insert_with(|| RoomDoc::new(client));
    let missing = main.encode_diff(&w.state_vector());
    w.apply_update(&missing).map_err(Error::internal)?;
    Ok(w)
}

/// A new yrs client id bound to `user` in `yjs_clients`, as the server would bind it.
async fn fresh_client(conn: &mut AnyConnection, user: UserId) -> Result<u64> {
    loop {
        // 2^32 and up: clear of small ids, within the 53 bits Yjs allows.
        let candidate = (rand::random::<u64>() & ((1 << 53) - 1)) | (1 << 32);
        let inserted = sqlx::query(
            "INSERT INTO yjs_clients (client_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id) DO NOTHING",
        )
        .bind(i64::try_from(candidate).map_err(Error::internal)?)
        .bind(user.get())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(candidate);
        }
    }
}
