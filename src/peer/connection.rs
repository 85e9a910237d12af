//! A connection between two peers after the hand-off (spec §7.3 steps 4–5), over UDP or a
//! finder relay channel alike: the finding side's `peer-identify` (retransmitted until
//! answered), then signed application datagrams both ways.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_std::channel::{self, Receiver};
use async_std::net::UdpSocket;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Message, Method};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::random::message_id;
use openpeer_protocol::uri::PeerUri;
use rand_core::OsRng;

use super::error::PeerError;
use super::p2p::{MAX_DATA, datagram, identify_answer, identify_request, open_datagram};
use super::relay::{self, RelayCandidate};
use super::{INBOX, PeerInner, lock};
use openpeer_federation::clock::unix_now;
use openpeer_federation::finder_link::FinderLink;

/// How often an unanswered `peer-identify` is sent again.
const RETRANSMIT: Duration = Duration::from_millis(250);
/// Documents that arrive before the `peer-identify` answer and are kept for [`Connection::recv`].
const EARLY_LIMIT: usize = 64;

/// Where a payload came from: a UDP address or a relay channel of the peer's session link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// A datagram from this address.
    Direct(SocketAddr),
    /// A frame on this channel of the finder session link.
    Relay(u32),
}

/// A connection's entry in the peer's routing table, removed when the connection goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RouteKey {
    /// What the entry matches.
    pub(crate) origin: Origin,
    /// Which connection it belongs to (a newer one may have replaced it).
    pub(crate) id: u64,
}

/// How a connection sends to the other peer.
pub(crate) enum Path {
    /// UDP datagrams from the peer's socket to `remote`.
    Direct {
        /// The peer's socket.
        socket: Arc<UdpSocket>,
        /// The other peer's address.
        remote: SocketAddr,
    },
    /// Frames on `channel` of a finder link.
    Relay {
        /// The link.
        link: FinderLink,
        /// The relay channel.
        channel: u32,
        /// Whether the link was opened for this connection alone (the finding side's).
        owned: bool,
    },
}

impl Path {
    /// Sends one payload.
    pub(crate) async fn send(&self, payload: &[u8]) -> Result<(), PeerError> {
        match self {
            Path::Direct { socket, remote } => {
                socket.send_to(payload, remote).await?;
                Ok(())
            }
            Path::Relay { link, channel, .. } => Ok(link.send_frame(*channel, payload).await?),
        }
    }
}

/// A connection without the peer it belongs to: what the accept queue holds, so that queued
/// connections do not keep their peer alive.
pub(crate) struct Parts {
    /// The other peer.
    pub(crate) remote: PublicPeerFile,
    /// How to reach it.
    pub(crate) path: Path,
    /// Its routing entry, if it has one (a finding side's relay feeds its inbox directly).
    pub(crate) route: Option<RouteKey>,
    /// The `peer-identify` nonce both sides put in every datagram.
    pub(crate) session: String,
    /// The documents routed to this connection.
    pub(crate) inbox: Receiver<Object>,
}

/// A peer-to-peer connection: signed datagrams to and from one other peer, over UDP or
/// through a finder relay, which this type hides ([`Connection::is_relayed`] tells).
///
/// Datagram semantics: a payload may be lost, and one that arrives after a later one is
/// dropped. Every payload received is signed by the other peer and belongs to this connection;
/// anything else is dropped. A direct connection does not depend on any server and keeps
/// working when the finder goes away.
pub struct Connection {
    peer: Arc<PeerInner>,
    remote: PublicPeerFile,
    path: Path,
    route: Option<RouteKey>,
    session: String,
    inbox: Receiver<Object>,
    early: Mutex<VecDeque<Object>>,
    sent: AtomicU64,
    received: Mutex<u64>,
}

impl Connection {
    /// A connection of `peer` from its parts.
    pub(crate) fn new(peer: Arc<PeerInner>, parts: Parts) -> Connection {
        Connection {
            peer,
            remote: parts.remote,
            path: parts.path,
            route: parts.route,
            session: parts.session,
            inbox: parts.inbox,
            early: Mutex::new(VecDeque::new()),
            sent: AtomicU64::new(0),
            received: Mutex::new(0),
        }
    }

    /// Sends one payload of at most 16 KiB as a signed datagram.
    pub async fn send(&self, data: impl AsRef<[u8]>) -> Result<(), PeerError> {
        let data = data.as_ref();
        if data.len() > MAX_DATA {
            return Err(PeerError::TooLarge {
                len: data.len(),
                max: MAX_DATA,
            });
        }
        let sequence = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes = datagram(&self.peer.local, &self.session, sequence, data);
        self.path.send(&bytes).await
    }

    /// The next payload the other peer sent; [`PeerError::Closed`] once the path is gone (the
    /// relay channel closed, or a newer connection to the same address replaced this one).
    pub async fn recv(&self) -> Result<Vec<u8>, PeerError> {
        loop {
            let early = lock(&self.early).pop_front();
            let document = match early {
                Some(document) => document,
                None => self.inbox.recv().await.map_err(|_| PeerError::Closed)?,
            };
            if !document.contains_key("datagramBundle") {
                // A repeated `peer-identify` answer, or noise.
                continue;
            }
            let mut last = lock(&self.received);
            match open_datagram(&document, &self.remote, &self.session, *last) {
                Ok((sequence, data)) => {
                    *last = sequence;
                    return Ok(data);
                }
                Err(e) => {
                    tracing::debug!(error = %e, remote = %self.remote.contact(), "datagram dropped")
                }
            }
        }
    }

