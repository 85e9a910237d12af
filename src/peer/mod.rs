//! The peer client: the other end of the gateway's finder, shared by the tests, the load tool
//! and the CLI. It does what an Open Peer peer does with its domain and with other peers
//! (spec §6.11, §6.12, §7.3, §7.5):
//!
//! 1. [`Peer::start`] bootstraps the domain over HTTP (`services-get`, `certificates-get`,
//!    `finders-get`, `signed-salt-get`), makes an Ed25519 key and a findable public peer file,
//!    binds a UDP socket, opens the finder WebSocket and registers with `session-create`
//!    (the server proof verified, the relay secret opened), then keeps the session alive.
//! 2. [`Peer::find`] sends a signed `peer-location-find` for another peer's public peer file,
//!    checks the found peer's signed notify, and hands off: `peer-identify` over UDP to its
//!    host candidate, or — when that does not answer within the direct timeout — through the
//!    finder relay (`channel-map` on a WebSocket of its own to the found peer's finder).
//! 3. The found side answers finds forwarded by its finder by itself, accepts the relay
//!    channels its finder maps, checks the caller's `peer-identify`, and hands the new
//!    connection to [`Peer::accept`].
//! 4. A [`Connection`] carries signed datagrams either way. A direct one needs no server: it
//!    keeps working when the finder link drops, and so does the peer's UDP handling.
//!
//! Everything another peer or a finder sends is checked before use; what does not check out
//! is dropped (or refused with an error result) and logged at debug level, never trusted.

mod connection;
mod direct;
mod error;
mod find;
mod identity;
mod inbound;
pub(crate) mod load;
mod location;
mod login;
mod nonces;
mod p2p;
mod relay;
mod session;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use async_std::channel::{self, Receiver, Sender};
use async_std::net::UdpSocket;
use futures_rustls::TlsConnector;
use openpeer_federation::discovery::Domain;
use openpeer_federation::http::HttpClient;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::Method;
use openpeer_protocol::peer_file::{PeerFileOptions, PublicPeerFile};
use openpeer_protocol::random::{message_id, random_string};
use openpeer_protocol::signature::{SignatureSuite, SigningKey};
use openpeer_protocol::uri::{DomainName, PeerUri};
use rand_core::OsRng;

pub use connection::Connection;
pub use error::{PeerError, Rejection};
pub use identity::{Directory, IdentityLogin};
pub use login::{AccountLogin, IceServer, LockboxSession};

use connection::{Origin, Parts, RouteKey};
use find::{FoundLocation, OutgoingFind, find_request, verify_find_notify};
use location::Local;
use nonces::NonceCache;
use session::Session;

use openpeer_federation::clock::unix_now;

/// Lifetime of the peer file a peer makes at start.
const PEER_FILE_LIFETIME: u64 = 30 * 86_400;
/// Length of a location id.
const LOCATION_ID_LEN: usize = 32;
/// How long an answered find may lead to a connection (its `peer-identify` or `channel-map`).
const ANSWERED_FIND_TTL: u64 = 300;
/// Documents waiting in one connection's inbox before new ones are dropped.
pub(crate) const INBOX: usize = 256;
/// Accepted connections waiting for [`Peer::accept`] before new ones are dropped.
const ACCEPT_QUEUE: usize = 64;
/// Live nonces remembered per kind (finds, `peer-identify`, `channel-map`).
const NONCE_CAPACITY: usize = 65_536;

/// How a peer is started; [`PeerOptions::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct PeerOptions {
    /// The gateway's base URL, e.g. `http://127.0.0.1:8080`: `services-get` is POSTed to
    /// `<base_url>/.well-known/openpeer-services-get`.
    pub base_url: String,
    /// The domain: `$domain` of every request, and the domain of the peer's URI.
    pub domain: DomainName,
    /// Where the UDP socket binds. Default `127.0.0.1:0`.
    pub udp_bind: SocketAddr,
    /// The host candidate to advertise instead of the socket's address (behind NAT, or a dead
    /// address to make the direct path fail in tests). An unspecified bind address is otherwise
    /// advertised as loopback.
    pub advertised_host: Option<SocketAddr>,
    /// How long the direct UDP hand-off is tried before the relay. Default 2 s.
    pub direct_timeout: Duration,
    /// How long the relay hand-off may take. Default 10 s.
    pub relay_timeout: Duration,
    /// How long [`Peer::find`] waits for the found peer's notify. Default 10 s.
    pub find_timeout: Duration,
    /// How long every HTTP request and finder request may take. Default 10 s.
    pub request_timeout: Duration,
    /// The keep-alive goes out at half the session's remaining time, and at the latest this
    /// long before it expires. Default 60 s.
    pub keep_alive_margin: Duration,
    /// PEM certificates trusted besides the WebPKI roots for `https` and `wss` (private CAs).
    pub extra_root_pems: Vec<Vec<u8>>,
}

