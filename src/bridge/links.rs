//! Outbound finder-to-finder links (architecture §4 "Federation" (4)): one long-lived WebSocket
//! per remote domain, opened on demand to the `finder-link` URL of its signed finder entry and
//! greeted with a signed `link-hello`. A link is a connection of the finder's registry, so a
//! find forwarded over it is routed like any other: the remote finder's answer comes back as
//! the result, the callee's notify as a notify relayed to the requester.
//!
//! A link that cannot be opened is not tried again for a back-off that doubles from 1 s up to
//! `federation.backoff_max_seconds`; a link whose request goes unanswered is closed (it is
//! reopened on the next find); idle links are pinged every `federation.link_keep_alive_seconds`;
//! inbound and outbound links together are capped at `federation.max_links`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_std::channel::{self, Receiver};
use openpeer_federation::Error as FederationError;
use openpeer_federation::backoff::Backoff;
use openpeer_federation::finder_link::{FinderLink, LinkEvent};
use openpeer_federation::trust::Remotes;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, MessageKind, Method};
use openpeer_protocol::uri::DomainName;

use crate::config::Settings;
use crate::error::Error;
use crate::finder::find::relay_notify;
use crate::finder::registry::{ConnectionId, Outbound, Registry};
use crate::finder::routes::Routes;

/// Messages queued toward one link before relayed traffic to it is dropped.
const LINK_OUTBOX: usize = 256;

/// An open outbound link.
#[derive(Clone)]
struct OutLink {
    link: FinderLink,
    connection: ConnectionId,
}

/// The links of a node; see the module documentation.
pub struct Links {
    registry: Arc<Registry>,
    routes: Arc<Routes>,
    max_links: usize,
    keep_alive: Duration,
    timeout: Duration,
    route_seconds: u64,
    /// The open outbound links, by domain.
    open_links: Mutex<HashMap<DomainName, OutLink>>,
    /// Domains a link could not be opened to lately.
    failing: Backoff,
    /// Links open now, inbound and outbound.
    open: Arc<AtomicUsize>,
    /// One opening at a time, so two finds do not open two links.
    opening: async_std::sync::Mutex<()>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Counts a link as open until dropped.
pub struct LinkPermit(Arc<AtomicUsize>);

impl Drop for LinkPermit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Links {
    /// The links of a node with `settings`, registered in `registry`, routed by `routes`.
    pub fn new(settings: &Settings, registry: Arc<Registry>, routes: Arc<Routes>) -> Links {
        let federation = &settings.federation;
        Links {
            registry,
            routes,
            max_links: federation.max_links,
            keep_alive: Duration::from_secs(federation.link_keep_alive_seconds),
            timeout: Duration::from_secs(federation.request_timeout_seconds),
            route_seconds: settings.finder.find_route_seconds,
            open_links: Mutex::new(HashMap::new()),
            failing: Backoff::new(federation.trust.backoff_max_seconds),
            open: Arc::new(AtomicUsize::new(0)),
            opening: async_std::sync::Mutex::new(()),
        }
    }

