//! `identity-lookup` bodies (spec §6.6, §4.3): the request's `providers` form, and one
//! `identity` element of a lookup result with the checks that make it trustworthy. The
//! gateway writes these, its federation bridge reads another domain's, and the peer reads its
//! gateway's, all through this one model.

use crate::json::{Object, Value};
use crate::peer_file::{PeerFileError, PublicPeerFile};
use crate::signature::{KeyResolver, PeerKey, verify_bundle};
use crate::uri::IdentityUri;

/// The `providers` element naming `identities` (spec §6.6): one `provider` per base, with `,`
/// as separator, or `;` when an identifier holds a comma. Identities are grouped by base in
/// the order of their first appearance.
pub fn lookup_request(identities: &[IdentityUri]) -> Object {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for identity in identities {
        let text = identity.to_string();
        let (base, name) = match text.strip_prefix("identity://") {
            Some(rest) => match rest.split_once('/') {
                Some((domain, name)) => (format!("identity://{domain}/"), name.to_owned()),
                None => continue,
            },
            None => match text.rfind(':') {
                Some(at) => (text[..=at].to_owned(), text[at + 1..].to_owned()),
                None => continue,
            },
        };
        match groups.iter_mut().find(|(b, _)| *b == base) {
            Some((_, names)) => names.push(name),
            None => groups.push((base, vec![name])),
        }
    }
    let providers = groups
        .into_iter()
        .map(|(base, names)| {
            let separator = if names.iter().any(|n| n.contains(',')) {
                ";"
            } else {
                ","
            };
            Value::Object(
                Object::new()
                    .with("base", base)
                    .with("separator", separator)
                    .with("identities", names.join(separator)),
            )
        })
        .collect();
    Object::new().with(
        "providers",
        Object::new().with("provider", Value::from_list(providers)),
    )
}

/// The identity URIs a lookup request names, normalised, in request order, without
/// duplicates (spec §6.6): each identifier is appended to its `base` (with a `/` after a
/// domain base, as the node IdP does; directly after a legacy `identity:type:` base).
/// Identifiers that do not form a valid identity are skipped. `None` when the `providers`
/// element is missing or malformed, or when more than `max` identities are named.
pub fn requested_identities(body: &Object, max: usize) -> Result<Vec<IdentityUri>, &'static str> {
    let providers = body.get_object("providers").ok_or("providers")?;
    let mut uris: Vec<IdentityUri> = Vec::new();
    for provider in providers.get_list("provider") {
        let provider = provider.as_object().ok_or("provider")?;
        let base = provider.get_str("base").unwrap_or_default();
        let separator = provider
            .get_str("separator")
            .filter(|s| !s.is_empty())
            .unwrap_or(",");
        let identities = provider.get_str("identities").unwrap_or_default();
        for identifier in identities.split(separator).filter(|i| !i.is_empty()) {
            let full = if base.starts_with("identity://") {
                format!("{}/{identifier}", base.trim_end_matches('/'))
            } else {
                format!("{base}{identifier}")
            };
            if let Ok(uri) = IdentityUri::parse(&full)
                && !uris.contains(&uri)
            {
                uris.push(uri);
            }
            if uris.len() > max {
                return Err("too many identities");
            }
        }
    }
    Ok(uris)
}

