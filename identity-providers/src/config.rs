//! Provider configuration: one `[identity.providers.<name>]` table per provider.
//!
//! ```toml
//! [identity.providers.github]
//! kind = "github"
//! client_id = "Iv1.0123456789abcdef"
//! client_secret_file = "/run/secrets/github"
//!
//! [identity.providers.corp]
//! kind = "oidc"
//! issuer_url = "https://sso.example.org/realms/staff"
//! client_id = "openpeer"
//! client_secret = "..."
//! scopes = ["openid", "email", "profile"]
//! ```
//!
//! The table key is the provider's name; the caller puts it into [`ProviderConfig::name`]
//! (see [`providers_from_table`]). Unknown keys are refused.
//!
//! Defaults per kind:
//!
//! | kind | protocol | issuer / endpoints | scopes | identity domain |
//! |---|---|---|---|---|
//! | `oidc` | OpenID Connect, discovery | `issuer_url` (required) | `openid email profile` | issuer `host[:port]` |
//! | `google` | OpenID Connect, discovery | `https://accounts.google.com` | `openid email profile` | `google.com` |
//! | `microsoft` | OpenID Connect, discovery | `https://login.microsoftonline.com/common/v2.0` | `openid email profile` | `microsoft.com` |
//! | `gitlab` | OpenID Connect, discovery | `https://gitlab.com` | `openid email profile` | `gitlab.com`, or the overridden issuer's `host[:port]` |
//! | `github` | OAuth 2.0 + REST API | see [`ProviderKind::default_endpoints`] | `read:user user:email` | `github.com` |
//! | `facebook` | OAuth 2.0 + Graph API | see [`ProviderKind::default_endpoints`] | `public_profile email` | `facebook.com` |
//!
//! **Microsoft's multi-tenant issuers.** The `common`, `organizations` and `consumers` endpoints
//! publish the issuer *template* `https://login.microsoftonline.com/{tenantid}/v2.0`. For kind
//! `microsoft` (and only that kind) the connector accepts that template and checks every ID
//! token's `iss` against the template with `{tenantid}` replaced by the token's own `tid` claim,
//! as Microsoft documents. A tenant-specific `issuer_url`
//! (`https://login.microsoftonline.com/<tenant id>/v2.0`) limits logins to that tenant and is
//! checked verbatim like any other issuer.
//!
//! **Plain HTTP.** Issuer and endpoint URLs must be `https`, except for loopback hosts
//! (`127.0.0.0/8`, `[::1]`, `localhost`), where `http` is allowed for development and tests.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use zeroize::Zeroize;

use crate::ProviderError;
use crate::http::secure_url;

/// Which protocol and defaults a provider uses (`kind = "..."`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenID Connect provider, found by discovery from `issuer_url`.
    Oidc,
    /// Google (OpenID Connect).
    Google,
    /// Microsoft identity platform v2.0 (OpenID Connect).
    Microsoft,
    /// GitLab.com or a self-hosted GitLab (OpenID Connect).
    Gitlab,
    /// GitHub or GitHub Enterprise (OAuth 2.0 and the REST user API).
    Github,
    /// Facebook (OAuth 2.0 and the Graph API).
    Facebook,
}

