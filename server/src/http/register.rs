//! 要援護者名簿 (issue 16): a municipality's register of people who need assistance in a
//! disaster, 災害モード, and the 安否確認. The handlers gather the facts (the user's register
//! roles, the disaster in force, the agreements) and ask `domain/register.rs` who sees and
//! changes what; an entry the user cannot see is 404, as if it did not exist. Every view (the
//! list: one entry with the count; one person: an entry naming them by id) and every change
//! is audited, filed under the register's municipality. The endpoints and the rules are
//! written up in `docs/assistance-register.md`.

use super::admin::guard::{checked, text};
use crate::auth::CurrentUser;
use crate::db::audit::AuditEntry;
use crate::db::municipalities::Municipality;
use crate::db::users::Role;
use crate::domain::audit::AuditAction;
use crate::domain::register::{self as rule, EntryFacts, InForce, Standing};
use crate::error::{Error, Result};
use crate::http::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use renraku_contract::{
    DeclareDisaster, Disaster, LabelColour, LegendEntry, NewRegisterPerson, NewSafetyMark,
    RegisterImportQuery, RegisterImportReport, RegisterLink, RegisterOverview, RegisterPartner,
    RegisterPerson, RegisterPersonDetail, RegisterPersonId, RegisterQuery, RegisterScope,
    RegisterStaff, RegisterSummary, SafetyMark, SafetyState, SafetyStatus, SetLegend,
    SetRegisterStaff, SetRetired, SummaryCell, REGISTER_DETAIL_MAX,
};
use renraku_sync::{Frame, RoomKind, UserId};
use std::collections::HashSet;

/// The asking user, the register's municipality, and what the rule lets them see.
struct Reader {
    user: CurrentUser,
    municipality: Municipality,
    standing: Standing<renraku_sync::MunicipalityId>,
    disaster: Option<Disaster>,
    scope: RegisterScope,
}

impl Reader {
    async fn new(
        state: &AppState,
        user: CurrentUser,
        municipality: Municipality,
    ) -> Result<Reader> {
        let (editor, responder) = state.db.register_roles(user.id).await?;
        let standing = Standing {
            home: user.municipality,
            admin: matches!(user.role, Role::MunicipalityAdmin | Role::SystemAdmin),
            editor,
            responder,
        };
        let disaster = state.db.disaster_in_force(municipality.id).await?;
        let in_force = disaster.as_ref().map(|d| InForce {
            partners: d.partners.clone(),
        });
        // The agreements matter only to a partner's responder during a disaster.
        let agreements = if user.municipality != municipality.id && in_force.is_some() {
            state.db.agreements_in_force().await?
        } else {
            Default::default()
        };
        let scope = rule::scope(&standing, &municipality.id, in_force.as_ref(), &agreements);
        Ok(Reader {
            user,
            municipality,
            standing,
            disaster,
            scope,
        })
    }

    async fn by_slug(state: &AppState, user: CurrentUser, slug: &str) -> Result<Reader> {
        let m = state
            .db
            .municipality_by_slug(slug)
            .await?
            .ok_or(Error::NotFound)?;
        Reader::new(state, user, m).await
    }

    /// The reader of `id`'s register and the entry, if they see it (else 404).
    async fn person(
        state: &AppState,
        user: CurrentUser,
        slug: &str,
        id: RegisterPersonId,
    ) -> Result<(Reader, RegisterPerson)> {
        let reader = Reader::by_slug(state, user, slug).await?;
        let person = state.db.register_person(id).await?.ok_or(Error::NotFound)?;
        if person.municipality != reader.municipality.id {
            return Err(Error::NotFound);
        }
        let rooms = reader.linked_rooms(state).await?;
        if !reader.sees(&person, &rooms) {
            return Err(Error::NotFound);
        }
        Ok((reader, person))
    }

    fn edits(&self) -> bool {
        self.standing.edits(&self.municipality.id)
    }

    fn administers(&self) -> bool {
        self.standing.administers(&self.municipality.id)
    }

    /// The rooms that may show this reader a person outside their scope: only looked up when
    /// the scope alone does not show every consenting entry.
    async fn linked_rooms(&self, state: &AppState) -> Result<HashSet<renraku_sync::RoomId>> {
        Ok(match self.scope {
            RegisterScope::Nothing => state
                .db
                .room_ids_of(self.user.id)
                .await?
                .into_iter()
                .collect(),
            _ => HashSet::new(),
        })
    }

