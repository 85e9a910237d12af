//! Federation under forgery and faults, with two (and a fake third) real gateways on loopback:
//! none of these changes state, and a remote domain that is down, hangs or lies leaves local
//! service unaffected.
//!
//! * remote certificates: pinned keys that change, bundles re-signed by another key, a domain
//!   denied by policy (nothing fetched, nothing stored);
//! * remote lookups: a domain that is down or hangs gives its identities an error within the
//!   timeout while local identities are answered at once;
//! * `link-hello`: forged, replayed, expired, misaddressed, or not first; oversized and
//!   malformed link messages;
//! * finds over a link: a requester that is not of the link's domain, a wrong
//!   `findSecretProof` (never reaching the callee), and a good one, forwarded byte for byte.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_std::net::TcpListener;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt as _;
use openpeer_federation::finder_link::{FinderLink, LinkEvent};
use openpeer_federation::http::HttpClient;
use openpeer_federation::trust::Pin;
use openpeer_gateway::app::RunningGateway;
use openpeer_gateway::keys::ServiceType;
use openpeer_gateway::peer::{Peer, PeerError, PeerOptions};
use openpeer_protocol::dev::DevDomain;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::link::LinkHello;
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::random::nonce;
use openpeer_protocol::signature::{SignatureSuite, SigningKey};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;
use support::federation::PASSWORD;
use support::federation::{Pair, Side, pair_with, published_peer};
use support::finder::{Socket, connect, exchange, find_request, good_in_own_domain};
use support::identity::{
    create_account_of, findable_file, login_of, lookup_body_at, lookup_update_body, peer_of,
    protocol_for,
};
use support::{TestDb, call, ok_body, post, start, stop, unix_now};

crate::on_both_backends!(
    pinned_keys_that_change_are_refused_and_nothing_is_stored,
    a_denied_domain_is_neither_asked_nor_trusted,
    a_foreign_peer_file_is_bound_only_when_its_salt_verifies_at_its_domain,
);

const LOOKUP: &str = "/openpeer/identity-lookup/identity-lookup";

fn domain(name: &str) -> DomainName {
    DomainName::parse(name).unwrap()
}

/// The lookup result items for `identities` (comma-separated names) of `base`, asked of the
/// gateway at `addr` (domain `name`).
async fn lookup(addr: SocketAddr, name: &str, base: &str, identities: &str) -> Vec<Object> {
    let body = protocol_for(
        name,
        Method::IdentityLookup,
        lookup_body_at(base, identities),
    );
    let answer = call(addr, LOOKUP, &body).await;
    ok_body(&answer)
        .get_object("identities")
        .map(|i| i.get_list("identity"))
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_object().cloned())
        .collect()
}

/// The one item of a lookup of `identity://beta.test/bob` at `alpha`.
async fn bobs_item(alpha: &RunningGateway) -> Object {
    let mut items = lookup(
        alpha.local_addr(),
        "alpha.test",
        "identity://beta.test/",
        "bob",
    )
    .await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].get_str("uri"), Some("identity://beta.test/bob"));
    items.remove(0)
}

/// The `$id` code of an item's `error`, if it has one.
fn error_code(item: &Object) -> Option<u64> {
    item.get_object("error").and_then(|e| e.get_u64("$id"))
}

/// Starts both sides of `pair` in process.
async fn start_pair(pair: &Pair) -> (RunningGateway, RunningGateway) {
    (
        start(pair.alpha.settings()).await,
        start(pair.beta.settings()).await,
    )
}

/// beta's certificates key, as a pin.
fn certificates_pin(beta: &RunningGateway) -> Pin {
    let published = beta.gateway().services.published();
    let signer = published
        .signer(ServiceType::Certificates, unix_now())
        .expect("certificates key");
    Pin::of(&signer.certificate.key)
}

