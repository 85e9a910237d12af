//! The peer client without a gateway: finds, notifies, `peer-identify`, datagrams and relay
//! proofs from both ends, and direct hand-offs over real UDP sockets. Everything through the
//! real finder is in `tests/peer.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openpeer_federation::http::HttpClient;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::dev::DevDomain;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::Method;
use openpeer_protocol::peer_file::{PeerFileOptions, PublicPeerFile};
use openpeer_protocol::proof::channel_map_inner;
use openpeer_protocol::random::random_string;
use openpeer_protocol::signature::{KeyReference, SignatureSuite, SigningKey, sign_bundle};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::find::{
    find_notify, find_request, new_context, verify_find_notify, verify_find_request,
};
use super::location::{Local, read_candidates};
use super::nonces::NonceCache;
use super::p2p::{datagram, identify_request, open_datagram, verify_identify};
use super::relay::{RelayAccess, channel_map_request};
use super::session::keep_alive_delay;
use super::*;

/// A development domain `localhost` and its verified certificates.
struct TestDomain {
    dev: DevDomain,
    certificates: CertificateSet,
}

fn test_domain() -> TestDomain {
    let name = DomainName::parse("localhost").unwrap();
    let dev = DevDomain::generate(
        name.clone(),
        SignatureSuite::Ed25519,
        unix_now() + 86_400,
        &mut OsRng,
    )
    .unwrap();
    let certificates = CertificateSet::from_certificates_get(
        &name,
        &dev.certificates_get_result(&mut OsRng),
        unix_now(),
    )
    .unwrap();
    TestDomain { dev, certificates }
}

/// A findable peer of `domain` advertising `host`.
fn local(domain: &TestDomain, host: SocketAddr) -> Local {
    let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let salt = domain.dev.salt_bundle(&mut OsRng);
    let now = unix_now();
    let options = PeerFileOptions {
        salt_bundle: &salt,
        created: now,
        expires: now + 86_400,
        findable: true,
    };
    let file = PublicPeerFile::generate(&key, &options, &mut OsRng).unwrap();
    Local {
        key,
        file,
        location_id: random_string(&mut OsRng, 16),
        host,
    }
}

fn somewhere() -> SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

fn tls() -> futures_rustls::TlsConnector {
    HttpClient::new(&[], Duration::from_secs(5))
        .unwrap()
        .tls_connector()
        .clone()
}

/// A running peer without a finder: its UDP socket bound and read, advertising `advertised`
/// (or its own address).
async fn running(domain: &TestDomain, advertised: Option<SocketAddr>) -> Arc<PeerInner> {
    let (socket, host) = direct::bind("127.0.0.1:0".parse().unwrap(), advertised)
        .await
        .unwrap();
    let timeouts = Timeouts {
        request: Duration::from_secs(5),
        direct: Duration::from_millis(500),
        relay: Duration::from_secs(5),
        find: Duration::from_secs(5),
    };
    PeerInner::new(
        local(domain, host),
        domain.certificates.clone(),
        socket,
        tls(),
        timeouts,
    )
}

/// `bundle.<proof>.<key>` of `body` replaced by `value`, the signature left as it was.
fn tampered(body: &Object, bundle: &str, proof: &str, key: &str, value: Value) -> Object {
    let mut outer = body.get_object(bundle).unwrap().clone();
    let mut inner = outer.get_object(proof).unwrap().clone();
    inner.insert(key, value);
    outer.insert(proof, inner);
    Object::new().with(bundle, outer)
}

/// Finds `b` from `a` the way the finder would carry it (request to `b`, notify back), then
/// hands off and accepts.
async fn connect(a: &Arc<PeerInner>, b: &Arc<PeerInner>) -> (Connection, Connection) {
    let now = unix_now();
    let (body, outgoing) = find_request(&a.local, &b.local.file, now).unwrap();
    let notify = b.answer_find(&body, now).unwrap();
    let found = verify_find_notify(&outgoing, &notify).unwrap();
    let listener = Peer {
        inner: Arc::clone(b),
    };
    let (found_side, accepted) =
        futures_lite::future::zip(a.hand_off(&outgoing, found), listener.accept()).await;
    (found_side.unwrap(), accepted.unwrap())
}