impl PeerOptions {
    /// Options for a peer of `domain` served at `base_url`, everything else by default.
    pub fn new(base_url: impl Into<String>, domain: DomainName) -> PeerOptions {
        PeerOptions {
            base_url: base_url.into(),
            domain,
            udp_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertised_host: None,
            direct_timeout: Duration::from_secs(2),
            relay_timeout: Duration::from_secs(10),
            find_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            keep_alive_margin: Duration::from_secs(60),
            extra_root_pems: Vec::new(),
        }
    }
}

/// A running peer: registered with its domain's finder, findable, able to find others and to
/// accept their connections. Clones share it; it stops when the last clone and the last of its
/// connections are dropped (or at [`Peer::close`]).
#[derive(Clone)]
pub struct Peer {
    inner: Arc<PeerInner>,
}

/// Bootstraps the domain of `options`, its certificates verified.
pub(crate) async fn bootstrap(options: &PeerOptions) -> Result<Domain, PeerError> {
    let http = HttpClient::new(&options.extra_root_pems, options.request_timeout)
        .map_err(|e| PeerError::Options(e.to_string()))?;
    Ok(Domain::bootstrap(http, &options.base_url, options.domain.clone(), unix_now()).await?)
}

/// A new key and a findable public peer file under a salt of `domain` (spec §4.1).
pub(crate) async fn new_peer_file(
    domain: &Domain,
    now: u64,
) -> Result<(SigningKey, PublicPeerFile), PeerError> {
    let salt = domain.signed_salt().await?;
    let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng)
        .map_err(|_| PeerError::Crypto("key generation"))?;
    let file_options = PeerFileOptions {
        salt_bundle: &salt,
        created: now,
        expires: now + PEER_FILE_LIFETIME,
        findable: true,
    };
    let generated = PublicPeerFile::generate(&key, &file_options, &mut OsRng)
        .map_err(|_| PeerError::Untrusted("salt"))?;
    // The salt must be the domain's own: otherwise the finder refuses the session anyway.
    let file = PublicPeerFile::validate(generated.document(), now, Some(domain.certificates()))
        .map_err(|_| PeerError::Untrusted("salt"))?;
    Ok((key, file))
}

impl Peer {
    /// Starts a peer with a new key and peer file: bootstrap, peer file, UDP socket, finder
    /// session and keep-alive (see the module documentation).
    #[tracing::instrument(skip_all, fields(domain = %options.domain))]
    pub async fn start(options: PeerOptions) -> Result<Peer, PeerError> {
        let domain = bootstrap(&options).await?;
        let (key, file) = new_peer_file(&domain, unix_now()).await?;
        Peer::run(options, domain, key, file).await
    }

    /// Starts the peer of an account login (its private peer file, opened from the lockbox:
    /// the same peer on every device of a user).
    #[tracing::instrument(skip_all, fields(domain = %options.domain))]
    pub async fn start_as(options: PeerOptions, login: &AccountLogin) -> Result<Peer, PeerError> {
        let key = SigningKey::from_pkcs8_der(&login.key.to_pkcs8_der())
            .map_err(|_| PeerError::Crypto("private key"))?;
        let domain = bootstrap(&options).await?;
        Peer::run(options, domain, key, login.peer_file.clone()).await
    }

