//! Namespace grant challenges (spec §6.7, §6.8): a service (lockbox, rolodex) challenges a client
//! grant id it does not know yet; the user approves the challenge at a namespace-grant service,
//! whose `namespace-grant` key signs it; the client presents the signed bundle back.

use rand_core::{CryptoRng, RngCore};

use crate::json::{Object, Value};
use crate::lockbox::{LockboxError, namespaces_of, requested_namespaces};
use crate::signature::{KeyReference, KeyResolver, SigningKey, sign_bundle, verify_bundle};
use crate::uri::DomainName;

/// The signed element's name inside a `namespaceGrantChallengeBundle`.
pub const CHALLENGE: &str = "namespaceGrantChallenge";

/// Why a challenge or its bundle was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// A field is missing or of the wrong shape.
    #[error("malformed namespace grant challenge: {0}")]
    Malformed(&'static str),
    /// A namespace `$id` that is not an http(s) URL.
    #[error(transparent)]
    Namespace(#[from] LockboxError),
    /// The signature does not verify under a `namespace-grant` key the resolver vouches for.
    #[error("the namespace grant signature does not verify")]
    Signature,
}

/// A namespace grant challenge: who asks (`name`, `image`, `url`), which domains' grant services
/// it trusts to sign (`domains`), and for which namespaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantChallenge {
    /// The challenge id the challenging service remembers.
    pub id: String,
    /// The challenging service's name, shown to the user.
    pub name: String,
    /// An image URL for the user interface.
    pub image: String,
    /// The challenging service's URL.
    pub url: String,
    /// Domains whose `namespace-grant` service may sign this challenge (written comma-separated).
    pub domains: Vec<DomainName>,
    /// The namespace URLs asked for (issued) or granted (signed).
    pub namespaces: Vec<String>,
}

impl GrantChallenge {
    /// The `namespaceGrantChallenge` element.
    pub fn to_object(&self) -> Object {
        let domains: Vec<&str> = self.domains.iter().map(DomainName::as_str).collect();
        let namespaces: Vec<&str> = self.namespaces.iter().map(String::as_str).collect();
        Object::new()
            .with("$id", self.id.as_str())
            .with("name", self.name.as_str())
            .with("image", self.image.as_str())
            .with("url", self.url.as_str())
            .with("domains", domains.join(","))
            .with("namespaces", namespaces_of(&namespaces))
    }

    /// Reads a `namespaceGrantChallenge` element.
    pub fn from_object(challenge: &Object) -> Result<GrantChallenge, GrantError> {
        let text = |name: &'static str| {
            challenge
                .get_str(name)
                .map(str::to_owned)
                .ok_or(GrantError::Malformed(name))
        };
        let id = text("$id")?;
        if id.is_empty() {
            return Err(GrantError::Malformed("$id"));
        }
        let domains = challenge
            .get_str("domains")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| DomainName::parse(d).map_err(|_| GrantError::Malformed("domains")))
            .collect::<Result<_, _>>()?;
        Ok(GrantChallenge {
            id,
            name: text("name").unwrap_or_default(),
            image: text("image").unwrap_or_default(),
            url: text("url").unwrap_or_default(),
            domains,
            namespaces: requested_namespaces(challenge)?,
        })
    }

    /// The `namespaceGrantChallengeBundle`: this challenge signed with a `namespace-grant` key.
    pub fn sign(
        &self,
        key: &SigningKey,
        reference: &KeyReference,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Object {
        sign_bundle(CHALLENGE, self.to_object(), key, reference, rng)
    }

    /// Verifies a `namespaceGrantChallengeBundle` with keys `resolver` vouches for, and reads it.
    pub fn verify(
        bundle: &Object,
        resolver: &dyn KeyResolver,
    ) -> Result<GrantChallenge, GrantError> {
        let verified =
            verify_bundle(bundle, CHALLENGE, resolver).map_err(|_| GrantError::Signature)?;
        GrantChallenge::from_object(verified.get())
    }
}

/// The domain named by a bundle's signing key (`signature.key.domain`), read before verifying:
/// whose certificates to verify it with.
pub fn signer_domain(bundle: &Object) -> Option<DomainName> {
    let key = bundle.get_object("signature")?.get_object("key")?;
    match KeyReference::from_object(key).ok()? {
        KeyReference::Certificate {
            domain, service, ..
        } if service == "namespace-grant" => Some(domain),
        _ => None,
    }
}

/// The challenges of `namespace-grant-start` (`namespaceGrantChallenges`) or the bundles of
/// `namespace-grant-complete` (`namespaceGrantChallengeBundles`), as a list.
pub fn list_of<'a>(body: &'a Object, outer: &str, inner: &str) -> &'a [Value] {
    body.get_object(outer)
        .map(|o| o.get_list(inner))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{InlineKey, SignatureSuite};
    use rand_core::OsRng;

    fn challenge() -> GrantChallenge {
        GrantChallenge {
            id: "c1".into(),
            name: "example lockbox".into(),
            image: String::new(),
            url: "https://example.com/".into(),
            domains: vec![DomainName::parse("example.com").unwrap()],
            namespaces: vec![
                "https://example.com/app".into(),
                "https://example.com/b".into(),
            ],
        }
    }

    #[test]
    fn signed_challenges_verify_and_read_back() {
        let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
        let reference = KeyReference::X509Data(key.public_key().clone());
        let bundle = challenge().sign(&key, &reference, &mut OsRng);
        assert_eq!(GrantChallenge::verify(&bundle, &InlineKey), Ok(challenge()));
        let mut forged = bundle.clone();
        let mut inner = forged.get_object(CHALLENGE).unwrap().clone();
        inner.insert("namespaces", namespaces_of(&["https://evil.example/x"]));
        forged.insert(CHALLENGE, inner);
        assert_eq!(
            GrantChallenge::verify(&forged, &InlineKey),
            Err(GrantError::Signature)
        );
        assert_eq!(signer_domain(&bundle), None);
    }
}