    /// The other peer.
    pub fn remote(&self) -> &PeerUri {
        self.remote.contact()
    }

    /// The other peer's public peer file, as it identified itself or was found.
    pub fn remote_peer_file(&self) -> &PublicPeerFile {
        &self.remote
    }

    /// Whether the datagrams go through a finder relay rather than straight over UDP.
    pub fn is_relayed(&self) -> bool {
        matches!(self.path, Path::Relay { .. })
    }

    /// Sends `request` (a `peer-identify`) until its answer arrives or `limit` passes; other
    /// documents arriving meanwhile are kept for [`Connection::recv`].
    async fn identify(&self, request: &Message, limit: Duration) -> Result<(), PeerError> {
        let id = request.envelope.id.clone().unwrap_or_default();
        let bytes = message::encode(request).into_bytes();
        let deadline = Instant::now() + limit;
        loop {
            if let Err(e) = self.path.send(&bytes).await {
                if self.is_relayed() {
                    return Err(e);
                }
                // A UDP send can fail transiently (an ICMP error of an earlier datagram).
                tracing::debug!(error = %e, "peer-identify not sent; retrying");
            }
            let resend_at = (Instant::now() + RETRANSMIT).min(deadline);
            loop {
                let now = Instant::now();
                if now >= resend_at {
                    break;
                }
                match async_std::future::timeout(resend_at - now, self.inbox.recv()).await {
                    Err(_) => break,
                    Ok(Err(_)) => return Err(PeerError::Closed),
                    Ok(Ok(document)) => match identify_answer(&document, &id, self.remote()) {
                        Some(answer) => return answer,
                        None => {
                            let mut early = lock(&self.early);
                            if early.len() < EARLY_LIMIT {
                                early.push_back(document);
                            }
                        }
                    },
                }
            }
            if Instant::now() >= deadline {
                return Err(PeerError::Timeout(limit));
            }
        }
    }
}

/// The finding side's direct hand-off: `peer-identify` over UDP to `addr`, for `limit`.
pub(crate) async fn connect_direct(
    peer: &Arc<PeerInner>,
    target: &PublicPeerFile,
    addr: SocketAddr,
    limit: Duration,
) -> Result<Connection, PeerError> {
    let (request, session) =
        identify_request(&peer.local, target, &message_id(&mut OsRng), unix_now())?;
    let (to_inbox, inbox) = channel::bounded(INBOX);
    let route = peer.add_route(Origin::Direct(addr), to_inbox);
    let parts = Parts {
        remote: target.clone(),
        path: Path::Direct {
            socket: Arc::clone(&peer.socket),
            remote: addr,
        },
        route: Some(route),
        session,
        inbox,
    };
    // From here on, dropping the connection removes its route.
    let connection = Connection::new(Arc::clone(peer), parts);
    connection.identify(&request, limit).await?;
    Ok(connection)
}

/// The finding side's relay hand-off (spec §7.5): a new WebSocket to the relay candidate's
/// finder, `channel-map` of a random channel with the two finds' contexts, then
/// `peer-identify` through it, for `limit`.
pub(crate) async fn connect_relay(
    peer: &Arc<PeerInner>,
    target: &PublicPeerFile,
    candidate: &RelayCandidate,
    contexts: (&str, &str),
    limit: Duration,
) -> Result<Connection, PeerError> {
    let (local_context, remote_context) = contexts;
    let (request, session) =
        identify_request(&peer.local, target, &message_id(&mut OsRng), unix_now())?;
    let (link, events) = FinderLink::connect(
        &candidate.host,
        target.contact().domain().clone(),
        &peer.tls,
        peer.timeouts.request,
    )
    .await?;
    let channel = relay::random_channel();
    let body = relay::channel_map_request(
        candidate,
        channel,
        local_context,
        remote_context,
        unix_now(),
    );
    if let Err(e) = link.request(Method::ChannelMap, body).await {
        link.close();
        return Err(e.into());
    }
    let (to_inbox, inbox) = channel::bounded(INBOX);
    relay::forward(events, channel, to_inbox);
    let parts = Parts {
        remote: target.clone(),
        path: Path::Relay {
            link,
            channel,
            owned: true,
        },
        route: None,
        session,
        inbox,
    };
    let connection = Connection::new(Arc::clone(peer), parts);
    connection.identify(&request, limit).await?;
    Ok(connection)
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(route) = self.route {
            self.peer.remove_route(route);
        }
        if let Path::Relay {
            link,
            channel,
            owned,
        } = &self.path
        {
            link.close_channel(*channel);
            if *owned {
                link.close();
            }
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("remote", self.remote())
            .field("relayed", &self.is_relayed())
            .finish_non_exhaustive()
    }
}
