//! A finder connection (architecture §4 "Finder transport"): a peer's WebSocket at `/finder`, or
//! another domain's finder-to-finder link at `/federation/link` once its `link-hello` verified.
//! A text message is one JSON document on channel 0: a request passes the envelope checks of
//! every request and is answered in order; a callee's `peer-location-find` notify is relayed to
//! the requester. On a peer's connection a binary message is a relay frame (4-byte big-endian
//! channel + payload) copied to the other end of its channel; a link carries no frames.
//! Everything the finder sends down a connection goes through its outbox, so answers and
//! relayed messages never interleave. Disconnecting removes the connection's registrations,
//! routes and channels.

use std::sync::Arc;
use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt as _;
use openpeer_federation::clock::unix_now;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::uri::DomainName;

use super::find::{FindOutcome, Forwarding};
use super::registry::{ConnectionId, Outbound};
use super::{Context, find, relay, session};
use crate::envelope::{check_request, result_document, undecodable_document};
use crate::error::Error;
use crate::gateway::Gateway;
use crate::services::Reply;

/// Messages queued for one connection before relayed traffic to it is dropped.
const OUTBOX_DEPTH: usize = 64;

/// Who is at the other end of a finder connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// A peer of this domain (or a foreign peer mapping a relay channel).
    Peer,
    /// Another domain's finder, authenticated by its `link-hello`.
    Link(DomainName),
}

/// Serves one finder connection until it closes.
pub async fn serve<S>(gateway: Arc<Gateway>, ws: WebSocketStream<S>, side: Side)
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
                let reply = answer(&gateway, &side, connection, text.as_str()).await;
                if let Some(reply) = reply
                    && outbox.send(Outbound::Text(reply)).await.is_err()
                {
                    break;
                }
            }
            Ok(WsMessage::Binary(frame)) if side == Side::Peer => {
                let relayed = relay::relay_frame(&context(&gateway), connection, &frame);
                if let Err(e) = relayed {
                    tracing::debug!(connection, error = %e, "malformed relay frame; closing");
                    break;
                }
            }
            Ok(WsMessage::Binary(_)) => {
                tracing::warn!(
                    connection,
                    ?side,
                    "binary message on a finder link; closing"
                );
                break;
            }
            Ok(WsMessage::Close(_)) => break,
            Err(e) => {
                tracing::debug!(connection, ?side, error = %e, "finder connection failed");
                break;
            }
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
pub fn context(gateway: &Gateway) -> Context<'_> {
    let services = &gateway.services;
    Context {
        settings: services.settings(),
        published: services.published(),
        nonces: services.store().as_ref(),
        locations: services.store().as_ref(),
        registry: &gateway.registry,
        routes: &gateway.routes,
        metrics: &gateway.metrics,
        bridge: services.bridge(),
    }
}

/// Handles one document received on channel 0; `Some` is the answer to send back.
async fn answer(
    gateway: &Arc<Gateway>,
    side: &Side,
    connection: ConnectionId,
    text: &str,
) -> Option<String> {
    let now = unix_now();
    if text.trim().is_empty() {
        // The C14 client pings with "\n" on channel 0; links ping the same way.
        return None;
    }
    let received = match message::decode(text) {
        Ok(received) => received,
        Err(e) => return Some(undecodable_document(e.result_code(), now)),
    };
    let ctx = context(gateway);
    let envelope = &received.envelope;
    match envelope.kind {
        MessageKind::Notify if envelope.method().ok() == Some(Method::PeerLocationFind) => {
            find::relay_notify(ctx.routes, ctx.registry, connection, envelope, text, now);
            return None;
        }
        // A callee's answer to a forwarded find: the requester already has the finder's.
        MessageKind::Result => return None,
        _ => {}
    }
    // A link's requests are finds its domain's peers made: addressed to their own domain.
    let addressed_to = match side {
        Side::Peer => &ctx.settings.domain,
        Side::Link(domain) => domain,
    };
    let started = Instant::now();
    let outcome = match check_request(ctx.settings, envelope, addressed_to, now) {
        Ok(Method::PeerLocationFind) if *side == Side::Peer => {
            let body = &received.body;
            match find::peer_location_find(&ctx, connection, envelope, text, body, now).await {
                Ok(FindOutcome::Answered(body)) => Ok(body),
                Ok(FindOutcome::Forward(forwarding)) => {
                    let envelope = envelope.clone();
                    spawn_forward(Arc::clone(gateway), connection, envelope, forwarding, now);
                    return None;
                }
                Err(e) => Err(e),
            }
        }
        Ok(method) => call(&ctx, side, connection, method, text, &received, now).await,
        Err(e) => Err(e),
    };
    observe(&ctx, envelope, &outcome, started);
    Some(result_document(envelope, outcome.map(Reply::Body), Some(now)).0)
}

/// Counts a request in the metrics (unknown methods are counted by HTTP only).
fn observe(
    ctx: &Context<'_>,
    envelope: &Envelope,
    outcome: &Result<Object, Error>,
    started: Instant,
) {
    if let Ok(method) = envelope.method() {
        let code = outcome.as_ref().map_or_else(|e| e.wire().0.code(), |_| 200);
        let handler = method.handler();
        ctx.metrics
            .observe(handler.as_str(), method.name(), code, started.elapsed());
    }
}

/// Carries a find for another domain's peer over the link in a task of its own, so that the
/// requester's other messages are not held up by a slow or unreachable domain; the answer then
/// goes down the requester's connection like any other.
fn spawn_forward(
    gateway: Arc<Gateway>,
    connection: ConnectionId,
    envelope: Envelope,
    forwarding: Forwarding,
    now: u64,
) {
    async_std::task::spawn(async move {
        let started = Instant::now();
        let ctx = context(&gateway);
        let outcome = find::forward(&ctx, connection, &forwarding, now).await;
        observe(&ctx, &envelope, &outcome, started);
        let reply = result_document(&envelope, outcome.map(Reply::Body), Some(unix_now())).0;
        if !ctx.registry.deliver(connection, Outbound::Text(reply)) {
            tracing::debug!(connection, "answer of a forwarded find not delivered");
        }
    });
}

/// Runs one checked request of `method`; `text` is the document as received.
async fn call(
    ctx: &Context<'_>,
    side: &Side,
    connection: ConnectionId,
    method: Method,
    text: &str,
    received: &Message,
    now: u64,
) -> Result<Object, Error> {
    let (envelope, body) = (&received.envelope, &received.body);
    match (side, method) {
        (Side::Peer, Method::SessionCreate) => {
            session::session_create(ctx, connection, body, now).await
        }
        (Side::Peer, Method::SessionKeepAlive) => {
            session::session_keep_alive(ctx, connection, now).await
        }
        (Side::Peer, Method::SessionDelete) => session::session_delete(ctx, connection, body).await,
        (Side::Peer, Method::ChannelMap) => {
            relay::channel_map(ctx, connection, envelope, body, now).await
        }
        (Side::Link(domain), Method::PeerLocationFind) => {
            find::linked_find(ctx, connection, domain, envelope, text, body, now).await
        }
        _ => Err(Error::refused(
            ResultCode::NotImplemented,
            "method not served on this connection",
        )),
    }
}
