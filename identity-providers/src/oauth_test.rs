//! GitHub and Facebook connectors end to end over real HTTP, against a local fake provider that
//! checks the token request (code, PKCE verifier, client credentials, redirect URI) and serves
//! the user APIs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::*;
use crate::test_server::{Recorded, Reply, TestServer, form_value};
use crate::{Connector, ProviderConfig, connect, http};

const CODE: &str = "the-code";
const SECRET: &str = "s3cret-client";
const REDIRECT: &str = "https://gateway.example/identity/callback/test";
const GH_TOKEN: &str = "gho_access_token_value";
const FB_TOKEN: &str = "EAAB_access_token_value";

/// What the fake provider knows of the login in progress.
#[derive(Default)]
struct Login {
    challenge: String,
    emails_status: Option<u16>,
    emails: serde_json::Value,
    user_status: Option<u16>,
    fb_user: serde_json::Value,
}

fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref()) == challenge
}

/// Checks a token request like GitHub/Facebook would; `Err` is the OAuth error code.
fn check_token_request(req: &Recorded, login: &Login, client_id: &str) -> Result<(), &'static str> {
    if req.method != "POST" || req.form("grant_type").as_deref() != Some("authorization_code") {
        return Err("unsupported_grant_type");
    }
    if req.form("client_id").as_deref() != Some(client_id)
        || req.form("client_secret").as_deref() != Some(SECRET)
    {
        return Err("invalid_client");
    }
    if req.form("code").as_deref() != Some(CODE)
        || req.form("redirect_uri").as_deref() != Some(REDIRECT)
    {
        return Err("bad_verification_code");
    }
    let verifier = req.form("code_verifier").unwrap_or_default();
    if !pkce_matches(&verifier, &login.challenge) {
        return Err("invalid_grant");
    }
    Ok(())
}

fn bearer(req: &Recorded, token: &str) -> bool {
    req.header("authorization") == Some(&format!("Bearer {token}"))
}

async fn github_server(login: Arc<Mutex<Login>>) -> TestServer {
    TestServer::start(move |req, _base| {
        let login = login.lock().expect("lock");
        match req.path() {
            "/login/oauth/access_token" => match check_token_request(req, &login, "gh-client") {
                // GitHub answers refusals with HTTP 200 and an error object.
                Err(code) => Reply::json(200, json!({"error": code, "error_description": "refused"})),
                Ok(()) => Reply::json(
                    200,
                    json!({"access_token": GH_TOKEN, "token_type": "bearer", "scope": "read:user,user:email"}),
                ),
            },
            "/api/v3/user" if bearer(req, GH_TOKEN) && req.header("user-agent").is_some() => {
                match login.user_status {
                    Some(status) => Reply::json(status, json!({"message": "nope"})),
                    None => Reply::json(
                        200,
                        json!({
                            "login": "octocat", "id": 583231, "name": "The Octocat",
                            "email": "public@example.com",
                            "html_url": "https://github.com/octocat",
                            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
                            "type": "User", "site_admin": false
                        }),
                    ),
                }
            }
            "/api/v3/user/emails" if bearer(req, GH_TOKEN) => match login.emails_status {
                Some(status) => Reply::json(status, json!({"message": "Not Found"})),
                None => Reply::json(200, login.emails.clone()),
            },
            _ => Reply::json(401, json!({"message": "Bad credentials"})),
        }
    })
    .await
}

fn github_config(server: &TestServer) -> ProviderConfig {
    let base = server.base();
    let mut config = ProviderConfig::new("github", ProviderKind::Github, "gh-client");
    config.client_secret = Secret::new(SECRET);
    config.authorization_url = format!("{base}/login/oauth/authorize");
    config.token_url = format!("{base}/login/oauth/access_token");
    config.userinfo_url = format!("{base}/api/v3/user");
    config
}

fn client() -> http::HttpClient {
    http::HttpClient::new(&[], Duration::from_secs(5)).expect("http client")
}

