//! OAuth 2.0 connector (kinds `github`, `facebook`): authorization code + PKCE S256 + `state`,
//! then the provider's user API.
//!
//! * **GitHub**: `GET <userinfo_url>` (`https://api.github.com/user`) gives the numeric `id`,
//!   `login`, `name`, `html_url`, `avatar_url`; `GET <userinfo_url>/emails` (scope
//!   `user:email`) gives the addresses, and the **primary** one is used, verified only if GitHub
//!   marks it `verified`. Without access to `/emails` (scope not granted, 403/404) the public
//!   profile address is used and counted as unverified.
//! * **Facebook**: `GET <userinfo_url>` (`https://graph.facebook.com/me?fields=id,name,email,picture`)
//!   with `appsecret_proof` (HMAC-SHA256 of the access token keyed by the app secret, so apps with
//!   "Require App Secret" work). `id` is the app-scoped numeric user id. Facebook returns `email`
//!   only for a confirmed address, so an address that is present counts as verified (Facebook
//!   documents no separate flag).
//!
//! The client secret goes in the token request body (`client_secret_post`), which both
//! providers document. PKCE is always sent; both providers accept it.

use hmac::{Hmac, Mac};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ErrorResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, StandardErrorResponse, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::config::{ProviderConfig, ProviderKind, Secret};
use crate::http::{HttpClient, HttpError, OAuthHttp, describe, secure_url};
use crate::login::{AuthorizationRequest, PendingLogin, ProviderIdentity};
use crate::{Connector, ProviderError};

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A GitHub or Facebook connector.
pub(crate) struct OAuthConnector {
    name: String,
    kind: ProviderKind,
    identity_domain: String,
    client_id: ClientId,
    client_secret: Secret,
    auth_url: AuthUrl,
    token_url: TokenUrl,
    user_url: surf::Url,
    scopes: Vec<Scope>,
    http: HttpClient,
}

impl std::fmt::Debug for OAuthConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConnector")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("authorization_url", &self.auth_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("userinfo_url", &describe(&self.user_url))
            .field("identity_domain", &self.identity_domain)
            .finish_non_exhaustive()
    }
}

impl OAuthConnector {
    /// Builds the connector from a validated configuration (no network).
    pub(crate) fn new(config: &ProviderConfig, http: &HttpClient) -> Result<Self, ProviderError> {
        let bad = |e: String| ProviderError::Config(format!("provider {}: {e}", config.name));
        let [auth, token, user] = config
            .effective_endpoints()
            .ok_or_else(|| bad(format!("kind {} is not an OAuth 2.0 kind", config.kind)))?;
        secure_url(auth, "authorization_url").map_err(bad)?;
        secure_url(token, "token_url").map_err(bad)?;
        let user_url = secure_url(user, "userinfo_url").map_err(bad)?;
        let client_secret = config
            .resolve_secret()?
            .ok_or_else(|| bad("client_secret or client_secret_file is required".to_owned()))?;
        Ok(Self {
            name: config.name.clone(),
            kind: config.kind,
            identity_domain: config.effective_identity_domain()?,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret,
            auth_url: AuthUrl::new(auth.to_owned()).map_err(|e| bad(e.to_string()))?,
            token_url: TokenUrl::new(token.to_owned()).map_err(|e| bad(e.to_string()))?,
            user_url,
            scopes: config
                .effective_scopes()
                .into_iter()
                .map(Scope::new)
                .collect(),
            http: http.clone(),
        })
    }

