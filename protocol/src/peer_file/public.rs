//! The public peer file (spec §4.1): Section A (key, salt, lifetime) signed by its own key,
//! Sections B (find secret) and C (identities) signed by A's key, all bound together by the
//! contact id, a hash of the whole Section A bundle.

use rand_core::{CryptoRng, RngCore};

use super::{PeerFileError, cipher_for, cipher_suite, sections};
use crate::canonical::canon_object;
use crate::derivation::contact_id_digest;
use crate::json::{Object, Value};
use crate::random::random_string;
use crate::salt::SaltBundle;
use crate::signature::{
    InlineKey, KeyReference, KeyResolver, PeerKey, PublicKey, SignatureError, SignatureSuite,
    SigningKey, sign_bundle, verify_bundle,
};
use crate::uri::PeerUri;

/// Length of a generated `findSecret` (C++ `randomString(52)`).
pub const FIND_SECRET_LEN: usize = 52;

/// What a new public peer file states besides its key.
#[derive(Clone, Debug)]
pub struct PeerFileOptions<'a> {
    /// A `saltBundle` exactly as `signed-salt-get` returned it; its domain is the peer's.
    pub salt_bundle: &'a Object,
    /// Unix time of creation.
    pub created: u64,
    /// Unix time after which the file is refused.
    pub expires: u64,
    /// Whether to include Section B, without which nobody can find the peer (spec §4.1).
    pub findable: bool,
}

/// A public peer file that passed every rule of spec §4.1; only [`PublicPeerFile::validate`]
/// and [`PublicPeerFile::generate`] make one, so holding one is proof of validation.
#[derive(Clone, Debug)]
pub struct PublicPeerFile {
    document: Object,
    contact: PeerUri,
    key: PublicKey,
    created: u64,
    expires: u64,
    find_secret: Option<String>,
    salt_verified: bool,
}

/// The peer URI of a Section A bundle: `peer://<salt domain>/<hex SHA-256("contact:" +
/// canonical sectionBundle)>` (spec §3).
pub fn contact_uri(section_a_bundle: &Object) -> Result<PeerUri, PeerFileError> {
    let salt = section_a_bundle
        .get_object("section")
        .and_then(|a| a.get_object("saltBundle"))
        .ok_or(PeerFileError::Malformed("section A has no saltBundle"))?;
    let domain = SaltBundle::read(salt)
        .map_err(|_| PeerFileError::Malformed("saltBundle"))?
        .domain;
    let id = contact_id_digest(&canon_object("sectionBundle", section_a_bundle));
    PeerUri::new(domain, &id).map_err(|_| PeerFileError::Malformed("contact id"))
}

/// The domain whose salt certificate signed a public peer file's salt, read without verifying
/// anything: which domain's certificates to check the file against.
pub fn salt_domain(document: &Object) -> Option<crate::uri::DomainName> {
    let bundles = document.get_object("peer")?.get_list("sectionBundle");
    let a = bundles.iter().find_map(|b| {
        let section = b.as_object()?.get_object("section")?;
        (section.get_str("$id") == Some("A")).then_some(section)
    })?;
    SaltBundle::read(a.get_object("saltBundle")?)
        .ok()
        .map(|salt| salt.domain)
}

impl PublicPeerFile {
    /// Makes and signs Sections A, B (when findable) and C for `key`.
    pub fn generate(
        key: &SigningKey,
        options: &PeerFileOptions<'_>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<PublicPeerFile, PeerFileError> {
        let section_a = Object::new()
            .with("$id", "A")
            .with("algorithm", cipher_for(key.suite()))
            .with("created", options.created)
            .with("expires", options.expires)
            .with("saltBundle", options.salt_bundle.clone());
        let self_signed = KeyReference::X509Data(key.public_key().clone());
        let a = sign_bundle("section", section_a, key, &self_signed, rng);
        let contact = contact_uri(&a)?;
        let by_peer = KeyReference::Uri(contact.clone());
        let mut bundles = vec![Value::Object(a)];
        if options.findable {
            let b = Object::new()
                .with("$id", "B")
                .with("contact", contact.to_string())
                .with("findSecret", random_string(rng, FIND_SECRET_LEN));
            bundles.push(sign_bundle("section", b, key, &by_peer, rng).into());
        }
        let c = Object::new()
            .with("$id", "C")
            .with("contact", contact.to_string());
        bundles.push(sign_bundle("section", c, key, &by_peer, rng).into());
        let document = Object::new().with(
            "peer",
            Object::new()
                .with("$version", "1")
                .with("sectionBundle", Value::Array(bundles)),
        );
        PublicPeerFile::validate(&document, options.created, None)
    }

