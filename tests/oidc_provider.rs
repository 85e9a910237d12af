//! Self-tests of the OpenID provider harness (tests/support/oidc.rs, tests/oidc/server.mjs): a
//! full authorization-code + PKCE flow by hand against the real `oidc-provider`, and the test
//! hooks the gateway's tests rely on (unverified e-mail, wrong audience, short ID tokens).

mod support;

use openpeer_protocol::json::{self, Object};
use support::oidc::{
    Client, OidcProvider, Pkce, WRONG_AUDIENCE, jwt_header, jwt_payload, login, query_param,
    random_token,
};

fn gateway_client() -> Client {
    Client::new(
        "gateway-test",
        "gateway-secret",
        "http://127.0.0.1:9/identity/callback",
    )
}

/// What a relying party keeps between the authorization request and the token request.
struct Authorized {
    code: String,
    nonce: String,
    pkce: Pkce,
}

/// Sends `login` through the provider's pages and checks the redirect back to the client.
async fn authorize(op: &OidcProvider, client: &Client, user: &str) -> Authorized {
    let (state, nonce, pkce) = (random_token(), random_token(), Pkce::new());
    let url = op.authorization_url(
        client,
        "openid email profile",
        &state,
        &nonce,
        &pkce.challenge,
    );
    let back = login(&url, user).await;
    assert!(
        back.starts_with(&format!("{}?", client.redirect_uri)),
        "redirect {back} is not to {}",
        client.redirect_uri
    );
    assert_eq!(query_param(&back, "error"), None, "redirect {back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some(state.as_str()));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(op.issuer.as_str())
    );
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    Authorized { code, nonce, pkce }
}

/// The token endpoint's JSON answer; panics unless 200.
async fn exchange(op: &OidcProvider, client: &Client, auth: &Authorized, basic: bool) -> Object {
    let answer = op
        .token(client, &auth.code, &auth.pkce.verifier, basic)
        .await;
    assert_eq!(answer.status, 200, "token endpoint: {}", answer.text());
    json::parse(&answer.text()).expect("token response JSON")
}

fn id_token_of(tokens: &Object) -> Object {
    jwt_payload(tokens.get_str("id_token").expect("an id_token"))
}

fn lifetime(id_token: &Object) -> u64 {
    id_token.get_u64("exp").expect("exp") - id_token.get_u64("iat").expect("iat")
}

