//! The WebSocket handshake and the socket it yields: tokio-tungstenite's stream over the
//! upgraded HTTP/1.1 connection, as `axum::extract::ws` builds it, but with the stream in
//! our hands, so that a large message goes out in fragments ([`send`]).
//!
//! tungstenite copies each frame it sends into a write buffer that keeps its largest size
//! for the socket's life. Sent whole, one room's sync step 2 (1.7 MB for 10,000 posts) left
//! that much with every socket that had opened the room: a thousand staff who once opened a
//! long-lived patient's room held gigabytes. Fragments of [`FRAGMENT`] bytes bound what a
//! socket keeps, and the client's WebSocket joins them back into one message.
//!
//! Only HTTP/1.1 upgrades: the TLS listener offers HTTP/1.1 alone, and browsers do not speak
//! HTTP/2 without TLS.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::{Role, WebSocketConfig};

pub use tungstenite::protocol::CloseFrame;
pub use tungstenite::Message;

/// An accepted WebSocket.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Messages longer than this are sent in fragments of this size. Small enough that what a
/// socket keeps stays small; large enough that a 1.7 MB room state is ~100 writes.
pub const FRAGMENT: usize = 16 * 1024;

/// Sends one message and flushes it; a long binary message as fragments, each flushed.
pub async fn send(
    socket: &mut futures_util::stream::SplitSink<Socket, Message>,
    msg: Message,
) -> tungstenite::Result<()> {
    let Message::Binary(bytes) = msg else {
        return socket.send(msg).await;
    };
    if bytes.len() <= FRAGMENT {
        return socket.send(Message::Binary(bytes)).await;
    }
    let mut offset = 0;
    while offset < bytes.len() {
        let end = (offset + FRAGMENT).min(bytes.len());
        let opcode = if offset == 0 {
            Data::Binary
        } else {
            Data::Continue
        };
        let frame = Frame::message(
            bytes.slice(offset..end),
            OpCode::Data(opcode),
            end == bytes.len(),
        );
        socket.send(Message::Frame(frame)).await?;
        offset = end;
    }
    Ok(())
}

/// A WebSocket handshake, checked; [`Upgrade::on_upgrade`] answers it.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a request is not a WebSocket handshake this server takes.
#[derive(Debug)]
pub struct NotAHandshake(StatusCode, &'static str);

impl IntoResponse for NotAHandshake {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = NotAHandshake;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, NotAHandshake> {
        let bad = |why| NotAHandshake(StatusCode::BAD_REQUEST, why);
        if parts.version != Version::HTTP_11 {
            return Err(NotAHandshake(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "WebSockets over HTTP/1.1 only",
            ));
        }
        if parts.method != Method::GET {
            return Err(NotAHandshake(
                StatusCode::METHOD_NOT_ALLOWED,
                "a WebSocket handshake is a GET",
            ));
        }
        let headers = &parts.headers;
        if !has_token(headers, header::CONNECTION, "upgrade") {
            return Err(bad("the Connection header does not ask for an upgrade"));
        }
        if !has_token(headers, header::UPGRADE, "websocket") {
            return Err(bad("the Upgrade header is not websocket"));
        }
        if headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            != Some(b"13")
        {
            return Err(bad("Sec-WebSocket-Version must be 13"));
        }
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or_else(|| bad("Sec-WebSocket-Key is missing"))?;
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(NotAHandshake(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded",
        ))?;
        Ok(Upgrade { key, on_upgrade })
    }
}

/// Whether `name`'s comma-separated values include `token`, in any case.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

impl Upgrade {
    /// Answers the handshake (101), and once the connection is switched runs `callback` on
    /// the socket, in a task of its own.
    pub fn on_upgrade<C, Fut>(self, config: WebSocketConfig, callback: C) -> Response
    where
        C: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return; // the client went away during the switch
            };
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            callback(socket).await;
        });
        let accept = tungstenite::handshake::derive_accept_key(self.key.as_bytes());
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .body(Body::empty())
            .expect("a valid 101 response")
    }
}
