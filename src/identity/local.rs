//! Local accounts (issue 3/4): username and password (argon2id), identity
//! `identity://<domain>/<username>`, so a fresh install proves identities with no external
//! account. Failed logins are limited per account and per client address.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::uri::IdentityUri;
use rand_core::OsRng;

use super::repo::{IdentityRecord, IdentityRepo, LocalAccount};
use crate::error::Error;

/// The provider name of local accounts.
pub const LOCAL_PROVIDER: &str = "local";

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Checks a username: 1–64 of `[a-z0-9._-]`, starting with a letter or digit (lower-cased).
pub fn normalise_username(username: &str) -> Result<String, Error> {
    let lower = username.to_ascii_lowercase();
    let ok = !lower.is_empty()
        && lower.len() <= 64
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && lower.as_bytes()[0].is_ascii_alphanumeric();
    ok.then_some(lower).ok_or_else(|| {
        Error::refused(
            ResultCode::BadRequest,
            "a username is 1-64 letters, digits, '.', '_' or '-'",
        )
    })
}

/// The identity URI of a local account.
pub fn identity_uri(domain: &str, username: &str) -> Result<String, Error> {
    IdentityUri::parse(&format!("identity://{domain}/{username}"))
        .map(|uri| uri.to_string())
        .map_err(|_| Error::refused(ResultCode::BadRequest, "not a valid identity"))
}

/// Hashes a password with argon2id (PHC string), off the async executor.
pub async fn hash_password(password: String) -> Result<String, Error> {
    async_std::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| Error::refused(ResultCode::InternalError, "password hashing failed"))
}

async fn verify_password(password: String, phc: String) -> bool {
    async_std::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .map(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}

/// Creates a local account and its identity; 409 when the username is taken.
pub async fn create_account(
    repo: &dyn IdentityRepo,
    domain: &str,
    username: &str,
    password: &str,
    now: u64,
) -> Result<String, Error> {
    let username = normalise_username(username)?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::refused(
            ResultCode::BadRequest,
            "the password is too short",
        ));
    }
    let uri = identity_uri(domain, &username)?;
    let account = LocalAccount {
        username: username.clone(),
        password_hash: hash_password(password.to_owned()).await?,
        created: now,
    };
    if !repo.insert_account(&account).await? {
        return Err(Error::refused(
            ResultCode::Conflict,
            "that username is taken",
        ));
    }
    repo.upsert_identity(&IdentityRecord {
        uri: uri.clone(),
        provider: LOCAL_PROVIDER.to_owned(),
        subject: username.clone(),
        email: None,
        email_verified: false,
        name: Some(username),
        profile_url: None,
        avatar_url: None,
        created: now,
        updated: now,
    })
    .await?;
    Ok(uri)
}

/// Checks a username and password; returns the identity URI. Unknown users and wrong passwords
/// get the same answer, after the same work.
pub async fn login(
    repo: &dyn IdentityRepo,
    domain: &str,
    username: &str,
    password: &str,
) -> Result<String, Error> {
    let refused = || Error::refused(ResultCode::Forbidden, "wrong username or password");
    let username = normalise_username(username).map_err(|_| refused())?;
    let account = repo.account(&username).await?;
    // An unknown user is still checked against a real hash, so timing tells nothing.
    let phc = match &account {
        Some(account) => account.password_hash.clone(),
        None => dummy_hash().await,
    };
    if verify_password(password.to_owned(), phc).await && account.is_some() {
        identity_uri(domain, &username)
    } else {
        Err(refused())
    }
}

async fn dummy_hash() -> String {
    static DUMMY: async_std::sync::Mutex<Option<String>> = async_std::sync::Mutex::new(None);
    let mut cached = DUMMY.lock().await;
    if cached.is_none() {
        *cached = hash_password("no such account".to_owned()).await.ok();
    }
    cached.clone().unwrap_or_default()
}

/// Failed logins in a sliding window, per key (account or address), in memory on each node.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    failures: Mutex<HashMap<String, Vec<u64>>>,
}

impl FailureLimiter {
    /// Whether `key` may try again at `now`: fewer than `max` failures within `window` seconds.
    pub fn allowed(&self, key: &str, max: u32, window: u64, now: u64) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(key) else {
            return true;
        };
        times.retain(|t| t.saturating_add(window) > now);
        let allowed = times.len() < usize::try_from(max).unwrap_or(usize::MAX);
        if times.is_empty() {
            failures.remove(key);
        }
        allowed
    }

    /// Records a failure of `key` at `now`.
    pub fn record(&self, key: &str, now: u64) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bound memory under attack: drop the oldest keys' history when the map grows large.
        if failures.len() > 100_000 {
            failures.clear();
        }
        failures.entry(key.to_owned()).or_default().push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked_and_lower_cased() {
        assert_eq!(normalise_username("Alice.B-1").unwrap(), "alice.b-1");
        for bad in ["", "-x", "a b", "a/b", "a?b", &"a".repeat(65)] {
            assert!(normalise_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_limiter_counts_within_the_window() {
        let limiter = FailureLimiter::default();
        for t in 0..3 {
            assert!(limiter.allowed("k", 3, 60, 100 + t));
            limiter.record("k", 100 + t);
        }
        assert!(!limiter.allowed("k", 3, 60, 110));
        assert!(limiter.allowed("other", 3, 60, 110));
        assert!(limiter.allowed("k", 3, 60, 161));
    }

    #[async_std::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), phc.clone()).await);
        assert!(!verify_password("wrong horse".into(), phc).await);
    }
}