    fn sees(&self, p: &RegisterPerson, rooms: &HashSet<renraku_sync::RoomId>) -> bool {
        rule::sees(
            self.scope,
            EntryFacts {
                consent: p.fields.consent,
                retired: p.retired,
                in_linked_room: p.fields.room.is_some_and(|r| rooms.contains(&r)),
            },
        )
    }

    fn entry(&self, action: AuditAction, target: impl Into<String>) -> AuditEntry {
        let mut entry = AuditEntry::new(action, target);
        entry.user = Some(self.user.id);
        entry.municipality = Some(self.municipality.id);
        entry
    }

    fn require_edit(&self) -> Result<()> {
        if self.edits() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    fn require_admin(&self) -> Result<()> {
        if self.administers() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// The 404 a user of another municipality with no access gets for the register itself.
    fn require_any(&self) -> Result<()> {
        if self.user.municipality == self.municipality.id || self.scope != RegisterScope::Nothing {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

/// Every problem of an entry, as one 400 naming each field.
fn checked_person(state_fields: &NewRegisterPerson) -> Result<NewRegisterPerson> {
    rule::check_person(state_fields).map_err(|problems| {
        Error::BadRequest(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// A linked room must be a patient room of the register's municipality.
async fn check_room(state: &AppState, reader: &Reader, p: &NewRegisterPerson) -> Result<()> {
    if let Some(room) = p.room {
        let ok = state.db.room(room).await?.is_some_and(|r| {
            r.municipality == reader.municipality.id && r.kind == RoomKind::Patient
        });
        if !ok {
            return Err(Error::BadRequest(
                "room is not a patient room of this municipality".into(),
            ));
        }
    }
    Ok(())
}

/// The current safety status of each entry during 災害モード.
async fn with_safety(
    state: &AppState,
    disaster: Option<&Disaster>,
    people: &mut [RegisterPerson],
) -> Result<()> {
    let Some(d) = disaster else { return Ok(()) };
    let mut marks = state.db.current_safety_marks(d.id).await?;
    for p in people {
        let mark = marks.remove(&p.id);
        p.safety = Some(SafetyState {
            status: mark
                .as_ref()
                .map_or(SafetyStatus::Unconfirmed, |m| m.status),
            mark,
        });
    }
    Ok(())
}

/// The users (with a live `/ws` socket on this node) who see something of `m`'s register
/// now — for one person, who sees the person under any of `facts` (before and after a
/// change) — by the visibility rule of `domain/register.rs`, applied to the candidates one
/// query finds.
async fn live_audience(
    state: &AppState,
    m: renraku_sync::MunicipalityId,
    person: Option<(RegisterPersonId, &[EntryFacts])>,
) -> Result<Vec<UserId>> {
    let connected: HashSet<UserId> = state.hub.connected_users().into_iter().collect();
    if connected.is_empty() {
        return Ok(vec![]);
    }
    let disaster = state.db.disaster_in_force(m).await?;
    let in_force = disaster.as_ref().map(|d| InForce {
        partners: d.partners.clone(),
    });
    let agreements = match &disaster {
        Some(d) if !d.partners.is_empty() => state.db.agreements_in_force().await?,
        _ => Default::default(),
    };
    let candidates = state
        .db
        .register_audience(m, person.map(|(id, _)| id))
        .await?;
    Ok(candidates
        .into_iter()
        .filter(|c| connected.contains(&c.user))
        .filter(|c| {
            let standing = Standing {
                home: c.home,
                admin: matches!(c.role, Role::MunicipalityAdmin | Role::SystemAdmin),
                editor: c.editor,
                responder: c.responder,
            };
            let scope = rule::scope(&standing, &m, in_force.as_ref(), &agreements);
            match person {
                Some((_, facts)) => facts.iter().any(|f| {
                    rule::sees(
                        scope,
                        EntryFacts {
                            in_linked_room: c.in_linked_room,
                            ..*f
                        },
                    )
                }),
                // The whole register: anyone with a scope, and members of a consenting
                // person's room (the query found only those).
                None => scope != RegisterScope::Nothing || c.in_linked_room,
            }
        })
        .map(|c| c.user)
        .collect())
}

/// What the visibility rule needs of an entry (the asker's room membership aside).
fn facts(p: &RegisterPerson) -> EntryFacts {
    EntryFacts {
        consent: p.fields.consent,
        retired: p.retired,
        in_linked_room: false,
    }
}

/// Tells `users`' live sockets that `m`'s register changed (`Frame::RegisterChanged`). A
/// failure to work out who is logged, not answered: the change itself is stored.
fn tell_changed(state: &AppState, m: renraku_sync::MunicipalityId, users: Vec<UserId>) {
    state
        .hub
        .tell(users, &Frame::RegisterChanged { municipality: m });
}

/// [`live_audience`], or nobody (logged) when it cannot be read: the change it announces
/// is already stored, and screens reload on their next visit anyway.
async fn audience_or_nobody(
    state: &AppState,
    m: renraku_sync::MunicipalityId,
    person: Option<(RegisterPersonId, &[EntryFacts])>,
) -> Vec<UserId> {
    live_audience(state, m, person).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "register news not sent: reading its audience failed");
        vec![]
    })
}

/// Announces a change to the whole register to those who see it now.
async fn announce_changed(state: &AppState, m: renraku_sync::MunicipalityId) {
    let users = audience_or_nobody(state, m, None).await;
    tell_changed(state, m, users);
}

/// Announces a change of one entry to those who saw it before or see it now.
async fn announce_person(state: &AppState, id: RegisterPersonId, before: &[EntryFacts]) {
    let Ok(Some(after)) = state.db.register_person(id).await else {
        return;
    };
    let mut all = before.to_vec();
    all.push(facts(&after));
    let users = audience_or_nobody(state, after.municipality, Some((id, &all))).await;
    tell_changed(state, after.municipality, users);
}

/// The register's state and what I may do with it.
#[utoipa::path(get, path = "/api/register/{slug}", tag = "register",
    params(("slug" = String, Path)),
    responses((status = 200, body = RegisterOverview),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, description = "No such municipality, or another municipality's register without access", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn overview(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<RegisterOverview>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    Ok(Json(RegisterOverview {
        municipality: r.municipality.id,
        municipality_name: r.municipality.name.clone(),
        legend: state.db.register_legend(r.municipality.id).await?,
        responder: r.standing.responder && r.scope != RegisterScope::Nothing,
        editor: r.edits(),
        admin: r.administers(),
        scope: r.scope,
        disaster: r.disaster,
    }))
}

/// The entries `r` sees, filtered and in priority order: what the list shows and the
/// export writes.
async fn listed(
    state: &AppState,
    r: &Reader,
    query: &RegisterQuery,
) -> Result<Vec<RegisterPerson>> {
    let retired = query.retired.unwrap_or(false);
    if retired && r.scope != RegisterScope::Manage {
        return Err(Error::Forbidden);
    }
    let rooms = r.linked_rooms(state).await?;
    let mut people: Vec<RegisterPerson> = state
        .db
        .register_people(r.municipality.id, retired)
        .await?
        .into_iter()
        .filter(|p| r.sees(p, &rooms))
        .collect();
    with_safety(state, r.disaster.as_ref(), &mut people).await?;
    people.retain(|p| query.keeps(p));
    renraku_contract::sort_register(&mut people);
    Ok(people)
}

/// The entries I see, filtered, in priority order (in 災害モード 要支援 and 未確認 first;
/// then red, yellow, blue; then kana). Audited once, with the count.
#[utoipa::path(get, path = "/api/register/{slug}/people", tag = "register",
    params(("slug" = String, Path), RegisterQuery),
    responses((status = 200, body = Vec<RegisterPerson>),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Retired entries asked for by someone who does not manage the register", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_people(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<RegisterQuery>,
) -> Result<Json<Vec<RegisterPerson>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    let people = listed(&state, &r, &query).await?;
    state
        .db
        .audit(
            r.entry(
                AuditAction::RegisterList,
                format!("register/{}", r.municipality.id),
            )
            .detail(format!("count={} {}", people.len(), filters(&query)).trim_end()),
        )
        .await?;
    Ok(Json(people))
}

/// One entry and its safety-check history in the disaster in force. Audited, naming the
/// entry by id.
#[utoipa::path(get, path = "/api/register/{slug}/people/{id}", tag = "register",
    params(("slug" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = RegisterPersonDetail),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, description = "No such entry, or one I do not see", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn get_person(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<Json<RegisterPersonDetail>> {
    let (r, person) = Reader::person(&state, user, &slug, RegisterPersonId(id)).await?;
    let mut people = [person];
    with_safety(&state, r.disaster.as_ref(), &mut people).await?;
    let [person] = people;
    let marks = match &r.disaster {
        Some(d) => state.db.safety_marks_of(d.id, person.id).await?,
        None => vec![],
    };
    state
        .db
        .audit(r.entry(
            AuditAction::RegisterPersonView,
            format!("register_person/{id}"),
        ))
        .await?;
    Ok(Json(RegisterPersonDetail { person, marks }))
}

/// Adds an entry (municipality administrators and register editors).
#[utoipa::path(post, path = "/api/register/{slug}/people", tag = "register",
    params(("slug" = String, Path)),
    request_body = NewRegisterPerson,
    responses((status = 201, body = RegisterPerson),
              (status = 400, description = "Every refused field, by name", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "The municipality's person id is taken", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_person(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewRegisterPerson>,
) -> Result<(StatusCode, Json<RegisterPerson>)> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_edit()?;
    let fields = checked_person(&req)?;
    check_room(&state, &r, &fields).await?;
    let id = state
        .db
        .create_register_person(
            r.municipality.id,
            &fields,
            &r.entry(AuditAction::RegisterPersonCreate, ""),
        )
        .await?;
    announce_person(&state, id, &[]).await;
    let person = state.db.register_person(id).await?.ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(person)))
}

/// Replaces an entry's fields (municipality administrators and register editors). The audit
/// entry names the fields that changed, not their values.
#[utoipa::path(put, path = "/api/register/{slug}/people/{id}", tag = "register",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = NewRegisterPerson,
    responses((status = 200, body = RegisterPerson),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "A responder or room member, who sees but does not edit", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_person(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<NewRegisterPerson>,
) -> Result<Json<RegisterPerson>> {
    let id = RegisterPersonId(id);
    let (r, before) = Reader::person(&state, user, &slug, id).await?;
    r.require_edit()?;
    let fields = checked_person(&req)?;
    check_room(&state, &r, &fields).await?;
    let changed = rule::changed_fields(&before.fields, &fields);
    state
        .db
        .update_register_person(
            id,
            &fields,
            &r.entry(
                AuditAction::RegisterPersonUpdate,
                format!("register_person/{id}"),
            )
            .detail(changed.join(",")),
        )
        .await?;
    announce_person(&state, id, &[facts(&before)]).await;
    let person = state.db.register_person(id).await?.ok_or(Error::NotFound)?;
    Ok(Json(person))
}

/// Retires an entry (moved, died, withdrew) or puts it back; it is kept, never deleted.
#[utoipa::path(put, path = "/api/register/{slug}/people/{id}/retired", tag = "register",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = SetRetired,
    responses((status = 200, body = RegisterPerson),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_retired(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<SetRetired>,
) -> Result<Json<RegisterPerson>> {
    let id = RegisterPersonId(id);
    let (r, before) = Reader::person(&state, user, &slug, id).await?;
    r.require_edit()?;
    let action = if req.retired {
        AuditAction::RegisterPersonRetire
    } else {
        AuditAction::RegisterPersonRestore
    };
    let changed = state
        .db
        .set_register_retired(
            id,
            req.retired,
            &r.entry(action, format!("register_person/{id}")),
        )
        .await?;
    if changed {
        announce_person(&state, id, &[facts(&before)]).await;
    }
    let person = state.db.register_person(id).await?.ok_or(Error::NotFound)?;
    Ok(Json(person))
}

/// Sets what colours mean in this municipality (those not sent keep theirs).
#[utoipa::path(put, path = "/api/register/{slug}/legend", tag = "register",
    params(("slug" = String, Path)),
    request_body = SetLegend,
    responses((status = 200, body = Vec<LegendEntry>),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_legend(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<SetLegend>,
) -> Result<Json<Vec<LegendEntry>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_edit()?;
    let mut entries = Vec::with_capacity(req.legend.len());
    let mut seen = HashSet::new();
    for e in &req.legend {
        if !seen.insert(e.label) {
            return Err(Error::BadRequest(format!("{} appears twice", e.label)));
        }
        entries.push(LegendEntry {
            label: e.label,
            meaning: checked(
                &format!("meaning of {}", e.label),
                rule::meaning(&e.meaning),
            )?,
        });
    }
    let labels: Vec<&str> = entries.iter().map(|e| e.label.as_str()).collect();
    state
        .db
        .set_register_legend(
            r.municipality.id,
            &entries,
            &r.entry(
                AuditAction::RegisterLegendUpdate,
                format!("register/{}", r.municipality.id),
            )
            .detail(labels.join(",")),
        )
        .await?;
    announce_changed(&state, r.municipality.id).await;
    Ok(Json(state.db.register_legend(r.municipality.id).await?))
}

/// The municipality's users and their register roles (administrators and editors).
#[utoipa::path(get, path = "/api/register/{slug}/staff", tag = "register",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<RegisterStaff>),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_staff(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<RegisterStaff>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_edit()?;
    Ok(Json(state.db.register_staff(r.municipality.id).await?))
}

/// Designates a user of the municipality as register editor and/or responder. Editors
/// designate responders; only administrators change who is an editor.
#[utoipa::path(put, path = "/api/register/{slug}/staff/{user}", tag = "register",
    params(("slug" = String, Path), ("user" = i64, Path)),
    request_body = SetRegisterStaff,
    responses((status = 200, body = RegisterStaff),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, description = "No such user in this municipality", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_staff(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, target)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<SetRegisterStaff>,
) -> Result<Json<RegisterStaff>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_edit()?;
    let target = UserId::new(target);
    let row = state.db.user(target).await?.ok_or(Error::NotFound)?;
    if row.municipality != r.municipality.id {
        return Err(Error::NotFound);
    }
    let (editor, _) = state.db.register_roles(target).await?;
    if editor != req.editor && !r.administers() {
        return Err(Error::Forbidden);
    }
    state
        .db
        .set_register_roles(
            target,
            req.editor,
            req.responder,
            &r.entry(AuditAction::RegisterStaff, format!("user/{target}"))
                .detail(format!("editor={} responder={}", req.editor, req.responder)),
        )
        .await?;
    // Those who see the register, and the user whose roles changed (who may no longer).
    let mut users = audience_or_nobody(&state, r.municipality.id, None).await;
    users.push(target);
    users.sort();
    users.dedup();
    tell_changed(&state, r.municipality.id, users);
    Ok(Json(RegisterStaff {
        user: target,
        display_name: row.display_name,
        editor: req.editor,
        responder: req.responder,
    }))
}

/// Declares 災害モード (municipality administrators): every current entry becomes visible
/// to the designated responders until it ends.
#[utoipa::path(post, path = "/api/register/{slug}/disaster", tag = "register",
    params(("slug" = String, Path)),
    request_body = DeclareDisaster,
    responses((status = 201, body = Disaster),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "Already in 災害モード", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn declare_disaster(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<DeclareDisaster>,
) -> Result<(StatusCode, Json<Disaster>)> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_admin()?;
    let reason = text("reason", &req.reason, REGISTER_DETAIL_MAX)?;
    state
        .db
        .declare_disaster(
            r.municipality.id,
            &reason,
            r.user.id,
            &r.entry(AuditAction::RegisterDisasterDeclare, "")
                .detail(reason.clone()),
        )
        .await?;
    announce_changed(&state, r.municipality.id).await;
    let d = state
        .db
        .disaster_in_force(r.municipality.id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// Ends 災害モード (municipality administrators), and with it every partner's access.
#[utoipa::path(delete, path = "/api/register/{slug}/disaster", tag = "register",
    params(("slug" = String, Path)),
    responses((status = 204),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, description = "Not in 災害モード", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn end_disaster(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<StatusCode> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_admin()?;
    let d = r.disaster.as_ref().ok_or(Error::NotFound)?;
    // Told are those who saw the register during the disaster (partners' responders too,
    // whose access ends with it).
    let audience = audience_or_nobody(&state, r.municipality.id, None).await;
    let ended = state
        .db
        .end_disaster(
            r.municipality.id,
            r.user.id,
            &r.entry(
                AuditAction::RegisterDisasterEnd,
                format!("register_disaster/{}", d.id),
            ),
        )
        .await?;
    if !ended {
        return Err(Error::NotFound);
    }
    tell_changed(&state, r.municipality.id, audience);
    Ok(StatusCode::NO_CONTENT)
}

/// The municipalities sharing a wide-area agreement with this one, and whether each is
/// granted access in the disaster in force: what an administrator chooses from (municipality
/// administrators only).
#[utoipa::path(get, path = "/api/register/{slug}/partners", tag = "register",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<RegisterPartner>),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not an administrator", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn partners(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<RegisterPartner>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_admin()?;
    let agreements = state.db.agreements_in_force().await?;
    let granted = r
        .disaster
        .as_ref()
        .map(|d| d.partners.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for id in agreements.reach(&r.municipality.id).into_iter().skip(1) {
        if let Some(m) = state.db.municipality(id).await? {
            out.push(RegisterPartner {
                municipality: id,
                slug: m.slug,
                name: m.name,
                granted: granted.contains(&id),
            });
        }
    }
    Ok(Json(out))
}

/// Grants a partner municipality's responders access for the disaster in force
/// (municipality administrators; the partner must share a wide-area agreement).
#[utoipa::path(put, path = "/api/register/{slug}/disaster/partners/{partner}", tag = "register",
    params(("slug" = String, Path), ("partner" = String, Path, description = "The partner municipality's slug")),
    responses((status = 200, body = Disaster),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not an administrator, or no agreement shared with the partner", body = crate::error::ErrorBody),
              (status = 404, description = "No such partner, or not in 災害モード", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn grant_partner(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, partner)): ApiPath<(String, String)>,
) -> Result<Json<Disaster>> {
    partner_access(state, user, slug, partner, true).await
}

/// Withdraws a partner municipality's access before the disaster ends.
#[utoipa::path(delete, path = "/api/register/{slug}/disaster/partners/{partner}", tag = "register",
    params(("slug" = String, Path), ("partner" = String, Path)),
    responses((status = 200, body = Disaster),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn revoke_partner(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, partner)): ApiPath<(String, String)>,
) -> Result<Json<Disaster>> {
    partner_access(state, user, slug, partner, false).await
}

async fn partner_access(
    state: AppState,
    user: CurrentUser,
    slug: String,
    partner: String,
    granted: bool,
) -> Result<Json<Disaster>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_admin()?;
    let d = r.disaster.as_ref().ok_or(Error::NotFound)?;
    let p = state
        .db
        .municipality_by_slug(&partner)
        .await?
        .ok_or(Error::NotFound)?;
    if granted {
        let agreements = state.db.agreements_in_force().await?;
        if p.id == r.municipality.id
            || !crate::domain::tenancy::may_join(&r.municipality.id, &p.id, &agreements)
        {
            return Err(Error::Forbidden);
        }
    }
    let action = if granted {
        AuditAction::RegisterDisasterGrant
    } else {
        AuditAction::RegisterDisasterRevoke
    };
    // A withdrawal is told to those who saw the register before it (the partner's
    // responders among them); a grant to those who see it after.
    let before = if granted {
        vec![]
    } else {
        audience_or_nobody(&state, r.municipality.id, None).await
    };
    let changed = state
        .db
        .set_disaster_partner(
            d.id,
            p.id,
            granted,
            r.user.id,
            &r.entry(action, format!("register_disaster/{}", d.id))
                .detail(format!("municipality/{}", p.id)),
        )
        .await?;
    if changed {
        let users = if granted {
            audience_or_nobody(&state, r.municipality.id, None).await
        } else {
            before
        };
        tell_changed(&state, r.municipality.id, users);
    }
    let d = state
        .db
        .disaster_in_force(r.municipality.id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(d))
}

/// Records a safety mark (a responder who sees the person, in a disaster). The mark's id
/// is the client's: the same mark sent again (after being offline) is stored once and
/// answered 200 with the stored mark; a new one 201. Marks by several responders all stay;
/// the latest made is the current status. A mark belongs to the disaster its `marked_at`
/// falls in — also one that has ended since, when a responder marked offline during it and
/// syncs later; a mark made in no disaster is 409. A new mark in the disaster in force
/// reaches everyone who sees the person live (`Frame::RegisterMarked`).
#[utoipa::path(post, path = "/api/register/{slug}/people/{id}/marks", tag = "register",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = NewSafetyMark,
    responses((status = 201, body = SafetyMark),
              (status = 200, description = "This mark was stored before", body = SafetyMark),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a responder, or a retired entry", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "Made in no disaster, or the id belongs to another mark", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn mark_safety(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<NewSafetyMark>,
) -> Result<(StatusCode, Json<SafetyMark>)> {
    let id = RegisterPersonId(id);
    let me = user.id;
    // A mark sent again is answered from storage before anything else: it may arrive after
    // the disaster ended, or after access changed, and was accepted when it was first sent.
    if let Some(stored) = state.db.safety_mark(&req.id).await? {
        return same_mark(stored.mark, id, me, &req);
    }
    let r = Reader::by_slug(&state, user, &slug).await?;
    let person = state.db.register_person(id).await?.ok_or(Error::NotFound)?;
    if person.municipality != r.municipality.id {
        return Err(Error::NotFound);
    }
    let rooms = r.linked_rooms(&state).await?;
    let sees_now = r.sees(&person, &rooms);
    let now = state.clock.now_ms();
    let note = match rule::check_mark(&req, now) {
        Ok(note) => note,
        Err(_) if !sees_now => return Err(Error::NotFound),
        Err(p) => return Err(Error::BadRequest(p.to_string())),
    };
    // The disaster the mark was made in: one that has ended since (made offline, synced
    // late), or the one in force — also for a mark made just before it was declared (a
    // responder out before the declaration, a device's clock behind).
    let made_in = match state
        .db
        .disaster_at(r.municipality.id, req.marked_at)
        .await?
    {
        Some(d) => Some(d),
        None => r
            .disaster
            .as_ref()
            .map(|c| crate::db::register::DisasterSpan {
                id: c.id,
                started_at: c.started_at,
                ended_at: None,
                partners: c.partners.clone(),
            }),
    };
    let Some(d) = made_in else {
        // Nobody learns of a register they do not see from the answer.
        return Err(if sees_now {
            Error::Conflict
        } else {
            Error::NotFound
        });
    };
    let current = r.disaster.as_ref().is_some_and(|c| c.id == d.id);
    // Who may mark is judged as things stood in that disaster: its partners, a current
    // entry (one retired since is not marked).
    let scope = if current {
        r.scope
    } else {
        let agreements = if r.user.municipality != r.municipality.id {
            state.db.agreements_in_force().await?
        } else {
            Default::default()
        };
        rule::scope(
            &r.standing,
            &r.municipality.id,
            Some(&InForce {
                partners: d.partners.clone(),
            }),
            &agreements,
        )
    };
    if !rule::sees(
        scope,
        EntryFacts {
            in_linked_room: false,
            ..facts(&person)
        },
    ) && !sees_now
    {
        return Err(Error::NotFound);
    }
    if !rule::may_mark(r.standing.responder, scope, true, person.retired) {
        return Err(Error::Forbidden);
    }
    let stored = state
        .db
        .add_safety_mark(
            &req.id,
            id,
            d.id,
            req.status,
            &note,
            req.marked_at,
            me,
            &r.entry(
                AuditAction::RegisterSafetyMark,
                format!("register_person/{id}"),
            )
            .detail(if current {
                req.status.as_str().to_owned()
            } else {
                format!("{} late disaster={}", req.status, d.id)
            }),
        )
        .await?;
    if !stored.new {
        // Sent twice at once: the other request stored it.
        return same_mark(stored.mark, id, me, &req);
    }
    if current {
        announce_mark(&state, &person, &stored.mark).await;
    }
    Ok((StatusCode::CREATED, Json(stored.mark)))
}

/// Tells everyone who sees `person` now (on a live `/ws` socket) of a new mark.
async fn announce_mark(state: &AppState, person: &RegisterPerson, mark: &SafetyMark) {
    let Ok(json) = serde_json::to_string(mark) else {
        return;
    };
    let users = audience_or_nobody(
        state,
        person.municipality,
        Some((person.id, &[facts(person)])),
    )
    .await;
    state.hub.tell(
        users,
        &Frame::RegisterMarked {
            municipality: person.municipality,
            mark: json,
        },
    );
}

/// The answer to a mark whose id is already stored: the same mark again is 200; another
/// mark under that id (another person, author or status) is a conflict.
fn same_mark(
    stored: SafetyMark,
    person: RegisterPersonId,
    me: UserId,
    req: &NewSafetyMark,
) -> Result<(StatusCode, Json<SafetyMark>)> {
    if stored.person == person && stored.by == me && stored.status == req.status {
        Ok((StatusCode::OK, Json(stored)))
    } else {
        Err(Error::Conflict)
    }
}

/// The registers I see now: my own municipality's (when my scope there is not
/// nothing) and each partner municipality's that granted mine access in its 災害モード.
#[utoipa::path(get, path = "/api/registers", tag = "register",
    responses((status = 200, body = Vec<RegisterLink>),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn registers(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<RegisterLink>>> {
    let mut ids = vec![user.municipality];
    ids.extend(
        state
            .db
            .registers_granting(user.municipality)
            .await?
            .into_iter()
            .filter(|m| *m != user.municipality),
    );
    let mut out = Vec::new();
    for id in ids {
        let Some(m) = state.db.municipality(id).await? else {
            continue;
        };
        let r = Reader::new(&state, user.clone(), m).await?;
        if r.scope == RegisterScope::Nothing {
            continue;
        }
        out.push(RegisterLink {
            municipality: r.municipality.id,
            slug: r.municipality.slug.clone(),
            name: r.municipality.name.clone(),
            scope: r.scope,
            disaster: r.disaster.is_some(),
        });
    }
    Ok(Json(out))
}

/// How many of the people I see are in each status, by colour (in normal times everyone
/// counts as 未確認: there is no safety check outside 災害モード).
#[utoipa::path(get, path = "/api/register/{slug}/summary", tag = "register",
    params(("slug" = String, Path)),
    responses((status = 200, body = RegisterSummary),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn summary(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<RegisterSummary>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    let rooms = r.linked_rooms(&state).await?;
    let mut people: Vec<RegisterPerson> = state
        .db
        .register_people(r.municipality.id, false)
        .await?
        .into_iter()
        .filter(|p| r.sees(p, &rooms))
        .collect();
    with_safety(&state, r.disaster.as_ref(), &mut people).await?;
    let mut cells = Vec::new();
    for &status in SafetyStatus::ALL {
        for &label in LabelColour::ALL {
            let count = people
                .iter()
                .filter(|p| {
                    p.fields.label == label
                        && p.safety
                            .as_ref()
                            .map_or(SafetyStatus::Unconfirmed, |s| s.status)
                            == status
                })
                .count();
            cells.push(SummaryCell {
                status,
                label,
                count: count as i64,
            });
        }
    }
    Ok(Json(RegisterSummary {
        total: people.len() as i64,
        cells,
    }))
}

/// Reads the 名簿 from a CSV file (UTF-8 or Shift_JIS, a header row; the columns are in
/// `docs/assistance-register.md`) into the register (managers). Every row is checked first;
/// any problem refuses the whole file (422, every problem by row and column, nothing
/// written). Otherwise one transaction: a row whose 宛名番号 is already an entry updates it,
/// others are new; the report lists what changed. `dry_run=true` reports without writing.
#[utoipa::path(post, path = "/api/register/{slug}/import", tag = "register",
    params(("slug" = String, Path), RegisterImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The 名簿, UTF-8 or Shift_JIS"),
    responses((status = 200, body = RegisterImportReport),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 413, description = "Over the API's body limit", body = crate::error::ErrorBody),
              (status = 422, description = "Problems: nothing imported", body = RegisterImportReport)),
    security(("session" = []), ("cookie" = [])))]
pub async fn import_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<RegisterImportQuery>,
    body: std::result::Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<RegisterImportReport>)> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    r.require_edit()?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::BodyTooLarge,
        _ => Error::BadRequest(e.body_text()),
    })?;
    let target = format!("register/{}", r.municipality.id);
    let rows = crate::register_csv::decode(&body)
        .map_err(|p| vec![p])
        .and_then(|text| crate::register_csv::read(&text));
    let rows = match rows {
        Ok(rows) => rows,
        Err(problems) => {
            state
                .db
                .audit(
                    r.entry(AuditAction::RegisterImport, target)
                        .detail(format!("refused problems={}", problems.len())),
                )
                .await?;
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(RegisterImportReport {
                    dry_run: true,
                    created: vec![],
                    updated: vec![],
                    unchanged: 0,
                    problems,
                }),
            ));
        }
    };
    let entry = r.entry(AuditAction::RegisterImport, target);
    let report = state
        .db
        .import_register(r.municipality.id, &rows, query.dry_run, &entry)
        .await?;
    if !query.dry_run && (!report.created.is_empty() || !report.updated.is_empty()) {
        announce_changed(&state, r.municipality.id).await;
    }
    if query.dry_run {
        state
            .db
            .audit(entry.detail(format!(
                "dry_run rows={} created={} updated={} unchanged={}",
                rows.len(),
                report.created.len(),
                report.updated.len(),
                report.unchanged
            )))
            .await?;
    }
    Ok((StatusCode::OK, Json(report)))
}

/// The entries I see, filtered as the list is, as CSV for Excel (UTF-8 with a byte-order
/// mark, the import's columns; managers also get retired ones with `retired=true`). Audited
/// with the count and the filters.
#[utoipa::path(get, path = "/api/register/{slug}/export", tag = "register",
    params(("slug" = String, Path), RegisterQuery),
    responses((status = 200, description = "text/csv, UTF-8 with BOM", body = String),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn export_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<RegisterQuery>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_any()?;
    let people = listed(&state, &r, &query).await?;
    let body = crate::register_csv::write(&people)
        .map_err(|e| Error::internal(format!("writing CSV: {e}")))?;
    state
        .db
        .audit(
            r.entry(
                AuditAction::RegisterExport,
                format!("register/{}", r.municipality.id),
            )
            .detail(format!("count={} {}", people.len(), filters(&query)).trim_end()),
        )
        .await?;
    let disposition = format!(
        "attachment; filename=\"renraku-register-{}.csv\"",
        r.municipality.id
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// The filters of a list or export, for its audit entry (the search words by length only:
/// they may be a name).
fn filters(q: &RegisterQuery) -> String {
    let mut out = Vec::new();
    if let Some(l) = q.label {
        out.push(format!("label={l}"));
    }
    if let Some(s) = q.status {
        out.push(format!("status={s}"));
    }
    if q.area.is_some() {
        out.push("area".to_owned());
    }
    if let Some(k) = q.reason {
        out.push(format!("reason={k}"));
    }
    if let Some(t) = &q.q {
        out.push(format!("q_chars={}", t.chars().count()));
    }
    if q.retired == Some(true) {
        out.push("retired".to_owned());
    }
    out.join(" ")
}
