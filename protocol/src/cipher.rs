//! The symmetric cipher of the wire and the keys it is used with (spec §2, §4.2, §11).
//!
//! There is exactly one cipher: AES-256 in CFB mode with 16-byte feedback (Crypto++
//! `CFB_Mode<AES>`), no padding, ciphertext length = plaintext length. It appears in two
//! shapes: `splitEncrypt` strings (`hex(iv) + ":" + base64(ciphertext)`, spec §2) for lockbox
//! values, `icePasswordEncrypted` and `accessSecretProofEncrypted`, and the bare base64 values
//! of the private peer file (spec §4.2), whose iv is derived rather than sent.
//!
//! Key material: every derived key is returned as [`Key256`], so it is
//! wiped when dropped and never printed; it dereferences to `[u8; 32]`, so `&key` can be passed wherever a
//! `&[u8; 32]` is taken. Ivs are not secret and are plain arrays. The cipher offers no
//! integrity: the callers rely on the signatures around these values (spec §8).

use aes::Aes256;
use cfb_mode::cipher::{AsyncStreamCipher as _, KeyIvInit as _};
use hmac::{Hmac, Mac as _};
use md5::{Digest as _, Md5};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::{from_base64, from_hex, to_base64, to_hex};
use crate::random::random_bytes;

/// Length of an AES-256 key (spec §2: "AES with a 32-byte key").
pub const KEY_LEN: usize = 32;

/// Length of a CFB iv: one AES block (spec §2: "iv = 16 random bytes").
pub const IV_LEN: usize = 16;

/// A 32-byte symmetric key (spec §2, §4.2, §11 key derivations): zeroized on drop, never
/// printed, and dereferencing to `[u8; 32]` so `&key` fits every cipher function.
pub struct Key256(Zeroizing<[u8; KEY_LEN]>);

impl Key256 {
    fn new(bytes: [u8; KEY_LEN]) -> Key256 {
        Key256(Zeroizing::new(bytes))
    }
}

impl std::ops::Deref for Key256 {
    type Target = [u8; KEY_LEN];
    fn deref(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for Key256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key256(redacted)")
    }
}

/// Why a `splitEncrypt` string was refused (spec §2 format `hex(iv) + ":" + base64(data)`).
///
/// The variants say which part was malformed; none reveals anything about the key or the
/// plaintext, since CFB has no padding or tag to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The string has no `:` between the iv and the ciphertext.
    #[error("splitEncrypt value has no ':' separator")]
    MissingSeparator,
    /// The part before the `:` is not hex.
    #[error("splitEncrypt iv is not hex")]
    BadIvHex,
    /// The iv decodes to something other than 16 bytes.
    #[error("splitEncrypt iv is not 16 bytes")]
    BadIvLength,
    /// The part after the `:` is not standard padded base64.
    #[error("splitEncrypt ciphertext is not base64")]
    BadBase64,
}

type Aes256CfbEnc = cfb_mode::Encryptor<Aes256>;
type Aes256CfbDec = cfb_mode::Decryptor<Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// AES-256-CFB128 encryption, the only symmetric cipher of the protocol (spec §2).
///
/// No padding: the output has the length of `data`.
pub fn aes256_cfb128_encrypt(key: &[u8; KEY_LEN], iv: &[u8; IV_LEN], data: &[u8]) -> Vec<u8> {
    let mut buf = data.to_vec();
    Aes256CfbEnc::new(key.into(), iv.into()).encrypt(&mut buf);
    buf
}

/// AES-256-CFB128 decryption, the inverse of [`aes256_cfb128_encrypt`] (spec §2).
///
/// The result is zeroized on drop because it is usually a secret (a private key, a password).
pub fn aes256_cfb128_decrypt(
    key: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
    data: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut buf = Zeroizing::new(data.to_vec());
    Aes256CfbDec::new(key.into(), iv.into()).decrypt(&mut buf);
    buf
}

/// `splitEncrypt(key, data)` with a fresh random iv (spec §2, C13 `stack_Helper.cpp`).
///
/// Output: `hex(iv) + ":" + base64(AES-256-CFB(key, iv, data))`.
pub fn split_encrypt(
    key: &[u8; KEY_LEN],
    data: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
) -> String {
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&random_bytes(rng, IV_LEN));
    split_encrypt_with_iv(key, &iv, data)
}

