//! Peer files (spec §4): the public peer file a peer publishes (Sections A, B, C) and the
//! private peer file that carries its key encrypted under a secret (spec §4.2).

mod private;
mod public;

pub use private::{
    DecryptedPeerFile, PRIVATE_PEER_FILE_SECRET_LEN, decrypt_private, encrypt_private,
};
pub use public::{FIND_SECRET_LEN, PeerFileOptions, PublicPeerFile, contact_uri, salt_domain};

use crate::signature::SignatureSuite;

/// Why a peer file was refused; each variant is one rule of spec §4.1/§4.2 and
/// [`PeerFileError::rule`] names it the way the CLI and logs report it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerFileError {
    /// Not a peer file: missing, duplicated or mistyped sections or fields.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// Section A is not signed by its own key.
    #[error("signature-a: section A does not verify under its own key")]
    SignatureA,
    /// Section B is not signed by Section A's key.
    #[error("signature-b: section B does not verify under section A's key")]
    SignatureB,
    /// Section C is not signed by Section A's key.
    #[error("signature-c: section C does not verify under section A's key")]
    SignatureC,
    /// A section's `contact` (or signing key URI) is not the peer URI computed from Section A.
    #[error("contact-mismatch: a section names another peer than section A computes to")]
    ContactMismatch,
    /// Outside `created`..`expires`.
    #[error("expired: the peer file is not valid at this time")]
    Expired,
    /// The salt is not signed by a valid salt certificate of its domain.
    #[error("salt-signature: the salt is not signed by the domain's salt certificate")]
    SaltSignature,
    /// A cipher-suite or signature algorithm we do not know.
    #[error("unknown-algorithm: unknown cipher suite or signature algorithm")]
    UnknownAlgorithm,
    /// The private peer file secret does not open this file.
    #[error("wrong-secret: the secret does not open this private peer file")]
    WrongSecret,
}

impl PeerFileError {
    /// The rule's name: `malformed`, `signature-a`, … (the prefix of the message).
    pub fn rule(&self) -> &'static str {
        match self {
            PeerFileError::Malformed(_) => "malformed",
            PeerFileError::SignatureA => "signature-a",
            PeerFileError::SignatureB => "signature-b",
            PeerFileError::SignatureC => "signature-c",
            PeerFileError::ContactMismatch => "contact-mismatch",
            PeerFileError::Expired => "expired",
            PeerFileError::SaltSignature => "salt-signature",
            PeerFileError::UnknownAlgorithm => "unknown-algorithm",
            PeerFileError::WrongSecret => "wrong-secret",
        }
    }
}

/// Section A cipher suite of C14 peer files (RSA keys), emitted for the legacy suite.
pub const CIPHER_RSA_C14: &str =
    "https://meta.openpeer.org/2013/07/21/jsonmsg#rsa-sha1-aes-cfb-32-16-16-sha256-md5";
/// Section A cipher suite of peer files with Ed25519 keys: the same symmetric parts as C14 (the
/// private peer file's AES-256-CFB, SHA-256 and MD5 derivations), with Ed25519 signatures.
pub const CIPHER_ED25519: &str = "urn:openpeer:jsonmsg:ed25519-aes-cfb-32-16-16-sha256-md5";
/// Older spellings of the C14 suite, accepted on input (spec §4.1).
const CIPHER_RSA_ALIASES: [&str; 3] = [
    CIPHER_RSA_C14,
    "http://meta.openpeer.org/2013/07/21/jsonmsg#rsa-sha1-aes-cfb-32-16-16-sha256-md5",
    "sha256/aes256",
];

/// The signature suite a Section A cipher string implies.
pub(crate) fn cipher_suite(cipher: &str) -> Option<SignatureSuite> {
    if CIPHER_RSA_ALIASES.contains(&cipher) {
        Some(SignatureSuite::RsaSha1ForLegacyUseOnly)
    } else if cipher == CIPHER_ED25519 {
        Some(SignatureSuite::Ed25519)
    } else {
        None
    }
}

/// The cipher string emitted for keys of `suite`.
pub(crate) fn cipher_for(suite: SignatureSuite) -> &'static str {
    match suite {
        SignatureSuite::RsaSha1ForLegacyUseOnly => CIPHER_RSA_C14,
        SignatureSuite::Ed25519 => CIPHER_ED25519,
    }
}

/// The section bundles of a peer file document, by their `$id`, each at most once.
pub(crate) fn sections<'a>(
    document: &'a crate::json::Object,
    root: &'static str,
    allowed: &[&str],
) -> Result<Vec<(&'a str, &'a crate::json::Object)>, PeerFileError> {
    let root = document
        .get_object(root)
        .ok_or(PeerFileError::Malformed("not a peer file"))?;
    if root.get_u64("$version") != Some(1) {
        return Err(PeerFileError::Malformed("unsupported $version"));
    }
    let mut found: Vec<(&str, &crate::json::Object)> = Vec::new();
    for bundle in root.get_list("sectionBundle") {
        let bundle = bundle
            .as_object()
            .ok_or(PeerFileError::Malformed("sectionBundle is not an object"))?;
        let id = bundle
            .get_object("section")
            .and_then(|s| s.get_str("$id"))
            .ok_or(PeerFileError::Malformed("section without $id"))?;
        if !allowed.contains(&id) {
            return Err(PeerFileError::Malformed("unknown section"));
        }
        if found.iter().any(|(seen, _)| *seen == id) {
            return Err(PeerFileError::Malformed("duplicate section"));
        }
        found.push((id, bundle));
    }
    Ok(found)
}

#[cfg(test)]
#[path = "peer_file_test.rs"]
mod tests;
