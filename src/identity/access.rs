//! Access tokens (spec §5, §6.5): what `identity-access-complete` hands a client after a login,
//! and the check of every access-secret proof made with them. Tokens, secrets and re-login keys
//! are random; the database keeps only their SHA-256, and the secret encrypted under a key
//! derived from the token, which only the client holds.

use openpeer_protocol::cipher::{split_decrypt, split_encrypt};
use openpeer_protocol::encoding::to_hex;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::proof::{self, ProofError, Purpose, identity_access_proof};
use openpeer_protocol::random::random_string;
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};

use super::repo::{AccessTokenRecord, IdentityRepo, ReloginKeyRecord};
use crate::error::Error;

/// Longest proof lifetime accepted: the C++ makes proofs valid for 24 h; a little more for skew.
pub const MAX_PROOF_LIFETIME: u64 = 25 * 3600;

/// What a finished login gives the client: the body of `identity-access-complete`.
#[derive(Clone, PartialEq, Eq)]
pub struct Completion {
    /// `accessToken`.
    pub access_token: String,
    /// `accessSecret`.
    pub access_secret: String,
    /// `accessSecretExpires`.
    pub access_secret_expires: u64,
    /// The identity URI.
    pub uri: String,
    /// The provider.
    pub provider: String,
    /// `reloginKey`.
    pub relogin_key: String,
    /// The client-encrypted lockbox key the identity left for its next login, and its lockbox
    /// domain (`lockbox{domain, key}`).
    pub lockbox: Option<(String, String)>,
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Completion({} via {}, secrets redacted)",
            self.uri, self.provider
        )
    }
}

impl Completion {
    /// The `lockbox` element of `identity-access-complete`, when a key was left (spec §6.5).
    pub fn lockbox_object(&self) -> Option<Object> {
        self.lockbox.as_ref().map(|(domain, key)| {
            Object::new()
                .with("domain", domain.as_str())
                .with("key", key.as_str())
        })
    }

    /// The `identity` element of `identity-access-complete` (spec §6.5).
    pub fn to_object(&self) -> Object {
        Object::new()
            .with("accessToken", self.access_token.as_str())
            .with("accessSecret", self.access_secret.as_str())
            .with("accessSecretExpires", self.access_secret_expires)
            .with("uri", self.uri.as_str())
            .with("provider", self.provider.as_str())
            .with("reloginKey", self.relogin_key.as_str())
    }
}

/// hex SHA-256 of a bearer value: how tokens, keys and states are looked up.
pub fn hash(value: &str) -> String {
    to_hex(&Sha256::digest(value.as_bytes()))
}

/// The key that encrypts a value stored under `bearer` (which the database never holds).
pub fn sealing_key(purpose: &str, bearer: &str) -> [u8; 32] {
    Sha256::digest(format!("openpeer-gateway {purpose}:{bearer}").as_bytes()).into()
}

/// Issues an access token, secret and re-login key for `uri` proven by `provider`.
pub async fn issue(
    repo: &dyn IdentityRepo,
    uri: &str,
    provider: &str,
    now: u64,
    access_lifetime: u64,
    relogin_lifetime: u64,
) -> Result<Completion, Error> {
    let access_token = random_string(&mut OsRng, 32);
    let access_secret = random_string(&mut OsRng, 32);
    let relogin_key = random_string(&mut OsRng, 40);
    let expires = now.saturating_add(access_lifetime);
    let key = sealing_key("access-secret", &access_token);
    repo.insert_access_token(&AccessTokenRecord {
        token_hash: hash(&access_token),
        identity_uri: uri.to_owned(),
        provider: provider.to_owned(),
        secret_encrypted: split_encrypt(&key, access_secret.as_bytes(), &mut OsRng),
        expires,
    })
    .await?;
    repo.insert_relogin_key(&ReloginKeyRecord {
        key_hash: hash(&relogin_key),
        identity_uri: uri.to_owned(),
        provider: provider.to_owned(),
        expires: now.saturating_add(relogin_lifetime),
    })
    .await?;
    let lockbox = repo
        .lockbox_key(uri)
        .await?
        .map(|k| (k.lockbox_domain, k.key_encrypted));
    Ok(Completion {
        lockbox,
        access_token,
        access_secret,
        access_secret_expires: expires,
        uri: uri.to_owned(),
        provider: provider.to_owned(),
        relogin_key,
    })
}