/// `splitEncrypt` with a caller-chosen iv, for test vectors (spec §2, §11).
///
/// Never reuse an iv with the same key outside tests: CFB then leaks the XOR of plaintexts.
pub fn split_encrypt_with_iv(key: &[u8; KEY_LEN], iv: &[u8; IV_LEN], data: &[u8]) -> String {
    let ciphertext = aes256_cfb128_encrypt(key, iv, data);
    format!("{}:{}", to_hex(iv), to_base64(&ciphertext))
}

/// Parses and decrypts a `splitEncrypt` string (spec §2), refusing any malformed part.
///
/// A wrong key is not detected here (CFB has no tag); it yields garbage of the right length.
pub fn split_decrypt(key: &[u8; KEY_LEN], text: &str) -> Result<Zeroizing<Vec<u8>>, CipherError> {
    let (iv_hex, data64) = text.split_once(':').ok_or(CipherError::MissingSeparator)?;
    let iv_bytes = from_hex(iv_hex).ok_or(CipherError::BadIvHex)?;
    let iv: [u8; IV_LEN] = iv_bytes
        .as_slice()
        .try_into()
        .map_err(|_| CipherError::BadIvLength)?;
    let data = from_base64(data64).ok_or(CipherError::BadBase64)?;
    Ok(aes256_cfb128_decrypt(key, &iv, &data))
}

/// The key of one lockbox value's `splitEncrypt` (spec §11, §6.7):
/// HMAC-SHA256(lockboxKey, `"lockbox:" + namespaceURL + ":" + valueName`).
pub fn lockbox_value_key(lockbox_key: &[u8], namespace_url: &str, value_name: &str) -> Key256 {
    hmac_sha256(
        lockbox_key,
        &["lockbox:", namespace_url, ":", value_name].concat(),
    )
}

/// The key of `icePasswordEncrypted` and `accessSecretProofEncrypted` (spec §6.11, §11):
/// SHA256(peerSecret).
pub fn peer_secret_key(peer_secret: &[u8]) -> Key256 {
    Key256::new(Sha256::digest(peer_secret).into())
}

/// The four encrypted values of a private peer file, each keyed by its own phrase (spec §4.2).
///
/// In section order: `encryptedContact`, `encryptedPrivateKey`, `encryptedPeer`,
/// `encryptedPrivateData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivatePeerFilePhrase {
    /// `encryptedContact`: the peer URI.
    Contact,
    /// `encryptedPrivateKey`: the PKCS#8 DER private key.
    PrivateKey,
    /// `encryptedPeer`: the JSON of the whole public peer file.
    Peer,
    /// `encryptedPrivateData`: the JSON private data.
    Data,
}

impl PrivatePeerFilePhrase {
    /// All four phrases, in section order (spec §4.2).
    pub const ALL: [PrivatePeerFilePhrase; 4] = [
        PrivatePeerFilePhrase::Contact,
        PrivatePeerFilePhrase::PrivateKey,
        PrivatePeerFilePhrase::Peer,
        PrivatePeerFilePhrase::Data,
    ];

    /// The phrase string hashed into the key and iv (spec §4.2).
    pub fn as_str(self) -> &'static str {
        match self {
            PrivatePeerFilePhrase::Contact => "contact",
            PrivatePeerFilePhrase::PrivateKey => "privatekey",
            PrivatePeerFilePhrase::Peer => "peer",
            PrivatePeerFilePhrase::Data => "data",
        }
    }
}

/// The AES key of one private-peer-file value (spec §4.2):
/// HMAC-SHA256(S, `phrase + ":" + salt64`), S = the private-peer-file secret.
pub fn private_peer_file_key(
    secret_key: &[u8],
    phrase: PrivatePeerFilePhrase,
    salt64: &str,
) -> Key256 {
    hmac_sha256(secret_key, &[phrase.as_str(), ":", salt64].concat())
}

/// The iv of one private-peer-file value (spec §4.2): MD5(`phrase + ":" + salt64`).
///
/// Derived, not sent, so the encrypted values are bare base64.
pub fn private_peer_file_iv(phrase: PrivatePeerFilePhrase, salt64: &str) -> [u8; IV_LEN] {
    let mut md5 = Md5::new();
    md5.update(phrase.as_str().as_bytes());
    md5.update(b":");
    md5.update(salt64.as_bytes());
    md5.finalize().into()
}

