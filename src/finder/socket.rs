//! The finder transport (architecture §4): a WebSocket at `/finder`. A text message is one JSON
//! document on channel 0, answered through the same dispatcher shape as HTTP; a binary message
//! is a relay frame (4-byte big-endian channel + payload), which this node does not relay yet
//! and refuses by closing. Disconnecting removes the connection's registrations.

use std::sync::Arc;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Message as WsMessage, handshake::derive_accept_key};
use futures_util::StreamExt as _;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, ErrorResult, Message, MessageKind, Method};

use super::registry::ConnectionId;
use super::session::{self, SessionContext};
use crate::app::Gateway;
use crate::commands::unix_now;
use crate::error::Error;
use crate::http::State;

/// Upgrades `GET /finder` to a WebSocket and serves it until the peer goes.
pub async fn endpoint(req: tide::Request<State>) -> tide::Result {
    let wants_upgrade = req
        .header("upgrade")
        .is_some_and(|v| v.as_str().eq_ignore_ascii_case("websocket"));
    let Some(key) = req
        .header("sec-websocket-key")
        .map(|v| v.as_str().to_owned())
    else {
        return Ok(tide::Response::new(426));
    };
    if !wants_upgrade {
        return Ok(tide::Response::new(426));
    }
    let gateway = Arc::clone(req.state());
    let mut response = tide::Response::new(tide::StatusCode::SwitchingProtocols);
    response.insert_header("upgrade", "websocket");
    response.insert_header("connection", "Upgrade");
    response.insert_header("sec-websocket-accept", derive_accept_key(key.as_bytes()));
    let http_response: &mut tide::http::Response = response.as_mut();
    let upgrade = http_response.recv_upgrade().await;
    async_std::task::spawn(async move {
        if let Some(connection) = upgrade.await {
            let max = gateway.services.settings().limits.max_body_bytes;
            // Small buffers: a finder holds many idle connections (dependencies.md).
            let config = WebSocketConfig::default()
                .read_buffer_size(8 * 1024)
                .write_buffer_size(0)
                .max_message_size(Some(max))
                .max_frame_size(Some(max));
            let ws = WebSocketStream::from_raw_socket(connection, Role::Server, Some(config)).await;
            serve(gateway, ws).await;
        }
    });
    Ok(response)
}

async fn serve<S>(gateway: Arc<Gateway>, mut ws: WebSocketStream<S>)
where
    S: futures_util::AsyncRead + futures_util::AsyncWrite + Unpin,
{
    let connection = gateway.registry.connect();
    while let Some(received) = ws.next().await {
        let reply = match received {
            Ok(WsMessage::Text(text)) => Some(answer(&gateway, connection, text.as_str()).await),
            Ok(WsMessage::Binary(_)) => {
                tracing::debug!(
                    connection,
                    "relay frame refused: relaying is not served yet"
                );
                break;
            }
            Ok(WsMessage::Close(_)) | Err(_) => break,
            Ok(_) => None,
        };
        if let Some(reply) = reply
            && ws.send(WsMessage::text(reply)).await.is_err()
        {
            break;
        }
    }
    let _ = ws.close(None).await;
    let services = &gateway.services;
    if let Err(e) = session::unregister(
        &gateway.registry,
        services.store().as_ref(),
        connection,
        None,
    )
    .await
    {
        tracing::warn!(error = %e, connection, "could not forget a closed connection's locations");
    }
}

/// Answers one document received on channel 0.
async fn answer(gateway: &Gateway, connection: ConnectionId, text: &str) -> String {
    let now = unix_now();
    let request = match message::decode(text) {
        Ok(request) => request,
        Err(e) => return message::encode(&Message::error_document(e.result_code(), None, now)),
    };
    let outcome = match request.envelope.method() {
        Ok(method) if request.envelope.kind == MessageKind::Request => {
            call(gateway, connection, method, &request.body, now).await
        }
        Ok(_) => Err(Error::refused(
            ResultCode::BadRequest,
            "only requests are served here",
        )),
        Err(e) => Err(Error::Protocol(e.into())),
    };
    reply(&request.envelope, outcome, now)
}

async fn call(
    gateway: &Gateway,
    connection: ConnectionId,
    method: Method,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let services = &gateway.services;
    let published = services.published();
    let ctx = SessionContext {
        settings: services.settings(),
        published: &published,
        nonces: services.store().as_ref(),
        locations: services.store().as_ref(),
        registry: &gateway.registry,
    };
    match method {
        Method::SessionCreate => session::session_create(&ctx, connection, body, now).await,
        Method::SessionKeepAlive => session::session_keep_alive(&ctx, connection, now).await,
        Method::SessionDelete => session::session_delete(&ctx, connection, body).await,
        _ => Err(Error::refused(
            ResultCode::NotImplemented,
            "method not served by this finder",
        )),
    }
}

fn reply(request: &Envelope, outcome: Result<Object, Error>, now: u64) -> String {
    let envelope = request.result_envelope(now);
    let body = match outcome {
        Ok(body) => body,
        Err(e) => {
            let (code, reason) = e.wire();
            if code == ResultCode::InternalError {
                tracing::error!(error = %e, "finder request failed");
            }
            let error = ErrorResult {
                code: code.code(),
                reason: reason.to_owned(),
                location: None,
            };
            Object::new().with("error", error.to_object())
        }
    };
    message::encode(&Message::new(envelope, body))
}
