//! The other domains a gateway deals with (architecture §4 "Federation" (1), (2); spec §7.4):
//! where each is reached, whether the policy allows it, and its certificates — fetched over
//! WebPKI-verified HTTPS, verified, checked against configured SPKI pins, cached (in memory and
//! through a [`CertificateCache`] the gateway's store implements) until they lapse, refreshed
//! before that and, at most once per [`TrustSettings::unknown_key_refresh_seconds`], when a
//! signature names a key the cached set does not hold. Every call to a remote domain goes
//! through [`Remotes`], which bounds how many run at once.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_std::channel::{self, Receiver, Sender};
use base64::Engine as _;
use openpeer_protocol::canonical::render_object;
use openpeer_protocol::certificates::{CertificateSet, SIGNING_SERVICES};
use openpeer_protocol::finder::FinderEntry;
use openpeer_protocol::json::{Object, parse};
use openpeer_protocol::message::Method;
use openpeer_protocol::signature::PublicKey;
use openpeer_protocol::uri::DomainName;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::backoff::Backoff;
use crate::clock::unix_now;
use crate::discovery::{self, Services};
use crate::http::{HttpClient, secure_url};

/// An SPKI pin: `sha256/` + base64 of the SHA-256 of a key's DER SubjectPublicKeyInfo (the
/// HPKP form).
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// Parses `sha256/<base64 of 32 bytes>`.
    pub fn parse(text: &str) -> Result<Pin, Error> {
        let digest = text
            .strip_prefix("sha256/")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .filter(|d| d.len() == 32)
            .ok_or_else(|| {
                Error::Config(format!("pin {text:?} is not sha256/<base64 of 32 bytes>"))
            })?;
        Ok(Pin::of_digest(&digest))
    }

    /// The pin of `key`.
    pub fn of(key: &PublicKey) -> Pin {
        Pin::of_digest(&Sha256::digest(key.spki_der()))
    }

    fn of_digest(digest: &[u8]) -> Pin {
        Pin(format!(
            "sha256/{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which domains the gateway federates with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Every domain.
    Open,
    /// Only these.
    Allowlist(Vec<DomainName>),
    /// Every domain but these.
    Denylist(Vec<DomainName>),
}

impl Policy {
    /// Whether `domain` may be talked to and trusted.
    pub fn allows(&self, domain: &DomainName) -> bool {
        match self {
            Policy::Open => true,
            Policy::Allowlist(allowed) => allowed.contains(domain),
            Policy::Denylist(denied) => !denied.contains(domain),
        }
    }
}

/// What configuration says about one remote domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteDomain {
    /// Base URL to use instead of `https://<domain>` (private networks, tests): `https`, or
    /// `http` to a loopback address.
    pub url: Option<String>,
    /// When not empty, every certificates/bootstrapper key of the domain must have one of these.
    pub pins: Vec<Pin>,
}

/// How remote domains are trusted and reached.
#[derive(Clone, Debug)]
pub struct TrustSettings {
    /// Which domains are allowed.
    pub policy: Policy,
    /// Per-domain overrides and pins.
    pub domains: HashMap<DomainName, RemoteDomain>,
    /// Remote calls in flight at once, over all domains; more wait (up to the request timeout).
    pub max_concurrent_requests: usize,
    /// Longest a fetched `certificates-get` is used; it is refreshed after three quarters of
    /// its life (or of its earliest certificate's, if sooner).
    pub certificates_cache_seconds: u64,
    /// At most one refresh per domain this often because a signature named an unknown key.
    pub unknown_key_refresh_seconds: u64,
    /// A domain (or a link to it) that failed is not tried again for 1 s, then 2 s, 4 s … up
    /// to this.
    pub backoff_max_seconds: u64,
}

impl TrustSettings {
    /// Checks the per-domain URLs.
    pub fn check(&self) -> Result<(), Error> {
        for (domain, remote) in &self.domains {
            if let Some(url) = &remote.url {
                secure_url(url, &format!("federation.domains.{domain}.url"))
                    .map_err(Error::Config)?;
            }
        }
        if self.max_concurrent_requests == 0 {
            return Err(Error::Config(
                "federation.max_concurrent_requests must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// A `certificates-get` result as stored between runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedCertificates {
    /// Whose.
    pub domain: DomainName,
    /// The result body (`{"certificates": …}`), canonical JSON, as received.
    pub document: String,
    /// When it was fetched.
    pub fetched: u64,
    /// When it must be fetched again before use.
    pub expires: u64,
}

/// Where fetched certificates are kept between runs (the gateway's database). What comes back
/// is verified again before use.
#[async_trait::async_trait]
pub trait CertificateCache: Send + Sync {
    /// The stored certificates of `domain`, if any.
    async fn load_certificates(
        &self,
        domain: &DomainName,
    ) -> Result<Option<CachedCertificates>, String>;
    /// Stores (replaces) a domain's certificates.
    async fn save_certificates(&self, cached: &CachedCertificates) -> Result<(), String>;
}

/// A remote domain as known now.
#[derive(Clone)]
struct Known {
    services: Option<Services>,
    certificates: CertificateSet,
    fetched: u64,
    expires: u64,
}

impl Known {
    /// Due for a refresh: three quarters of its life are gone.
    fn stale(&self, now: u64) -> bool {
        now >= self.fetched + (self.expires.saturating_sub(self.fetched)) * 3 / 4
    }
}

/// The remote domains of a gateway; see the module documentation.
pub struct Remotes {
    http: HttpClient,
    settings: TrustSettings,
    cache: Arc<dyn CertificateCache>,
    /// A token per call in flight: sending waits while all are taken.
    permits: (Sender<()>, Receiver<()>),
    known: Mutex<HashMap<DomainName, Known>>,
    /// When each domain was last refreshed for an unknown key.
    forced: Mutex<HashMap<DomainName, u64>>,
    /// Domains whose last fetch failed: not asked again before their wait is over, so a domain
    /// that is down or hangs costs one timeout per wait, not one per request.
    unreachable: Backoff,
}

impl fmt::Debug for Remotes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remotes")
            .field("policy", &self.settings.policy)
            .finish_non_exhaustive()
    }
}

/// Holds one of [`Remotes`]' permits until dropped.
struct Permit<'a>(&'a Receiver<()>);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let _ = self.0.try_recv();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Remotes {
    /// Remote domains reached with `http`, trusted per `settings`, cached in `cache`.
    pub fn new(
        http: HttpClient,
        settings: TrustSettings,
        cache: Arc<dyn CertificateCache>,
    ) -> Remotes {
        let permits = channel::bounded(settings.max_concurrent_requests.max(1));
        Remotes {
            http,
            cache,
            permits,
            known: Mutex::new(HashMap::new()),
            forced: Mutex::new(HashMap::new()),
            unreachable: Backoff::new(settings.backoff_max_seconds),
            settings,
        }
    }

    /// The outbound HTTP client (its TLS connector also opens `wss` links).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Refuses a domain the policy does not allow.
    pub fn check_policy(&self, domain: &DomainName) -> Result<(), Error> {
        if self.settings.policy.allows(domain) {
            Ok(())
        } else {
            Err(Error::Denied)
        }
    }

    /// The base URL of `domain`: its override, else `https://<domain>`.
    pub fn base_url(&self, domain: &DomainName) -> String {
        self.settings
            .domains
            .get(domain)
            .and_then(|d| d.url.clone())
            .unwrap_or_else(|| format!("https://{domain}"))
    }

    /// The certificates of `domain`, verified and trusted at `now` (from memory, the store, or
    /// fetched).
    pub async fn certificates(
        &self,
        domain: &DomainName,
        now: u64,
    ) -> Result<CertificateSet, Error> {
        Ok(self.known(domain, now).await?.certificates)
    }

    /// Fetches `domain`'s certificates again because a signature named a key the cached set
    /// lacks (a rotation), at most once per `unknown_key_refresh_seconds`; `None` when that
    /// allowance is spent, so the caller refuses what it was checking.
    pub async fn refresh_for_unknown_key(
        &self,
        domain: &DomainName,
        now: u64,
    ) -> Result<Option<CertificateSet>, Error> {
        {
            let mut forced = lock(&self.forced);
            let last = forced.get(domain).copied();
            if last.is_some_and(|t| now < t + self.settings.unknown_key_refresh_seconds) {
                return Ok(None);
            }
            forced.insert(domain.clone(), now);
        }
        Ok(Some(self.fetch(domain, now).await?.certificates))
    }

    /// Runs `check` with `domain`'s certificates; if it fails, once more with a set fetched
    /// anew (rate limited, see [`Remotes::refresh_for_unknown_key`]). Returns the first
    /// success or the last failure.
    pub async fn verify_with<T, E>(
        &self,
        domain: &DomainName,
        now: u64,
        check: impl Fn(&CertificateSet) -> Result<T, E>,
    ) -> Result<Result<T, E>, Error> {
        let first = check(&self.certificates(domain, now).await?);
        if first.is_ok() {
            return Ok(first);
        }
        match self.refresh_for_unknown_key(domain, now).await? {
            Some(fresh) => Ok(check(&fresh)),
            None => Ok(first),
        }
    }

    /// Calls `method` of service type `service` at `domain`, at the URI its `services-get`
    /// lists; the body of the successful result.
    pub async fn call(
        &self,
        domain: &DomainName,
        service: &str,
        method: Method,
        body: Object,
        now: u64,
    ) -> Result<Object, Error> {
        let services = self.known_services(domain, now).await?;
        let uri = services.uri(service, method)?.to_owned();
        let _permit = self.permit().await?;
        crate::result_body(discovery::request(&self.http, domain, &uri, method, body).await?)
    }

    /// The finders of `domain` (`finders-get`, each entry verified under its certificates).
    pub async fn finders(&self, domain: &DomainName, now: u64) -> Result<Vec<FinderEntry>, Error> {
        let services = self.known_services(domain, now).await?;
        let certificates = self.certificates(domain, now).await?;
        let _permit = self.permit().await?;
        discovery::finders_get(&self.http, &services, &certificates, 10, now).await
    }

    /// `domain`'s method URIs: those fetched with its certificates, or — for certificates read
    /// from the store — fetched once now and remembered with them.
    async fn known_services(&self, domain: &DomainName, now: u64) -> Result<Services, Error> {
        if let Some(services) = self.known(domain, now).await?.services {
            return Ok(services);
        }
        let services = self.services(domain).await?;
        if let Some(known) = lock(&self.known).get_mut(domain) {
            known.services = Some(services.clone());
        }
        Ok(services)
    }

    /// Waits for a permit, at most the request timeout.
    async fn permit(&self) -> Result<Permit<'_>, Error> {
        let limit = self.http.timeout();
        async_std::future::timeout(limit, self.permits.0.send(()))
            .await
            .map_err(|_| Error::Timeout(limit))?
            .map_err(|_| Error::Timeout(limit))?;
        Ok(Permit(&self.permits.1))
    }

    /// `domain` as known at `now`: from memory while fresh, else from the store or the network.
    /// A failed refresh of a set that has not yet lapsed keeps the old one (a remote outage
    /// does not stop what already verified).
    async fn known(&self, domain: &DomainName, now: u64) -> Result<Known, Error> {
        let mut known = self.known_as_stored(domain, now).await?;
        known.certificates = known.certificates.at(now);
        Ok(known)
    }

    async fn known_as_stored(&self, domain: &DomainName, now: u64) -> Result<Known, Error> {
        self.check_policy(domain)?;
        let remembered = lock(&self.known).get(domain).cloned();
        let current = match remembered {
            Some(known) => Some(known),
            None => self.load(domain, now).await,
        };
        match current {
            Some(known) if !known.stale(now) => Ok(known),
            Some(known) if now < known.expires => match self.fetch(domain, now).await {
                Ok(fresh) => Ok(fresh),
                Err(e) => {
                    tracing::warn!(%domain, error = %e, "refreshing certificates failed; the cached ones stay in use until they lapse");
                    Ok(known)
                }
            },
            _ => self.fetch(domain, now).await,
        }
    }

    /// The stored certificates of `domain`, verified again, if they have not lapsed.
    async fn load(&self, domain: &DomainName, now: u64) -> Option<Known> {
        let cached = match self.cache.load_certificates(domain).await {
            Ok(Some(cached)) if cached.expires > now => cached,
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(%domain, error = %e, "reading cached certificates failed");
                return None;
            }
        };
        let body = parse(&cached.document).ok()?;
        let known = self
            .trust(domain, &body, cached.fetched, now)
            .inspect_err(|e| tracing::warn!(%domain, error = %e, "cached certificates refused"))
            .ok()?;
        let known = Known {
            expires: cached.expires,
            ..known
        };
        lock(&self.known).insert(domain.clone(), known.clone());
        Some(known)
    }

    /// Fetches, verifies, stores and remembers `domain`'s services and certificates, unless it
    /// failed too recently.
    async fn fetch(&self, domain: &DomainName, now: u64) -> Result<Known, Error> {
        if let Err(until) = self.unreachable.check(domain, now) {
            return Err(Error::Http(format!(
                "{domain} failed recently; not asked again before {until}"
            )));
        }
        let fetched = self.fetch_now(domain, now).await;
        match &fetched {
            Ok(_) => self.unreachable.succeeded(domain),
            Err(e) => {
                let wait = self.unreachable.failed(domain, unix_now());
                tracing::warn!(%domain, error = %e, wait, "fetching a remote domain failed");
            }
        }
        fetched
    }

    async fn fetch_now(&self, domain: &DomainName, now: u64) -> Result<Known, Error> {
        let services = self.services(domain).await?;
        let body = {
            let _permit = self.permit().await?;
            discovery::certificates_get(&self.http, &services, domain).await?
        };
        let known = Known {
            services: Some(services),
            ..self.trust(domain, &body, now, now)?
        };
        let cached = CachedCertificates {
            domain: domain.clone(),
            document: render_object(&body),
            fetched: now,
            expires: known.expires,
        };
        if let Err(e) = self.cache.save_certificates(&cached).await {
            tracing::warn!(%domain, error = %e, "storing certificates failed");
        }
        lock(&self.known).insert(domain.clone(), known.clone());
        tracing::info!(%domain, certificates = known.certificates.certificates().len(), "certificates of a remote domain verified");
        Ok(known)
    }

    /// `services-get` of `domain`, within the concurrency bound.
    async fn services(&self, domain: &DomainName) -> Result<Services, Error> {
        let _permit = self.permit().await?;
        discovery::services_get(&self.http, &self.base_url(domain), domain).await
    }

    /// Verifies a `certificates-get` body of `domain` fetched at `fetched` and checks its
    /// signing keys against the domain's pins.
    fn trust(
        &self,
        domain: &DomainName,
        body: &Object,
        fetched: u64,
        now: u64,
    ) -> Result<Known, Error> {
        let certificates = CertificateSet::from_certificates_get(domain, body, now)
            .map_err(|_| Error::Untrusted("certificates"))?;
        let pins = self
            .settings
            .domains
            .get(domain)
            .map(|d| d.pins.as_slice())
            .unwrap_or_default();
        let signing = certificates
            .certificates()
            .iter()
            .filter(|c| SIGNING_SERVICES.contains(&c.service.as_str()));
        if !pins.is_empty() {
            for certificate in signing {
                let pin = Pin::of(&certificate.key);
                if !pins.contains(&pin) {
                    tracing::error!(%domain, %pin, certificate = %certificate.id, "a pinned domain presented a certificates key that matches none of its pins: refused");
                    return Err(Error::PinMismatch);
                }
            }
        }
        let earliest = certificates
            .certificates()
            .iter()
            .map(|c| c.expires)
            .filter(|e| *e > now)
            .min()
            .unwrap_or(now);
        let expires =
            earliest.min(fetched.saturating_add(self.settings.certificates_cache_seconds));
        if expires <= now {
            return Err(Error::Untrusted("certificates (all expired)"));
        }
        Ok(Known {
            services: None,
            certificates,
            fetched,
            expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openpeer_protocol::dev::DevDomain;
    use openpeer_protocol::signature::{SignatureSuite, SigningKey};
    use rand_core::OsRng;

    use super::*;

    fn beta() -> DomainName {
        DomainName::parse("beta.test").unwrap()
    }

    /// A store holding at most one domain's certificates.
    #[derive(Default)]
    struct Memory(Mutex<Option<CachedCertificates>>);

    #[async_trait::async_trait]
    impl CertificateCache for Memory {
        async fn load_certificates(
            &self,
            domain: &DomainName,
        ) -> Result<Option<CachedCertificates>, String> {
            Ok(lock(&self.0).clone().filter(|c| c.domain == *domain))
        }

        async fn save_certificates(&self, cached: &CachedCertificates) -> Result<(), String> {
            *lock(&self.0) = Some(cached.clone());
            Ok(())
        }
    }

    fn remotes(pins: Vec<Pin>, cache_seconds: u64, cache: Arc<Memory>) -> Remotes {
        let domains = HashMap::from([(beta(), RemoteDomain { url: None, pins })]);
        let settings = TrustSettings {
            policy: Policy::Open,
            domains,
            max_concurrent_requests: 1,
            certificates_cache_seconds: cache_seconds,
            unknown_key_refresh_seconds: 60,
            backoff_max_seconds: 60,
        };
        let http = HttpClient::new(&[], Duration::from_secs(1)).unwrap();
        Remotes::new(http, settings, cache)
    }

    /// beta's `certificates-get` body (certificates valid until 10,000) and its certificates
    /// key's pin.
    fn certificates_of_beta() -> (Object, Pin) {
        let domain =
            DevDomain::generate(beta(), SignatureSuite::Ed25519, 10_000, &mut OsRng).unwrap();
        let document = domain.certificates_get_result(&mut OsRng);
        let set = CertificateSet::from_certificates_get(&beta(), &document, 1_000).unwrap();
        let root = set
            .certificates()
            .iter()
            .find(|c| c.service == "certificates")
            .unwrap();
        (document, Pin::of(&root.key))
    }

    #[test]
    fn a_pinned_domain_is_trusted_only_with_a_pinned_key() {
        let (document, pin) = certificates_of_beta();
        let cache = Arc::new(Memory::default());
        assert!(
            remotes(vec![pin], 3_600, Arc::clone(&cache))
                .trust(&beta(), &document, 1_000, 1_000)
                .is_ok()
        );
        assert!(
            remotes(vec![], 3_600, Arc::clone(&cache))
                .trust(&beta(), &document, 1_000, 1_000)
                .is_ok()
        );
        let other = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
        let changed = remotes(vec![Pin::of(other.public_key())], 3_600, cache).trust(
            &beta(),
            &document,
            1_000,
            1_000,
        );
        assert!(
            matches!(changed, Err(Error::PinMismatch)),
            "{:?}",
            changed.err()
        );
    }

    #[test]
    fn certificates_are_used_until_the_cache_limit_or_their_expiry_and_refreshed_before() {
        let (document, _) = certificates_of_beta();
        let cache = Arc::new(Memory::default());
        // The cache limit comes first: used until 1,100, stale from 1,075.
        let known = remotes(vec![], 100, Arc::clone(&cache))
            .trust(&beta(), &document, 1_000, 1_000)
            .unwrap();
        assert_eq!(known.expires, 1_100);
        assert!(!known.stale(1_074) && known.stale(1_075));
        // The certificates' expiry comes first.
        let known = remotes(vec![], 1_000_000, Arc::clone(&cache))
            .trust(&beta(), &document, 1_000, 1_000)
            .unwrap();
        assert_eq!(known.expires, 10_000);
        // Nothing is trusted once every certificate has expired.
        let lapsed = remotes(vec![], 1_000_000, cache).trust(&beta(), &document, 10_000, 10_000);
        assert!(matches!(lapsed, Err(Error::Untrusted(_))));
    }

    #[async_std::test]
    async fn stored_certificates_are_verified_again_and_dropped_when_lapsed() {
        let (document, _) = certificates_of_beta();
        let cache = Arc::new(Memory::default());
        let stored = |document: &Object, expires: u64| CachedCertificates {
            domain: beta(),
            document: render_object(document),
            fetched: 1_000,
            expires,
        };
        let remotes = remotes(vec![], 3_600, Arc::clone(&cache));
        cache
            .save_certificates(&stored(&document, 2_000))
            .await
            .unwrap();
        assert!(remotes.load(&beta(), 1_500).await.is_some());
        lock(&remotes.known).clear();
        assert!(remotes.load(&beta(), 2_000).await.is_none(), "lapsed");
        // A stored document whose signatures no longer verify (changed in the database).
        let text = render_object(&document).replacen("\"expires\":10000", "\"expires\":10001", 1);
        assert_ne!(text, render_object(&document));
        let tampered = CachedCertificates {
            document: text,
            ..stored(&document, 2_000)
        };
        cache.save_certificates(&tampered).await.unwrap();
        assert!(remotes.load(&beta(), 1_500).await.is_none(), "tampered");
    }

    #[test]
    fn pins_parse_and_match_their_key() {
        let der = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ]
        .into_iter()
        .chain([7u8; 32])
        .collect::<Vec<u8>>();
        let key = PublicKey::from_spki_der(&der).unwrap();
        let pin = Pin::of(&key);
        assert_eq!(Pin::parse(&pin.to_string()).unwrap(), pin);
        assert!(Pin::parse("sha1/AAAA").is_err());
        assert!(Pin::parse("sha256/AAAA").is_err());
        assert!(Pin::parse("sha256/not base64!").is_err());
    }

    #[test]
    fn policies_allow_what_they_say() {
        let alpha = DomainName::parse("alpha.test").unwrap();
        let beta = DomainName::parse("beta.test").unwrap();
        assert!(Policy::Open.allows(&alpha));
        let allow = Policy::Allowlist(vec![alpha.clone()]);
        assert!(allow.allows(&alpha) && !allow.allows(&beta));
        let deny = Policy::Denylist(vec![alpha.clone()]);
        assert!(!deny.allows(&alpha) && deny.allows(&beta));
    }
}