    /// Checks every rule of spec §4.1 at time `now`, in this order: shape (`malformed`),
    /// algorithms (`unknown-algorithm`), Section A's self-signature (`signature-a`), B and C
    /// signed by A's key (`signature-b`, `signature-c`) and naming the computed peer URI
    /// (`contact-mismatch`), lifetime (`expired`), and — when the salt domain's certificates are
    /// given — the salt's signature (`salt-signature`).
    pub fn validate(
        document: &Object,
        now: u64,
        salt_certificates: Option<&dyn KeyResolver>,
    ) -> Result<PublicPeerFile, PeerFileError> {
        let found = sections(document, "peer", &["A", "B", "C"])?;
        let bundle = |id: &str| found.iter().find(|(s, _)| *s == id).map(|(_, b)| *b);
        let a_bundle = bundle("A").ok_or(PeerFileError::Malformed("section A missing"))?;
        let a = a_bundle
            .get_object("section")
            .ok_or(PeerFileError::Malformed("section A"))?;
        let cipher = a
            .get_str("algorithm")
            .or_else(|| a.get_str("cipher"))
            .ok_or(PeerFileError::Malformed("section A has no cipher suite"))?;
        let suite = cipher_suite(cipher).ok_or(PeerFileError::UnknownAlgorithm)?;
        let created = a
            .get_u64("created")
            .ok_or(PeerFileError::Malformed("created"))?;
        let expires = a
            .get_u64("expires")
            .ok_or(PeerFileError::Malformed("expires"))?;
        if expires <= created {
            return Err(PeerFileError::Malformed("expires is not after created"));
        }
        let salt_bundle = a
            .get_object("saltBundle")
            .ok_or(PeerFileError::Malformed("section A has no saltBundle"))?;
        let key = verify_bundle(a_bundle, "section", &InlineKey)
            .map_err(|e| match e {
                SignatureError::UnknownAlgorithm => PeerFileError::UnknownAlgorithm,
                SignatureError::UnknownKey => {
                    PeerFileError::Malformed("section A key is not x509Data")
                }
                SignatureError::Malformed(what) => PeerFileError::Malformed(what),
                _ => PeerFileError::SignatureA,
            })?
            .signer()
            .clone();
        if key.suite() != suite {
            return Err(PeerFileError::Malformed(
                "cipher suite does not match the key",
            ));
        }
        let contact = contact_uri(a_bundle)?;
        let peer_key = PeerKey {
            uri: &contact,
            key: &key,
        };
        let find_secret = match bundle("B") {
            Some(b) => {
                let b = verify_section(b, &peer_key, PeerFileError::SignatureB)?;
                let secret = b
                    .get_str("findSecret")
                    .filter(|s| !s.is_empty())
                    .ok_or(PeerFileError::Malformed("section B has no findSecret"))?;
                Some(secret.to_owned())
            }
            None => None,
        };
        if let Some(c) = bundle("C") {
            verify_section(c, &peer_key, PeerFileError::SignatureC)?;
        }
        if now < created.saturating_sub(CLOCK_SKEW) || now >= expires {
            return Err(PeerFileError::Expired);
        }
        let salt_verified = match salt_certificates {
            Some(certificates) => {
                SaltBundle::verify(salt_bundle, certificates)
                    .map_err(|_| PeerFileError::SaltSignature)?;
                true
            }
            None => false,
        };
        Ok(PublicPeerFile {
            document: document.clone(),
            contact,
            key,
            created,
            expires,
            find_secret,
            salt_verified,
        })
    }

    /// The whole `{"peer": …}` document, as validated.
    pub fn document(&self) -> &Object {
        &self.document
    }

    /// The peer URI computed from Section A.
    pub fn contact(&self) -> &PeerUri {
        &self.contact
    }

    /// The peer's public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The suite of the peer's key.
    pub fn suite(&self) -> SignatureSuite {
        self.key.suite()
    }

    /// Unix time of creation.
    pub fn created(&self) -> u64 {
        self.created
    }

    /// Unix time of expiry.
    pub fn expires(&self) -> u64 {
        self.expires
    }

    /// Section B's `findSecret`, present only for findable peers.
    pub fn find_secret(&self) -> Option<&str> {
        self.find_secret.as_deref()
    }

    /// Whether the salt's signature was checked against its domain's certificates.
    pub fn salt_verified(&self) -> bool {
        self.salt_verified
    }
}

/// Tolerance for a `created` time slightly ahead of the verifier's clock (architecture §4).
const CLOCK_SKEW: u64 = 600;

/// Verifies Section B or C under A's key and checks that it names the computed peer URI.
fn verify_section<'a>(
    bundle: &'a Object,
    peer_key: &PeerKey<'_>,
    signature_rule: PeerFileError,
) -> Result<&'a Object, PeerFileError> {
    let section = verify_bundle(bundle, "section", peer_key).map_err(|e| match e {
        SignatureError::UnknownKey => PeerFileError::ContactMismatch,
        SignatureError::UnknownAlgorithm => PeerFileError::UnknownAlgorithm,
        SignatureError::Malformed(what) => PeerFileError::Malformed(what),
        _ => signature_rule,
    })?;
    let section = *section.get();
    if section.get_str("contact") != Some(peer_key.uri.to_string().as_str()) {
        return Err(PeerFileError::ContactMismatch);
    }
    Ok(section)
}
