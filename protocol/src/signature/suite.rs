//! The two signature suites (architecture §4) and their keys, named the ring way: a suite is a
//! whole parameter set, keys come only from checked encodings, private keys never print.

use std::fmt;

use rand_core::{CryptoRng, RngCore};
use ring::signature::{
    ED25519, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    UnparsedPublicKey,
};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use rsa::signature::{SignatureEncoding as _, Signer as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use spki::ObjectIdentifier;
use zeroize::Zeroizing;

use crate::derivation::key_fingerprint;
use crate::encoding::{from_base64, to_base64};

/// A jsonsig suite: everything needed to turn canonical bytes into `digestValue`/`digestSigned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureSuite {
    /// The legacy C14 suite, kept for interoperability: RSA-2048 PKCS#1 v1.5 whose message is
    /// the 20-byte SHA-1 digest of the canonical JSON (so SHA-1 is applied twice, spec §2).
    RsaSha1ForLegacyUseOnly,
    /// The modern suite: Ed25519 over the canonical bytes, `digestValue` = SHA-256.
    Ed25519,
}

/// The C14 algorithm URI of the legacy suite, emitted on output.
pub const RSA_SHA1_URI: &str = "https://meta.openpeer.org/2012/12/14/jsonsig#rsa-sha1";
/// The algorithm URI of the Ed25519 suite (architecture §4).
pub const ED25519_URI: &str = "urn:openpeer:jsonsig:ed25519";
/// Older spellings of the legacy URI, accepted on input (spec §2.2, §9).
const RSA_SHA1_ALIASES: [&str; 3] = [
    RSA_SHA1_URI,
    "http://meta.openpeer.org/2012/12/14/jsonsig#rsa-sha1",
    "http://openpeer.org/2012/12/14/jsonsig#rsa-sha1",
];

impl SignatureSuite {
    /// The suite an algorithm URI names, any accepted alias included.
    pub fn from_uri(uri: &str) -> Option<SignatureSuite> {
        if RSA_SHA1_ALIASES.contains(&uri) {
            Some(SignatureSuite::RsaSha1ForLegacyUseOnly)
        } else if uri == ED25519_URI {
            Some(SignatureSuite::Ed25519)
        } else {
            None
        }
    }

    /// The URI emitted in `signature.algorithm`.
    pub fn uri(self) -> &'static str {
        match self {
            SignatureSuite::RsaSha1ForLegacyUseOnly => RSA_SHA1_URI,
            SignatureSuite::Ed25519 => ED25519_URI,
        }
    }

    /// The configuration and CLI name: `rsa-sha1` or `ed25519`.
    pub fn name(self) -> &'static str {
        match self {
            SignatureSuite::RsaSha1ForLegacyUseOnly => "rsa-sha1",
            SignatureSuite::Ed25519 => "ed25519",
        }
    }

    /// Parses a configuration or CLI name.
    pub fn from_name(name: &str) -> Option<SignatureSuite> {
        match name {
            "rsa-sha1" => Some(SignatureSuite::RsaSha1ForLegacyUseOnly),
            "ed25519" => Some(SignatureSuite::Ed25519),
            _ => None,
        }
    }

    /// The digest whose base64 is `digestValue`.
    pub fn digest(self, canonical: &[u8]) -> Vec<u8> {
        match self {
            SignatureSuite::RsaSha1ForLegacyUseOnly => Sha1::digest(canonical).to_vec(),
            SignatureSuite::Ed25519 => Sha256::digest(canonical).to_vec(),
        }
    }
}

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// DER SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410), followed by the 32 key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER PKCS#8 v1 header of an Ed25519 private key (RFC 8410), followed by the 32-byte seed.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Why a key encoding was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not DER, not base64, or trailing bytes.
    #[error("malformed key encoding")]
    Malformed,
    /// A well-formed key of an algorithm neither suite uses.
    #[error("unsupported key algorithm")]
    UnsupportedAlgorithm,
    /// Key generation failed in the underlying library.
    #[error("key generation failed")]
    Generation,
}

/// A public key from an `x509Data` SubjectPublicKeyInfo; its algorithm fixes its suite.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    suite: SignatureSuite,
    spki_der: Vec<u8>,
    /// What ring verifies with: the RSAPublicKey DER, or the 32 Ed25519 bytes.
    raw: Vec<u8>,
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo (RSA or Ed25519), refusing trailing bytes.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(der).map_err(|_| KeyError::Malformed)?;
        let raw = info
            .subject_public_key
            .as_bytes()
            .ok_or(KeyError::Malformed)?
            .to_vec();
        let suite = match info.algorithm.oid {
            RSA_ENCRYPTION => SignatureSuite::RsaSha1ForLegacyUseOnly,
            ID_ED25519 if raw.len() == 32 && info.algorithm.parameters.is_none() => {
                SignatureSuite::Ed25519
            }
            ID_ED25519 => return Err(KeyError::Malformed),
            _ => return Err(KeyError::UnsupportedAlgorithm),
        };
        Ok(PublicKey {
            suite,
            spki_der: der.to_vec(),
            raw,
        })
    }

    /// Parses the base64 `x509Data` of a `key` element (spec §2.2).
    pub fn from_x509_data(text: &str) -> Result<PublicKey, KeyError> {
        PublicKey::from_spki_der(&from_base64(text).ok_or(KeyError::Malformed)?)
    }

    /// The suite this key signs in.
    pub fn suite(&self) -> SignatureSuite {
        self.suite
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// base64 DER SubjectPublicKeyInfo, the `x509Data` form.
    pub fn x509_data(&self) -> String {
        to_base64(&self.spki_der)
    }

    /// hex(SHA-1(DER SPKI)), the `fingerprint` key form (spec §2).
    pub fn fingerprint(&self) -> String {
        key_fingerprint(&self.spki_der)
    }

    /// Checks `signature` over `canonical` (whose suite digest is `digest`).
    pub(crate) fn verify(&self, canonical: &[u8], digest: &[u8], signature: &[u8]) -> bool {
        match self.suite {
            SignatureSuite::RsaSha1ForLegacyUseOnly => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, &self.raw)
                    .verify(digest, signature)
                    .is_ok()
            }
            SignatureSuite::Ed25519 => UnparsedPublicKey::new(&ED25519, &self.raw)
                .verify(canonical, signature)
                .is_ok(),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.suite.name(), self.fingerprint())
    }
}