/// Starts a login, plays the provider's part of remembering the challenge, returns the pending
/// login and the authorization URL's query.
async fn start(connector: &dyn Connector, login: &Mutex<Login>) -> (PendingLogin, String, String) {
    let request = connector.start(REDIRECT).await.expect("start");
    let url = surf::Url::parse(&request.url).expect("authorization URL");
    let query = url.query().unwrap_or_default().to_owned();
    login.lock().expect("lock").challenge =
        form_value(&query, "code_challenge").unwrap_or_default();
    (request.pending, request.state, request.url)
}

#[async_std::test]
async fn github_login_with_verified_primary_email() {
    let login = Arc::new(Mutex::new(Login {
        emails: json!([
            {"email": "old@example.com", "primary": false, "verified": true, "visibility": null},
            {"email": "octo@example.com", "primary": true, "verified": true, "visibility": "public"}
        ]),
        ..Login::default()
    }));
    let server = github_server(login.clone()).await;
    let connector = connect(&github_config(&server), &client())
        .await
        .expect("connect");
    assert_eq!(connector.name(), "github");
    assert_eq!(connector.identity_domain(), "github.com");

    let (pending, state, url) = start(&*connector, &login).await;
    assert!(url.starts_with(&format!("{}/login/oauth/authorize?", server.base())));
    assert!(pending.nonce.is_none());

    let identity = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect("complete");
    assert_eq!(
        identity,
        ProviderIdentity {
            provider: "github".into(),
            identity_domain: "github.com".into(),
            subject: "583231".into(),
            email: Some("octo@example.com".into()),
            email_verified: true,
            name: Some("The Octocat".into()),
            profile_url: Some("https://github.com/octocat".into()),
            avatar_url: Some("https://avatars.githubusercontent.com/u/583231?v=4".into()),
        }
    );
    assert_eq!(identity.identity_uri(), "identity://github.com/583231");

    // The token request carried the PKCE verifier and the credentials in the body.
    let token = &server.to_path("/login/oauth/access_token")[0];
    assert_eq!(
        token.form("code_verifier").as_deref(),
        Some(pending.pkce_verifier.as_str())
    );
    assert!(token.header("authorization").is_none());
    assert!(
        token
            .header("accept")
            .is_some_and(|a| a.contains("application/json"))
    );
    assert_eq!(server.to_path("/api/v3/user/emails").len(), 1);
    assert!(!state.is_empty());
}

#[async_std::test]
async fn github_unverified_primary_email_is_not_verified() {
    let login = Arc::new(Mutex::new(Login {
        emails: json!([
            {"email": "verified-secondary@example.com", "primary": false, "verified": true},
            {"email": "octo@example.com", "primary": true, "verified": false}
        ]),
        ..Login::default()
    }));
    let server = github_server(login.clone()).await;
    let connector = connect(&github_config(&server), &client())
        .await
        .expect("connect");
    let (pending, _, _) = start(&*connector, &login).await;
    let identity = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect("complete");
    assert_eq!(identity.email.as_deref(), Some("octo@example.com"));
    assert!(!identity.email_verified);
}

#[async_std::test]
async fn github_without_email_scope_uses_public_email_unverified() {
    let login = Arc::new(Mutex::new(Login {
        emails_status: Some(404),
        ..Login::default()
    }));
    let server = github_server(login.clone()).await;
    let connector = connect(&github_config(&server), &client())
        .await
        .expect("connect");
    let (pending, _, _) = start(&*connector, &login).await;
    let identity = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect("complete");
    assert_eq!(identity.email.as_deref(), Some("public@example.com"));
    assert!(!identity.email_verified);
}

