//! 駐車場 (issue 17): parking spaces lent to visiting staff, under `/api/parking/{slug}/…`.
//! The handlers gather the facts (the user's standing, the organisation's approval, the
//! agreements the municipality opened its parking into) and ask `domain/parking.rs`; a
//! municipality whose parking the user has no part in is 404, as if it had none, and so is a
//! space or booking they do not see. Every change is audited (`parking.*`), filed under the
//! parking's municipality. No booking holds a patient or a room, so no answer can name one.
//! The endpoints and the rules are written up in `docs/parking.md`.

use crate::auth::CurrentUser;
use crate::db::audit::AuditEntry;
use crate::db::municipalities::Municipality;
use crate::db::parking::StoredBooking;
use crate::db::users::Role;
use crate::domain::audit::AuditAction;
use crate::domain::parking::{self as rule, Reach, Refusal, Standing};
use crate::error::{Error, Result};
use crate::http::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use renraku_contract::{
    AgreementId, ApprovedOrganization, Availability, Booking, BookingId, BookingStatus, DayQuery,
    FreeWindows, Lender, LenderId, NearbyQuery, NearbySpace, NewBooking, NewLender, NewSpace,
    NewTrouble, ParkingOverview, ParkingPoint, RangeQuery, SetFlag, SetPaused, Space, SpaceId,
    SpaceMonth, Trouble, TroubleSide,
};
use renraku_sync::{MunicipalityId, OrganizationId, UserId};

pub mod choices;
pub mod photo;

/// The asking user and what they are to one municipality's parking.
struct Reader {
    user: CurrentUser,
    municipality: Municipality,
    standing: Standing<MunicipalityId>,
    reach: Reach<MunicipalityId>,
    /// The lender records this account is.
    lenders: Vec<LenderId>,
}

impl Reader {
    /// The reader of `slug`'s parking; 404 for a user who has no part in it.
    async fn by_slug(state: &AppState, user: CurrentUser, slug: &str) -> Result<Reader> {
        let municipality = state
            .db
            .municipality_by_slug(slug)
            .await?
            .ok_or(Error::NotFound)?;
        let m = municipality.id;
        let manager = user.municipality == m && state.db.parking_manager(user.id).await?;
        let lenders = state.db.lenders_of_user(m, user.id).await?;
        let approved = match user.organization {
            Some(org) => state.db.parking_approved(m, org).await?,
            None => false,
        };
        // The agreements matter only to an approved organisation's staff from elsewhere.
        let reach = if approved && user.municipality != m {
            state.db.parking_reach(m).await?
        } else {
            Reach::default()
        };
        let standing = Standing {
            home: user.municipality,
            admin: matches!(user.role, Role::MunicipalityAdmin | Role::SystemAdmin),
            manager,
            lender: !lenders.is_empty(),
            approved,
        };
        if !standing.sees_any(&m, &reach) {
            return Err(Error::NotFound);
        }
        Ok(Reader {
            user,
            municipality,
            standing,
            reach,
            lenders,
        })
    }

    fn m(&self) -> MunicipalityId {
        self.municipality.id
    }

    fn manages(&self) -> bool {
        self.standing.manages(&self.m())
    }

    fn books(&self) -> bool {
        self.standing.books(&self.m(), &self.reach)
    }

    fn lends(&self, space: &Space) -> bool {
        self.lenders.contains(&space.fields.lender)
    }

    fn require_manage(&self) -> Result<()> {
        self.manages().then_some(()).ok_or(Error::Forbidden)
    }

    fn require_admin(&self) -> Result<()> {
        self.standing
            .administers(&self.m())
            .then_some(())
            .ok_or(Error::Forbidden)
    }

    /// The user's organisation, when it may book here.
    fn booking_organization(&self) -> Result<OrganizationId> {
        match self.user.organization {
            Some(org) if self.books() => Ok(org),
            _ => Err(Error::Forbidden),
        }
    }

    fn entry(&self, action: AuditAction, target: impl Into<String>) -> AuditEntry {
        let mut entry = AuditEntry::new(action, target);
        entry.user = Some(self.user.id);
        entry.municipality = Some(self.m());
        entry
    }

    /// A space of this municipality the reader sees: the city and its lender always,
    /// bookers every space (a paused one shows as paused), else 404.
    async fn space(&self, state: &AppState, id: SpaceId) -> Result<Space> {
        let space = state.db.parking_space(id).await?.ok_or(Error::NotFound)?;
        if space.municipality != self.m() {
            return Err(Error::NotFound);
        }
        if self.manages() || self.lends(&space) || self.books() {
            Ok(space)
        } else {
            Err(Error::NotFound)
        }
    }