async fn pinned_keys_that_change_are_refused_and_nothing_is_stored(db: TestDb) {
    // alpha pins a key beta does not have: beta's real key is "a key that changed".
    let other = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let wrong = Pin::of(other.public_key());
    let pair = pair_with(db, false, "", "");
    let alpha_config = std::fs::read_to_string(&pair.alpha.config).unwrap();
    std::fs::write(
        &pair.alpha.config,
        format!("{alpha_config}pins = [\"{wrong}\"]\n"),
    )
    .unwrap();
    let (alpha, beta) = start_pair(&pair).await;
    published_peer(&pair.beta, "bob", pair.beta.peer_options(&[])).await;
    let item = bobs_item(&alpha).await;
    assert_eq!(error_code(&item), Some(403), "{item:?}");
    assert!(item.get("peer").is_none());
    assert_eq!(pair.alpha.db.count("remote_certificates").await, 0);
    // With beta's real key pinned, the same lookup verifies.
    let right = certificates_pin(&beta);
    stop(alpha).await;
    std::fs::write(
        &pair.alpha.config,
        format!("{alpha_config}pins = [\"{right}\"]\n"),
    )
    .unwrap();
    let alpha = start(pair.alpha.settings()).await;
    let item = bobs_item(&alpha).await;
    assert_eq!(error_code(&item), None, "{item:?}");
    assert!(item.get_object("identityProofBundle").is_some());
    // identity-lookup-check is asked of beta too.
    let check = protocol_for(
        "alpha.test",
        Method::IdentityLookupCheck,
        lookup_body_at("identity://beta.test/", "bob,nobody"),
    );
    let checked = call(
        alpha.local_addr(),
        "/openpeer/identity-lookup/identity-lookup-check",
        &check,
    )
    .await;
    let checked = ok_body(&checked)
        .get_object("identities")
        .unwrap()
        .get_list("identity");
    assert_eq!(checked.len(), 1, "{checked:?}");
    let checked = checked[0].as_object().unwrap();
    assert_eq!(checked.get_str("uri"), Some("identity://beta.test/bob"));
    assert_eq!(checked.get_str("provider"), Some("local"));
    assert_eq!(checked.get_u64("updated"), item.get_u64("updated"));
    assert_eq!(pair.alpha.db.count("remote_certificates").await, 1);
    stop(alpha).await;
    stop(beta).await;
}

async fn a_denied_domain_is_neither_asked_nor_trusted(db: TestDb) {
    let pair = pair_with(
        db,
        false,
        "federation.policy = \"denylist\"\nfederation.deny = [\"beta.test\"]",
        "",
    );
    let (alpha, beta) = start_pair(&pair).await;
    let bob = published_peer(&pair.beta, "bob", pair.beta.peer_options(&[])).await;
    let item = bobs_item(&alpha).await;
    assert_eq!(error_code(&item), Some(403), "{item:?}");
    let alice = Peer::start(pair.alpha.peer_options(&[]))
        .await
        .expect("alice");
    let refused = alice.find(bob.public_peer_file()).await;
    assert!(
        matches!(refused, Err(PeerError::Refused { code: 403, .. })),
        "{refused:?}"
    );
    assert_eq!(pair.alpha.db.count("remote_certificates").await, 0);
    assert_eq!(beta.gateway().services.bridge().links.open_count(), 0);
    stop(alpha).await;
    stop(beta).await;
}

/// A loopback port where something accepts connections and never answers.
async fn hanging_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    async_std::task::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// alpha alone, with beta.test at `beta_url` and a one-second remote timeout, and alice bound to
/// `identity://alpha.test/alice`.
async fn alpha_with_beta_at(beta_url: &str) -> (TestDb, RunningGateway, Peer) {
    let db = TestDb::sqlite();
    let config = format!(
        "domain.name = \"alpha.test\"\nfederation.request_timeout_seconds = 1\n\
         [federation.domains.\"beta.test\"]\nurl = {beta_url:?}\n"
    );
    let alpha = start(db.settings(&config)).await;
    let side = Side {
        name: "alpha.test",
        addr: alpha.local_addr(),
        url: format!("http://{}", alpha.local_addr()),
        config: db.dir.join("unused.toml"),
        db,
    };
    let alice = published_peer(&side, "alice", side.peer_options(&[])).await;
    (side.db, alpha, alice)
}

