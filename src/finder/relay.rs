//! The finder relay (spec §7.5) for peers whose direct path fails: `channel-map` joins a channel
//! of the caller's connection to the same channel of the callee's session connection, after
//! checking the caller knows the callee's relay secret; then relay frames of that channel are
//! copied between the two, unread, until either side closes it.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::finder::{FrameError, decode_relay_frame, encode_relay_frame};
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::proof::{ProofError, channel_map_inner, channel_map_proof, check};

use super::registry::{ConnectionId, Outbound};
use super::routes::ChannelEnd;
use super::{Context, bad_request, check_expiry, forbidden, short_text};
use crate::error::Error;

/// Longest `accessSecretProofExpires` ahead of now accepted (C14 makes them 2 minutes).
const MAX_CHANNEL_PROOF_LIFETIME: u64 = 600;

/// `channel-map` from `connection`: checks the proof against the relay secret of the access
/// token's registration (404 unknown token, 401 expired, 403 mismatch or reused nonce), maps
/// the channel (409 when in use), sends the callee the `channel-map` notify with the contexts
/// swapped, and answers an empty result.
pub async fn channel_map(
    ctx: &Context<'_>,
    connection: ConnectionId,
    request: &Envelope,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let channel = body
        .get_u64("channel")
        .and_then(|c| u32::try_from(c).ok())
        .filter(|c| *c != 0)
        .ok_or_else(|| bad_request("channel must be a number from 1 to 2^32-1"))?;
    let nonce = short_text(body, "nonce", "nonce missing")?;
    let relay = body
        .get_object("relay")
        .ok_or_else(|| bad_request("relay missing"))?;
    let local_context = short_text(relay, "localContext", "relay.localContext missing")?;
    let remote_context = short_text(relay, "remoteContext", "relay.remoteContext missing")?;
    let token = short_text(relay, "accessToken", "relay.accessToken missing")?;
    let presented = relay
        .get_str("accessSecretProof")
        .ok_or_else(|| bad_request("relay.accessSecretProof missing"))?;
    let expires = relay
        .get_u64("accessSecretProofExpires")
        .ok_or_else(|| bad_request("relay.accessSecretProofExpires missing"))?;
    check_expiry(expires, now, MAX_CHANNEL_PROOF_LIFETIME)?;
    let callee = ctx
        .registry
        .relay_of(token)
        .ok_or_else(|| Error::refused(ResultCode::NotFound, "unknown relay access token"))?;
    let inner = channel_map_inner(&callee.relay_secret, token, remote_context);
    let expected = channel_map_proof(nonce, local_context, channel, expires, &inner);
    check(&expected, presented, expires, now).map_err(|e| match e {
        ProofError::Expired => Error::refused(ResultCode::Unauthorized, "proof expired"),
        ProofError::Mismatch => forbidden("accessSecretProof does not match"),
    })?;
    if !ctx.nonces.use_nonce(nonce, expires).await? {
        return Err(forbidden("nonce already used"));
    }
    let caller_end = (connection, channel);
    let callee_end = (callee.connection, channel);
    ctx.routes.map_channel(caller_end, callee_end)?;
    let mut envelope = Envelope::new(MessageKind::Notify, Method::ChannelMap);
    envelope.domain.clone_from(&request.domain);
    envelope.id.clone_from(&request.id);
    envelope.timestamp = Some(now);
    let notify = Object::new()
        .with("channel", u64::from(channel))
        .with("nonce", nonce)
        .with(
            "relay",
            Object::new()
                .with("localContext", remote_context)
                .with("remoteContext", local_context)
                .with("accessToken", token)
                .with("accessSecretProof", presented)
                .with("accessSecretProofExpires", expires),
        );
    let text = message::encode(&Message::new(envelope, notify));
    if !ctx
        .registry
        .deliver(callee.connection, Outbound::Text(text))
    {
        ctx.routes.close_channel(caller_end);
        return Err(Error::refused(ResultCode::Gone, "the callee has gone"));
    }
    Ok(Object::new())
}

/// Copies one relay frame received on `connection` to the other end of its channel. A frame on
/// an unmapped channel is answered with a zero-length frame (channel closed); a zero-length
/// frame closes the channel after it is passed on.
pub fn relay_frame(
    ctx: &Context<'_>,
    connection: ConnectionId,
    frame: &[u8],
) -> Result<(), FrameError> {
    let (channel, payload) = decode_relay_frame(frame)?;
    let end = (connection, channel);
    let Some((other, other_channel)) = ctx.routes.channel_peer(end) else {
        if !payload.is_empty() {
            send_frame(ctx, (connection, channel), &[]);
        }
        return Ok(());
    };
    if payload.is_empty() {
        ctx.routes.close_channel(end);
    }
    send_frame(ctx, (other, other_channel), payload);
    Ok(())
}

/// Tells the other ends of a closed connection's channels that they closed.
pub fn close_channels(ctx: &Context<'_>, ends: Vec<ChannelEnd>) {
    for end in ends {
        send_frame(ctx, end, &[]);
    }
}

/// Queues a frame for one channel end. Relayed frames are datagrams to the peers: one that
/// finds the other end gone or its outbox full is dropped, so a slow reader stalls nobody.
fn send_frame(ctx: &Context<'_>, (connection, channel): ChannelEnd, payload: &[u8]) {
    match encode_relay_frame(channel, payload) {
        Ok(frame) => {
            if !ctx.registry.deliver(connection, Outbound::Frame(frame)) {
                tracing::debug!(connection, channel, "relay frame dropped");
            }
        }
        Err(e) => tracing::debug!(error = %e, "relay frame not re-encoded"),
    }
}