/// Section A `secretProof` of the private peer file (spec §4.2):
/// lowercase hex(HMAC-SHA256(S, `"proof:" + contactId`)).
///
/// `contact_id` is the bare 64-hex contact id, not the peer URI: that is what reproduces the
/// April-2013 C++ file in `shared/vectors/c14-real`.
pub fn secret_proof(secret_key: &[u8], contact_id: &str) -> String {
    to_hex(hmac_sha256(secret_key, &["proof:", contact_id].concat()).as_slice())
}

fn hmac_sha256(key: &[u8], message: &str) -> Key256 {
    // HMAC accepts keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    Key256::new(mac.finalize().into_bytes().into())
}

/// Reads `tests/vectors/derivations.tsv`, the vectors made by the independent Python script
/// `tests/vectors/make_vectors.py` (spec §11). Shared by the test modules of this crate.
#[cfg(test)]
pub(crate) mod test_vectors {
    const TSV: &str = include_str!("../tests/vectors/derivations.tsv");

    /// Every row of `kind`, without the kind column: `[label, inputs…, expected]`.
    ///
    /// Panics if there is none, so a regenerated file that lost a kind fails loudly.
    pub(crate) fn rows(kind: &str) -> Vec<Vec<&'static str>> {
        let rows: Vec<Vec<&'static str>> = TSV
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| line.split('\t').collect::<Vec<_>>())
            .filter(|fields| fields[0] == kind)
            .map(|fields| fields[1..].to_vec())
            .collect();
        assert!(!rows.is_empty(), "no vectors of kind {kind}");
        rows
    }

    /// Decodes a hex column.
    pub(crate) fn hex(text: &str) -> Vec<u8> {
        hex::decode(text).expect("vector column is hex")
    }

    /// Decodes a hex column of a fixed length.
    pub(crate) fn hex_array<const N: usize>(text: &str) -> [u8; N] {
        hex(text)
            .try_into()
            .expect("vector column has the expected length")
    }
}

#[cfg(test)]
mod tests {
    use super::test_vectors::{hex, hex_array, rows};
    use super::*;
    use proptest::prelude::*;
    use rand_core::OsRng;

    fn phrase(text: &str) -> PrivatePeerFilePhrase {
        PrivatePeerFilePhrase::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .expect("known phrase")
    }

    #[test]
    fn split_encrypt_matches_vectors_and_decrypts() {
        let vectors = rows("split_encrypt");
        assert!(vectors.len() >= 6);
        for row in vectors {
            let [label, key, iv, plaintext, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let key: [u8; 32] = hex_array(key);
            let iv: [u8; 16] = hex_array(iv);
            let plaintext = hex(plaintext);
            assert_eq!(
                split_encrypt_with_iv(&key, &iv, &plaintext),
                expected,
                "{label}"
            );
            assert_eq!(
                *split_decrypt(&key, expected).unwrap(),
                plaintext,
                "{label}"
            );
            let bare = aes256_cfb128_encrypt(&key, &iv, &plaintext);
            assert_eq!(bare.len(), plaintext.len(), "{label}");
            assert_eq!(
                *aes256_cfb128_decrypt(&key, &iv, &bare),
                plaintext,
                "{label}"
            );
        }
    }

    #[test]
    fn split_encrypt_round_trips_every_cfb_length() {
        let key = [7u8; 32];
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 1000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let text = split_encrypt(&key, &data, &mut OsRng);
            let (iv, body) = text.split_once(':').unwrap();
            assert_eq!(iv.len(), 32);
            assert_eq!(from_base64(body).unwrap().len(), len);
            assert_eq!(*split_decrypt(&key, &text).unwrap(), data);
        }
    }

    #[test]
    fn split_encrypt_uses_a_fresh_iv() {
        let key = [1u8; 32];
        assert_ne!(
            split_encrypt(&key, b"same", &mut OsRng),
            split_encrypt(&key, b"same", &mut OsRng)
        );
    }