#[async_std::test]
async fn a_remote_domain_that_is_down_or_hangs_leaves_local_service_fast() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let hanging = hanging_server().await;
    for (what, url) in [
        ("down", format!("http://{closed}")),
        ("hanging", format!("http://{hanging}")),
    ] {
        let (_db, alpha, alice) = alpha_with_beta_at(&url).await;
        let addr = alpha.local_addr();
        // A lookup naming a local and a remote identity: the local one is answered, the remote
        // one gets 480, within the one-second timeout (and a little).
        let started = Instant::now();
        let remote = async_std::task::spawn(async move {
            let body = Object::new().with(
                "providers",
                Object::new().with(
                    "provider",
                    Value::from_list(vec![
                        Value::Object(
                            Object::new()
                                .with("base", "identity://alpha.test/")
                                .with("identities", "alice"),
                        ),
                        Value::Object(
                            Object::new()
                                .with("base", "identity://beta.test/")
                                .with("identities", "bob"),
                        ),
                    ]),
                ),
            );
            let answer = call(
                addr,
                LOOKUP,
                &protocol_for("alpha.test", Method::IdentityLookup, body),
            )
            .await;
            (ok_body(&answer).clone(), started.elapsed())
        });
        // Meanwhile a purely local lookup is not held up.
        async_std::task::sleep(Duration::from_millis(100)).await;
        let local_started = Instant::now();
        let local = lookup(addr, "alpha.test", "identity://alpha.test/", "alice").await;
        let local_took = local_started.elapsed();
        assert_eq!(error_code(&local[0]), None, "{what}: {:?}", local[0]);
        assert!(
            local_took < Duration::from_millis(500),
            "{what}: local lookup took {local_took:?}"
        );
        let (body, took) = remote.await;
        let items = body
            .get_object("identities")
            .unwrap()
            .get_list("identity")
            .to_vec();
        assert_eq!(items.len(), 2, "{what}");
        let items: Vec<&Object> = items.iter().filter_map(Value::as_object).collect();
        assert_eq!(items[0].get_str("uri"), Some("identity://alpha.test/alice"));
        assert!(items[0].get("peer").is_some());
        assert_eq!(items[1].get_str("uri"), Some("identity://beta.test/bob"));
        assert_eq!(error_code(items[1]), Some(480), "{what}: {:?}", items[1]);
        assert!(
            took < Duration::from_secs(4),
            "{what}: the remote part took {took:?}"
        );
        // Within the back-off the domain is not asked again: the next lookup answers at once.
        let started = Instant::now();
        let again = lookup(addr, "alpha.test", "identity://beta.test/", "bob").await;
        assert_eq!(error_code(&again[0]), Some(480), "{what}: {:?}", again[0]);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(300),
            "{what}: asked again, {took:?}"
        );
        // A find for a peer of beta gets 480 within the timeout, while a find between two
        // peers of alpha is answered at once.
        // The find never gets far enough for anyone to check bob's salt.
        let (_, bob) = impostor_peer("beta.test");
        let bob_again = bob.clone();
        let finder = alice.clone();
        let started = Instant::now();
        let remote = async_std::task::spawn(async move {
            let outcome = finder.find(&bob).await;
            (outcome, started.elapsed())
        });
        async_std::task::sleep(Duration::from_millis(100)).await;
        let dave = Peer::start(PeerOptions::new(
            format!("http://{addr}"),
            domain("alpha.test"),
        ))
        .await
        .expect("dave");
        let listener = dave.clone();
        let accepting = async_std::task::spawn(async move { listener.accept().await });
        let local_started = Instant::now();
        alice
            .find(dave.public_peer_file())
            .await
            .unwrap_or_else(|e| panic!("{what}: a local find failed: {e}"));
        accepting.await.expect("dave accepts");
        let local_took = local_started.elapsed();
        assert!(
            local_took < Duration::from_secs(1),
            "{what}: local find took {local_took:?}"
        );
        let (outcome, took) = remote.await;
        assert!(
            matches!(outcome, Err(PeerError::Refused { code: 480, .. })),
            "{what}: {outcome:?}"
        );
        assert!(
            took < Duration::from_secs(4),
            "{what}: the remote find took {took:?}"
        );
        // No link could be opened: within the back-off the next find is refused at once.
        let started = Instant::now();
        let again = alice.find(&bob_again).await;
        assert!(
            matches!(again, Err(PeerError::Refused { code: 480, .. })),
            "{what}: {again:?}"
        );
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "{what}: retried, {took:?}"
        );
        stop(alpha).await;
    }
}

