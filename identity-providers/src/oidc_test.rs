//! The OpenID Connect connector end to end over real HTTP against a small fake provider on
//! `http://127.0.0.1:PORT` (discovery, JWKS, token endpoint with PKCE, userinfo) whose ID tokens
//! are signed with Ed25519 (`EdDSA`). Each test bends one thing the verifier must catch.
//! The real-provider tests (npm `oidc-provider`) live in the gateway's `tests/`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use super::*;
use crate::login::unix_now;
use crate::test_server::{Reply, TestServer, form_value};
use crate::{ProviderError, connect, http};

const CLIENT_ID: &str = "openpeer-client";
const SECRET: &str = "oidc-client-secret";
const CODE: &str = "oidc-code";
const ACCESS_TOKEN: &str = "oidc-access-token";
const REDIRECT: &str = "http://127.0.0.1:9/identity/callback/corp";
const SUB: &str = "248289761001";

struct Signer {
    kid: String,
    key: Ed25519KeyPair,
}

impl Signer {
    fn new(kid: &str) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
        Self {
            kid: kid.into(),
            key: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key"),
        }
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(self.key.public_key().as_ref()),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// The fake provider's state: what it advertises and answers.
struct Op {
    /// Path prefix of the issuer (`""` or `/common/v2.0`).
    issuer_path: String,
    /// The `issuer` in the metadata; `None` = base + issuer_path.
    advertised_issuer: Option<String>,
    jwks: Vec<Value>,
    challenge: String,
    id_token: String,
    userinfo: Value,
    auth_methods: Value,
}

struct Fake {
    server: TestServer,
    op: Arc<Mutex<Op>>,
}

impl Fake {
    async fn start(issuer_path: &str, signer: &Signer) -> Self {
        let op = Arc::new(Mutex::new(Op {
            issuer_path: issuer_path.into(),
            advertised_issuer: None,
            jwks: vec![signer.jwk()],
            challenge: String::new(),
            id_token: String::new(),
            userinfo: Value::Null,
            auth_methods: json!(["client_secret_basic", "client_secret_post"]),
        }));
        let state = op.clone();
        let server = TestServer::start(move |req, base| {
            let op = state.lock().expect("lock");
            let issuer = format!("{base}{}", op.issuer_path);
            let discovery = format!("{}/.well-known/openid-configuration", op.issuer_path);
            match req.path() {
                p if p == discovery => Reply::json(
                    200,
                    json!({
                        "issuer": op.advertised_issuer.clone().unwrap_or(issuer),
                        "authorization_endpoint": format!("{base}/auth"),
                        "token_endpoint": format!("{base}/token"),
                        "userinfo_endpoint": format!("{base}/me"),
                        "jwks_uri": format!("{base}/jwks"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        // "none" advertised must still not admit unsigned tokens; unknown
                        // names ("Ed25519", RFC 9864) must not break discovery.
                        "id_token_signing_alg_values_supported": ["EdDSA", "RS256", "none", "Ed25519"],
                        "token_endpoint_auth_methods_supported": op.auth_methods,
                        "code_challenge_methods_supported": ["S256"],
                    }),
                ),
                "/jwks" => Reply::json(200, json!({"keys": op.jwks})),
                "/token" => {
                    // client_secret_basic, PKCE S256, the code and the redirect URI.
                    let basic = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{CLIENT_ID}:{SECRET}"))
                    );
                    if req.header("authorization") != Some(basic.as_str()) {
                        return Reply::json(401, json!({"error": "invalid_client"}));
                    }
                    let verifier = req.form("code_verifier").unwrap_or_default();
                    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
                    if URL_SAFE_NO_PAD.encode(digest.as_ref()) != op.challenge
                        || req.form("code").as_deref() != Some(CODE)
                        || req.form("redirect_uri").as_deref() != Some(REDIRECT)
                    {
                        return Reply::json(400, json!({"error": "invalid_grant", "error_description": "grant request is invalid"}));
                    }
                    Reply::json(
                        200,
                        json!({
                            "access_token": ACCESS_TOKEN, "token_type": "Bearer",
                            "expires_in": 3600, "id_token": op.id_token, "scope": "openid email profile",
                        }),
                    )
                }
                "/me" if req.header("authorization") == Some(&format!("Bearer {ACCESS_TOKEN}")) => {
                    Reply::json(200, op.userinfo.clone())
                }
                _ => Reply::json(404, json!({"error": "not_found"})),
            }
        })
        .await;
        Self { server, op }
    }

    fn issuer(&self) -> String {
        format!(
            "{}{}",
            self.server.base(),
            self.op.lock().expect("lock").issuer_path
        )
    }

