//! Upstream identity providers (OAuth 2.0 and OpenID Connect) behind one connector interface.
//!
//! A domain's identity service logs users in with an account they already have and then proves
//! `identity://<provider domain>/<stable user id>` (architecture §4). This crate is the
//! relying-party side of that login:
//!
//! * [`config`]: one [`ProviderConfig`] per `[identity.providers.<name>]` table.
//! * [`connect`] turns a configuration into a [`Connector`]: OpenID Connect kinds (`oidc`,
//!   `google`, `microsoft`, `gitlab`) run discovery once here; OAuth 2.0 kinds (`github`,
//!   `facebook`) are built without the network.
//! * [`Connector::start`] gives the authorization URL (authorization code flow, PKCE S256
//!   always, random `state`, random `nonce` for OpenID Connect) and the [`PendingLogin`] to keep
//!   until the callback; [`Connector::complete`] exchanges the code, verifies the ID token
//!   (signature by the provider's JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`), reads userinfo or
//!   the provider's user API, and returns a [`ProviderIdentity`].
//! * [`http`]: all HTTP goes through surf on a rustls backend, also for `openidconnect` and
//!   `oauth2` (their `AsyncHttpClient` interface). No redirects are followed; every request has
//!   a timeout.
//!
//! # What the caller (the gateway) must do
//!
//! * Store [`AuthorizationRequest::pending`] server-side ([`PendingLogin::to_stored`]) under
//!   [`AuthorizationRequest::state`]; on the callback, look it up by `state` and **delete it in
//!   the same step** (single use), refuse unknown or expired states ([`PENDING_LOGIN_TTL`],
//!   10 minutes; `complete` also refuses an expired or foreign pending login), then call
//!   `complete` with the same `redirect_uri` as `start`.
//! * Treat [`ProviderIdentity::email`] as a linking or merging key **only** when
//!   [`ProviderIdentity::email_verified`] is `true`.
//! * Never log the authorization URL's query, the callback's `code`, or the stored pending login.
//!
//! # Plain HTTP
//!
//! Issuers and endpoints must be `https`. Plain `http` is accepted only when the host is a
//! loopback address (`127.0.0.0/8`, `[::1]`) or `localhost`, so that an OpenID provider on
//! `http://127.0.0.1:PORT` can be used in development and tests. `openidconnect` itself does not
//! check the scheme; this crate does, for the configured URLs and for every discovered endpoint.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
mod error;
pub mod http;
mod login;
mod oauth;
mod oidc;

#[cfg(test)]
mod test_server;

pub use config::{ProviderConfig, ProviderKind, Secret, providers_from_table};
pub use error::ProviderError;
pub use login::{AuthorizationRequest, PENDING_LOGIN_TTL, PendingLogin, ProviderIdentity};
pub use oidc::{JWKS_REFRESH_INTERVAL, MAX_CLOCK_SKEW};

/// One upstream identity provider.
///
/// The `redirect_uri` of [`start`](Self::start) and [`complete`](Self::complete) is the
/// gateway's callback URL registered with the provider; both calls of one login must pass the
/// same value (the provider compares them).
#[async_trait::async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// The provider's configured name.
    fn name(&self) -> &str;

    /// The domain of the identity URIs this provider proves.
    fn identity_domain(&self) -> &str;

    /// Starts a login: the authorization URL with `state`, the PKCE S256 challenge (always),
    /// `nonce` (OpenID Connect) and the scopes, plus what to keep until the callback.
    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationRequest, ProviderError>;

    /// Completes a login from the callback's `code`: exchanges it with the PKCE verifier, checks
    /// the ID token (OpenID Connect: signature via JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`),
    /// reads userinfo or the user API, and returns who the user is.
    ///
    /// Refuses a `pending` login of another provider or past its expiry. The caller has already
    /// matched and consumed the `state`.
    async fn complete(
        &self,
        redirect_uri: &str,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<ProviderIdentity, ProviderError>;
}

/// Builds the connector for `config`: validates it, then runs OpenID Connect discovery (metadata
/// and JWKS, once) for the OpenID Connect kinds; the OAuth 2.0 kinds need no network.
///
/// A disabled provider (`enabled = false`) is refused.
pub async fn connect(
    config: &ProviderConfig,
    http: &http::HttpClient,
) -> Result<Box<dyn Connector>, ProviderError> {
    if !config.enabled {
        return Err(ProviderError::Config(format!(
            "provider {} is disabled",
            config.name
        )));
    }
    config.validate()?;
    if config.kind.is_oidc() {
        Ok(Box::new(oidc::OidcConnector::discover(config, http).await?))
    } else {
        Ok(Box::new(oauth::OAuthConnector::new(config, http)?))
    }
}
