//! The rolodex (spec §6.9) against a real gateway, on SQLite and PostgreSQL: a local account
//! edits its contacts; its login gets a `serverToken` from the identity service, exchanges it
//! for a rolodex access token and reads its contacts, then only what changed since its
//! version; every refusal (another identity's or an unknown server token, forged or replayed
//! proofs, a wrong password, too many contacts) changes nothing.

mod support;

use std::net::SocketAddr;

use openpeer_gateway::app::RunningGateway;

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::message::{Message, Method};
use openpeer_protocol::proof::{Purpose, rolodex_access_proof};
use openpeer_protocol::random::nonce;
use rand_core::OsRng;
use support::identity::{Login, create_account, proof, protocol};
use support::lockbox::login;
use support::{TestDb, call, error_code, ok_body, post, start, stop, unix_now};

crate::on_both_backends!(contacts_are_read_by_version, refusals_change_nothing);

const PASSWORD: &str = "correct horse";
const METHOD_PATH: &str = "/openpeer/rolodex/rolodex-access";
const CONTACTS: &str = "/identity/v1/local/contacts";

/// A rolodex session: the server token and the access token.
struct Rolodex {
    server_token: String,
    token: String,
    secret: String,
}

async fn gateway(db: &TestDb, extra: &str) -> (RunningGateway, SocketAddr) {
    for user in ["alice", "bob"] {
        create_account(db, user, PASSWORD).await;
    }
    let node = start(db.settings(extra)).await;
    let addr = node.local_addr();
    (node, addr)
}

async fn call_method(addr: SocketAddr, method: Method, body: Object) -> Message {
    call(addr, METHOD_PATH, &protocol(method, body)).await
}