/// The proof fields of an `identity` element (spec §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessProof<'a> {
    /// `uri`.
    pub uri: &'a str,
    /// `accessToken`.
    pub access_token: &'a str,
    /// `accessSecretProof`.
    pub proof: &'a str,
    /// `accessSecretProofExpires`.
    pub expires: u64,
}

impl<'a> AccessProof<'a> {
    /// Reads the proof fields of an `identity` element; a missing one is a bad request.
    pub fn read(identity: &'a Object) -> Result<AccessProof<'a>, Error> {
        let field = |name| {
            identity
                .get_str(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::refused(ResultCode::BadRequest, "identity proof fields missing")
                })
        };
        Ok(AccessProof {
            uri: field("uri")?,
            access_token: field("accessToken")?,
            proof: field("accessSecretProof")?,
            expires: identity
                .get_u64("accessSecretProofExpires")
                .ok_or_else(|| {
                    Error::refused(ResultCode::BadRequest, "accessSecretProofExpires missing")
                })?,
        })
    }
}

/// The one-time nonce of a request: `nonce`, or `clientNonce` (spec §9).
pub fn request_nonce(body: &Object) -> Result<&str, Error> {
    body.get_str("nonce")
        .or_else(|| body.get_str("clientNonce"))
        .filter(|n| !n.is_empty() && n.len() <= 128)
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "nonce missing"))
}

/// Whether a proof's nonce is recorded as used, or was already by the request carrying it (the
/// identity proofs inside `lockbox-identities-update` share its nonce).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceUse {
    /// Record it; a nonce seen before is a replay.
    Record,
    /// The request's own proof recorded it.
    RecordedByRequest,
}

/// Checks an identity access proof for `purpose` (spec §5): a known, unexpired token of that
/// identity, the HMAC over the C14 message, an unexpired proof of sane lifetime, and a nonce never
/// seen before (recorded only once everything else holds, so junk fills no cache).
pub async fn validate(
    repo: &dyn IdentityRepo,
    presented: &AccessProof<'_>,
    nonce: &str,
    purpose: Purpose,
    now: u64,
    nonce_use: NonceUse,
) -> Result<AccessTokenRecord, Error> {
    let record = repo
        .access_token(&hash(presented.access_token))
        .await?
        .ok_or_else(|| Error::refused(ResultCode::Forbidden, "unknown access token"))?;
    if record.expires <= now {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "access token expired",
        ));
    }
    if record.identity_uri != presented.uri {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "access token of another identity",
        ));
    }
    if presented.expires > now.saturating_add(MAX_PROOF_LIFETIME) {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "proof lifetime too long",
        ));
    }
    let secret = split_decrypt(
        &sealing_key("access-secret", presented.access_token),
        &record.secret_encrypted,
    )
    .map_err(|e| Error::Protocol(e.into()))?;
    let secret = String::from_utf8_lossy(&secret);
    let expected = identity_access_proof(
        &secret,
        presented.uri,
        nonce,
        presented.expires,
        presented.access_token,
        purpose,
    );
    proof::check(&expected, presented.proof, presented.expires, now).map_err(|e| match e {
        ProofError::Expired => Error::refused(ResultCode::Unauthorized, "proof expired"),
        ProofError::Mismatch => Error::refused(ResultCode::Forbidden, "proof does not verify"),
    })?;
    if nonce_use == NonceUse::Record && !repo.use_nonce(nonce, presented.expires).await? {
        return Err(Error::refused(ResultCode::Forbidden, "nonce already used"));
    }
    Ok(record)
}