    async fn run(
        options: PeerOptions,
        domain: Domain,
        key: SigningKey,
        file: PublicPeerFile,
    ) -> Result<Peer, PeerError> {
        let now = unix_now();
        let finder = domain.finder(now).await?;
        let (socket, host) = direct::bind(options.udp_bind, options.advertised_host).await?;
        let local = Local {
            key,
            file,
            location_id: random_string(&mut OsRng, LOCATION_ID_LEN),
            host,
        };
        let tls = domain.http().tls_connector().clone();
        let inner = PeerInner::new(
            local,
            domain.certificates().clone(),
            socket,
            tls,
            Timeouts::of(&options),
        );
        let (session, events) = session::create(
            &inner.local,
            &inner.certificates,
            &finder,
            options.domain,
            &inner.tls,
            options.request_timeout,
        )
        .await?;
        // The peer was made just above, without a session: this sets it.
        let _ = inner.session.set(session);
        session::run(&inner, events, options.keep_alive_margin);
        Ok(Peer { inner })
    }

    /// This peer's public peer file: what others need to find it.
    pub fn public_peer_file(&self) -> &PublicPeerFile {
        &self.inner.local.file
    }

    /// This peer's URI.
    pub fn contact(&self) -> &PeerUri {
        self.inner.local.contact()
    }

    /// The address the UDP socket is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr, PeerError> {
        Ok(self.inner.socket.local_addr()?)
    }

    /// When the finder session ends unless kept alive (Unix seconds), as the finder last said;
    /// 0 before registration.
    pub fn session_expires(&self) -> u64 {
        self.inner.session.get().map_or(0, Session::expires)
    }

    /// Whether the finder link is open. Direct connections do not need it.
    pub fn is_registered(&self) -> bool {
        self.inner
            .session
            .get()
            .is_some_and(|s| !s.link.is_closed())
    }

    /// Finds `target` through this peer's finder and connects to it (spec §7.3): directly over
    /// UDP when its host candidate answers in time, else through its finder's relay. The first
    /// location of `target` whose notify checks out is the one connected to.
    ///
    /// Fails with [`PeerError::Refused`] when the finder refuses (404: not registered or not
    /// findable), [`PeerError::Timeout`] when no valid notify comes, and
    /// [`PeerError::Unreachable`] when neither path works.
    #[tracing::instrument(skip_all, fields(target = %target.contact()))]
    pub async fn find(&self, target: &PublicPeerFile) -> Result<Connection, PeerError> {
        let peer = &self.inner;
        let link = &peer.session.get().ok_or(PeerError::LinkClosed)?.link;
        let (body, outgoing) = find_request(&peer.local, target, unix_now())?;
        let id = message_id(&mut OsRng);
        let (to_waiter, notifies) = channel::bounded(8);
        peer.state().finds.insert(id.clone(), to_waiter);
        let _waiting = FindWaiter {
            peer,
            id: id.clone(),
        };
        link.request_with_id(id, Method::PeerLocationFind, body)
            .await?;
        let limit = peer.timeouts.find;
        let wait = async {
            loop {
                let notify = notifies.recv().await.map_err(|_| PeerError::LinkClosed)?;
                match verify_find_notify(&outgoing, &notify) {
                    Ok(found) => return Ok::<_, PeerError>(found),
                    Err(e) => tracing::debug!(error = %e, "find notify refused"),
                }
            }
        };
        let link_lost = async {
            link.closed().await;
            Err(PeerError::LinkClosed)
        };
        let found = async_std::future::timeout(limit, futures_lite::future::or(wait, link_lost))
            .await
            .map_err(|_| PeerError::Timeout(limit))??;
        peer.hand_off(&outgoing, found).await
    }

    /// The next connection another peer opened to this one.
    pub async fn accept(&self) -> Result<Connection, PeerError> {
        let parts = self
            .inner
            .accepted
            .1
            .recv()
            .await
            .map_err(|_| PeerError::Closed)?;
        Ok(Connection::new(Arc::clone(&self.inner), parts))
    }

    /// Leaves the finder (`session-delete`, then the WebSocket closes). Direct connections
    /// keep working; relayed ones end.
    pub async fn close(&self) {
        if let Some(session) = self.inner.session.get() {
            if let Err(e) = session
                .link
                .request(Method::SessionDelete, Object::new())
                .await
            {
                tracing::debug!(error = %e, "session-delete failed");
            }
            session.link.close();
        }
    }
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("contact", self.contact())
            .finish_non_exhaustive()
    }
}

