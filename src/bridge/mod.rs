//! The federation bridge (architecture §4 "Federation"): this domain's side of every exchange
//! with another domain. It answers lookups of foreign identities by asking their domain
//! ([`lookup`]), checks foreign peer files' salts under their domain's certificates, and carries
//! finds to other domains' finders over authenticated links ([`links`], [`link_socket`]).
//! What it gets from another domain is used only after it verifies under that domain's
//! certificates, which [`Remotes`] fetches, pins, caches and refreshes.

pub mod link_socket;
pub mod links;
pub mod lookup;

use std::sync::Arc;
use std::time::Duration;

use openpeer_federation::http::HttpClient;
use openpeer_federation::trust::{CertificateCache, Remotes};
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::Object;
use openpeer_protocol::peer_file::{PublicPeerFile, salt_domain};
use openpeer_protocol::signature::KeyResolver;
use openpeer_protocol::uri::DomainName;

use crate::config::Settings;
use crate::error::Error;
use crate::finder::registry::Registry;
use crate::finder::routes::Routes;
use links::Links;
use lookup::LookupCache;

/// The bridge of a node; see the module documentation.
#[derive(Debug)]
pub struct Bridge {
    /// The remote domains: discovery, trust, bounded calls.
    pub remotes: Remotes,
    /// Finder-to-finder links, both directions.
    pub links: Links,
    /// Verified answers of remote lookups, until their `expires`.
    lookups: LookupCache,
}

impl Bridge {
    /// The bridge of a node with `settings`, keeping remote certificates in `cache`; its links
    /// register as connections of `registry` and route finds through `routes`.
    pub fn new(
        settings: &Settings,
        cache: Arc<dyn CertificateCache>,
        registry: Arc<Registry>,
        routes: Arc<Routes>,
    ) -> Result<Bridge, Error> {
        let federation = &settings.federation;
        let timeout = Duration::from_secs(federation.request_timeout_seconds);
        let http = HttpClient::new(&federation.extra_roots, timeout)
            .map_err(Error::Remote)?
            .with_max_body(federation.max_response_bytes);
        Ok(Bridge {
            remotes: Remotes::new(http, federation.trust.clone(), cache),
            links: Links::new(settings, registry, routes),
            lookups: LookupCache::new(settings.identity.lookup_expires_seconds),
        })
    }

    /// Validates a public peer file at `now`, its salt checked under the certificates of the
    /// domain that signed it: `own` for this domain, the remote domain's (fetched and verified)
    /// for any other (spec §4.1, §7.4).
    pub async fn validate_peer_file(
        &self,
        document: &Object,
        ours: &DomainName,
        own: &(dyn KeyResolver + Sync),
        now: u64,
    ) -> Result<PublicPeerFile, Error> {
        let salt_domain = salt_domain(document).ok_or(Error::refused(
            openpeer_protocol::error::ResultCode::Forbidden,
            "the peer file's salt names no domain",
        ))?;
        if salt_domain == *ours {
            return PublicPeerFile::validate(document, now, Some(own))
                .map_err(|e| Error::Protocol(e.into()));
        }
        let checked = self
            .remotes
            .verify_with(&salt_domain, now, |certificates: &CertificateSet| {
                PublicPeerFile::validate(document, now, Some(&certificates.of_service("salt")))
            })
            .await?;
        checked.map_err(|e| Error::Protocol(e.into()))
    }
}
