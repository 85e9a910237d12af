//! What a login carries between its two halves, and what it proves at the end.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::ProviderError;

/// How long a started login may wait for its callback: 10 minutes. [`PendingLogin::expires_at`]
/// is set from it and [`Connector::complete`](crate::Connector::complete) refuses a pending login
/// past it; the gateway should expire its stored state after the same time.
pub const PENDING_LOGIN_TTL: Duration = Duration::from_secs(10 * 60);

/// The start of a login: send the user agent to [`url`](Self::url), keep
/// [`pending`](Self::pending) under [`state`](Self::state) until the callback.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// The provider's authorization URL with `response_type=code`, `client_id`,
    /// `redirect_uri`, `scope`, `state`, `code_challenge` + `code_challenge_method=S256`, and
    /// (OpenID Connect) `nonce`.
    pub url: String,
    /// The `state` parameter in [`url`](Self::url) (random, 128 bits, URL-safe). The callback
    /// brings it back; look the pending login up by it, exactly once.
    pub state: String,
    /// The secrets to keep server-side until the callback.
    pub pending: PendingLogin,
}

/// What the gateway stores between [`start`](crate::Connector::start) and
/// [`complete`](crate::Connector::complete), keyed by the `state`.
///
/// Secret: `Debug` redacts the nonce and the PKCE verifier, and both are zeroized on drop. Store
/// it with [`to_stored`](Self::to_stored) and read it back with
/// [`from_stored`](Self::from_stored).
///
/// The gateway must make the state **single-use** (delete the stored login when the callback
/// looks it up, whatever the outcome) and expire it after [`PENDING_LOGIN_TTL`].
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// The name of the provider that started the login; `complete` refuses a login started by
    /// another provider.
    pub provider: String,
    /// OpenID Connect `nonce` sent in the authorization request (checked against the ID token);
    /// `None` for the OAuth 2.0 providers.
    pub nonce: Option<String>,
    /// The PKCE code verifier (RFC 7636; S256 challenge sent).
    pub pkce_verifier: String,
    /// Unix time (seconds) after which the login is refused.
    pub expires_at: u64,
}

/// The stored form: a versioned JSON object.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    v: u32,
    provider: String,
    nonce: Option<String>,
    pkce_verifier: String,
    expires_at: u64,
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.pkce_verifier.zeroize();
        if let Some(nonce) = self.nonce.as_mut() {
            nonce.zeroize();
        }
    }
}

impl PendingLogin {
    /// A pending login for `provider` that expires [`PENDING_LOGIN_TTL`] from now.
    pub(crate) fn new(provider: &str, nonce: Option<String>, pkce_verifier: String) -> Self {
        Self {
            provider: provider.to_owned(),
            nonce,
            pkce_verifier,
            expires_at: unix_now().saturating_add(PENDING_LOGIN_TTL.as_secs()),
        }
    }