/// The time limits of [`PeerOptions`] the running peer needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    /// Of every finder request.
    pub(crate) request: Duration,
    /// Of the direct hand-off.
    pub(crate) direct: Duration,
    /// Of the relay hand-off.
    pub(crate) relay: Duration,
    /// Of waiting for a find's notify.
    pub(crate) find: Duration,
}

impl Timeouts {
    fn of(options: &PeerOptions) -> Timeouts {
        Timeouts {
            request: options.request_timeout,
            direct: options.direct_timeout,
            relay: options.relay_timeout,
            find: options.find_timeout,
        }
    }
}

/// The shared state of a running peer.
pub(crate) struct PeerInner {
    /// Who this peer is.
    pub(crate) local: Local,
    /// The domain's certificates: the finder's server proof and our domain's peer files are
    /// checked with them.
    pub(crate) certificates: CertificateSet,
    /// The UDP socket of the direct path.
    pub(crate) socket: Arc<UdpSocket>,
    /// TLS for relay links to `wss` finders.
    pub(crate) tls: TlsConnector,
    /// Time limits.
    pub(crate) timeouts: Timeouts,
    /// The finder session, once registered.
    pub(crate) session: OnceLock<Session>,
    state: Mutex<State>,
    /// Connections accepted and not yet taken by [`Peer::accept`].
    pub(crate) accepted: (Sender<Parts>, Receiver<Parts>),
    /// Never carries anything; closes when the peer is dropped, which stops its tasks.
    stop: (Sender<()>, Receiver<()>),
}

/// What the peer remembers between messages.
pub(crate) struct State {
    /// Nonces of finds answered.
    pub(crate) find_nonces: NonceCache,
    /// Nonces of `peer-identify` proofs accepted.
    pub(crate) identify_nonces: NonceCache,
    /// Nonces of `channel-map` notifies accepted.
    pub(crate) channel_nonces: NonceCache,
    /// Finds this peer answered, by the context it gave each.
    pub(crate) answered: HashMap<String, Answered>,
    /// Finds this peer sent and waits for notifies of, by request `$id`.
    pub(crate) finds: HashMap<String, Sender<Object>>,
    /// Connections reached over UDP, by the other peer's address.
    pub(crate) direct: HashMap<SocketAddr, Route>,
    /// Relay channels of the session link.
    pub(crate) relay: HashMap<u32, RelayRoute>,
    /// Answers given to `peer-identify` requests, by request `$id`, to repeat them to a
    /// retransmission.
    pub(crate) replies: HashMap<String, Reply>,
    next_route: u64,
}

/// A find this peer answered.
pub(crate) struct Answered {
    /// Who found us (as the find claimed; its signature is checked at `peer-identify`).
    pub(crate) requester: PeerUri,
    /// The finding peer's context.
    pub(crate) remote_context: String,
    /// The signed find, verified with the finding peer's key once it identifies itself.
    pub(crate) bundle: Object,
    /// Until when it may lead to a connection.
    pub(crate) until: u64,
}

/// Where a connection's documents go.
pub(crate) struct Route {
    /// The connection's [`RouteKey::id`].
    pub(crate) id: u64,
    /// Its inbox.
    pub(crate) inbox: Sender<Object>,
}

/// A relay channel of the session link.
pub(crate) enum RelayRoute {
    /// Mapped by a verified `channel-map` for the find answered with `context`; waiting for
    /// the finding peer's `peer-identify`.
    Mapped {
        /// The context this peer gave the find.
        context: String,
        /// Until when the `peer-identify` may come.
        until: u64,
    },
    /// Carrying a connection.
    Connected(Route),
}

/// An answer given to a `peer-identify`.
pub(crate) struct Reply {
    /// Where the request came from: only a retransmission from there is answered again.
    pub(crate) origin: Origin,
    /// The encoded result.
    pub(crate) bytes: Vec<u8>,
    /// Until when it is kept.
    pub(crate) until: u64,
}