    /// A booking of this municipality the reader sees: their own, the city's, or one of
    /// the lender's spaces; else 404.
    async fn booking(&self, state: &AppState, id: BookingId) -> Result<(StoredBooking, Space)> {
        let b = state.db.parking_booking(id).await?.ok_or(Error::NotFound)?;
        if b.municipality != self.m() {
            return Err(Error::NotFound);
        }
        let space = state
            .db
            .parking_space(b.booking.space)
            .await?
            .ok_or(Error::NotFound)?;
        if b.user == self.user.id || self.manages() || self.lends(&space) {
            Ok((b, space))
        } else {
            Err(Error::NotFound)
        }
    }
}

/// What the booker's own list shows; a lender's or the city's view has no booker.
fn own(b: StoredBooking) -> Booking {
    Booking {
        user: Some(b.user),
        ..b.booking
    }
}

fn others(b: StoredBooking) -> Booking {
    b.booking
}

fn bad(message: String) -> Error {
    Error::BadRequest(message)
}

/// The day asked for (`YYYY-MM-DD`), or today in Japan.
fn day(query: &DayQuery, now: i64) -> Result<i64> {
    match query.date.as_deref() {
        None => Ok(rule::jst_day(now)),
        Some(d) => rule::day_of_date(d.trim()).ok_or_else(|| bad("date is not YYYY-MM-DD".into())),
    }
}

/// What I am to this municipality's parking.
#[utoipa::path(get, path = "/api/parking/{slug}", tag = "parking",
    params(("slug" = String, Path)),
    responses((status = 200, body = ParkingOverview),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, description = "No such municipality, or its parking is none of mine", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn overview(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ParkingOverview>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    Ok(Json(ParkingOverview {
        municipality: r.m(),
        municipality_name: r.municipality.name.clone(),
        manager: r.manages(),
        admin: r.standing.administers(&r.m()),
        lender_of: r.lenders.clone(),
        booker: r.books(),
    }))
}

/// Designates (or undesignates) a user of the municipality a parking manager
/// (administrators).
#[utoipa::path(put, path = "/api/parking/{slug}/managers/{user}", tag = "parking",
    params(("slug" = String, Path), ("user" = i64, Path)),
    request_body = SetFlag,
    responses((status = 204), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_manager(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, target)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<SetFlag>,
) -> Result<StatusCode> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_admin()?;
    let target = UserId::new(target);
    let u = state.db.user(target).await?.ok_or(Error::NotFound)?;
    if u.municipality != r.m() {
        return Err(Error::NotFound);
    }
    state
        .db
        .set_parking_manager(
            target,
            req.on,
            &r.entry(AuditAction::ParkingManager, format!("user/{target}"))
                .detail(format!("manager={}", req.on)),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens (or closes) this municipality's parking to the other members of a wide-area
/// agreement it is in (administrators). An agreement alone shares rooms, not parking.
#[utoipa::path(put, path = "/api/parking/{slug}/agreements/{id}", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = SetFlag,
    responses((status = 204), (status = 403, body = crate::error::ErrorBody),
              (status = 404, description = "No such agreement, or the municipality is not in it", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn share_with_agreement(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<SetFlag>,
) -> Result<StatusCode> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_admin()?;
    let id = AgreementId(id);
    let agreement = state.db.agreement(id).await?.ok_or(Error::NotFound)?;
    if !agreement.members.contains(&r.m()) {
        return Err(Error::NotFound);
    }
    state
        .db
        .set_parking_share(
            id,
            r.m(),
            req.on,
            &r.entry(
                AuditAction::ParkingAgreementShare,
                format!("agreement/{id}"),
            )
            .detail(format!("shares={}", req.on)),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organisations approved for booking (the city).
#[utoipa::path(get, path = "/api/parking/{slug}/organizations", tag = "parking",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<ApprovedOrganization>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_approvals(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<ApprovedOrganization>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    Ok(Json(state.db.parking_approvals(r.m()).await?))
}

async fn set_approval(
    state: &AppState,
    user: CurrentUser,
    slug: &str,
    org: i64,
    on: bool,
) -> Result<StatusCode> {
    let r = Reader::by_slug(state, user, slug).await?;
    r.require_manage()?;
    let org = OrganizationId::new(org);
    let home = state
        .db
        .organization_municipality(org)
        .await?
        .ok_or(Error::NotFound)?;
    // Only an organisation whose staff could use the approval: of this municipality, or of
    // one in an agreement this municipality opened its parking into.
    if on && home != r.m() && !state.db.parking_reach(r.m()).await?.admits(&r.m(), &home) {
        return Err(Error::BadRequest(
            "the organisation is of a municipality this one shares no parking with".into(),
        ));
    }
    let action = if on {
        AuditAction::ParkingOrganizationApprove
    } else {
        AuditAction::ParkingOrganizationRevoke
    };
    state
        .db
        .set_parking_approval(
            r.m(),
            org,
            on,
            r.user.id,
            &r.entry(action, format!("organization/{org}")),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Approves an organisation: its staff may book (the city).
#[utoipa::path(put, path = "/api/parking/{slug}/organizations/{org}", tag = "parking",
    params(("slug" = String, Path), ("org" = i64, Path)),
    responses((status = 204), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, org)): ApiPath<(String, i64)>,
) -> Result<StatusCode> {
    set_approval(&state, user, &slug, org, true).await
}

/// Withdraws an organisation's approval; bookings made stay (the city).
#[utoipa::path(delete, path = "/api/parking/{slug}/organizations/{org}", tag = "parking",
    params(("slug" = String, Path), ("org" = i64, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, org)): ApiPath<(String, i64)>,
) -> Result<StatusCode> {
    set_approval(&state, user, &slug, org, false).await
}

/// A lender's fields checked, and their account a user of this municipality.
async fn checked_lender(state: &AppState, r: &Reader, l: &NewLender) -> Result<NewLender> {
    let l = rule::check_lender(l).map_err(bad)?;
    if let Some(u) = l.user {
        let ok = state
            .db
            .user(u)
            .await?
            .is_some_and(|u| u.municipality == r.m() && !u.disabled);
        if !ok {
            return Err(bad("user is not an account of this municipality".into()));
        }
    }
    Ok(l)
}

/// The lenders (the city).
#[utoipa::path(get, path = "/api/parking/{slug}/lenders", tag = "parking",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Lender>), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_lenders(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<Lender>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    Ok(Json(state.db.parking_lenders(r.m()).await?))
}

/// Registers a lender, usually on their behalf (the city).
#[utoipa::path(post, path = "/api/parking/{slug}/lenders", tag = "parking",
    params(("slug" = String, Path)),
    request_body = NewLender,
    responses((status = 201, body = Lender), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_lender(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewLender>,
) -> Result<(StatusCode, Json<Lender>)> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    let fields = checked_lender(&state, &r, &req).await?;
    let id = state
        .db
        .create_parking_lender(
            r.m(),
            &fields,
            &r.entry(AuditAction::ParkingLenderCreate, ""),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Lender { id, fields })))
}

