//! OpenID Connect connector (kinds `oidc`, `google`, `microsoft`, `gitlab`): discovery once at
//! [`connect`](crate::connect), then authorization code + PKCE S256 + `state` + `nonce`, the ID
//! token verified by `openidconnect`, and userinfo.
//!
//! * **Discovery** fetches `<issuer>/.well-known/openid-configuration`, requires its `issuer` to
//!   equal the configured issuer verbatim (Microsoft's multi-tenant template excepted, see
//!   [`crate::config`]), requires every endpoint to be `https` (or `http` on loopback), and fetches
//!   the JWKS from `jwks_uri`. When an ID token's key is not in the cached JWKS (the provider
//!   rotated its keys), the JWKS is fetched again and the token checked once more; such fetches
//!   happen at most once per [`JWKS_REFRESH_INTERVAL`].
//! * **Redirect URI.** The metadata is cached; an `openidconnect` client is built from it for
//!   every call with that call's `redirect_uri` (cheap: a clone of the metadata), so one
//!   connector can serve several public base URLs.
//! * **ID token checks** (`IdTokenVerifier`): signature with a JWKS key and an algorithm the
//!   provider advertises, `iss`, `aud` (contains our client id; other audiences refused), `azp`,
//!   `exp`, `nonce`; in addition `iat` no more than [`MAX_CLOCK_SKEW`] in the future and, when
//!   present, `at_hash` (asymmetric algorithms).
//! * **Userinfo** is read when the provider has a userinfo endpoint; its `sub` must equal the ID
//!   token's. The e-mail address and its `email_verified` flag are taken together from the ID
//!   token if it has an address, else from userinfo; a missing flag means not verified.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError,
    Client, ClientId, ClientSecret, CsrfToken, DiscoveryError, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenClaims, IdTokenFields, JsonWebKeySet,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse,
    UserInfoError,
};
use serde::{Deserialize, Serialize};

use crate::config::{ProviderConfig, ProviderKind, Secret};
use crate::http::{HttpClient, HttpError, OAuthHttp, describe, secure_url};
use crate::login::{AuthorizationRequest, PendingLogin, ProviderIdentity, unix_now};
use crate::oauth::token_error;
use crate::{Connector, ProviderError};

/// How far in the future an ID token's `iat` may lie (clock skew between us and the provider).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(120);

/// The shortest time between two JWKS fetches caused by unknown key ids.
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The `{tenantid}` placeholder of Microsoft's multi-tenant issuer.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// ID token claims beyond the standard ones: Microsoft's tenant id.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct ExtraClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
}

impl AdditionalClaims for ExtraClaims {}

type Claims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;
type TokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcTokenResponse = StandardTokenResponse<TokenFields, CoreTokenType>;
type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    OidcTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A discovered OpenID Connect provider.
pub(crate) struct OidcConnector {
    name: String,
    kind: ProviderKind,
    identity_domain: String,
    client_id: ClientId,
    client_secret: Option<Secret>,
    scopes: Vec<Scope>,
    /// Microsoft's issuer template (`.../{tenantid}/v2.0`) when the configured issuer is a
    /// multi-tenant one; `None` means `iss` is compared verbatim.
    tenant_template: Option<String>,
    auth_type: AuthType,
    metadata: RwLock<Arc<CoreProviderMetadata>>,
    /// When an unknown key id last caused a JWKS fetch (`None`: never).
    jwks_refreshed: Mutex<Option<Instant>>,
    http: HttpClient,
}

impl std::fmt::Debug for OidcConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuer = self.current_metadata().issuer().as_str().to_owned();
        f.debug_struct("OidcConnector")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("issuer", &issuer)
            .field("identity_domain", &self.identity_domain)
            .finish_non_exhaustive()
    }
}