impl State {
    /// Routes what arrives from `origin` to `inbox`, replacing an older route there (whose
    /// connection then sees [`PeerError::Closed`]).
    pub(crate) fn add_route(&mut self, origin: Origin, inbox: Sender<Object>) -> RouteKey {
        self.next_route += 1;
        let id = self.next_route;
        let route = Route { id, inbox };
        match origin {
            Origin::Direct(addr) => {
                self.direct.insert(addr, route);
            }
            Origin::Relay(channel) => {
                self.relay.insert(channel, RelayRoute::Connected(route));
            }
        }
        RouteKey { origin, id }
    }
}

impl PeerInner {
    /// A peer with no finder session yet, its UDP receiver running.
    pub(crate) fn new(
        local: Local,
        certificates: CertificateSet,
        socket: UdpSocket,
        tls: TlsConnector,
        timeouts: Timeouts,
    ) -> Arc<PeerInner> {
        let state = State {
            find_nonces: NonceCache::new(NONCE_CAPACITY),
            identify_nonces: NonceCache::new(NONCE_CAPACITY),
            channel_nonces: NonceCache::new(NONCE_CAPACITY),
            answered: HashMap::new(),
            finds: HashMap::new(),
            direct: HashMap::new(),
            relay: HashMap::new(),
            replies: HashMap::new(),
            next_route: 0,
        };
        let inner = Arc::new(PeerInner {
            local,
            certificates,
            socket: Arc::new(socket),
            tls,
            timeouts,
            session: OnceLock::new(),
            state: Mutex::new(state),
            accepted: channel::bounded(ACCEPT_QUEUE),
            stop: channel::bounded(1),
        });
        direct::spawn_receiver(&inner);
        inner
    }

    /// The state; a panic elsewhere while it was held leaves it usable.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Routes what arrives from `origin` to `inbox`; see [`State::add_route`].
    pub(crate) fn add_route(&self, origin: Origin, inbox: Sender<Object>) -> RouteKey {
        self.state().add_route(origin, inbox)
    }

    /// Removes a connection's route, unless a newer connection has taken its place.
    pub(crate) fn remove_route(&self, key: RouteKey) {
        let mut state = self.state();
        match key.origin {
            Origin::Direct(addr) => {
                if state.direct.get(&addr).is_some_and(|r| r.id == key.id) {
                    state.direct.remove(&addr);
                }
            }
            Origin::Relay(channel) => {
                if matches!(state.relay.get(&channel), Some(RelayRoute::Connected(r)) if r.id == key.id)
                {
                    state.relay.remove(&channel);
                }
            }
        }
    }

    /// The hand-off after a valid notify: direct first, then the relay (spec §7.3, §7.5).
    pub(crate) async fn hand_off(
        self: &Arc<Self>,
        outgoing: &OutgoingFind,
        found: FoundLocation,
    ) -> Result<Connection, PeerError> {
        let target = &outgoing.target;
        if let Some(addr) = found.host {
            match connection::connect_direct(self, target, addr, self.timeouts.direct).await {
                Ok(connection) => return Ok(connection),
                Err(e) => tracing::debug!(error = %e, %addr, "direct hand-off failed"),
            }
        }
        if let Some(candidate) = &found.relay {
            let limit = self.timeouts.relay;
            let contexts = (outgoing.context.as_str(), found.context.as_str());
            let relayed = connection::connect_relay(self, target, candidate, contexts, limit);
            match async_std::future::timeout(limit, relayed).await {
                Ok(Ok(connection)) => return Ok(connection),
                Ok(Err(e)) => tracing::debug!(error = %e, "relay hand-off failed"),
                Err(_) => tracing::debug!("relay hand-off timed out"),
            }
        }
        Err(PeerError::Unreachable)
    }
}

impl Drop for PeerInner {
    fn drop(&mut self) {
        if let Some(session) = self.session.get() {
            session.link.close();
        }
    }
}

/// Forgets a find's notify waiter however the find ends.
struct FindWaiter<'a> {
    peer: &'a PeerInner,
    id: String,
}

impl Drop for FindWaiter<'_> {
    fn drop(&mut self) {
        self.peer.state().finds.remove(&self.id);
    }
}

/// A mutex's guard; a panic elsewhere while it was held leaves the data usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "peer_test.rs"]
mod tests;