/// Three datagrams each way, in order.
async fn talk(a: &Connection, b: &Connection) {
    for i in 0..3 {
        a.send(format!("a{i}")).await.unwrap();
        b.send(format!("b{i}")).await.unwrap();
    }
    for i in 0..3 {
        assert_eq!(b.recv().await.unwrap(), format!("a{i}").into_bytes());
        assert_eq!(a.recv().await.unwrap(), format!("b{i}").into_bytes());
    }
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    async_std::future::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what} took too long"))
}

#[test]
fn a_find_is_answered_by_its_target_only_once() {
    let domain = test_domain();
    let a = local(&domain, somewhere());
    let b = local(&domain, somewhere());
    let c = local(&domain, somewhere());
    let now = unix_now();
    let mut nonces = NonceCache::new(100);
    let (body, _) = find_request(&a, &b.file, now).unwrap();
    let incoming = verify_find_request(&b, &body, now, &mut nonces).unwrap();
    assert_eq!(&incoming.requester, a.contact());
    assert_eq!(incoming.peer_secret.len(), 32);
    assert_eq!(
        verify_find_request(&b, &body, now, &mut nonces).err(),
        Some(Rejection::Replayed)
    );
    let (body, _) = find_request(&a, &b.file, now).unwrap();
    assert_eq!(
        verify_find_request(&c, &body, now, &mut nonces).err(),
        Some(Rejection::NotForMe)
    );
    // Made with C's find secret but naming B.
    let (for_c, _) = find_request(&a, &c.file, now).unwrap();
    let wrong = tampered(
        &for_c,
        "findProofBundle",
        "findProof",
        "find",
        Value::from(b.contact().to_string()),
    );
    assert_eq!(
        verify_find_request(&b, &wrong, now, &mut nonces).err(),
        Some(Rejection::WrongSecret)
    );
    let (old, _) = find_request(&a, &b.file, now - 1000).unwrap();
    assert_eq!(
        verify_find_request(&b, &old, now, &mut nonces).err(),
        Some(Rejection::Expired)
    );
    // The peer secret sealed to C: B cannot open it.
    let sealed_to_c = for_c
        .get_object("findProofBundle")
        .and_then(|b| b.get_object("findProof"))
        .and_then(|p| p.get_str("peerSecretEncrypted"))
        .unwrap()
        .to_owned();
    let (body, _) = find_request(&a, &b.file, now).unwrap();
    let unopenable = tampered(
        &body,
        "findProofBundle",
        "findProof",
        "peerSecretEncrypted",
        Value::from(sealed_to_c),
    );
    assert_eq!(
        verify_find_request(&b, &unopenable, now, &mut nonces).err(),
        Some(Rejection::WrongSecret)
    );
    // Claims to come from C but is signed as A.
    let (body, _) = find_request(&a, &b.file, now).unwrap();
    let mut location = a.location(Vec::new());
    location.insert("contact", c.contact().to_string());
    let impostor = tampered(
        &body,
        "findProofBundle",
        "findProof",
        "location",
        Value::Object(location),
    );
    assert_eq!(
        verify_find_request(&b, &impostor, now, &mut nonces).err(),
        Some(Rejection::BadSignature)
    );
    for junk in [
        Object::new(),
        Object::new().with("findProofBundle", "x"),
        tampered(
            &body,
            "findProofBundle",
            "findProof",
            "find",
            Value::from("nope"),
        ),
    ] {
        assert!(matches!(
            verify_find_request(&b, &junk, now, &mut nonces),
            Err(Rejection::Malformed(_))
        ));
    }
    // Not findable: no Section B to prove.
    let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let salt = domain.dev.salt_bundle(&mut OsRng);
    let hidden = PublicPeerFile::generate(
        &key,
        &PeerFileOptions {
            salt_bundle: &salt,
            created: now,
            expires: now + 60,
            findable: false,
        },
        &mut OsRng,
    )
    .unwrap();
    assert!(matches!(
        find_request(&a, &hidden, now),
        Err(PeerError::NotFindable)
    ));
}