impl OidcConnector {
    /// Runs discovery (metadata + JWKS) for a validated configuration.
    pub(crate) async fn discover(
        config: &ProviderConfig,
        http: &HttpClient,
    ) -> Result<Self, ProviderError> {
        let issuer = config
            .effective_issuer_url()
            .ok_or_else(|| ProviderError::Config(format!("provider {}: no issuer", config.name)))?;
        let discovery_url = secure_url(
            &format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
            "discovery URL",
        )
        .map_err(ProviderError::Config)?;
        let mut req = surf::Request::new(surf::http::Method::Get, discovery_url.clone());
        req.insert_header("Accept", "application/json");
        let fetched = http.execute(req).await?;
        if fetched.status != 200 {
            return Err(ProviderError::Discovery(format!(
                "{}: HTTP {}",
                describe(&discovery_url),
                fetched.status
            )));
        }
        let metadata: CoreProviderMetadata =
            serde_json::from_slice(&fetched.body).map_err(|e| {
                ProviderError::Discovery(format!(
                    "{}: malformed provider metadata: {e}",
                    describe(&discovery_url)
                ))
            })?;

        let advertised = metadata.issuer().as_str();
        let tenant_template = if advertised == issuer {
            None
        } else if config.kind == ProviderKind::Microsoft
            && advertised.contains(TENANT_PLACEHOLDER)
            && ["common", "organizations", "consumers"]
                .iter()
                .any(|t| advertised.replace(TENANT_PLACEHOLDER, t) == issuer)
        {
            Some(advertised.to_owned())
        } else {
            return Err(ProviderError::Discovery(format!(
                "issuer mismatch: configured {issuer:?}, provider says {advertised:?}"
            )));
        };

        let mut endpoints = vec![
            (
                "authorization_endpoint",
                metadata.authorization_endpoint().as_str(),
            ),
            ("jwks_uri", metadata.jwks_uri().as_str()),
        ];
        match metadata.token_endpoint() {
            Some(token) => endpoints.push(("token_endpoint", token.as_str())),
            None => {
                return Err(ProviderError::Discovery(
                    "provider metadata has no token_endpoint".into(),
                ));
            }
        }
        if let Some(userinfo) = metadata.userinfo_endpoint() {
            endpoints.push(("userinfo_endpoint", userinfo.as_str()));
        }
        for (field, value) in endpoints {
            secure_url(value, field).map_err(ProviderError::Discovery)?;
        }

        let auth_type = match metadata.token_endpoint_auth_methods_supported() {
            Some(methods)
                if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
            {
                AuthType::RequestBody
            }
            // RFC 8414 / OpenID Discovery: client_secret_basic when the list is absent.
            _ => AuthType::BasicAuth,
        };

        let jwks = fetch_jwks(&metadata, http).await?;
        let metadata = metadata.set_jwks(jwks);

        let mut scopes: Vec<Scope> = config
            .effective_scopes()
            .into_iter()
            .filter(|s| s != "openid") // openidconnect always adds it
            .map(Scope::new)
            .collect();
        scopes.dedup();

        tracing::info!(
            provider = %config.name,
            kind = %config.kind,
            issuer = %metadata.issuer().as_str(),
            keys = metadata.jwks().keys().len(),
            "OpenID Connect provider discovered"
        );
        Ok(Self {
            name: config.name.clone(),
            kind: config.kind,
            identity_domain: config.effective_identity_domain()?,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: config.resolve_secret()?,
            scopes,
            tenant_template,
            auth_type,
            metadata: RwLock::new(Arc::new(metadata)),
            jwks_refreshed: Mutex::new(None),
            http: http.clone(),
        })
    }

