//! Social login end to end, on SQLite and PostgreSQL: the gateway against two real OpenID
//! providers (npm `oidc-provider`, see tests/support/oidc.rs), one configured through the Google
//! preset with its issuer overridden ("brand A", identities `identity://google.com/<sub>`) and one
//! as a generic `oidc` provider ("brand B", `identity://brand-b.test/<sub>`).
//!
//! A login is driven as a client would: `POST /identity/v1/login/start`, the user through the
//! provider's pages, then the provider's redirect followed to the gateway's callback. The issued
//! tokens are then used for access proofs, binding a peer file and a lookup that a third party
//! verifies with `certificates-get` alone. The negative cases check the exact refusal and that no
//! token was issued.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use openpeer_gateway::app::{self, RunningGateway, StartError};
use openpeer_gateway::identity::repo::{IdentityRecord, IdentityRepo as _};
use openpeer_gateway::store::Store;
use openpeer_identity_providers::ProviderKind;
use openpeer_protocol::canonical::render_object;
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::message::{Message, Method};
use openpeer_protocol::proof::Purpose;
use support::identity::{
    ACCESS_VALIDATE, LOOKUP, LOOKUP_CHECK, LOOKUP_UPDATE, Login, access_validate, contact_proof,
    create_account, forged_contact_proof, identities, login_of, lookup_body_at, lookup_update_body,
    peer, proof, protocol, verify_lookup_entry,
};
use support::oidc::{
    Client, OidcProvider, Options, form_urlencode, login, query_param, random_token,
};
use support::proxy::DelayProxy;
use support::{SERVICES_GET, TestDb, call, error_of, get, ok_body, post, stop, unix_now};

crate::on_both_backends!(
    full_login_through_each_brand,
    callback_states_are_single_use_and_bound_to_their_login,
    provider_refusals_issue_no_tokens,
    expired_id_tokens_are_refused,
    unverified_email_gets_its_own_identity_and_links_nothing,
    access_and_contact_proofs_after_a_provider_login,
    a_provider_that_is_down_answers_480,
    a_provider_that_goes_down_before_the_callback_answers_480,
    logins_past_the_login_timeout_are_refused,
);

const BRAND_A: &str = "brand-a";
const BRAND_B: &str = "brand-b";
const DOMAIN_A: &str = "google.com";
const DOMAIN_B: &str = "brand-b.test";

// ---------------------------------------------------------------------------------------------
// Setup: two provider "brands" and a gateway whose callback URLs they know

/// How a test wants its brands.
#[derive(Clone, Copy, Debug, Default)]
struct Setup {
    /// Brand B's ID token lifetime (default 600 s).
    b_id_token_ttl: Option<u64>,
    /// Put brand B behind a proxy that holds its token endpoint's answers back this long.
    b_token_delay: Option<Duration>,
    /// Configure brand A with an issuer on a closed port instead of starting it.
    a_down: bool,
    /// More gateway configuration (top-level dotted keys only, e.g. `identity.x = 1`).
    extra_toml: &'static str,
}

/// A gateway with brands A and B configured.
struct Brands {
    node: RunningGateway,
    addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, the gateway's `public_url`.
    public_url: String,
    a: Option<OidcProvider>,
    b: OidcProvider,
    /// Brand B's proxy, when [`Setup::b_token_delay`].
    b_proxy: Option<DelayProxy>,
    /// The issuer configured for brand A.
    a_issuer: String,
}

impl Brands {
    fn issuer(&self, brand: &str) -> &str {
        match brand {
            BRAND_A => &self.a_issuer,
            _ => &self.b.issuer,
        }
    }
}

fn client_of(public_url: &str, brand: &str) -> Client {
    Client::new(
        &format!("gw-{brand}"),
        &format!("secret-of-{brand}"),
        &format!("{public_url}/identity/v1/callback/{brand}"),
    )
}

fn providers_toml(a_issuer: &str, b_issuer: &str) -> String {
    format!(
        r#"
[identity.providers.brand-a]
kind = "google"
client_id = "gw-brand-a"
client_secret = "secret-of-brand-a"
issuer_url = "{a_issuer}"

[identity.providers.brand-b]
kind = "oidc"
client_id = "gw-brand-b"
client_secret = "secret-of-brand-b"
issuer_url = "{b_issuer}"
identity_domain = "{DOMAIN_B}"
"#
    )
}