    fn open_links(&self) -> MutexGuard<'_, HashMap<DomainName, OutLink>> {
        self.open_links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for one more link, unless `federation.max_links` are open.
    pub fn admit(&self) -> Option<LinkPermit> {
        let admitted = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_links).then_some(n + 1)
            })
            .is_ok();
        admitted.then(|| LinkPermit(Arc::clone(&self.open)))
    }

    /// Links open now, inbound and outbound.
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Forwards `(id, text)`, a `peer-location-find` with `$id` `id` exactly as `requester`
    /// sent it, to `domain`'s finder and returns that finder's answer body. The callee's
    /// notifies reach the requester through a find route. `hello` signs the `link-hello` if a
    /// link must be opened.
    pub async fn forward_find(
        &self,
        remotes: &Remotes,
        domain: &DomainName,
        hello: impl FnOnce() -> Result<Object, Error>,
        (id, text): (&str, &str),
        requester: ConnectionId,
        now: u64,
    ) -> Result<Object, Error> {
        let out = self.link_to(remotes, domain, hello, now).await?;
        self.routes.add_find(
            id,
            requester,
            vec![out.connection],
            now,
            now.saturating_add(self.route_seconds),
        )?;
        match out.link.request_text(id, text.to_owned()).await {
            Ok(result) => Ok(openpeer_federation::result_body(result)?),
            Err(e) => {
                // Unanswered or gone: this link is not trusted to carry the next find.
                tracing::warn!(%domain, error = %e, "link request failed; closing the link");
                out.link.close();
                self.open_links().remove(domain);
                Err(Error::Remote(e))
            }
        }
    }

    /// The open link to `domain`, opened now if there is none and the back-off allows.
    async fn link_to(
        &self,
        remotes: &Remotes,
        domain: &DomainName,
        hello: impl FnOnce() -> Result<Object, Error>,
        now: u64,
    ) -> Result<OutLink, Error> {
        if let Some(out) = self.current(domain, now)? {
            return Ok(out);
        }
        let _one_at_a_time = self.opening.lock().await;
        if let Some(out) = self.current(domain, now)? {
            return Ok(out);
        }
        match self.open(remotes, domain, hello, now).await {
            Ok(out) => {
                self.failing.succeeded(domain);
                self.open_links().insert(domain.clone(), out.clone());
                Ok(out)
            }
            Err(e) => {
                // From when the attempt gave up, which may be a timeout after `now`.
                let wait = self
                    .failing
                    .failed(domain, openpeer_federation::clock::unix_now());
                tracing::warn!(%domain, error = %e, wait, "opening a link failed");
                Err(e)
            }
        }
    }

    /// The live link to `domain`, `None` to open one, or the back-off's refusal.
    fn current(&self, domain: &DomainName, now: u64) -> Result<Option<OutLink>, Error> {
        if let Some(out) = self
            .open_links()
            .get(domain)
            .filter(|o| !o.link.is_closed())
        {
            return Ok(Some(out.clone()));
        }
        self.failing.check(domain, now).map_err(|until| {
            Error::Remote(FederationError::Link(format!(
                "the link to {domain} failed recently; not retried before {until}"
            )))
        })?;
        Ok(None)
    }

    /// Opens, greets and registers a link to `domain`.
    async fn open(
        &self,
        remotes: &Remotes,
        domain: &DomainName,
        hello: impl FnOnce() -> Result<Object, Error>,
        now: u64,
    ) -> Result<OutLink, Error> {
        let permit = self.admit().ok_or(Error::Remote(FederationError::Link(
            "too many finder links open".into(),
        )))?;
        let url = remotes
            .finders(domain, now)
            .await?
            .into_iter()
            .find_map(|entry| entry.link)
            .ok_or(Error::Remote(FederationError::NoFinder))?;
        let tls = remotes.http().tls_connector();
        let (link, events) = FinderLink::connect(&url, domain.clone(), tls, self.timeout).await?;
        if let Err(e) = link.request(Method::LinkHello, hello()?).await {
            link.close();
            return Err(Error::Remote(e));
        }
        let (outbox, to_send) = channel::bounded::<Outbound>(LINK_OUTBOX);
        let connection = self.registry.connect(outbox);
        tracing::info!(%domain, %url, connection, "finder link open");
        async_std::task::spawn(pump(link.clone(), to_send, self.keep_alive));
        async_std::task::spawn(read_events(
            events,
            connection,
            Arc::clone(&self.registry),
            Arc::clone(&self.routes),
            permit,
        ));
        Ok(OutLink { link, connection })
    }
}

/// Writes what the finder relays to the link (notifies never go this way; forwarded finds use
/// [`FinderLink::request_text`]), and pings it when idle.
async fn pump(link: FinderLink, to_send: Receiver<Outbound>, keep_alive: Duration) {
    loop {
        match async_std::future::timeout(keep_alive, to_send.recv()).await {
            Ok(Ok(Outbound::Text(text))) => {
                if link.send_text(text).await.is_err() {
                    break;
                }
            }
            Ok(Ok(Outbound::Frame(_))) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                // Idle: a whitespace message is the finder transport's ping.
                if link.is_closed() || link.send_text("\n".to_owned()).await.is_err() {
                    break;
                }
            }
        }
    }
    link.close();
}

/// Relays what the remote finder sends besides results (the callees' notifies) to the
/// requesters, until the link closes; then forgets the link's connection.
async fn read_events(
    events: Receiver<LinkEvent>,
    connection: ConnectionId,
    registry: Arc<Registry>,
    routes: Arc<Routes>,
    _permit: LinkPermit,
) {
    while let Ok(event) = events.recv().await {
        match event {
            LinkEvent::Message(received)
                if received.envelope.kind == MessageKind::Notify
                    && received.method().ok() == Some(Method::PeerLocationFind) =>
            {
                let text = message::encode(&received);
                let now = openpeer_federation::clock::unix_now();
                relay_notify(
                    &routes,
                    &registry,
                    connection,
                    &received.envelope,
                    &text,
                    now,
                );
            }
            _ => tracing::debug!(connection, "unexpected message on a finder link dropped"),
        }
    }
    routes.disconnect(connection);
    registry.disconnect(connection);
    tracing::info!(connection, "finder link closed");
}