/// Replaces a lender's fields (the city).
#[utoipa::path(put, path = "/api/parking/{slug}/lenders/{id}", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = NewLender,
    responses((status = 200, body = Lender), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_lender(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<NewLender>,
) -> Result<Json<Lender>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    let id = LenderId(id);
    if state.db.parking_lender_municipality(id).await? != Some(r.m()) {
        return Err(Error::NotFound);
    }
    let fields = checked_lender(&state, &r, &req).await?;
    state
        .db
        .update_parking_lender(
            id,
            &fields,
            &r.entry(
                AuditAction::ParkingLenderUpdate,
                format!("parking_lender/{id}"),
            ),
        )
        .await?;
    Ok(Json(Lender { id, fields }))
}

/// The spaces: every one for the city, a lender's own for a lender.
#[utoipa::path(get, path = "/api/parking/{slug}/spaces", tag = "parking",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Space>), (status = 403, description = "A booker: use nearby", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_spaces(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<Space>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let spaces = if r.manages() {
        state.db.parking_spaces(r.m(), None).await?
    } else if !r.lenders.is_empty() {
        state.db.parking_spaces(r.m(), Some(&r.lenders)).await?
    } else {
        return Err(Error::Forbidden);
    };
    Ok(Json(spaces))
}

/// A space's fields checked, its lender one of this municipality's.
async fn checked_space(state: &AppState, r: &Reader, s: &NewSpace) -> Result<NewSpace> {
    let s = rule::check_space(s).map_err(bad)?;
    if state.db.parking_lender_municipality(s.lender).await? != Some(r.m()) {
        return Err(bad("lender is not a lender of this municipality".into()));
    }
    Ok(s)
}

