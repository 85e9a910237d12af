//! `peer-location-find` and the `channel-map` relay at the wire (issue 4/4), on SQLite and
//! PostgreSQL: a find is answered, forwarded verbatim to the target's connection and its notify
//! relayed back; every refusal leaves the registry and the target untouched; a peer vanishing
//! mid-find breaks nothing; a mapped channel copies frames both ways until it closes.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt as _;
use openpeer_protocol::finder::{decode_relay_frame, encode_relay_frame};
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::peer_file::{PeerFileOptions, PublicPeerFile};
use openpeer_protocol::proof::{channel_map_inner, channel_map_proof, find_secret_proof};
use openpeer_protocol::random::{message_id, nonce};
use openpeer_protocol::seal::open;
use openpeer_protocol::signature::{KeyReference, SignatureSuite, SigningKey, sign_bundle};
use rand_core::OsRng;
use support::finder::{Socket, connect, exchange, good};
use support::identity::{peer, protocol};
use support::{TestDb, error_code, get, ok_body, start, stop, unix_now};

crate::on_both_backends!(
    a_find_reaches_the_target_and_its_notify_the_requester,
    every_find_refusal_leaves_everything_unchanged,
    a_peer_vanishing_mid_find_breaks_nothing,
    a_mapped_channel_relays_frames_both_ways,
    every_channel_map_refusal_maps_nothing,
);

/// A peer registered on its own finder connection.
struct Registered {
    key: SigningKey,
    file: PublicPeerFile,
    ws: Socket,
    relay_token: String,
    relay_secret: String,
}

async fn register(addr: SocketAddr) -> Registered {
    let (key, file) = peer(addr).await;
    register_file(addr, key, file).await
}

async fn register_file(addr: SocketAddr, key: SigningKey, file: PublicPeerFile) -> Registered {
    let mut ws = connect(addr).await;
    let created = exchange(&mut ws, good(&key, &file)).await;
    let relay = ok_body(&created)
        .get_object("serverProofBundle")
        .and_then(|b| b.get_object("serverProof"))
        .and_then(|p| p.get_object("relay"))
        .expect("relay")
        .clone();
    let secret = open(&key, relay.get_str("accessSecretEncrypted").unwrap()).unwrap();
    Registered {
        relay_token: relay.get_str("accessToken").unwrap().to_owned(),
        relay_secret: String::from_utf8(secret.to_vec()).unwrap(),
        key,
        file,
        ws,
    }
}

/// A request document of `method` with a fresh `$id`.
fn request_with_id(method: Method, id: &str, body: Object) -> String {
    let envelope = Envelope {
        domain: Some("localhost".into()),
        id: Some(id.into()),
        timestamp: Some(unix_now()),
        ..Envelope::new(MessageKind::Request, method)
    };
    message::encode(&Message::new(envelope, body))
}

/// How a test find deviates from a good one.
#[derive(Default)]
struct FindParams {
    signer: Option<SigningKey>,
    find_secret: Option<String>,
    expires: Option<u64>,
    nonce: Option<String>,
    exclude: Vec<String>,
}

/// A `peer-location-find` request from `from` for `target` (its `$id`, its text).
fn find(from: &Registered, target: &PublicPeerFile, params: FindParams) -> (String, String) {
    let n = params.nonce.unwrap_or_else(|| nonce(&mut OsRng));
    let expires = params.expires.unwrap_or(unix_now() + 120);
    let secret = params
        .find_secret
        .unwrap_or_else(|| target.find_secret().unwrap_or("none").to_owned());
    let proof = Object::new()
        .with("$id", message_id(&mut OsRng))
        .with("nonce", n.as_str())
        .with("created", unix_now())
        .with("find", target.contact().to_string())
        .with("findSecretProof", find_secret_proof(&secret, &n, expires))
        .with("findSecretProofExpires", expires)
        .with("context", "ctx-a")
        .with("peerSecretEncrypted", "opaque-to-the-finder")
        .with(
            "location",
            Object::new()
                .with("$id", "location-1")
                .with("contact", from.file.contact().to_string())
                .with(
                    "candidates",
                    Object::new().with(
                        "candidate",
                        Object::new()
                            .with("type", "host")
                            .with("ip", "127.0.0.1")
                            .with("port", 40_000u64),
                    ),
                ),
        );
    let signer = params.signer.as_ref().unwrap_or(&from.key);
    let bundle = sign_bundle(
        "findProof",
        proof,
        signer,
        &KeyReference::Uri(from.file.contact().clone()),
        &mut OsRng,
    );
    let exclude: Vec<Value> = params
        .exclude
        .iter()
        .map(|id| Value::Object(Object::new().with("$id", id.as_str())))
        .collect();
    let body = Object::new().with("findProofBundle", bundle).with(
        "exclude",
        Object::new().with(
            "locations",
            Object::new().with("location", Value::from_list(exclude)),
        ),
    );
    let id = message_id(&mut OsRng);
    let text = request_with_id(Method::PeerLocationFind, &id, body);
    (id, text)
}

