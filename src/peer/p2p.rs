//! What two peers say to each other once a path exists (spec §6.12, §7.3 step 5), whether the
//! path is UDP or a finder relay channel: `p2p/peer-identify` first, then signed application
//! datagrams.
//!
//! An application datagram is one JSON document,
//! `{"datagramBundle":{"datagram":{"$id","session","sequence","data"},"signature":{…}}}`:
//! `data` is the payload in base64, `session` the nonce of the `peer-identify` that opened the
//! connection (so a datagram of one connection is refused in any other), `sequence` counts up
//! from 1 and must grow, and the signature is by the sender's peer key.

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::encoding::{from_base64, to_base64};
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{Envelope, Message, MessageKind, Method};
use openpeer_protocol::peer_file::{PublicPeerFile, salt_domain};
use openpeer_protocol::random::nonce;
use openpeer_protocol::signature::{KeyResolver, PeerKey, verify_bundle};
use openpeer_protocol::uri::PeerUri;
use rand_core::OsRng;

use super::error::{PeerError, Rejection, result_body};
use super::location::Local;
use super::nonces::NonceCache;

/// How long a `peer-identify` proof stays valid: it is sent within seconds of its making.
const IDENTIFY_LIFETIME: u64 = 300;
/// Longest `peer-identify` lifetime accepted (the C++ makes them 24 h).
const MAX_IDENTIFY_LIFETIME: u64 = 25 * 3600;
/// Largest application payload of one datagram: the signed document stays well inside one UDP
/// datagram and one finder WebSocket message.
pub(crate) const MAX_DATA: usize = 16 * 1024;

/// A `peer-identify` that checked out: who is calling, and the connection's session id.
#[derive(Debug)]
pub(crate) struct Identified {
    /// The calling peer's public peer file, validated.
    pub(crate) peer: PublicPeerFile,
    /// The proof's nonce: the session id every datagram of the connection carries.
    pub(crate) session: String,
}

/// A `p2p/peer-identify` request from `local` to `target` with `$id` `id` (spec §6.12), and
/// the session id (its nonce). Fails when `target` has no find secret to prove.
pub(crate) fn identify_request(
    local: &Local,
    target: &PublicPeerFile,
    id: &str,
    now: u64,
) -> Result<(Message, String), PeerError> {
    let find_secret = target.find_secret().ok_or(PeerError::NotFindable)?;
    let session = nonce(&mut OsRng);
    let proof = Object::new()
        .with("nonce", session.as_str())
        .with("expires", now + IDENTIFY_LIFETIME)
        .with("findSecret", find_secret)
        .with("location", local.location(Vec::new()))
        .with("peer", own_peer_element(local));
    let envelope = Envelope {
        domain: Some(target.contact().domain().to_string()),
        id: Some(id.to_owned()),
        timestamp: Some(now),
        ..Envelope::new(MessageKind::Request, Method::PeerIdentify)
    };
    let body = Object::new().with(
        "peerIdentityProofBundle",
        local.sign("peerIdentityProof", proof),
    );
    Ok((Message::new(envelope, body), session))
}

/// The called peer's checks of a `peer-identify` body (spec §6.12, §7.3): the included public
/// peer file is valid (its salt checked with `certificates` when it is of their domain), the
/// proof is signed by that file's key, `findSecret` is `local`'s, the proof has not expired,
/// its location is that peer's, and its nonce is fresh.
pub(crate) fn verify_identify(
    local: &Local,
    body: &Object,
    certificates: &CertificateSet,
    now: u64,
    nonces: &mut NonceCache,
) -> Result<Identified, Rejection> {
    let bundle = body
        .get_object("peerIdentityProofBundle")
        .ok_or(Rejection::Malformed("peerIdentityProofBundle"))?;
    let proof = bundle
        .get_object("peerIdentityProof")
        .ok_or(Rejection::Malformed("peerIdentityProof"))?;
    let document = Object::new().with(
        "peer",
        proof
            .get("peer")
            .ok_or(Rejection::Malformed("peer"))?
            .clone(),
    );
    let salt_certificates = (salt_domain(&document).as_ref() == Some(certificates.domain()))
        .then_some(certificates as &dyn KeyResolver);
    let peer = PublicPeerFile::validate(&document, now, salt_certificates)?;
    verify_bundle(
        bundle,
        "peerIdentityProof",
        &PeerKey {
            uri: peer.contact(),
            key: peer.key(),
        },
    )
    .map_err(|_| Rejection::BadSignature)?;
    let own = local.find_secret().ok_or(Rejection::NotForMe)?;
    let presented = proof
        .get_str("findSecret")
        .ok_or(Rejection::Malformed("findSecret"))?;
    if !same_secret(own, presented) {
        return Err(Rejection::WrongSecret);
    }
    let expires = proof
        .get_u64("expires")
        .ok_or(Rejection::Malformed("expires"))?;
    if expires < now || expires > now.saturating_add(MAX_IDENTIFY_LIFETIME) {
        return Err(Rejection::Expired);
    }
    let contact = proof
        .get_object("location")
        .and_then(|l| l.get_str("contact"))
        .and_then(|c| PeerUri::parse(c).ok())
        .ok_or(Rejection::Malformed("location.contact"))?;
    if &contact != peer.contact() {
        return Err(Rejection::BadSignature);
    }
    let session = proof
        .get_str("nonce")
        .ok_or(Rejection::Malformed("nonce"))?;
    if !nonces.use_once(session, expires, now) {
        return Err(Rejection::Replayed);
    }
    Ok(Identified {
        session: session.to_owned(),
        peer,
    })
}

