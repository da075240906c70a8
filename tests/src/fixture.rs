//! A fixture builder: municipalities, users and rooms made through the server's own `Db`
//! functions, without the demo seed, so a test says what it needs:
//!
//! ```ignore
//! let (server, f) = Fixture::new()
//!     .municipality("a")
//!     .municipality("b")
//!     .user("a", "nurse", Role::Member)
//!     .user("b", "boss", Role::MunicipalityAdmin)
//!     .room("a", "care", &["nurse"])
//!     .start()
//!     .await;
//! let token = f.signin(&server, "nurse").await;
//! ```
//!
//! Every user's password is [`FIXTURE_PASSWORD`]; rooms are project rooms (no patient
//! data). Names are the slugs and logins themselves.

use crate::{signin_request, TestServer};
use renraku_server::db::users::{NewUser, Profession, Role};
use renraku_server::db::Db;
use renraku_sync::{MunicipalityId, RoomId, RoomKind, UserId};
use serde_json::json;
use std::collections::BTreeMap;

/// The password of every fixture user (also a needle for the log canary).
pub const FIXTURE_PASSWORD: &str = "fixture-pass-7Qm2";

struct UserSpec {
    municipality: String,
    login: String,
    role: Role,
    profession: Profession,
}

struct RoomSpec {
    municipality: String,
    title: String,
    members: Vec<String>,
}

/// What to make; see the module documentation.
#[derive(Default)]
#[must_use]
pub struct Fixture {
    municipalities: Vec<String>,
    users: Vec<UserSpec>,
    rooms: Vec<RoomSpec>,
}

/// What [`Fixture::build`] made, by slug, login and room title.
#[derive(Clone, Debug, Default)]
pub struct Built {
    pub municipalities: BTreeMap<String, MunicipalityId>,
    pub users: BTreeMap<String, UserId>,
    /// Each user's municipality slug, for signing in.
    pub homes: BTreeMap<String, String>,
    pub rooms: BTreeMap<String, RoomId>,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::default()
    }

    /// A municipality with this slug (its name is the slug too).
    pub fn municipality(mut self, slug: &str) -> Fixture {
        self.municipalities.push(slug.to_owned());
        self
    }

    /// A nurse of municipality `slug` with this login and role.
    pub fn user(self, slug: &str, login: &str, role: Role) -> Fixture {
        self.professional(slug, login, role, Profession::Nurse)
    }

    /// Like [`Fixture::user`], with a profession.
    pub fn professional(
        mut self,
        slug: &str,
        login: &str,
        role: Role,
        profession: Profession,
    ) -> Fixture {
        self.users.push(UserSpec {
            municipality: slug.to_owned(),
            login: login.to_owned(),
            role,
            profession,
        });
        self
    }

    /// A project room of municipality `slug` titled `title`, with these logins as members
    /// (added as the server adds them, so the tenancy rule applies).
    pub fn room(mut self, slug: &str, title: &str, members: &[&str]) -> Fixture {
        self.rooms.push(RoomSpec {
            municipality: slug.to_owned(),
            title: title.to_owned(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        });
        self
    }

    /// Makes everything in `db`. A slug, login or title the fixture names but never made
    /// (and is not in the database either) panics, naming it.
    pub async fn build(self, db: &Db) -> Built {
        crate::logs::record_secret(FIXTURE_PASSWORD);
        let mut built = Built::default();
        for slug in &self.municipalities {
            let id = db.create_municipality(slug, slug).await.unwrap();
            built.municipalities.insert(slug.clone(), id);
        }
        let hash = if self.users.is_empty() {
            String::new()
        } else {
            // One hash for everyone: argon2 is slow on purpose.
            renraku_server::auth::hash_password(FIXTURE_PASSWORD.into())
                .await
                .unwrap()
        };
        for u in &self.users {
            let municipality = municipality_id(db, &built, &u.municipality).await;
            let id = db
                .create_user(&NewUser {
                    municipality,
                    organization: None,
                    login_id: &u.login,
                    password_hash: &hash,
                    display_name: &u.login,
                    display_name_kana: &u.login,
                    profession: u.profession,
                    role: u.role,
                })
                .await
                .unwrap();
            built.users.insert(u.login.clone(), id);
            built.homes.insert(u.login.clone(), u.municipality.clone());
        }
        for r in &self.rooms {
            let municipality = municipality_id(db, &built, &r.municipality).await;
            let room = db
                .create_room(municipality, RoomKind::Project, &r.title, None)
                .await
                .unwrap();
            for login in &r.members {
                let user = *built
                    .users
                    .get(login)
                    .unwrap_or_else(|| panic!("fixture room {}: no user {login}", r.title));
                db.add_member(room, user, "member", None).await.unwrap();
            }
            built.rooms.insert(r.title.clone(), room);
        }
        built
    }

    /// Starts a server without the demo data (on the running test's backend) and builds
    /// this fixture in it.
    pub async fn start(self) -> (TestServer, Built) {
        let server = TestServer::start_with(|c| c.demo = false).await;
        let built = self.build(server.db()).await;
        (server, built)
    }
}

async fn municipality_id(db: &Db, built: &Built, slug: &str) -> MunicipalityId {
    if let Some(id) = built.municipalities.get(slug) {
        return *id;
    }
    db.municipality_by_slug(slug)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("fixture: no municipality {slug}"))
        .id
}

impl Built {
    pub fn user(&self, login: &str) -> UserId {
        *self
            .users
            .get(login)
            .unwrap_or_else(|| panic!("fixture: no user {login}"))
    }

    pub fn room(&self, title: &str) -> RoomId {
        *self
            .rooms
            .get(title)
            .unwrap_or_else(|| panic!("fixture: no room {title}"))
    }

    pub fn municipality(&self, slug: &str) -> MunicipalityId {
        *self
            .municipalities
            .get(slug)
            .unwrap_or_else(|| panic!("fixture: no municipality {slug}"))
    }

    /// Signs `login` in at its municipality with the fixture password; returns the whole
    /// answer (panics unless it is a success).
    pub async fn signin_answer(&self, server: &TestServer, login: &str) -> serde_json::Value {
        let slug = self
            .homes
            .get(login)
            .unwrap_or_else(|| panic!("fixture: no user {login}"));
        let body = json!({ "login_id": login, "password": FIXTURE_PASSWORD });
        let response = signin_request(&server.base_url(), slug, &body)
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "fixture sign-in of {login}: {}",
            response.status()
        );
        let answer: serde_json::Value = response.json().await.unwrap();
        if let Some(token) = answer["session_token"].as_str() {
            crate::logs::record_secret(token);
        }
        answer
    }

    /// Signs `login` in; returns the session token.
    pub async fn signin(&self, server: &TestServer, login: &str) -> String {
        self.signin_answer(server, login).await["session_token"]
            .as_str()
            .unwrap_or_else(|| panic!("fixture sign-in of {login}: no session token"))
            .to_owned()
    }
}
