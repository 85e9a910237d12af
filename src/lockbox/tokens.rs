//! Access tokens of the lockbox and the rolodex (spec §5): issued like the identity service's
//! (random token and secret, the database keeping the token's SHA-256 and the secret encrypted
//! under a key derived from the token), and every proof made with them checked the same way.

use openpeer_protocol::cipher::{split_decrypt, split_encrypt};
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::proof::{self, ProofError, Purpose};
use openpeer_protocol::random::random_string;
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::repo::{LockboxRepo, ServiceTokenRecord, TokenService};
use crate::error::Error;
use crate::identity::access::{MAX_PROOF_LIFETIME, hash, sealing_key};
use crate::identity::repo::IdentityRepo;

/// A token and secret handed to a client once.
pub struct IssuedToken {
    /// `accessToken`.
    pub token: String,
    /// `accessSecret`.
    pub secret: Zeroizing<String>,
    /// `accessSecretExpires`.
    pub expires: u64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedToken(expires {}, secrets redacted)", self.expires)
    }
}

/// The owner of a token being issued.
#[derive(Clone, Copy, Debug)]
pub struct TokenOwner<'a> {
    /// Account id (lockbox) or identity URI (rolodex).
    pub subject: &'a str,
    /// The identity's provider (rolodex), or empty.
    pub provider: &'a str,
    /// hex SHA-256 of the client's grant id, or empty.
    pub grant_hash: &'a str,
}

/// Issues a token of `service` for `owner`, valid `lifetime` seconds from `now`.
pub async fn issue(
    repo: &dyn LockboxRepo,
    service: TokenService,
    owner: TokenOwner<'_>,
    now: u64,
    lifetime: u64,
) -> Result<IssuedToken, Error> {
    let token = random_string(&mut OsRng, 32);
    let secret = Zeroizing::new(random_string(&mut OsRng, 32));
    let expires = now.saturating_add(lifetime);
    let secret_encrypted = split_encrypt(
        &sealing_key(service.as_str(), &token),
        secret.as_bytes(),
        &mut OsRng,
    );
    repo.insert_service_token(&ServiceTokenRecord {
        token_hash: hash(&token),
        service,
        subject: owner.subject.to_owned(),
        provider: owner.provider.to_owned(),
        grant_hash: owner.grant_hash.to_owned(),
        secret_encrypted,
        expires,
    })
    .await?;
    Ok(IssuedToken {
        token,
        secret,
        expires,
    })
}

/// The proof fields of a `lockbox` or `rolodex` element (spec §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceProof<'a> {
    /// `accessToken`.
    pub access_token: &'a str,
    /// `accessSecretProof`.
    pub proof: &'a str,
    /// `accessSecretProofExpires`.
    pub expires: u64,
}

impl<'a> ServiceProof<'a> {
    /// Reads the proof fields of `element`; a missing one is a bad request.
    pub fn read(element: &'a Object) -> Result<ServiceProof<'a>, Error> {
        let field = |name| {
            element
                .get_str(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::refused(ResultCode::BadRequest, "access proof fields missing")
                })
        };
        Ok(ServiceProof {
            access_token: field("accessToken")?,
            proof: field("accessSecretProof")?,
            expires: element.get_u64("accessSecretProofExpires").ok_or_else(|| {
                Error::refused(ResultCode::BadRequest, "accessSecretProofExpires missing")
            })?,
        })
    }
}

/// The proof function of a service: `(secret, nonce, expires, token, purpose) → hex proof`.
pub type ProofFn = fn(&str, &str, u64, &str, Purpose) -> String;

/// Checks a proof made with a token of `service` for one of `purposes` (spec §5): a known,
/// unexpired token of that service, the HMAC, an unexpired proof of sane lifetime, and a nonce
/// never seen before (recorded only once everything else holds).
#[allow(clippy::too_many_arguments)]
pub async fn validate(
    repo: &dyn LockboxRepo,
    nonces: &dyn IdentityRepo,
    service: TokenService,
    proof_of: ProofFn,
    presented: &ServiceProof<'_>,
    nonce: &str,
    purposes: &[Purpose],
    now: u64,
) -> Result<ServiceTokenRecord, Error> {
    let record = repo
        .service_token(&hash(presented.access_token))
        .await?
        .filter(|r| r.service == service)
        .ok_or_else(|| Error::refused(ResultCode::Forbidden, "unknown access token"))?;
    if record.expires <= now {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "access token expired",
        ));
    }
    if presented.expires > now.saturating_add(MAX_PROOF_LIFETIME) {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "proof lifetime too long",
        ));
    }
    let secret = split_decrypt(
        &sealing_key(service.as_str(), presented.access_token),
        &record.secret_encrypted,
    )
    .map_err(|e| Error::Protocol(e.into()))?;
    let secret = String::from_utf8_lossy(&secret);
    let mut outcome = Err(ProofError::Mismatch);
    for purpose in purposes {
        let expected = proof_of(
            &secret,
            nonce,
            presented.expires,
            presented.access_token,
            *purpose,
        );
        outcome = proof::check(&expected, presented.proof, presented.expires, now);
        if outcome != Err(ProofError::Mismatch) {
            break;
        }
    }
    outcome.map_err(|e| match e {
        ProofError::Expired => Error::refused(ResultCode::Unauthorized, "proof expired"),
        ProofError::Mismatch => Error::refused(ResultCode::Forbidden, "proof does not verify"),
    })?;
    if !nonces.use_nonce(nonce, presented.expires).await? {
        return Err(Error::refused(ResultCode::Forbidden, "nonce already used"));
    }
    Ok(record)
}