/// Registers a space (active, with no availability until it is set) (the city).
#[utoipa::path(post, path = "/api/parking/{slug}/spaces", tag = "parking",
    params(("slug" = String, Path)),
    request_body = NewSpace,
    responses((status = 201, body = Space), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_space(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewSpace>,
) -> Result<(StatusCode, Json<Space>)> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    let fields = checked_space(&state, &r, &req).await?;
    let id = state
        .db
        .create_parking_space(
            r.m(),
            &fields,
            &r.entry(AuditAction::ParkingSpaceCreate, ""),
        )
        .await?;
    let space = state.db.parking_space(id).await?.ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(space)))
}

/// One space, with its availability.
#[utoipa::path(get, path = "/api/parking/{slug}/spaces/{id}", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Space), (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn get_space(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<Json<Space>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    Ok(Json(r.space(&state, SpaceId(id)).await?))
}

/// Replaces a space's fields (the city).
#[utoipa::path(put, path = "/api/parking/{slug}/spaces/{id}", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = NewSpace,
    responses((status = 200, body = Space), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_space(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<NewSpace>,
) -> Result<Json<Space>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let id = SpaceId(id);
    r.space(&state, id).await?;
    r.require_manage()?;
    let fields = checked_space(&state, &r, &req).await?;
    state
        .db
        .update_parking_space(
            id,
            &fields,
            &r.entry(
                AuditAction::ParkingSpaceUpdate,
                format!("parking_space/{id}"),
            ),
        )
        .await?;
    Ok(Json(
        state.db.parking_space(id).await?.ok_or(Error::NotFound)?,
    ))
}

/// Pauses or resumes a space (the city, or its lender). A pause refuses new bookings; the
/// bookers of those ahead are told by push.
#[utoipa::path(put, path = "/api/parking/{slug}/spaces/{id}/paused", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = SetPaused,
    responses((status = 200, body = Space), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_paused(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<SetPaused>,
) -> Result<Json<Space>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let id = SpaceId(id);
    let space = r.space(&state, id).await?;
    if !(r.manages() || r.lends(&space)) {
        return Err(Error::Forbidden);
    }
    let action = if req.paused {
        AuditAction::ParkingSpacePause
    } else {
        AuditAction::ParkingSpaceResume
    };
    state
        .db
        .set_parking_paused(
            id,
            req.paused,
            state.clock.now_ms(),
            &r.entry(action, format!("parking_space/{id}")),
        )
        .await?;
    Ok(Json(
        state.db.parking_space(id).await?.ok_or(Error::NotFound)?,
    ))
}

/// Replaces a space's weekly windows and exceptions (the city). Bookings made stay.
#[utoipa::path(put, path = "/api/parking/{slug}/spaces/{id}/availability", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body = Availability,
    responses((status = 200, body = Space), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_availability(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiJson(req): ApiJson<Availability>,
) -> Result<Json<Space>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let id = SpaceId(id);
    r.space(&state, id).await?;
    r.require_manage()?;
    let a = rule::check_availability(&req).map_err(bad)?;
    state
        .db
        .set_parking_availability(
            id,
            &a,
            &r.entry(
                AuditAction::ParkingSpaceAvailability,
                format!("parking_space/{id}"),
            ),
        )
        .await?;
    Ok(Json(
        state.db.parking_space(id).await?.ok_or(Error::NotFound)?,
    ))
}

/// Active spaces near a point, nearest first, with the straight-line distance and an
/// estimated walk (distance × 1.3 at 80 m a minute) (bookers and the city).
#[utoipa::path(get, path = "/api/parking/{slug}/spaces/nearby", tag = "parking",
    params(("slug" = String, Path), NearbyQuery),
    responses((status = 200, body = Vec<NearbySpace>), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn nearby(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<NearbyQuery>,
) -> Result<Json<Vec<NearbySpace>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    if !(r.books() || r.manages()) {
        return Err(Error::Forbidden);
    }
    let radius = rule::radius(q.radius_m).map_err(bad)?;
    let on_earth = q.lat.is_finite()
        && q.lon.is_finite()
        && (-90.0..=90.0).contains(&q.lat)
        && (-180.0..=180.0).contains(&q.lon);
    if !on_earth {
        return Err(bad("lat and lon must be a point on Earth".into()));
    }
    let here = ParkingPoint {
        latitude: q.lat,
        longitude: q.lon,
    };
    let mut out: Vec<NearbySpace> = state
        .db
        .parking_spaces(r.m(), None)
        .await?
        .into_iter()
        .filter(|s| !s.paused)
        .filter_map(|space| {
            let distance_m = rule::distance_m(here, space.fields.location);
            (distance_m <= radius).then(|| NearbySpace {
                walk_min: rule::walk_min(distance_m),
                distance_m: distance_m.round(),
                space,
            })
        })
        .collect();
    out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    Ok(Json(out))
}