/// Why a lookup result's identity was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// A field is missing or mistyped.
    #[error("malformed identity: {0}")]
    Malformed(&'static str),
    /// The public peer file breaks a rule of spec §4.1 (its salt included, when checked).
    #[error("peer file: {0}")]
    PeerFile(#[from] PeerFileError),
    /// The `identityProofBundle` is not signed by the identity domain's identity certificate.
    #[error("identity proof does not verify")]
    IdentityProof,
    /// The contact proof is not signed by the peer file's key, names another identity or
    /// peer, or has expired.
    #[error("contact proof does not verify")]
    ContactProof,
}

/// One `identity` element of an `identity-lookup` result (spec §6.6).
#[derive(Clone, Debug, PartialEq)]
pub struct LookupIdentity {
    /// The identity URI.
    pub uri: String,
    /// The identity provider.
    pub provider: String,
    /// `stableID`.
    pub stable_id: String,
    /// The `peer` element: the public peer file's content.
    pub peer: Object,
    /// `priority`.
    pub priority: u64,
    /// `weight`.
    pub weight: u64,
    /// When the binding last changed.
    pub updated: u64,
    /// Until when the answer may be used without asking again.
    pub expires: u64,
    /// The identity service's signed `identityProofBundle` (spec §4.3).
    pub identity_proof_bundle: Object,
}

impl LookupIdentity {
    /// The `identity` element.
    pub fn to_object(&self) -> Object {
        Object::new()
            .with("uri", self.uri.as_str())
            .with("provider", self.provider.as_str())
            .with("stableID", self.stable_id.as_str())
            .with("peer", self.peer.clone())
            .with("priority", self.priority)
            .with("weight", self.weight)
            .with("updated", self.updated)
            .with("expires", self.expires)
            .with("identityProofBundle", self.identity_proof_bundle.clone())
    }

    /// Reads an `identity` element; nothing in it is checked yet.
    pub fn from_object(identity: &Object) -> Result<LookupIdentity, LookupError> {
        let text = |key: &'static str| {
            identity
                .get_str(key)
                .map(str::to_owned)
                .ok_or(LookupError::Malformed(key))
        };
        let element = |key: &'static str| {
            identity
                .get_object(key)
                .cloned()
                .ok_or(LookupError::Malformed(key))
        };
        Ok(LookupIdentity {
            uri: text("uri")?,
            provider: text("provider")?,
            stable_id: text("stableID")?,
            peer: element("peer")?,
            priority: identity.get_u64("priority").unwrap_or(0),
            weight: identity.get_u64("weight").unwrap_or(0),
            updated: identity
                .get_u64("updated")
                .ok_or(LookupError::Malformed("updated"))?,
            expires: identity
                .get_u64("expires")
                .ok_or(LookupError::Malformed("expires"))?,
            identity_proof_bundle: element("identityProofBundle")?,
        })
    }

    /// Checks the element at `now` (spec §4.3): the peer file validates (its salt under
    /// `salt_signers`, the peer domain's salt certificates, when given), the identity proof is
    /// signed by a key `identity_signers` (the identity domain's identity certificates) vouches
    /// for, and the contact proof inside it is signed by the peer file's key, names this
    /// identity and this peer, and has not expired. Returns the validated peer file.
    ///
    /// `identity_signers` may be `None` only for a client that takes its own gateway's word
    /// for another domain's signature (the gateway checked it before answering).
    pub fn verify(
        &self,
        identity_signers: Option<&dyn KeyResolver>,
        salt_signers: Option<&dyn KeyResolver>,
        now: u64,
    ) -> Result<PublicPeerFile, LookupError> {
        let document = Object::new().with("peer", self.peer.clone());
        let file = PublicPeerFile::validate(&document, now, salt_signers)?;
        let bundle = &self.identity_proof_bundle;
        let contact_bundle = match identity_signers {
            Some(signers) => verify_bundle(bundle, "identityProof", signers)
                .map_err(|_| LookupError::IdentityProof)?
                .get()
                .get_object("contactProofBundle"),
            None => bundle
                .get_object("identityProof")
                .and_then(|p| p.get_object("contactProofBundle")),
        }
        .ok_or(LookupError::Malformed("contactProofBundle"))?;
        let signer = PeerKey {
            uri: file.contact(),
            key: file.key(),
        };
        let contact = verify_bundle(contact_bundle, "contactProof", &signer)
            .map_err(|_| LookupError::ContactProof)?;
        let contact = contact.get();
        let binds_us = contact.get_str("uri") == Some(self.uri.as_str())
            && contact.get_str("contact") == Some(file.contact().to_string().as_str())
            && contact.get_str("stableID") == Some(self.stable_id.as_str())
            && contact.get_u64("expires").is_some_and(|e| e > now);
        if !binds_us {
            return Err(LookupError::ContactProof);
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn uri(text: &str) -> IdentityUri {
        IdentityUri::parse(text).unwrap()
    }

    #[test]
    fn identities_expand_from_bases_in_order() {
        let body = parse(
            r#"{"providers":{"provider":[
                {"base":"identity://Example.org/","separator":",","identities":"bob,alice,bob"},
                {"base":"identity:phone:","separator":";","identities":"1604;bad id"},
                {"base":"identity://github.com","identities":"583231"}]}}"#,
        )
        .unwrap();
        let expected = [
            "identity://example.org/bob",
            "identity://example.org/alice",
            "identity:phone:1604",
            "identity://github.com/583231",
        ];
        let got = requested_identities(&body, 10).unwrap();
        assert_eq!(
            got.iter().map(ToString::to_string).collect::<Vec<_>>(),
            expected
        );
        assert!(requested_identities(&body, 2).is_err());
        assert!(requested_identities(&Object::new(), 2).is_err());
    }

    #[test]
    fn a_request_names_what_it_was_built_from() {
        let identities = [
            uri("identity://beta.test/bob"),
            uri("identity:phone:1604"),
            uri("identity://beta.test/carol"),
            uri("identity://gamma.test/a,b"),
        ];
        let body = lookup_request(&identities);
        // Grouped by base, in the order each base first appears.
        let grouped = [0, 2, 1, 3].map(|i| identities[i].clone());
        assert_eq!(requested_identities(&body, 10).unwrap(), grouped);
        let providers = body.get_object("providers").unwrap().get_list("provider");
        assert_eq!(providers.len(), 3);
        let gamma = providers[2].as_object().unwrap();
        assert_eq!(gamma.get_str("separator"), Some(";"));
    }
}
