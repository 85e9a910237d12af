//! `peer-location-find` from both ends (spec §6.11, §7.3): the signed request the finding peer
//! (A) sends its finder, the checks the found peer (B) makes before it answers, the signed
//! notify B answers with, and A's checks of that notify.

use std::net::SocketAddr;

use openpeer_protocol::cipher::{peer_secret_key, split_decrypt, split_encrypt};
use openpeer_protocol::json::Object;
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::peer_location_find::{FindProof, FindRequest, find_request_body};
use openpeer_protocol::proof::{self, ProofError, find_secret_proof};
use openpeer_protocol::random::{nonce, random_bytes, random_string};
use openpeer_protocol::seal::{open, seal};
use openpeer_protocol::signature::{KeyReference, PeerKey, verify_bundle};
use openpeer_protocol::uri::PeerUri;
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::error::{PeerError, Rejection};
use super::location::{Local, host_candidate, read_candidates};
use super::nonces::NonceCache;
use super::relay::{RelayAccess, RelayCandidate};

/// How long a find's `findSecretProof` stays valid: a find is answered within seconds.
pub(crate) const FIND_PROOF_LIFETIME: u64 = 120;
/// Longest `findSecretProofExpires` accepted from a finding peer (C14 makes them 24 h).
const MAX_FIND_PROOF_LIFETIME: u64 = 25 * 3600;
/// Length of a random context id.
const CONTEXT_LEN: usize = 32;
/// Longest context id accepted.
const MAX_CONTEXT_LEN: usize = 128;
/// Bytes of a peer secret.
const PEER_SECRET_LEN: usize = 32;
/// ICE username fragment length (RFC 8445: at least 4 characters).
const ICE_UFRAG_LEN: usize = 8;
/// ICE password length (RFC 8445: at least 22 characters).
const ICE_PASSWORD_LEN: usize = 24;

/// What the finding peer keeps of a find it sent, to check the notifies that answer it.
pub(crate) struct OutgoingFind {
    /// The peer being found.
    pub(crate) target: PublicPeerFile,
    /// The finding peer's context id.
    pub(crate) context: String,
    /// The secret sealed to the target: it keys the ICE passwords and the relay proof.
    pub(crate) peer_secret: Zeroizing<Vec<u8>>,
    /// `digestValue` of the request's signature, quoted back by every notify.
    pub(crate) digest: String,
}

/// A find the found peer accepted: what it needs to answer it and to recognise the finding
/// peer when it identifies itself later.
pub(crate) struct IncomingFind {
    /// The finding peer, as its location claims (proven at `peer-identify`).
    pub(crate) requester: PeerUri,
    /// The finding peer's context id.
    pub(crate) context: String,
    /// The secret the finding peer sealed to us.
    pub(crate) peer_secret: Zeroizing<Vec<u8>>,
    /// `digestValue` of the request's signature.
    pub(crate) digest: String,
    /// The signed request bundle, verified once the finding peer's key is known.
    pub(crate) bundle: Object,
}

/// A location of the found peer as its notify describes it.
pub(crate) struct FoundLocation {
    /// The found peer's context id.
    pub(crate) context: String,
    /// Its host candidate, for the direct path.
    pub(crate) host: Option<SocketAddr>,
    /// Its relay candidate, for the finder relay.
    pub(crate) relay: Option<RelayCandidate>,
}

/// The body of a `peer-location-find` request from `local` for `target`, and what to keep to
/// check the answers. Fails when `target` is not findable (no Section B) or its key cannot
/// receive a sealed secret.
pub(crate) fn find_request(
    local: &Local,
    target: &PublicPeerFile,
    now: u64,
) -> Result<(Object, OutgoingFind), PeerError> {
    let find_secret = target.find_secret().ok_or(PeerError::NotFindable)?;
    let peer_secret = Zeroizing::new(random_bytes(&mut OsRng, PEER_SECRET_LEN));
    let sealed =
        seal(target.key(), &peer_secret, &mut OsRng).map_err(|_| PeerError::NotFindable)?;
    let context = random_string(&mut OsRng, CONTEXT_LEN);
    let n = nonce(&mut OsRng);
    let expires = now + FIND_PROOF_LIFETIME;
    let key = peer_secret_key(&peer_secret);
    let ice_password = Zeroizing::new(random_string(&mut OsRng, ICE_PASSWORD_LEN));
    let proof = FindProof {
        find_secret_proof: find_secret_proof(find_secret, &n, expires),
        nonce: n,
        created: now,
        find: target.contact().to_string(),
        find_secret_proof_expires: expires,
        context: context.clone(),
        peer_secret_encrypted: sealed,
        ice_username_frag: random_string(&mut OsRng, ICE_UFRAG_LEN),
        ice_password_encrypted: split_encrypt(&key, ice_password.as_bytes(), &mut OsRng),
        ice_final: true,
        location: local.location(vec![host_candidate(local.host)]),
    };
    let bundle = local.sign("findProof", proof.to_object());
    let digest = digest_value(&bundle)
        .ok_or(PeerError::Malformed("own find signature"))?
        .to_owned();
    let outgoing = OutgoingFind {
        target: target.clone(),
        context,
        peer_secret,
        digest,
    };
    Ok((find_request_body(bundle, &[]), outgoing))
}

