//! Identity-service helpers shared by the local-account tests (`tests/identity.rs`) and the
//! provider-login tests (`tests/identity_oidc.rs`): the `identity-access-complete` document, access
//! proofs, protocol requests of domain `localhost`, peers on a salt the gateway signed, contact
//! proofs, lookup bodies, and the third party's check of a lookup answer.

use std::net::SocketAddr;

use openpeer_gateway::identity::local;
use openpeer_gateway::store::Store;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::peer_file::{PeerFileOptions, PublicPeerFile};
use openpeer_protocol::proof::{Purpose, identity_access_proof};
use openpeer_protocol::random::nonce;
use openpeer_protocol::signature::{
    KeyReference, PeerKey, SignatureSuite, SigningKey, sign_bundle, verify_bundle,
};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;

use super::{
    CERTIFICATES_GET, SIGNED_SALT_GET, TestDb, call, ok_body, request, request_for, unix_now,
};

/// Path of `identity-lookup-update`.
pub const LOOKUP_UPDATE: &str = "/openpeer/identity/identity-lookup-update";
/// Path of `identity-access-validate`.
pub const ACCESS_VALIDATE: &str = "/openpeer/identity/identity-access-validate";
/// Path of `identity-lookup`.
pub const LOOKUP: &str = "/openpeer/identity-lookup/identity-lookup";
/// Path of `identity-lookup-check`.
pub const LOOKUP_CHECK: &str = "/openpeer/identity-lookup/identity-lookup-check";

/// An `identity-access-complete` identity element.
#[derive(Clone, Debug)]
pub struct Login {
    /// `accessToken`.
    pub token: String,
    /// `accessSecret`.
    pub secret: String,
    /// `uri`.
    pub uri: String,
    /// `provider`.
    pub provider: String,
    /// `reloginKey`.
    pub relogin_key: String,
}

/// Creates local account `username` in `db` (migrating it first), as the CLI does.
pub async fn create_account(db: &TestDb, username: &str, password: &str) {
    create_account_of(db, "localhost", username, password).await;
}

/// Creates local account `username` of domain `domain` in `db`.
pub async fn create_account_of(db: &TestDb, domain: &str, username: &str, password: &str) {
    let store = Store::connect(&db.settings("").database)
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    local::create_account(&store, domain, username, password, unix_now())
        .await
        .expect("account");
    store.close().await.expect("close");
}

/// The identity element of an `identity-access-complete` notify (panics on anything else, and
/// unless `accessSecretExpires` is a day from now, the default lifetime).
pub fn login_of(message: &Message) -> Login {
    assert_eq!(message.envelope.kind, MessageKind::Notify, "{message:?}");
    assert_eq!(
        message.envelope.method.as_deref(),
        Some("identity-access-complete")
    );
    let identity = message.body.get_object("identity").expect("identity");
    let text = |k| {
        identity
            .get_str(k)
            .unwrap_or_else(|| panic!("{k}"))
            .to_owned()
    };
    let expires = identity
        .get_u64("accessSecretExpires")
        .expect("accessSecretExpires");
    assert!(
        expires.abs_diff(unix_now() + 86_400) < 10,
        "accessSecretExpires {expires}"
    );
    Login {
        token: text("accessToken"),
        secret: text("accessSecret"),
        uri: text("uri"),
        provider: text("provider"),
        relogin_key: text("reloginKey"),
    }
}

/// An `identity` element proving `login` for `purpose`, with the nonce it used.
pub fn proof(login: &Login, purpose: Purpose, expires: u64) -> (Object, String) {
    let n = nonce(&mut OsRng);
    let proof = identity_access_proof(
        &login.secret,
        &login.uri,
        &n,
        expires,
        &login.token,
        purpose,
    );
    let identity = Object::new()
        .with("uri", login.uri.as_str())
        .with("provider", login.provider.as_str())
        .with("accessToken", login.token.as_str())
        .with("accessSecretProof", proof)
        .with("accessSecretProofExpires", expires);
    (identity, n)
}

/// A request document of domain `localhost` for `method` with `body`.
pub fn protocol(method: Method, body: Object) -> String {
    protocol_for("localhost", method, body)
}

/// A request document of `domain` for `method` with `body`.
pub fn protocol_for(domain: &str, method: Method, body: Object) -> String {
    let envelope = Envelope {
        domain: Some(domain.into()),
        id: Some("t-1".into()),
        timestamp: Some(unix_now()),
        ..Envelope::new(MessageKind::Request, method)
    };
    message::encode(&Message::new(envelope, body))
}

/// An `identity-access-validate` request: `identity` proven with nonce `n` for `purpose`.
pub fn access_validate(identity: Object, n: String, purpose: &str) -> String {
    protocol(
        Method::IdentityAccessValidate,
        Object::new()
            .with("clientNonce", n)
            .with("purpose", purpose)
            .with("identity", identity),
    )
}

/// A findable public peer file of `key` on `salt` (a `saltBundle`), valid for a day.
pub fn findable_file(key: &SigningKey, salt: &Object) -> PublicPeerFile {
    let now = unix_now();
    let options = PeerFileOptions {
        salt_bundle: salt,
        created: now,
        expires: now + 86_400,
        findable: true,
    };
    PublicPeerFile::generate(key, &options, &mut OsRng).expect("a peer file")
}

