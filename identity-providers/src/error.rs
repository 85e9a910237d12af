//! The crate's one error type.
//!
//! Every message is written for an operator's log: it names the provider step that failed and,
//! where useful, the endpoint's host and path. No message ever carries a client secret, an
//! authorization code, a PKCE verifier, a nonce, an access or ID token, or a response body that
//! could hold one of them.

/// Why a connector could not be built or a login could not be completed.
///
/// Toward the end user every variant means "the login failed"; the detail is for the logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider's configuration is invalid (missing client id, wrong field for the kind,
    /// unreadable secret file, plain `http` to a non-loopback host, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// OpenID Connect discovery failed: the provider metadata or its JWKS could not be fetched,
    /// parsed or accepted (issuer mismatch, insecure endpoint).
    #[error("discovery: {0}")]
    Discovery(String),
    /// A request could not be sent or its answer not read (connection, TLS, timeout, oversized
    /// body).
    #[error("http: {0}")]
    Http(String),
    /// The token endpoint refused the authorization code or answered something unusable.
    #[error("token exchange: {0}")]
    TokenExchange(String),
    /// The ID token is missing or failed a check: signature (JWKS), `iss`, `aud`, `exp`, `iat`,
    /// `nonce` or `at_hash`.
    #[error("ID token: {0}")]
    IdToken(String),
    /// The userinfo endpoint or the provider's user API failed or answered something unusable
    /// (for example a subject that differs from the ID token's).
    #[error("user info: {0}")]
    UserInfo(String),
    /// The stored pending login is unreadable or belongs to another provider.
    #[error("pending login: {0}")]
    Pending(String),
}