/// Edits `username`'s contacts; the answer's body text.
async fn edit(addr: SocketAddr, username: &str, password: &str, body: &str) -> String {
    let request = format!(r#"{{"username":"{username}","password":"{password}",{body}}}"#);
    post(addr, CONTACTS, &request).await.text()
}

async fn server_token(addr: SocketAddr, login: &Login) -> String {
    let (identity, n) = proof(login, Purpose::RolodexCredentialsGet, unix_now() + 300);
    let body = Object::new().with("nonce", n).with("identity", identity);
    let answer = call_method(addr, Method::IdentityAccessRolodexCredentialsGet, body).await;
    ok_body(&answer)
        .get_object("rolodex")
        .and_then(|r| r.get_str("serverToken"))
        .expect("serverToken")
        .to_owned()
}

fn access_body(login: &Login, purpose: Purpose, server_token: &str) -> Object {
    let (identity, n) = proof(login, purpose, unix_now() + 300);
    Object::new()
        .with("nonce", n)
        .with("identity", identity)
        .with("rolodex", Object::new().with("serverToken", server_token))
}

async fn open(addr: SocketAddr, login: &Login) -> Rolodex {
    let server_token = server_token(addr, login).await;
    let answer = call_method(
        addr,
        Method::RolodexAccess,
        access_body(login, Purpose::RolodexAccess, &server_token),
    )
    .await;
    let rolodex = ok_body(&answer).get_object("rolodex").expect("rolodex");
    let update_next = rolodex.get_u64("updateNext").expect("updateNext");
    assert!(
        update_next.abs_diff(unix_now() + 3600) < 10,
        "{update_next}"
    );
    let expires = rolodex.get_u64("accessSecretExpires").expect("expires");
    assert!(expires.abs_diff(unix_now() + 86_400) < 10, "{expires}");
    let text = |k| {
        rolodex
            .get_str(k)
            .unwrap_or_else(|| panic!("{k}"))
            .to_owned()
    };
    Rolodex {
        server_token,
        token: text("accessToken"),
        secret: text("accessSecret"),
    }
}

fn contacts_body(rolodex: &Rolodex, version: Option<&str>) -> Object {
    let n = nonce(&mut OsRng);
    let expires = unix_now() + 300;
    let proof = rolodex_access_proof(
        &rolodex.secret,
        &n,
        expires,
        &rolodex.token,
        Purpose::RolodexContactsGet,
    );
    let mut element = Object::new()
        .with("serverToken", rolodex.server_token.as_str())
        .with("accessToken", rolodex.token.as_str())
        .with("accessSecretProof", proof)
        .with("accessSecretProofExpires", expires);
    if let Some(version) = version {
        element.insert("version", version);
    }
    Object::new().with("nonce", n).with("rolodex", element)
}

/// `rolodex-contacts-get`: (version, identities rendered canonically).
async fn contacts(addr: SocketAddr, rolodex: &Rolodex, version: Option<&str>) -> (String, String) {
    let answer = call_method(
        addr,
        Method::RolodexContactsGet,
        contacts_body(rolodex, version),
    )
    .await;
    let body = ok_body(&answer);
    let version = body
        .get_object("rolodex")
        .and_then(|r| r.get_str("version"))
        .expect("version")
        .to_owned();
    let identities: Vec<Value> = body
        .get_object("identities")
        .map(|i| i.get_list("identity").to_vec())
        .unwrap_or_default();
    (
        version,
        render_object(&Object::new().with("identity", Value::Array(identities))),
    )
}

fn expected(items: &[&str]) -> String {
    let list = items
        .iter()
        .map(|i| Value::Object(parse(i).unwrap()))
        .collect();
    render_object(&Object::new().with("identity", Value::Array(list)))
}

const BOB: &str = r#"{"$disposition":"update","uri":"identity://localhost/bob","provider":"local","name":"Bob","profile":"https://example.org/bob","avatars":{"avatar":{"url":"https://example.org/bob.png"}}}"#;
const CAROL: &str =
    r#"{"$disposition":"update","uri":"identity://github.com/42","provider":"github"}"#;
const CAROL_REMOVED: &str =
    r#"{"$disposition":"remove","uri":"identity://github.com/42","provider":"github"}"#;

async fn contacts_are_read_by_version(db: TestDb) {
    let (node, addr) = gateway(&db, "").await;
    let answer = edit(
        addr,
        "alice",
        PASSWORD,
        r#""set":{"contact":[{"uri":"identity://localhost/bob","provider":"local","name":"Bob","profile":"https://example.org/bob","avatar":"https://example.org/bob.png"},{"uri":"identity://github.com/42","provider":"github"}]}"#,
    )
    .await;
    assert_eq!(answer, r#"{"version":1}"#);
    let alice = login(addr, "alice", PASSWORD).await;
    let rolodex = open(addr, &alice).await;
    assert_eq!(
        contacts(addr, &rolodex, None).await,
        ("1".to_owned(), expected(&[CAROL, BOB]))
    );
    // Up to date: nothing changed since version 1.
    assert_eq!(
        contacts(addr, &rolodex, Some("1")).await,
        ("1".to_owned(), expected(&[]))
    );
    let answer = edit(
        addr,
        "alice",
        PASSWORD,
        r#""remove":{"uri":"identity://github.com/42"}"#,
    )
    .await;
    assert_eq!(answer, r#"{"version":2}"#);
    assert_eq!(
        contacts(addr, &rolodex, Some("1")).await,
        ("2".to_owned(), expected(&[CAROL_REMOVED]))
    );
    assert_eq!(
        contacts(addr, &rolodex, None).await,
        ("2".to_owned(), expected(&[BOB]))
    );
    // Bob has no contacts: an empty list, not an error.
    let bob = login(addr, "bob", PASSWORD).await;
    let bobs = open(addr, &bob).await;
    assert_eq!(
        contacts(addr, &bobs, None).await,
        ("0".to_owned(), expected(&[]))
    );
    // C14 proves rolodex-access with the lockbox-access purpose: accepted too.
    let server_token = server_token(addr, &alice).await;
    let answer = call_method(
        addr,
        Method::RolodexAccess,
        access_body(&alice, Purpose::LockboxAccess, &server_token),
    )
    .await;
    assert!(ok_body(&answer).get_object("rolodex").is_some());
    stop(node).await;
}

async fn refusals_change_nothing(db: TestDb) {
    let (node, addr) = gateway(&db, "[rolodex]\nmax_contacts = 1\n").await;
    let alice = login(addr, "alice", PASSWORD).await;
    let bob = login(addr, "bob", PASSWORD).await;
    let bobs_token = server_token(addr, &bob).await;
    let tokens = db.count("service_tokens").await;

    // Another identity's server token: 403; an unknown one: 424 (get a new one).
    for (token, code) in [(bobs_token.as_str(), 403), ("no-such-token", 424)] {
        let answer = call_method(
            addr,
            Method::RolodexAccess,
            access_body(&alice, Purpose::RolodexAccess, token),
        )
        .await;
        assert_eq!(error_code(&answer), code, "{token}");
    }
    assert_eq!(db.count("service_tokens").await, tokens);

    let rolodex = open(addr, &alice).await;
    // A forged proof, and a replayed request.
    let mut forged = contacts_body(&rolodex, None);
    let mut element = forged.get_object("rolodex").unwrap().clone();
    element.insert("accessSecretProof", "00".repeat(20));
    forged.insert("rolodex", element);
    let answer = call_method(addr, Method::RolodexContactsGet, forged).await;
    assert_eq!(error_code(&answer), 403);
    let body = contacts_body(&rolodex, None);
    let first = call_method(addr, Method::RolodexContactsGet, body.clone()).await;
    assert!(ok_body(&first).get_object("rolodex").is_some());
    let replayed = call_method(addr, Method::RolodexContactsGet, body).await;
    assert_eq!(error_code(&replayed), 403);

    // Edits: a wrong password and more contacts than allowed change nothing.
    let two = r#""set":{"contact":[{"uri":"identity://localhost/bob"},{"uri":"identity://localhost/carol"}]}"#;
    let refused = edit(addr, "alice", "wrong", two).await;
    assert!(refused.contains(r#""$id":403"#), "{refused}");
    let refused = edit(addr, "alice", PASSWORD, two).await;
    assert!(refused.contains(r#""$id":409"#), "{refused}");
    let refused = edit(
        addr,
        "alice",
        PASSWORD,
        r#""set":{"contact":{"uri":"not a uri"}}"#,
    )
    .await;
    assert!(refused.contains(r#""$id":400"#), "{refused}");
    assert_eq!(db.count("rolodex_contacts").await, 0);
    stop(node).await;
}
