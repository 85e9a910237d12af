//! Configuration of the services a peer uses after logging in: `[lockbox]`, `[namespace_grant]`,
//! `[rolodex]` and `[peer_services]` (README "Lockbox, namespace grants and peer services",
//! "Rolodex").

use openpeer_protocol::uri::DomainName;
use serde::Deserialize;

use super::{ConfigError, invalid};

/// `[lockbox]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockboxSettings {
    /// Lifetime of lockbox access tokens, seconds.
    pub access_lifetime_seconds: u64,
    /// Whether the well-known namespaces need a namespace grant like any other.
    pub require_grant: bool,
    /// Most namespaces holding values, per account.
    pub max_namespaces: usize,
    /// Most value names per namespace.
    pub max_names_per_namespace: usize,
    /// Largest value, bytes of its ciphertext text.
    pub max_value_bytes: usize,
    /// Time a namespace grant challenge may take to come back signed, seconds.
    pub challenge_lifetime_seconds: u64,
    /// Domains besides this one whose namespace-grant service may sign this lockbox's challenges.
    #[serde(deserialize_with = "domain_names")]
    pub grant_domains: Vec<DomainName>,
}

/// `[namespace_grant]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceGrantSettings {
    /// Hosts besides this domain whose namespace URLs this grant service may sign grants for.
    #[serde(deserialize_with = "domain_names")]
    pub namespace_domains: Vec<DomainName>,
}

/// `[rolodex]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolodexSettings {
    /// Lifetime of rolodex access tokens, seconds.
    pub access_lifetime_seconds: u64,
    /// Lifetime of the `serverToken` the identity service hands out, seconds.
    pub server_token_lifetime_seconds: u64,
    /// `updateNext` distance: when a client should ask for contacts again, seconds.
    pub update_next_seconds: u64,
    /// Most contacts one local account may keep.
    pub max_contacts: usize,
}

/// `[peer_services]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerServicesSettings {
    /// Lifetime of TURN credentials, seconds.
    pub credential_lifetime_seconds: u64,
    /// STUN server URIs (`stun:host:port`).
    pub stun: Vec<String>,
    /// TURN servers, each with the shared secret of its `use-auth-secret` REST API.
    pub turn: Vec<TurnServer>,
}

/// One TURN server of `[[peer_services.turn]]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnServer {
    /// `turn:host:port[?transport=udp|tcp]` or `turns:…`.
    pub uri: String,
    /// The server's `static-auth-secret`.
    #[serde(default)]
    pub secret: String,
    /// A file holding the secret instead (Docker secrets).
    #[serde(default)]
    pub secret_file: String,
}

impl std::fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TurnServer({}, secret redacted)", self.uri)
    }
}

fn domain_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<DomainName>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|name| {
            DomainName::parse(name)
                .map_err(|_| serde::de::Error::custom(format!("{name:?} is not a domain name")))
        })
        .collect()
}

fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(())
}

/// Checks `[lockbox]`.
pub(super) fn check_lockbox(raw: LockboxSettings) -> Result<LockboxSettings, ConfigError> {
    at_least_one(
        "lockbox.access_lifetime_seconds",
        raw.access_lifetime_seconds,
    )?;
    at_least_one(
        "lockbox.challenge_lifetime_seconds",
        raw.challenge_lifetime_seconds,
    )?;
    for (key, limit) in [
        ("lockbox.max_namespaces", raw.max_namespaces),
        (
            "lockbox.max_names_per_namespace",
            raw.max_names_per_namespace,
        ),
        ("lockbox.max_value_bytes", raw.max_value_bytes),
    ] {
        at_least_one(key, limit as u64)?;
    }
    Ok(raw)
}

/// Checks `[rolodex]`.
pub(super) fn check_rolodex(raw: RolodexSettings) -> Result<RolodexSettings, ConfigError> {
    at_least_one(
        "rolodex.access_lifetime_seconds",
        raw.access_lifetime_seconds,
    )?;
    at_least_one(
        "rolodex.server_token_lifetime_seconds",
        raw.server_token_lifetime_seconds,
    )?;
    at_least_one("rolodex.update_next_seconds", raw.update_next_seconds)?;
    Ok(raw)
}

/// Checks `[peer_services]`, reading each TURN secret from its file when one is named.
pub(super) fn check_peer_services(
    mut raw: PeerServicesSettings,
) -> Result<PeerServicesSettings, ConfigError> {
    at_least_one(
        "peer_services.credential_lifetime_seconds",
        raw.credential_lifetime_seconds,
    )?;
    for uri in &raw.stun {
        if !uri.starts_with("stun:") && !uri.starts_with("stuns:") {
            return Err(invalid(
                "peer_services.stun",
                format_args!("{uri:?} is not a stun: URI"),
            ));
        }
    }
    for server in &mut raw.turn {
        if !server.uri.starts_with("turn:") && !server.uri.starts_with("turns:") {
            return Err(invalid(
                "peer_services.turn.uri",
                format_args!("{:?} is not a turn: URI", server.uri),
            ));
        }
        if !server.secret_file.is_empty() {
            let secret = std::fs::read_to_string(&server.secret_file).map_err(|e| {
                invalid(
                    "peer_services.turn.secret_file",
                    format_args!("{}: {e}", server.secret_file),
                )
            })?;
            server.secret = secret.trim().to_owned();
        }
        if server.secret.is_empty() {
            return Err(invalid(
                "peer_services.turn.secret",
                format_args!(
                    "{} needs its shared secret (secret or secret_file)",
                    server.uri
                ),
            ));
        }
    }
    Ok(raw)
}