#[async_std::test]
async fn code_flow_with_pkce_gives_an_id_token_for_the_login() {
    let client = gateway_client();
    let op = OidcProvider::start(std::slice::from_ref(&client), 600);

    let discovery = op.discovery().await;
    assert_eq!(discovery.get_str("issuer"), Some(op.issuer.as_str()));
    assert_eq!(
        discovery.get_str("userinfo_endpoint"),
        Some(format!("{}/me", op.issuer).as_str())
    );
    assert_eq!(
        discovery.get_str("token_endpoint"),
        Some(format!("{}/token", op.issuer).as_str())
    );

    let auth = authorize(&op, &client, "alice").await;
    let tokens = exchange(&op, &client, &auth, true).await;
    let id_token = id_token_of(&tokens);
    assert_eq!(id_token.get_str("iss"), Some(op.issuer.as_str()));
    assert_eq!(id_token.get_str("aud"), Some(client.id.as_str()));
    assert_eq!(id_token.get_str("nonce"), Some(auth.nonce.as_str()));
    assert_eq!(id_token.get_str("sub"), Some("alice"));
    assert_eq!(id_token.get_str("email"), Some("alice@example.test"));
    assert_eq!(id_token.get_bool("email_verified"), Some(true));
    assert_eq!(id_token.get_str("name"), Some("alice"));
    assert_eq!(lifetime(&id_token), 600);

    // The header names an RS256 key that the provider publishes.
    let header = jwt_header(tokens.get_str("id_token").unwrap());
    assert_eq!(header.get_str("alg"), Some("RS256"));
    let kid = header.get_str("kid").expect("kid");
    let jwks_uri = discovery.get_str("jwks_uri").expect("jwks_uri");
    let jwks = json::parse(&op.get(jwks_uri, &[]).await.text()).expect("JWKS");
    assert!(
        jwks.get_list("keys")
            .iter()
            .any(|k| k.as_object().and_then(|k| k.get_str("kid")) == Some(kid)),
        "kid {kid} not in {jwks:?}"
    );

    // Userinfo at the discovered endpoint agrees.
    let access_token = tokens.get_str("access_token").expect("access_token");
    let bearer = format!("Bearer {access_token}");
    let userinfo = op
        .get(
            discovery.get_str("userinfo_endpoint").unwrap(),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(userinfo.status, 200, "userinfo: {}", userinfo.text());
    let userinfo = json::parse(&userinfo.text()).expect("userinfo JSON");
    assert_eq!(userinfo.get_str("sub"), Some("alice"));
    assert_eq!(userinfo.get_bool("email_verified"), Some(true));

    // A code is single use.
    let again = op
        .token(&client, &auth.code, &auth.pkce.verifier, true)
        .await;
    assert_eq!(again.status, 400, "second exchange: {}", again.text());
    let error = json::parse(&again.text()).expect("error JSON");
    assert_eq!(error.get_str("error"), Some("invalid_grant"));
}

#[async_std::test]
async fn unverified_logins_have_unverified_email() {
    let client = gateway_client();
    let op = OidcProvider::start(std::slice::from_ref(&client), 600);
    let auth = authorize(&op, &client, "unverified-bob").await;
    // client_secret_post this time.
    let tokens = exchange(&op, &client, &auth, false).await;
    let id_token = id_token_of(&tokens);
    assert_eq!(id_token.get_str("sub"), Some("unverified-bob"));
    assert_eq!(id_token.get_str("aud"), Some(client.id.as_str()));
    assert_eq!(
        id_token.get_str("email"),
        Some("unverified-bob@example.test")
    );
    assert_eq!(id_token.get_bool("email_verified"), Some(false));

    let bearer = format!("Bearer {}", tokens.get_str("access_token").unwrap());
    let userinfo = op.get("/me", &[("authorization", &bearer)]).await;
    assert_eq!(userinfo.status, 200, "userinfo: {}", userinfo.text());
    let userinfo = json::parse(&userinfo.text()).expect("userinfo JSON");
    assert_eq!(userinfo.get_bool("email_verified"), Some(false));
}

#[async_std::test]
async fn wrongaud_logins_get_id_tokens_for_another_audience() {
    let client = gateway_client();
    let op = OidcProvider::start(std::slice::from_ref(&client), 600);
    let auth = authorize(&op, &client, "wrongaud-carol").await;
    let id_token = id_token_of(&exchange(&op, &client, &auth, true).await);
    assert_ne!(id_token.get_str("aud"), Some(client.id.as_str()));
    assert_eq!(id_token.get_str("aud"), Some(WRONG_AUDIENCE));
    // Everything else is as usual: this is a real token for the wrong audience.
    assert_eq!(id_token.get_str("iss"), Some(op.issuer.as_str()));
    assert_eq!(id_token.get_str("sub"), Some("wrongaud-carol"));
    assert_eq!(id_token.get_str("nonce"), Some(auth.nonce.as_str()));
    assert_eq!(id_token.get_bool("email_verified"), Some(true));
}

#[async_std::test]
async fn two_providers_at_once_and_a_one_second_id_token() {
    let client = gateway_client();
    let other = Client::new("other-client", "other-secret", "http://127.0.0.1:9/other");
    let short = OidcProvider::start(std::slice::from_ref(&client), 1);
    let long = OidcProvider::start(&[client.clone(), other.clone()], 600);
    assert_ne!(short.port, long.port);
    assert_ne!(short.issuer, long.issuer);

    let (a, b) = futures_lite::future::zip(
        async {
            let auth = authorize(&short, &client, "dave").await;
            id_token_of(&exchange(&short, &client, &auth, true).await)
        },
        async {
            let auth = authorize(&long, &other, "erin").await;
            id_token_of(&exchange(&long, &other, &auth, false).await)
        },
    )
    .await;
    assert_eq!(a.get_str("iss"), Some(short.issuer.as_str()));
    assert_eq!(a.get_str("sub"), Some("dave"));
    assert_eq!(lifetime(&a), 1);
    assert_eq!(b.get_str("iss"), Some(long.issuer.as_str()));
    assert_eq!(b.get_str("aud"), Some("other-client"));
    assert_eq!(b.get_str("sub"), Some("erin"));
    assert_eq!(lifetime(&b), 600);
}

#[async_std::test]
async fn pkce_is_required_and_checked() {
    let client = gateway_client();
    let op = OidcProvider::start(std::slice::from_ref(&client), 600);

    // No code_challenge: the provider sends the user back with an error, never to a login page.
    let url = op.authorization_url(&client, "openid", "s-1", "n-1", "x");
    let url = url.replace("&code_challenge=x&code_challenge_method=S256", "");
    assert!(!url.contains("code_challenge"), "{url}");
    let back = login(&url, "frank").await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request"),
        "{back}"
    );
    assert_eq!(query_param(&back, "code"), None, "{back}");

    // A verifier that does not match the challenge.
    let auth = authorize(&op, &client, "frank").await;
    let answer = op
        .token(&client, &auth.code, &Pkce::new().verifier, true)
        .await;
    assert_eq!(answer.status, 400, "wrong verifier: {}", answer.text());
    let error = json::parse(&answer.text()).expect("error JSON");
    assert_eq!(error.get_str("error"), Some("invalid_grant"));
}