/// The found peer's checks of a forwarded find (spec §6.11): the target is `local`, the
/// `findSecretProof` is made with `local`'s find secret and not expired, the signer is the
/// location's contact, the peer secret opens with `local`'s key, the ICE password decrypts,
/// and the nonce is fresh.
///
/// The signature itself can be checked only with the finding peer's key, which arrives with
/// its `peer-identify`; [`IncomingFind::bundle`] is kept for that.
pub(crate) fn verify_find_request(
    local: &Local,
    body: &Object,
    now: u64,
    nonces: &mut NonceCache,
) -> Result<IncomingFind, Rejection> {
    let request = FindRequest::read(body).map_err(Rejection::Malformed)?;
    let (bundle, proof) = (request.bundle, request.proof);
    let text = |key: &'static str| proof.get_str(key).ok_or(Rejection::Malformed(key));
    let target = PeerUri::parse(request.find).map_err(|_| Rejection::Malformed("find"))?;
    if &target != local.contact() {
        return Err(Rejection::NotForMe);
    }
    let find_secret = local.find_secret().ok_or(Rejection::NotForMe)?;
    let (n, expires) = (request.nonce, request.expires);
    if expires > now.saturating_add(MAX_FIND_PROOF_LIFETIME) {
        return Err(Rejection::Expired);
    }
    proof::check(
        &find_secret_proof(find_secret, n, expires),
        request.find_secret_proof,
        expires,
        now,
    )
    .map_err(proof_rejection)?;
    let requester =
        PeerUri::parse(request.from).map_err(|_| Rejection::Malformed("location.contact"))?;
    let signer = bundle
        .get_object("signature")
        .and_then(|s| s.get_object("key"))
        .and_then(|k| KeyReference::from_object(k).ok())
        .ok_or(Rejection::Malformed("signature key"))?;
    if signer != KeyReference::Uri(requester.clone()) {
        return Err(Rejection::BadSignature);
    }
    let digest = digest_value(bundle)
        .ok_or(Rejection::Malformed("digestValue"))?
        .to_owned();
    let context = context_of(proof)?;
    let peer_secret = open(&local.key, text("peerSecretEncrypted")?)
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or(Rejection::WrongSecret)?;
    decrypt_ice_password(&peer_secret, text("icePasswordEncrypted")?)?;
    if !nonces.use_once(n, expires, now) {
        return Err(Rejection::Replayed);
    }
    Ok(IncomingFind {
        requester,
        context,
        peer_secret,
        digest,
        bundle: bundle.clone(),
    })
}

/// The body of the found peer's notify answering `incoming` (spec §6.11): signed by `local`,
/// quoting the request's digest, with a fresh ICE password, `local`'s host candidate and, when
/// `relay` is given, a finder-relay candidate for `context` (spec §7.5).
pub(crate) fn find_notify(
    local: &Local,
    incoming: &IncomingFind,
    context: &str,
    relay: Option<&RelayAccess>,
) -> Object {
    let key = peer_secret_key(&incoming.peer_secret);
    let ice_password = Zeroizing::new(random_string(&mut OsRng, ICE_PASSWORD_LEN));
    let mut candidates = vec![host_candidate(local.host)];
    if let Some(relay) = relay {
        candidates.push(relay.candidate(&incoming.peer_secret, context));
    }
    let proof = Object::new()
        .with(
            "requestFindProofBundleDigestValue",
            incoming.digest.as_str(),
        )
        .with("context", context)
        .with("validated", true)
        .with("iceUsernameFrag", random_string(&mut OsRng, ICE_UFRAG_LEN))
        .with(
            "icePasswordEncrypted",
            split_encrypt(&key, ice_password.as_bytes(), &mut OsRng),
        )
        .with("iceFinal", true)
        .with("location", local.location(candidates));
    Object::new().with("findProofBundle", local.sign("findProof", proof))
}

