//! Configuration (architecture §7): `config/default.toml` built in, then the file named by
//! `--config`/`OPENPEER_GATEWAY_CONFIG`, then `OPENPEER_GATEWAY__SECTION__KEY` variables.
//! Every key is documented with its default in `config/default.toml`; a bad value stops start-up
//! with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use openpeer_federation::trust::{Pin, Policy, RemoteDomain, TrustSettings};
use openpeer_identity_providers::{ProviderConfig, providers_from_table};
use openpeer_protocol::signature::SignatureSuite;
use openpeer_protocol::uri::DomainName;
use serde::Deserialize;

mod account;

pub use account::{
    LockboxSettings, NamespaceGrantSettings, PeerServicesSettings, RolodexSettings, TurnServer,
};

/// The built-in defaults: the documented file itself.
const DEFAULTS: &str = include_str!("../../config/default.toml");

/// Why the configuration cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

fn invalid(key: &str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{key}: {problem}"))
}

/// The raw layered configuration, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    domain: RawDomain,
    server: RawServer,
    database: RawDatabase,
    signing: RawSigning,
    limits: Limits,
    bootstrapper: RawBootstrapper,
    finder: FinderSettings,
    log: RawLog,
    identity: RawIdentity,
    federation: RawFederation,
    lockbox: LockboxSettings,
    namespace_grant: NamespaceGrantSettings,
    rolodex: RolodexSettings,
    peer_services: PeerServicesSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFederation {
    policy: String,
    allow: Vec<String>,
    deny: Vec<String>,
    extra_roots: String,
    request_timeout_seconds: u64,
    max_response_bytes: usize,
    max_concurrent_requests: usize,
    certificates_cache_seconds: u64,
    unknown_key_refresh_seconds: u64,
    max_links: usize,
    link_keep_alive_seconds: u64,
    backoff_max_seconds: u64,
    domains: std::collections::BTreeMap<String, RawRemoteDomain>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteDomain {
    #[serde(default)]
    url: String,
    #[serde(default)]
    pins: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    access_lifetime_seconds: u64,
    login_timeout_seconds: u64,
    relogin_lifetime_days: u64,
    lookup_expires_seconds: u64,
    max_lookup_identities: usize,
    local: LocalSettings,
    providers: std::collections::BTreeMap<String, ProviderConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    name: String,
    public_url: String,
    node_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    bind: String,
    allow_http: String,
    request_timeout_seconds: u64,
    shutdown_grace_seconds: u64,
    tls: RawTls,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: String,
    key: String,
    self_signed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    url_file: String,
    max_connections: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    suite: String,
    key_lifetime_days: u64,
    rotate_before_days: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBootstrapper {
    redirect: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    level: String,
}

/// Checked configuration of a gateway node.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The domain served.
    pub domain: DomainName,
    /// Base URL of this node, without a trailing slash.
    pub public_url: String,
    /// Whether `public_url` was derived from `server.bind` (then the bound port replaces a 0).
    pub public_url_derived: bool,
    /// This node's id among the domain's nodes.
    pub node_id: String,
    /// Listener settings.
    pub server: ServerSettings,
    /// Database settings.
    pub database: DatabaseSettings,
    /// Domain key settings.
    pub signing: SigningSettings,
    /// Request limits.
    pub limits: Limits,
    /// `services-get` redirect target, if any.
    pub bootstrapper_redirect: Option<String>,
    /// Finder directory settings.
    pub finder: FinderSettings,
    /// Logging settings.
    pub log: LogSettings,
    /// Identity service settings.
    pub identity: IdentitySettings,
    /// Federation with other domains.
    pub federation: FederationSettings,
    /// The lockbox.
    pub lockbox: LockboxSettings,
    /// The namespace grant service.
    pub namespace_grant: NamespaceGrantSettings,
    /// The rolodex.
    pub rolodex: RolodexSettings,
    /// STUN and TURN servers handed to peers.
    pub peer_services: PeerServicesSettings,
}

/// Federation with other domains (architecture §4 "Federation").
#[derive(Clone, Debug)]
pub struct FederationSettings {
    /// Policy, per-domain overrides and pins, caching and concurrency of remote calls.
    pub trust: TrustSettings,
    /// PEM files' contents trusted besides the WebPKI roots for outbound `https` and `wss`.
    pub extra_roots: Vec<Vec<u8>>,
    /// Longest one remote request (or link request) may take.
    pub request_timeout_seconds: u64,
    /// Largest answer body read from a remote domain.
    pub max_response_bytes: usize,
    /// Finder-to-finder links open at once, both directions.
    pub max_links: usize,
    /// A link idle this long gets a keep-alive ping.
    pub link_keep_alive_seconds: u64,
}

/// The identity service.
#[derive(Clone, Debug)]
pub struct IdentitySettings {
    /// Lifetime of access tokens, seconds.
    pub access_lifetime_seconds: u64,
    /// Time a provider login may take, seconds.
    pub login_timeout_seconds: u64,
    /// Lifetime of re-login keys, seconds.
    pub relogin_lifetime_seconds: u64,
    /// `expires` distance of lookup results, seconds.
    pub lookup_expires_seconds: u64,
    /// Most identities per lookup request.
    pub max_lookup_identities: usize,
    /// Local accounts.
    pub local: LocalSettings,
    /// Enabled upstream providers, by name.
    pub providers: Vec<ProviderConfig>,
}

/// Local username/password accounts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// Whether local accounts log in at all.
    pub enabled: bool,
    /// Whether the identity service may create accounts.
    pub signup: bool,
    /// Failures allowed per account within the window.
    pub max_failures_per_account: u32,
    /// Failures allowed per client address within the window.
    pub max_failures_per_address: u32,
    /// The window, seconds.
    pub failure_window_seconds: u64,
}