    fn current_metadata(&self) -> Arc<CoreProviderMetadata> {
        // A poisoned lock still holds a complete Arc (it is only ever replaced whole).
        match self.metadata.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// An `openidconnect` client on the cached metadata, for `redirect_uri`.
    fn client(&self, redirect_uri: &str) -> Result<OidcClient, ProviderError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| ProviderError::Config(format!("redirect_uri is not a URL: {e}")))?;
        let metadata = (*self.current_metadata()).clone();
        let secret = self
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose().to_owned()));
        Ok(
            OidcClient::from_provider_metadata(metadata, self.client_id.clone(), secret)
                .set_redirect_uri(redirect)
                .set_auth_type(self.auth_type.clone()),
        )
    }

    /// Fetches the JWKS again unless an earlier refresh happened less than
    /// [`JWKS_REFRESH_INTERVAL`] ago; returns whether it did.
    async fn refresh_jwks(&self) -> Result<bool, ProviderError> {
        {
            let mut last = match self.jwks_refreshed.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if last.is_some_and(|at| at.elapsed() < JWKS_REFRESH_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        let current = self.current_metadata();
        let jwks = fetch_jwks(&current, &self.http).await?;
        tracing::info!(provider = %self.name, keys = jwks.keys().len(), "JWKS refreshed");
        let updated = Arc::new((*current).clone().set_jwks(jwks));
        match self.metadata.write() {
            Ok(mut guard) => *guard = updated,
            Err(poisoned) => *poisoned.into_inner() = updated,
        }
        Ok(true)
    }

    /// Verifies the ID token of `token` (every check listed in the module documentation).
    fn verify_id_token(
        &self,
        client: &OidcClient,
        token: &OidcTokenResponse,
        nonce: &Nonce,
    ) -> Result<Claims, ClaimsVerificationError> {
        let id_token = token.id_token().ok_or_else(|| {
            ClaimsVerificationError::Other("the token response has no ID token".into())
        })?;
        let latest_iat = unix_now().saturating_add(MAX_CLOCK_SKEW.as_secs());
        let mut verifier = client
            .id_token_verifier()
            .set_issue_time_verifier_fn(move |iat| {
                if iat.timestamp() > i64::try_from(latest_iat).unwrap_or(i64::MAX) {
                    Err(format!("iat {} lies in the future", iat.timestamp()))
                } else {
                    Ok(())
                }
            });
        if self.tenant_template.is_some() {
            // Checked below against the token's own tenant.
            verifier = verifier.require_issuer_match(false);
        }
        let claims = id_token.claims(&verifier, nonce)?.clone();

        if let Some(template) = &self.tenant_template {
            let tid = claims.additional_claims().tid.as_deref().unwrap_or("");
            let tid_ok = !tid.is_empty()
                && tid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            let expected = template.replace(TENANT_PLACEHOLDER, tid);
            if !tid_ok || claims.issuer().as_str() != expected {
                return Err(ClaimsVerificationError::InvalidIssuer(format!(
                    "iss {:?} does not match the tenant issuer for tid {tid:?}",
                    claims.issuer().as_str()
                )));
            }
        }

        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(ClaimsVerificationError::SignatureVerification)?;
            // HS* tokens are keyed by the client secret, not a JWKS key; their signature already
            // binds them to us, and at_hash is optional in the code flow.
            if !matches!(
                alg,
                CoreJwsSigningAlgorithm::HmacSha256
                    | CoreJwsSigningAlgorithm::HmacSha384
                    | CoreJwsSigningAlgorithm::HmacSha512
            ) {
                let key = id_token
                    .signing_key(&verifier)
                    .map_err(ClaimsVerificationError::SignatureVerification)?;
                let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                    .map_err(|e| ClaimsVerificationError::Other(format!("at_hash: {e}")))?;
                if actual != *expected {
                    return Err(ClaimsVerificationError::Other(
                        "at_hash does not match the access token".into(),
                    ));
                }
            }
        }
        Ok(claims)
    }
}