/// The finding peer's checks of a notify (spec §6.11): signed by the target's key, quoting
/// this find's digest, validated, naming the target; then its candidates, the relay proof
/// decrypted with the peer secret.
pub(crate) fn verify_find_notify(
    outgoing: &OutgoingFind,
    body: &Object,
) -> Result<FoundLocation, Rejection> {
    let bundle = body
        .get_object("findProofBundle")
        .ok_or(Rejection::Malformed("findProofBundle"))?;
    let target = &outgoing.target;
    let verified = verify_bundle(
        bundle,
        "findProof",
        &PeerKey {
            uri: target.contact(),
            key: target.key(),
        },
    )
    .map_err(|_| Rejection::BadSignature)?;
    let proof = *verified.get();
    if proof.get_str("requestFindProofBundleDigestValue") != Some(outgoing.digest.as_str()) {
        return Err(Rejection::UnknownFind);
    }
    if proof.get_bool("validated") != Some(true) {
        return Err(Rejection::WrongSecret);
    }
    let location = proof
        .get_object("location")
        .ok_or(Rejection::Malformed("location"))?;
    let contact = location
        .get_str("contact")
        .and_then(|c| PeerUri::parse(c).ok())
        .ok_or(Rejection::Malformed("location.contact"))?;
    if &contact != target.contact() {
        return Err(Rejection::Malformed("location.contact is not the signer"));
    }
    let context = context_of(proof)?;
    let encrypted = proof
        .get_str("icePasswordEncrypted")
        .ok_or(Rejection::Malformed("icePasswordEncrypted"))?;
    decrypt_ice_password(&outgoing.peer_secret, encrypted)?;
    let candidates = read_candidates(location);
    let key = peer_secret_key(&outgoing.peer_secret);
    let relay = match candidates.relay {
        None => None,
        Some(offer) => {
            let inner = split_decrypt(&key, &offer.proof_encrypted)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
                .filter(|inner| !inner.is_empty())
                .ok_or(Rejection::WrongSecret)?;
            Some(RelayCandidate {
                host: offer.host,
                token: offer.token,
                inner: Zeroizing::new(inner),
            })
        }
    };
    Ok(FoundLocation {
        context,
        host: candidates.host,
        relay,
    })
}

/// A fresh context id for one answered find.
pub(crate) fn new_context() -> String {
    random_string(&mut OsRng, CONTEXT_LEN)
}

/// `signature.digestValue` of a signed bundle.
fn digest_value(bundle: &Object) -> Option<&str> {
    bundle
        .get_object("signature")
        .and_then(|s| s.get_str("digestValue"))
        .filter(|d| !d.is_empty())
}

/// A proof's `context`: present, non-empty, bounded.
fn context_of(proof: &Object) -> Result<String, Rejection> {
    proof
        .get_str("context")
        .filter(|c| !c.is_empty() && c.len() <= MAX_CONTEXT_LEN)
        .map(str::to_owned)
        .ok_or(Rejection::Malformed("context"))
}

/// Checks that an `icePasswordEncrypted` opens with the peer secret into a usable password.
/// No ICE runs over it here (the signed datagrams authenticate the path), but a value the
/// other side cannot have made with our secret is refused.
fn decrypt_ice_password(peer_secret: &[u8], encrypted: &str) -> Result<(), Rejection> {
    let password = split_decrypt(&peer_secret_key(peer_secret), encrypted)
        .map_err(|_| Rejection::Malformed("icePasswordEncrypted"))?;
    if password.is_empty() {
        return Err(Rejection::Malformed("icePasswordEncrypted"));
    }
    Ok(())
}

/// A refused proof as a rejection.
pub(crate) fn proof_rejection(e: ProofError) -> Rejection {
    match e {
        ProofError::Expired => Rejection::Expired,
        ProofError::Mismatch => Rejection::WrongSecret,
    }
}
