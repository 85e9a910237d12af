//! `peer-finder/session-create`, `session-keep-alive` and `session-delete` (spec §6.11): a peer
//! of this domain proves who it is and registers a location on its connection.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::peer_file::{PublicPeerFile, salt_domain};
use openpeer_protocol::random::{message_id, random_string};
use openpeer_protocol::seal::seal;
use openpeer_protocol::signature::{PeerKey, sign_bundle, verify_bundle};
use rand_core::OsRng;

use zeroize::Zeroizing;

use super::registry::{ConnectionId, LocationRepo, LocationRow, Registration};
use super::{
    Context, MAX_PROOF_LIFETIME, bad_request, check_expiry, forbidden, location_ids, short_text,
};
use crate::error::Error;
use crate::keys::ServiceType;
use crate::services::certificates::OwnCertificates;

/// `session-create`: every check of spec §6.11 — the peer file valid and of this domain (salt
/// signed by this domain's salt certificate), the proof signed by that peer file's key, not
/// expired, its nonce unseen, `location.contact` the peer file's contact, `finder.$id` this
/// finder — then the registration and the signed `serverProofBundle` with a relay token and its
/// secret sealed to the peer's key.
pub async fn session_create(
    ctx: &Context<'_>,
    connection: ConnectionId,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let bundle = body
        .get_object("sessionProofBundle")
        .ok_or_else(|| bad_request("sessionProofBundle missing"))?;
    let proof = bundle
        .get_object("sessionProof")
        .ok_or_else(|| bad_request("sessionProof missing"))?;
    let peer = proof
        .get_object("peer")
        .ok_or_else(|| bad_request("peer file missing"))?;
    let document = Object::new().with("peer", peer.clone());
    if salt_domain(&document).as_ref() != Some(&ctx.settings.domain) {
        return Err(forbidden("a peer registers with its own domain's finder"));
    }
    let own = OwnCertificates {
        ring: &ctx.published.ring,
        domain: &ctx.settings.domain,
        now,
    };
    let file = PublicPeerFile::validate(&document, now, Some(&own))
        .map_err(|e| Error::Protocol(e.into()))?;
    verify_bundle(
        bundle,
        "sessionProof",
        &PeerKey {
            uri: file.contact(),
            key: file.key(),
        },
    )
    .map_err(|_| forbidden("session proof does not verify"))?;
    let expires = proof
        .get_u64("expires")
        .ok_or_else(|| bad_request("expires missing"))?;
    check_expiry(expires, now, MAX_PROOF_LIFETIME)?;
    let finder_id = proof.get_object("finder").and_then(|f| f.get_str("$id"));
    if finder_id != Some(ctx.settings.node_id.as_str()) {
        return Err(forbidden("the session proof is for another finder"));
    }
    let location = proof
        .get_object("location")
        .ok_or_else(|| bad_request("location missing"))?;
    let location_id = short_text(location, "$id", "location $id missing")?;
    let contact = file.contact().to_string();
    if location.get_str("contact") != Some(contact.as_str()) {
        return Err(forbidden("location.contact is not the peer file's contact"));
    }
    let nonce = short_text(proof, "nonce", "nonce missing")?;
    if !ctx.nonces.use_nonce(nonce, expires).await? {
        return Err(forbidden("nonce already used"));
    }
    let signer = ctx.published.signer(ServiceType::Finder, now)?;
    let session_expires = now.saturating_add(ctx.settings.finder.session_ttl_seconds);
    let relay_token = random_string(&mut OsRng, 32);
    let relay_secret = Zeroizing::new(random_string(&mut OsRng, 32));
    let sealed = seal(file.key(), relay_secret.as_bytes(), &mut OsRng)
        .map_err(|_| forbidden("cannot seal to the peer's key"))?;
    let registration = Registration {
        contact: contact.clone(),
        location_id: location_id.to_owned(),
        details: location.get_object("details").cloned().unwrap_or_default(),
        connection,
        expires: session_expires,
        key: file.key().clone(),
        find_secret: file.find_secret().map(str::to_owned),
        relay_token: relay_token.clone(),
        relay_secret,
    };
    ctx.registry
        .register(registration, ctx.settings.finder.max_sessions_per_contact)?;
    ctx.locations
        .upsert_location(&LocationRow {
            contact,
            location_id: location_id.to_owned(),
            node_id: ctx.settings.node_id.clone(),
            expires: session_expires,
        })
        .await?;
    let server_proof = Object::new().with("$id", message_id(&mut OsRng)).with(
        "relay",
        Object::new()
            .with("accessToken", relay_token)
            .with("accessSecretEncrypted", sealed),
    );
    let reference = signer.certificate.reference(&ctx.settings.domain);
    let server_proof_bundle = sign_bundle(
        "serverProof",
        server_proof,
        &signer.key,
        &reference,
        &mut OsRng,
    );
    Ok(Object::new()
        .with(
            "server",
            concat!("openpeer-gateway/", env!("CARGO_PKG_VERSION")),
        )
        .with("expires", session_expires)
        .with("serverProofBundle", server_proof_bundle))
}

/// `session-keep-alive`: extends the registrations of this connection; 404 when it has none.
pub async fn session_keep_alive(
    ctx: &Context<'_>,
    connection: ConnectionId,
    now: u64,
) -> Result<Object, Error> {
    let expires = now.saturating_add(ctx.settings.finder.session_ttl_seconds);
    let kept = ctx
        .registry
        .keep_alive(connection, expires)
        .ok_or_else(|| Error::refused(ResultCode::NotFound, "no session on this connection"))?;
    for r in kept {
        ctx.locations
            .upsert_location(&LocationRow {
                contact: r.contact,
                location_id: r.location_id,
                node_id: ctx.settings.node_id.clone(),
                expires,
            })
            .await?;
    }
    Ok(Object::new().with("expires", expires))
}

/// `session-delete` (spec §6.11): without `locations`, unregisters this connection's
/// locations; with an empty list, every location of the peer (on any connection of this node);
/// with a list, those of the peer's locations. Answers the ids removed.
pub async fn session_delete(
    ctx: &Context<'_>,
    connection: ConnectionId,
    body: &Object,
) -> Result<Object, Error> {
    let removed = match body.get("locations") {
        None => ctx.registry.remove(connection, None),
        Some(listed) => {
            let ids = listed.as_object().map(location_ids).unwrap_or_default();
            ctx.registry.remove_of_peers_on(connection, &ids)
        }
    };
    delete_rows(ctx.locations, &removed).await?;
    let items = removed
        .iter()
        .map(|r| Value::Object(Object::new().with("$id", r.location_id.as_str())))
        .collect();
    Ok(Object::new().with(
        "locations",
        Object::new().with("location", Value::from_list(items)),
    ))
}

/// Deletes the database rows of registrations already gone from memory.
pub async fn delete_rows(locations: &dyn LocationRepo, gone: &[Registration]) -> Result<(), Error> {
    for r in gone {
        locations
            .delete_location(&r.contact, &r.location_id)
            .await?;
    }
    Ok(())
}