#[test]
fn a_notify_must_answer_this_find_and_be_signed_by_its_target() {
    let domain = test_domain();
    let a = local(&domain, somewhere());
    let b = local(&domain, "127.0.0.1:4242".parse().unwrap());
    let c = local(&domain, somewhere());
    let now = unix_now();
    let mut nonces = NonceCache::new(100);
    let (body, outgoing) = find_request(&a, &b.file, now).unwrap();
    let incoming = verify_find_request(&b, &body, now, &mut nonces).unwrap();
    let context = new_context();
    let notify = find_notify(&b, &incoming, &context, None);
    let found = verify_find_notify(&outgoing, &notify).unwrap();
    assert_eq!(found.context, context);
    assert_eq!(found.host, Some(b.host));
    assert!(found.relay.is_none());
    // Another find of A's does not take this notify.
    let (_, other) = find_request(&a, &b.file, now).unwrap();
    assert_eq!(
        verify_find_notify(&other, &notify).err(),
        Some(Rejection::UnknownFind)
    );
    // The same answer signed by C, or altered after B signed it.
    let proof = notify
        .get_object("findProofBundle")
        .and_then(|b| b.get_object("findProof"))
        .unwrap()
        .clone();
    let forged = Object::new().with(
        "findProofBundle",
        sign_bundle(
            "findProof",
            proof,
            &c.key,
            &KeyReference::Uri(b.contact().clone()),
            &mut OsRng,
        ),
    );
    assert_eq!(
        verify_find_notify(&outgoing, &forged).err(),
        Some(Rejection::BadSignature)
    );
    let altered = tampered(
        &notify,
        "findProofBundle",
        "findProof",
        "context",
        Value::from("mine"),
    );
    assert_eq!(
        verify_find_notify(&outgoing, &altered).err(),
        Some(Rejection::BadSignature)
    );
    assert!(matches!(
        verify_find_notify(&outgoing, &Object::new()),
        Err(Rejection::Malformed(_))
    ));
}

#[test]
fn peer_identify_proves_the_caller_and_its_knowledge_of_the_find_secret() {
    let domain = test_domain();
    let a = local(&domain, somewhere());
    let b = local(&domain, somewhere());
    let c = local(&domain, somewhere());
    let now = unix_now();
    let mut nonces = NonceCache::new(100);
    let (request, session) = identify_request(&a, &b.file, "id-1", now).unwrap();
    assert_eq!(request.method(), Ok(Method::PeerIdentify));
    let identified =
        verify_identify(&b, &request.body, &domain.certificates, now, &mut nonces).unwrap();
    assert_eq!(identified.peer.contact(), a.contact());
    assert!(identified.peer.salt_verified());
    assert_eq!(identified.session, session);
    assert_eq!(
        verify_identify(&b, &request.body, &domain.certificates, now, &mut nonces).err(),
        Some(Rejection::Replayed)
    );
    // C's find secret presented to B.
    let (to_c, _) = identify_request(&a, &c.file, "id-2", now).unwrap();
    assert_eq!(
        verify_identify(&b, &to_c.body, &domain.certificates, now, &mut nonces).err(),
        Some(Rejection::WrongSecret)
    );
    let (old, _) = identify_request(&a, &b.file, "id-3", now - 1000).unwrap();
    assert_eq!(
        verify_identify(&b, &old.body, &domain.certificates, now, &mut nonces).err(),
        Some(Rejection::Expired)
    );
    let (fresh, _) = identify_request(&a, &b.file, "id-4", now).unwrap();
    let forged = tampered(
        &fresh.body,
        "peerIdentityProofBundle",
        "peerIdentityProof",
        "expires",
        Value::from(now + 7200),
    );
    assert_eq!(
        verify_identify(&b, &forged, &domain.certificates, now, &mut nonces).err(),
        Some(Rejection::BadSignature)
    );
    // A's proof carrying C's peer file: signed by the wrong key for that file.
    let swapped = tampered(
        &fresh.body,
        "peerIdentityProofBundle",
        "peerIdentityProof",
        "peer",
        p2p::own_peer_element(&c),
    );
    assert!(
        verify_identify(&b, &swapped, &domain.certificates, now, &mut nonces).is_err(),
        "a proof cannot borrow another peer's file"
    );
    // A peer of another domain whose salt claims to be ours fails the salt check.
    let foreign = test_domain();
    let stranger = local(&foreign, somewhere());
    let (from_stranger, _) = identify_request(&stranger, &b.file, "id-5", now).unwrap();
    assert!(matches!(
        verify_identify(
            &b,
            &from_stranger.body,
            &domain.certificates,
            now,
            &mut nonces
        ),
        Err(Rejection::PeerFile(_))
    ));
}

