//! Signed salts (spec §6.4): random salts a domain's salt service signs; a peer copies one
//! `saltBundle` verbatim into Section A, which binds its peer URI to that domain (spec §3).

use rand_core::{CryptoRng, RngCore};

use crate::certificates::Certificate;
use crate::encoding::{to_base64, to_hex};
use crate::json::Object;
use crate::random::random_bytes;
use crate::signature::{
    KeyReference, KeyResolver, SignatureError, SigningKey, sign_bundle, verify_bundle,
};
use crate::uri::DomainName;

/// Bytes of randomness in a salt.
pub const SALT_LEN: usize = 32;

/// The service type of salt certificates.
pub const SALT_SERVICE: &str = "salt";

/// A new random salt signed by the domain's salt key: `{"salt":{"$id","#text"},"signature"}`.
pub fn sign_salt(
    domain: &DomainName,
    signer: &SigningKey,
    certificate: &Certificate,
    rng: &mut (impl RngCore + CryptoRng),
) -> Object {
    let salt = Object::new()
        .with("$id", to_hex(&random_bytes(rng, 20)))
        .with("#text", to_base64(&random_bytes(rng, SALT_LEN)));
    sign_bundle("salt", salt, signer, &certificate.reference(domain), rng)
}

/// The parts of a `saltBundle` a peer file depends on, read without trusting them yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaltBundle {
    /// The domain whose salt certificate signed it: the peer URI's domain.
    pub domain: DomainName,
    /// The salt `$id`.
    pub id: String,
}

impl SaltBundle {
    /// Reads a `saltBundle`: a salt with `$id` and text, and a signature naming a salt
    /// certificate `{$id, domain, service: "salt"}`.
    pub fn read(bundle: &Object) -> Result<SaltBundle, SignatureError> {
        let salt = bundle
            .get_object("salt")
            .ok_or(SignatureError::Malformed("salt"))?;
        let id = salt
            .get_str("$id")
            .ok_or(SignatureError::Malformed("salt $id"))?;
        if salt.get_str("#text").is_none_or(str::is_empty) {
            return Err(SignatureError::Malformed("salt text"));
        }
        let key = bundle
            .get_object("signature")
            .and_then(|s| s.get_object("key"))
            .ok_or(SignatureError::Malformed("salt signature key"))?;
        match KeyReference::from_object(key)? {
            KeyReference::Certificate {
                domain, service, ..
            } if service == SALT_SERVICE => Ok(SaltBundle {
                domain,
                id: id.to_owned(),
            }),
            _ => Err(SignatureError::Malformed(
                "salt signature key is not a salt certificate",
            )),
        }
    }

    /// Verifies the salt's signature with the salt domain's certificates.
    pub fn verify(bundle: &Object, certificates: &dyn KeyResolver) -> Result<(), SignatureError> {
        SaltBundle::read(bundle)?;
        verify_bundle(bundle, "salt", certificates).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::certificates::CertificateSet;
    use crate::signature::SignatureSuite;
    use crate::signature::test_keys::{key, other_key};

    #[test]
    fn a_signed_salt_reads_and_verifies_with_the_certificates() {
        let domain = DomainName::parse("example.org").unwrap();
        let root_key = key(SignatureSuite::Ed25519);
        let root = Certificate {
            id: "c1".into(),
            service: "certificates".into(),
            expires: 100,
            key: root_key.public_key().clone(),
        };
        let salt_key = other_key(SignatureSuite::Ed25519);
        let salt_cert = Certificate {
            id: "s1".into(),
            service: SALT_SERVICE.into(),
            expires: 100,
            key: salt_key.public_key().clone(),
        };
        let doc = Object::new().with(
            "certificates",
            CertificateSet::result_element(vec![
                root.sign(&domain, root_key, &root, &mut OsRng),
                salt_cert.sign(&domain, root_key, &root, &mut OsRng),
            ]),
        );
        let set = CertificateSet::from_certificates_get(&domain, &doc, 50).unwrap();
        let bundle = sign_salt(&domain, salt_key, &salt_cert, &mut OsRng);
        let read = SaltBundle::read(&bundle).unwrap();
        assert_eq!(read.domain, domain);
        assert_eq!(read.id.len(), 40);
        SaltBundle::verify(&bundle, &set).unwrap();
        // Signed by the certificates key instead of the salt key: refused.
        let forged = sign_salt(&domain, root_key, &salt_cert, &mut OsRng);
        assert_eq!(
            SaltBundle::verify(&forged, &set),
            Err(SignatureError::BadSignature)
        );
        // Named as the root certificate (not a salt certificate): refused as malformed.
        let wrong_service = sign_salt(&domain, root_key, &root, &mut OsRng);
        assert!(matches!(
            SaltBundle::read(&wrong_service),
            Err(SignatureError::Malformed(_))
        ));
    }
}
