//! Domain service certificates (spec §6.2, §7.4): `certificates-get` publishes one certificate
//! per service key, each signed by the domain's certificates (bootstrapper) key, which signs
//! itself and is trusted because the document came over WebPKI HTTPS.

use rand_core::{CryptoRng, RngCore};

use crate::json::{Object, Value};
use crate::signature::{
    KeyReference, KeyResolver, PublicKey, SigningKey, sign_bundle, verify_bundle,
};
use crate::uri::DomainName;

/// Service types whose key signs the other certificates (spec §6.2).
pub const SIGNING_SERVICES: [&str; 2] = ["certificates", "bootstrapper"];

/// Why a `certificates-get` document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Missing or mistyped fields.
    #[error("malformed certificates: {0}")]
    Malformed(&'static str),
    /// No self-signed certificates/bootstrapper key, or a bundle its signer does not verify.
    #[error("certificate signature does not verify")]
    Signature,
}

/// One service key of a domain, valid until `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The certificate `$id`, named by signatures' `key.$id`.
    pub id: String,
    /// The service type (`salt`, `finder`, `identity`, …).
    pub service: String,
    /// Unix time after which the certificate is not valid.
    pub expires: u64,
    /// The service's public key.
    pub key: PublicKey,
}

impl Certificate {
    /// The `certificate` element.
    pub fn to_object(&self) -> Object {
        Object::new()
            .with("$id", self.id.as_str())
            .with("service", self.service.as_str())
            .with("expires", self.expires)
            .with("key", KeyReference::X509Data(self.key.clone()).to_object())
    }

    fn from_object(object: &Object) -> Result<Certificate, CertificateError> {
        let text = |k: &'static str| object.get_str(k).ok_or(CertificateError::Malformed(k));
        let key = object
            .get_object("key")
            .and_then(|k| k.get_str("x509Data"))
            .ok_or(CertificateError::Malformed("key"))?;
        Ok(Certificate {
            id: text("$id")?.to_owned(),
            service: text("service")?.to_owned(),
            expires: object
                .get_u64("expires")
                .ok_or(CertificateError::Malformed("expires"))?,
            key: PublicKey::from_x509_data(key).map_err(|_| CertificateError::Malformed("key"))?,
        })
    }

    /// Whether `reference` (a `{$id, domain, service}` key) names this certificate of `domain`.
    pub fn answers(&self, reference: &KeyReference, domain: &DomainName) -> bool {
        matches!(
            reference,
            KeyReference::Certificate { id, domain: named, service }
                if *id == self.id && *service == self.service && named == domain
        )
    }

    /// How signatures made with this certificate's key name it.
    pub fn reference(&self, domain: &DomainName) -> KeyReference {
        KeyReference::Certificate {
            id: self.id.clone(),
            domain: domain.clone(),
            service: self.service.clone(),
        }
    }

    /// The `certificateBundle`, signed by the domain's certificates key `signer` (which is
    /// `signer_certificate`; a certificates key signs its own certificate too).
    pub fn sign(
        &self,
        domain: &DomainName,
        signer: &SigningKey,
        signer_certificate: &Certificate,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Object {
        sign_bundle(
            "certificate",
            self.to_object(),
            signer,
            &signer_certificate.reference(domain),
            rng,
        )
    }
}

/// The verified certificates of one domain; resolves `{$id, domain, service}` keys that are
/// valid at the time it was built for.
#[derive(Clone, Debug)]
pub struct CertificateSet {
    domain: DomainName,
    now: u64,
    certificates: Vec<Certificate>,
}

impl CertificateSet {
    /// Reads and verifies the `certificates` element of a `certificates-get` result for
    /// `domain`, to be used at time `now`. Every bundle must verify under a self-signed
    /// certificates/bootstrapper certificate of the same document.
    pub fn from_certificates_get(
        domain: &DomainName,
        result: &Object,
        now: u64,
    ) -> Result<CertificateSet, CertificateError> {
        let bundles: Vec<&Object> = result
            .get_object("certificates")
            .ok_or(CertificateError::Malformed("certificates"))?
            .get_list("certificateBundle")
            .iter()
            .map(|b| {
                b.as_object()
                    .ok_or(CertificateError::Malformed("certificateBundle"))
            })
            .collect::<Result<_, _>>()?;
        let read = |bundle: &Object| {
            Certificate::from_object(
                bundle
                    .get_object("certificate")
                    .ok_or(CertificateError::Malformed("certificate"))?,
            )
        };
        let anchors = CertificateSet {
            domain: domain.clone(),
            now: 0,
            certificates: bundles
                .iter()
                .map(|b| read(b))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|c| SIGNING_SERVICES.contains(&c.service.as_str()))
                .collect(),
        };
        let mut certificates = Vec::with_capacity(bundles.len());
        for bundle in bundles {
            verify_bundle(bundle, "certificate", &Signers(&anchors))
                .map_err(|_| CertificateError::Signature)?;
            certificates.push(read(bundle)?);
        }
        Ok(CertificateSet {
            domain: domain.clone(),
            now,
            certificates,
        })
    }

    /// The same certificates, trusted at `now` instead (a cached set used later: a certificate
    /// that lapsed since no longer resolves).
    pub fn at(&self, now: u64) -> CertificateSet {
        CertificateSet {
            now,
            ..self.clone()
        }
    }

    /// The domain these certificates belong to.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    /// All certificates, expired ones included.
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// A resolver trusting only this set's certificates of `service`: a bundle a role signs
    /// (a finder entry, a server proof, an identity proof) must not verify under another
    /// service's key of the same domain.
    pub fn of_service<'a>(&'a self, service: &'a str) -> ServiceKeys<'a> {
        ServiceKeys { set: self, service }
    }

