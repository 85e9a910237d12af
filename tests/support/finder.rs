//! The finder WebSocket as the tests drive it: connect, exchange one document, and the
//! `session-create` request of a peer.

use std::net::SocketAddr;

use async_std::net::TcpStream;
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt as _;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::peer_location_find::{FindProof, find_request_body};
use openpeer_protocol::proof::find_secret_proof;
use openpeer_protocol::random::{message_id, nonce};
use openpeer_protocol::signature::{KeyReference, SigningKey, sign_bundle};
use openpeer_protocol::uri::PeerUri;
use rand_core::OsRng;

use super::identity::{protocol, protocol_for};
use super::unix_now;

/// A finder WebSocket client.
pub type Socket = WebSocketStream<TcpStream>;

/// Opens the finder WebSocket of the gateway at `addr`.
pub async fn connect(addr: SocketAddr) -> Socket {
    let stream = TcpStream::connect(addr).await.expect("tcp");
    async_tungstenite::client_async(format!("ws://{addr}/finder"), stream)
        .await
        .expect("websocket")
        .0
}

/// Sends a document and waits for the next text message.
pub async fn exchange(ws: &mut Socket, document: String) -> Message {
    ws.send(WsMessage::text(document)).await.expect("send");
    loop {
        match ws.next().await.expect("an answer").expect("frame") {
            WsMessage::Text(text) => return message::decode(text.as_str()).expect("a message"),
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// A signed session proof of `file` for finder `finder_id`, expiring at `expires`, registering
/// location `location-1`.
pub fn session_create(
    key: &SigningKey,
    file: &PublicPeerFile,
    finder_id: &str,
    contact: &str,
    expires: u64,
    n: &str,
) -> String {
    session_create_at("location-1", key, file, finder_id, contact, expires, n)
}

/// [`session_create`] of location `location_id`.
pub fn session_create_at(
    location_id: &str,
    key: &SigningKey,
    file: &PublicPeerFile,
    finder_id: &str,
    contact: &str,
    expires: u64,
    n: &str,
) -> String {
    let proof = Object::new()
        .with("finder", Object::new().with("$id", finder_id))
        .with("nonce", n)
        .with("expires", expires)
        .with(
            "location",
            Object::new()
                .with("$id", location_id)
                .with("contact", contact)
                .with(
                    "details",
                    Object::new().with("device", Object::new().with("$id", "d1")),
                ),
        )
        .with("peer", file.document().get("peer").unwrap().clone());
    let bundle = sign_bundle(
        "sessionProof",
        proof,
        key,
        &KeyReference::Uri(file.contact().clone()),
        &mut OsRng,
    );
    protocol(
        Method::SessionCreate,
        Object::new().with("sessionProofBundle", bundle),
    )
}

/// A valid `session-create` of `file` for node-1, addressed to the peer's own domain.
pub fn good_in_own_domain(key: &SigningKey, file: &PublicPeerFile) -> String {
    let request = message::decode(&good(key, file)).expect("a request");
    let domain = file.contact().domain().to_string();
    protocol_for(&domain, Method::SessionCreate, request.body)
}

/// A valid `session-create` of `file` for node-1.
pub fn good(key: &SigningKey, file: &PublicPeerFile) -> String {
    session_create(
        key,
        file,
        "node-1",
        &file.contact().to_string(),
        unix_now() + 3600,
        &nonce(&mut OsRng),
    )
}

/// A `peer-location-find` of `domain` by `from` (a peer URI) for `target`, proven with `secret`
/// and signed with `signer` when given (a find arriving over a finder-to-finder link is not
/// signature checked there): its `$id` and text.
pub fn find_request(
    domain: &str,
    from: &str,
    signer: Option<&SigningKey>,
    target: &str,
    secret: &str,
) -> (String, String) {
    let n = nonce(&mut OsRng);
    let expires = unix_now() + 600;
    // The parts only the found peer reads carry placeholders: finders never open them.
    let proof = FindProof {
        find_secret_proof: find_secret_proof(secret, &n, expires),
        nonce: n,
        created: unix_now(),
        find: target.to_owned(),
        find_secret_proof_expires: expires,
        context: "c1".into(),
        peer_secret_encrypted: "sealed".into(),
        ice_username_frag: "ufrag".into(),
        ice_password_encrypted: "iv:password".into(),
        ice_final: true,
        location: Object::new()
            .with("$id", "location-1")
            .with("contact", from),
    }
    .to_object();
    let bundle = match signer {
        Some(key) => {
            let uri = PeerUri::parse(from).expect("a peer URI");
            sign_bundle("findProof", proof, key, &KeyReference::Uri(uri), &mut OsRng)
        }
        None => Object::new().with("findProof", proof.with("$id", "p1")),
    };
    let id = message_id(&mut OsRng);
    let envelope = Envelope {
        domain: Some(domain.to_owned()),
        id: Some(id.clone()),
        timestamp: Some(unix_now()),
        ..Envelope::new(MessageKind::Request, Method::PeerLocationFind)
    };
    let body = find_request_body(bundle, &[]);
    (id, message::encode(&Message::new(envelope, body)))
}
