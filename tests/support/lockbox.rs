//! A lockbox client for the tests: log in, `lockbox-access`, proofs of a lockbox token, and
//! `lockbox-content-get`/`-set` bodies (spec §6.7), over the real HTTP endpoints.

use std::net::SocketAddr;

use openpeer_protocol::derivation::lockbox_hash;
use openpeer_protocol::json::Object;
use openpeer_protocol::lockbox::{NamespaceContent, namespaces_element, namespaces_of};
use openpeer_protocol::message::{Message, Method};
use openpeer_protocol::proof::{Purpose, lockbox_access_proof};
use openpeer_protocol::random::nonce;
use rand_core::OsRng;

use super::identity::{Login, login_of, proof, protocol};
use super::{call, ok_body, post, unix_now};

/// Where the lockbox methods are served (any method URI reaches the dispatcher).
pub const LOCKBOX: &str = "/openpeer/identity-lockbox/lockbox-access";
/// Where `peer-services-get` is served.
pub const PEER_SERVICES: &str = "/openpeer/peer/peer-services-get";
/// The namespace grant JSON form.
pub const GRANT: &str = "/namespace-grant/v1/grant";

/// What `lockbox-access` handed out.
#[derive(Clone, Debug)]
pub struct Lockbox {
    /// `lockbox.$id`.
    pub account_id: String,
    /// `accessToken`.
    pub token: String,
    /// `accessSecret`.
    pub secret: String,
}

/// Logs local account `username` in (`POST /identity/v1/local/login`).
pub async fn login(addr: SocketAddr, username: &str, password: &str) -> Login {
    let body = format!(r#"{{"username":"{username}","password":"{password}"}}"#);
    login_of(
        &post(addr, "/identity/v1/local/login", &body)
            .await
            .message(),
    )
}

/// A `lockbox-access` request body for `login` with lockbox key `key`.
pub fn access_body(
    login: &Login,
    key: &[u8],
    reset: bool,
    grant_id: Option<&str>,
    namespaces: &[&str],
) -> Object {
    let (identity, n) = proof(login, Purpose::LockboxAccess, unix_now() + 300);
    let mut lockbox = Object::new()
        .with("domain", "localhost")
        .with("hash", lockbox_hash(key));
    if reset {
        lockbox.insert("reset", true);
    }
    let mut body = Object::new()
        .with("nonce", n)
        .with("identity", identity)
        .with("lockbox", lockbox);
    if let Some(grant) = grant_id {
        body.insert("grant", Object::new().with("$id", grant));
    }
    if !namespaces.is_empty() {
        body.insert("namespaces", namespaces_of(namespaces));
    }
    body
}

/// Calls `method` with `body` at the gateway.
pub async fn call_method(addr: SocketAddr, method: Method, body: Object) -> Message {
    call(addr, LOCKBOX, &protocol(method, body)).await
}

/// `lockbox-access` that must succeed: the lockbox handed out.
pub async fn access(addr: SocketAddr, login: &Login, key: &[u8], reset: bool) -> Lockbox {
    let answer = call_method(
        addr,
        Method::LockboxAccess,
        access_body(login, key, reset, None, &[]),
    )
    .await;
    lockbox_of(ok_body(&answer))
}

/// The `lockbox` element of a `lockbox-access` result.
pub fn lockbox_of(body: &Object) -> Lockbox {
    let lockbox = body.get_object("lockbox").expect("lockbox");
    let text = |k| {
        lockbox
            .get_str(k)
            .unwrap_or_else(|| panic!("{k}"))
            .to_owned()
    };
    Lockbox {
        account_id: text("$id"),
        token: text("accessToken"),
        secret: text("accessSecret"),
    }
}

/// A `lockbox` element proving `lockbox` for `purpose`, with its nonce.
pub fn lockbox_proof(lockbox: &Lockbox, purpose: Purpose, expires: u64) -> (Object, String) {
    let n = nonce(&mut OsRng);
    let proof = lockbox_access_proof(&lockbox.secret, &n, expires, &lockbox.token, purpose);
    let element = Object::new()
        .with("accessToken", lockbox.token.as_str())
        .with("accessSecretProof", proof)
        .with("accessSecretProofExpires", expires);
    (element, n)
}

/// A body proven by `lockbox` for `purpose` (5 minutes), with `members` added.
pub fn proven_body(lockbox: &Lockbox, purpose: Purpose, members: Object) -> Object {
    let (element, n) = lockbox_proof(lockbox, purpose, unix_now() + 300);
    let mut body = Object::new().with("nonce", n).with("lockbox", element);
    for (k, v) in members.iter() {
        body.insert(k, v.clone());
    }
    body
}

/// A `lockbox-content-set` body writing `contents`.
pub fn content_set_body(lockbox: &Lockbox, contents: &[NamespaceContent]) -> Object {
    proven_body(
        lockbox,
        Purpose::LockboxContentSet,
        Object::new().with("namespaces", namespaces_element(contents)),
    )
}

/// A `lockbox-content-get` body reading `namespaces`.
pub fn content_get_body(lockbox: &Lockbox, namespaces: &[&str]) -> Object {
    proven_body(
        lockbox,
        Purpose::LockboxContentGet,
        Object::new().with("namespaces", namespaces_of(namespaces)),
    )
}

/// One namespace's values, for `content_set_body`.
pub fn namespace(id: &str, values: &[(&str, &str)]) -> NamespaceContent {
    NamespaceContent {
        id: id.to_owned(),
        updated: None,
        values: values
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    }
}