    /// The certificate with this `$id`.
    pub fn get(&self, id: &str) -> Option<&Certificate> {
        self.certificates.iter().find(|c| c.id == id)
    }

    /// The `certificates` element of a `certificates-get` result, from signed bundles.
    pub fn result_element(bundles: Vec<Object>) -> Object {
        let list = bundles.into_iter().map(Value::Object).collect();
        Object::new().with("certificateBundle", Value::from_list(list))
    }
}

impl KeyResolver for CertificateSet {
    fn resolve(&self, reference: &KeyReference) -> Option<PublicKey> {
        self.certificates
            .iter()
            .find(|c| c.answers(reference, &self.domain) && c.expires > self.now)
            .map(|c| c.key.clone())
    }
}

/// The certificates of one service of a [`CertificateSet`]; see [`CertificateSet::of_service`].
#[derive(Clone, Copy, Debug)]
pub struct ServiceKeys<'a> {
    set: &'a CertificateSet,
    service: &'a str,
}

impl KeyResolver for ServiceKeys<'_> {
    fn resolve(&self, reference: &KeyReference) -> Option<PublicKey> {
        match reference {
            KeyReference::Certificate { service, .. } if service == self.service => {
                self.set.resolve(reference)
            }
            _ => None,
        }
    }
}

/// The signers of certificate bundles: certificates/bootstrapper keys only. Their own bundles
/// are verified through this same resolver, so an anchor that does not sign itself fails.
struct Signers<'a>(&'a CertificateSet);

impl KeyResolver for Signers<'_> {
    fn resolve(&self, reference: &KeyReference) -> Option<PublicKey> {
        self.0
            .certificates
            .iter()
            .find(|c| {
                SIGNING_SERVICES.contains(&c.service.as_str())
                    && c.answers(reference, &self.0.domain)
            })
            .map(|c| c.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::signature::SignatureSuite;
    use crate::signature::test_keys::{key, other_key};

    fn domain() -> DomainName {
        DomainName::parse("example.org").unwrap()
    }

    fn certificate(id: &str, service: &str, k: &SigningKey, expires: u64) -> Certificate {
        Certificate {
            id: id.into(),
            service: service.into(),
            expires,
            key: k.public_key().clone(),
        }
    }

    /// A domain whose certificates key is Ed25519 and whose salt key is RSA.
    fn document(salt_signer: &SigningKey) -> Object {
        let root_key = key(SignatureSuite::Ed25519);
        let root = certificate("c1", "certificates", root_key, 2_000);
        let salt = certificate(
            "s1",
            "salt",
            key(SignatureSuite::RsaSha1ForLegacyUseOnly),
            1_500,
        );
        let bundles = vec![
            root.sign(&domain(), root_key, &root, &mut OsRng),
            salt.sign(&domain(), salt_signer, &root, &mut OsRng),
        ];
        Object::new().with("certificates", CertificateSet::result_element(bundles))
    }

    #[test]
    fn verifies_and_resolves_until_expiry() {
        let doc = document(key(SignatureSuite::Ed25519));
        let set = CertificateSet::from_certificates_get(&domain(), &doc, 1_000).unwrap();
        assert_eq!(set.certificates().len(), 2);
        let salt_ref = KeyReference::Certificate {
            id: "s1".into(),
            domain: domain(),
            service: "salt".into(),
        };
        assert_eq!(
            set.resolve(&salt_ref),
            Some(
                key(SignatureSuite::RsaSha1ForLegacyUseOnly)
                    .public_key()
                    .clone()
            )
        );
        let wrong_service = KeyReference::Certificate {
            id: "s1".into(),
            domain: domain(),
            service: "finder".into(),
        };
        assert_eq!(set.resolve(&wrong_service), None);
        // Scoped to a service, the set vouches for that service's keys only.
        assert!(set.of_service("salt").resolve(&salt_ref).is_some());
        assert_eq!(set.of_service("identity").resolve(&salt_ref), None);
        assert_eq!(set.of_service("finder").resolve(&wrong_service), None);
        let expired = CertificateSet::from_certificates_get(&domain(), &doc, 1_500).unwrap();
        assert_eq!(expired.resolve(&salt_ref), None);
    }

    #[test]
    fn refuses_a_bundle_not_signed_by_the_certificates_key() {
        let doc = document(other_key(SignatureSuite::Ed25519));
        assert_eq!(
            CertificateSet::from_certificates_get(&domain(), &doc, 1_000).unwrap_err(),
            CertificateError::Signature
        );
    }

    #[test]
    fn refuses_another_domains_document() {
        let doc = document(key(SignatureSuite::Ed25519));
        let other = DomainName::parse("other.org").unwrap();
        assert_eq!(
            CertificateSet::from_certificates_get(&other, &doc, 1_000).unwrap_err(),
            CertificateError::Signature
        );
    }

    #[test]
    fn refuses_malformed_documents() {
        assert_eq!(
            CertificateSet::from_certificates_get(&domain(), &Object::new(), 0).unwrap_err(),
            CertificateError::Malformed("certificates")
        );
        let bad = Object::new().with(
            "certificates",
            Object::new().with("certificateBundle", Object::new().with("certificate", "x")),
        );
        assert_eq!(
            CertificateSet::from_certificates_get(&domain(), &bad, 0).unwrap_err(),
            CertificateError::Malformed("certificate")
        );
    }
}
