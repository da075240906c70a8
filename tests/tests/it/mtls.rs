//! Client certificates (mTLS) against the real server terminating TLS itself, with a CA,
//! server and client certificates and CRLs generated here (rcgen): where the municipality
//! requires a certificate, no certificate → refused; a registered one → works; one revoked
//! by the CRL or by an administrator → refused, and its owner's live WebSocket closed.
//! Runs on SQLite and PostgreSQL.

use futures_util::{SinkExt, StreamExt};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SanType, SerialNumber,
};
use renraku_sync::frame::PROTOCOL_VERSION;
use renraku_sync::{DocId, Frame, UserId};
use renraku_tests::helpers::error_code;
use renraku_tests::sync_client::PATIENCE;
use renraku_tests::TestServer;
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use sqlx::Row;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const PASSWORD: &str = renraku_server::demo::DEMO_PASSWORD;

/// A test CA and what it issued.
struct Pki {
    ca: rcgen::Certificate,
    ca_key: KeyPair,
    dir: tempfile::TempDir,
}

/// A client certificate and its key, PEM.
#[derive(Clone)]
struct ClientCert {
    cert_pem: String,
    key_pem: String,
    serial: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(DnType::CommonName, "Renraku test client CA");
        let ca = params.self_signed(&ca_key).unwrap();
        let pki = Pki {
            ca,
            ca_key,
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).unwrap();
        // The server's certificate, for 127.0.0.1, from the same CA (one root for the test
        // client to trust).
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let cert = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
        std::fs::write(pki.path("server.pem"), cert.pem()).unwrap();
        std::fs::write(pki.path("server.key"), key.serialize_pem()).unwrap();
        pki.write_crl(&[]);
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn client(&self, name: &str, serial: u8) -> ClientCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let serial = vec![0x10, serial];
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        ClientCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial,
        }
    }

    /// Replaces the CRL file (the server polls it).
    fn write_crl(&self, revoked: &[&ClientCert]) {
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(revoked.len() as u64 + 1),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|c| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&c.serial),
                    revocation_time: rcgen::date_time_ymd(2024, 6, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.ca, &self.ca_key).unwrap();
        // Written aside and renamed, so the server never reads half a file.
        let tmp = self.path("crl.pem.tmp");
        std::fs::write(&tmp, crl.pem().unwrap()).unwrap();
        std::fs::rename(tmp, self.path("crl.pem")).unwrap();
    }

    fn http(&self, cert: Option<&ClientCert>) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca.pem().as_bytes()).unwrap();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca);
        if let Some(c) = cert {
            let identity =
                reqwest::Identity::from_pem(format!("{}{}", c.cert_pem, c.key_pem).as_bytes())
                    .unwrap();
            builder = builder.identity(identity);
        }
        builder.build().unwrap()
    }

    fn tls_client(&self, cert: Option<&ClientCert>) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca.pem().as_bytes()).unwrap())
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match cert {
            Some(c) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(c.cert_pem.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

struct Tls {
    server: TestServer,
    pki: Pki,
}

impl Tls {
    async fn start() -> Tls {
        Tls::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut renraku_server::Config) + Send + 'static) -> Tls {
        let pki = Pki::new();
        let (cert, key, ca, crl) = (
            pki.path("server.pem"),
            pki.path("server.key"),
            pki.path("ca.pem"),
            pki.path("crl.pem"),
        );
        let server = TestServer::start_with(move |c| {
            c.tls_cert = Some(cert);
            c.tls_key = Some(key);
            c.tls_client_ca = Some(ca);
            c.tls_crl = Some(crl);
            adjust(c);
        })
        .await;
        Tls { server, pki }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.server.base_url().replacen("http:", "https:", 1)
        )
    }

    async fn signin(&self, cert: Option<&ClientCert>, login: &str) -> reqwest::Response {
        self.pki
            .http(cert)
            .post(self.url("/api/demo/signin"))
            .json(&json!({ "login_id": login, "password": PASSWORD }))
            .send()
            .await
            .unwrap()
    }

    async fn session(&self, cert: Option<&ClientCert>, login: &str) -> String {
        let response = self.signin(cert, login).await;
        assert_eq!(response.status(), StatusCode::OK, "sign-in of {login}");
        let body: Value = response.json().await.unwrap();
        let token = body["session_token"].as_str().unwrap().to_owned();
        renraku_tests::logs::record_secret(&token);
        token
    }

    async fn get(&self, cert: Option<&ClientCert>, token: &str, path: &str) -> StatusCode {
        self.pki
            .http(cert)
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn user_id(&self, login: &str) -> UserId {
        let row = sqlx::query("SELECT id FROM users WHERE login_id = $1")
            .bind(login)
            .fetch_one(self.server.db().pool())
            .await
            .unwrap();
        UserId::new(row.get("id"))
    }

    /// Registers `cert` to `login` through the administrators' API; returns its id.
    async fn register(&self, admin: (&ClientCert, &str), login: &str, cert: &ClientCert) -> i64 {
        let user = self.user_id(login).await;
        let response = self
            .pki
            .http(Some(admin.0))
            .post(self.url(&format!("/api/admin/users/{user}/client-certificates")))
            .bearer_auth(admin.1)
            .json(&json!({ "certificate_pem": cert.cert_pem, "label": "テスト端末" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["id"].as_i64().unwrap()
    }

    /// A `/yjs/{room}` connection over TLS with a room token, once the server has spoken.
    async fn yjs(
        &self,
        cert: &ClientCert,
        room: i64,
        room_token: &str,
    ) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>
    {
        let addr = self.server.base_url().replacen("http://", "", 1);
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let tls = self
            .pki
            .tls_client(Some(cert))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let request = format!("wss://{addr}/yjs/{room}?token={room_token}")
            .into_client_request()
            .unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(request, tls).await.unwrap();
        loop {
            match tokio::time::timeout(PATIENCE, ws.next()).await.unwrap() {
                Some(Ok(WsMessage::Binary(_))) => return ws,
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    /// A `/ws` connection over TLS that has proven to work (its personal document opened).
    async fn websocket(
        &self,
        cert: &ClientCert,
        token: &str,
        user: UserId,
    ) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>
    {
        let addr = self.server.base_url().replacen("http://", "", 1);
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let tls = self
            .pki
            .tls_client(Some(cert))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let mut request = format!("wss://{addr}/ws").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::client_async(request, tls).await.unwrap();
        for frame in [
            Frame::Hello {
                version: PROTOCOL_VERSION,
            },
            Frame::Open {
                doc: DocId::Personal(user),
            },
        ] {
            ws.send(WsMessage::Binary(frame.encode().into()))
                .await
                .unwrap();
        }
        // The server speaks first on an opened document: its sync step 1.
        loop {
            let msg = tokio::time::timeout(PATIENCE, ws.next())
                .await
                .expect("the server answers")
                .expect("open")
                .expect("no error");
            if let WsMessage::Binary(bytes) = msg {
                if let Ok(Frame::Sync { .. }) = Frame::decode_from_server(&bytes) {
                    return ws;
                }
            }
        }
    }
}

/// Waits until the server closes the socket; its close code.
async fn closed_by_server<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Option<u16>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    close_frame(ws).await.map(|(code, _)| code)
}

/// Waits until the server closes the socket; its close code and reason.
async fn close_frame<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Option<(u16, String)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let next = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("the server closes the socket");
        match next {
            Some(Ok(WsMessage::Close(frame))) => {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()))
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

test_both_dbs!(where_required_no_certificate_is_refused_a_registered_one_works_and_revoked_ones_end_live_sockets);
async fn where_required_no_certificate_is_refused_a_registered_one_works_and_revoked_ones_end_live_sockets(
) {
    let t = Tls::start().await;
    let city = t.pki.client("city1", 1);
    let doctor = t.pki.client("doctor1", 2);
    let doctor_spare = t.pki.client("doctor1 spare", 3);

    // Before the policy: TLS without a client certificate is fine (optional at the TLS
    // layer, so municipalities without the policy need none).
    let admin = t.session(None, "city1").await;
    let early = t.session(None, "doctor1").await;
    assert_eq!(t.get(None, &early, "/api/me").await, StatusCode::OK);

    // The administrator registers certificates, then turns the policy on.
    let city_id = t.register((&city, &admin), "city1", &city).await;
    let doctor_id = t.register((&city, &admin), "doctor1", &doctor).await;
    let spare_id = t.register((&city, &admin), "doctor1", &doctor_spare).await;
    assert!(city_id > 0 && doctor_id != spare_id);
    let policy = t
        .pki
        .http(Some(&city))
        .put(t.url("/api/admin/municipalities/demo/client-certificate-policy"))
        .bearer_auth(&admin)
        .json(&json!({ "required": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(policy.status(), StatusCode::NO_CONTENT);

    // No certificate → refused: at sign-in, and for a session that already existed.
    let refused = t.signin(None, "doctor1").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "client_certificate_required");
    assert_eq!(t.get(None, &early, "/api/me").await, StatusCode::FORBIDDEN);
    // A certificate from another CA does not even get through the handshake.
    let stranger = Pki::new().client("doctor1", 2);
    assert!(t
        .pki
        .http(Some(&stranger))
        .get(t.url("/api/me"))
        .bearer_auth(&early)
        .send()
        .await
        .is_err());

    // A registered certificate works, for its owner only.
    let doctor_session = t.session(Some(&doctor), "doctor1").await;
    assert_eq!(
        t.get(Some(&doctor), &doctor_session, "/api/me").await,
        StatusCode::OK
    );
    assert_eq!(
        t.get(Some(&doctor), &early, "/api/me").await,
        StatusCode::OK
    );
    let nurse = t.session(Some(&doctor), "nurse1").await;
    assert_eq!(
        t.get(Some(&doctor), &nurse, "/api/me").await,
        StatusCode::FORBIDDEN,
        "another user's certificate"
    );

    // Revoked by the CRL: the live socket is closed, new handshakes are refused, the
    // user's other certificate still works.
    let doctor_user = t.user_id("doctor1").await;
    let mut ws = t.websocket(&doctor, &doctor_session, doctor_user).await;
    t.pki.write_crl(&[&doctor]);
    assert_eq!(closed_by_server(&mut ws).await, Some(1008));
    assert!(t
        .pki
        .http(Some(&doctor))
        .get(t.url("/api/me"))
        .bearer_auth(&doctor_session)
        .send()
        .await
        .is_err());
    assert_eq!(
        t.get(Some(&doctor_spare), &doctor_session, "/api/me").await,
        StatusCode::OK
    );
    // The revocation is recorded by the CRL watcher, which may still be writing it as the
    // socket closes: wait for the entry (bounded), do not race it.
    let mut recorded = 0;
    for _ in 0..100 {
        recorded = t
            .server
            .audit_count("client_certificate.revoked_by_crl")
            .await;
        if recorded >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(recorded >= 1, "the CRL revocation is in the audit log");

    // Revoked by an administrator: the same, without touching the CRL.
    let mut ws = t
        .websocket(&doctor_spare, &doctor_session, doctor_user)
        .await;
    let revoked = t
        .pki
        .http(Some(&city))
        .post(t.url(&format!("/api/admin/client-certificates/{spare_id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let body: Value = revoked.json().await.unwrap();
    assert!(body["connections_closed"].as_u64().unwrap() >= 1);
    assert_eq!(closed_by_server(&mut ws).await, Some(1008));
    assert_eq!(
        t.get(Some(&doctor_spare), &doctor_session, "/api/me").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.server
            .audit_count("admin.client_certificate.revoke")
            .await,
        1
    );

    // The administrator (with a live certificate) is unaffected.
    assert_eq!(t.get(Some(&city), &admin, "/api/me").await, StatusCode::OK);
}

test_both_dbs!(a_crl_revocation_closes_ws_and_yjs_sockets_with_its_reason_within_a_second);
/// Issue 13: a certificate revoked by the CRL closes the `/ws` and `/yjs/{room}` sockets opened
/// with it within a second, with the reason the app shows (`certificate_revoked`).
async fn a_crl_revocation_closes_ws_and_yjs_sockets_with_its_reason_within_a_second() {
    let t = Tls::start().await;
    let city = t.pki.client("city1", 1);
    let doctor = t.pki.client("doctor1", 2);
    let admin = t.session(None, "city1").await;
    t.register((&city, &admin), "city1", &city).await;
    t.register((&city, &admin), "doctor1", &doctor).await;
    let policy = t
        .pki
        .http(Some(&city))
        .put(t.url("/api/admin/municipalities/demo/client-certificate-policy"))
        .bearer_auth(&admin)
        .json(&json!({ "required": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(policy.status(), StatusCode::NO_CONTENT);
    let session = t.session(Some(&doctor), "doctor1").await;
    let user = t.user_id("doctor1").await;
    let room: i64 = sqlx::query("SELECT room_id FROM room_members WHERE user_id = $1 LIMIT 1")
        .bind(user.get())
        .fetch_one(t.server.db().pool())
        .await
        .unwrap()
        .get("room_id");
    let minted = t
        .pki
        .http(Some(&doctor))
        .post(t.url(&format!("/api/rooms/{room}/token")))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), StatusCode::OK);
    let room_token = minted.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    renraku_tests::logs::record_secret(&room_token);
    let mut ws = t.websocket(&doctor, &session, user).await;
    let mut yjs = t.yjs(&doctor, room, &room_token).await;

    let started = std::time::Instant::now();
    t.pki.write_crl(&[&doctor]);
    let expected = Some((1008, "certificate_revoked".to_owned()));
    assert_eq!(close_frame(&mut ws).await, expected);
    let ws_latency = started.elapsed();
    assert_eq!(close_frame(&mut yjs).await, expected);
    let yjs_latency = started.elapsed();
    // The CRL is polled every 250 ms: the bound includes the poll.
    assert!(
        ws_latency < std::time::Duration::from_secs(1),
        "{ws_latency:?}"
    );
    assert!(
        yjs_latency < std::time::Duration::from_secs(1),
        "{yjs_latency:?}"
    );
    eprintln!(
        "[mtls] certificate_revoked: /ws closed after {} ms, /yjs after {} ms",
        ws_latency.as_millis(),
        yjs_latency.as_millis()
    );
}

#[tokio::test]
async fn a_tls_connection_that_sends_no_request_is_closed_and_others_are_served() {
    use crate::connections::{closed_by_server as tcp_closed_by_server, CLIENT_TIMEOUT_MS};
    let tls = Tls::start_with(|c| c.http_client_timeout_ms = CLIENT_TIMEOUT_MS).await;
    let addr = tls.server.base_url().replacen("http://", "", 1);
    // The handshake completes (no client certificate: allowed at the TLS layer), then nothing.
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut silent = tls
        .pki
        .tls_client(None)
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let sent = tcp_closed_by_server(&mut silent).await;
    assert_eq!(
        sent.as_deref(),
        Some(""),
        "a silent TLS connection is closed unanswered"
    );
    // The server still answers, with the peer's details reaching the handlers.
    let response = tls.signin(None, "doctor1").await;
    assert_eq!(response.status(), StatusCode::OK);
}