/// Where and how the node listens.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Listen address.
    pub bind: SocketAddr,
    /// TLS, or `None` for plain HTTP (allowed by `server.allow_http`).
    pub tls: Option<TlsSettings>,
    /// Seconds a request may take to arrive.
    pub request_timeout_seconds: u64,
    /// Seconds in-flight requests get on shutdown.
    pub shutdown_grace_seconds: u64,
}

/// Where the TLS certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSettings {
    /// PEM files.
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// A self-signed certificate for the domain, made at start.
    SelfSigned,
}

/// Database connection settings.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// The sea-orm URL (may contain a password: never printed).
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split(':').next().unwrap_or_default();
        write!(
            f,
            "DatabaseSettings({scheme}://…, max_connections: {})",
            self.max_connections
        )
    }
}

/// Domain key settings.
#[derive(Clone, Debug)]
pub struct SigningSettings {
    /// Suite of new keys.
    pub suite: SignatureSuite,
    /// Lifetime of a new key, seconds.
    pub key_lifetime_seconds: u64,
    /// Successor made when a key expires within this many seconds.
    pub rotate_before_seconds: u64,
}

/// Request limits (architecture §8).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Accepted `$timestamp` skew, seconds.
    pub timestamp_skew_seconds: u64,
    /// Cap of `signed-salt-get` `salts`.
    pub max_salts_per_request: u32,
    /// Cap of `finders-get` `servers`.
    pub max_finders_per_request: u32,
}

/// Finder directory settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinderSettings {
    /// Seconds a node stays listed after its last heartbeat.
    pub node_ttl_seconds: u64,
    /// Published region.
    pub region: String,
    /// Published priority.
    pub priority: u32,
    /// Published weight.
    pub weight: u32,
    /// Seconds a finder registration lasts without a keep-alive.
    pub session_ttl_seconds: u64,
    /// Live locations one contact may register on this node.
    pub max_sessions_per_contact: usize,
    /// `peer-location-find` requests one connection may make per second.
    pub max_finds_per_second: u32,
    /// Seconds a forwarded find stays routable: callee notifies after it are dropped.
    pub find_route_seconds: u64,
}

/// Log output.
#[derive(Clone, Debug)]
pub struct LogSettings {
    /// JSON lines instead of text.
    pub json: bool,
    /// tracing filter.
    pub level: String,
}

