//! The private peer file (spec §4.2): the peer's private key, its public peer file and private
//! data, encrypted under a secret so that the file can rest on an untrusted server (the lockbox).

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::{PeerFileError, PublicPeerFile, cipher_for, cipher_suite, sections};
use crate::canonical::render_object;
use crate::cipher::{
    PrivatePeerFilePhrase, aes256_cfb128_decrypt, aes256_cfb128_encrypt, private_peer_file_iv,
    private_peer_file_key, secret_proof,
};
use crate::encoding::{from_base64, hex_proof_matches, to_base64};
use crate::json::{Object, Value, parse};
use crate::random::random_bytes;
use crate::salt::SALT_LEN;
use crate::signature::{
    KeyReference, PeerKey, SignatureError, SigningKey, sign_bundle, verify_bundle,
};
use crate::uri::PeerUri;

/// Length of a generated private peer file secret (C++ `randomString(52)`).
pub const PRIVATE_PEER_FILE_SECRET_LEN: usize = 52;

/// What a private peer file holds once opened.
#[derive(Debug)]
pub struct DecryptedPeerFile {
    /// The peer's private key.
    pub key: SigningKey,
    /// The peer's public peer file, validated.
    pub public: PublicPeerFile,
    /// The application's private data document.
    pub private_data: Object,
}

