//! Identity proofs presented to the lockbox and the rolodex (spec §5: "a service that does not
//! own the secret validates a proof by forwarding it to the owner"). An identity this domain
//! answers for is checked here, against the identity service's own tokens; any other is sent to
//! its domain's `identity-access-validate`, reached through federation.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::Method;
use openpeer_protocol::proof::Purpose;
use openpeer_protocol::uri::IdentityUri;

use super::Services;
use super::identity_lookup::answers_for;
use crate::error::Error;
use crate::identity::access::{self, AccessProof, NonceUse};

/// An identity whose access proof held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenIdentity {
    /// The identity URI, as issued.
    pub uri: String,
    /// Its provider.
    pub provider: String,
}

/// The `identity` element of a request.
pub fn identity_element(body: &Object) -> Result<&Object, Error> {
    body.get_object("identity")
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "identity element missing"))
}

/// Checks the access proof of `identity` for `purpose` with the request's `nonce`.
pub async fn prove(
    services: &Services,
    identity: &Object,
    nonce: &str,
    purpose: Purpose,
    now: u64,
    nonce_use: NonceUse,
) -> Result<ProvenIdentity, Error> {
    let proof = AccessProof::read(identity)?;
    let uri = IdentityUri::parse(proof.uri)
        .map_err(|_| Error::refused(ResultCode::BadRequest, "not an identity URI"))?;
    let domain = uri.domain().ok_or_else(|| {
        Error::refused(ResultCode::Forbidden, "legacy identity URIs are not served")
    })?;
    if answers_for(services.settings(), domain) {
        let token =
            access::validate(&**services.store(), &proof, nonce, purpose, now, nonce_use).await?;
        return Ok(ProvenIdentity {
            uri: token.identity_uri,
            provider: token.provider,
        });
    }
    let forwarded = Object::new()
        .with("nonce", nonce)
        .with("purpose", purpose.as_str())
        .with(
            "identity",
            Object::new()
                .with("uri", proof.uri)
                .with("provider", identity.get_str("provider").unwrap_or_default())
                .with("accessToken", proof.access_token)
                .with("accessSecretProof", proof.proof)
                .with("accessSecretProofExpires", proof.expires),
        );
    services
        .bridge()
        .remotes
        .call(
            domain,
            "identity",
            Method::IdentityAccessValidate,
            forwarded,
            now,
        )
        .await?;
    Ok(ProvenIdentity {
        uri: uri.to_string(),
        provider: identity
            .get_str("provider")
            .filter(|p| !p.is_empty())
            .unwrap_or(domain.as_str())
            .to_owned(),
    })
}
