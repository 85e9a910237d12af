//! jsonsig (spec §2.1, §2.2): a signed object travels in a bundle beside its `signature`
//! element, which names the object by `reference` = `"#" + $id`, the suite by `algorithm`, and
//! the signer by one of four `key` forms.
//!
//! Verification is the only way to obtain a [`Verified`] value, and every key is found through a
//! [`KeyResolver`] the caller chooses, so a bundle can never pick its own trust anchor.

mod suite;

pub use suite::{ED25519_URI, KeyError, PublicKey, RSA_SHA1_URI, SignatureSuite, SigningKey};

use rand_core::{CryptoRng, RngCore};

use crate::canonical::canon_object;
use crate::encoding::{from_base64, to_base64, to_hex};
use crate::json::Object;
use crate::random::random_bytes;
use crate::uri::{DomainName, PeerUri};

/// Why a bundle did not verify. Coarse on purpose toward peers: all of them map to one result
/// code; the variant is for our logs and tests.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The bundle, the signed object or the signature element is not of the expected shape.
    #[error("malformed signature bundle: {0}")]
    Malformed(&'static str),
    /// `algorithm` names no suite we know.
    #[error("unknown signature algorithm")]
    UnknownAlgorithm,
    /// The resolver has no key for the `key` element.
    #[error("signing key not found")]
    UnknownKey,
    /// The key belongs to another suite than `algorithm`.
    #[error("key does not match the signature algorithm")]
    KeyAlgorithmMismatch,
    /// `reference` is not `"#" + $id` of the signed object.
    #[error("signature reference does not name the signed object")]
    ReferenceMismatch,
    /// `digestValue` is not the digest of the canonical object.
    #[error("digest mismatch")]
    DigestMismatch,
    /// `digestSigned` does not verify under the key.
    #[error("bad signature")]
    BadSignature,
}

/// Who signed: the `key` element of a signature (spec §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyReference {
    /// `{"x509Data": base64 SPKI}`: the key itself (peer file Section A).
    X509Data(PublicKey),
    /// `{"uri": "peer://…"}`: the key of that peer's public peer file.
    Uri(PeerUri),
    /// `{"fingerprint": hex SHA-1 of the SPKI}`.
    Fingerprint(String),
    /// `{"$id", "domain", "service"}`: a certificate from that domain's `certificates-get`.
    Certificate {
        /// The certificate `$id`.
        id: String,
        /// The domain publishing the certificate.
        domain: DomainName,
        /// The service type the certificate is for (`salt`, `finder`, `identity`, …).
        service: String,
    },
}

impl KeyReference {
    /// Reads a `key` element.
    pub fn from_object(key: &Object) -> Result<KeyReference, SignatureError> {
        if let Some(data) = key.get_str("x509Data") {
            let public = PublicKey::from_x509_data(data)
                .map_err(|_| SignatureError::Malformed("x509Data"))?;
            return Ok(KeyReference::X509Data(public));
        }
        if let Some(uri) = key.get_str("uri") {
            let uri = PeerUri::parse(uri).map_err(|_| SignatureError::Malformed("key uri"))?;
            return Ok(KeyReference::Uri(uri));
        }
        if let Some(fingerprint) = key.get_str("fingerprint") {
            return Ok(KeyReference::Fingerprint(fingerprint.to_ascii_lowercase()));
        }
        match (
            key.get_str("$id"),
            key.get_str("domain"),
            key.get_str("service"),
        ) {
            (Some(id), Some(domain), Some(service)) => Ok(KeyReference::Certificate {
                id: id.to_owned(),
                domain: DomainName::parse(domain)
                    .map_err(|_| SignatureError::Malformed("key domain"))?,
                service: service.to_owned(),
            }),
            _ => Err(SignatureError::Malformed("key has none of the four forms")),
        }
    }

    /// Writes the `key` element.
    pub fn to_object(&self) -> Object {
        match self {
            KeyReference::X509Data(key) => Object::new().with("x509Data", key.x509_data()),
            KeyReference::Uri(uri) => Object::new().with("uri", uri.to_string()),
            KeyReference::Fingerprint(f) => Object::new().with("fingerprint", f.as_str()),
            KeyReference::Certificate {
                id,
                domain,
                service,
            } => Object::new()
                .with("$id", id.as_str())
                .with("domain", domain.as_str())
                .with("service", service.as_str()),
        }
    }
}

/// Finds the public key a `key` element refers to. Implementations decide whom they trust:
/// [`InlineKey`] takes Section A's own key, a certificate set takes its domain's certificates.
pub trait KeyResolver {
    /// The key for `reference`, or `None` when this resolver does not vouch for it.
    fn resolve(&self, reference: &KeyReference) -> Option<PublicKey>;
}

/// Trusts a key carried in the bundle itself (`x509Data`), and nothing else. Only sound where
/// the key is bound some other way, as Section A is bound by the contact id.
#[derive(Clone, Copy, Debug, Default)]
pub struct InlineKey;

impl KeyResolver for InlineKey {
    fn resolve(&self, reference: &KeyReference) -> Option<PublicKey> {
        match reference {
            KeyReference::X509Data(key) => Some(key.clone()),
            _ => None,
        }
    }
}

/// Trusts one known peer's key, referred to by its URI or fingerprint.
#[derive(Clone, Debug)]
pub struct PeerKey<'a> {
    /// The peer.
    pub uri: &'a PeerUri,
    /// Its key, from its validated public peer file.
    pub key: &'a PublicKey,
}

