//! The peer's finder session (spec §6.11): `session-create` with a signed session proof, the
//! server proof checked and the relay secret opened, `session-keep-alive` before the session
//! expires, and the handling of what the finder sends on the session link — finds forwarded
//! to this peer, notifies answering this peer's finds, relay channels mapped to it and their
//! frames.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_std::channel::Receiver;
use futures_lite::future;
use futures_rustls::TlsConnector;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{Envelope, Message, MessageKind, Method};
use openpeer_protocol::random::nonce;
use openpeer_protocol::seal::open;
use openpeer_protocol::signature::verify_bundle;
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::connection::Origin;
use super::error::{PeerError, Rejection};
use super::find::{find_notify, new_context, verify_find_request};
use super::location::Local;
use super::p2p::own_peer_element;
use super::relay::RelayAccess;
use super::{ANSWERED_FIND_TTL, Answered, PeerInner, RelayRoute};
use crate::keys::ServiceType;
use openpeer_federation::Error as FederationError;
use openpeer_federation::clock::unix_now;
use openpeer_federation::finder_link::{FinderLink, LinkEvent};
use openpeer_protocol::finder::FinderEntry;

/// Lifetime of the session proof (the C++ makes them 24 h).
const SESSION_PROOF_LIFETIME: u64 = 86_400;
/// The earliest a keep-alive follows the previous one.
const MIN_KEEP_ALIVE_DELAY: Duration = Duration::from_secs(1);
/// Pause before a keep-alive that went unanswered is tried again.
const KEEP_ALIVE_RETRY: Duration = Duration::from_secs(2);

/// A registration with the finder.
pub(crate) struct Session {
    /// The WebSocket the session lives on.
    pub(crate) link: FinderLink,
    /// The relay token and secret the finder issued, if it did.
    pub(crate) relay: Option<RelayAccess>,
    /// When the registration lapses without a keep-alive (Unix seconds).
    expires: AtomicU64,
}

impl Session {
    /// A session on `link` with the finder's relay access, lapsing at `expires`.
    pub(crate) fn new(link: FinderLink, relay: Option<RelayAccess>, expires: u64) -> Session {
        Session {
            link,
            relay,
            expires: AtomicU64::new(expires),
        }
    }

    /// When the registration lapses without a keep-alive, as the finder last said.
    pub(crate) fn expires(&self) -> u64 {
        self.expires.load(Ordering::Relaxed)
    }
}

/// Opens a WebSocket to `finder` and registers `local` there (spec §6.11), checking the server
/// proof with the domain's `certificates`. Returns the session and the link's event stream.
pub(crate) async fn create(
    local: &Local,
    certificates: &CertificateSet,
    finder: &FinderEntry,
    domain: DomainName,
    tls: &TlsConnector,
    timeout: Duration,
) -> Result<(Session, Receiver<LinkEvent>), PeerError> {
    let (link, events) = FinderLink::connect(&finder.websocket, domain, tls, timeout).await?;
    let proof = session_proof(local, &finder.id, unix_now());
    let body = link.request(Method::SessionCreate, proof).await?;
    let expires = body
        .get_u64("expires")
        .ok_or(PeerError::Malformed("expires"))?;
    let relay = server_proof(local, certificates, &body, link.url())?;
    Ok((Session::new(link, relay, expires), events))
}

/// Starts the session's tasks: the handling of the link's events and the keep-alive.
pub(crate) fn run(peer: &Arc<PeerInner>, events: Receiver<LinkEvent>, margin: Duration) {
    let Some(session) = peer.session.get() else {
        return;
    };
    spawn_events(peer, events);
    spawn_keep_alive(peer, session.link.clone(), margin);
}

/// The `session-create` body: a session proof for finder `finder_id`, signed by `local`.
fn session_proof(local: &Local, finder_id: &str, now: u64) -> Object {
    let proof = Object::new()
        .with("finder", Object::new().with("$id", finder_id))
        .with("nonce", nonce(&mut OsRng))
        .with("expires", now + SESSION_PROOF_LIFETIME)
        .with("location", local.location(Vec::new()))
        .with("peer", own_peer_element(local));
    Object::new().with("sessionProofBundle", local.sign("sessionProof", proof))
}

