//! The finder-to-finder link's greeting (architecture §4 "Federation" (4); spec §7.4 leaves the
//! server-to-server mechanics to us [R]).
//!
//! A finder that opens a link to another domain's finder first sends a `peer-finder/link-hello`
//! request whose body is one signed bundle:
//!
//! ```text
//! "linkHelloBundle":{"linkHello":{"$id":"…","domain":"<sender>","node":"<sender node>",
//!     "to":"<receiver>","nonce":"<hex 16 bytes>","expires":<epoch>},
//!   "signature":{…,"key":{"$id":"<finder cert id>","domain":"<sender>","service":"finder"}}}
//! ```
//!
//! The receiver verifies it under the sender domain's `finder` certificates, which it fetched
//! and verified itself, and checks that it is the addressee, that the greeting has not expired
//! and that the nonce is new. Everything else on the link is then trusted as coming from that
//! domain, and only as much as a message from that domain may be.

use rand_core::{CryptoRng, RngCore};

use crate::json::Object;
use crate::signature::{KeyReference, KeyResolver, SigningKey, sign_bundle, verify_bundle};
use crate::uri::DomainName;

/// Longest a link-hello may be valid: it is made just before the link opens.
pub const MAX_HELLO_LIFETIME: u64 = 600;

/// Why a link-hello was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkHelloError {
    /// A field is missing or not what the protocol says.
    #[error("malformed link-hello: {0}")]
    Malformed(&'static str),
    /// The signature is not by a finder certificate of the claimed domain.
    #[error("link-hello signature does not verify")]
    Signature,
    /// The greeting names another receiver.
    #[error("link-hello addressed to another domain")]
    Misaddressed,
    /// Past its expiry, or valid for longer than [`MAX_HELLO_LIFETIME`].
    #[error("link-hello expired or too long-lived")]
    Expired,
}

/// The contents of a `linkHello`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkHello {
    /// The sending domain.
    pub domain: DomainName,
    /// The sending node (its finder `$id`).
    pub node: String,
    /// The receiving domain.
    pub to: DomainName,
    /// A one-time value (hex of 16 random bytes).
    pub nonce: String,
    /// Unix time after which the greeting is refused.
    pub expires: u64,
}

