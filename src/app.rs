//! Assembles a gateway node: store, key ring, services and HTTP, plus the background work that
//! keeps its finder entry alive and picks up keys rotated by another process.

use std::sync::Arc;
use std::time::Duration;

use async_std::channel;
use async_std::net::TcpListener;
use openpeer_federation::clock::unix_now;
use openpeer_federation::trust::CertificateCache;

use crate::bridge::Bridge;
use crate::config::{Settings, TlsSettings};
use crate::finder::registry::{LocationRepo as _, Registry};
use crate::finder::routes::Routes;
use crate::finder::session::delete_rows;
use crate::gateway::Gateway;
use crate::http;
use crate::identity::local::FailureLimiter;
use crate::identity::providers::Providers;
use crate::identity::repo::IdentityRepo as _;
use crate::keys::{KeyRing, KeyRingError};
use crate::metrics::Metrics;
use crate::net::{self, RunningServer, ServeOptions, TlsSource};
use crate::services::Services;
use crate::services::finders::{FinderNodeRepo as _, this_node};
use crate::store::{Store, StoreError};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The key ring failed.
    #[error("domain keys: {0}")]
    Keys(#[from] KeyRingError),
    /// TLS material failed.
    #[error("tls: {0}")]
    Tls(#[from] net::NetError),
    /// The federation bridge could not be set up (its TLS roots).
    #[error("federation: {0}")]
    Federation(String),
    /// The listener failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A node that is serving.
#[derive(Debug)]
pub struct RunningGateway {
    server: RunningServer,
    gateway: Arc<Gateway>,
    stop_background: channel::Sender<()>,
    background: async_std::task::JoinHandle<()>,
}

impl RunningGateway {
    /// The address the node listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// The node's public base URL.
    pub fn public_url(&self) -> &str {
        &self.gateway.services.settings().public_url
    }

    /// The node's shared state.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Stops accepting, lets in-flight requests finish, stops background work and closes the
    /// database.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        let dropped = self.server.shutdown().await;
        self.stop_background.close();
        self.background.await;
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "connections still open at the end of the grace period were dropped"
            );
        }
        let store = Arc::clone(self.gateway.services.store());
        drop(self.gateway);
        match Arc::try_unwrap(store) {
            Ok(store) => store.close().await?,
            Err(_) => {
                tracing::debug!("database still shared; the pool closes when its last user drops")
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the database (migrating it), loads or makes the domain keys, and starts serving.
pub async fn start(mut settings: Settings) -> Result<RunningGateway, StartError> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let now = unix_now();
    let ring = KeyRing::load_or_create(&store, &settings.signing, now).await?;
    let listener = TcpListener::bind(settings.server.bind)
        .await
        .map_err(|source| StartError::Listen {
            addr: settings.server.bind,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| StartError::Listen {
        addr: settings.server.bind,
        source,
    })?;
    if settings.public_url_derived {
        let scheme = if settings.server.tls.is_some() {
            "https"
        } else {
            "http"
        };
        settings.public_url = format!("{scheme}://{local}");
    }
    let tls = match &settings.server.tls {
        None => None,
        Some(TlsSettings::SelfSigned) => Some(net::tls_config(&TlsSource::SelfSigned {
            domain: settings.domain.to_string(),
        })?),
        Some(TlsSettings::Files { cert, key }) => Some(net::tls_config(&TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        })?),
    };
    let options = ServeOptions {
        tls,
        request_timeout: Duration::from_secs(settings.server.request_timeout_seconds),
        shutdown_grace: Duration::from_secs(settings.server.shutdown_grace_seconds),
    };
    let store = Arc::new(store);
    store.heartbeat(&this_node(&settings, now)).await?;
    // This node's connections did not survive its last run.
    store.delete_node_locations(&settings.node_id).await?;
    let settings_identity_providers = settings.identity.providers.clone();
    let registry = Arc::new(Registry::default());
    let routes = Arc::new(Routes::default());
    let bridge = Bridge::new(
        &settings,
        Arc::clone(&store) as Arc<dyn CertificateCache>,
        Arc::clone(&registry),
        Arc::clone(&routes),
    )
    .map_err(|e| StartError::Federation(e.to_string()))?;
    let services = Services::new(Arc::new(settings), Arc::clone(&store), bridge, ring, now);
    let static_services_get = http::static_services_get_document(&services).await;
    let gateway = Arc::new(Gateway {
        services,
        metrics: Metrics::default(),
        static_services_get,
        login_failures: FailureLimiter::default(),
        providers: Providers::new(settings_identity_providers),
        registry,
        routes,
    });
    let server = net::serve(http::routes(Arc::clone(&gateway)), listener, options)
        .await
        .map_err(|source| StartError::Listen {
            addr: local,
            source,
        })?;
    let settings = gateway.services.settings();
    tracing::info!(domain = %settings.domain, url = %settings.public_url, node = %settings.node_id, "serving");
    let (stop_background, stopped) = channel::bounded(1);
    let background = async_std::task::spawn(background(Arc::clone(&gateway), stopped));
    Ok(RunningGateway {
        server,
        gateway,
        stop_background,
        background,
    })
}

/// Every third of `finder.node_ttl_seconds`: refresh this node's finder entry (so it never
/// drops out of `finders-get`), purge expired identity records, and republish the key ring as
/// stored.
async fn background(gateway: Arc<Gateway>, stopped: channel::Receiver<()>) {
    let heartbeat =
        Duration::from_secs((gateway.services.settings().finder.node_ttl_seconds / 3).max(1));
    loop {
        let tick = async {
            async_std::task::sleep(heartbeat).await;
            true
        };
        let stop = async {
            let _ = stopped.recv().await;
            false
        };
        if !futures_lite::future::or(tick, stop).await {
            return;
        }
        let services = &gateway.services;
        let now = unix_now();
        if let Err(e) = services
            .store()
            .heartbeat(&this_node(services.settings(), now))
            .await
        {
            tracing::warn!(error = %e, "finder heartbeat failed");
        }
        let lapsed = gateway.registry.purge_expired(now);
        if let Err(e) = delete_rows(services.store().as_ref(), &lapsed).await {
            tracing::warn!(error = %e, "forgetting a lapsed location failed");
        }
        gateway.routes.purge_expired(now);
        match services.store().purge_expired(now).await {
            Ok(0) => {}
            Ok(purged) => {
                tracing::debug!(purged, "expired logins, tokens, keys and nonces removed")
            }
            Err(e) => tracing::warn!(error = %e, "purging expired identity records failed"),
        }
        // Re-signing drops certificates that expired and adds keys rotated by `keys rotate`.
        match KeyRing::load(services.store().as_ref()).await {
            Ok(ring) => services.set_key_ring(ring, now),
            Err(e) => tracing::warn!(error = %e, "reloading domain keys failed"),
        }
    }
}
