//! Which organisations the city may approve for parking. A parking manager is usually not
//! an administrator, so the admin list of organisations is not theirs to read; this is the
//! part of it parking needs: the organisations of the municipality and of the municipalities
//! in the agreements it opened its parking into, each with whether it is approved.

use super::Reader;
use crate::auth::CurrentUser;
use crate::error::Result;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use renraku_contract::OrganizationChoice;
use std::collections::HashSet;

/// The organisations the city may approve, its own municipality's first (the city).
#[utoipa::path(get, path = "/api/parking/{slug}/organization-choices", tag = "parking",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<OrganizationChoice>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn organization_choices(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<OrganizationChoice>>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    r.require_manage()?;
    let m = r.m();
    let approved: HashSet<_> = state
        .db
        .parking_approvals(m)
        .await?
        .into_iter()
        .map(|a| a.organization)
        .collect();
    let reach = state.db.parking_reach(m).await?;
    let mut homes = vec![m];
    for (members, shares) in &reach.agreements {
        if *shares {
            for other in members {
                if !homes.contains(other) {
                    homes.push(*other);
                }
            }
        }
    }
    let mut out = Vec::new();
    for home in homes {
        let municipality_name = match state.db.municipality(home).await? {
            Some(muni) => muni.name,
            None => continue,
        };
        for o in state.db.organizations_of(home).await? {
            out.push(OrganizationChoice {
                approved: approved.contains(&o.id),
                organization: o.id,
                name: o.name,
                kind: o.kind,
                municipality: home,
                municipality_name: municipality_name.clone(),
            });
        }
    }
    Ok(Json(out))
}
