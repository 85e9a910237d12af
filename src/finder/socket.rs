//! The finder transport (architecture §4): a WebSocket at `/finder`. A text message is one JSON
//! document on channel 0: a request is answered in order, a callee's `peer-location-find` notify
//! is relayed to the requester; a binary message is a relay frame (4-byte big-endian channel +
//! payload) copied to the other end of its channel. Everything the finder sends down a
//! connection goes through its outbox, so answers and relayed messages never interleave.
//! Disconnecting removes the connection's registrations, routes and channels.

use std::sync::Arc;
use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Message as WsMessage, handshake::derive_accept_key};
use futures_util::StreamExt as _;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, ErrorResult, Message, MessageKind, Method};

use super::registry::{ConnectionId, Outbound};
use super::{Context, find, relay, session};
use crate::app::Gateway;
use crate::error::Error;
use crate::http::State;
use openpeer_federation::clock::unix_now;

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

/// Messages queued for one connection before relayed traffic to it is dropped.
const OUTBOX_DEPTH: usize = 64;

async fn serve<S>(gateway: Arc<Gateway>, ws: WebSocketStream<S>)
where
    S: futures_util::AsyncRead + futures_util::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let (outbox, inbox) = async_std::channel::bounded::<Outbound>(OUTBOX_DEPTH);
    let connection = gateway.registry.connect(outbox.clone());
    let writer = async_std::task::spawn(async move {
        while let Ok(message) = inbox.recv().await {
            let message = match message {
                Outbound::Text(text) => WsMessage::text(text),
                Outbound::Frame(frame) => WsMessage::binary(frame),
            };
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close(None).await;
    });
    while let Some(received) = stream.next().await {
        match received {
            Ok(WsMessage::Text(text)) => {
                let reply = answer(&context(&gateway), connection, text.as_str()).await;
                if let Some(reply) = reply
                    && outbox.send(Outbound::Text(reply)).await.is_err()
                {
                    break;
                }
            }
            Ok(WsMessage::Binary(frame)) => {
                let relayed = relay::relay_frame(&context(&gateway), connection, &frame);
                if let Err(e) = relayed {
                    tracing::debug!(connection, error = %e, "malformed relay frame; closing");
                    break;
                }
            }
            Ok(WsMessage::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let ctx = context(&gateway);
    relay::close_channels(&ctx, ctx.routes.disconnect(connection));
    let gone = ctx.registry.disconnect(connection);
    if let Err(e) = session::delete_rows(ctx.locations, &gone).await {
        tracing::warn!(error = %e, connection, "could not forget a closed connection's locations");
    }
    outbox.close();
    writer.await;
}

/// The finder context of the node's current keys.
fn context(gateway: &Gateway) -> Context<'_> {
    let services = &gateway.services;
    Context {
        settings: services.settings(),
        published: services.published(),
        nonces: services.store().as_ref(),
        locations: services.store().as_ref(),
        registry: &gateway.registry,
        routes: &gateway.routes,
        metrics: &gateway.metrics,
    }
}

/// Handles one document received on channel 0; `Some` is the answer to send back.
async fn answer(ctx: &Context<'_>, connection: ConnectionId, text: &str) -> Option<String> {
    let now = unix_now();
    if text.trim().is_empty() {
        // The C14 client pings with "\n" on channel 0.
        return None;
    }
    let received = match message::decode(text) {
        Ok(received) => received,
        Err(e) => {
            let error = Message::error_document(e.result_code(), None, now);
            return Some(message::encode(&error));
        }
    };
    let envelope = &received.envelope;
    let outcome = match (envelope.kind, envelope.method()) {
        (MessageKind::Request, Ok(method)) => {
            let started = Instant::now();
            let outcome = call(ctx, connection, method, envelope, text, &received.body, now).await;
            let code = outcome.as_ref().map_or_else(|e| e.wire().0.code(), |_| 200);
            ctx.metrics.observe(
                method.handler().as_str(),
                method.name(),
                code,
                started.elapsed(),
            );
            outcome
        }
        (MessageKind::Request, Err(e)) => Err(Error::Protocol(e.into())),
        (MessageKind::Notify, Ok(Method::PeerLocationFind)) => {
            find::relay_notify(ctx, connection, envelope, text, now);
            return None;
        }
        (MessageKind::Result, _) => {
            // A callee's answer to a forwarded find: the requester already has the finder's.
            return None;
        }
        (MessageKind::Notify, _) => Err(Error::refused(
            ResultCode::NotImplemented,
            "notify not served by this finder",
        )),
    };
    Some(reply(envelope, outcome, now))
}

async fn call(
    ctx: &Context<'_>,
    connection: ConnectionId,
    method: Method,
    envelope: &Envelope,
    text: &str,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    match method {
        Method::SessionCreate => session::session_create(ctx, connection, body, now).await,
        Method::SessionKeepAlive => session::session_keep_alive(ctx, connection, now).await,
        Method::SessionDelete => session::session_delete(ctx, connection, body).await,
        Method::PeerLocationFind => {
            find::peer_location_find(ctx, connection, envelope, text, body, now).await
        }
        Method::ChannelMap => relay::channel_map(ctx, connection, envelope, body, now).await,
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
