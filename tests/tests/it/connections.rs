//! Connections that never deliver a request — silent, a head trickled and left unfinished,
//! an HTTP/2 preface begun, a body stopped halfway, a kept-alive connection left idle — are
//! closed by the server after its client timeout, while the WebSockets and requests of
//! everyone else go on. Over TLS the same holds after the handshake (`mtls.rs`).

use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{team, TestServer};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short, so the test waits little; the default is 30 s.
pub(crate) const CLIENT_TIMEOUT_MS: u64 = 300;

/// What the server sent before it closed the connection (end of stream, or reset); `None`
/// if it is still open after far longer than the client timeout, so a regression fails
/// rather than hangs.
pub(crate) async fn closed_by_server(stream: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut sent = Vec::new();
    let read_to_end = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => sent.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(20), read_to_end).await;
    closed
        .ok()
        .map(|()| String::from_utf8_lossy(&sent).into_owned())
}

async fn connect(server: &TestServer) -> TcpStream {
    let addr = server.base_url().trim_start_matches("http://").to_owned();
    TcpStream::connect(addr).await.unwrap()
}

#[tokio::test]
async fn connections_that_never_finish_a_request_are_closed_and_others_are_served() {
    let server = TestServer::start_with(|c| c.http_client_timeout_ms = CLIENT_TIMEOUT_MS).await;
    let t = team(&server).await;
    // A nurse's live socket, open before the idle connections: upgraded connections are not
    // held to the client timeout.
    let mut nurse = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    nurse.open(t.room).await.unwrap();

    // Sends nothing at all (hyper's own header timeout never sees it: the HTTP version is
    // not known yet).
    let mut silent = connect(&server).await;
    // A request head begun and never finished.
    let mut trickled = connect(&server).await;
    trickled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        .await
        .unwrap();
    // The first bytes of an HTTP/2 preface: the server cannot yet tell HTTP/1.1 from 2.
    let mut preface = connect(&server).await;
    preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    // A sign-in whose body stops halfway.
    let mut stalled = connect(&server).await;
    stalled
        .write_all(
            b"POST /api/demo/signin HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"login_id\":",
        )
        .await
        .unwrap();
    // One whole request answered, then kept alive and left idle.
    let mut idle = connect(&server).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(
        &first, b"HTTP/1.1 200",
        "the idle connection's request was answered"
    );

    for (what, conn) in [
        ("a silent connection", &mut silent),
        ("an unfinished request head", &mut trickled),
        ("an unfinished HTTP/2 preface", &mut preface),
    ] {
        let sent = closed_by_server(conn).await;
        let sent = sent.unwrap_or_else(|| panic!("{what} is closed"));
        assert!(!sent.contains(" 200 "), "{what} is not served: {sent}");
    }
    let sent = closed_by_server(&mut stalled).await;
    let sent = sent.expect("a request whose body stalled is closed");
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 4"),
        "a stalled body is refused, not served: {sent}"
    );
    assert!(
        closed_by_server(&mut idle).await.is_some(),
        "an idle kept-alive connection is closed"
    );

    // Every one of those outlived the client timeout; the nurse's socket, older still, is
    // open and her post is saved and acknowledged.
    let update =
        nurse
            .doc(t.room)
            .start_thread(t.a.id, new_post_id(), "接続の期限の後の投稿", now_ms());
    nurse.write(t.room, update).await.unwrap();
    // And a new request is answered as usual.
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert!(health.status().is_success());
}
