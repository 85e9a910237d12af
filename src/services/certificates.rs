//! `certificates/certificates-get` (spec §6.2): every valid certificate of the domain, each
//! signed by the active certificates key. Signed once per key ring change, not per request.

use std::sync::Arc;

use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::RenderedBody;
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;

use crate::keys::{KeyRing, ServiceType};

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