/// A space's free windows on a day (Japan time): available and not booked.
#[utoipa::path(get, path = "/api/parking/{slug}/spaces/{id}/free", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path), DayQuery),
    responses((status = 200, body = FreeWindows), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn free(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> Result<Json<FreeWindows>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let space = r.space(&state, SpaceId(id)).await?;
    let day = day(&q, state.clock.now_ms())?;
    let free = if space.paused {
        vec![]
    } else {
        let booked: Vec<(i64, i64)> = state
            .db
            .parking_bookings_of_space(space.id, rule::day_start(day), rule::day_start(day + 1))
            .await?
            .iter()
            .filter(|b| b.booking.status != BookingStatus::Cancelled)
            .map(|b| (b.booking.start, b.booking.end))
            .collect();
        rule::free_on(&space.availability, &booked, day)
    };
    Ok(Json(FreeWindows {
        space: space.id,
        date: rule::date_of_day(day),
        free,
    }))
}

/// A space's bookings in a range — the organisation, the plate and the time, nothing about
/// whom a visit was for (the city, and the space's lender).
#[utoipa::path(get, path = "/api/parking/{slug}/spaces/{id}/bookings", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path), RangeQuery),
    responses((status = 200, body = Vec<Booking>), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn space_bookings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<Booking>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let space = r.space(&state, SpaceId(id)).await?;
    if !(r.manages() || r.lends(&space)) {
        return Err(Error::Forbidden);
    }
    let today = rule::day_start(rule::jst_day(state.clock.now_ms()));
    let from = q.from.unwrap_or(today);
    let to = q.to.unwrap_or(today + 31 * rule::DAY_MS);
    Ok(Json(
        state
            .db
            .parking_bookings_of_space(space.id, from, to)
            .await?
            .into_iter()
            .map(others)
            .collect(),
    ))
}

/// Books a window of a space for my organisation's visit (staff of an approved
/// organisation). 409 names the booking in the way (its time and organisation); 422 says
/// the window is outside the space's hours.
#[utoipa::path(post, path = "/api/parking/{slug}/bookings", tag = "parking",
    params(("slug" = String, Path)),
    request_body = NewBooking,
    responses((status = 201, body = Booking), (status = 400, body = crate::error::ErrorBody),
              (status = 403, description = "My organisation is not approved here", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "booking_conflict: overlaps a booking, named", body = crate::error::ErrorBody),
              (status = 422, description = "outside_availability: outside the space's hours, or paused", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn book(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewBooking>,
) -> Result<(StatusCode, Json<Booking>)> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let org = r.booking_organization()?;
    let space = r.space(&state, req.space).await?;
    let now = state.clock.now_ms();
    // Checked on the space as the booking's transaction reads it, not as read here.
    let check = |current: &Space| {
        rule::check_booking(&req, &current.availability, current.paused, now).map_err(|refusal| {
            match refusal {
                Refusal::Field(why) => Error::BadRequest(why),
                Refusal::Unavailable(why) => Error::OutsideAvailability(why),
            }
        })
    };
    let id = state
        .db
        .create_parking_booking(
            space.id,
            r.user.id,
            org,
            req.start,
            req.end,
            now,
            check,
            &r.entry(AuditAction::ParkingBookingCreate, "")
                .detail(format!(
                    "space={} {}",
                    space.id,
                    rule::describe_window(req.start, req.end)
                )),
        )
        .await?;
    let b = state.db.parking_booking(id).await?.ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(own(b))))
}

/// My bookings in this municipality on a day (today in Japan when no date is given).
#[utoipa::path(get, path = "/api/parking/{slug}/bookings/mine", tag = "parking",
    params(("slug" = String, Path), DayQuery),
    responses((status = 200, body = Vec<Booking>), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn my_bookings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> Result<Json<Vec<Booking>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let day = day(&q, state.clock.now_ms())?;
    Ok(Json(
        state
            .db
            .parking_bookings_of_user(
                r.m(),
                r.user.id,
                rule::day_start(day),
                rule::day_start(day + 1),
            )
            .await?
            .into_iter()
            .map(own)
            .collect(),
    ))
}

