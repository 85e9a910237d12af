//! The finder relay from the peers' side (spec §7.5): the relay candidate the found peer
//! offers, the `channel-map` request the finding peer sends the found peer's finder over a
//! WebSocket of its own, the found peer's check of the `channel-map` notify, and the task that
//! feeds a relayed channel's frames to its connection.

use async_std::channel::{Receiver, Sender};
use openpeer_protocol::cipher::{peer_secret_key, split_encrypt};
use openpeer_protocol::json::{self, Object, Value};
use openpeer_protocol::proof::{self, channel_map_inner, channel_map_proof};
use openpeer_protocol::random::nonce;
use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

use super::error::Rejection;
use super::find::proof_rejection;
use super::location::relay_candidate;
use super::nonces::NonceCache;
use openpeer_federation::finder_link::LinkEvent;

/// How long a `channel-map` proof stays valid (spec §7.5: now + 2 min).
const CHANNEL_MAP_LIFETIME: u64 = 120;
/// Longest `accessSecretProofExpires` accepted in a `channel-map` notify.
const MAX_CHANNEL_MAP_LIFETIME: u64 = 600;
/// Highest relay channel number picked: channels are 1..2^31.
const LAST_CHANNEL: u32 = 0x7fff_ffff;
/// Longest context id accepted.
const MAX_CONTEXT_LEN: usize = 128;

/// What a finder gave this peer in `session-create` to be reachable through its relay: the
/// relay token and secret, and the finder's WebSocket URL.
pub(crate) struct RelayAccess {
    /// The finder's WebSocket URL, the candidate's `host`.
    pub(crate) host: String,
    /// `relay.accessToken`.
    pub(crate) token: String,
    /// The opened `relay.accessSecretEncrypted`.
    pub(crate) secret: Zeroizing<String>,
}

/// A relay candidate as the finding peer reads it from a notify, its inner proof decrypted.
pub(crate) struct RelayCandidate {
    /// The found peer's finder WebSocket URL.
    pub(crate) host: String,
    /// The found peer's relay token.
    pub(crate) token: String,
    /// `channel_map_inner(relaySecret, token, found peer's context)`.
    pub(crate) inner: Zeroizing<String>,
}

/// A `channel-map` notify that checked out: which channel now leads to which find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChannelMap {
    /// The relay channel.
    pub(crate) channel: u32,
    /// This peer's context: the find it answered.
    pub(crate) local_context: String,
    /// The finding peer's context.
    pub(crate) remote_context: String,
}

impl RelayAccess {
    /// The finder-relay candidate for one answered find (spec §7.5): the inner proof for
    /// `local_context`, encrypted with the find's peer secret.
    pub(crate) fn candidate(&self, peer_secret: &[u8], local_context: &str) -> Value {
        let inner = Zeroizing::new(channel_map_inner(&self.secret, &self.token, local_context));
        let encrypted = split_encrypt(&peer_secret_key(peer_secret), inner.as_bytes(), &mut OsRng);
        relay_candidate(&self.host, &self.token, encrypted)
    }

    /// The found peer's checks of a `channel-map` notify (spec §7.5): its token, the proof
    /// recomputed from this peer's relay secret and `localContext`, the expiry, and a fresh
    /// nonce. Whether the contexts name a find this peer answered is the caller's check.
    pub(crate) fn verify_channel_map(
        &self,
        body: &Object,
        now: u64,
        nonces: &mut NonceCache,
    ) -> Result<ChannelMap, Rejection> {
        let channel = body
            .get_u64("channel")
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| *c != 0)
            .ok_or(Rejection::Malformed("channel"))?;
        let n = body.get_str("nonce").ok_or(Rejection::Malformed("nonce"))?;
        let relay = body
            .get_object("relay")
            .ok_or(Rejection::Malformed("relay"))?;
        let text = |key: &'static str| relay.get_str(key).ok_or(Rejection::Malformed(key));
        let local_context = context(text("localContext")?)?;
        let remote_context = context(text("remoteContext")?)?;
        if text("accessToken")? != self.token {
            return Err(Rejection::WrongSecret);
        }
        let expires = relay
            .get_u64("accessSecretProofExpires")
            .ok_or(Rejection::Malformed("accessSecretProofExpires"))?;
        if expires > now.saturating_add(MAX_CHANNEL_MAP_LIFETIME) {
            return Err(Rejection::Expired);
        }
        let inner = Zeroizing::new(channel_map_inner(&self.secret, &self.token, &local_context));
        let expected = channel_map_proof(n, &remote_context, channel, expires, &inner);
        proof::check(&expected, text("accessSecretProof")?, expires, now)
            .map_err(proof_rejection)?;
        if !nonces.use_once(n, expires, now) {
            return Err(Rejection::Replayed);
        }
        Ok(ChannelMap {
            channel,
            local_context,
            remote_context,
        })
    }
}

/// A random relay channel number in 1..2^31 (spec §7.5).
pub(crate) fn random_channel() -> u32 {
    OsRng.next_u32() % LAST_CHANNEL + 1
}

/// The body of the finding peer's `channel-map` request for `channel` (spec §7.5).
pub(crate) fn channel_map_request(
    candidate: &RelayCandidate,
    channel: u32,
    local_context: &str,
    remote_context: &str,
    now: u64,
) -> Object {
    let n = nonce(&mut OsRng);
    let expires = now + CHANNEL_MAP_LIFETIME;
    let proof = channel_map_proof(&n, local_context, channel, expires, &candidate.inner);
    Object::new()
        .with("channel", channel)
        .with("nonce", n)
        .with(
            "relay",
            Object::new()
                .with("localContext", local_context)
                .with("remoteContext", remote_context)
                .with("accessToken", candidate.token.as_str())
                .with("accessSecretProof", proof)
                .with("accessSecretProofExpires", expires),
        )
}

/// Feeds the documents relayed on `channel` of a link this peer opened for one connection into
/// `inbox`, until the channel or the link closes. Undecodable payloads are dropped, and so are
/// documents the connection has no room for: datagrams may be lost.
pub(crate) fn forward(events: Receiver<LinkEvent>, channel: u32, inbox: Sender<Object>) {
    async_std::task::spawn(async move {
        while let Ok(event) = events.recv().await {
            let LinkEvent::Frame {
                channel: on,
                payload,
            } = event
            else {
                continue;
            };
            if on != channel {
                continue;
            }
            if payload.is_empty() {
                break;
            }
            match std::str::from_utf8(&payload).map(json::parse) {
                Ok(Ok(document)) => {
                    let _ = inbox.try_send(document);
                }
                _ => tracing::debug!(channel, "undecodable relayed payload dropped"),
            }
        }
    });
}

/// A context id from a notify: non-empty and bounded.
fn context(text: &str) -> Result<String, Rejection> {
    if text.is_empty() || text.len() > MAX_CONTEXT_LEN {
        return Err(Rejection::Malformed("context"));
    }
    Ok(text.to_owned())
}
