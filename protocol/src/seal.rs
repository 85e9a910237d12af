//! Encryption of a secret to a peer's key (architecture §4): the relay secret of
//! `serverProofBundle.accessSecretEncrypted` and a find's `peerSecretEncrypted`.
//!
//! * Legacy suite (RSA keys): RSAES-OAEP with SHA-1 and MGF1-SHA1, as C14; wire value
//!   base64(ciphertext).
//! * Ed25519 suite: a sealed box. The recipient's Ed25519 key is mapped to X25519 (the
//!   birational map, libsodium's `crypto_sign_ed25519_pk_to_curve25519`), an ephemeral X25519
//!   key agrees a shared secret, HKDF-SHA256 (salt = ephemeral public ‖ recipient X25519 public,
//!   info `"openpeer seal v1"`) derives a 32-byte key, and AES-256-GCM with a random 12-byte nonce
//!   encrypts. Wire value base64(ephemeral public 32 ‖ nonce 12 ‖ ciphertext ‖ tag 16).
//!
//! A secret is never sent in clear because the suite is modern.

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::montgomery::MontgomeryPoint;
use rand_core::{CryptoRng, RngCore};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::{Oaep, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest as _, Sha512};
use zeroize::Zeroizing;

use crate::encoding::{from_base64, to_base64};
use crate::signature::{PublicKey, SignatureSuite, SigningKey};

/// HKDF `info` of the sealed box.
const INFO: &[u8] = b"openpeer seal v1";
/// Bytes before the ciphertext: ephemeral public key and nonce.
const HEADER_LEN: usize = 32 + NONCE_LEN;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// Why a secret could not be sealed or opened. Deliberately coarse: no oracle for an attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The recipient key cannot receive (not a valid curve point, or an RSA key that does not
    /// parse), or the secret is too long for RSA-OAEP.
    #[error("cannot seal to this key")]
    Recipient,
    /// The sealed value is not for this key, was changed, or is malformed.
    #[error("cannot open the sealed value")]
    Open,
}

/// Seals `secret` to `recipient`; returns the base64 wire value.
pub fn seal(
    recipient: &PublicKey,
    secret: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, SealError> {
    match recipient.suite() {
        SignatureSuite::RsaSha1ForLegacyUseOnly => {
            let key = RsaPublicKey::from_public_key_der(recipient.spki_der())
                .map_err(|_| SealError::Recipient)?;
            let sealed = key
                .encrypt(rng, Oaep::new::<Sha1>(), secret)
                .map_err(|_| SealError::Recipient)?;
            Ok(to_base64(&sealed))
        }
        SignatureSuite::Ed25519 => {
            let mut ephemeral = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(ephemeral.as_mut());
            let mut nonce = [0u8; NONCE_LEN];
            rng.fill_bytes(&mut nonce);
            seal_ed25519(recipient, secret, &ephemeral, nonce).map(|b| to_base64(&b))
        }
    }
}

/// Opens a value sealed to `key`.
pub fn open(key: &SigningKey, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let bytes = from_base64(sealed).ok_or(SealError::Open)?;
    match key.suite() {
        SignatureSuite::RsaSha1ForLegacyUseOnly => {
            let private = key.rsa_private_key().ok_or(SealError::Open)?;
            private
                .decrypt(Oaep::new::<Sha1>(), &bytes)
                .map(Zeroizing::new)
                .map_err(|_| SealError::Open)
        }
        SignatureSuite::Ed25519 => {
            if bytes.len() < HEADER_LEN + TAG_LEN {
                return Err(SealError::Open);
            }
            let seed = key.ed25519_seed().ok_or(SealError::Open)?;
            let recipient_secret = x25519_secret_of(&seed);
            let recipient_public = MontgomeryPoint::mul_base_clamped(*recipient_secret);
            let (header, body) = bytes.split_at(HEADER_LEN);
            let mut ephemeral_public = [0u8; 32];
            ephemeral_public.copy_from_slice(&header[..32]);
            let shared = MontgomeryPoint(ephemeral_public).mul_clamped(*recipient_secret);
            let aead = aead_key(&ephemeral_public, &recipient_public.0, &shared.0)?;
            let mut nonce = [0u8; NONCE_LEN];
            nonce.copy_from_slice(&header[32..]);
            let mut buffer = Zeroizing::new(body.to_vec());
            let plain_len = aead
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    &mut buffer,
                )
                .map_err(|_| SealError::Open)?
                .len();
            buffer.truncate(plain_len);
            Ok(buffer)
        }
    }
}

