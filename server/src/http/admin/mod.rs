//! The administration API (`/api/admin/…`): municipality administrators manage their own
//! municipality's organizations, accounts, patients, rooms, announcements, shared templates
//! (定型文) and audit log; system administrators manage municipalities, agreements,
//! maintenance windows and system-wide announcements, and may act in any municipality.
//!
//! Every route's OpenAPI tag says who may call it — `admin` (a municipality's
//! administrators and system administrators) or `admin_system` (system administrators only)
//! — and the permission-matrix test reads the tags from the document. Every change is
//! audited under the municipality it concerns, so that municipality's administrators see it.

pub mod agreements;
pub mod announcements;
pub mod audit;
pub mod guard;
pub mod maintenance;
pub mod municipalities;
pub mod organizations;
pub mod patients;
pub mod rooms;
pub mod statistics;
pub mod templates;
pub mod users;

pub use guard::Admin;
pub use maintenance::maintenance_guard;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every admin route, for `super::api_routes`.
pub fn routes() -> OpenApiRouter<crate::AppState> {
    OpenApiRouter::new()
        .routes(routes!(municipalities::list_municipalities))
        .routes(routes!(municipalities::create_municipality))
        .routes(routes!(municipalities::update_municipality))
        .routes(routes!(agreements::list_agreements))
        .routes(routes!(agreements::create_agreement))
        .routes(routes!(agreements::join_agreement))
        .routes(routes!(agreements::leave_agreement))
        .routes(routes!(organizations::list_organizations))
        .routes(routes!(organizations::create_organization))
        .routes(routes!(organizations::update_organization))
        .routes(routes!(users::list_users))
        .routes(routes!(users::create_user))
        .routes(routes!(users::update_user))
        .routes(routes!(users::disable_user))
        .routes(routes!(users::enable_user))
        .routes(routes!(users::reset_password))
        .routes(routes!(patients::list_patients))
        .routes(routes!(patients::create_patient))
        .routes(routes!(patients::update_patient))
        .routes(routes!(rooms::list_rooms))
        .routes(routes!(rooms::create_room))
        .routes(routes!(rooms::update_room))
        .routes(routes!(rooms::list_members))
        .routes(routes!(rooms::put_member))
        .routes(routes!(rooms::remove_member))
        .routes(routes!(rooms::candidates))
        .routes(routes!(audit::list_audit))
        .routes(routes!(audit::export_audit_csv))
        .routes(routes!(audit::verify_chain))
        .routes(routes!(announcements::list_announcements))
        .routes(routes!(announcements::create_announcement))
        .routes(routes!(announcements::list_system_announcements))
        .routes(routes!(announcements::create_system_announcement))
        .routes(routes!(announcements::delete_announcement))
        .routes(routes!(maintenance::list_maintenance))
        .routes(routes!(maintenance::create_maintenance))
        .routes(routes!(maintenance::delete_maintenance))
        .routes(routes!(statistics::statistics))
        .routes(routes!(
            templates::list_shared_templates,
            templates::create_shared_template
        ))
        .routes(routes!(
            templates::update_shared_template,
            templates::delete_shared_template
        ))
}
