//! Logins that end in `identity-access-complete`: local accounts (with failure limits) and
//! re-login keys. Provider logins join here through [`crate::identity::providers`].

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{Envelope, Message, MessageKind, Method};

use super::access::{self, Completion};
use super::local::{self, FailureLimiter};
use super::repo::IdentityRepo;
use crate::config::Settings;
use crate::error::Error;

/// The `identity-access-complete` notify document of a finished login (spec §6.5).
pub fn completion_document(settings: &Settings, completion: &Completion) -> Message {
    let envelope = Envelope {
        domain: Some(settings.domain.to_string()),
        ..Envelope::new(MessageKind::Notify, Method::IdentityAccessComplete)
    };
    let mut body = Object::new().with("identity", completion.to_object());
    if let Some(lockbox) = completion.lockbox_object() {
        body.insert("lockbox", lockbox);
    }
    Message::new(envelope, body)
}

/// A local login: refused with 480 while the account or the address has too many recent
/// failures, 403 on a wrong username or password.
pub async fn local_login(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    limiter: &FailureLimiter,
    address: &str,
    username: &str,
    password: &str,
    now: u64,
) -> Result<Completion, Error> {
    let uri =
        check_local_password(repo, settings, limiter, address, username, password, now).await?;
    issue(repo, settings, &uri, local::LOCAL_PROVIDER, now).await
}

/// Checks a local account's password under the failure limits of [`local_login`]: the
/// identity URI, or the refusal.
pub async fn check_local_password(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    limiter: &FailureLimiter,
    address: &str,
    username: &str,
    password: &str,
    now: u64,
) -> Result<String, Error> {
    let limits = &settings.identity.local;
    if !limits.enabled {
        return Err(Error::refused(
            ResultCode::NotFound,
            "local accounts are disabled",
        ));
    }
    let account_key = format!("account:{}", username.to_ascii_lowercase());
    let address_key = format!("address:{address}");
    let window = limits.failure_window_seconds;
    if !limiter.allowed(&account_key, limits.max_failures_per_account, window, now)
        || !limiter.allowed(&address_key, limits.max_failures_per_address, window, now)
    {
        return Err(Error::refused(
            ResultCode::TemporarilyUnavailable,
            "too many failed logins; try later",
        ));
    }
    match local::login(repo, settings.domain.as_str(), username, password).await {
        Ok(uri) => Ok(uri),
        Err(e) => {
            limiter.record(&account_key, now);
            limiter.record(&address_key, now);
            tracing::info!(address, "failed local login");
            Err(e)
        }
    }
}

/// A local sign-up, when configured; then logged in.
pub async fn local_signup(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    username: &str,
    password: &str,
    now: u64,
) -> Result<Completion, Error> {
    if !settings.identity.local.enabled || !settings.identity.local.signup {
        return Err(Error::refused(ResultCode::Forbidden, "sign-up is disabled"));
    }
    let uri =
        local::create_account(repo, settings.domain.as_str(), username, password, now).await?;
    issue(repo, settings, &uri, local::LOCAL_PROVIDER, now).await
}

/// A silent re-login with a `reloginKey` (spec §6.5): a new access token for the same identity.
pub async fn relogin(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    relogin_key: &str,
    now: u64,
) -> Result<Completion, Error> {
    let record = repo
        .relogin_key(&access::hash(relogin_key))
        .await?
        .filter(|r| r.expires > now)
        .ok_or_else(|| Error::refused(ResultCode::Forbidden, "unknown or expired relogin key"))?;
    issue(repo, settings, &record.identity_uri, &record.provider, now).await
}

/// Issues the tokens of a proven identity.
pub async fn issue(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    uri: &str,
    provider: &str,
    now: u64,
) -> Result<Completion, Error> {
    access::issue(
        repo,
        uri,
        provider,
        now,
        settings.identity.access_lifetime_seconds,
        settings.identity.relogin_lifetime_seconds,
    )
    .await
}