#[async_std::test]
async fn github_refusals() {
    let login = Arc::new(Mutex::new(Login {
        emails: json!([]),
        ..Login::default()
    }));
    let server = github_server(login.clone()).await;
    let connector = connect(&github_config(&server), &client())
        .await
        .expect("connect");
    let (pending, _, _) = start(&*connector, &login).await;

    // Wrong code: GitHub's HTTP-200 error object becomes a token exchange error.
    let err = connector
        .complete(REDIRECT, "wrong", &pending)
        .await
        .expect_err("bad code");
    assert!(matches!(err, ProviderError::TokenExchange(_)), "{err}");
    assert!(err.to_string().contains("bad_verification_code"), "{err}");
    assert!(!err.to_string().contains(SECRET));

    // Another PKCE verifier (an attacker replaying a stolen code with their own login).
    let mut other = pending.clone();
    other.pkce_verifier = "b".repeat(43);
    let err = connector
        .complete(REDIRECT, CODE, &other)
        .await
        .expect_err("pkce");
    assert!(err.to_string().contains("invalid_grant"), "{err}");

    // A pending login of another provider, or an expired one, never reaches the provider.
    let before = server.recorded().len();
    let mut foreign = pending.clone();
    foreign.provider = "facebook".into();
    let err = connector
        .complete(REDIRECT, CODE, &foreign)
        .await
        .expect_err("foreign");
    assert!(matches!(err, ProviderError::Pending(_)), "{err}");
    let mut expired = pending.clone();
    expired.expires_at = 1;
    let err = connector
        .complete(REDIRECT, CODE, &expired)
        .await
        .expect_err("expired");
    assert!(matches!(err, ProviderError::Pending(_)), "{err}");
    assert_eq!(server.recorded().len(), before);

    // The user API failing is an error, not an identity.
    login.lock().expect("lock").user_status = Some(401);
    let err = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect_err("user API");
    assert!(matches!(err, ProviderError::UserInfo(_)), "{err}");
    assert!(!err.to_string().contains(GH_TOKEN));
}

async fn facebook_server(login: Arc<Mutex<Login>>) -> TestServer {
    TestServer::start(move |req, _base| {
        let login = login.lock().expect("lock");
        match req.path() {
            "/v19.0/oauth/access_token" => match check_token_request(req, &login, "fb-app") {
                Err(code) => Reply::json(
                    400,
                    json!({"error": {"message": "refused", "type": "OAuthException", "code": 100}, "error_description": code}),
                ),
                Ok(()) => Reply::json(
                    200,
                    json!({"access_token": FB_TOKEN, "token_type": "bearer", "expires_in": 5183944}),
                ),
            },
            "/me" if bearer(req, FB_TOKEN) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
                let proof: String = ring::hmac::sign(&key, FB_TOKEN.as_bytes())
                    .as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if req.query("appsecret_proof") != Some(proof)
                    || req.query("fields").as_deref() != Some("id,name,email,picture")
                {
                    return Reply::json(400, json!({"error": {"message": "bad proof"}}));
                }
                Reply::json(200, login.fb_user.clone())
            }
            _ => Reply::json(400, json!({"error": {"message": "unknown"}})),
        }
    })
    .await
}

fn facebook_config(server: &TestServer) -> ProviderConfig {
    let base = server.base();
    let mut config = ProviderConfig::new("facebook", ProviderKind::Facebook, "fb-app");
    config.client_secret = Secret::new(SECRET);
    config.authorization_url = format!("{base}/v19.0/dialog/oauth");
    config.token_url = format!("{base}/v19.0/oauth/access_token");
    config.userinfo_url = format!("{base}/me?fields=id,name,email,picture");
    config
}