/// Cancels a booking: its whole window is free again (the booker, or the city).
#[utoipa::path(post, path = "/api/parking/{slug}/bookings/{id}/cancel", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Booking), (status = 400, description = "Not booked (cancelled or left already)", body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<Json<Booking>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let id = BookingId(id);
    let (b, _) = r.booking(&state, id).await?;
    if !(b.user == r.user.id || r.manages()) {
        return Err(Error::Forbidden);
    }
    let done = state
        .db
        .cancel_parking_booking(
            id,
            state.clock.now_ms(),
            &r.entry(
                AuditAction::ParkingBookingCancel,
                format!("parking_booking/{id}"),
            ),
        )
        .await?;
    if !done {
        return Err(bad("the booking is not active".into()));
    }
    let b = state.db.parking_booking(id).await?.ok_or(Error::NotFound)?;
    Ok(Json(own(b)))
}

/// Leaving before the booked end: the booking ends now and the rest of the window is free
/// again (the booker, while it is under way).
#[utoipa::path(post, path = "/api/parking/{slug}/bookings/{id}/left-early", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Booking), (status = 400, description = "Not under way", body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn left_early(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<Json<Booking>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let id = BookingId(id);
    let (b, _) = r.booking(&state, id).await?;
    if b.user != r.user.id {
        return Err(Error::Forbidden);
    }
    let now = state.clock.now_ms();
    let done = state
        .db
        .leave_parking_early(
            id,
            now,
            &r.entry(
                AuditAction::ParkingBookingLeftEarly,
                format!("parking_booking/{id}"),
            ),
        )
        .await?;
    if !done {
        return Err(bad(
            "the booking is not under way (use cancel before it starts)".into(),
        ));
    }
    let b = state.db.parking_booking(id).await?.ok_or(Error::NotFound)?;
    Ok(Json(own(b)))
}

/// Reports a trouble to the city (a booker about their booking or a space, a lender about
/// their space or its bookings, or the city itself). Audited; the text is kept for the city.
#[utoipa::path(post, path = "/api/parking/{slug}/troubles", tag = "parking",
    params(("slug" = String, Path)),
    request_body = NewTrouble,
    responses((status = 201, body = Trouble), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn report_trouble(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewTrouble>,
) -> Result<(StatusCode, Json<Trouble>)> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let body = rule::trouble_body(&req.body).map_err(bad)?.to_owned();
    // Which side the reporter is on, from what they name.
    let (space, side) = match (req.booking, req.space) {
        (Some(b), _) => {
            let (b, space) = r.booking(&state, b).await?;
            let side = if b.user == r.user.id {
                TroubleSide::Booker
            } else if r.lends(&space) {
                TroubleSide::Lender
            } else {
                TroubleSide::City
            };
            (Some(space.id), side)
        }
        (None, Some(s)) => {
            let space = r.space(&state, s).await?;
            let side = if r.lends(&space) {
                TroubleSide::Lender
            } else if r.books() {
                TroubleSide::Booker
            } else {
                TroubleSide::City
            };
            (Some(space.id), side)
        }
        (None, None) if r.manages() => (None, TroubleSide::City),
        (None, None) if !r.lenders.is_empty() => (None, TroubleSide::Lender),
        (None, None) if r.books() => (None, TroubleSide::Booker),
        (None, None) => return Err(Error::Forbidden),
    };
    let now = state.clock.now_ms();
    let id = state
        .db
        .create_parking_trouble(
            r.m(),
            space,
            req.booking,
            r.user.id,
            side,
            &body,
            now,
            &r.entry(AuditAction::ParkingTroubleReport, "")
                .detail(format!("side={side}")),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Trouble {
            id,
            space,
            booking: req.booking,
            side,
            reporter: r.user.id,
            reporter_name: r.user.display_name.clone(),
            body,
            created_at: now,
        }),
    ))
}

/// The trouble reports, newest first (the city).
#[utoipa::path(get, path = "/api/parking/{slug}/troubles", tag = "parking",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Trouble>), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_troubles(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<Trouble>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    Ok(Json(state.db.parking_troubles(r.m()).await?))
}

/// Bookings per space per month (Japan time), cancelled ones left out (the city).
#[utoipa::path(get, path = "/api/parking/{slug}/statistics", tag = "parking",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<SpaceMonth>), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn statistics(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<SpaceMonth>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    Ok(Json(state.db.parking_statistics(r.m()).await?))
}