#[test]
fn datagrams_are_signed_sequenced_and_bound_to_their_session() {
    let domain = test_domain();
    let a = local(&domain, somewhere());
    let c = local(&domain, somewhere());
    let document = |bytes: Vec<u8>| {
        openpeer_protocol::json::parse(std::str::from_utf8(&bytes).unwrap()).unwrap()
    };
    let first = document(datagram(&a, "s1", 1, b"hello"));
    assert_eq!(
        open_datagram(&first, &a.file, "s1", 0),
        Ok((1, b"hello".to_vec()))
    );
    assert_eq!(
        open_datagram(&first, &a.file, "s1", 1),
        Err(Rejection::Replayed)
    );
    assert_eq!(
        open_datagram(&first, &a.file, "s2", 0),
        Err(Rejection::UnknownFind)
    );
    assert_eq!(
        open_datagram(&first, &c.file, "s1", 0),
        Err(Rejection::BadSignature)
    );
    // Signed by C in A's name.
    let forged = Object::new().with(
        "datagramBundle",
        sign_bundle(
            "datagram",
            Object::new()
                .with("session", "s1")
                .with("sequence", 5u64)
                .with("data", "aGk="),
            &c.key,
            &KeyReference::Uri(a.contact().clone()),
            &mut OsRng,
        ),
    );
    assert_eq!(
        open_datagram(&forged, &a.file, "s1", 0),
        Err(Rejection::BadSignature)
    );
    let binary: Vec<u8> = (0..=255).collect();
    let raw = document(datagram(&a, "s1", 2, &binary));
    assert_eq!(open_datagram(&raw, &a.file, "s1", 1), Ok((2, binary)));
    assert!(matches!(
        open_datagram(&Object::new(), &a.file, "s1", 0),
        Err(Rejection::Malformed(_))
    ));
}