fn loopback_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port")
}

/// Starts the brands and the gateway. The gateway's port is picked first (and held until just
/// before the gateway binds it) so that its callback URLs can be registered at the providers.
async fn brands(db: &TestDb, setup: Setup) -> Brands {
    let mut last_error = String::new();
    for _ in 0..3 {
        let reserved = loopback_listener();
        let port = reserved.local_addr().unwrap().port();
        let public_url = format!("http://127.0.0.1:{port}");
        let (a_client, b_client) = (
            client_of(&public_url, BRAND_A),
            client_of(&public_url, BRAND_B),
        );
        let mut b_proxy = setup
            .b_token_delay
            .map(|delay| DelayProxy::bind("POST /token", delay));
        let b_options = Options {
            id_token_ttl_secs: setup.b_id_token_ttl.unwrap_or(600),
            issuer_port: b_proxy.as_ref().map(|p| p.addr().port()),
            ..Options::default()
        };
        let (a, b) = std::thread::scope(|s| {
            let a = (!setup.a_down).then(|| s.spawn(|| OidcProvider::start(&[a_client], 600)));
            let b = s.spawn(|| OidcProvider::start_with(&[b_client], b_options));
            (
                a.map(|a| a.join().expect("brand A starts")),
                b.join().expect("brand B starts"),
            )
        });
        if let Some(proxy) = &mut b_proxy {
            proxy.forward_to(b.addr());
        }
        let a_issuer = match &a {
            Some(a) => a.issuer.clone(),
            None => {
                let closed = loopback_listener().local_addr().unwrap().port();
                format!("http://127.0.0.1:{closed}")
            }
        };
        let settings = db.settings_at(
            &format!("127.0.0.1:{port}"),
            &format!(
                "{}{}",
                setup.extra_toml,
                providers_toml(&a_issuer, &b.issuer)
            ),
        );
        drop(reserved);
        match app::start(settings).await {
            Ok(node) => {
                assert_eq!(node.public_url(), public_url);
                return Brands {
                    addr: node.local_addr(),
                    node,
                    public_url,
                    a,
                    b,
                    b_proxy,
                    a_issuer,
                };
            }
            // Someone took the port in between: again, with new providers.
            Err(e @ StartError::Listen { .. }) => last_error = e.to_string(),
            Err(e) => panic!("gateway start: {e}"),
        }
    }
    panic!("the gateway did not start: {last_error}");
}

// ---------------------------------------------------------------------------------------------
// Driving a login

/// `POST /identity/v1/login/start` for `brand`: the authorization URL and the state.
async fn start_login(addr: SocketAddr, brand: &str) -> (String, String) {
    let answer = start_answer(addr, brand).await;
    assert_eq!(answer.status, 200, "login/start: {}", answer.text());
    let body = parse(&answer.text()).unwrap_or_else(|e| panic!("{e}: {}", answer.text()));
    assert!(body.get("result").is_none(), "refused: {}", answer.text());
    let text = |k| body.get_str(k).unwrap_or_else(|| panic!("{k}")).to_owned();
    (text("authorizationUrl"), text("state"))
}

async fn start_answer(addr: SocketAddr, brand: &str) -> support::Response {
    let body = render_object(&Object::new().with("provider", brand));
    post(addr, "/identity/v1/login/start", &body).await
}

/// The gateway path of a provider redirect back to it (checked to be our callback URL).
fn callback_path(brands: &Brands, brand: &str, redirect: &str) -> String {
    let prefix = format!("{}/identity/v1/callback/{brand}?", brands.public_url);
    assert!(
        redirect.starts_with(&prefix),
        "redirect {redirect} is not to {prefix}"
    );
    assert_eq!(query_param(redirect, "error"), None, "{redirect}");
    redirect[brands.public_url.len()..].to_owned()
}

/// A callback path of `brand` with any `code` and `state`.
fn forged_callback(brand: &str, code: &str, state: &str) -> String {
    format!(
        "/identity/v1/callback/{brand}?{}",
        form_urlencode(&[("code", code), ("state", state)])
    )
}