#[async_trait::async_trait]
impl Connector for OidcConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn identity_domain(&self) -> &str {
        &self.identity_domain
    }

    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationRequest, ProviderError> {
        let client = self.client(redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .url();
        tracing::debug!(provider = %self.name, "login started");
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            pending: PendingLogin::new(
                &self.name,
                Some(nonce.secret().clone()),
                verifier.secret().clone(),
            ),
        })
    }

    async fn complete(
        &self,
        redirect_uri: &str,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<ProviderIdentity, ProviderError> {
        pending.check(&self.name)?;
        let nonce = Nonce::new(
            pending
                .nonce
                .clone()
                .ok_or_else(|| ProviderError::Pending("login has no nonce".into()))?,
        );
        let mut client = self.client(redirect_uri)?;
        let token: OidcTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProviderError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&OAuthHttp(self.http.clone()))
            .await
            .map_err(token_error)?;

        let claims = match self.verify_id_token(&client, &token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if self.refresh_jwks().await? => {
                client = self.client(redirect_uri)?;
                self.verify_id_token(&client, &token, &nonce)
            }
            other => other,
        }
        .map_err(|e| ProviderError::IdToken(claims_error_text(&e)))?;

        let mut email = claims.email().map(|e| e.as_str().to_owned());
        let mut email_verified = email.is_some() && claims.email_verified() == Some(true);
        let mut name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string());
        let mut picture = claims
            .picture()
            .and_then(|p| p.get(None))
            .map(|p| p.to_string());
        let mut profile = claims
            .profile()
            .and_then(|p| p.get(None))
            .map(|p| p.to_string());

        if client.user_info_url().is_some() {
            let info = client
                .user_info(token.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|e| ProviderError::Config(e.to_string()))?
                .require_issuer_match(self.tenant_template.is_none())
                .request_async::<ExtraClaims, _, CoreGenderClaim>(&OAuthHttp(self.http.clone()))
                .await
                .map_err(userinfo_error)?;
            if email.is_none() {
                email = info.email().map(|e| e.as_str().to_owned());
                email_verified = email.is_some() && info.email_verified() == Some(true);
            }
            name = name.or_else(|| info.name().and_then(|n| n.get(None)).map(|n| n.to_string()));
            picture = picture.or_else(|| {
                info.picture()
                    .and_then(|p| p.get(None))
                    .map(|p| p.to_string())
            });
            profile = profile.or_else(|| {
                info.profile()
                    .and_then(|p| p.get(None))
                    .map(|p| p.to_string())
            });
        }

        tracing::debug!(provider = %self.name, email_verified, "login completed");
        Ok(ProviderIdentity {
            provider: self.name.clone(),
            identity_domain: self.identity_domain.clone(),
            subject: claims.subject().as_str().to_owned(),
            email,
            email_verified,
            name,
            profile_url: profile,
            avatar_url: picture,
        })
    }
}

/// Fetches and parses the JWKS at the metadata's `jwks_uri`.
async fn fetch_jwks(
    metadata: &CoreProviderMetadata,
    http: &HttpClient,
) -> Result<JsonWebKeySet<CoreJsonWebKey>, ProviderError> {
    JsonWebKeySet::fetch_async(metadata.jwks_uri(), &OAuthHttp(http.clone()))
        .await
        .map_err(|e| match e {
            DiscoveryError::Request(inner) => ProviderError::Http(format!("JWKS: {inner}")),
            DiscoveryError::Response(status, _, message) => {
                ProviderError::Discovery(format!("JWKS: {message} (HTTP {status})"))
            }
            DiscoveryError::Parse(err) => {
                ProviderError::Discovery(format!("JWKS: malformed at {}", err.path()))
            }
            other => ProviderError::Discovery(format!("JWKS: {other}")),
        })
}

/// The verifier's reason, without token material (its messages name claims, not values of
/// secrets).
fn claims_error_text(e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::SignatureVerification(inner) => {
            format!("signature verification failed: {inner}")
        }
        other => other.to_string(),
    }
}

fn userinfo_error(e: UserInfoError<HttpError>) -> ProviderError {
    match e {
        UserInfoError::Request(inner) => ProviderError::Http(format!("userinfo: {inner}")),
        UserInfoError::Response(status, _, message) => {
            ProviderError::UserInfo(format!("{message} (HTTP {status})"))
        }
        UserInfoError::Parse(err) => {
            ProviderError::UserInfo(format!("malformed answer at {}", err.path()))
        }
        UserInfoError::ClaimsVerification(inner) => {
            ProviderError::UserInfo(claims_error_text(&inner))
        }
        other => ProviderError::UserInfo(other.to_string()),
    }
}

#[cfg(test)]
#[path = "oidc_test.rs"]
mod tests;