/// Checks the `serverProofBundle` of a `session-create` result — signed by a finder
/// certificate of the domain — and opens its relay secret with `local`'s key.
fn server_proof(
    local: &Local,
    certificates: &CertificateSet,
    body: &Object,
    finder_url: &str,
) -> Result<Option<RelayAccess>, PeerError> {
    let bundle = body
        .get_object("serverProofBundle")
        .ok_or(PeerError::Malformed("serverProofBundle"))?;
    let proof = verify_bundle(
        bundle,
        "serverProof",
        &certificates.of_service(ServiceType::Finder.as_str()),
    )
    .map_err(|_| PeerError::Untrusted("server proof"))?;
    let Some(relay) = proof.get().get_object("relay") else {
        return Ok(None);
    };
    let token = relay
        .get_str("accessToken")
        .filter(|t| !t.is_empty())
        .ok_or(PeerError::Malformed("relay.accessToken"))?;
    let sealed = relay
        .get_str("accessSecretEncrypted")
        .ok_or(PeerError::Malformed("relay.accessSecretEncrypted"))?;
    let secret = open(&local.key, sealed)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .filter(|s| !s.is_empty())
        .ok_or(PeerError::Malformed("relay.accessSecretEncrypted"))?;
    Ok(Some(RelayAccess {
        host: finder_url.to_owned(),
        token: token.to_owned(),
        secret: Zeroizing::new(secret),
    }))
}

/// When to send the next keep-alive with `remaining` seconds left: at half the remaining time,
/// and at least `margin` before the end, but never within a second of the previous one.
pub(crate) fn keep_alive_delay(remaining: u64, margin: Duration) -> Duration {
    let remaining = Duration::from_secs(remaining);
    (remaining / 2)
        .min(remaining.saturating_sub(margin))
        .max(MIN_KEEP_ALIVE_DELAY)
}

/// Keeps the session alive until the link closes: a refused keep-alive ends it (the finder no
/// longer knows the session), an unanswered one is tried again shortly.
fn spawn_keep_alive(peer: &Arc<PeerInner>, link: FinderLink, margin: Duration) {
    let weak = Arc::downgrade(peer);
    async_std::task::spawn(async move {
        let mut retry = None;
        loop {
            let delay = match retry.take() {
                Some(delay) => delay,
                None => {
                    let Some(peer) = weak.upgrade() else { break };
                    let expires = peer.session.get().map_or(0, Session::expires);
                    keep_alive_delay(expires.saturating_sub(unix_now()), margin)
                }
            };
            let slept = future::or(
                async {
                    async_std::task::sleep(delay).await;
                    true
                },
                async {
                    link.closed().await;
                    false
                },
            )
            .await;
            if !slept {
                break;
            }
            match link.request(Method::SessionKeepAlive, Object::new()).await {
                Ok(body) => {
                    let Some(peer) = weak.upgrade() else { break };
                    match (body.get_u64("expires"), peer.session.get()) {
                        (Some(expires), Some(session)) => {
                            session.expires.store(expires, Ordering::Relaxed);
                        }
                        _ => tracing::warn!("keep-alive result without expires"),
                    }
                }
                Err(FederationError::LinkClosed) => break,
                Err(FederationError::Timeout(limit)) => {
                    tracing::warn!(?limit, "keep-alive unanswered; trying again");
                    retry = Some(KEEP_ALIVE_RETRY);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "keep-alive refused; the session is over");
                    break;
                }
            }
        }
    });
}

/// Handles what the finder sends until the link closes; then the relayed connections of the
/// session link end (direct ones continue).
fn spawn_events(peer: &Arc<PeerInner>, events: Receiver<LinkEvent>) {
    let weak = Arc::downgrade(peer);
    async_std::task::spawn(async move {
        while let Ok(event) = events.recv().await {
            let Some(peer) = weak.upgrade() else { return };
            match event {
                LinkEvent::Message(message) => peer.on_finder_message(message).await,
                LinkEvent::Frame { channel, payload } => {
                    if payload.is_empty() {
                        peer.state().relay.remove(&channel);
                    } else {
                        peer.deliver(Origin::Relay(channel), &payload).await;
                    }
                }
            }
        }
        if let Some(peer) = weak.upgrade() {
            tracing::info!("finder link closed; direct connections continue");
            peer.state().relay.clear();
        }
    });
}