/// A whole login of `user` at `brand`: the callback's answer.
async fn login_at(brands: &Brands, brand: &str, user: &str) -> Message {
    let (url, state) = start_login(brands.addr, brand).await;
    let back = login(&url, user).await;
    assert_eq!(query_param(&back, "state"), Some(state));
    get(brands.addr, &callback_path(brands, brand, &back))
        .await
        .message()
}

/// `(code, reason)` of a refusal.
fn refusal(message: &Message) -> (u16, String) {
    let error =
        error_of(message).unwrap_or_else(|| panic!("expected a refusal, got {:?}", message.body));
    (error.code, error.reason)
}

fn refused(code: u16, reason: &str) -> (u16, String) {
    (code, reason.to_owned())
}

const STATE_UNKNOWN: &str = "unknown or already used state";
const NOT_VERIFIED: &str = "the provider login did not verify";
const OTHER_PROVIDER: &str = "the state belongs to another provider";

// ---------------------------------------------------------------------------------------------
// Stored state

async fn store_of(db: &TestDb) -> Store {
    Store::connect(&db.settings("").database)
        .await
        .expect("second connection to the test database")
}

async fn stored_identity(db: &TestDb, uri: &str) -> Option<IdentityRecord> {
    let store = store_of(db).await;
    let record = store.identity(uri).await.expect("read identity");
    store.close().await.expect("close");
    record
}

/// Rows of the tables a login writes: (identities, pending_logins, access_tokens, relogin_keys).
async fn login_rows(db: &TestDb) -> (i64, i64, i64, i64) {
    (
        db.count("identities").await,
        db.count("pending_logins").await,
        db.count("access_tokens").await,
        db.count("relogin_keys").await,
    )
}

// ---------------------------------------------------------------------------------------------
// Tests