impl Settings {
    /// Loads the layers: defaults, then `file` (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!("{}: no such file", file.display())));
            }
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        let layered = builder
            .add_source(
                config::Environment::with_prefix("OPENPEER_GATEWAY")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| ConfigError(e.to_string()))?;
        let raw: Raw = layered
            .try_deserialize()
            .map_err(|e| ConfigError(e.to_string()))?;
        Settings::check(raw)
    }

    fn check(raw: Raw) -> Result<Settings, ConfigError> {
        let domain = DomainName::parse(&raw.domain.name).map_err(|_| {
            invalid(
                "domain.name",
                format_args!("{:?} is not a domain name", raw.domain.name),
            )
        })?;
        let server = check_server(raw.server)?;
        let public_url = check_public_url(&raw.domain.public_url, &server)?;
        if raw.limits.max_body_bytes < 1024 {
            return Err(invalid("limits.max_body_bytes", "must be at least 1024"));
        }
        Ok(Settings {
            domain,
            public_url_derived: raw.domain.public_url.is_empty(),
            public_url,
            node_id: match raw.domain.node_id.as_str() {
                "" => "node-1".to_owned(),
                id => id.to_owned(),
            },
            server,
            database: check_database(raw.database)?,
            signing: check_signing(raw.signing)?,
            limits: raw.limits,
            bootstrapper_redirect: check_bootstrapper(raw.bootstrapper)?,
            finder: raw.finder,
            log: check_log(raw.log)?,
            identity: check_identity(raw.identity)?,
            federation: check_federation(raw.federation)?,
            lockbox: account::check_lockbox(raw.lockbox)?,
            namespace_grant: raw.namespace_grant,
            rolodex: account::check_rolodex(raw.rolodex)?,
            peer_services: account::check_peer_services(raw.peer_services)?,
        })
    }
}

fn check_server(raw: RawServer) -> Result<ServerSettings, ConfigError> {
    let bind: SocketAddr = raw.bind.parse().map_err(|_| {
        invalid(
            "server.bind",
            format_args!("{:?} is not an address:port", raw.bind),
        )
    })?;
    let tls = match (
        raw.tls.cert.as_str(),
        raw.tls.key.as_str(),
        raw.tls.self_signed,
    ) {
        ("", "", false) => None,
        ("", "", true) => Some(TlsSettings::SelfSigned),
        (cert, key, false) if !cert.is_empty() && !key.is_empty() => Some(TlsSettings::Files {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        }),
        (_, _, true) => {
            return Err(invalid(
                "server.tls.self_signed",
                "cannot be combined with server.tls.cert/key",
            ));
        }
        _ => return Err(invalid("server.tls", "cert and key must be given together")),
    };
    let http_allowed = match raw.allow_http.as_str() {
        "never" => false,
        "loopback" => bind.ip().is_loopback(),
        "always" => true,
        other => {
            return Err(invalid(
                "server.allow_http",
                format_args!("{other:?}: use never, loopback or always"),
            ));
        }
    };
    if tls.is_none() && !http_allowed {
        return Err(invalid(
            "server.allow_http",
            format_args!(
                "plain HTTP on {bind} is not allowed: configure server.tls or allow_http = \"always\""
            ),
        ));
    }
    Ok(ServerSettings {
        bind,
        tls,
        request_timeout_seconds: raw.request_timeout_seconds.max(1),
        shutdown_grace_seconds: raw.shutdown_grace_seconds,
    })
}

fn check_public_url(raw: &str, server: &ServerSettings) -> Result<String, ConfigError> {
    let scheme = if server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    match raw.trim_end_matches('/') {
        "" => Ok(format!("{scheme}://{}", server.bind)),
        url if url.starts_with("http://") || url.starts_with("https://") => Ok(url.to_owned()),
        url => Err(invalid(
            "domain.public_url",
            format_args!("{url:?} is not an http(s) URL"),
        )),
    }
}

fn check_database(raw: RawDatabase) -> Result<DatabaseSettings, ConfigError> {
    let url = match raw.url_file.as_str() {
        "" => raw.url,
        path => std::fs::read_to_string(path)
            .map_err(|e| invalid("database.url_file", format_args!("{path}: {e}")))?
            .trim()
            .to_owned(),
    };
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(invalid("database.url", "use sqlite://… or postgres://…"));
    }
    if raw.max_connections == 0 {
        return Err(invalid("database.max_connections", "must be at least 1"));
    }
    Ok(DatabaseSettings {
        url,
        max_connections: raw.max_connections,
    })
}

fn check_signing(raw: RawSigning) -> Result<SigningSettings, ConfigError> {
    let suite = SignatureSuite::from_name(&raw.suite).ok_or_else(|| {
        invalid(
            "signing.suite",
            format_args!("{:?}: use ed25519 or rsa-sha1", raw.suite),
        )
    })?;
    if raw.key_lifetime_days == 0 || raw.rotate_before_days >= raw.key_lifetime_days {
        return Err(invalid(
            "signing.rotate_before_days",
            "must be shorter than signing.key_lifetime_days, which must be at least 1",
        ));
    }
    Ok(SigningSettings {
        suite,
        key_lifetime_seconds: raw.key_lifetime_days * 86_400,
        rotate_before_seconds: raw.rotate_before_days * 86_400,
    })
}