    fn client(&self, redirect_uri: &str) -> Result<OAuthClient, ProviderError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| ProviderError::Config(format!("redirect_uri is not a URL: {e}")))?;
        Ok(BasicClient::new(self.client_id.clone())
            .set_client_secret(ClientSecret::new(self.client_secret.expose().to_owned()))
            .set_auth_uri(self.auth_url.clone())
            .set_token_uri(self.token_url.clone())
            .set_redirect_uri(redirect)
            .set_auth_type(AuthType::RequestBody))
    }

    /// `GET url` with the access token as a bearer token; the JSON answer, or `None` for the
    /// statuses in `absent` (for example 403/404 of an optional call).
    async fn get_json<T: DeserializeOwned>(
        &self,
        url: surf::Url,
        access_token: &str,
        absent: &[u16],
    ) -> Result<Option<T>, ProviderError> {
        let target = describe(&url);
        let mut req = surf::Request::new(surf::http::Method::Get, url);
        req.insert_header("Authorization", format!("Bearer {access_token}"));
        req.insert_header(
            "Accept",
            match self.kind {
                ProviderKind::Github => "application/vnd.github+json",
                _ => "application/json",
            },
        );
        if self.kind == ProviderKind::Github {
            req.insert_header("X-GitHub-Api-Version", "2022-11-28");
        }
        let fetched = self.http.execute(req).await?;
        if absent.contains(&fetched.status) {
            tracing::debug!(provider = %self.name, %target, status = fetched.status, "optional user API call unavailable");
            return Ok(None);
        }
        if fetched.status != 200 {
            return Err(ProviderError::UserInfo(format!(
                "{target}: HTTP {}",
                fetched.status
            )));
        }
        if let Some(ct) = fetched.header("content-type")
            && !ct.to_ascii_lowercase().contains("json")
        {
            return Err(ProviderError::UserInfo(format!(
                "{target}: answer is not JSON"
            )));
        }
        serde_json::from_slice(&fetched.body)
            .map(Some)
            .map_err(|e| {
                ProviderError::UserInfo(format!(
                    "{target}: malformed answer (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })
    }

    async fn github_identity(&self, access_token: &str) -> Result<ProviderIdentity, ProviderError> {
        let user: GithubUser = self
            .get_json(self.user_url.clone(), access_token, &[])
            .await?
            .ok_or_else(|| ProviderError::UserInfo("no user".into()))?;
        let mut emails_url = self.user_url.clone();
        let path = format!("{}/emails", emails_url.path().trim_end_matches('/'));
        emails_url.set_path(&path);
        emails_url.set_query(None);
        let emails: Option<Vec<GithubEmail>> = self
            .get_json(emails_url, access_token, &[401, 403, 404])
            .await?;
        let (email, email_verified) = github_email(user.email, emails);
        Ok(ProviderIdentity {
            provider: self.name.clone(),
            identity_domain: self.identity_domain.clone(),
            subject: user.id.to_string(),
            email,
            email_verified,
            name: non_empty(user.name).or(Some(user.login)),
            profile_url: non_empty(user.html_url),
            avatar_url: non_empty(user.avatar_url),
        })
    }

    async fn facebook_identity(
        &self,
        access_token: &str,
    ) -> Result<ProviderIdentity, ProviderError> {
        let mut url = self.user_url.clone();
        url.query_pairs_mut().append_pair(
            "appsecret_proof",
            &appsecret_proof(&self.client_secret, access_token),
        );
        let user: FacebookUser = self
            .get_json(url, access_token, &[])
            .await?
            .ok_or_else(|| ProviderError::UserInfo("no user".into()))?;
        if user.id.is_empty() || !user.id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::UserInfo(
                "Graph API id is not a numeric id".into(),
            ));
        }
        let email = non_empty(user.email);
        Ok(ProviderIdentity {
            provider: self.name.clone(),
            identity_domain: self.identity_domain.clone(),
            subject: user.id,
            email_verified: email.is_some(),
            email,
            name: non_empty(user.name),
            profile_url: non_empty(user.link),
            avatar_url: user
                .picture
                .and_then(|p| p.data)
                .filter(|d| !d.is_silhouette)
                .and_then(|d| non_empty(d.url)),
        })
    }
}

#[async_trait::async_trait]
impl Connector for OAuthConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn identity_domain(&self) -> &str {
        &self.identity_domain
    }

    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationRequest, ProviderError> {
        let client = self.client(redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .url();
        tracing::debug!(provider = %self.name, "login started");
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            pending: PendingLogin::new(&self.name, None, verifier.secret().clone()),
        })
    }

    async fn complete(
        &self,
        redirect_uri: &str,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<ProviderIdentity, ProviderError> {
        pending.check(&self.name)?;
        let client = self.client(redirect_uri)?;
        let token: BasicTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&OAuthHttp(self.http.clone()))
            .await
            .map_err(token_error)?;
        let access_token = token.access_token().secret();
        let identity = match self.kind {
            ProviderKind::Github => self.github_identity(access_token).await?,
            ProviderKind::Facebook => self.facebook_identity(access_token).await?,
            other => {
                return Err(ProviderError::Config(format!(
                    "kind {other} is not an OAuth 2.0 kind"
                )));
            }
        };
        tracing::debug!(provider = %self.name, email_verified = identity.email_verified, "login completed");
        Ok(identity)
    }
}

/// A token endpoint failure as a [`ProviderError`], without the response body (it could hold a
/// token). GitHub answers errors with HTTP 200 and an error object; that is recognised too.
pub(crate) fn token_error<TE>(e: RequestTokenError<HttpError, TE>) -> ProviderError
where
    TE: ErrorResponse + 'static,
{
    match e {
        RequestTokenError::ServerResponse(refusal) => {
            ProviderError::TokenExchange(format!("provider refused the code: {refusal}"))
        }
        RequestTokenError::Request(inner) => {
            ProviderError::Http(format!("token endpoint: {inner}"))
        }
        RequestTokenError::Parse(err, body) => {
            if let Ok(refusal) =
                serde_json::from_slice::<StandardErrorResponse<BasicErrorResponseType>>(&body)
            {
                ProviderError::TokenExchange(format!("provider refused the code: {refusal}"))
            } else if let Ok(graph) = serde_json::from_slice::<GraphError>(&body) {
                ProviderError::TokenExchange(format!(
                    "provider refused the code: {}: {}",
                    graph.error.kind, graph.error.message
                ))
            } else {
                ProviderError::TokenExchange(format!(
                    "malformed token response (at {})",
                    err.path()
                ))
            }
        }
        RequestTokenError::Other(message) => ProviderError::TokenExchange(message),
    }
}

/// Facebook's error object: `{"error": {"message": ..., "type": ...}}`.
#[derive(Deserialize)]
struct GraphError {
    error: GraphErrorBody,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// `GET /user` of the GitHub REST API (the fields used).
#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// The address and whether it is verified: the primary entry of `/user/emails` when that list
/// is available, else the public profile address, unverified.
fn github_email(
    profile_email: Option<String>,
    emails: Option<Vec<GithubEmail>>,
) -> (Option<String>, bool) {
    match emails {
        Some(list) => match list.into_iter().find(|e| e.primary) {
            Some(primary) if !primary.email.is_empty() => (Some(primary.email), primary.verified),
            _ => (None, false),
        },
        None => (non_empty(profile_email), false),
    }
}

/// The Graph API's `/me` (the fields used).
#[derive(Deserialize)]
struct FacebookUser {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    picture: Option<FacebookPicture>,
}

#[derive(Deserialize)]
struct FacebookPicture {
    #[serde(default)]
    data: Option<FacebookPictureData>,
}

#[derive(Deserialize)]
struct FacebookPictureData {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    is_silhouette: bool,
}

/// Facebook's `appsecret_proof`: lowercase hex HMAC-SHA256(key = app secret, access token).
fn appsecret_proof(secret: &Secret, access_token: &str) -> String {
    // Invariant: HMAC accepts keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(access_token.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
#[path = "oauth_test.rs"]
mod tests;