/// Encrypts `key`, `public` and `private_data` under `secret` (spec §4.2, C14 derivations with
/// the raw secret bytes as HMAC key).
pub fn encrypt_private(
    public: &PublicPeerFile,
    key: &SigningKey,
    secret: &str,
    private_data: &Object,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Object, PeerFileError> {
    if key.public_key() != public.key() {
        return Err(PeerFileError::Malformed(
            "the key is not the public peer file's key",
        ));
    }
    let contact = public.contact();
    let salt64 = to_base64(&random_bytes(rng, SALT_LEN));
    let by_peer = KeyReference::Uri(contact.clone());
    let a = Object::new()
        .with("$id", "A")
        .with("contact", contact.to_string())
        .with("algorithm", cipher_for(key.suite()))
        .with("salt", salt64.as_str())
        .with(
            "secretProof",
            secret_proof(secret.as_bytes(), contact.contact_id()),
        );
    let encrypt = |phrase: PrivatePeerFilePhrase, plaintext: &[u8]| {
        let k = private_peer_file_key(secret.as_bytes(), phrase, &salt64);
        let iv = private_peer_file_iv(phrase, &salt64);
        to_base64(&aes256_cfb128_encrypt(&k, &iv, plaintext))
    };
    let b = Object::new()
        .with("$id", "B")
        .with(
            "encryptedContact",
            encrypt(
                PrivatePeerFilePhrase::Contact,
                contact.to_string().as_bytes(),
            ),
        )
        .with(
            "encryptedPrivateKey",
            encrypt(PrivatePeerFilePhrase::PrivateKey, &key.to_pkcs8_der()),
        )
        .with(
            "encryptedPeer",
            encrypt(
                PrivatePeerFilePhrase::Peer,
                render_object(public.document()).as_bytes(),
            ),
        )
        .with(
            "encryptedPrivateData",
            encrypt(
                PrivatePeerFilePhrase::Data,
                render_document(private_data).as_bytes(),
            ),
        );
    let bundles = vec![
        Value::Object(sign_bundle("section", a, key, &by_peer, rng)),
        Value::Object(sign_bundle("section", b, key, &by_peer, rng)),
    ];
    Ok(Object::new().with(
        "privatePeer",
        Object::new()
            .with("$version", "1")
            .with("sectionBundle", Value::Array(bundles)),
    ))
}

/// Opens a private peer file with `secret` and checks it: the secret proof, both signatures under
/// the decrypted key, the contact, and the embedded public peer file (validated at `now`).
pub fn decrypt_private(
    document: &Object,
    secret: &str,
    now: u64,
) -> Result<DecryptedPeerFile, PeerFileError> {
    let found = sections(document, "privatePeer", &["A", "B"])?;
    let bundle = |id: &str| {
        found
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, b)| *b)
            .ok_or(PeerFileError::Malformed(
                "private peer file needs sections A and B",
            ))
    };
    let (a_bundle, b_bundle) = (bundle("A")?, bundle("B")?);
    let field = |section: &'static str, bundle: &Object, name: &'static str| {
        bundle
            .get_object("section")
            .and_then(|s| s.get_str(name))
            .map(str::to_owned)
            .ok_or(PeerFileError::Malformed(section))
    };
    let contact_text = field("section A", a_bundle, "contact")?;
    let contact = PeerUri::parse(&contact_text).map_err(|_| PeerFileError::Malformed("contact"))?;
    cipher_suite(&field("section A", a_bundle, "algorithm")?)
        .ok_or(PeerFileError::UnknownAlgorithm)?;
    let salt64 = field("section A", a_bundle, "salt")?;
    let expected = secret_proof(secret.as_bytes(), contact.contact_id());
    if !hex_proof_matches(&expected, &field("section A", a_bundle, "secretProof")?) {
        return Err(PeerFileError::WrongSecret);
    }
    let decrypt = |phrase: PrivatePeerFilePhrase, name: &'static str| {
        let ciphertext = from_base64(&field("section B", b_bundle, name)?)
            .ok_or(PeerFileError::Malformed(name))?;
        let k = private_peer_file_key(secret.as_bytes(), phrase, &salt64);
        let iv = private_peer_file_iv(phrase, &salt64);
        Ok::<Zeroizing<Vec<u8>>, PeerFileError>(aes256_cfb128_decrypt(&k, &iv, &ciphertext))
    };
    let key = SigningKey::from_pkcs8_der(&decrypt(
        PrivatePeerFilePhrase::PrivateKey,
        "encryptedPrivateKey",
    )?)
    .map_err(|_| PeerFileError::Malformed("encryptedPrivateKey"))?;
    let peer_key = PeerKey {
        uri: &contact,
        key: key.public_key(),
    };
    for (section, rule) in [
        (a_bundle, PeerFileError::SignatureA),
        (b_bundle, PeerFileError::SignatureB),
    ] {
        verify_bundle(section, "section", &peer_key).map_err(|e| match e {
            SignatureError::UnknownKey => PeerFileError::ContactMismatch,
            SignatureError::UnknownAlgorithm => PeerFileError::UnknownAlgorithm,
            _ => rule.clone(),
        })?;
    }
    if decrypt(PrivatePeerFilePhrase::Contact, "encryptedContact")?.as_slice()
        != contact_text.as_bytes()
    {
        return Err(PeerFileError::ContactMismatch);
    }
    let public_text = decrypt(PrivatePeerFilePhrase::Peer, "encryptedPeer")?;
    let public_document = std::str::from_utf8(&public_text)
        .ok()
        .and_then(|text| parse(text).ok())
        .ok_or(PeerFileError::Malformed("encryptedPeer"))?;
    let public = PublicPeerFile::validate(&public_document, now, None)?;
    if *public.contact() != contact || public.key() != key.public_key() {
        return Err(PeerFileError::ContactMismatch);
    }
    let data_text = decrypt(PrivatePeerFilePhrase::Data, "encryptedPrivateData")?;
    let private_data = std::str::from_utf8(&data_text)
        .ok()
        .and_then(|text| parse(text).ok())
        .ok_or(PeerFileError::Malformed("encryptedPrivateData"))?;
    Ok(DecryptedPeerFile {
        key,
        public,
        private_data,
    })
}

/// A document as JSON text; an empty one is `{}` (the C++ writes an empty document for no data).
fn render_document(document: &Object) -> String {
    if document.is_empty() {
        "{}".to_owned()
    } else {
        render_object(document)
    }
}
