//! `certificates/certificates-get` (spec §6.2): every valid certificate of the domain, each
//! signed by the active certificates key. Signed once per key ring change, not per request.

use std::sync::Arc;

use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::RenderedBody;
use openpeer_protocol::signature::{KeyReference, KeyResolver, PublicKey};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;

use openpeer_protocol::error::ResultCode;

use crate::error::Error;
use crate::keys::{DomainKey, KeyRing, ServiceType};

/// The key ring in force and what it publishes.
#[derive(Debug)]
pub struct Published {
    /// The keys.
    pub ring: KeyRing,
    /// The `certificates-get` result body, rendered.
    pub certificates_get: Arc<RenderedBody>,
}

impl Published {
    /// Signs every certificate valid at `now` with the active certificates key.
    pub fn new(ring: KeyRing, domain: &DomainName, now: u64) -> Published {
        let bundles = match ring.active(ServiceType::Certificates, now) {
            Some(signer) => ring
                .published(now)
                .map(|k| {
                    k.certificate
                        .sign(domain, &signer.key, &signer.certificate, &mut OsRng)
                })
                .collect(),
            // Without a certificates key nothing can be vouched for; readiness reports it.
            None => Vec::new(),
        };
        let body = Object::new().with("certificates", CertificateSet::result_element(bundles));
        Published {
            // Invariant: a body of one child element (no `$`, no `#text`) always renders.
            certificates_get: Arc::new(RenderedBody::new(&body).expect("one child element")),
            ring,
        }
    }
}

impl Published {
    /// The key that signs for `service` now; 480 (try later) when there is none.
    pub fn signer(&self, service: ServiceType, now: u64) -> Result<&Arc<DomainKey>, Error> {
        self.ring.active(service, now).ok_or_else(|| {
            tracing::error!(%service, "no valid domain key");
            Error::refused(ResultCode::TemporarilyUnavailable, "no valid domain key")
        })
    }
}

/// This domain's own valid certificates as a key resolver: what verifies the salt of a peer
/// file of this domain, without a round trip through `certificates-get`.
#[derive(Debug)]
pub struct OwnCertificates<'a> {
    /// The key ring.
    pub ring: &'a KeyRing,
    /// This domain.
    pub domain: &'a DomainName,
    /// The time of the check.
    pub now: u64,
}

impl KeyResolver for OwnCertificates<'_> {
    fn resolve(&self, reference: &KeyReference) -> Option<PublicKey> {
        self.ring
            .published(self.now)
            .find(|k| k.certificate.answers(reference, self.domain))
            .map(|k| k.certificate.key.clone())
    }
}