    /// Serialises to a string for the gateway's database. The string holds the secrets: store
    /// it server-side only and never log it.
    pub fn to_stored(&self) -> String {
        let stored = Stored {
            v: 1,
            provider: self.provider.clone(),
            nonce: self.nonce.clone(),
            pkce_verifier: self.pkce_verifier.clone(),
            expires_at: self.expires_at,
        };
        // Invariant: a struct of strings and integers always serialises.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Reads what [`to_stored`](Self::to_stored) wrote.
    pub fn from_stored(stored: &str) -> Result<Self, ProviderError> {
        let stored: Stored = serde_json::from_str(stored)
            .map_err(|_| ProviderError::Pending("unreadable stored login".into()))?;
        if stored.v != 1 {
            return Err(ProviderError::Pending(format!(
                "stored login version {} is not supported",
                stored.v
            )));
        }
        let login = Self {
            provider: stored.provider.clone(),
            nonce: stored.nonce.clone(),
            pkce_verifier: stored.pkce_verifier.clone(),
            expires_at: stored.expires_at,
        };
        if !is_pkce_verifier(&login.pkce_verifier) {
            return Err(ProviderError::Pending(
                "stored PKCE verifier is malformed".into(),
            ));
        }
        Ok(login)
    }

    /// Whether the login has passed [`expires_at`](Self::expires_at).
    pub fn is_expired(&self) -> bool {
        unix_now() > self.expires_at
    }

    /// Refuses a login of another provider or past its expiry (used by every connector).
    pub(crate) fn check(&self, provider: &str) -> Result<(), ProviderError> {
        if self.provider != provider {
            return Err(ProviderError::Pending(format!(
                "login was started with provider {:?}, not {provider:?}",
                self.provider
            )));
        }
        if self.is_expired() {
            return Err(ProviderError::Pending("login expired".into()));
        }
        if !is_pkce_verifier(&self.pkce_verifier) {
            return Err(ProviderError::Pending("PKCE verifier is malformed".into()));
        }
        Ok(())
    }
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("provider", &self.provider)
            .field("nonce", &self.nonce.as_ref().map(|_| "<redacted>"))
            .field("pkce_verifier", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Drop for PendingLogin {
    fn drop(&mut self) {
        self.pkce_verifier.zeroize();
        if let Some(nonce) = self.nonce.as_mut() {
            nonce.zeroize();
        }
    }
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub(crate) use openpeer_federation::clock::unix_now;

/// Who the provider says the user is.
///
/// Account linking rule: an e-mail address may link or merge accounts **only** when
/// [`email_verified`](Self::email_verified) is `true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The provider's configured name.
    pub provider: String,
    /// The domain of the identity URI (`github.com`, `google.com`, an issuer's `host[:port]`...).
    pub identity_domain: String,
    /// The provider's stable user id: the OpenID Connect `sub` (for Microsoft, pairwise per
    /// application), GitHub's and Facebook's numeric id in decimal (Facebook's is app-scoped).
    /// Never the e-mail or the login name, which users can change.
    pub subject: String,
    /// The e-mail address the provider gave, if any.
    pub email: Option<String>,
    /// Whether the provider vouches for [`email`](Self::email): OpenID Connect `email_verified`
    /// (from the ID token, else from userinfo, taken from the same source as the address);
    /// GitHub's primary address marked verified by `/user/emails`; Facebook's Graph `email`,
    /// which Facebook returns only for a confirmed address. `false` whenever `email` is `None`.
    pub email_verified: bool,
    /// Display name, if given.
    pub name: Option<String>,
    /// Profile page, if given.
    pub profile_url: Option<String>,
    /// Picture, if given.
    pub avatar_url: Option<String>,
}

impl ProviderIdentity {
    /// `identity://<identity_domain>/<subject>` (architecture §4), the subject percent-encoded
    /// except for RFC 3986 unreserved characters (numeric ids and most `sub` values are left as
    /// they are).
    pub fn identity_uri(&self) -> String {
        let mut uri = format!("identity://{}/", self.identity_domain);
        for b in self.subject.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                uri.push(char::from(b));
            } else {
                uri.push_str(&format!("%{b:02X}"));
            }
        }
        uri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> String {
        "a".repeat(43)
    }

    #[test]
    fn stored_round_trip() {
        let login = PendingLogin::new("corp", Some("n-123".into()), verifier());
        let stored = login.to_stored();
        assert!(stored.starts_with("{\"v\":1,"), "{stored}");
        let back = PendingLogin::from_stored(&stored).expect("round trip");
        assert_eq!(back, login);
        let oauth = PendingLogin::new("github", None, verifier());
        assert_eq!(
            PendingLogin::from_stored(&oauth.to_stored()).expect("round trip"),
            oauth
        );
    }

    #[test]
    fn stored_garbage_refused() {
        assert!(PendingLogin::from_stored("").is_err());
        assert!(PendingLogin::from_stored("{}").is_err());
        let login = PendingLogin::new("corp", None, verifier());
        let v2 = login.to_stored().replacen("\"v\":1", "\"v\":2", 1);
        assert!(PendingLogin::from_stored(&v2).is_err());
        let extra = login.to_stored().replacen("{", "{\"x\":1,", 1);
        assert!(PendingLogin::from_stored(&extra).is_err());
        let short = PendingLogin::new("corp", None, "short".into()).to_stored();
        assert!(PendingLogin::from_stored(&short).is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let login = PendingLogin::new("corp", Some("the-nonce".into()), "v".repeat(50));
        let shown = format!("{login:?}");
        assert!(!shown.contains("the-nonce"), "{shown}");
        assert!(!shown.contains("vvvv"), "{shown}");
        assert!(shown.contains("corp"));
    }

    #[test]
    fn check_refuses_other_provider_and_expired() {
        let mut login = PendingLogin::new("corp", None, verifier());
        assert!(login.check("corp").is_ok());
        assert!(matches!(
            login.check("github"),
            Err(ProviderError::Pending(_))
        ));
        login.expires_at = unix_now() - 1;
        assert!(login.is_expired());
        assert!(matches!(
            login.check("corp"),
            Err(ProviderError::Pending(_))
        ));
    }

    #[test]
    fn identity_uri_encodes_subject() {
        let mut id = ProviderIdentity {
            provider: "github".into(),
            identity_domain: "github.com".into(),
            subject: "583231".into(),
            email: None,
            email_verified: false,
            name: None,
            profile_url: None,
            avatar_url: None,
        };
        assert_eq!(id.identity_uri(), "identity://github.com/583231");
        id.subject = "auth0|a b/c".into();
        assert_eq!(id.identity_uri(), "identity://github.com/auth0%7Ca%20b%2Fc");
    }
}