impl ProviderKind {
    /// The configuration spelling (`"oidc"`, `"google"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Gitlab => "gitlab",
            Self::Github => "github",
            Self::Facebook => "facebook",
        }
    }

    /// Whether this kind speaks OpenID Connect (discovery, ID token) rather than plain OAuth 2.0.
    pub fn is_oidc(self) -> bool {
        matches!(
            self,
            Self::Oidc | Self::Google | Self::Microsoft | Self::Gitlab
        )
    }

    /// The issuer used when `issuer_url` is not set (`None` for `oidc`, which requires one, and
    /// for the OAuth 2.0 kinds).
    pub fn default_issuer(self) -> Option<&'static str> {
        match self {
            Self::Google => Some("https://accounts.google.com"),
            Self::Microsoft => Some("https://login.microsoftonline.com/common/v2.0"),
            Self::Gitlab => Some("https://gitlab.com"),
            Self::Oidc | Self::Github | Self::Facebook => None,
        }
    }

    /// The `(authorization, token, user API)` endpoints of the OAuth 2.0 kinds (`None` for the
    /// OpenID Connect kinds, whose endpoints come from discovery).
    pub fn default_endpoints(self) -> Option<[&'static str; 3]> {
        match self {
            Self::Github => Some([
                "https://github.com/login/oauth/authorize",
                "https://github.com/login/oauth/access_token",
                "https://api.github.com/user",
            ]),
            Self::Facebook => Some([
                "https://www.facebook.com/v19.0/dialog/oauth",
                "https://graph.facebook.com/v19.0/oauth/access_token",
                "https://graph.facebook.com/me?fields=id,name,email,picture",
            ]),
            Self::Oidc | Self::Google | Self::Microsoft | Self::Gitlab => None,
        }
    }

    /// The scopes requested when `scopes` is empty.
    pub fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Self::Oidc | Self::Google | Self::Microsoft | Self::Gitlab => {
                &["openid", "email", "profile"]
            }
            Self::Github => &["read:user", "user:email"],
            Self::Facebook => &["public_profile", "email"],
        }
    }

    /// The identity domain when neither `identity_domain` nor (for `oidc`, `gitlab`) the issuer
    /// decides it.
    fn default_identity_domain(self) -> Option<&'static str> {
        match self {
            Self::Google => Some("google.com"),
            Self::Microsoft => Some("microsoft.com"),
            Self::Gitlab => Some("gitlab.com"),
            Self::Github => Some("github.com"),
            Self::Facebook => Some("facebook.com"),
            Self::Oidc => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret string (client secret): `Debug` prints `"<redacted>"`, the memory is zeroized on
/// drop, and the value is read only through [`Secret::expose`].
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (not configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"<redacted>\"")
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// One provider's settings: the body of `[identity.providers.<name>]`.
///
/// Empty strings mean "not set". `Debug` redacts [`client_secret`](Self::client_secret).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The provider's name: the table key, set by the caller (not a configuration key). It must
    /// be 1 to 64 ASCII letters, digits, `-` or `_`, because it appears in URLs and logs.
    #[serde(skip)]
    pub name: String,
    /// Protocol and defaults.
    pub kind: ProviderKind,
    /// The OAuth 2.0 client id registered with the provider.
    pub client_id: String,
    /// The client secret, inline. Prefer [`client_secret_file`](Self::client_secret_file).
    /// OpenID Connect kinds may run without a secret (public client with PKCE); GitHub and
    /// Facebook require one.
    #[serde(default)]
    pub client_secret: Secret,
    /// A file holding the client secret (trailing whitespace and newlines are ignored). Setting
    /// both this and `client_secret` is an error.
    #[serde(default)]
    pub client_secret_file: String,
    /// Scopes to request; empty means the kind's defaults ([`ProviderKind::default_scopes`]).
    /// `openid` is always requested for the OpenID Connect kinds.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// OpenID Connect issuer (discovery base), compared verbatim with the provider's `issuer`
    /// (a trailing `/` matters). Required for `oidc`; overrides the preset for `google`,
    /// `microsoft` and `gitlab` (self-hosted GitLab, tests). Not allowed for `github` and
    /// `facebook`.
    #[serde(default)]
    pub issuer_url: String,
    /// Authorization endpoint override (GitHub, Facebook only).
    #[serde(default)]
    pub authorization_url: String,
    /// Token endpoint override (GitHub, Facebook only).
    #[serde(default)]
    pub token_url: String,
    /// User API override (GitHub, Facebook only). For GitHub the e-mail list is read from this
    /// URL with `/emails` appended (`https://api.github.com/user/emails` by default), so a
    /// GitHub Enterprise server is `https://ghe.example.org/api/v3/user`.
    #[serde(default)]
    pub userinfo_url: String,
    /// The domain of the identity URIs this provider proves (`identity://<domain>/<subject>`),
    /// `host` or `host:port`. Defaults: see the module documentation.
    #[serde(default)]
    pub identity_domain: String,
    /// Whether the provider is offered. Default `true`.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl ProviderConfig {
    /// A configuration with every optional field unset (defaults of `kind`) and `enabled = true`.
    pub fn new(name: impl Into<String>, kind: ProviderKind, client_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            client_id: client_id.into(),
            client_secret: Secret::default(),
            client_secret_file: String::new(),
            scopes: Vec::new(),
            issuer_url: String::new(),
            authorization_url: String::new(),
            token_url: String::new(),
            userinfo_url: String::new(),
            identity_domain: String::new(),
            enabled: true,
        }
    }

    /// The client secret from `client_secret` or `client_secret_file` (trailing whitespace
    /// trimmed), or `None` when neither is set. Errors if both are set or the file cannot be read
    /// or is empty; the message names the file, never its content.
    pub fn resolve_secret(&self) -> Result<Option<Secret>, ProviderError> {
        match (
            self.client_secret.is_empty(),
            self.client_secret_file.is_empty(),
        ) {
            (true, true) => Ok(None),
            (false, true) => Ok(Some(self.client_secret.clone())),
            (true, false) => {
                let path = &self.client_secret_file;
                let mut raw = std::fs::read_to_string(path).map_err(|e| {
                    self.config_error(format!("cannot read client_secret_file {path}: {e}"))
                })?;
                let secret = Secret::new(raw.trim_end());
                raw.zeroize();
                if secret.is_empty() {
                    return Err(self.config_error(format!("client_secret_file {path} is empty")));
                }
                Ok(Some(secret))
            }
            (false, false) => {
                Err(self
                    .config_error("set client_secret or client_secret_file, not both".to_owned()))
            }
        }
    }

    /// The scopes to request: `scopes`, or the kind's defaults when empty.
    pub fn effective_scopes(&self) -> Vec<String> {
        if self.scopes.is_empty() {
            self.kind
                .default_scopes()
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            self.scopes.clone()
        }
    }

    /// The issuer to discover (OpenID Connect kinds): `issuer_url` or the preset's. `None` for
    /// the OAuth 2.0 kinds and for `oidc` without `issuer_url`.
    pub fn effective_issuer_url(&self) -> Option<&str> {
        if !self.kind.is_oidc() {
            return None;
        }
        if self.issuer_url.is_empty() {
            self.kind.default_issuer()
        } else {
            Some(&self.issuer_url)
        }
    }

    /// The `(authorization, token, user API)` URLs of an OAuth 2.0 kind, overrides applied.
    pub fn effective_endpoints(&self) -> Option<[&str; 3]> {
        let [auth, token, user] = self.kind.default_endpoints()?;
        fn pick<'a>(own: &'a str, default: &'static str) -> &'a str {
            if own.is_empty() { default } else { own }
        }
        Some([
            pick(&self.authorization_url, auth),
            pick(&self.token_url, token),
            pick(&self.userinfo_url, user),
        ])
    }

    /// The identity domain: `identity_domain` if set (lowercased); otherwise the issuer's
    /// `host[:port]` for `oidc` and for `gitlab` with an overridden issuer; otherwise the kind's
    /// fixed domain.
    pub fn effective_identity_domain(&self) -> Result<String, ProviderError> {
        if !self.identity_domain.is_empty() {
            let domain = self.identity_domain.to_ascii_lowercase();
            let valid = domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
                && !domain.starts_with(['.', '-', ':']);
            if !valid {
                return Err(self.config_error(format!(
                    "identity_domain {:?} is not a host or host:port",
                    self.identity_domain
                )));
            }
            return Ok(domain);
        }
        let from_issuer = match self.kind {
            ProviderKind::Oidc => true,
            ProviderKind::Gitlab => !self.issuer_url.is_empty(),
            _ => false,
        };
        if from_issuer {
            let issuer = self
                .effective_issuer_url()
                .ok_or_else(|| self.config_error("issuer_url is required".to_owned()))?;
            let url = secure_url(issuer, "issuer_url").map_err(|e| self.config_error(e))?;
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            return Ok(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            });
        }
        Ok(self
            .kind
            .default_identity_domain()
            .unwrap_or_default()
            .to_owned())
    }

    /// [`effective_identity_domain`](Self::effective_identity_domain) of a configuration that
    /// [`validate`](Self::validate) accepted (for which it cannot fail); the empty string for an
    /// invalid one.
    pub fn identity_domain(&self) -> String {
        self.effective_identity_domain().unwrap_or_default()
    }

    /// Checks everything that can be checked without the network: the name, a client id, the
    /// fields allowed for the kind, that URLs are `https` (or `http` on loopback), the identity
    /// domain, and that the secret is readable (and present for GitHub and Facebook).
    pub fn validate(&self) -> Result<(), ProviderError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ProviderError::Config(format!(
                "provider name {:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_'",
                self.name
            )));
        }
        if self.client_id.is_empty() {
            return Err(self.config_error("client_id is required".to_owned()));
        }
        if self.scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
            return Err(self.config_error("scopes must be non-empty and without spaces".into()));
        }
        if self.kind.is_oidc() {
            for (field, value) in [
                ("authorization_url", &self.authorization_url),
                ("token_url", &self.token_url),
                ("userinfo_url", &self.userinfo_url),
            ] {
                if !value.is_empty() {
                    return Err(self.config_error(format!(
                        "{field} is not used by kind {} (endpoints come from discovery; \
                         override issuer_url instead)",
                        self.kind
                    )));
                }
            }
            let issuer = self
                .effective_issuer_url()
                .ok_or_else(|| self.config_error("issuer_url is required".to_owned()))?;
            secure_url(issuer, "issuer_url").map_err(|e| self.config_error(e))?;
        } else {
            if !self.issuer_url.is_empty() {
                return Err(self.config_error(format!(
                    "issuer_url is not used by kind {} (override authorization_url, token_url \
                     and userinfo_url instead)",
                    self.kind
                )));
            }
            if let Some(endpoints) = self.effective_endpoints() {
                for (field, value) in ["authorization_url", "token_url", "userinfo_url"]
                    .into_iter()
                    .zip(endpoints)
                {
                    secure_url(value, field).map_err(|e| self.config_error(e))?;
                }
            }
        }
        self.effective_identity_domain()?;
        let secret = self.resolve_secret()?;
        if secret.is_none() && !self.kind.is_oidc() {
            return Err(self.config_error(format!(
                "kind {} needs client_secret or client_secret_file",
                self.kind
            )));
        }
        Ok(())
    }

    fn config_error(&self, message: String) -> ProviderError {
        ProviderError::Config(format!("provider {}: {message}", self.name))
    }
}

/// Turns the `[identity.providers]` table into configurations named after their keys, in key
/// order. Enabled providers are [validated](ProviderConfig::validate); disabled ones are kept
/// unchecked (their `enabled` is `false`, their secret file need not exist) so the caller can
/// list them.
pub fn providers_from_table(
    table: BTreeMap<String, ProviderConfig>,
) -> Result<Vec<ProviderConfig>, ProviderError> {
    table
        .into_iter()
        .map(|(name, mut config)| {
            config.name = name;
            if config.enabled {
                config.validate()?;
            }
            Ok(config)
        })
        .collect()
}

#[cfg(test)]
#[path = "config_test.rs"]
mod tests;
