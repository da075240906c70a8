//! Reads the whole database into a [`Dataset`].

use super::import::KINDS;
use crate::db::municipalities::OrganizationKind;
use crate::db::users::{decode_enum, Profession, Role};
use crate::db::{doc_log, flag, Db};
use crate::error::{Error, Result};
use crate::import_export::format::*;
use renraku_sync::{DocId, RoomDoc, RoomId, RoomKind, UserId};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// Local id → external id, per kind: an imported record keeps the id it came with; any other
/// gets `{kind}-{local id}`.
struct Names(HashMap<(&'static str, i64), String>);

impl Names {
    async fn load(conn: &mut AnyConnection) -> Result<Self> {
        let rows = sqlx::query("SELECT kind, external_id, local_id FROM external_ids")
            .fetch_all(&mut *conn)
            .await?;
        let mut map = HashMap::new();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            if let Some(kind) = KINDS.iter().find(|k| **k == kind) {
                map.insert(
                    (*kind, row.try_get("local_id")?),
                    row.try_get("external_id")?,
                );
            }
        }
        Ok(Self(map))
    }

    fn of(&self, kind: &'static str, local: i64) -> String {
        self.0
            .get(&(kind, local))
            .cloned()
            .unwrap_or_else(|| format!("{kind}-{local}"))
    }
}

/// Everything, in one consistent read. Password hashes only with `with_password_hashes`
/// (they are secrets: an export file is a copy of them).
pub async fn export(db: &Db, with_password_hashes: bool) -> Result<Dataset> {
    let mut tx = db.pool().begin().await?;
    crate::db::dialect::snapshot_reads_in(&mut tx, db.backend()).await?;
    let d = export_in(&mut tx, with_password_hashes).await?;
    tx.commit().await?;
    Ok(d)
}

async fn export_in(conn: &mut AnyConnection, with_hashes: bool) -> Result<Dataset> {
    let names = Names::load(conn).await?;
    let mut d = Dataset {
        format: FORMAT.into(),
        ..Dataset::default()
    };
    for row in
        sqlx::query("SELECT id, slug, name, require_second_factor FROM municipalities ORDER BY id")
            .fetch_all(&mut *conn)
            .await?
    {
        d.municipalities.push(MunicipalityRec {
            id: names.of("municipality", row.try_get("id")?),
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            require_second_factor: flag(&row, "require_second_factor")?,
        });
    }
    let mut agreements: Vec<AgreementRec> = Vec::new();
    let mut agreement_ids: Vec<i64> = Vec::new();
    for row in sqlx::query(
        "SELECT a.id, a.name, m.municipality_id FROM agreements a \
         LEFT JOIN agreement_members m ON m.agreement_id = a.id ORDER BY a.id, m.municipality_id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let id: i64 = row.try_get("id")?;
        if agreement_ids.last() != Some(&id) {
            agreement_ids.push(id);
            agreements.push(AgreementRec {
                id: names.of("agreement", id),
                name: row.try_get("name")?,
                members: vec![],
            });
        }
        if let (Some(m), Some(last)) = (
            row.try_get::<Option<i64>, _>("municipality_id")?,
            agreements.last_mut(),
        ) {
            last.members.push(names.of("municipality", m));
        }
    }
    d.agreements = agreements;
    for row in sqlx::query("SELECT id, municipality_id, name, kind FROM organizations ORDER BY id")
        .fetch_all(&mut *conn)
        .await?
    {
        d.organizations.push(OrganizationRec {
            id: names.of("organization", row.try_get("id")?),
            municipality: names.of("municipality", row.try_get("municipality_id")?),
            name: row.try_get("name")?,
            kind: decode_enum(&row, "kind", OrganizationKind::parse)?,
        });
    }
    for row in sqlx::query(
        "SELECT id, municipality_id, organization_id, login_id, password_hash, display_name, \
             display_name_kana, profession, role, disabled FROM users ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let hash: String = row.try_get("password_hash")?;
        d.users.push(UserRec {
            id: names.of("user", row.try_get("id")?),
            municipality: names.of("municipality", row.try_get("municipality_id")?),
            organization: row
                .try_get::<Option<i64>, _>("organization_id")?
                .map(|o| names.of("organization", o)),
            login_id: row.try_get("login_id")?,
            display_name: row.try_get("display_name")?,
            display_name_kana: row.try_get("display_name_kana")?,
            profession: decode_enum(&row, "profession", Profession::parse)?,
            role: decode_enum(&row, "role", Role::parse)?,
            disabled: flag(&row, "disabled")?,
            password_hash: (with_hashes && hash.starts_with("$argon2")).then_some(hash),
        });
    }
    for row in sqlx::query(
        "SELECT id, municipality_id, name, name_kana, birth_date, address, care_level, \
             disaster_flag, triage, archived FROM patients ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        d.patients.push(PatientRec {
            id: names.of("patient", row.try_get("id")?),
            municipality: names.of("municipality", row.try_get("municipality_id")?),
            name: row.try_get("name")?,
            name_kana: row.try_get("name_kana")?,
            birth_date: row.try_get("birth_date")?,
            address: row.try_get("address")?,
            care_level: row.try_get("care_level")?,
            disaster_flag: flag(&row, "disaster_flag")?,
            triage: row.try_get("triage")?,
            archived: flag(&row, "archived")?,
        });
    }
    let rooms = sqlx::query(
        "SELECT id, municipality_id, kind, title, patient_id, created_at, archived \
         FROM rooms ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut members: HashMap<i64, Vec<MemberRec>> = HashMap::new();
    for row in
        sqlx::query("SELECT room_id, user_id, role FROM room_members ORDER BY room_id, user_id")
            .fetch_all(&mut *conn)
            .await?
    {
        members
            .entry(row.try_get("room_id")?)
            .or_default()
            .push(MemberRec {
                user: names.of("user", row.try_get("user_id")?),
                role: row.try_get("role")?,
            });
    }
    for row in rooms {
        let id: i64 = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let mut rec = RoomRec {
            id: names.of("room", id),
            municipality: names.of("municipality", row.try_get("municipality_id")?),
            kind: kind.parse::<RoomKind>().map_err(Error::internal)?,
            title: row.try_get("title")?,
            patient: row
                .try_get::<Option<i64>, _>("patient_id")?
                .map(|p| names.of("patient", p)),
            archived: flag(&row, "archived")?,
            created_at: row.try_get("created_at")?,
            members: members.remove(&id).unwrap_or_default(),
            posts: vec![],
            reactions: vec![],
            pins: vec![],
        };
        conversation(conn, &names, RoomId::new(id), &mut rec).await?;
        d.rooms.push(rec);
    }
    Ok(d)
}