impl KeyResolver for PeerKey<'_> {
    fn resolve(&self, reference: &KeyReference) -> Option<PublicKey> {
        match reference {
            KeyReference::Uri(uri) if uri == self.uri => Some(self.key.clone()),
            KeyReference::Fingerprint(f) if *f == self.key.fingerprint() => Some(self.key.clone()),
            _ => None,
        }
    }
}

/// A value whose signature has been checked; only [`verify_bundle`] makes one.
#[derive(Clone, Debug)]
pub struct Verified<T> {
    value: T,
    signer: PublicKey,
    digest_value: String,
}

impl<T> Verified<T> {
    /// The verified value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The key that signed it.
    pub fn signer(&self) -> &PublicKey {
        &self.signer
    }

    /// The signature's `digestValue` (quoted back as `requestFindProofBundleDigestValue`).
    pub fn digest_value(&self) -> &str {
        &self.digest_value
    }

    /// Keeps the proof of verification while transforming the value (for typed decoding).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Verified<U> {
        Verified {
            value: f(self.value),
            signer: self.signer,
            digest_value: self.digest_value,
        }
    }
}

/// Signs `object` as `name` and returns the bundle `{name: object, signature: {…}}`.
///
/// An object without `$id` gets hex(random(16)) (C13 `signElement`).
pub fn sign_bundle(
    name: &str,
    mut object: Object,
    key: &SigningKey,
    key_reference: &KeyReference,
    rng: &mut (impl RngCore + CryptoRng),
) -> Object {
    let id = match object.get_str("$id") {
        Some(id) => id.to_owned(),
        None => {
            let id = to_hex(&random_bytes(rng, 16));
            object.insert("$id", id.as_str());
            id
        }
    };
    let canonical = canon_object(name, &object);
    let suite = key.suite();
    let digest = suite.digest(canonical.as_bytes());
    let signed = key.sign(canonical.as_bytes(), &digest);
    let signature = Object::new()
        .with("reference", format!("#{id}"))
        .with("algorithm", suite.uri())
        .with("digestValue", to_base64(&digest))
        .with("digestSigned", to_base64(&signed))
        .with("key", key_reference.to_object());
    Object::new()
        .with(name, object)
        .with("signature", signature)
}

/// Verifies the object `name` of `bundle` against its sibling `signature`, with the key that
/// `resolver` vouches for.
pub fn verify_bundle<'a>(
    bundle: &'a Object,
    name: &str,
    resolver: &dyn KeyResolver,
) -> Result<Verified<&'a Object>, SignatureError> {
    let object = bundle
        .get_object(name)
        .ok_or(SignatureError::Malformed("signed object missing"))?;
    let signature = bundle
        .get_object("signature")
        .ok_or(SignatureError::Malformed("signature missing"))?;
    let field = |key: &'static str| signature.get_str(key).ok_or(SignatureError::Malformed(key));
    let id = object
        .get_str("$id")
        .ok_or(SignatureError::Malformed("signed object has no $id"))?;
    if field("reference")?.strip_prefix('#') != Some(id) {
        return Err(SignatureError::ReferenceMismatch);
    }
    let suite =
        SignatureSuite::from_uri(field("algorithm")?).ok_or(SignatureError::UnknownAlgorithm)?;
    let digest_value = field("digestValue")?;
    let digest_signed =
        from_base64(field("digestSigned")?).ok_or(SignatureError::Malformed("digestSigned"))?;
    let reference = KeyReference::from_object(
        signature
            .get_object("key")
            .ok_or(SignatureError::Malformed("key"))?,
    )?;
    let key = resolver
        .resolve(&reference)
        .ok_or(SignatureError::UnknownKey)?;
    if key.suite() != suite {
        return Err(SignatureError::KeyAlgorithmMismatch);
    }
    let canonical = canon_object(name, object);
    let digest = suite.digest(canonical.as_bytes());
    if from_base64(digest_value).as_deref() != Some(digest.as_slice()) {
        return Err(SignatureError::DigestMismatch);
    }
    if !key.verify(canonical.as_bytes(), &digest, &digest_signed) {
        return Err(SignatureError::BadSignature);
    }
    Ok(Verified {
        value: object,
        signer: key,
        digest_value: digest_value.to_owned(),
    })
}

/// Test helper shared by the crate's tests: cached keys, since RSA generation is slow.
#[cfg(test)]
pub(crate) mod test_keys {
    use std::sync::OnceLock;

    use super::*;

    /// One cached key per suite.
    pub(crate) fn key(suite: SignatureSuite) -> &'static SigningKey {
        static RSA: OnceLock<SigningKey> = OnceLock::new();
        static ED: OnceLock<SigningKey> = OnceLock::new();
        let cell = match suite {
            SignatureSuite::RsaSha1ForLegacyUseOnly => &RSA,
            SignatureSuite::Ed25519 => &ED,
        };
        cell.get_or_init(|| SigningKey::generate(suite, &mut rand_core::OsRng).unwrap())
    }

    /// A second, unrelated key per suite.
    pub(crate) fn other_key(suite: SignatureSuite) -> &'static SigningKey {
        static RSA: OnceLock<SigningKey> = OnceLock::new();
        static ED: OnceLock<SigningKey> = OnceLock::new();
        let cell = match suite {
            SignatureSuite::RsaSha1ForLegacyUseOnly => &RSA,
            SignatureSuite::Ed25519 => &ED,
        };
        cell.get_or_init(|| SigningKey::generate(suite, &mut rand_core::OsRng).unwrap())
    }
}

#[cfg(test)]
#[path = "signature_test.rs"]
mod tests;
