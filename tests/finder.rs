//! The finder's sessions over its WebSocket (issue 4/4, first part), on SQLite and PostgreSQL:
//! `session-create` with every check of spec §6.11, `session-keep-alive` on the same connection
//! only, `session-delete`, and the registry kept consistent on refusals and disconnects.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt as _;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::dev::DevDomain;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{self, Envelope, Message, Method};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::random::nonce;
use openpeer_protocol::seal::open;
use openpeer_protocol::signature::{SignatureSuite, SigningKey, verify_bundle};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;
use support::finder::{connect, exchange, good, session_create, session_create_at};
use support::identity::{findable_file, peer, protocol};
use support::{
    CERTIFICATES_GET, TestDb, call, error_code, ok_body, request, start, stop, unix_now,
};

crate::on_both_backends!(
    a_peer_registers_keeps_alive_and_leaves,
    session_delete_removes_this_listed_or_every_location,
    every_refusal_leaves_the_registry_unchanged,
    a_disconnect_forgets_the_location,
);

async fn a_peer_registers_keeps_alive_and_leaves(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    for suite in [
        SignatureSuite::Ed25519,
        SignatureSuite::RsaSha1ForLegacyUseOnly,
    ] {
        let (key, file) = peer_of(addr, suite).await;
        let mut ws = connect(addr).await;
        let created = exchange(&mut ws, good(&key, &file)).await;
        let body = ok_body(&created);
        let expires = body.get_u64("expires").expect("expires");
        assert!(expires.abs_diff(unix_now() + 600) < 10, "expires {expires}");
        assert!(
            body.get_str("server")
                .unwrap()
                .starts_with("openpeer-gateway/")
        );
        // The server proof is signed by this domain's finder certificate and its relay secret
        // opens only with the peer's key.
        let certificates = call(
            addr,
            CERTIFICATES_GET,
            &request("certificates", "certificates-get", ""),
        )
        .await;
        let set = CertificateSet::from_certificates_get(
            &DomainName::parse("localhost").unwrap(),
            ok_body(&certificates),
            unix_now(),
        )
        .unwrap();
        let bundle = body.get_object("serverProofBundle").unwrap();
        let proof = verify_bundle(bundle, "serverProof", &set).expect("server proof verifies");
        let relay = proof.get().get_object("relay").unwrap();
        assert_eq!(relay.get_str("accessToken").unwrap().len(), 32);
        let secret = open(&key, relay.get_str("accessSecretEncrypted").unwrap()).expect("opens");
        assert_eq!(secret.len(), 32);
        assert_eq!(db.count("finder_locations").await, 1);

        let kept = exchange(&mut ws, protocol(Method::SessionKeepAlive, Object::new())).await;
        assert!(ok_body(&kept).get_u64("expires").unwrap() >= expires);
        // A keep-alive from another connection finds no session there.
        let mut other = connect(addr).await;
        assert_eq!(
            error_code(
                &exchange(
                    &mut other,
                    protocol(Method::SessionKeepAlive, Object::new())
                )
                .await
            ),
            404
        );

        let deleted = exchange(&mut ws, protocol(Method::SessionDelete, Object::new())).await;
        let removed = ok_body(&deleted)
            .get_object("locations")
            .unwrap()
            .get_list("location");
        assert_eq!(removed.len(), 1);
        assert_eq!(
            removed[0].as_object().unwrap().get_str("$id"),
            Some("location-1")
        );
        assert_eq!(db.count("finder_locations").await, 0);
        assert_eq!(
            error_code(&exchange(&mut ws, protocol(Method::SessionKeepAlive, Object::new())).await),
            404
        );
    }
    stop(node).await;
}

async fn peer_of(addr: SocketAddr, suite: SignatureSuite) -> (SigningKey, PublicPeerFile) {
    if suite == SignatureSuite::Ed25519 {
        return peer(addr).await;
    }
    let salts = call(
        addr,
        "/openpeer/salt/signed-salt-get",
        &request("peer-salt", "signed-salt-get", ""),
    )
    .await;
    let salt = ok_body(&salts)
        .get_object("salts")
        .unwrap()
        .get_list("saltBundle")[0]
        .as_object()
        .unwrap()
        .clone();
    let key = SigningKey::generate(suite, &mut OsRng).unwrap();
    let file = findable_file(&key, &salt);
    (key, file)
}

/// `document` with its envelope changed by `change`.
fn with_envelope(document: &str, change: impl FnOnce(&mut Envelope)) -> String {
    let mut message = message::decode(document).expect("a message");
    change(&mut message.envelope);
    message::encode(&message)
}