fn check_bootstrapper(raw: RawBootstrapper) -> Result<Option<String>, ConfigError> {
    match raw.redirect.as_str() {
        "" => Ok(None),
        url if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(Some(url.to_owned()))
        }
        url => Err(invalid(
            "bootstrapper.redirect",
            format_args!("{url:?} is not an http(s) URL"),
        )),
    }
}

fn check_log(raw: RawLog) -> Result<LogSettings, ConfigError> {
    let json = match raw.format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            return Err(invalid(
                "log.format",
                format_args!("{other:?}: use text or json"),
            ));
        }
    };
    Ok(LogSettings {
        json,
        level: raw.level,
    })
}

fn check_federation(raw: RawFederation) -> Result<FederationSettings, ConfigError> {
    let domains_of = |key: &str, names: &[String]| {
        names
            .iter()
            .map(|name| {
                DomainName::parse(name)
                    .map_err(|_| invalid(key, format_args!("{name:?} is not a domain name")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let policy = match raw.policy.as_str() {
        "open" => Policy::Open,
        "allowlist" => Policy::Allowlist(domains_of("federation.allow", &raw.allow)?),
        "denylist" => Policy::Denylist(domains_of("federation.deny", &raw.deny)?),
        other => {
            return Err(invalid(
                "federation.policy",
                format_args!("{other:?}: use open, allowlist or denylist"),
            ));
        }
    };
    let mut domains = std::collections::HashMap::new();
    for (name, remote) in raw.domains {
        let key = format!("federation.domains.{name}");
        let domain = DomainName::parse(&name)
            .map_err(|_| invalid(&key, format_args!("{name:?} is not a domain name")))?;
        let pins = remote
            .pins
            .iter()
            .map(|p| Pin::parse(p).map_err(|e| invalid(&format!("{key}.pins"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        let url = (!remote.url.is_empty()).then(|| remote.url.trim_end_matches('/').to_owned());
        domains.insert(domain, RemoteDomain { url, pins });
    }
    let extra_roots = match raw.extra_roots.as_str() {
        "" => Vec::new(),
        path => vec![
            std::fs::read(path)
                .map_err(|e| invalid("federation.extra_roots", format_args!("{path}: {e}")))?,
        ],
    };
    for (key, value) in [
        (
            "federation.request_timeout_seconds",
            raw.request_timeout_seconds,
        ),
        (
            "federation.certificates_cache_seconds",
            raw.certificates_cache_seconds,
        ),
        (
            "federation.link_keep_alive_seconds",
            raw.link_keep_alive_seconds,
        ),
        ("federation.backoff_max_seconds", raw.backoff_max_seconds),
    ] {
        if value == 0 {
            return Err(invalid(key, "must be at least 1"));
        }
    }
    if raw.max_response_bytes < 1024 {
        return Err(invalid(
            "federation.max_response_bytes",
            "must be at least 1024",
        ));
    }
    let trust = TrustSettings {
        policy,
        domains,
        max_concurrent_requests: raw.max_concurrent_requests,
        certificates_cache_seconds: raw.certificates_cache_seconds,
        unknown_key_refresh_seconds: raw.unknown_key_refresh_seconds,
        backoff_max_seconds: raw.backoff_max_seconds,
    };
    trust.check().map_err(|e| invalid("federation", e))?;
    Ok(FederationSettings {
        trust,
        extra_roots,
        request_timeout_seconds: raw.request_timeout_seconds,
        max_response_bytes: raw.max_response_bytes,
        max_links: raw.max_links,
        link_keep_alive_seconds: raw.link_keep_alive_seconds,
    })
}

fn check_identity(raw: RawIdentity) -> Result<IdentitySettings, ConfigError> {
    if raw.access_lifetime_seconds == 0 || raw.login_timeout_seconds == 0 {
        return Err(invalid(
            "identity.access_lifetime_seconds",
            "lifetimes must be at least 1 second",
        ));
    }
    if raw.providers.contains_key("local") {
        return Err(invalid(
            "identity.providers.local",
            "\"local\" is the name of the local accounts",
        ));
    }
    let providers: Vec<ProviderConfig> = providers_from_table(raw.providers)
        .map_err(|e| invalid("identity.providers", e))?
        .into_iter()
        .filter(|p| p.enabled)
        .collect();
    for provider in &providers {
        let key = format!("identity.providers.{}", provider.name);
        let domain = provider
            .effective_identity_domain()
            .map_err(|e| invalid(&key, e))?;
        if DomainName::parse(&domain).is_err() {
            return Err(invalid(
                &format!("{key}.identity_domain"),
                format_args!("{domain:?} is not a domain name usable in identity URIs"),
            ));
        }
    }
    Ok(IdentitySettings {
        access_lifetime_seconds: raw.access_lifetime_seconds,
        login_timeout_seconds: raw.login_timeout_seconds,
        relogin_lifetime_seconds: raw.relogin_lifetime_days.saturating_mul(86_400),
        lookup_expires_seconds: raw.lookup_expires_seconds,
        max_lookup_identities: raw.max_lookup_identities.max(1),
        local: raw.local,
        providers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(overrides: &str) -> Result<Settings, ConfigError> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file =
            std::env::temp_dir().join(format!("openpeer-config-{}-{n}.toml", std::process::id()));
        std::fs::write(&file, overrides).unwrap();
        let loaded = Settings::load(Some(&file));
        std::fs::remove_file(&file).unwrap();
        loaded
    }

    #[test]
    fn defaults_make_a_working_localhost_domain() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.domain.as_str(), "localhost");
        assert_eq!(s.server.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.server.tls, None);
        assert_eq!(s.signing.suite, SignatureSuite::Ed25519);
        assert_eq!(s.node_id, "node-1");
        assert!(s.database.url.starts_with("sqlite://data/"));
        assert!(!format!("{:?}", s.database).contains("data/"));
    }

    #[test]
    fn a_file_overrides_the_defaults() {
        let s = with("[domain]\nname = \"Example.org\"\npublic_url = \"https://example.org/\"\n[server.tls]\nself_signed = true\n[signing]\nsuite = \"rsa-sha1\"\n").unwrap();
        assert_eq!(s.domain.as_str(), "example.org");
        assert_eq!(s.public_url, "https://example.org");
        assert_eq!(s.server.tls, Some(TlsSettings::SelfSigned));
        assert_eq!(s.signing.suite, SignatureSuite::RsaSha1ForLegacyUseOnly);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (file, key) in [
            ("[domain]\nname = \"bad_name\"", "domain.name"),
            ("[server]\nbind = \"nowhere\"", "server.bind"),
            ("[server]\nbind = \"0.0.0.0:80\"", "server.allow_http"),
            ("[server]\nallow_http = \"sometimes\"", "server.allow_http"),
            ("[server.tls]\ncert = \"a.pem\"", "server.tls"),
            (
                "[server.tls]\ncert = \"a\"\nkey = \"b\"\nself_signed = true",
                "server.tls.self_signed",
            ),
            ("[database]\nurl = \"mysql://x\"", "database.url"),
            (
                "[database]\nurl_file = \"/nonexistent/secret\"",
                "database.url_file",
            ),
            ("[signing]\nsuite = \"dsa\"", "signing.suite"),
            (
                "[signing]\nrotate_before_days = 400",
                "signing.rotate_before_days",
            ),
            (
                "[bootstrapper]\nredirect = \"ftp://x\"",
                "bootstrapper.redirect",
            ),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("[limits]\nmax_body_bytes = 10", "limits.max_body_bytes"),
            (
                "[domain]\npublic_url = \"example.org\"",
                "domain.public_url",
            ),
        ] {
            let message = with(file).unwrap_err().to_string();
            assert!(message.contains(key), "{file}: {message}");
        }
        let unknown = with("[server]\nbnd = \"x\"").unwrap_err().to_string();
        assert!(unknown.contains("bnd"), "{unknown}");
        let wrong_type = with("[limits]\nmax_body_bytes = \"lots\"")
            .unwrap_err()
            .to_string();
        assert!(wrong_type.contains("max_body_bytes"), "{wrong_type}");
        let missing = Settings::load(Some(Path::new("/nonexistent.toml")))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("/nonexistent.toml"), "{missing}");
    }

    #[test]
    fn a_secret_url_comes_from_its_file() {
        let secret = std::env::temp_dir().join(format!("openpeer-db-url-{}", std::process::id()));
        std::fs::write(&secret, "postgres://u:pw@127.0.0.1/test\n").unwrap();
        let s = with(&format!(
            "[database]\nurl_file = {:?}",
            secret.display().to_string()
        ))
        .unwrap();
        assert_eq!(s.database.url, "postgres://u:pw@127.0.0.1/test");
        assert!(!format!("{:?}", s.database).contains("pw"));
        std::fs::remove_file(secret).unwrap();
    }
}