#[test]
fn both_ends_compute_the_same_relay_proof() {
    let domain = test_domain();
    let a = local(&domain, somewhere());
    let b = local(&domain, somewhere());
    let now = unix_now();
    let access = RelayAccess {
        host: "ws://127.0.0.1:1/finder".into(),
        token: random_string(&mut OsRng, 32),
        secret: Zeroizing::new(random_string(&mut OsRng, 32)),
    };
    let mut nonces = NonceCache::new(100);
    let (body, outgoing) = find_request(&a, &b.file, now).unwrap();
    let incoming = verify_find_request(&b, &body, now, &mut nonces).unwrap();
    let b_context = new_context();
    let notify = find_notify(&b, &incoming, &b_context, Some(&access));
    let location = notify
        .get_object("findProofBundle")
        .and_then(|b| b.get_object("findProof"))
        .and_then(|p| p.get_object("location"))
        .unwrap();
    assert_eq!(read_candidates(location).relay.unwrap().token, access.token);
    let found = verify_find_notify(&outgoing, &notify).unwrap();
    let candidate = found.relay.unwrap();
    assert_eq!(candidate.host, access.host);
    assert_eq!(
        *candidate.inner,
        channel_map_inner(&access.secret, &access.token, &b_context)
    );
    // What the finder makes of A's channel-map request for B: the contexts swapped.
    let as_notified = |request: &Object| {
        let relay = request.get_object("relay").unwrap();
        let swapped = relay
            .clone()
            .with("localContext", relay.get_str("remoteContext").unwrap())
            .with("remoteContext", relay.get_str("localContext").unwrap());
        request.clone().with("relay", swapped)
    };
    let request = channel_map_request(&candidate, 77, &outgoing.context, &b_context, now);
    let notified = as_notified(&request);
    let map = access
        .verify_channel_map(&notified, now, &mut nonces)
        .unwrap();
    assert_eq!(map.channel, 77);
    assert_eq!(map.local_context, b_context);
    assert_eq!(map.remote_context, outgoing.context);
    assert_eq!(
        access.verify_channel_map(&notified, now, &mut nonces),
        Err(Rejection::Replayed)
    );
    let fresh = || {
        as_notified(&channel_map_request(
            &candidate,
            77,
            &outgoing.context,
            &b_context,
            now,
        ))
    };
    assert_eq!(
        access.verify_channel_map(&fresh().with("channel", 78u32), now, &mut nonces),
        Err(Rejection::WrongSecret),
        "the proof binds the channel"
    );
    let other_token = fresh();
    let relay = other_token
        .get_object("relay")
        .unwrap()
        .clone()
        .with("accessToken", "stolen");
    assert_eq!(
        access.verify_channel_map(&other_token.with("relay", relay), now, &mut nonces),
        Err(Rejection::WrongSecret)
    );
    let late = as_notified(&channel_map_request(
        &candidate,
        77,
        &outgoing.context,
        &b_context,
        now - 1000,
    ));
    assert_eq!(
        access.verify_channel_map(&late, now, &mut nonces),
        Err(Rejection::Expired)
    );
    assert!(matches!(
        access.verify_channel_map(&fresh().with("channel", 0u32), now, &mut nonces),
        Err(Rejection::Malformed(_))
    ));
}

#[test]
fn keep_alive_goes_out_at_half_time_and_before_the_margin() {
    let margin = Duration::from_secs(60);
    assert_eq!(keep_alive_delay(600, margin), Duration::from_secs(300));
    assert_eq!(keep_alive_delay(100, margin), Duration::from_secs(40));
    assert_eq!(
        keep_alive_delay(4, Duration::from_secs(1)),
        Duration::from_secs(2)
    );
    // Never sooner than a second, even when late.
    assert_eq!(keep_alive_delay(0, margin), Duration::from_secs(1));
}

#[async_std::test]
async fn a_direct_hand_off_carries_signed_datagrams_both_ways() {
    let domain = test_domain();
    let a = running(&domain, None).await;
    let b = running(&domain, None).await;
    let (to_b, to_a) = within("the hand-off", connect(&a, &b)).await;
    assert!(!to_b.is_relayed() && !to_a.is_relayed());
    assert_eq!(to_b.remote(), b.local.contact());
    assert_eq!(to_a.remote(), a.local.contact());
    within("the exchange", talk(&to_b, &to_a)).await;
    // Junk and a forged datagram from A's own address are dropped; the next real one passes.
    let c = local(&domain, somewhere());
    let forged = datagram(&c, "whatever", 1_000, b"forged");
    for bad in [b"not json".to_vec(), b"{\"x\":1}".to_vec(), forged] {
        a.socket.send_to(&bad, b.local.host).await.unwrap();
    }
    to_b.send("real").await.unwrap();
    assert_eq!(within("recv", to_a.recv()).await.unwrap(), b"real");
    assert!(matches!(
        to_b.send(vec![0u8; 20_000]).await,
        Err(PeerError::TooLarge { .. })
    ));
}

#[async_std::test]
async fn a_peer_identify_without_an_answered_find_is_ignored() {
    let domain = test_domain();
    let a = running(&domain, None).await;
    let b = running(&domain, None).await;
    let attempt =
        connection::connect_direct(&a, &b.local.file, b.local.host, Duration::from_millis(600));
    assert!(matches!(
        within("the attempt", attempt).await,
        Err(PeerError::Timeout(_))
    ));
    assert!(b.accepted.1.is_empty());
}