async fn every_refusal_leaves_the_registry_unchanged(db: TestDb) {
    let node = start(db.settings("[limits]\nmax_body_bytes = 16384\n")).await;
    let addr = node.local_addr();
    let (key, file) = peer(addr).await;
    let contact = file.contact().to_string();
    let other = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    // A peer of another domain: its salt is signed by other.org.
    let foreign_domain = DevDomain::generate(
        DomainName::parse("other.org").unwrap(),
        SignatureSuite::Ed25519,
        unix_now() + 86_400,
        &mut OsRng,
    )
    .unwrap();
    let foreign_salt = foreign_domain.salt_bundle(&mut OsRng);
    let foreign = findable_file(&key, &foreign_salt);
    let now = unix_now();
    let replayed_nonce = nonce(&mut OsRng);
    let first = session_create(&key, &file, "node-1", &contact, now + 3600, &replayed_nonce);
    let mut ws = connect(addr).await;
    ok_body(&exchange(&mut ws, first.clone()).await);
    exchange(&mut ws, protocol(Method::SessionDelete, Object::new())).await;
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "forged: signed by another key",
            session_create(
                &other,
                &file,
                "node-1",
                &contact,
                now + 3600,
                &nonce(&mut OsRng),
            ),
            403,
        ),
        (
            "wrong contact",
            session_create(
                &key,
                &file,
                "node-1",
                "peer://localhost/0000000000000000000000000000000000000000000000000000000000000000",
                now + 3600,
                &nonce(&mut OsRng),
            ),
            403,
        ),
        (
            "expired",
            session_create(&key, &file, "node-1", &contact, now - 1, &nonce(&mut OsRng)),
            401,
        ),
        ("replayed nonce", first, 403),
        (
            "another finder",
            session_create(
                &key,
                &file,
                "node-2",
                &contact,
                now + 3600,
                &nonce(&mut OsRng),
            ),
            403,
        ),
        (
            "peer of another domain",
            session_create(
                &key,
                &foreign,
                "node-1",
                &foreign.contact().to_string(),
                now + 3600,
                &nonce(&mut OsRng),
            ),
            403,
        ),
        (
            "addressed to another domain",
            with_envelope(&good(&key, &file), |e| {
                e.domain = Some("example.org".into())
            }),
            404,
        ),
        (
            "$timestamp an hour off",
            with_envelope(&good(&key, &file), |e| e.timestamp = Some(now - 3600)),
            401,
        ),
        ("malformed JSON", "{\"request\":".to_owned(), 400),
        (
            "no proof",
            protocol(Method::SessionCreate, Object::new()),
            400,
        ),
        (
            "find without a proof",
            protocol(Method::PeerLocationFind, Object::new()),
            400,
        ),
        (
            "unknown method",
            "{\"request\":{\"$id\":\"x\",\"$handler\":\"peer-finder\",\"$method\":\"nope\"}}"
                .to_owned(),
            501,
        ),
    ];
    for (case, document, code) in cases {
        let mut ws = connect(addr).await;
        assert_eq!(
            error_code(&exchange(&mut ws, document).await),
            code,
            "{case}"
        );
        assert_eq!(db.count("finder_locations").await, 0, "{case}");
        assert_eq!(
            error_code(&exchange(&mut ws, protocol(Method::SessionKeepAlive, Object::new())).await),
            404,
            "{case}"
        );
    }
    // An oversize message closes the connection and registers nothing.
    let mut ws = connect(addr).await;
    ws.send(WsMessage::text("x".repeat(20_000))).await.ok();
    let closed = async_std::future::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true));
    assert_eq!(db.count("finder_locations").await, 0);
    // The finder still serves.
    let mut ws = connect(addr).await;
    ok_body(&exchange(&mut ws, good(&key, &file)).await);
    stop(node).await;
}

async fn a_disconnect_forgets_the_location(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let (key, file) = peer(addr).await;
    let mut ws = connect(addr).await;
    ok_body(&exchange(&mut ws, good(&key, &file)).await);
    assert_eq!(db.count("finder_locations").await, 1);
    drop(ws);
    // The vanished peer's location is forgotten.
    db.wait_for_count("finder_locations", 0).await;
    stop(node).await;
}

/// The three forms of spec §6.11: no `locations` (this connection's), a list (those of the
/// peer's locations, wherever registered), an empty list (every location of the peer).
async fn session_delete_removes_this_listed_or_every_location(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let (key, file) = peer(addr).await;
    let (other_key, other_file) = peer(addr).await;
    let contact = file.contact().to_string();
    let register = |location: &'static str| {
        session_create_at(
            location,
            &key,
            &file,
            "node-1",
            &contact,
            unix_now() + 3600,
            &nonce(&mut OsRng),
        )
    };
    let mut first = connect(addr).await;
    let mut second = connect(addr).await;
    let mut third = connect(addr).await;
    let mut bystander = connect(addr).await;
    ok_body(&exchange(&mut first, register("location-1")).await);
    ok_body(&exchange(&mut second, register("location-2")).await);
    ok_body(&exchange(&mut third, register("location-3")).await);
    ok_body(&exchange(&mut bystander, good(&other_key, &other_file)).await);
    assert_eq!(db.count("finder_locations").await, 4);
    let removed_ids = |answer: &Message| -> Vec<String> {
        let mut ids: Vec<String> = ok_body(answer)
            .get_object("locations")
            .unwrap()
            .get_list("location")
            .iter()
            .map(|l| l.as_object().unwrap().get_str("$id").unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let listed = protocol(
        Method::SessionDelete,
        Object::new().with(
            "locations",
            Object::new().with("location", Object::new().with("$id", "location-2")),
        ),
    );
    assert_eq!(
        removed_ids(&exchange(&mut first, listed).await),
        ["location-2"]
    );
    assert_eq!(db.count("finder_locations").await, 3);
    let every = protocol(
        Method::SessionDelete,
        Object::new().with(
            "locations",
            Object::new().with("location", Value::from_list(vec![])),
        ),
    );
    assert_eq!(
        removed_ids(&exchange(&mut third, every).await),
        ["location-1", "location-3"]
    );
    // The other peer's location stays; without a list, a connection removes only its own.
    assert_eq!(db.count("finder_locations").await, 1);
    let own = protocol(Method::SessionDelete, Object::new());
    assert!(removed_ids(&exchange(&mut first, own).await).is_empty());
    let own = protocol(Method::SessionDelete, Object::new());
    assert_eq!(
        removed_ids(&exchange(&mut bystander, own).await),
        ["location-1"]
    );
    assert_eq!(db.count("finder_locations").await, 0);
    stop(node).await;
}