    fn config(&self, kind: ProviderKind) -> ProviderConfig {
        let mut config = ProviderConfig::new("corp", kind, CLIENT_ID);
        config.client_secret = Secret::new(SECRET);
        config.issuer_url = self.issuer();
        config
    }

    /// Standard claims for a login with `nonce`.
    fn claims(&self, nonce: &str) -> Value {
        let now = unix_now();
        json!({
            "iss": self.issuer(), "sub": SUB, "aud": CLIENT_ID,
            "iat": now, "exp": now + 300, "nonce": nonce,
        })
    }

    /// Plays the browser's visit to the authorization endpoint: remembers the challenge, returns
    /// the nonce.
    fn authorize(&self, request: &AuthorizationRequest) -> String {
        let url = surf::Url::parse(&request.url).expect("authorization URL");
        let query = url.query().unwrap_or_default();
        let mut op = self.op.lock().expect("lock");
        op.challenge = form_value(query, "code_challenge").expect("challenge");
        form_value(query, "nonce").expect("nonce")
    }

    fn answer(&self, id_token: String, userinfo: Value) {
        let mut op = self.op.lock().expect("lock");
        op.id_token = id_token;
        op.userinfo = userinfo;
    }
}

fn client() -> http::HttpClient {
    http::HttpClient::new(&[], Duration::from_secs(5)).expect("http client")
}

/// Runs one login whose ID token claims are `bend(standard claims)` and whose userinfo is
/// `userinfo`, signed by `signer`.
async fn login_with(
    fake: &Fake,
    connector: &dyn Connector,
    signer: &Signer,
    bend: impl FnOnce(&mut Value),
    userinfo: Value,
) -> Result<ProviderIdentity, ProviderError> {
    let request = connector.start(REDIRECT).await.expect("start");
    let nonce = fake.authorize(&request);
    let mut claims = fake.claims(&nonce);
    bend(&mut claims);
    fake.answer(signer.sign(&claims), userinfo);
    connector.complete(REDIRECT, CODE, &request.pending).await
}

/// A change to the standard claims.
type Bend = Box<dyn FnOnce(&mut Value)>;

fn userinfo() -> Value {
    json!({"sub": SUB, "email": "jane@example.org", "email_verified": true, "name": "Jane Doe",
           "picture": "https://example.org/jane.png", "profile": "https://example.org/jane"})
}

#[async_std::test]
async fn discovery_authorization_url_and_a_complete_login() {
    let signer = Signer::new("k1");
    let fake = Fake::start("", &signer).await;
    let connector = connect(&fake.config(ProviderKind::Oidc), &client())
        .await
        .expect("connect");
    assert_eq!(connector.name(), "corp");
    assert_eq!(
        connector.identity_domain(),
        fake.server.base().trim_start_matches("http://")
    );

    let request = connector.start(REDIRECT).await.expect("start");
    let url = surf::Url::parse(&request.url).expect("URL");
    assert_eq!(url.path(), "/auth");
    let query = url.query().unwrap_or_default();
    let param = |name: &str| form_value(query, name);
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param("redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(param("scope").as_deref(), Some("openid email profile"));
    assert_eq!(param("state").as_deref(), Some(request.state.as_str()));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("nonce").as_deref(), request.pending.nonce.as_deref());
    assert!(param("nonce").is_some_and(|n| n.len() >= 22));

    // The pending login survives the gateway's database.
    let pending = PendingLogin::from_stored(&request.pending.to_stored()).expect("stored");
    let nonce = fake.authorize(&request);
    // at_hash for EdDSA/Ed25519: left half of SHA-512 of the access token.
    let digest = ring::digest::digest(&ring::digest::SHA512, ACCESS_TOKEN.as_bytes());
    let mut claims = fake.claims(&nonce);
    claims["at_hash"] = json!(URL_SAFE_NO_PAD.encode(&digest.as_ref()[..32]));
    fake.answer(signer.sign(&claims), userinfo());
    let identity = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect("complete");
    assert_eq!(
        identity,
        ProviderIdentity {
            provider: "corp".into(),
            identity_domain: connector.identity_domain().into(),
            subject: SUB.into(),
            email: Some("jane@example.org".into()),
            email_verified: true,
            name: Some("Jane Doe".into()),
            profile_url: Some("https://example.org/jane".into()),
            avatar_url: Some("https://example.org/jane.png".into()),
        }
    );
    // Discovery and the JWKS were fetched once, at connect.
    assert_eq!(
        fake.server
            .to_path("/.well-known/openid-configuration")
            .len(),
        1
    );
    assert_eq!(fake.server.to_path("/jwks").len(), 1);
}

#[async_std::test]
async fn email_verified_comes_with_its_address() {
    let signer = Signer::new("k1");
    let fake = Fake::start("", &signer).await;
    let connector = connect(&fake.config(ProviderKind::Oidc), &client())
        .await
        .expect("connect");

    // Userinfo without email_verified: not verified.
    let identity = login_with(
        &fake,
        &*connector,
        &signer,
        |_| {},
        json!({"sub": SUB, "email": "a@example.org"}),
    )
    .await
    .expect("login");
    assert_eq!(identity.email.as_deref(), Some("a@example.org"));
    assert!(!identity.email_verified);

    // The ID token's address and flag win together over userinfo's.
    let identity = login_with(
        &fake,
        &*connector,
        &signer,
        |c| {
            c["email"] = json!("id@example.org");
            c["email_verified"] = json!(false);
        },
        userinfo(),
    )
    .await
    .expect("login");
    assert_eq!(identity.email.as_deref(), Some("id@example.org"));
    assert!(!identity.email_verified);
}

#[async_std::test]
async fn id_token_checks() {
    let signer = Signer::new("k1");
    let fake = Fake::start("", &signer).await;
    let connector = connect(&fake.config(ProviderKind::Oidc), &client())
        .await
        .expect("connect");
    let now = unix_now();

    let cases: Vec<(&str, Bend)> = vec![
        ("nonce", Box::new(|c| c["nonce"] = json!("another-login"))),
        (
            "missing nonce",
            Box::new(|c| drop(c.as_object_mut().map(|o| o.remove("nonce")))),
        ),
        ("aud", Box::new(|c| c["aud"] = json!("someone-else"))),
        (
            "extra aud",
            Box::new(|c| c["aud"] = json!([CLIENT_ID, "someone-else"])),
        ),
        (
            "iss",
            Box::new(|c| c["iss"] = json!("https://evil.example")),
        ),
        ("exp", Box::new(move |c| c["exp"] = json!(now - 10))),
        ("iat", Box::new(move |c| c["iat"] = json!(now + 3600))),
        (
            "at_hash",
            Box::new(|c| c["at_hash"] = json!("AAAAAAAAAAAAAAAAAAAAAA")),
        ),
    ];
    for (what, bend) in cases {
        let err = login_with(&fake, &*connector, &signer, bend, userinfo())
            .await
            .expect_err(what);
        assert!(matches!(err, ProviderError::IdToken(_)), "{what}: {err}");
    }

    // Signed by a key the provider does not publish (same kid, other key).
    let forger = Signer::new("k1");
    let err = login_with(&fake, &*connector, &forger, |_| {}, userinfo())
        .await
        .expect_err("forged");
    assert!(matches!(err, ProviderError::IdToken(_)), "{err}");

    // alg "none".
    let request = connector.start(REDIRECT).await.expect("start");
    let nonce = fake.authorize(&request);
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(fake.claims(&nonce).to_string());
    fake.answer(format!("{header}.{payload}."), userinfo());
    let err = connector
        .complete(REDIRECT, CODE, &request.pending)
        .await
        .expect_err("none");
    assert!(matches!(err, ProviderError::IdToken(_)), "{err}");

    // Userinfo about another subject.
    let err = login_with(
        &fake,
        &*connector,
        &signer,
        |_| {},
        json!({"sub": "someone-else"}),
    )
    .await
    .expect_err("userinfo sub");
    assert!(matches!(err, ProviderError::UserInfo(_)), "{err}");

    // A wrong PKCE verifier is refused by the provider.
    let request = connector.start(REDIRECT).await.expect("start");
    fake.authorize(&request);
    let mut pending = request.pending.clone();
    pending.pkce_verifier = "z".repeat(43);
    let err = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect_err("pkce");
    assert!(matches!(err, ProviderError::TokenExchange(_)), "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert!(!err.to_string().contains(SECRET));

    // None of the failures leaked a token or secret into its message (spot check above) and
    // the good path still works afterwards.
    login_with(&fake, &*connector, &signer, |_| {}, userinfo())
        .await
        .expect("still fine");
}

#[async_std::test]
async fn rotated_keys_are_fetched_again() {
    let old = Signer::new("old");
    let fake = Fake::start("", &old).await;
    let connector = connect(&fake.config(ProviderKind::Oidc), &client())
        .await
        .expect("connect");
    let new = Signer::new("new");
    fake.op.lock().expect("lock").jwks = vec![new.jwk()];
    login_with(&fake, &*connector, &new, |_| {}, userinfo())
        .await
        .expect("after rotation");
    assert_eq!(fake.server.to_path("/jwks").len(), 2);

    // Another unknown key right away does not trigger a second fetch (rate limit).
    let other = Signer::new("other");
    let err = login_with(&fake, &*connector, &other, |_| {}, userinfo())
        .await
        .expect_err("unknown key");
    assert!(matches!(err, ProviderError::IdToken(_)), "{err}");
    assert_eq!(fake.server.to_path("/jwks").len(), 2);
}

#[async_std::test]
async fn discovery_refusals() {
    let signer = Signer::new("k1");
    let fake = Fake::start("", &signer).await;

    // The issuer is compared verbatim: a trailing slash is another issuer.
    let mut config = fake.config(ProviderKind::Oidc);
    config.issuer_url.push('/');
    let err = connect(&config, &client()).await.expect_err("slash");
    assert!(matches!(err, ProviderError::Discovery(_)), "{err}");

    fake.op.lock().expect("lock").advertised_issuer = Some("https://evil.example".into());
    let err = connect(&fake.config(ProviderKind::Oidc), &client())
        .await
        .expect_err("issuer");
    assert!(err.to_string().contains("issuer mismatch"), "{err}");
    // The Microsoft template exception is for kind microsoft only.
    fake.op.lock().expect("lock").advertised_issuer =
        Some(format!("{}/{{tenantid}}/v2.0", fake.server.base()));
    assert!(
        connect(&fake.config(ProviderKind::Oidc), &client())
            .await
            .is_err()
    );

    // Nothing listens: an HTTP error, quickly.
    let mut config = fake.config(ProviderKind::Oidc);
    config.issuer_url = "http://127.0.0.1:9".into();
    let err = connect(&config, &client()).await.expect_err("down");
    assert!(matches!(err, ProviderError::Http(_)), "{err}");

    // Disabled providers are not connected.
    let mut config = fake.config(ProviderKind::Oidc);
    config.enabled = false;
    assert!(matches!(
        connect(&config, &client()).await,
        Err(ProviderError::Config(_))
    ));
}

#[async_std::test]
async fn client_secret_post_when_basic_is_not_offered() {
    let signer = Signer::new("k1");
    let fake = Fake::start("", &signer).await;
    fake.op.lock().expect("lock").auth_methods = json!(["client_secret_post"]);
    let connector = connect(&fake.config(ProviderKind::Oidc), &client())
        .await
        .expect("connect");
    // The fake insists on Basic, so the exchange fails, but the request shows the method used.
    let _ = login_with(&fake, &*connector, &signer, |_| {}, userinfo()).await;
    let token = &fake.server.to_path("/token")[0];
    assert!(token.header("authorization").is_none());
    assert_eq!(token.form("client_secret").as_deref(), Some(SECRET));
}

#[async_std::test]
async fn microsoft_multi_tenant_issuer() {
    let signer = Signer::new("k1");
    let fake = Fake::start("/common/v2.0", &signer).await;
    let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
    fake.op.lock().expect("lock").advertised_issuer =
        Some(format!("{}/{{tenantid}}/v2.0", fake.server.base()));
    let connector = connect(&fake.config(ProviderKind::Microsoft), &client())
        .await
        .expect("connect");
    assert_eq!(connector.identity_domain(), "microsoft.com");
    let base = fake.server.base();

    let tenant_issuer = format!("{base}/{tenant}/v2.0");
    let identity = login_with(
        &fake,
        &*connector,
        &signer,
        |c| {
            c["iss"] = json!(tenant_issuer);
            c["tid"] = json!(tenant);
        },
        json!({"sub": SUB}),
    )
    .await
    .expect("tenant login");
    assert_eq!(identity.subject, SUB);
    assert_eq!(identity.email, None);

    // iss of one tenant with the tid of another, or no tid at all: refused.
    let other_issuer = format!("{base}/00000000-0000-0000-0000-000000000000/v2.0");
    let err = login_with(
        &fake,
        &*connector,
        &signer,
        |c| {
            c["iss"] = json!(other_issuer);
            c["tid"] = json!(tenant);
        },
        json!({"sub": SUB}),
    )
    .await
    .expect_err("tenant mismatch");
    assert!(matches!(err, ProviderError::IdToken(_)), "{err}");
    let tenant_issuer = format!("{base}/{tenant}/v2.0");
    let err = login_with(
        &fake,
        &*connector,
        &signer,
        |c| c["iss"] = json!(tenant_issuer),
        json!({"sub": SUB}),
    )
    .await
    .expect_err("no tid");
    assert!(matches!(err, ProviderError::IdToken(_)), "{err}");
}

#[async_std::test]
async fn google_preset_with_overridden_issuer() {
    let signer = Signer::new("k1");
    let fake = Fake::start("", &signer).await;
    let connector = connect(&fake.config(ProviderKind::Google), &client())
        .await
        .expect("connect");
    assert_eq!(connector.identity_domain(), "google.com");
    let identity = login_with(&fake, &*connector, &signer, |_| {}, userinfo())
        .await
        .expect("login");
    assert_eq!(identity.subject, SUB);
    assert!(identity.email_verified);
}