/// A peer of this domain: its key and public peer file, on a salt the server signed.
pub async fn peer(addr: SocketAddr) -> (SigningKey, PublicPeerFile) {
    peer_of(addr, "localhost").await
}

/// A peer of `domain`, served at `addr`.
pub async fn peer_of(addr: SocketAddr, domain: &str) -> (SigningKey, PublicPeerFile) {
    let salts = call(
        addr,
        SIGNED_SALT_GET,
        &request_for(domain, "peer-salt", "signed-salt-get", ""),
    )
    .await;
    let salt = ok_body(&salts)
        .get_object("salts")
        .unwrap()
        .get_list("saltBundle")[0]
        .as_object()
        .unwrap()
        .clone();
    let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng).unwrap();
    let now = unix_now();
    let options = PeerFileOptions {
        salt_bundle: &salt,
        created: now,
        expires: now + 86_400 * 30,
        findable: true,
    };
    let file = PublicPeerFile::generate(&key, &options, &mut OsRng).unwrap();
    (key, file)
}

/// A `contactProofBundle` signed by `key` for the peer of `file`, `identity_uri` and `stable_id`.
pub fn contact_proof(
    key: &SigningKey,
    file: &PublicPeerFile,
    identity_uri: &str,
    stable_id: &str,
) -> Object {
    let now = unix_now();
    let proof = Object::new()
        .with("stableID", stable_id)
        .with("contact", file.contact().to_string())
        .with("uri", identity_uri)
        .with("created", now)
        .with("expires", now + 86_400 * 365);
    sign_bundle(
        "contactProof",
        proof,
        key,
        &KeyReference::Uri(file.contact().clone()),
        &mut OsRng,
    )
}

/// A contact proof for the peer of `file` that claims to be signed by it but is signed by
/// `other_key`.
pub fn forged_contact_proof(
    other_key: &SigningKey,
    file: &PublicPeerFile,
    identity_uri: &str,
    stable_id: &str,
) -> Object {
    let mut bundle = contact_proof(other_key, file, identity_uri, stable_id);
    let key = KeyReference::Uri(file.contact().clone()).to_object();
    let mut signature = bundle
        .remove("signature")
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    signature.insert("key", key);
    bundle.insert("signature", signature);
    bundle
}

/// The body of an `identity-lookup-update` binding `file` (stable id `stable-1`) to `login`.
pub fn lookup_update_body(login: &Login, key: &SigningKey, file: &PublicPeerFile) -> Object {
    let (identity, n) = proof(login, Purpose::IdentityLookupUpdate, unix_now() + 3600);
    let identity = identity
        .with("stableID", "stable-1")
        .with("peer", file.document().get("peer").unwrap().clone())
        .with("priority", 1u32)
        .with("weight", 10u32)
        .with(
            "contactProofBundle",
            contact_proof(key, file, &login.uri, "stable-1"),
        );
    Object::new().with("nonce", n).with("identity", identity)
}

/// A lookup body naming `identities` (comma-separated) of `identity://localhost/`.
pub fn lookup_body(identities: &str) -> Object {
    lookup_body_at("identity://localhost/", identities)
}

/// A lookup body naming `identities` (comma-separated) under `base`.
pub fn lookup_body_at(base: &str, identities: &str) -> Object {
    Object::new().with(
        "providers",
        Object::new().with(
            "provider",
            Object::new()
                .with("base", base)
                .with("separator", ",")
                .with("identities", identities),
        ),
    )
}

/// The `identities.identity` elements of a lookup answer.
pub fn identities(message: &Message) -> Vec<Object> {
    ok_body(message)
        .get_object("identities")
        .map(|i| {
            i.get_list("identity")
                .iter()
                .map(|v| v.as_object().unwrap().clone())
                .collect()
        })
        .unwrap_or_default()
}

/// What a third party learns from one `identity-lookup` entry, checked with nothing but the
/// gateway's `certificates-get` (domain `localhost`): the peer file (salt verified), and the
/// contact proof inside the `identityProofBundle` (which must be signed by the identity
/// certificate), verified with that peer file's key.
pub async fn verify_lookup_entry(addr: SocketAddr, entry: &Object) -> (PublicPeerFile, Object) {
    let certificates = call(
        addr,
        CERTIFICATES_GET,
        &request("certificates", "certificates-get", ""),
    )
    .await;
    let domain = DomainName::parse("localhost").unwrap();
    let set =
        CertificateSet::from_certificates_get(&domain, ok_body(&certificates), unix_now()).unwrap();
    let peer_document = Object::new().with("peer", entry.get("peer").expect("peer").clone());
    let peer_file = PublicPeerFile::validate(&peer_document, unix_now(), Some(&set))
        .expect("the peer file validates with certificates-get");
    assert!(peer_file.salt_verified());
    let proof_bundle = entry
        .get_object("identityProofBundle")
        .expect("identityProofBundle");
    let identity_proof = verify_bundle(proof_bundle, "identityProof", &set.of_service("identity"))
        .expect("identity proof verifies under an identity certificate");
    let contact_bundle = identity_proof
        .get()
        .get_object("contactProofBundle")
        .expect("contactProofBundle");
    let contact = verify_bundle(
        contact_bundle,
        "contactProof",
        &PeerKey {
            uri: peer_file.contact(),
            key: peer_file.key(),
        },
    )
    .expect("contact proof verifies with the peer file's key");
    let contact: Object = (*contact.get()).clone();
    (peer_file, contact)
}