impl PeerInner {
    /// A request or notify from the finder.
    async fn on_finder_message(&self, message: Message) {
        let Some(session) = self.session.get() else {
            return;
        };
        let now = unix_now();
        let answer = match (message.envelope.kind, message.method()) {
            (MessageKind::Request, Ok(Method::PeerLocationFind)) => {
                Some(match self.answer_find(&message.body, now) {
                    Ok(body) => {
                        let envelope = Envelope {
                            domain: message.envelope.domain.clone(),
                            id: message.envelope.id.clone(),
                            timestamp: Some(now),
                            ..Envelope::new(MessageKind::Notify, Method::PeerLocationFind)
                        };
                        Message::new(envelope, body)
                    }
                    Err(rejection) => {
                        tracing::debug!(error = %rejection, "find refused");
                        let code = rejection.result_code();
                        Message::error_for(&message.envelope, now, code, None, None)
                    }
                })
            }
            (MessageKind::Request, _) => Some(Message::error_for(
                &message.envelope,
                now,
                ResultCode::NotImplemented,
                None,
                None,
            )),
            (MessageKind::Notify, Ok(Method::PeerLocationFind)) => {
                let waiter = message
                    .envelope
                    .id
                    .as_deref()
                    .and_then(|id| self.state().finds.get(id).cloned());
                match waiter {
                    Some(waiter) => {
                        let _ = waiter.try_send(message.body);
                    }
                    None => tracing::debug!("notify for no pending find dropped"),
                }
                None
            }
            (MessageKind::Notify, Ok(Method::ChannelMap)) => {
                if let Err(e) = self.map_channel(&message.body, now) {
                    tracing::debug!(error = %e, "channel-map refused");
                }
                None
            }
            _ => {
                tracing::debug!("unexpected document from the finder dropped");
                None
            }
        };
        if let Some(answer) = answer
            && let Err(e) = session.link.send(&answer).await
        {
            tracing::debug!(error = %e, "answer to the finder not sent");
        }
    }

    /// Checks a find forwarded to this peer, remembers it, and returns the notify body that
    /// answers it (spec §6.11).
    pub(crate) fn answer_find(&self, body: &Object, now: u64) -> Result<Object, Rejection> {
        let relay = self.session.get().and_then(|s| s.relay.as_ref());
        let mut state = self.state();
        let incoming = verify_find_request(&self.local, body, now, &mut state.find_nonces)?;
        let context = new_context();
        let notify = find_notify(&self.local, &incoming, &context, relay);
        state.answered.retain(|_, a| a.until >= now);
        state.answered.insert(
            context,
            Answered {
                requester: incoming.requester,
                remote_context: incoming.context,
                bundle: incoming.bundle,
                until: now + ANSWERED_FIND_TTL,
            },
        );
        Ok(notify)
    }

    /// Accepts a `channel-map` notify (spec §7.5): its proof checks out with this peer's relay
    /// secret, and its contexts are those of a find this peer answered. The channel then waits
    /// for the finding peer's `peer-identify`.
    pub(crate) fn map_channel(&self, body: &Object, now: u64) -> Result<(), Rejection> {
        let relay = self
            .session
            .get()
            .and_then(|s| s.relay.as_ref())
            .ok_or(Rejection::UnknownFind)?;
        let mut state = self.state();
        let map = relay.verify_channel_map(body, now, &mut state.channel_nonces)?;
        let known = state
            .answered
            .get(&map.local_context)
            .is_some_and(|a| a.remote_context == map.remote_context && a.until >= now);
        if !known {
            return Err(Rejection::UnknownFind);
        }
        if matches!(
            state.relay.get(&map.channel),
            Some(RelayRoute::Connected(_))
        ) {
            return Err(Rejection::Replayed);
        }
        state
            .relay
            .retain(|_, route| !matches!(route, RelayRoute::Mapped { until, .. } if *until < now));
        state.relay.insert(
            map.channel,
            RelayRoute::Mapped {
                context: map.local_context,
                until: now + ANSWERED_FIND_TTL,
            },
        );
        Ok(())
    }
}