/// The room document's posts (roots before replies), reactions and pins.
async fn conversation(
    conn: &mut AnyConnection,
    names: &Names,
    room: RoomId,
    rec: &mut RoomRec,
) -> Result<()> {
    let doc = RoomDoc::server_replica();
    for update in doc_log::load_in(conn, &DocId::Room(room).storage_key()).await? {
        doc.apply_update(&update).map_err(Error::internal)?;
    }
    let user = |u: UserId| names.of("user", u.get());
    let mut posts = doc.posts();
    // Roots first (a reply's parent must come before it), each group by time then id.
    posts.sort_by(|a, b| {
        (a.parent.is_some(), a.created_at, &a.id).cmp(&(b.parent.is_some(), b.created_at, &b.id))
    });
    for p in &posts {
        rec.posts.push(PostRec {
            id: p.id.clone(),
            author: user(p.author),
            created_at: p.created_at,
            text: p.text.clone(),
            parent: p.parent.clone(),
            edited_at: p.edited_at,
            deleted: p.deleted,
        });
        for count in doc.reactions(&p.id) {
            for u in &count.users {
                rec.reactions.push(ReactionRec {
                    post: p.id.clone(),
                    user: user(*u),
                    kind: count.kind,
                });
            }
        }
    }
    let known: std::collections::HashSet<_> = posts.iter().map(|p| &p.id).collect();
    for pin in doc.pins() {
        // A pin may name a post that never arrived (harmless, shown nowhere): not exported.
        if known.contains(&pin.post) {
            rec.pins.push(PinRec {
                post: pin.post,
                by: user(pin.by),
                at: pin.at,
            });
        }
    }
    Ok(())
}
