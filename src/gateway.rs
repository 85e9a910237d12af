//! The shared state of a running node: what the HTTP handlers, the finder and the federation
//! bridge all reach through one `Arc`.

use std::sync::Arc;

use crate::finder::registry::Registry;
use crate::finder::routes::Routes;
use crate::identity::local::FailureLimiter;
use crate::identity::providers::Providers;
use crate::metrics::Metrics;
use crate::services::Services;

/// The shared state of a running node.
#[derive(Debug)]
pub struct Gateway {
    /// The protocol services (and, through them, the federation bridge).
    pub services: Services,
    /// Request metrics.
    pub metrics: Metrics,
    /// The `GET` form of `services-get`, rendered once.
    pub static_services_get: String,
    /// Recent failed local logins, per account and per address.
    pub login_failures: FailureLimiter,
    /// The upstream identity providers.
    pub providers: Providers,
    /// The finder's live connections (peers' and links') and registrations.
    pub registry: Arc<Registry>,
    /// The finder's find routes and relay channels.
    pub routes: Arc<Routes>,
}
