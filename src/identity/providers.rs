//! Logins through upstream providers (OAuth 2.0 / OpenID Connect, `openpeer-identity-providers`):
//! start gives the authorization URL and records the pending login under the hash of its
//! `state`; the provider's callback takes that record once, completes the login at the provider
//! and issues the tokens of `identity://<provider domain>/<stable id>`. Accounts are never linked
//! or merged by e-mail, so an unverified e-mail cannot reach anyone else's identity.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_std::sync::Mutex;
use openpeer_federation::http::HttpClient;
use openpeer_identity_providers::{
    Connector, PendingLogin, ProviderConfig, ProviderError, connect,
};
use openpeer_protocol::cipher::{split_decrypt, split_encrypt};
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::uri::IdentityUri;
use rand_core::OsRng;

use super::access::{self, Completion, sealing_key};
use super::login;
use super::repo::{IdentityRecord, IdentityRepo, PendingLoginRecord};
use crate::config::Settings;
use crate::error::Error;

/// Timeout of every request to a provider.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The configured providers, each connected (discovery) on first use and then kept.
pub struct Providers {
    configs: Vec<ProviderConfig>,
    http: Option<HttpClient>,
    connected: Mutex<HashMap<String, Arc<dyn Connector>>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.configs.iter().map(|c| c.name.as_str()).collect();
        write!(f, "Providers({names:?})")
    }
}

fn unavailable(e: &ProviderError) -> Error {
    tracing::warn!(error = %e, "identity provider unavailable");
    Error::refused(
        ResultCode::TemporarilyUnavailable,
        "identity provider unavailable",
    )
}

impl Providers {
    /// The enabled providers of the configuration; nothing is fetched yet.
    pub fn new(configs: Vec<ProviderConfig>) -> Providers {
        let http = HttpClient::new(&[], PROVIDER_TIMEOUT)
            .inspect_err(|e| tracing::error!(error = %e, "cannot make the HTTP client for identity providers"))
            .ok();
        Providers {
            configs,
            http,
            connected: Mutex::new(HashMap::new()),
        }
    }

    /// The connector of `name`, connecting it now if needed (a provider that is down is retried
    /// at the next login rather than stopping the domain).
    async fn connector(&self, name: &str) -> Result<Arc<dyn Connector>, Error> {
        let mut connected = self.connected.lock().await;
        if let Some(connector) = connected.get(name) {
            return Ok(Arc::clone(connector));
        }
        let config = self
            .configs
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::refused(ResultCode::NotFound, "no such identity provider"))?;
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| Error::refused(ResultCode::TemporarilyUnavailable, "no HTTP client"))?;
        let connector: Arc<dyn Connector> =
            Arc::from(connect(config, http).await.map_err(|e| unavailable(&e))?);
        connected.insert(name.to_owned(), Arc::clone(&connector));
        Ok(connector)
    }
}

/// Where a provider sends the user back: `<public_url>/identity/v1/callback/<provider>`.
pub fn redirect_uri(settings: &Settings, provider: &str) -> String {
    format!("{}/identity/v1/callback/{provider}", settings.public_url)
}

/// The authorization URL and `state` of a new login at `provider`.
pub async fn start(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    providers: &Providers,
    provider: &str,
    now: u64,
) -> Result<(String, String), Error> {
    let connector = providers.connector(provider).await?;
    let request = connector
        .start(&redirect_uri(settings, provider))
        .await
        .map_err(|e| unavailable(&e))?;
    let key = sealing_key("pending-login", &request.state);
    repo.insert_pending_login(&PendingLoginRecord {
        state_hash: access::hash(&request.state),
        provider: provider.to_owned(),
        pending_encrypted: split_encrypt(&key, request.pending.to_stored().as_bytes(), &mut OsRng),
        expires: now.saturating_add(settings.identity.login_timeout_seconds),
    })
    .await?;
    Ok((request.url, request.state))
}

/// The provider's callback: takes the pending login of `state` (once), completes it at the
/// provider and issues the tokens.
pub async fn callback(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    providers: &Providers,
    provider: &str,
    code: &str,
    state: &str,
    now: u64,
) -> Result<Completion, Error> {
    let record = repo
        .take_pending_login(&access::hash(state))
        .await?
        .ok_or_else(|| Error::refused(ResultCode::Forbidden, "unknown or already used state"))?;
    if record.provider != provider {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "the state belongs to another provider",
        ));
    }
    if record.expires <= now {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "the login took too long",
        ));
    }
    let stored = split_decrypt(
        &sealing_key("pending-login", state),
        &record.pending_encrypted,
    )
    .map_err(|e| Error::Protocol(e.into()))?;
    let pending = std::str::from_utf8(&stored)
        .ok()
        .and_then(|text| PendingLogin::from_stored(text).ok())
        .ok_or_else(|| Error::refused(ResultCode::Forbidden, "unreadable pending login"))?;
    let connector = providers.connector(provider).await?;
    let identity = connector
        .complete(&redirect_uri(settings, provider), code, &pending)
        .await
        .map_err(|e| match e {
            // The provider could not be reached: a temporary failure, not a refusal.
            ProviderError::Http(_) | ProviderError::Discovery(_) => unavailable(&e),
            _ => {
                tracing::info!(provider, error = %e, "provider login refused");
                Error::refused(ResultCode::Forbidden, "the provider login did not verify")
            }
        })?;
    let uri = IdentityUri::parse(&identity.identity_uri())
        .map_err(|_| {
            Error::refused(
                ResultCode::Forbidden,
                "the provider's id is not a valid identity",
            )
        })?
        .to_string();
    repo.upsert_identity(&IdentityRecord {
        uri: uri.clone(),
        provider: provider.to_owned(),
        subject: identity.subject.clone(),
        email: identity.email.clone(),
        email_verified: identity.email_verified,
        name: identity.name.clone(),
        profile_url: identity.profile_url.clone(),
        avatar_url: identity.avatar_url.clone(),
        created: now,
        updated: now,
    })
    .await?;
    login::issue(repo, settings, &uri, provider, now).await
}