impl LinkHello {
    /// The request body `{"linkHelloBundle": …}`, signed with the sender's finder key, which
    /// `certificate` names.
    pub fn sign(
        &self,
        key: &SigningKey,
        certificate: &KeyReference,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Object {
        let hello = Object::new()
            .with("domain", self.domain.as_str())
            .with("node", self.node.as_str())
            .with("to", self.to.as_str())
            .with("nonce", self.nonce.as_str())
            .with("expires", self.expires);
        Object::new().with(
            "linkHelloBundle",
            sign_bundle("linkHello", hello, key, certificate, rng),
        )
    }

    /// The greeting as claimed, before any check: tells the receiver whose certificates to
    /// fetch. Never act on it before [`LinkHello::verify`].
    pub fn claimed(body: &Object) -> Result<LinkHello, LinkHelloError> {
        let hello = body
            .get_object("linkHelloBundle")
            .and_then(|b| b.get_object("linkHello"))
            .ok_or(LinkHelloError::Malformed("linkHelloBundle"))?;
        let text = |key: &'static str| {
            hello
                .get_str(key)
                .filter(|v| !v.is_empty() && v.len() <= 128)
                .ok_or(LinkHelloError::Malformed(key))
        };
        let domain = |key: &'static str| {
            DomainName::parse(text(key)?).map_err(|_| LinkHelloError::Malformed(key))
        };
        Ok(LinkHello {
            domain: domain("domain")?,
            node: text("node")?.to_owned(),
            to: domain("to")?,
            nonce: text("nonce")?.to_owned(),
            expires: hello
                .get_u64("expires")
                .ok_or(LinkHelloError::Malformed("expires"))?,
        })
    }

    /// Verifies the greeting in `body` for receiver `me` at `now`: signed by a key `resolver`
    /// vouches for (the sender domain's finder certificates), addressed to `me`, not expired and
    /// not valid for longer than [`MAX_HELLO_LIFETIME`]. The caller still checks the nonce.
    pub fn verify(
        body: &Object,
        resolver: &dyn KeyResolver,
        me: &DomainName,
        now: u64,
    ) -> Result<LinkHello, LinkHelloError> {
        let hello = LinkHello::claimed(body)?;
        let bundle = body
            .get_object("linkHelloBundle")
            .ok_or(LinkHelloError::Malformed("linkHelloBundle"))?;
        let verified =
            verify_bundle(bundle, "linkHello", resolver).map_err(|_| LinkHelloError::Signature)?;
        // The key must be the claimed domain's: a resolver of another domain's set answers no
        // reference naming this one, but say it here too.
        let named = verified
            .get()
            .get_str("domain")
            .and_then(|d| DomainName::parse(d).ok());
        if named.as_ref() != Some(&hello.domain) {
            return Err(LinkHelloError::Signature);
        }
        if hello.to != *me {
            return Err(LinkHelloError::Misaddressed);
        }
        if hello.expires <= now || hello.expires > now.saturating_add(MAX_HELLO_LIFETIME) {
            return Err(LinkHelloError::Expired);
        }
        Ok(hello)
    }
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::certificates::{Certificate, CertificateSet};
    use crate::signature::SignatureSuite;
    use crate::signature::test_keys::{key, other_key};

    fn alpha() -> DomainName {
        DomainName::parse("alpha.test").unwrap()
    }

    fn beta() -> DomainName {
        DomainName::parse("beta.test").unwrap()
    }

    /// alpha's certificates: a certificates key and a finder key.
    fn certificates(finder: &SigningKey) -> CertificateSet {
        let root_key = key(SignatureSuite::Ed25519);
        let root = Certificate {
            id: "c1".into(),
            service: "certificates".into(),
            expires: 10_000,
            key: root_key.public_key().clone(),
        };
        let finder_certificate = Certificate {
            id: "f1".into(),
            service: "finder".into(),
            expires: 10_000,
            key: finder.public_key().clone(),
        };
        let bundles = vec![
            root.sign(&alpha(), root_key, &root, &mut OsRng),
            finder_certificate.sign(&alpha(), root_key, &root, &mut OsRng),
        ];
        let doc = Object::new().with("certificates", CertificateSet::result_element(bundles));
        CertificateSet::from_certificates_get(&alpha(), &doc, 1_000).unwrap()
    }

    fn hello(expires: u64) -> LinkHello {
        LinkHello {
            domain: alpha(),
            node: "node-1".into(),
            to: beta(),
            nonce: "00112233445566778899aabbccddeeff".into(),
            expires,
        }
    }

    fn finder_reference(service: &str) -> KeyReference {
        KeyReference::Certificate {
            id: "f1".into(),
            domain: alpha(),
            service: service.into(),
        }
    }

    #[test]
    fn a_signed_hello_verifies_for_its_addressee_only() {
        let finder = key(SignatureSuite::Ed25519);
        let set = certificates(finder);
        let body = hello(1_300).sign(finder, &finder_reference("finder"), &mut OsRng);
        let resolver = set.of_service("finder");
        assert_eq!(LinkHello::claimed(&body).unwrap(), hello(1_300));
        assert_eq!(
            LinkHello::verify(&body, &resolver, &beta(), 1_000).unwrap(),
            hello(1_300)
        );
        assert_eq!(
            LinkHello::verify(&body, &resolver, &alpha(), 1_000),
            Err(LinkHelloError::Misaddressed)
        );
        assert_eq!(
            LinkHello::verify(&body, &resolver, &beta(), 1_300),
            Err(LinkHelloError::Expired)
        );
        let long = hello(1_000 + MAX_HELLO_LIFETIME + 1).sign(
            finder,
            &finder_reference("finder"),
            &mut OsRng,
        );
        assert_eq!(
            LinkHello::verify(&long, &resolver, &beta(), 1_000),
            Err(LinkHelloError::Expired)
        );
    }

    #[test]
    fn forged_or_tampered_hellos_are_refused() {
        let finder = key(SignatureSuite::Ed25519);
        let set = certificates(finder);
        let resolver = set.of_service("finder");
        // Signed by a key alpha never certified.
        let forged = hello(1_300).sign(
            other_key(SignatureSuite::Ed25519),
            &finder_reference("finder"),
            &mut OsRng,
        );
        assert_eq!(
            LinkHello::verify(&forged, &resolver, &beta(), 1_000),
            Err(LinkHelloError::Signature)
        );
        // Signed with the right key but naming another service's certificate.
        let wrong_service = hello(1_300).sign(finder, &finder_reference("salt"), &mut OsRng);
        assert_eq!(
            LinkHello::verify(&wrong_service, &resolver, &beta(), 1_000),
            Err(LinkHelloError::Signature)
        );
        // A changed field breaks the signature.
        let signed = hello(1_300).sign(finder, &finder_reference("finder"), &mut OsRng);
        let bundle = signed.get_object("linkHelloBundle").unwrap();
        let mut changed = bundle.get_object("linkHello").unwrap().clone();
        changed.insert("node", "node-2");
        let tampered =
            Object::new().with("linkHelloBundle", bundle.clone().with("linkHello", changed));
        assert_eq!(
            LinkHello::verify(&tampered, &resolver, &beta(), 1_000),
            Err(LinkHelloError::Signature)
        );
        assert_eq!(
            LinkHello::claimed(&Object::new()),
            Err(LinkHelloError::Malformed("linkHelloBundle"))
        );
    }
}
