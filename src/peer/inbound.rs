//! What arrives from other peers on any path (a UDP datagram, a relay frame of the session
//! link): a `peer-identify` opens a connection once it checks out (spec §6.12, §7.3 step 5),
//! anything else goes to the connection of its origin, or nowhere.

use std::sync::Arc;

use async_std::channel;
use openpeer_protocol::json::{self, Object};
use openpeer_protocol::message::{self, Message, Method};
use openpeer_protocol::signature::{PeerKey, verify_bundle};

use super::connection::{Origin, Parts, Path};
use super::error::Rejection;
use super::p2p::{identify_result, verify_identify};
use super::{ANSWERED_FIND_TTL, INBOX, PeerInner, RelayRoute, Reply};
use openpeer_federation::clock::unix_now;

impl PeerInner {
    /// Handles one payload from `origin`. Undecodable payloads, payloads for no connection and
    /// documents a full inbox has no room for are dropped: datagrams may be lost.
    pub(crate) async fn deliver(self: &Arc<Self>, origin: Origin, payload: &[u8]) {
        let Some(document) = std::str::from_utf8(payload)
            .ok()
            .and_then(|text| json::parse(text).ok())
        else {
            tracing::debug!(?origin, "undecodable payload dropped");
            return;
        };
        if document.contains_key("request") {
            match Message::from_document(document) {
                Ok(request) if request.method() == Ok(Method::PeerIdentify) => {
                    self.answer_identify(origin, request).await;
                }
                _ => tracing::debug!(?origin, "unexpected request dropped"),
            }
            return;
        }
        let inbox = {
            let state = self.state();
            match origin {
                Origin::Direct(addr) => state.direct.get(&addr).map(|r| r.inbox.clone()),
                Origin::Relay(channel) => match state.relay.get(&channel) {
                    Some(RelayRoute::Connected(route)) => Some(route.inbox.clone()),
                    _ => None,
                },
            }
        };
        match inbox {
            Some(inbox) => {
                if inbox.try_send(document).is_err() {
                    tracing::debug!(?origin, "connection inbox full or closed; dropped");
                }
            }
            None => tracing::debug!(?origin, "payload for no connection dropped"),
        }
    }

    /// Answers a `peer-identify`: a retransmission of one already accepted gets the same
    /// answer again (from its origin only); a new one that checks out becomes a connection
    /// waiting for [`super::Peer::accept`]; anything else is dropped without an answer.
    async fn answer_identify(&self, origin: Origin, request: Message) {
        let Some(id) = request.envelope.id.clone() else {
            return;
        };
        let Some(path) = self.path_to(origin) else {
            return;
        };
        let repeated = self
            .state()
            .replies
            .get(&id)
            .map(|reply| (reply.origin == origin).then(|| reply.bytes.clone()));
        match repeated {
            Some(Some(reply)) => {
                if let Err(e) = path.send(&reply).await {
                    tracing::debug!(error = %e, ?origin, "peer-identify answer not repeated");
                }
            }
            Some(None) => tracing::debug!(?origin, "peer-identify replayed from elsewhere"),
            None => match self.accept_identify(origin, id, &request, path, unix_now()) {
                Ok((reply, parts)) => {
                    if let Err(e) = parts.path.send(&reply).await {
                        tracing::debug!(error = %e, ?origin, "peer-identify answer not sent");
                    }
                    if self.accepted.0.try_send(parts).is_err() {
                        tracing::warn!("accept queue full; connection dropped");
                    }
                }
                Err(e) => tracing::debug!(error = %e, ?origin, "peer-identify refused"),
            },
        }
    }

    /// The checks of a `peer-identify` from `origin` (spec §6.12, §7.3): the proof itself
    /// ([`verify_identify`]), then a find this peer answered for that contact — on a relay
    /// channel, the very find the channel was mapped for — whose signature verifies with the
    /// caller's key. Registers the connection's route and returns the answer and the
    /// connection.
    fn accept_identify(
        &self,
        origin: Origin,
        id: String,
        request: &Message,
        path: Path,
        now: u64,
    ) -> Result<(Vec<u8>, Parts), Rejection> {
        let mut state = self.state();
        let identified = verify_identify(
            &self.local,
            &request.body,
            &self.certificates,
            now,
            &mut state.identify_nonces,
        )?;
        let caller = &identified.peer;
        let key = PeerKey {
            uri: caller.contact(),
            key: caller.key(),
        };
        let found_by_caller = |bundle: &Object| verify_bundle(bundle, "findProof", &key).is_ok();
        let bound = match origin {
            Origin::Direct(_) => state.answered.values().any(|a| {
                &a.requester == caller.contact() && a.until >= now && found_by_caller(&a.bundle)
            }),
            Origin::Relay(channel) => match state.relay.get(&channel) {
                Some(RelayRoute::Mapped { context, until }) if *until >= now => {
                    state.answered.get(context).is_some_and(|a| {
                        &a.requester == caller.contact() && found_by_caller(&a.bundle)
                    })
                }
                _ => false,
            },
        };
        if !bound {
            return Err(Rejection::UnknownFind);
        }
        let reply =
            message::encode(&identify_result(&self.local, &request.envelope, now)).into_bytes();
        let (to_inbox, inbox) = channel::bounded(INBOX);
        let route = state.add_route(origin, to_inbox);
        state.replies.retain(|_, r| r.until >= now);
        state.replies.insert(
            id,
            Reply {
                origin,
                bytes: reply.clone(),
                until: now + ANSWERED_FIND_TTL,
            },
        );
        let parts = Parts {
            remote: identified.peer,
            path,
            route: Some(route),
            session: identified.session,
            inbox,
        };
        Ok((reply, parts))
    }

    /// How to answer `origin`: over UDP, or on the session link's relay channel.
    fn path_to(&self, origin: Origin) -> Option<Path> {
        match origin {
            Origin::Direct(remote) => Some(Path::Direct {
                socket: Arc::clone(&self.socket),
                remote,
            }),
            Origin::Relay(channel) => self.session.get().map(|s| Path::Relay {
                link: s.link.clone(),
                channel,
                owned: false,
            }),
        }
    }
}
