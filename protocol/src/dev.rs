//! A self-contained development domain: a certificates key and a salt key with their signed
//! certificates, so that peer files can be made and fully validated offline
//! (`peer-file generate --dev-salt`, tests, benchmarks). A real domain's keys live in its key
//! ring; nothing here is for production.

use rand_core::{CryptoRng, RngCore};

use crate::certificates::{Certificate, CertificateSet};
use crate::encoding::to_hex;
use crate::json::Object;
use crate::random::random_bytes;
use crate::salt::{SALT_SERVICE, sign_salt};
use crate::signature::{KeyError, SignatureSuite, SigningKey};
use crate::uri::DomainName;

/// The certificates and salt keys of a development domain.
#[derive(Debug)]
pub struct DevDomain {
    domain: DomainName,
    certificates_key: SigningKey,
    salt_key: SigningKey,
    certificates: Certificate,
    salt: Certificate,
}

impl DevDomain {
    /// New keys of `suite` for `domain`, with certificates valid until `expires`.
    pub fn generate(
        domain: DomainName,
        suite: SignatureSuite,
        expires: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<DevDomain, KeyError> {
        let certificates_key = SigningKey::generate(suite, rng)?;
        let salt_key = SigningKey::generate(suite, rng)?;
        Ok(DevDomain::from_keys(
            domain,
            certificates_key,
            salt_key,
            expires,
            rng,
        ))
    }

    /// A development domain over given keys.
    pub fn from_keys(
        domain: DomainName,
        certificates_key: SigningKey,
        salt_key: SigningKey,
        expires: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> DevDomain {
        let mut certificate = |service: &str, key: &SigningKey| Certificate {
            id: to_hex(&random_bytes(rng, 16)),
            service: service.to_owned(),
            expires,
            key: key.public_key().clone(),
        };
        DevDomain {
            certificates: certificate("certificates", &certificates_key),
            salt: certificate(SALT_SERVICE, &salt_key),
            domain,
            certificates_key,
            salt_key,
        }
    }

    /// The domain.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    /// The body of a `certificates-get` result: `{"certificates":{"certificateBundle":[…]}}`.
    pub fn certificates_get_result(&self, rng: &mut (impl RngCore + CryptoRng)) -> Object {
        let sign = |c: &Certificate, rng: &mut _| {
            c.sign(
                &self.domain,
                &self.certificates_key,
                &self.certificates,
                rng,
            )
        };
        let bundles = vec![sign(&self.certificates, rng), sign(&self.salt, rng)];
        Object::new().with("certificates", CertificateSet::result_element(bundles))
    }

    /// A new signed `saltBundle`.
    pub fn salt_bundle(&self, rng: &mut (impl RngCore + CryptoRng)) -> Object {
        sign_salt(&self.domain, &self.salt_key, &self.salt, rng)
    }
}
