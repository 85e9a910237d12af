//! `identity/identity-access-validate` and `identity/identity-lookup-update` (spec §6.5): other
//! services check a client's access proof here, and a client binds its peer file to its identity
//! so that anyone can find the peer behind the identity.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::proof::Purpose;
use openpeer_protocol::random::message_id;
use openpeer_protocol::signature::{PeerKey, sign_bundle, verify_bundle};
use openpeer_protocol::uri::{DomainName, IdentityUri};
use rand_core::OsRng;

use super::LookupContext;
use crate::error::Error;
use crate::identity::access::{self, AccessProof, NonceUse};
use crate::identity::repo::{IdentityRepo, LockboxKeyRecord, LookupEntry};

/// Longest client-encrypted lockbox key kept: a 32-byte key sealed with an iv is under 100.
const MAX_LOCKBOX_KEY_LEN: usize = 1024;
use crate::keys::ServiceType;

/// The `identity` element of a request.
fn identity_element(body: &Object) -> Result<&Object, Error> {
    body.get_object("identity")
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "identity element missing"))
}

/// `identity-access-validate`: checks the proof for the stated `purpose`; empty result or a
/// refusal (401 expired, 403 invalid).
pub async fn identity_access_validate(
    repo: &dyn IdentityRepo,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let nonce = access::request_nonce(body)?;
    let purpose = body
        .get_str("purpose")
        .and_then(Purpose::parse)
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "purpose missing or unknown"))?;
    let proof = AccessProof::read(identity_element(body)?)?;
    access::validate(repo, &proof, nonce, purpose, now, NonceUse::Record).await?;
    Ok(Object::new())
}

/// `identity-access-lockbox-update` (purpose `lockbox-update`): keeps the lockbox key the client
/// encrypted (the server cannot read it) for the identity's next `identity-access-complete`.
pub async fn identity_access_lockbox_update(
    repo: &dyn IdentityRepo,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let nonce = access::request_nonce(body)?;
    let proof = AccessProof::read(identity_element(body)?)?;
    let lockbox = body
        .get_object("lockbox")
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "lockbox element missing"))?;
    let domain = lockbox
        .get_str("domain")
        .and_then(|d| DomainName::parse(d).ok())
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "lockbox domain missing"))?;
    let key = lockbox
        .get_str("key")
        .filter(|k| !k.is_empty() && k.len() <= MAX_LOCKBOX_KEY_LEN)
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "lockbox key missing or too long"))?;
    let token = access::validate(
        repo,
        &proof,
        nonce,
        Purpose::LockboxUpdate,
        now,
        NonceUse::Record,
    )
    .await?;
    repo.set_lockbox_key(&LockboxKeyRecord {
        identity_uri: token.identity_uri,
        lockbox_domain: domain.to_string(),
        key_encrypted: key.to_owned(),
        updated: now,
    })
    .await?;
    Ok(Object::new())
}

/// `identity-lookup-update`: with `peer`, binds the caller's validated public peer file (and its
/// signed contact proof) to the identity and signs the `identityProofBundle` lookups will return;
/// without `peer`, removes the binding.
pub async fn identity_lookup_update(
    ctx: LookupContext<'_>,
    body: &Object,
) -> Result<Object, Error> {
    let LookupContext {
        repo,
        settings,
        published,
        now,
        ..
    } = ctx;
    let nonce = access::request_nonce(body)?;
    let identity = identity_element(body)?;
    let proof = AccessProof::read(identity)?;
    let token = access::validate(
        repo,
        &proof,
        nonce,
        Purpose::IdentityLookupUpdate,
        now,
        NonceUse::Record,
    )
    .await?;
    let Some(peer) = identity.get_object("peer") else {
        repo.delete_lookup(&token.identity_uri).await?;
        return Ok(Object::new());
    };
    let document = Object::new().with("peer", peer.clone());
    // The salt is checked under the certificates of the domain that signed it: ours, or a
    // foreign domain's, fetched and verified through the bridge.
    let peer_file = ctx
        .bridge
        .validate_peer_file(&document, &settings.domain, &ctx.own, now)
        .await?;
    let stable_id = identity
        .get_str("stableID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "stableID missing"))?;
    let contact_proof_bundle = identity
        .get_object("contactProofBundle")
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "contactProofBundle missing"))?;
    check_contact_proof(
        contact_proof_bundle,
        &peer_file,
        &token.identity_uri,
        stable_id,
        now,
    )?;
    let signer = published.signer(ServiceType::Identity, now)?;
    let identity_proof = Object::new()
        .with("$id", message_id(&mut OsRng))
        .with("contactProofBundle", contact_proof_bundle.clone());
    let bundle = sign_bundle(
        "identityProof",
        identity_proof,
        &signer.key,
        &signer.certificate.reference(&settings.domain),
        &mut OsRng,
    );
    let number = |name: &str| {
        identity
            .get_u64(name)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    repo.upsert_lookup(&LookupEntry {
        identity_uri: token.identity_uri.clone(),
        provider: token.provider.clone(),
        stable_id: stable_id.to_owned(),
        contact: peer_file.contact().to_string(),
        peer_file: openpeer_protocol::canonical::render_object(peer),
        identity_proof_bundle: openpeer_protocol::canonical::render_object(&bundle),
        priority: number("priority"),
        weight: number("weight"),
        updated: now,
    })
    .await?;
    Ok(Object::new())
}

/// The client-signed contact proof (spec §4.3): signed by the peer's key, naming this peer, this
/// identity and this stable id, and not expired.
fn check_contact_proof(
    bundle: &Object,
    peer_file: &PublicPeerFile,
    identity_uri: &str,
    stable_id: &str,
    now: u64,
) -> Result<(), Error> {
    let forged = || Error::refused(ResultCode::Forbidden, "contact proof does not verify");
    let resolver = PeerKey {
        uri: peer_file.contact(),
        key: peer_file.key(),
    };
    let verified = verify_bundle(bundle, "contactProof", &resolver).map_err(|_| forged())?;
    let proof = *verified.get();
    let same_identity = proof
        .get_str("uri")
        .and_then(|u| IdentityUri::parse(u).ok())
        .is_some_and(|u| u.to_string() == identity_uri);
    if proof.get_str("contact") != Some(peer_file.contact().to_string().as_str())
        || !same_identity
        || proof.get_str("stableID") != Some(stable_id)
    {
        return Err(forged());
    }
    match proof.get_u64("expires") {
        Some(expires) if expires > now => Ok(()),
        Some(_) => Err(Error::refused(
            ResultCode::Unauthorized,
            "contact proof expired",
        )),
        None => Err(forged()),
    }
}