/// A findable peer of `domain` as an impostor makes it: on a salt signed with keys that domain
/// never had. Its key and public peer file.
fn impostor_peer(name: &str) -> (SigningKey, PublicPeerFile) {
    let impostor = DevDomain::generate(
        domain(name),
        SignatureSuite::Ed25519,
        unix_now() + 86_400,
        &mut OsRng,
    )
    .unwrap();
    let salt = impostor.salt_bundle(&mut OsRng);
    let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let file = findable_file(&key, &salt);
    (key, file)
}

/// A finder-to-finder link client to `side`, as if from alpha.
async fn open_link(beta: &Side) -> (FinderLink, async_std::channel::Receiver<LinkEvent>) {
    let http = HttpClient::new(&[], Duration::from_secs(5)).unwrap();
    let url = format!("ws://{}/federation/link", beta.addr);
    FinderLink::connect(
        &url,
        domain("beta.test"),
        http.tls_connector(),
        Duration::from_secs(5),
    )
    .await
    .expect("link WebSocket")
}

/// A `link-hello` body from alpha's node, signed with `key` (alpha's finder key unless forged).
fn hello(alpha: &RunningGateway, to: &str, expires: u64, forged: bool) -> Object {
    let published = alpha.gateway().services.published();
    let signer = published.signer(ServiceType::Finder, unix_now()).unwrap();
    let other = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let key = if forged { &other } else { &signer.key };
    LinkHello {
        domain: domain("alpha.test"),
        node: "node-1".into(),
        to: domain(to),
        nonce: nonce(&mut OsRng),
        expires,
    }
    .sign(
        key,
        &signer.certificate.reference(&domain("alpha.test")),
        &mut OsRng,
    )
}

/// Sends `body` as the link's first request and returns the refusal code, checking the link is
/// then closed and beta holds no link.
async fn refused_greeting(pair: &Pair, beta: &RunningGateway, method: Method, body: Object) -> u16 {
    let (link, _events) = open_link(&pair.beta).await;
    let code = match link.request(method, body).await {
        Err(openpeer_federation::Error::Refused { code, .. }) => code,
        other => panic!("greeting not refused: {other:?}"),
    };
    async_std::future::timeout(Duration::from_secs(5), link.closed())
        .await
        .expect("beta closes a link it refused");
    no_links_within(beta, Duration::from_secs(5)).await;
    code
}

/// Waits until `gateway` holds no finder link; panics after `limit`.
async fn no_links_within(gateway: &RunningGateway, limit: Duration) {
    let links = &gateway.gateway().services.bridge().links;
    let started = Instant::now();
    while links.open_count() > 0 {
        assert!(started.elapsed() < limit, "a closed link is still counted");
        async_std::task::sleep(Duration::from_millis(20)).await;
    }
}