/// The callee's notify answering find `id` (its content is the peers' business).
fn notify(id: &str) -> String {
    let envelope = Envelope {
        domain: Some("localhost".into()),
        id: Some(id.into()),
        ..Envelope::new(MessageKind::Notify, Method::PeerLocationFind)
    };
    let body = Object::new().with(
        "findProofBundle",
        Object::new().with("findProof", Object::new().with("context", "ctx-b")),
    );
    message::encode(&Message::new(envelope, body))
}

/// The next message of `ws` within `wait`, if any.
async fn next_message(ws: &mut Socket, wait: Duration) -> Option<WsMessage> {
    async_std::future::timeout(wait, async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                _ => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

async fn next_text(ws: &mut Socket) -> String {
    match next_message(ws, Duration::from_secs(5)).await {
        Some(WsMessage::Text(text)) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Asserts nothing arrives on `ws` for a moment.
async fn assert_quiet(ws: &mut Socket, case: &str) {
    let got = next_message(ws, Duration::from_millis(300)).await;
    assert!(got.is_none(), "{case}: unexpected {got:?}");
}

async fn a_find_reaches_the_target_and_its_notify_the_requester(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let mut a = register(addr).await;
    let mut b = register(addr).await;
    let (id, text) = find(&a, &b.file, FindParams::default());
    let answer = exchange(&mut a.ws, text.clone()).await;
    assert_eq!(answer.envelope.id.as_deref(), Some(id.as_str()));
    let locations = ok_body(&answer)
        .get_object("locations")
        .unwrap()
        .get_list("location");
    assert_eq!(locations.len(), 1);
    let location = locations[0].as_object().unwrap();
    assert_eq!(location.get_str("$id"), Some("location-1"));
    assert_eq!(
        location.get_str("contact"),
        Some(b.file.contact().to_string().as_str())
    );
    assert_eq!(
        location
            .get_object("details")
            .and_then(|d| d.get_object("device"))
            .and_then(|d| d.get_str("$id")),
        Some("d1")
    );
    // The target receives the very request A signed.
    assert_eq!(next_text(&mut b.ws).await, text);
    // Its notify goes to A, and only to A.
    let mut c = register(addr).await;
    b.ws.send(WsMessage::text(notify(&id))).await.unwrap();
    let relayed = next_text(&mut a.ws).await;
    assert_eq!(relayed, notify(&id));
    assert_quiet(&mut c.ws, "bystander").await;
    // A notify from a connection the find did not go to is dropped.
    c.ws.send(WsMessage::text(notify(&id))).await.unwrap();
    assert_quiet(&mut a.ws, "notify from a bystander").await;
    // A notify for an unknown find is dropped too.
    b.ws.send(WsMessage::text(notify("no-such-find")))
        .await
        .unwrap();
    assert_quiet(&mut a.ws, "notify for an unknown find").await;
    // The target's result to the forwarded request is not passed on.
    let result = message::encode(&Message::result_for(
        &message::decode(&text).unwrap().envelope,
        unix_now(),
        Object::new(),
    ));
    b.ws.send(WsMessage::text(result)).await.unwrap();
    assert_quiet(&mut a.ws, "callee result").await;
    assert_quiet(&mut b.ws, "callee result").await;
    assert_eq!(db.count("finder_locations").await, 3);
    let metrics = get(addr, "/metrics").await.text();
    for line in [
        "openpeer_finder_connections 3",
        "openpeer_finder_registrations 3",
        "openpeer_finder_find_routes 1",
        "openpeer_finder_relay_channels 0",
        "openpeer_requests_total{handler=\"peer-finder\",method=\"peer-location-find\",code=\"200\"} 1",
        "openpeer_requests_total{handler=\"peer-finder\",method=\"session-create\",code=\"200\"} 3",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    stop(node).await;
}

async fn every_find_refusal_leaves_everything_unchanged(db: TestDb) {
    let node = start(db.settings("[finder]\nmax_finds_per_second = 3\n")).await;
    let addr = node.local_addr();
    let mut a = register(addr).await;
    let mut b = register(addr).await;
    // A peer without Section B registers but cannot be found.
    let (hidden_key, hidden_file) = unfindable_peer(addr).await;
    let mut hidden = register_file(addr, hidden_key, hidden_file).await;
    let (_, unknown_file) = peer(addr).await;
    let other_key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let used = nonce(&mut OsRng);
    let (_, first) = find(
        &a,
        &b.file,
        FindParams {
            nonce: Some(used.clone()),
            ..FindParams::default()
        },
    );
    ok_body(&exchange(&mut a.ws, first).await);
    assert!(next_text(&mut b.ws).await.contains("peer-location-find"));
    let cases: Vec<(&str, FindParams, &PublicPeerFile, u16)> = vec![
        (
            "forged: signed by another key",
            FindParams {
                signer: Some(other_key),
                ..FindParams::default()
            },
            &b.file,
            403,
        ),
        (
            "bad findSecretProof",
            FindParams {
                find_secret: Some("not-the-secret".into()),
                ..FindParams::default()
            },
            &b.file,
            403,
        ),
        (
            "expired",
            FindParams {
                expires: Some(unix_now() - 1),
                ..FindParams::default()
            },
            &b.file,
            401,
        ),
        (
            "lifetime too long",
            FindParams {
                expires: Some(unix_now() + 40 * 3600),
                ..FindParams::default()
            },
            &b.file,
            401,
        ),
        (
            "replayed nonce",
            FindParams {
                nonce: Some(used),
                ..FindParams::default()
            },
            &b.file,
            403,
        ),
        ("unknown peer", FindParams::default(), &unknown_file, 404),
        ("unfindable peer", FindParams::default(), &hidden.file, 404),
        (
            "every location excluded",
            FindParams {
                exclude: vec!["location-1".into()],
                ..FindParams::default()
            },
            &b.file,
            404,
        ),
    ];
    for (case, params, target, code) in cases {
        let (_, text) = find(&a, target, params);
        assert_eq!(error_code(&exchange(&mut a.ws, text).await), code, "{case}");
        assert_quiet(&mut b.ws, case).await;
        assert_quiet(&mut hidden.ws, case).await;
        assert_eq!(db.count("finder_locations").await, 3, "{case}");
    }
    // A valid find sent on a connection where the requester has no session is refused.
    let mut bare = connect(addr).await;
    let (_, text) = find(&a, &b.file, FindParams::default());
    assert_eq!(error_code(&exchange(&mut bare, text).await), 403);
    assert_quiet(&mut b.ws, "no session").await;
    // More finds than the per-second limit get 480: of 20 back to back, at most 3 a second pass.
    let mut codes = Vec::new();
    for _ in 0..20 {
        let (_, text) = find(&a, &b.file, FindParams::default());
        let answer = exchange(&mut a.ws, text).await;
        codes.push(answer.error().map_or(200, |e| e.unwrap().code));
    }
    assert!(codes.contains(&480), "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 480), "{codes:?}");
    stop(node).await;
}

async fn unfindable_peer(addr: SocketAddr) -> (SigningKey, PublicPeerFile) {
    let (key, file) = peer(addr).await;
    let salt = file
        .document()
        .get_object("peer")
        .unwrap()
        .get_list("sectionBundle")[0]
        .as_object()
        .and_then(|a| a.get_object("section"))
        .and_then(|a| a.get_object("saltBundle"))
        .unwrap()
        .clone();
    let now = unix_now();
    let options = PeerFileOptions {
        salt_bundle: &salt,
        created: now,
        expires: now + 86_400,
        findable: false,
    };
    let file = PublicPeerFile::generate(&key, &options, &mut OsRng).unwrap();
    (key, file)
}

async fn a_peer_vanishing_mid_find_breaks_nothing(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    // The requester goes before the target notifies.
    let mut a = register(addr).await;
    let mut b = register(addr).await;
    let (id, text) = find(&a, &b.file, FindParams::default());
    ok_body(&exchange(&mut a.ws, text).await);
    next_text(&mut b.ws).await;
    drop(a);
    db.wait_for_count("finder_locations", 1).await;
    b.ws.send(WsMessage::text(notify(&id))).await.unwrap();
    let kept = exchange(&mut b.ws, protocol(Method::SessionKeepAlive, Object::new())).await;
    ok_body(&kept);
    // The target goes before it notifies: the requester hears nothing more, and the next find
    // learns the peer is gone.
    let mut a = register(addr).await;
    let (_, text) = find(&a, &b.file, FindParams::default());
    ok_body(&exchange(&mut a.ws, text).await);
    next_text(&mut b.ws).await;
    let gone = b.file.clone();
    drop(b);
    db.wait_for_count("finder_locations", 1).await;
    assert_quiet(&mut a.ws, "target gone").await;
    let (_, text) = find(&a, &gone, FindParams::default());
    assert_eq!(error_code(&exchange(&mut a.ws, text).await), 404);
    stop(node).await;
}

/// A `channel-map` request on `channel` for `callee`'s relay, with its nonce and proof.
fn channel_map(callee: &Registered, channel: u64, n: &str, expires: u64, secret: &str) -> String {
    let inner = channel_map_inner(secret, &callee.relay_token, "ctx-b");
    let proof = channel_map_proof(n, "ctx-a", channel as u32, expires, &inner);
    let body = Object::new()
        .with("channel", channel)
        .with("nonce", n)
        .with(
            "relay",
            Object::new()
                .with("localContext", "ctx-a")
                .with("remoteContext", "ctx-b")
                .with("accessToken", callee.relay_token.as_str())
                .with("accessSecretProof", proof)
                .with("accessSecretProofExpires", expires),
        );
    request_with_id(Method::ChannelMap, &message_id(&mut OsRng), body)
}

async fn next_frame(ws: &mut Socket) -> (u32, Vec<u8>) {
    match next_message(ws, Duration::from_secs(5)).await {
        Some(WsMessage::Binary(bytes)) => {
            let (channel, payload) = decode_relay_frame(&bytes).expect("a relay frame");
            (channel, payload.to_vec())
        }
        other => panic!("expected a relay frame, got {other:?}"),
    }
}

async fn a_mapped_channel_relays_frames_both_ways(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let mut b = register(addr).await;
    // The caller needs no session: it opens a connection to the callee's finder.
    let mut caller = connect(addr).await;
    let n = nonce(&mut OsRng);
    let expires = unix_now() + 120;
    let mapped = exchange(
        &mut caller,
        channel_map(&b, 77, &n, expires, &b.relay_secret.clone()),
    )
    .await;
    assert!(ok_body(&mapped).is_empty());
    // The callee is told, with the contexts swapped and the same proof, so it can check it.
    let told = message::decode(&next_text(&mut b.ws).await).unwrap();
    assert_eq!(told.envelope.kind, MessageKind::Notify);
    assert_eq!(told.envelope.method().unwrap(), Method::ChannelMap);
    assert_eq!(told.body.get_u64("channel"), Some(77));
    assert_eq!(told.body.get_str("nonce"), Some(n.as_str()));
    let relay = told.body.get_object("relay").unwrap();
    assert_eq!(relay.get_str("localContext"), Some("ctx-b"));
    assert_eq!(relay.get_str("remoteContext"), Some("ctx-a"));
    assert_eq!(relay.get_u64("accessSecretProofExpires"), Some(expires));
    let inner = channel_map_inner(&b.relay_secret, &b.relay_token, "ctx-b");
    assert_eq!(
        relay.get_str("accessSecretProof"),
        Some(channel_map_proof(&n, "ctx-a", 77, expires, &inner).as_str())
    );
    // Frames flow both ways, unchanged.
    let frame = |payload: &[u8]| WsMessage::binary(encode_relay_frame(77, payload).unwrap());
    caller.send(frame(b"hello b")).await.unwrap();
    assert_eq!(next_frame(&mut b.ws).await, (77, b"hello b".to_vec()));
    b.ws.send(frame(b"hello caller")).await.unwrap();
    assert_eq!(
        next_frame(&mut caller).await,
        (77, b"hello caller".to_vec())
    );
    // A frame on an unmapped channel is answered "closed".
    caller
        .send(WsMessage::binary(encode_relay_frame(5, b"?").unwrap()))
        .await
        .unwrap();
    assert_eq!(next_frame(&mut caller).await, (5, Vec::new()));
    assert_quiet(&mut b.ws, "unmapped channel").await;
    // A zero-length frame closes the channel for both.
    b.ws.send(frame(b"")).await.unwrap();
    assert_eq!(next_frame(&mut caller).await, (77, Vec::new()));
    caller.send(frame(b"late")).await.unwrap();
    assert_eq!(next_frame(&mut caller).await, (77, Vec::new()));
    assert_quiet(&mut b.ws, "closed channel").await;
    // Mapped again, the callee's disconnect closes it for the caller.
    let again = channel_map(&b, 78, &nonce(&mut OsRng), expires, &b.relay_secret.clone());
    ok_body(&exchange(&mut caller, again).await);
    next_text(&mut b.ws).await;
    drop(b);
    assert_eq!(next_frame(&mut caller).await, (78, Vec::new()));
    // A malformed binary message (shorter than a channel number) closes the connection.
    caller.send(WsMessage::binary(vec![0, 1])).await.unwrap();
    assert_closed(&mut caller).await;
    // An oversize frame closes the connection, and its channel with it.
    let mut b = register(addr).await;
    let mut caller = connect(addr).await;
    let mapped = channel_map(&b, 79, &nonce(&mut OsRng), expires, &b.relay_secret.clone());
    ok_body(&exchange(&mut caller, mapped).await);
    next_text(&mut b.ws).await;
    let oversize = encode_relay_frame(79, &vec![7u8; 70 * 1024]).unwrap();
    caller.send(WsMessage::binary(oversize)).await.ok();
    assert_closed(&mut caller).await;
    assert_eq!(next_frame(&mut b.ws).await, (79, Vec::new()));
    stop(node).await;
}

async fn assert_closed(ws: &mut Socket) {
    assert!(matches!(
        next_message(ws, Duration::from_secs(5)).await,
        None | Some(WsMessage::Close(_))
    ));
}

async fn every_channel_map_refusal_maps_nothing(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let mut b = register(addr).await;
    let secret = b.relay_secret.clone();
    let used = nonce(&mut OsRng);
    let expires = unix_now() + 120;
    let mut caller = connect(addr).await;
    ok_body(&exchange(&mut caller, channel_map(&b, 9, &used, expires, &secret)).await);
    next_text(&mut b.ws).await;
    let mut unknown = channel_map(&b, 10, &nonce(&mut OsRng), expires, &secret);
    unknown = unknown.replace(&b.relay_token, "no-such-token");
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "wrong relay secret",
            channel_map(&b, 10, &nonce(&mut OsRng), expires, "guessed"),
            403,
        ),
        ("unknown relay token", unknown, 404),
        (
            "expired",
            channel_map(&b, 10, &nonce(&mut OsRng), unix_now() - 1, &secret),
            401,
        ),
        (
            "replayed nonce",
            channel_map(&b, 10, &used, expires, &secret),
            403,
        ),
        (
            "channel in use",
            channel_map(&b, 9, &nonce(&mut OsRng), expires, &secret),
            409,
        ),
        (
            "channel 0 is the control channel",
            channel_map(&b, 0, &nonce(&mut OsRng), expires, &secret),
            400,
        ),
    ];
    for (case, document, code) in cases {
        assert_eq!(
            error_code(&exchange(&mut caller, document).await),
            code,
            "{case}"
        );
        assert_quiet(&mut b.ws, case).await;
    }
    // Only channel 9 is mapped: a frame on 10 is refused, one on 9 arrives.
    caller
        .send(WsMessage::binary(encode_relay_frame(10, b"x").unwrap()))
        .await
        .unwrap();
    assert_eq!(next_frame(&mut caller).await, (10, Vec::new()));
    caller
        .send(WsMessage::binary(encode_relay_frame(9, b"y").unwrap()))
        .await
        .unwrap();
    assert_eq!(next_frame(&mut b.ws).await, (9, b"y".to_vec()));
    stop(node).await;
}