#[async_std::test]
async fn facebook_login() {
    let login = Arc::new(Mutex::new(Login {
        fb_user: json!({
            "id": "10150000000000001",
            "name": "Mark Example",
            "email": "mark@example.com",
            "picture": {"data": {"height": 50, "is_silhouette": false, "url": "https://platform-lookaside.fbsbx.com/p.jpg", "width": 50}}
        }),
        ..Login::default()
    }));
    let server = facebook_server(login.clone()).await;
    let connector = connect(&facebook_config(&server), &client())
        .await
        .expect("connect");
    assert_eq!(connector.identity_domain(), "facebook.com");
    let (pending, _, url) = start(&*connector, &login).await;
    assert!(
        url.contains("scope=public_profile+email") || url.contains("scope=public_profile%20email"),
        "{url}"
    );

    let identity = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect("complete");
    assert_eq!(identity.subject, "10150000000000001");
    assert_eq!(identity.email.as_deref(), Some("mark@example.com"));
    assert!(
        identity.email_verified,
        "Graph returns only confirmed addresses"
    );
    assert_eq!(identity.name.as_deref(), Some("Mark Example"));
    assert_eq!(
        identity.avatar_url.as_deref(),
        Some("https://platform-lookaside.fbsbx.com/p.jpg")
    );
    assert_eq!(
        identity.identity_uri(),
        "identity://facebook.com/10150000000000001"
    );

    // No e-mail permission: no address, nothing verified.
    login.lock().expect("lock").fb_user =
        json!({"id": "10150000000000001", "name": "Mark Example"});
    let (pending, _, _) = start(&*connector, &login).await;
    let identity = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect("complete");
    assert_eq!(identity.email, None);
    assert!(!identity.email_verified);

    // An id that is not the numeric app-scoped id is refused.
    login.lock().expect("lock").fb_user = json!({"id": "mark", "name": "Mark Example"});
    let (pending, _, _) = start(&*connector, &login).await;
    let err = connector
        .complete(REDIRECT, CODE, &pending)
        .await
        .expect_err("id");
    assert!(matches!(err, ProviderError::UserInfo(_)), "{err}");

    // A refused code is a token exchange error that shows neither secret nor code.
    let (pending, _, _) = start(&*connector, &login).await;
    let err = connector
        .complete(REDIRECT, "wrong", &pending)
        .await
        .expect_err("code");
    assert!(matches!(err, ProviderError::TokenExchange(_)), "{err}");
    assert!(!err.to_string().contains(SECRET));
}

#[async_std::test]
async fn authorization_url_of_an_oauth2_preset() {
    let server = TestServer::start(|_, _| Reply::json(404, json!({}))).await;
    let mut config = github_config(&server);
    config.scopes = vec!["read:user".into(), "user:email".into(), "read:org".into()];
    let connector = connect(&config, &client()).await.expect("connect");
    let request = connector.start(REDIRECT).await.expect("start");
    let url = surf::Url::parse(&request.url).expect("URL");
    assert_eq!(
        format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.path()
        ),
        format!("http://127.0.0.1{}", "/login/oauth/authorize")
    );
    assert_eq!(url.port(), Some(server.addr.port()));
    let query = url.query().unwrap_or_default();
    let param = |name: &str| form_value(query, name);
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(param("client_id").as_deref(), Some("gh-client"));
    assert_eq!(param("redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(
        param("scope").as_deref(),
        Some("read:user user:email read:org")
    );
    assert_eq!(param("state").as_deref(), Some(request.state.as_str()));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    let challenge = param("code_challenge").expect("challenge");
    assert!(pkce_matches(&request.pending.pkce_verifier, &challenge));
    assert!(param("nonce").is_none());
    assert!(!request.url.contains(SECRET));
    assert!(request.state.len() >= 22, "128-bit state");

    // Every login gets its own state and verifier.
    let again = connector.start(REDIRECT).await.expect("start");
    assert_ne!(again.state, request.state);
    assert_ne!(again.pending.pkce_verifier, request.pending.pkce_verifier);
    assert!(server.recorded().is_empty(), "start needs no network");
}

#[test]
fn appsecret_proof_is_hex_hmac_sha256() {
    // RFC 4231 test case 2.
    let proof = appsecret_proof(&Secret::new("Jefe"), "what do ya want for nothing?");
    assert_eq!(
        proof,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn github_email_selection() {
    let entry = |email: &str, primary, verified| GithubEmail {
        email: email.into(),
        primary,
        verified,
    };
    assert_eq!(
        github_email(
            None,
            Some(vec![entry("a@x", false, true), entry("b@x", true, true)])
        ),
        (Some("b@x".into()), true)
    );
    assert_eq!(
        github_email(Some("p@x".into()), Some(vec![entry("a@x", false, true)])),
        (None, false)
    );
    assert_eq!(
        github_email(Some("p@x".into()), None),
        (Some("p@x".into()), false)
    );
    assert_eq!(github_email(Some(String::new()), None), (None, false));
}