#[async_std::test]
async fn link_hellos_that_are_forged_replayed_expired_or_misaddressed_are_refused() {
    let pair = pair_with(TestDb::sqlite(), false, "", "");
    let (alpha, beta) = start_pair(&pair).await;
    let now = unix_now();
    let forged = hello(&alpha, "beta.test", now + 60, true);
    assert_eq!(
        refused_greeting(&pair, &beta, Method::LinkHello, forged).await,
        403
    );
    let expired = hello(&alpha, "beta.test", now - 1, false);
    assert_eq!(
        refused_greeting(&pair, &beta, Method::LinkHello, expired).await,
        401
    );
    let misaddressed = hello(&alpha, "gamma.test", now + 60, false);
    assert_eq!(
        refused_greeting(&pair, &beta, Method::LinkHello, misaddressed).await,
        403
    );
    let not_first = Object::new().with("findProofBundle", Object::new());
    assert_eq!(
        refused_greeting(&pair, &beta, Method::PeerLocationFind, not_first).await,
        400
    );
    // A good greeting is accepted once; the same greeting again is a replay.
    let good_hello = hello(&alpha, "beta.test", now + 60, false);
    let (link, _events) = open_link(&pair.beta).await;
    link.request(Method::LinkHello, good_hello.clone())
        .await
        .expect("a good greeting");
    assert_eq!(beta.gateway().services.bridge().links.open_count(), 1);
    assert_eq!(refused_greeting_with(&pair, good_hello).await, 403);
    // A malformed message on an open link is answered 400 and the link stays.
    link.send_text("{not json".to_owned()).await.unwrap();
    // A peer's method on a link is not served.
    let keep_alive = protocol_for("alpha.test", Method::SessionKeepAlive, Object::new());
    let answer = link
        .request_text("t-1", keep_alive)
        .await
        .expect("an answer");
    assert_eq!(answer.error().unwrap().unwrap().code, 501);
    assert!(!link.is_closed());
    // An oversized message closes it.
    link.send_text(format!(
        "{{\"request\":{{\"x\":\"{}\"}}}}",
        "x".repeat(70_000)
    ))
    .await
    .unwrap();
    async_std::future::timeout(Duration::from_secs(5), link.closed())
        .await
        .expect("an oversized message closes the link");
    no_links_within(&beta, Duration::from_secs(5)).await;
    stop(alpha).await;
    stop(beta).await;
}

/// [`refused_greeting`] of a `link-hello` without the link-count check (another link is open).
async fn refused_greeting_with(pair: &Pair, body: Object) -> u16 {
    let (link, _events) = open_link(&pair.beta).await;
    match link.request(Method::LinkHello, body).await {
        Err(openpeer_federation::Error::Refused { code, .. }) => code,
        other => panic!("greeting not refused: {other:?}"),
    }
}