/// A private signing key of either suite. `Debug` never shows key material; the PKCS#8 bytes are
/// zeroized when dropped.
pub struct SigningKey {
    inner: SigningKeyInner,
    public: PublicKey,
}

enum SigningKeyInner {
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha1>>),
    /// ring keeps no seed accessor, so the PKCS#8 bytes the pair came from are kept beside it.
    Ed25519 {
        pair: Ed25519KeyPair,
        pkcs8: Zeroizing<Vec<u8>>,
    },
}

impl SigningKey {
    /// Generates a key: RSA-2048 (e = 65537) or Ed25519 from 32 random bytes.
    pub fn generate(
        suite: SignatureSuite,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<SigningKey, KeyError> {
        match suite {
            SignatureSuite::RsaSha1ForLegacyUseOnly => {
                let key = rsa::RsaPrivateKey::new(rng, 2048).map_err(|_| KeyError::Generation)?;
                SigningKey::from_rsa(key)
            }
            SignatureSuite::Ed25519 => {
                let mut pkcs8 = Zeroizing::new(ED25519_PKCS8_PREFIX.to_vec());
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(seed.as_mut());
                pkcs8.extend_from_slice(seed.as_ref());
                SigningKey::from_pkcs8_der(&pkcs8)
            }
        }
    }

    /// Loads a PKCS#8 PrivateKeyInfo (RSA or Ed25519, v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        let info = rsa::pkcs8::PrivateKeyInfo::try_from(der).map_err(|_| KeyError::Malformed)?;
        match info.algorithm.oid {
            RSA_ENCRYPTION => SigningKey::from_rsa(
                rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|_| KeyError::Malformed)?,
            ),
            ID_ED25519 => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|_| KeyError::Malformed)?;
                let mut spki = ED25519_SPKI_PREFIX.to_vec();
                spki.extend_from_slice(pair.public_key().as_ref());
                Ok(SigningKey {
                    public: PublicKey::from_spki_der(&spki)?,
                    inner: SigningKeyInner::Ed25519 {
                        pair,
                        pkcs8: Zeroizing::new(der.to_vec()),
                    },
                })
            }
            _ => Err(KeyError::UnsupportedAlgorithm),
        }
    }

    fn from_rsa(key: rsa::RsaPrivateKey) -> Result<SigningKey, KeyError> {
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| KeyError::Malformed)?;
        Ok(SigningKey {
            public: PublicKey::from_spki_der(spki.as_bytes())?,
            inner: SigningKeyInner::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key))),
        })
    }

    /// The PKCS#8 PrivateKeyInfo DER (v1 for Ed25519), zeroized on drop.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        match &self.inner {
            SigningKeyInner::Rsa(key) => {
                let key: &rsa::RsaPrivateKey = key.as_ref().as_ref();
                // Encoding an in-memory, already validated key cannot fail; an empty result would
                // only make a later load fail loudly.
                Zeroizing::new(
                    key.to_pkcs8_der()
                        .map(|doc| doc.as_bytes().to_vec())
                        .unwrap_or_default(),
                )
            }
            SigningKeyInner::Ed25519 { pkcs8, .. } => pkcs8.clone(),
        }
    }

    /// The suite this key signs in.
    pub fn suite(&self) -> SignatureSuite {
        self.public.suite
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The RSA private key, for decrypting values sealed to it ([`crate::seal`]).
    pub(crate) fn rsa_private_key(&self) -> Option<&rsa::RsaPrivateKey> {
        match &self.inner {
            SigningKeyInner::Rsa(key) => Some(key.as_ref().as_ref()),
            SigningKeyInner::Ed25519 { .. } => None,
        }
    }

    /// The 32-byte Ed25519 seed, for opening values sealed to it ([`crate::seal`]): the
    /// PKCS#8 `privateKey` is an OCTET STRING wrapping the seed (RFC 8410).
    pub(crate) fn ed25519_seed(&self) -> Option<Zeroizing<[u8; 32]>> {
        let SigningKeyInner::Ed25519 { pkcs8, .. } = &self.inner else {
            return None;
        };
        let info = rsa::pkcs8::PrivateKeyInfo::try_from(pkcs8.as_slice()).ok()?;
        let seed = info.private_key.strip_prefix(&[0x04, 0x20])?;
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(seed.get(..32).filter(|_| seed.len() == 32)?);
        Some(out)
    }

    /// `digestSigned` over `canonical`, whose suite digest is `digest`.
    pub(crate) fn sign(&self, canonical: &[u8], digest: &[u8]) -> Vec<u8> {
        match &self.inner {
            SigningKeyInner::Rsa(key) => key.sign(digest).to_vec(),
            SigningKeyInner::Ed25519 { pair, .. } => pair.sign(canonical).as_ref().to_vec(),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({:?}, private part redacted)", self.public)
    }
}