/// The Ed25519 sealed box with a given ephemeral secret and nonce (fixed vectors use this).
fn seal_ed25519(
    recipient: &PublicKey,
    secret: &[u8],
    ephemeral: &[u8; 32],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, SealError> {
    let raw: [u8; 32] = recipient
        .spki_der()
        .get(recipient.spki_der().len().saturating_sub(32)..)
        .and_then(|b| b.try_into().ok())
        .ok_or(SealError::Recipient)?;
    let recipient_x = CompressedEdwardsY(raw)
        .decompress()
        .ok_or(SealError::Recipient)?
        .to_montgomery();
    let ephemeral_public = MontgomeryPoint::mul_base_clamped(*ephemeral);
    let shared = recipient_x.mul_clamped(*ephemeral);
    let aead = aead_key(&ephemeral_public.0, &recipient_x.0, &shared.0)
        .map_err(|_| SealError::Recipient)?;
    let mut buffer = secret.to_vec();
    aead.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut buffer,
    )
    .map_err(|_| SealError::Recipient)?;
    let mut out = Vec::with_capacity(HEADER_LEN + buffer.len());
    out.extend_from_slice(&ephemeral_public.0);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buffer);
    Ok(out)
}

/// The X25519 secret of an Ed25519 seed: the clamped first half of SHA-512(seed), as libsodium's
/// `crypto_sign_ed25519_sk_to_curve25519` (the multiplications clamp).
fn x25519_secret_of(seed: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let digest = Sha512::digest(seed);
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(&digest[..32]);
    secret
}

struct Len32;

impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA256(salt = ephemeral ‖ recipient, ikm = shared, info) → AES-256-GCM key. A shared
/// secret of zeros (a low-order point) is refused.
fn aead_key(
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    shared: &[u8; 32],
) -> Result<LessSafeKey, SealError> {
    if shared.iter().all(|b| *b == 0) {
        return Err(SealError::Open);
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let mut key = Zeroizing::new([0u8; 32]);
    Salt::new(HKDF_SHA256, &salt)
        .extract(shared)
        .expand(&[INFO], Len32)
        .and_then(|okm| okm.fill(key.as_mut()))
        .map_err(|_| SealError::Open)?;
    let unbound = UnboundKey::new(&AES_256_GCM, key.as_ref()).map_err(|_| SealError::Open)?;
    Ok(LessSafeKey::new(unbound))
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::encoding::from_hex;
    use crate::signature::test_keys::{key, other_key};

    const SUITES: [SignatureSuite; 2] = [
        SignatureSuite::RsaSha1ForLegacyUseOnly,
        SignatureSuite::Ed25519,
    ];

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        for suite in SUITES {
            let sealed = seal(key(suite).public_key(), b"relay secret", &mut OsRng).unwrap();
            assert_eq!(
                open(key(suite), &sealed).unwrap().as_slice(),
                b"relay secret"
            );
            assert_eq!(
                open(other_key(suite), &sealed).unwrap_err(),
                SealError::Open
            );
            assert_ne!(
                sealed,
                seal(key(suite).public_key(), b"relay secret", &mut OsRng).unwrap()
            );
        }
    }

    #[test]
    fn a_changed_byte_does_not_open() {
        let suite = SignatureSuite::Ed25519;
        let sealed =
            from_base64(&seal(key(suite).public_key(), b"secret", &mut OsRng).unwrap()).unwrap();
        for i in 0..sealed.len() {
            let mut changed = sealed.clone();
            changed[i] ^= 1;
            assert_eq!(
                open(key(suite), &to_base64(&changed)).unwrap_err(),
                SealError::Open,
                "byte {i}"
            );
        }
        assert_eq!(open(key(suite), "AAAA").unwrap_err(), SealError::Open);
        assert_eq!(open(key(suite), "not base64").unwrap_err(), SealError::Open);
    }

    /// Vectors from an independent Python implementation (`make_seal_vectors.py`).
    #[test]
    fn matches_the_independent_implementation() {
        let mut checked = 0;
        for line in include_str!("../tests/vectors/seal.tsv").lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let recipient = SigningKey::from_pkcs8_der(&from_hex(f[1]).unwrap()).unwrap();
            let plaintext = from_hex(f[2]).unwrap();
            match f[0] {
                "ed25519" => {
                    let ephemeral: [u8; 32] = from_hex(f[3]).unwrap().try_into().unwrap();
                    let nonce: [u8; NONCE_LEN] = from_hex(f[4]).unwrap().try_into().unwrap();
                    let sealed =
                        seal_ed25519(recipient.public_key(), &plaintext, &ephemeral, nonce)
                            .unwrap();
                    assert_eq!(to_base64(&sealed), f[5]);
                }
                "rsa-oaep-sha1" => {}
                other => panic!("unknown vector {other}"),
            }
            assert_eq!(
                open(&recipient, f[5]).unwrap().as_slice(),
                plaintext.as_slice()
            );
            checked += 1;
        }
        assert_eq!(checked, 4);
    }
}