/// Whether `socket` receives a text message within `wait`.
async fn receives(socket: &mut Socket, wait: Duration) -> Option<String> {
    match async_std::future::timeout(wait, socket.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

#[async_std::test]
async fn finds_over_a_link_are_checked_like_local_ones_and_forwarded_verbatim() {
    let pair = pair_with(TestDb::sqlite(), false, "", "");
    let (alpha, beta) = start_pair(&pair).await;
    // bob registers at beta with a raw finder socket, to see exactly what reaches him.
    let (key, file) = peer_of(beta.local_addr(), "beta.test").await;
    let mut bob = connect(beta.local_addr()).await;
    let created = exchange(&mut bob, good_in_own_domain(&key, &file)).await;
    assert!(created.error().is_none(), "{created:?}");
    let secret = file.find_secret().expect("findable").to_owned();
    let (link, _events) = open_link(&pair.beta).await;
    link.request(
        Method::LinkHello,
        hello(&alpha, "beta.test", unix_now() + 60, false),
    )
    .await
    .expect("greeted");
    let metrics = support::get(beta.local_addr(), "/metrics").await.text();
    assert!(
        metrics.contains("\nopenpeer_federation_links 1\n"),
        "{metrics}"
    );
    // A requester of a third domain over alpha's link.
    let gamma_peer = format!("peer://gamma.test/{}", "a".repeat(64));
    let alpha_peer = format!("peer://alpha.test/{}", "b".repeat(64));
    let bob_uri = file.contact().to_string();
    let (id, text) = find_request("alpha.test", &gamma_peer, None, &bob_uri, &secret);
    let answer = link.request_text(&id, text).await.expect("an answer");
    assert_eq!(answer.error().unwrap().unwrap().code, 403, "{answer:?}");
    // A wrong find secret.
    let (id, text) = find_request("alpha.test", &alpha_peer, None, &bob_uri, "not the secret");
    let answer = link.request_text(&id, text).await.expect("an answer");
    assert_eq!(answer.error().unwrap().unwrap().code, 403);
    assert_eq!(
        receives(&mut bob, Duration::from_millis(300)).await,
        None,
        "bob saw a refused find"
    );
    // A good one reaches bob byte for byte.
    let (id, text) = find_request("alpha.test", &alpha_peer, None, &bob_uri, &secret);
    let answer = link
        .request_text(&id, text.clone())
        .await
        .expect("an answer");
    assert!(answer.error().is_none(), "{answer:?}");
    let located = answer
        .body
        .get_object("locations")
        .unwrap()
        .get_list("location");
    assert_eq!(located.len(), 1);
    assert_eq!(receives(&mut bob, Duration::from_secs(2)).await, Some(text));
    stop(alpha).await;
    stop(beta).await;
}

/// A stand-in for beta.test that serves the given `certificates-get` body. Its `services-get`
/// is a static file server's: the well-known URL answers GET only (POST gets 405), with a 302
/// result to a second URL that again answers GET only — so reaching its certificates at all
/// takes the GET fallback and a redirect.
async fn lying_domain(certificates: Object) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = format!("http://{addr}");
    let result = |method: Method, body: Object| {
        let envelope = Envelope {
            domain: Some("beta.test".into()),
            ..Envelope::new(MessageKind::Result, method)
        };
        message::encode(&Message::new(envelope, body))
    };
    let redirect = result(
        Method::ServicesGet,
        Object::new().with(
            "error",
            Object::new()
                .with("$id", 302u64)
                .with("#text", "Found")
                .with("location", format!("{base}/services")),
        ),
    );
    let method =
        |name: &str, uri: String| Value::Object(Object::new().with("name", name).with("uri", uri));
    let services = Object::new().with(
        "services",
        Object::new().with(
            "service",
            Object::new()
                .with("$id", "c")
                .with("type", "certificates")
                .with(
                    "methods",
                    Object::new().with(
                        "method",
                        method("certificates-get", format!("{base}/certificates")),
                    ),
                ),
        ),
    );
    let services_get = result(Method::ServicesGet, services);
    let certificates_get = result(Method::CertificatesGet, certificates);
    let fixed = |answer: String| {
        move |_: tide::Request<()>| {
            let answer = answer.clone();
            async move { Ok(answer) }
        }
    };
    let mut app = tide::new();
    app.at("/.well-known/openpeer-services-get")
        .get(fixed(redirect));
    app.at("/services").get(fixed(services_get));
    app.at("/certificates").post(fixed(certificates_get));
    async_std::task::spawn(app.listen(addr));
    support::wait_for_port(addr).await;
    base
}

#[async_std::test]
async fn certificates_re_signed_by_another_key_are_refused() {
    // beta's genuine certificates, with its salt certificate re-signed by a key beta never had.
    let beta_db = TestDb::sqlite();
    let beta = start(beta_db.settings("domain.name = \"beta.test\"")).await;
    let genuine = call(
        beta.local_addr(),
        support::CERTIFICATES_GET,
        &support::request_for("beta.test", "certificates", "certificates-get", ""),
    )
    .await;
    let genuine = ok_body(&genuine).clone();
    stop(beta).await;
    let other = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let bundles: Vec<Value> = genuine
        .get_object("certificates")
        .unwrap()
        .get_list("certificateBundle")
        .iter()
        .map(|bundle| {
            let bundle = bundle.as_object().unwrap();
            let certificate = bundle.get_object("certificate").unwrap();
            if certificate.get_str("service") != Some("salt") {
                return Value::Object(bundle.clone());
            }
            let named = openpeer_protocol::signature::KeyReference::from_object(
                bundle
                    .get_object("signature")
                    .unwrap()
                    .get_object("key")
                    .unwrap(),
            )
            .unwrap();
            Value::Object(openpeer_protocol::signature::sign_bundle(
                "certificate",
                certificate.clone(),
                &other,
                &named,
                &mut OsRng,
            ))
        })
        .collect();
    let forged = Object::new().with(
        "certificates",
        Object::new().with("certificateBundle", Value::from_list(bundles)),
    );
    let liar = lying_domain(forged).await;
    let (db, alpha, _alice) = alpha_with_beta_at(&liar).await;
    let item = bobs_item(&alpha).await;
    assert_eq!(error_code(&item), Some(403), "{item:?}");
    assert_eq!(db.count("remote_certificates").await, 0);
    stop(alpha).await;
}

async fn a_foreign_peer_file_is_bound_only_when_its_salt_verifies_at_its_domain(db: TestDb) {
    let pair = pair_with(db, false, "", "");
    let (alpha, beta) = start_pair(&pair).await;
    create_account_of(&pair.alpha.db, "alpha.test", "carol", PASSWORD).await;
    let body = format!("{{\"username\":\"carol\",\"password\":\"{PASSWORD}\"}}");
    let login = login_of(
        &post(alpha.local_addr(), "/identity/v1/local/login", &body)
            .await
            .message(),
    );
    let update = |key: &SigningKey, file: &PublicPeerFile| {
        protocol_for(
            "alpha.test",
            Method::IdentityLookupUpdate,
            lookup_update_body(&login, key, file),
        )
    };
    const UPDATE: &str = "/openpeer/identity/identity-lookup-update";
    // A peer file on a salt beta really signed: alpha checks it under beta's certificates.
    let (key, file) = peer_of(beta.local_addr(), "beta.test").await;
    let bound = call(alpha.local_addr(), UPDATE, &update(&key, &file)).await;
    assert!(bound.error().is_none(), "{bound:?}");
    assert_eq!(pair.alpha.db.count("lookup_entries").await, 1);
    // One on a salt "beta.test" signed with keys beta never had.
    let (forged_key, forged) = impostor_peer("beta.test");
    let refused = call(alpha.local_addr(), UPDATE, &update(&forged_key, &forged)).await;
    assert_eq!(
        refused
            .error()
            .expect("refused")
            .expect("an error element")
            .code,
        403
    );
    // The binding is still the first peer's.
    let item = lookup(
        alpha.local_addr(),
        "alpha.test",
        "identity://alpha.test/",
        "carol",
    )
    .await;
    let peer = Object::new().with("peer", item[0].get_object("peer").unwrap().clone());
    assert_eq!(
        PublicPeerFile::validate(&peer, unix_now(), None)
            .unwrap()
            .contact(),
        file.contact()
    );
    stop(alpha).await;
    stop(beta).await;
}

#[async_std::test]
async fn links_beyond_the_cap_are_closed_unanswered() {
    let pair = pair_with(TestDb::sqlite(), false, "", "federation.max_links = 1");
    let (alpha, beta) = start_pair(&pair).await;
    let (first, _events) = open_link(&pair.beta).await;
    first
        .request(
            Method::LinkHello,
            hello(&alpha, "beta.test", unix_now() + 60, false),
        )
        .await
        .expect("the first link is greeted");
    let (second, _events) = open_link(&pair.beta).await;
    let refused = second
        .request(
            Method::LinkHello,
            hello(&alpha, "beta.test", unix_now() + 60, false),
        )
        .await;
    assert!(
        matches!(refused, Err(openpeer_federation::Error::LinkClosed)),
        "{refused:?}"
    );
    assert_eq!(beta.gateway().services.bridge().links.open_count(), 1);
    assert!(!first.is_closed());
    stop(alpha).await;
    stop(beta).await;
}