async fn full_login_through_each_brand(db: TestDb) {
    let brands = brands(&db, Setup::default()).await;
    let addr = brands.addr;

    // The configuration as the gateway read it: brand A is the Google preset (identity domain
    // google.com although its issuer is on 127.0.0.1), brand B a generic provider.
    let configured = &brands.node.gateway().services.settings().identity.providers;
    let config = |name: &str| configured.iter().find(|p| p.name == name).unwrap();
    assert_eq!(config(BRAND_A).kind, ProviderKind::Google);
    assert_eq!(
        config(BRAND_A).effective_issuer_url(),
        Some(brands.issuer(BRAND_A))
    );
    assert_eq!(
        config(BRAND_A).effective_identity_domain().unwrap(),
        DOMAIN_A
    );
    assert_eq!(config(BRAND_B).kind, ProviderKind::Oidc);
    assert_eq!(
        config(BRAND_B).effective_identity_domain().unwrap(),
        DOMAIN_B
    );
    let listed = parse(&get(addr, "/identity/v1/providers").await.text()).unwrap();
    let listed: Vec<(String, String, String)> = listed
        .get_object("providers")
        .unwrap()
        .get_list("provider")
        .iter()
        .map(|p| {
            let p = p.as_object().unwrap();
            let f = |k| p.get_str(k).unwrap().to_owned();
            (f("name"), f("kind"), f("domain"))
        })
        .collect();
    let expected = |n: &str, k: &str, d: &str| (n.to_owned(), k.to_owned(), d.to_owned());
    assert_eq!(
        listed,
        [
            expected("local", "local", "localhost"),
            expected(BRAND_A, "google", DOMAIN_A),
            expected(BRAND_B, "oidc", DOMAIN_B),
        ]
    );

    let mut bound: Vec<(String, String)> = Vec::new();
    for (n, (brand, domain)) in [(BRAND_A, DOMAIN_A), (BRAND_B, DOMAIN_B)]
        .into_iter()
        .enumerate()
    {
        let n = n as i64;
        let issuer = brands.issuer(brand).to_owned();
        let redirect_uri = format!("{}/identity/v1/callback/{brand}", brands.public_url);

        let (url, state) = start_login(addr, brand).await;
        assert!(url.starts_with(&format!("{issuer}/auth?")), "{url}");
        let param = |k| query_param(&url, k).unwrap_or_else(|| panic!("{k} missing in {url}"));
        assert_eq!(param("response_type"), "code");
        assert_eq!(param("client_id"), format!("gw-{brand}"));
        assert_eq!(param("redirect_uri"), redirect_uri);
        assert_eq!(param("state"), state);
        assert_eq!(param("code_challenge_method"), "S256");
        assert_eq!(param("code_challenge").len(), 43, "{url}");
        assert!(param("nonce").len() >= 16, "{url}");
        let scopes = param("scope");
        let scopes: Vec<&str> = scopes.split(' ').collect();
        for scope in ["openid", "email", "profile"] {
            assert!(scopes.contains(&scope), "{scopes:?}");
        }
        assert_eq!(login_rows(&db).await, (n, 1, n, n));

        let back = login(&url, "alice").await;
        assert_eq!(query_param(&back, "state"), Some(state));
        assert_eq!(query_param(&back, "iss"), Some(issuer.clone()));
        let done = login_of(
            &get(addr, &callback_path(&brands, brand, &back))
                .await
                .message(),
        );
        assert_eq!(done.uri, format!("identity://{domain}/alice"));
        assert_eq!(done.provider, brand);
        assert_eq!(
            (done.token.len(), done.secret.len(), done.relogin_key.len()),
            (32, 32, 40)
        );
        assert_eq!(login_rows(&db).await, (n + 1, 0, n + 1, n + 1));
        let record = stored_identity(&db, &done.uri).await.expect("stored");
        assert_eq!(
            (
                record.provider.as_str(),
                record.subject.as_str(),
                record.email.as_deref(),
                record.email_verified,
                record.name.as_deref(),
                record.avatar_url.as_deref(),
            ),
            (
                brand,
                "alice",
                Some("alice@example.test"),
                true,
                Some("alice"),
                Some("https://example.test/avatars/alice.png"),
            )
        );
        assert!(record.created.abs_diff(unix_now()) < 10);

        // The access secret proves the identity to another service.
        let (identity, nonce) = proof(&done, Purpose::LockboxAccess, unix_now() + 600);
        let validated = call(
            addr,
            ACCESS_VALIDATE,
            &access_validate(identity, nonce, "lockbox-access"),
        )
        .await;
        assert_eq!(ok_body(&validated), &Object::new());

        // A fresh peer binds itself to the identity...
        let (key, file) = peer(addr).await;
        let update = call(
            addr,
            LOOKUP_UPDATE,
            &protocol(
                Method::IdentityLookupUpdate,
                lookup_update_body(&done, &key, &file),
            ),
        )
        .await;
        assert_eq!(ok_body(&update), &Object::new());
        assert_eq!(db.count("lookup_entries").await, n + 1);

        // ... and a third party finds it with nothing but the lookup and certificates-get.
        let base = format!("identity://{domain}/");
        let checked = identities(
            &call(
                addr,
                LOOKUP_CHECK,
                &protocol(
                    Method::IdentityLookupCheck,
                    lookup_body_at(&base, "nobody,alice"),
                ),
            )
            .await,
        );
        assert_eq!(checked.len(), 1);
        assert_eq!(checked[0].get_str("uri"), Some(done.uri.as_str()));
        assert_eq!(checked[0].get_str("provider"), Some(brand));
        let found = identities(
            &call(
                addr,
                LOOKUP,
                &protocol(Method::IdentityLookup, lookup_body_at(&base, "alice,bob")),
            )
            .await,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let entry = &found[0];
        assert_eq!(entry.get_str("uri"), Some(done.uri.as_str()));
        assert_eq!(entry.get_str("provider"), Some(brand));
        assert_eq!(entry.get_str("stableID"), Some("stable-1"));
        let (peer_file, contact) = verify_lookup_entry(addr, entry).await;
        assert_eq!(peer_file.contact(), file.contact());
        assert_eq!(contact.get_str("uri"), Some(done.uri.as_str()));
        assert_eq!(contact.get_str("stableID"), Some("stable-1"));
        assert_eq!(
            contact.get_str("contact"),
            Some(file.contact().to_string().as_str())
        );
        bound.push((done.uri, file.contact().to_string()));
    }

    // Same subject at two brands: two identities, each with its own peer.
    assert_ne!(bound[0].1, bound[1].1);
    let provider_element = |base: &str| {
        Value::Object(
            Object::new()
                .with("base", base)
                .with("separator", ",")
                .with("identities", "alice"),
        )
    };
    let both = Object::new().with(
        "providers",
        Object::new().with(
            "provider",
            Value::from_list(vec![
                provider_element("identity://google.com/"),
                provider_element("identity://brand-b.test/"),
            ]),
        ),
    );
    let found = identities(&call(addr, LOOKUP, &protocol(Method::IdentityLookup, both)).await);
    let pairs: Vec<(String, String)> = found
        .iter()
        .map(|e| {
            (
                e.get_str("uri").unwrap().to_owned(),
                e.get_str("provider").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (bound[0].0.clone(), BRAND_A.to_owned()),
            (bound[1].0.clone(), BRAND_B.to_owned()),
        ]
    );
    for (entry, (_, contact)) in found.iter().zip(&bound) {
        let (peer_file, _) = verify_lookup_entry(addr, entry).await;
        assert_eq!(&peer_file.contact().to_string(), contact);
    }
    stop(brands.node).await;
}

async fn callback_states_are_single_use_and_bound_to_their_login(db: TestDb) {
    let brands = brands(&db, Setup::default()).await;
    let addr = brands.addr;
    let callback = |path: String| async move { get(addr, &path).await.message() };

    // A real code with a state the gateway never issued: refused before the provider is asked,
    // and the real pending login is untouched.
    let (url, state) = start_login(addr, BRAND_B).await;
    let first_back = login(&url, "alice").await;
    let first_code = query_param(&first_back, "code").expect("code");
    let random = callback(forged_callback(BRAND_B, &first_code, &random_token())).await;
    assert_eq!(refusal(&random), refused(403, STATE_UNKNOWN));
    assert_eq!(login_rows(&db).await, (0, 1, 0, 0));

    // The real callback works once...
    let first_path = callback_path(&brands, BRAND_B, &first_back);
    let first = login_of(&callback(first_path.clone()).await);
    assert_eq!(first.uri, "identity://brand-b.test/alice");
    assert_eq!(login_rows(&db).await, (1, 0, 1, 1));
    // ... and never again: the same code and state.
    assert_eq!(
        refusal(&callback(first_path).await),
        refused(403, STATE_UNKNOWN)
    );
    // The used state with a fresh, valid code of another login.
    let (url, second_state) = start_login(addr, BRAND_B).await;
    let second_back = login(&url, "alice").await;
    let second_code = query_param(&second_back, "code").expect("code");
    assert_eq!(
        refusal(&callback(forged_callback(BRAND_B, &second_code, &state)).await),
        refused(403, STATE_UNKNOWN)
    );
    // The used code under the new login's state: the provider refuses the code (already
    // redeemed). The state is spent by the attempt, so the new login's own code is refused too.
    assert_eq!(
        refusal(&callback(forged_callback(BRAND_B, &first_code, &second_state)).await),
        refused(403, NOT_VERIFIED)
    );
    assert_eq!(
        refusal(&callback(callback_path(&brands, BRAND_B, &second_back)).await),
        refused(403, STATE_UNKNOWN)
    );
    // An unused code under another login's state: PKCE verifier (and nonce) do not match.
    let (url, _) = start_login(addr, BRAND_B).await;
    let third_code = query_param(&login(&url, "alice").await, "code").expect("code");
    let (_, fourth_state) = start_login(addr, BRAND_B).await;
    assert_eq!(
        refusal(&callback(forged_callback(BRAND_B, &third_code, &fourth_state)).await),
        refused(403, NOT_VERIFIED)
    );

    // A login started at brand A, called back at brand B; after that its state is spent.
    let (url, a_state) = start_login(addr, BRAND_A).await;
    let a_back = login(&url, "alice").await;
    let a_code = query_param(&a_back, "code").expect("code");
    assert_eq!(
        refusal(&callback(forged_callback(BRAND_B, &a_code, &a_state)).await),
        refused(403, OTHER_PROVIDER)
    );
    assert_eq!(
        refusal(&callback(callback_path(&brands, BRAND_A, &a_back)).await),
        refused(403, STATE_UNKNOWN)
    );

    // Missing parameters.
    for path in [
        format!("/identity/v1/callback/{BRAND_B}?state=x"),
        format!("/identity/v1/callback/{BRAND_B}?code=x"),
    ] {
        assert_eq!(refusal(&callback(path).await).0, 400);
    }

    // Only the first login issued anything; the third login's state is still pending.
    assert_eq!(login_rows(&db).await, (1, 1, 1, 1));
    stop(brands.node).await;
}

async fn provider_refusals_issue_no_tokens(db: TestDb) {
    let brands = brands(&db, Setup::default()).await;
    let addr = brands.addr;

    // The ID token carries another nonce than the one the gateway sent.
    for brand in [BRAND_A, BRAND_B] {
        let (url, state) = start_login(addr, brand).await;
        let nonce = query_param(&url, "nonce").expect("nonce");
        let other = random_token();
        let edited = url.replacen(
            &format!("nonce={}", support::oidc::form_urlencode_value(&nonce)),
            &format!("nonce={other}"),
            1,
        );
        assert_eq!(query_param(&edited, "nonce"), Some(other), "{url}");
        let back = login(&edited, "alice").await;
        assert_eq!(query_param(&back, "state"), Some(state));
        let answer = get(addr, &callback_path(&brands, brand, &back))
            .await
            .message();
        assert_eq!(refusal(&answer), refused(403, NOT_VERIFIED), "{brand}");
    }

    // The ID token is for another audience (a misbehaving provider).
    for brand in [BRAND_A, BRAND_B] {
        let answer = login_at(&brands, brand, "wrongaud-carol").await;
        assert_eq!(refusal(&answer), refused(403, NOT_VERIFIED), "{brand}");
    }
    assert_eq!(login_rows(&db).await, (0, 0, 0, 0));

    // The same gateway and providers still log a user in.
    let done = login_of(&login_at(&brands, BRAND_B, "carol").await);
    assert_eq!(done.uri, "identity://brand-b.test/carol");
    assert_eq!(login_rows(&db).await, (1, 0, 1, 1));
    stop(brands.node).await;
}

async fn expired_id_tokens_are_refused(db: TestDb) {
    // The provider mints the ID token at its token endpoint, during the callback; a proxy holds
    // that answer back 2.5 s, so the 1-second token has expired when the gateway checks it.
    let delay = Duration::from_millis(2500);
    let brands = brands(
        &db,
        Setup {
            b_id_token_ttl: Some(1),
            b_token_delay: Some(delay),
            ..Setup::default()
        },
    )
    .await;
    let addr = brands.addr;
    let proxy = brands.b_proxy.as_ref().unwrap();
    assert_eq!(
        brands.b.issuer,
        format!("http://127.0.0.1:{}", proxy.addr().port())
    );

    let started = Instant::now();
    let (url, _) = start_login(addr, BRAND_B).await;
    let back = login(&url, "alice").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the login took {:?}",
        started.elapsed()
    );
    assert_eq!(proxy.delayed(), 0);

    let started = Instant::now();
    let answer = get(addr, &callback_path(&brands, BRAND_B, &back))
        .await
        .message();
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(
        proxy.delayed(),
        1,
        "the token request went through the proxy"
    );
    assert_eq!(refusal(&answer), refused(403, NOT_VERIFIED));
    assert_eq!(login_rows(&db).await, (0, 0, 0, 0));
    stop(brands.node).await;
}

async fn unverified_email_gets_its_own_identity_and_links_nothing(db: TestDb) {
    // Identities that share the e-mail address of `unverified-bob` at the providers: a local
    // account of the same name and an identity whose provider verified that address.
    create_account(&db, "unverified-bob", "correct horse").await;
    let verified_elsewhere = IdentityRecord {
        uri: "identity://brand-b.test/bob-elsewhere".to_owned(),
        provider: BRAND_B.to_owned(),
        subject: "bob-elsewhere".to_owned(),
        email: Some("unverified-bob@example.test".to_owned()),
        email_verified: true,
        name: Some("Bob".to_owned()),
        profile_url: None,
        avatar_url: None,
        created: unix_now() - 1000,
        updated: unix_now() - 1000,
    };
    {
        let store = store_of(&db).await;
        store.upsert_identity(&verified_elsewhere).await.unwrap();
        store.close().await.unwrap();
    }
    let local_uri = "identity://localhost/unverified-bob";
    let local_before = stored_identity(&db, local_uri).await.expect("local row");
    let brands = brands(&db, Setup::default()).await;
    let addr = brands.addr;

    let at_a = login_of(&login_at(&brands, BRAND_A, "unverified-bob").await);
    assert_eq!(at_a.uri, "identity://google.com/unverified-bob");
    let a_row = stored_identity(&db, &at_a.uri).await.expect("brand A row");
    let at_b = login_of(&login_at(&brands, BRAND_B, "unverified-bob").await);
    assert_eq!(at_b.uri, "identity://brand-b.test/unverified-bob");
    assert_eq!(at_b.provider, BRAND_B);

    let b_row = stored_identity(&db, &at_b.uri).await.expect("brand B row");
    assert_eq!(
        (
            b_row.provider.as_str(),
            b_row.subject.as_str(),
            b_row.email.as_deref(),
            b_row.email_verified
        ),
        (
            BRAND_B,
            "unverified-bob",
            Some("unverified-bob@example.test"),
            false
        )
    );
    assert!(!a_row.email_verified);
    // Nothing else was touched.
    assert_eq!(stored_identity(&db, local_uri).await, Some(local_before));
    assert_eq!(
        stored_identity(&db, &verified_elsewhere.uri).await,
        Some(verified_elsewhere.clone())
    );
    assert_eq!(stored_identity(&db, &at_a.uri).await, Some(a_row));
    assert_eq!(login_rows(&db).await, (4, 0, 2, 2));

    // The token proves its own identity only.
    for other in [
        local_uri,
        verified_elsewhere.uri.as_str(),
        at_a.uri.as_str(),
    ] {
        let mut claimed = at_b.clone();
        claimed.uri = other.to_owned();
        let (identity, nonce) = proof(&claimed, Purpose::LockboxAccess, unix_now() + 600);
        let answer = call(
            addr,
            ACCESS_VALIDATE,
            &access_validate(identity, nonce, "lockbox-access"),
        )
        .await;
        assert_eq!(refusal(&answer).0, 403, "{other}");
    }
    let (identity, nonce) = proof(&at_b, Purpose::LockboxAccess, unix_now() + 600);
    let answer = call(
        addr,
        ACCESS_VALIDATE,
        &access_validate(identity, nonce, "lockbox-access"),
    )
    .await;
    assert_eq!(ok_body(&answer), &Object::new());
    stop(brands.node).await;
}

async fn access_and_contact_proofs_after_a_provider_login(db: TestDb) {
    let brands = brands(&db, Setup::default()).await;
    let addr = brands.addr;
    let done: Login = login_of(&login_at(&brands, BRAND_A, "alice").await);
    assert_eq!(done.uri, "identity://google.com/alice");

    let (identity, nonce) = proof(&done, Purpose::LockboxAccess, unix_now() + 600);
    let good = access_validate(identity, nonce, "lockbox-access");
    assert_eq!(
        ok_body(&call(addr, ACCESS_VALIDATE, &good).await),
        &Object::new()
    );
    let nonces = db.count("used_nonces").await;
    // Replayed: the same nonce again.
    assert_eq!(refusal(&call(addr, ACCESS_VALIDATE, &good).await).0, 403);
    // Past its expiry.
    let (identity, nonce) = proof(&done, Purpose::LockboxAccess, unix_now() - 5);
    assert_eq!(
        refusal(
            &call(
                addr,
                ACCESS_VALIDATE,
                &access_validate(identity, nonce, "lockbox-access")
            )
            .await
        )
        .0,
        401
    );
    assert_eq!(db.count("used_nonces").await, nonces);

    // Contact proofs that must not bind: signed by another key in this peer's name, and a valid
    // one for the same subject at the other brand.
    let (key, file) = peer(addr).await;
    let (other_key, _) = peer(addr).await;
    let same_subject_other_brand = format!("identity://{DOMAIN_B}/alice");
    for (case, bundle) in [
        (
            "forged signature",
            forged_contact_proof(&other_key, &file, &done.uri, "stable-1"),
        ),
        (
            "other brand's identity",
            contact_proof(&key, &file, &same_subject_other_brand, "stable-1"),
        ),
    ] {
        let mut body = lookup_update_body(&done, &key, &file);
        let mut identity = body.get_object("identity").unwrap().clone();
        identity.insert("contactProofBundle", bundle);
        body.insert("identity", identity);
        let answer = call(
            addr,
            LOOKUP_UPDATE,
            &protocol(Method::IdentityLookupUpdate, body),
        )
        .await;
        assert_eq!(refusal(&answer).0, 403, "{case}");
        assert_eq!(db.count("lookup_entries").await, 0, "{case}");
    }
    // The brand A token cannot bind the brand B identity of the same subject.
    let mut claimed = done.clone();
    claimed.uri = same_subject_other_brand.clone();
    let answer = call(
        addr,
        LOOKUP_UPDATE,
        &protocol(
            Method::IdentityLookupUpdate,
            lookup_update_body(&claimed, &key, &file),
        ),
    )
    .await;
    assert_eq!(refusal(&answer).0, 403);
    assert_eq!(db.count("lookup_entries").await, 0);

    // The genuine binding still works.
    let answer = call(
        addr,
        LOOKUP_UPDATE,
        &protocol(
            Method::IdentityLookupUpdate,
            lookup_update_body(&done, &key, &file),
        ),
    )
    .await;
    assert_eq!(ok_body(&answer), &Object::new());
    assert_eq!(db.count("lookup_entries").await, 1);
    stop(brands.node).await;
}

async fn a_provider_that_is_down_answers_480(db: TestDb) {
    let brands = brands(
        &db,
        Setup {
            a_down: true,
            ..Setup::default()
        },
    )
    .await;
    let addr = brands.addr;
    assert!(brands.a.is_none());

    for _ in 0..2 {
        let started = Instant::now();
        let answer = start_answer(addr, BRAND_A).await.message();
        assert_eq!(
            refusal(&answer),
            refused(480, "identity provider unavailable")
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(login_rows(&db).await, (0, 0, 0, 0));
    let unknown = start_answer(addr, "no-such-brand").await.message();
    assert_eq!(refusal(&unknown).0, 404);

    // The gateway keeps serving: its service list, the provider list, a callback (refused
    // without asking the provider) and a whole login at the other brand.
    assert_eq!(get(addr, SERVICES_GET).await.status, 200);
    let listed = get(addr, "/identity/v1/providers").await;
    assert_eq!(listed.status, 200);
    assert!(listed.text().contains(BRAND_A), "{}", listed.text());
    let callback = get(addr, &forged_callback(BRAND_A, "code", &random_token()))
        .await
        .message();
    assert_eq!(refusal(&callback), refused(403, STATE_UNKNOWN));
    let done = login_of(&login_at(&brands, BRAND_B, "alice").await);
    assert_eq!(done.uri, "identity://brand-b.test/alice");
    assert_eq!(login_rows(&db).await, (1, 0, 1, 1));
    stop(brands.node).await;
}

async fn a_provider_that_goes_down_before_the_callback_answers_480(db: TestDb) {
    let brands = brands(&db, Setup::default()).await;
    let addr = brands.addr;
    let (url, _) = start_login(addr, BRAND_B).await;
    let path = callback_path(&brands, BRAND_B, &login(&url, "alice").await);
    // The user is back with a code, but the provider is gone before the gateway redeems it.
    let Brands { node, b, .. } = brands;
    drop(b);
    let answer = get(addr, &path).await.message();
    assert_eq!(login_rows(&db).await, (0, 0, 0, 0));
    assert_eq!(
        refusal(&answer),
        refused(480, "identity provider unavailable"),
        "an unreachable provider at the callback is a temporary failure, not a refusal"
    );
    stop(node).await;
}

async fn logins_past_the_login_timeout_are_refused(db: TestDb) {
    let brands = brands(
        &db,
        Setup {
            extra_toml: "identity.login_timeout_seconds = 1\n",
            ..Setup::default()
        },
    )
    .await;
    let addr = brands.addr;
    let (url, _) = start_login(addr, BRAND_B).await;
    let path = callback_path(&brands, BRAND_B, &login(&url, "alice").await);
    async_std::task::sleep(Duration::from_millis(2100)).await;
    let answer = get(addr, &path).await.message();
    assert_eq!(refusal(&answer), refused(401, "the login took too long"));
    // Spent all the same.
    assert_eq!(login_rows(&db).await, (0, 0, 0, 0));
    assert_eq!(
        refusal(&get(addr, &path).await.message()),
        refused(403, STATE_UNKNOWN)
    );
    stop(brands.node).await;
}
