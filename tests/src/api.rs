//! A typed client for the HTTP API: each call sends and returns `renraku_contract` types, so a
//! test reads `api.me().await?.user.role` instead of `body["user"]["role"]` and a renamed
//! field fails to compile rather than to match.
//!
//! ```ignore
//! let city = Api::signin(&server.base_url(), "demo", "city1", DEMO_PASSWORD).await?;
//! let room = city.admin_create_room("demo", &NewRoom { kind: RoomKind::Project, title: "x".into(), patient: None }).await?;
//! ```
//!
//! A refusal comes back as [`ApiError`] with the status and the server's [`ErrorBody`], for
//! tests that check how the server says no (`err.code() == Some(ErrorCode::Forbidden)`).

use renraku_contract::*;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use renraku_server::demo::DEMO_PASSWORD;

/// A refused or failed call.
#[derive(Debug)]
pub enum ApiError {
    /// The server answered with an error status; `body` is its JSON error, when it sent one.
    Status {
        status: StatusCode,
        body: Option<ErrorBody>,
    },
    /// No answer, or an answer that is not the contract's JSON.
    Transport(String),
}

impl ApiError {
    /// The status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            ApiError::Transport(_) => None,
        }
    }

    /// The error code, when the server sent its JSON error body.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Status { body: Some(b), .. } => Some(b.error),
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Status { status, body } => write!(f, "HTTP {status}: {body:?}"),
            ApiError::Transport(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

/// One signed-in session (or none) against one server.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client that sends `token` as its bearer session.
    pub fn new(base_url: &str, token: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_owned(),
            token: Some(token.to_owned()),
        }
    }

    /// A client without a session.
    pub fn anonymous(base_url: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// Signs in at `municipality`; the client then carries the new session.
    pub async fn signin(
        base_url: &str,
        municipality: &str,
        login_id: &str,
        password: &str,
    ) -> ApiResult<(Api, SigninResponse)> {
        let anonymous = Api::anonymous(base_url);
        let request = SigninRequest {
            login_id: login_id.to_owned(),
            password: password.to_owned(),
            ..Default::default()
        };
        let answer: SigninResponse = anonymous
            .send(
                Method::POST,
                &format!("/api/{municipality}/signin"),
                Some(&request),
            )
            .await?;
        crate::logs::record_secret(&answer.session_token);
        Ok((Api::new(base_url, &answer.session_token), answer))
    }

    /// Signs in a demo professional (municipality `demo`, the demo password).
    pub async fn demo(base_url: &str, login_id: &str) -> ApiResult<Api> {
        Ok(Api::signin(base_url, "demo", login_id, DEMO_PASSWORD)
            .await?
            .0)
    }

    /// The session token this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    /// Sends `body` (if any) as JSON and reads the answer as `T`. `T = ()` accepts an empty
    /// answer (204).
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ApiResult<T> {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Transport(format!("{method} {path}: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(format!("{method} {path}: {e}")))?;
        if !status.is_success() {
            return Err(ApiError::Status {
                status,
                body: serde_json::from_slice(&bytes).ok(),
            });
        }
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::Transport(format!(
                "{method} {path}: not the contract's JSON ({e}): {}",
                String::from_utf8_lossy(bytes)
            ))
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> ApiResult<T> {
        self.send::<(), T>(Method::GET, path, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ApiResult<T> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ApiResult<T> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ApiResult<T> {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> ApiResult<()> {
        self.send::<(), ()>(Method::DELETE, path, None).await
    }

    // ---- the signed-in user ----

    pub async fn me(&self) -> ApiResult<MeResponse> {
        self.get("/api/me").await
    }

    pub async fn signout(&self) -> ApiResult<()> {
        self.send::<(), ()>(Method::POST, "/api/signout", None)
            .await
    }

    pub async fn portal(&self, municipality: &str) -> ApiResult<Portal> {
        self.get(&format!("/api/municipalities/{municipality}"))
            .await
    }

    pub async fn sessions(&self) -> ApiResult<Vec<SessionView>> {
        self.get("/api/me/sessions").await
    }

    pub async fn change_password(&self, current: &str, new: &str) -> ApiResult<()> {
        let body = PasswordChange {
            current: current.to_owned(),
            new: new.to_owned(),
        };
        self.post("/api/me/password", &body).await
    }

    pub async fn push_settings(&self) -> ApiResult<PushStatus> {
        self.get("/api/push/settings").await
    }

    pub async fn set_push_settings(&self, settings: &PushSettings) -> ApiResult<PushStatus> {
        self.post("/api/push/settings", settings).await
    }

    // ---- rooms ----

    pub async fn rooms(&self) -> ApiResult<Vec<RoomSummary>> {
        self.get("/api/rooms").await
    }

    pub async fn room(&self, room: RoomId) -> ApiResult<RoomDetail> {
        self.get(&format!("/api/rooms/{room}")).await
    }

    /// Where the patient of a patient room lives (`GET /api/rooms/{id}/home`).
    pub async fn room_home(&self, room: RoomId) -> ApiResult<RoomHome> {
        self.get(&format!("/api/rooms/{room}/home")).await
    }

    pub async fn set_room_home(&self, room: RoomId, at: &Location) -> ApiResult<RoomHome> {
        self.put(&format!("/api/rooms/{room}/home"), at).await
    }

    pub async fn clear_room_home(&self, room: RoomId) -> ApiResult<RoomHome> {
        self.send::<(), RoomHome>(Method::DELETE, &format!("/api/rooms/{room}/home"), None)
            .await
    }

    pub async fn room_token(&self, room: RoomId) -> ApiResult<RoomToken> {
        self.send::<(), _>(Method::POST, &format!("/api/rooms/{room}/token"), None)
            .await
    }

    pub async fn create_message_room(
        &self,
        room: &NewMessageRoom,
    ) -> ApiResult<MessageRoomCreated> {
        self.post("/api/rooms/messages", room).await
    }

    pub async fn directory(&self, q: &str) -> ApiResult<Vec<Colleague>> {
        self.get(&format!("/api/directory?q={}", query_value(q)))
            .await
    }

    pub async fn attachments(&self, room: RoomId) -> ApiResult<Vec<AttachmentMeta>> {
        self.get(&format!("/api/rooms/{room}/attachments")).await
    }

    // ---- administration ----

    pub async fn admin_users(&self, municipality: &str) -> ApiResult<Vec<UserListing>> {
        self.get(&format!("/api/admin/municipalities/{municipality}/users"))
            .await
    }

    pub async fn admin_create_user(
        &self,
        municipality: &str,
        account: &NewAccount,
    ) -> ApiResult<CreatedAccount> {
        self.post(
            &format!("/api/admin/municipalities/{municipality}/users"),
            account,
        )
        .await
    }

    pub async fn admin_update_user(
        &self,
        user: UserId,
        update: &UserUpdate,
    ) -> ApiResult<UserListing> {
        self.patch(&format!("/api/admin/users/{user}"), update)
            .await
    }

    pub async fn admin_disable_user(&self, user: UserId) -> ApiResult<Disabled> {
        self.send::<(), _>(
            Method::POST,
            &format!("/api/admin/users/{user}/disable"),
            None,
        )
        .await
    }

    pub async fn admin_reset_password(&self, user: UserId) -> ApiResult<PasswordReset> {
        self.send::<(), _>(
            Method::POST,
            &format!("/api/admin/users/{user}/reset-password"),
            None,
        )
        .await
    }

    pub async fn admin_organizations(&self, municipality: &str) -> ApiResult<Vec<Organization>> {
        self.get(&format!(
            "/api/admin/municipalities/{municipality}/organizations"
        ))
        .await
    }

    pub async fn admin_create_organization(
        &self,
        municipality: &str,
        organization: &NewOrganization,
    ) -> ApiResult<Organization> {
        self.post(
            &format!("/api/admin/municipalities/{municipality}/organizations"),
            organization,
        )
        .await
    }

    pub async fn admin_patients(&self, municipality: &str) -> ApiResult<Vec<PatientListing>> {
        self.get(&format!(
            "/api/admin/municipalities/{municipality}/patients"
        ))
        .await
    }

    pub async fn admin_create_patient(
        &self,
        municipality: &str,
        patient: &NewPatientRequest,
    ) -> ApiResult<CreatedPatient> {
        self.post(
            &format!("/api/admin/municipalities/{municipality}/patients"),
            patient,
        )
        .await
    }

    pub async fn admin_rooms(&self, municipality: &str) -> ApiResult<Vec<AdminRoom>> {
        self.get(&format!("/api/admin/municipalities/{municipality}/rooms"))
            .await
    }

    pub async fn admin_create_room(
        &self,
        municipality: &str,
        room: &NewRoom,
    ) -> ApiResult<AdminRoom> {
        self.post(
            &format!("/api/admin/municipalities/{municipality}/rooms"),
            room,
        )
        .await
    }

    pub async fn admin_update_room(&self, room: RoomId, update: &RoomUpdate) -> ApiResult<()> {
        self.patch(&format!("/api/admin/rooms/{room}"), update)
            .await
    }

    pub async fn admin_members(&self, room: RoomId) -> ApiResult<Vec<Member>> {
        self.get(&format!("/api/admin/rooms/{room}/members")).await
    }

    /// Adds `user` to `room` (or changes their role there).
    pub async fn admin_put_member(
        &self,
        room: RoomId,
        user: UserId,
        role: Option<MemberRole>,
    ) -> ApiResult<()> {
        self.put(
            &format!("/api/admin/rooms/{room}/members/{user}"),
            &NewMember { role },
        )
        .await
    }

    pub async fn admin_remove_member(&self, room: RoomId, user: UserId) -> ApiResult<()> {
        self.delete(&format!("/api/admin/rooms/{room}/members/{user}"))
            .await
    }

    pub async fn admin_candidates(&self, room: RoomId, q: &str) -> ApiResult<Vec<Candidate>> {
        self.get(&format!(
            "/api/admin/rooms/{room}/candidates?q={}",
            query_value(q)
        ))
        .await
    }

    /// The last `months` months (the server's default, 12, with `None`).
    pub async fn admin_statistics(
        &self,
        municipality: &str,
        months: Option<i64>,
    ) -> ApiResult<Statistics> {
        let query = months.map(|n| format!("?months={n}")).unwrap_or_default();
        self.get(&format!(
            "/api/admin/municipalities/{municipality}/statistics{query}"
        ))
        .await
    }

    pub async fn admin_audit(
        &self,
        municipality: &str,
        query: &AuditQuery,
    ) -> ApiResult<Vec<AuditRow>> {
        let query = serde_json::to_value(query).expect("a query serializes");
        let pairs: Vec<String> = query
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={}", query_value(s)),
                other => format!("{k}={other}"),
            })
            .collect();
        self.get(&format!(
            "/api/admin/municipalities/{municipality}/audit?{}",
            pairs.join("&")
        ))
        .await
    }

    pub async fn admin_municipalities(&self) -> ApiResult<Vec<Municipality>> {
        self.get("/api/admin/municipalities").await
    }

    pub async fn admin_create_municipality(&self, m: &NewMunicipality) -> ApiResult<Municipality> {
        self.post("/api/admin/municipalities", m).await
    }

    pub async fn admin_agreements(&self) -> ApiResult<Vec<Agreement>> {
        self.get("/api/admin/agreements").await
    }

    pub async fn admin_create_agreement(&self, name: &str) -> ApiResult<Agreement> {
        let body = NewAgreement {
            name: name.to_owned(),
        };
        self.post("/api/admin/agreements", &body).await
    }

    pub async fn admin_join_agreement(
        &self,
        agreement: AgreementId,
        municipality: &str,
    ) -> ApiResult<Agreement> {
        self.send::<(), _>(
            Method::PUT,
            &format!(
                "/api/admin/agreements/{}/members/{municipality}",
                agreement.0
            ),
            None,
        )
        .await
    }

    pub async fn admin_leave_agreement(
        &self,
        agreement: AgreementId,
        municipality: &str,
    ) -> ApiResult<LeaveResult> {
        self.send::<(), _>(
            Method::DELETE,
            &format!(
                "/api/admin/agreements/{}/members/{municipality}",
                agreement.0
            ),
            None,
        )
        .await
    }

    pub async fn admin_announcements(&self, municipality: &str) -> ApiResult<Vec<Announcement>> {
        self.get(&format!(
            "/api/admin/municipalities/{municipality}/announcements"
        ))
        .await
    }

    pub async fn admin_create_announcement(
        &self,
        municipality: &str,
        announcement: &NewAnnouncement,
    ) -> ApiResult<Announcement> {
        self.post(
            &format!("/api/admin/municipalities/{municipality}/announcements"),
            announcement,
        )
        .await
    }

    /// `GET /api/templates`: my municipality's shared templates, then my own.
    pub async fn templates(&self) -> ApiResult<Vec<Template>> {
        self.get("/api/templates").await
    }

    pub async fn create_template(&self, t: &NewTemplate) -> ApiResult<Template> {
        self.post("/api/templates", t).await
    }

    pub async fn update_template(&self, id: TemplateId, t: &NewTemplate) -> ApiResult<Template> {
        self.put(&format!("/api/templates/{id}"), t).await
    }

    pub async fn delete_template(&self, id: TemplateId) -> ApiResult<()> {
        self.delete(&format!("/api/templates/{id}")).await
    }

    pub async fn admin_templates(&self, municipality: &str) -> ApiResult<Vec<Template>> {
        self.get(&format!(
            "/api/admin/municipalities/{municipality}/templates"
        ))
        .await
    }

    pub async fn admin_create_template(
        &self,
        municipality: &str,
        t: &NewTemplate,
    ) -> ApiResult<Template> {
        self.post(
            &format!("/api/admin/municipalities/{municipality}/templates"),
            t,
        )
        .await
    }

    pub async fn admin_update_template(
        &self,
        id: TemplateId,
        t: &NewTemplate,
    ) -> ApiResult<Template> {
        self.put(&format!("/api/admin/templates/{id}"), t).await
    }

    pub async fn admin_delete_template(&self, id: TemplateId) -> ApiResult<()> {
        self.delete(&format!("/api/admin/templates/{id}")).await
    }

    // ---- 要援護者名簿 (issue 16) ----

    pub async fn register(&self, m: &str) -> ApiResult<RegisterOverview> {
        self.get(&format!("/api/register/{m}")).await
    }

    /// `GET /api/register/{m}/people` with these filters.
    pub async fn register_people(
        &self,
        m: &str,
        q: &RegisterQuery,
    ) -> ApiResult<Vec<RegisterPerson>> {
        let mut params = Vec::new();
        if let Some(l) = q.label {
            params.push(format!("label={l}"));
        }
        if let Some(s) = q.status {
            params.push(format!("status={s}"));
        }
        if let Some(a) = &q.area {
            params.push(format!("area={}", query_value(a)));
        }
        if let Some(r) = q.reason {
            params.push(format!("reason={r}"));
        }
        if let Some(t) = &q.q {
            params.push(format!("q={}", query_value(t)));
        }
        if let Some(r) = q.retired {
            params.push(format!("retired={r}"));
        }
        self.get(&format!("/api/register/{m}/people?{}", params.join("&")))
            .await
    }

    pub async fn register_person(
        &self,
        m: &str,
        id: RegisterPersonId,
    ) -> ApiResult<RegisterPersonDetail> {
        self.get(&format!("/api/register/{m}/people/{id}")).await
    }

    pub async fn register_create(
        &self,
        m: &str,
        p: &NewRegisterPerson,
    ) -> ApiResult<RegisterPerson> {
        self.post(&format!("/api/register/{m}/people"), p).await
    }

    pub async fn register_update(
        &self,
        m: &str,
        id: RegisterPersonId,
        p: &NewRegisterPerson,
    ) -> ApiResult<RegisterPerson> {
        self.put(&format!("/api/register/{m}/people/{id}"), p).await
    }

    pub async fn register_retire(
        &self,
        m: &str,
        id: RegisterPersonId,
        retired: bool,
    ) -> ApiResult<RegisterPerson> {
        self.put(
            &format!("/api/register/{m}/people/{id}/retired"),
            &SetRetired { retired },
        )
        .await
    }

    pub async fn register_set_legend(
        &self,
        m: &str,
        legend: &[LegendEntry],
    ) -> ApiResult<Vec<LegendEntry>> {
        let body = SetLegend {
            legend: legend.to_vec(),
        };
        self.put(&format!("/api/register/{m}/legend"), &body).await
    }

    pub async fn register_staff(&self, m: &str) -> ApiResult<Vec<RegisterStaff>> {
        self.get(&format!("/api/register/{m}/staff")).await
    }

    pub async fn register_set_staff(
        &self,
        m: &str,
        user: UserId,
        editor: bool,
        responder: bool,
    ) -> ApiResult<RegisterStaff> {
        self.put(
            &format!("/api/register/{m}/staff/{user}"),
            &SetRegisterStaff { editor, responder },
        )
        .await
    }

    pub async fn register_declare(&self, m: &str, reason: &str) -> ApiResult<Disaster> {
        let body = DeclareDisaster {
            reason: reason.to_owned(),
        };
        self.post(&format!("/api/register/{m}/disaster"), &body)
            .await
    }

    /// `GET /api/register/{m}/partners`: who may be granted access, and who is.
    pub async fn register_partners(
        &self,
        m: &str,
    ) -> ApiResult<Vec<renraku_contract::RegisterPartner>> {
        self.get(&format!("/api/register/{m}/partners")).await
    }

    /// `GET /api/registers`: the registers I see now.
    pub async fn registers(&self) -> ApiResult<Vec<renraku_contract::RegisterLink>> {
        self.get("/api/registers").await
    }

    /// `GET /api/tiles`.
    pub async fn tile_set(&self) -> ApiResult<renraku_contract::TileSet> {
        self.get("/api/tiles").await
    }

    /// `GET /api/tiles/offline?bbox=…`.
    pub async fn offline_tiles(&self, bbox: &str) -> ApiResult<renraku_contract::OfflineTiles> {
        self.get(&format!("/api/tiles/offline?bbox={bbox}")).await
    }

    /// `GET /api/tiles/{z}/{x}/{y}`: status, content type, cache policy and bytes.
    pub async fn tile(
        &self,
        z: u8,
        x: u32,
        y: u32,
    ) -> ApiResult<(StatusCode, String, String, Vec<u8>)> {
        let path = format!("/api/tiles/{z}/{x}/{y}");
        let response = self
            .request(Method::GET, &path)
            .send()
            .await
            .map_err(|e| ApiError::Transport(format!("GET {path}: {e}")))?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (kind, cache) = (header("content-type"), header("cache-control"));
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(format!("GET {path}: {e}")))?;
        Ok((status, kind, cache, bytes.to_vec()))
    }

    pub async fn register_end(&self, m: &str) -> ApiResult<()> {
        self.delete(&format!("/api/register/{m}/disaster")).await
    }

    pub async fn register_grant(&self, m: &str, partner: &str) -> ApiResult<Disaster> {
        self.send::<(), Disaster>(
            Method::PUT,
            &format!("/api/register/{m}/disaster/partners/{partner}"),
            None,
        )
        .await
    }

    pub async fn register_revoke(&self, m: &str, partner: &str) -> ApiResult<Disaster> {
        self.send::<(), Disaster>(
            Method::DELETE,
            &format!("/api/register/{m}/disaster/partners/{partner}"),
            None,
        )
        .await
    }

    /// Sends a safety mark; the answer's status says whether it was new (201) or stored
    /// before (200).
    pub async fn register_mark(
        &self,
        m: &str,
        person: RegisterPersonId,
        mark: &NewSafetyMark,
    ) -> ApiResult<(StatusCode, SafetyMark)> {
        let path = format!("/api/register/{m}/people/{person}/marks");
        let response = self
            .request(Method::POST, &path)
            .json(mark)
            .send()
            .await
            .map_err(|e| ApiError::Transport(format!("POST {path}: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(format!("POST {path}: {e}")))?;
        if !status.is_success() {
            return Err(ApiError::Status {
                status,
                body: serde_json::from_slice(&bytes).ok(),
            });
        }
        let mark = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Transport(format!("POST {path}: {e}")))?;
        Ok((status, mark))
    }

    /// `POST /api/register/{m}/import`: the answer's status (200, or 422 with the problems)
    /// and its report.
    pub async fn register_import(
        &self,
        m: &str,
        csv: &[u8],
        dry_run: bool,
    ) -> ApiResult<(StatusCode, RegisterImportReport)> {
        let path = format!("/api/register/{m}/import?dry_run={dry_run}");
        let response = self
            .request(Method::POST, &path)
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(csv.to_vec())
            .send()
            .await
            .map_err(|e| ApiError::Transport(format!("POST {path}: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(format!("POST {path}: {e}")))?;
        if !status.is_success() && status != StatusCode::UNPROCESSABLE_ENTITY {
            return Err(ApiError::Status {
                status,
                body: serde_json::from_slice(&bytes).ok(),
            });
        }
        let report = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Transport(format!("POST {path}: {e}")))?;
        Ok((status, report))
    }

    /// `GET /api/register/{m}/export`: the CSV's bytes.
    pub async fn register_export(&self, m: &str, q: &RegisterQuery) -> ApiResult<Vec<u8>> {
        let mut params = Vec::new();
        if let Some(l) = q.label {
            params.push(format!("label={l}"));
        }
        if let Some(t) = &q.q {
            params.push(format!("q={}", query_value(t)));
        }
        if let Some(r) = q.retired {
            params.push(format!("retired={r}"));
        }
        let path = format!("/api/register/{m}/export?{}", params.join("&"));
        let response = self
            .request(Method::GET, &path)
            .send()
            .await
            .map_err(|e| ApiError::Transport(format!("GET {path}: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(format!("GET {path}: {e}")))?;
        if !status.is_success() {
            return Err(ApiError::Status {
                status,
                body: serde_json::from_slice(&bytes).ok(),
            });
        }
        Ok(bytes.to_vec())
    }

    pub async fn register_summary(&self, m: &str) -> ApiResult<RegisterSummary> {
        self.get(&format!("/api/register/{m}/summary")).await
    }
}

/// A query-string value, percent-encoded (letters, digits and `-._~` as they are).
fn query_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