/// The called peer's result to a `peer-identify`: its `location` (spec §6.12).
pub(crate) fn identify_result(local: &Local, request: &Envelope, now: u64) -> Message {
    Message::result_for(
        request,
        now,
        Object::new().with("location", local.location(Vec::new())),
    )
}

/// Whether `document` answers the `peer-identify` with `$id` `id`: `None` if it is something
/// else, otherwise whether `remote` accepted (an error result is its refusal).
pub(crate) fn identify_answer(
    document: &Object,
    id: &str,
    remote: &PeerUri,
) -> Option<Result<(), PeerError>> {
    let message = Message::from_document(document.clone()).ok()?;
    if message.envelope.kind != MessageKind::Result || message.envelope.id.as_deref() != Some(id) {
        return None;
    }
    let answered = result_body(message).and_then(|body| {
        let contact = body
            .get_object("location")
            .and_then(|l| l.get_str("contact"))
            .and_then(|c| PeerUri::parse(c).ok());
        if contact.as_ref() == Some(remote) {
            Ok(())
        } else {
            Err(PeerError::Rejected(Rejection::Malformed(
                "location.contact",
            )))
        }
    });
    Some(answered)
}

/// An application datagram of session `session` with `sequence` and `data`, signed by
/// `local`, rendered as the bytes to send.
pub(crate) fn datagram(local: &Local, session: &str, sequence: u64, data: &[u8]) -> Vec<u8> {
    let datagram = Object::new()
        .with("session", session)
        .with("sequence", sequence)
        .with("data", to_base64(data));
    let bundle = local.sign("datagram", datagram);
    render_object(&Object::new().with("datagramBundle", bundle)).into_bytes()
}

/// Opens an application datagram from `remote` (spec of this module): signed by `remote`'s
/// key, of session `session`, with a sequence above `last`. Returns the sequence and data.
pub(crate) fn open_datagram(
    document: &Object,
    remote: &PublicPeerFile,
    session: &str,
    last: u64,
) -> Result<(u64, Vec<u8>), Rejection> {
    let bundle = document
        .get_object("datagramBundle")
        .ok_or(Rejection::Malformed("datagramBundle"))?;
    let verified = verify_bundle(
        bundle,
        "datagram",
        &PeerKey {
            uri: remote.contact(),
            key: remote.key(),
        },
    )
    .map_err(|_| Rejection::BadSignature)?;
    let datagram = *verified.get();
    if datagram.get_str("session") != Some(session) {
        return Err(Rejection::UnknownFind);
    }
    let sequence = datagram
        .get_u64("sequence")
        .ok_or(Rejection::Malformed("sequence"))?;
    if sequence <= last {
        return Err(Rejection::Replayed);
    }
    let data = datagram
        .get_str("data")
        .and_then(from_base64)
        .ok_or(Rejection::Malformed("data"))?;
    Ok((sequence, data))
}

/// `local`'s `peer` element, as session proofs and `peer-identify` carry it.
pub(crate) fn own_peer_element(local: &Local) -> Value {
    // A validated peer file is a `{"peer": …}` document, so the element is always there; the
    // empty fallback would only make the other side refuse the proof.
    local
        .file
        .document()
        .get("peer")
        .cloned()
        .unwrap_or_else(|| Value::Object(Object::new()))
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}