    #[test]
    fn split_decrypt_refuses_malformed_strings() {
        let key = [0u8; 32];
        let iv = "000102030405060708090a0b0c0d0e0f";
        assert_eq!(
            split_decrypt(&key, "").unwrap_err(),
            CipherError::MissingSeparator
        );
        assert_eq!(
            split_decrypt(&key, "AAAA").unwrap_err(),
            CipherError::MissingSeparator
        );
        assert_eq!(
            split_decrypt(&key, "zz0102030405060708090a0b0c0d0e0f:AAAA").unwrap_err(),
            CipherError::BadIvHex
        );
        assert_eq!(
            split_decrypt(&key, "abc:AAAA").unwrap_err(),
            CipherError::BadIvHex
        );
        assert_eq!(
            split_decrypt(&key, "0001:AAAA").unwrap_err(),
            CipherError::BadIvLength
        );
        assert_eq!(
            split_decrypt(&key, ":AAAA").unwrap_err(),
            CipherError::BadIvLength
        );
        assert_eq!(
            split_decrypt(&key, &format!("{iv}00:AAAA")).unwrap_err(),
            CipherError::BadIvLength
        );
        for body in ["AAA", "A A=", "AA==:", "AA:AA", "AA==AA==", "-_8="] {
            assert_eq!(
                split_decrypt(&key, &format!("{iv}:{body}")).unwrap_err(),
                CipherError::BadBase64,
                "{body}"
            );
        }
        // Upper-case iv hex is accepted (spec §2: compare hex case-insensitively).
        assert!(split_decrypt(&key, &format!("{}:AAAA", iv.to_uppercase())).is_ok());
        // Empty plaintext is a valid value.
        assert_eq!(split_decrypt(&key, &format!("{iv}:")).unwrap().len(), 0);
    }

    #[test]
    fn lockbox_value_key_matches_vectors() {
        for row in rows("lockbox_value_key") {
            let [label, lockbox_key, namespace_url, value_name, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let key = lockbox_value_key(&hex(lockbox_key), namespace_url, value_name);
            assert_eq!(to_hex(key.as_slice()), expected, "{label}");
        }
    }

    #[test]
    fn peer_secret_key_matches_vectors() {
        for row in rows("peer_secret_key") {
            let [label, peer_secret, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(
                to_hex(peer_secret_key(&hex(peer_secret)).as_slice()),
                expected,
                "{label}"
            );
        }
    }

    #[test]
    fn phrases_are_the_spec_strings() {
        let names: Vec<_> = PrivatePeerFilePhrase::ALL
            .iter()
            .map(|p| p.as_str())
            .collect();
        assert_eq!(names, ["contact", "privatekey", "peer", "data"]);
    }

    #[test]
    fn private_peer_file_key_and_iv_match_vectors_for_each_phrase() {
        let keys = rows("private_peer_file_key");
        let ivs = rows("private_peer_file_iv");
        assert_eq!(keys.len(), 4);
        assert_eq!(ivs.len(), 4);
        for row in keys {
            let [label, secret, p, salt64, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let key = private_peer_file_key(&hex(secret), phrase(p), salt64);
            assert_eq!(to_hex(key.as_slice()), expected, "{label}");
        }
        for row in ivs {
            let [label, p, salt64, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(
                to_hex(&private_peer_file_iv(phrase(p), salt64)),
                expected,
                "{label}"
            );
        }
    }

    #[test]
    fn private_peer_file_values_match_vectors_and_round_trip() {
        // Includes the real April-2013 C++ `encryptedContact` (label c14-real-2013-contact).
        for row in rows("private_peer_file_value") {
            let [label, secret, p, salt64, plaintext, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let key = private_peer_file_key(&hex(secret), phrase(p), salt64);
            let iv = private_peer_file_iv(phrase(p), salt64);
            let plaintext = hex(plaintext);
            let value = to_base64(&aes256_cfb128_encrypt(&key, &iv, &plaintext));
            assert_eq!(value, expected, "{label}");
            let back = aes256_cfb128_decrypt(&key, &iv, &from_base64(expected).unwrap());
            assert_eq!(*back, plaintext, "{label}");
        }
    }

    #[test]
    fn secret_proof_matches_vectors() {
        // Includes the real April-2013 C++ `secretProof` (label c14-real-2013).
        for row in rows("secret_proof") {
            let [label, secret, contact_id, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(secret_proof(&hex(secret), contact_id), expected, "{label}");
        }
    }

    proptest! {
        #[test]
        fn split_encrypt_round_trips(key in any::<[u8; 32]>(), iv in any::<[u8; 16]>(),
                                     data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = split_encrypt_with_iv(&key, &iv, &data);
            prop_assert_eq!(&*split_decrypt(&key, &text).unwrap(), &data);
            let random = split_encrypt(&key, &data, &mut OsRng);
            prop_assert_eq!(&*split_decrypt(&key, &random).unwrap(), &data);
        }

        #[test]
        fn split_decrypt_never_panics(text in ".{0,80}") {
            let _ = split_decrypt(&[0u8; 32], &text);
        }
    }
}
