//! The lockbox (`identity-lockbox`, spec §5 and §6.7), the namespace grant service (§6.8) and
//! `peer-services-get` (§6.10) against a real gateway, on SQLite and PostgreSQL. It proves:
//!
//! * `lockbox-access` hands out exactly the documented lockbox element and the attached
//!   identities, and stores only the key's SHA-1, never the key;
//! * content is client ciphertext read back byte for byte, merged, deleted with `"-"`, and the
//!   size and count limits refuse a whole write (413/409) without writing any of it;
//! * every refusal of §5 (forged, expired, replayed, another identity's, wrong purpose) and an
//!   unknown method leave the lockbox tables as they were;
//! * two devices of one identity share one account; a reset with a new key keeps the account,
//!   wipes its values and asks the other identities to update;
//! * removing the last identity deletes the account with its values;
//! * a namespace outside the well-known ones needs a signed, single-use, untampered grant, and
//!   the grant service signs only namespaces of its own domain;
//! * no table of the database holds the plaintext, the lockbox key or an access secret;
//! * `peer-services-get` and `identity-access-lockbox-update` answer exactly (`services-get`
//!   is checked in `tests/server.rs`).

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use openpeer_gateway::app::RunningGateway;
use openpeer_protocol::canonical::render_object;
use openpeer_protocol::derivation::lockbox_hash;
use openpeer_protocol::encoding::{to_base64, to_hex};
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::lockbox::{
    IDENTITY_RELOGINS_NAMESPACE, PRIVATE_PEER_FILE_NAMESPACE, PRIVATE_PEER_FILE_SECRET_VALUE,
    PRIVATE_PEER_FILE_VALUE, ROLODEX_CONTACTS_NAMESPACE, WELL_KNOWN_NAMESPACES, namespaces_element,
    namespaces_of, open_value, seal_value,
};
use openpeer_protocol::message::{Message, MessageKind, Method};
use openpeer_protocol::proof::{Purpose, identity_access_proof};
use openpeer_protocol::turn::turn_rest_password;
use rand_core::{OsRng, RngCore as _};
use sea_orm::{ConnectionTrait as _, Database, Statement};
use support::identity::{Login, create_account, proof, protocol};
use support::lockbox::{
    GRANT, LOCKBOX, Lockbox, PEER_SERVICES, access, access_body, call_method, content_get_body,
    content_set_body, lockbox_of, lockbox_proof, login, namespace, proven_body,
};
use support::{
    Backend, Response, TestDb, call, error_code, ok_body, post, request, start, stop, unix_now,
};

crate::on_both_backends!(
    access_result_has_the_documented_shape,
    content_round_trips_merges_deletes_and_keeps_its_limits,
    refusals_leave_the_lockbox_untouched,
    two_devices_share_an_account_and_a_reset_wipes_it,
    removing_the_last_identity_deletes_the_account,
    attaching_another_accounts_identity_leaves_no_orphan,
    namespaces_beyond_the_well_known_need_a_signed_grant,
    no_table_holds_plaintext_keys_or_secrets,
    peer_services_hand_out_turn_rest_credentials,
    the_identity_keeps_the_encrypted_lockbox_key,
);

const PASSWORD: &str = "correct horse battery";
const PRIVATE: &str = PRIVATE_PEER_FILE_NAMESPACE;
const APP_DATA: &str = "https://localhost/app-data";
/// The tables a refused request must leave alone.
const LOCKBOX_TABLES: [&str; 4] = [
    "lockbox_accounts",
    "lockbox_identities",
    "lockbox_values",
    "service_tokens",
];

// ---------------------------------------------------------------------------------------------
// Shared steps

/// A gateway over `db` configured with `extra_toml`, after creating local accounts `users`.
async fn gateway(db: &TestDb, extra_toml: &str, users: &[&str]) -> (RunningGateway, SocketAddr) {
    for user in users {
        create_account(db, user, PASSWORD).await;
    }
    let node = start(db.settings(extra_toml)).await;
    let addr = node.local_addr();
    (node, addr)
}

/// A local login of `user`.
async fn log_in(addr: SocketAddr, user: &str) -> Login {
    login(addr, user, PASSWORD).await
}

/// A fresh 32-byte lockbox key, as C14 clients make it.
fn new_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    key
}

/// `plaintext` sealed under `key` for `namespace`/`name`: what a client stores.
fn seal(key: &[u8], namespace: &str, name: &str, plaintext: &str) -> String {
    seal_value(key, namespace, name, plaintext.as_bytes(), &mut OsRng)
}

/// `lockbox-content-set` of `values` into `namespace`: the answer.
async fn set(addr: SocketAddr, lockbox: &Lockbox, ns: &str, values: &[(&str, &str)]) -> Message {
    let body = content_set_body(lockbox, &[namespace(ns, values)]);
    call_method(addr, Method::LockboxContentSet, body).await
}

/// `lockbox-content-set` that must succeed with an empty result.
async fn set_ok(addr: SocketAddr, lockbox: &Lockbox, ns: &str, values: &[(&str, &str)]) {
    assert_eq!(
        ok_body(&set(addr, lockbox, ns, values).await),
        &Object::new()
    );
}

/// `lockbox-content-get` of `namespaces`: the namespace elements of the result.
async fn get(addr: SocketAddr, lockbox: &Lockbox, namespaces: &[&str]) -> Vec<Object> {
    let body = content_get_body(lockbox, namespaces);
    let answer = call_method(addr, Method::LockboxContentGet, body).await;
    children(
        ok_body(&answer)
            .get_object("namespaces")
            .expect("namespaces"),
        "namespace",
    )
}

/// The single namespace `ns` read back: its `$updated` and its values.
async fn get_one(
    addr: SocketAddr,
    lockbox: &Lockbox,
    ns: &str,
) -> (Option<u64>, BTreeMap<String, String>) {
    let namespaces = get(addr, lockbox, &[ns]).await;
    assert_eq!(namespaces.len(), 1, "{namespaces:?}");
    let found = &namespaces[0];
    assert_eq!(found.get_str("$id"), Some(ns));
    (found.get_u64("$updated"), values_of(found))
}

/// The children `name` of `parent`, as objects.
fn children(parent: &Object, name: &str) -> Vec<Object> {
    parent
        .get_list(name)
        .iter()
        .map(|v| v.as_object().unwrap_or_else(|| panic!("{name}")).clone())
        .collect()
}

/// The values of a namespace element by name (its `$` attributes left out).
fn values_of(namespace: &Object) -> BTreeMap<String, String> {
    namespace
        .iter()
        .filter(|(name, _)| !name.starts_with('$'))
        .map(|(name, v)| (name.to_owned(), v.as_text().expect("text value").to_owned()))
        .collect()
}

/// `pairs` as a map, to compare with [`values_of`].
fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The member names of `object`, sorted.
fn keys(object: &Object) -> Vec<&str> {
    let mut keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    keys
}

/// Each object rendered canonically (members sorted), to compare objects whatever the order
/// of their members: documents on the wire are canonical, objects built here are not.
fn rendered(objects: &[Object]) -> Vec<String> {
    objects.iter().map(render_object).collect()
}

/// The `identities.identity` elements of a result.
fn identities_of(body: &Object) -> Vec<Object> {
    children(
        body.get_object("identities").expect("identities"),
        "identity",
    )
}

/// An attached identity as results list it.
fn attached(login: &Login, needs_update: bool) -> Object {
    let mut identity = Object::new();
    if needs_update {
        identity.insert("$disposition", "update");
    }
    identity
        .with("uri", login.uri.as_str())
        .with("provider", login.provider.as_str())
}

/// An `identity` element proving `login` for `purpose` with the request's own `nonce`.
fn identity_proof_with(login: &Login, purpose: Purpose, nonce: &str) -> Object {
    let expires = unix_now() + 300;
    let proof = identity_access_proof(
        &login.secret,
        &login.uri,
        nonce,
        expires,
        &login.token,
        purpose,
    );
    Object::new()
        .with("$disposition", "update")
        .with("uri", login.uri.as_str())
        .with("provider", login.provider.as_str())
        .with("accessToken", login.token.as_str())
        .with("accessSecretProof", proof)
        .with("accessSecretProofExpires", expires)
}

/// A `lockbox-identities-update` body: attach `attach` (with their proofs), detach `remove`.
fn identities_update_body(lockbox: &Lockbox, attach: &[&Login], remove: &[&Login]) -> Object {
    let mut body = proven_body(lockbox, Purpose::LockboxIdentitiesUpdate, Object::new());
    let nonce = body.get_str("nonce").expect("nonce").to_owned();
    let attaching = attach
        .iter()
        .map(|l| identity_proof_with(l, Purpose::LockboxAccessUpdate, &nonce));
    let removing = remove.iter().map(|l| {
        Object::new()
            .with("$disposition", "remove")
            .with("uri", l.uri.as_str())
            .with("provider", l.provider.as_str())
    });
    let changes = attaching.chain(removing).map(Value::Object).collect();
    body.insert(
        "identities",
        Object::new().with("identity", Value::from_list(changes)),
    );
    body
}

/// Row counts of [`LOCKBOX_TABLES`].
async fn lockbox_counts(db: &TestDb) -> [i64; 4] {
    let mut counts = [0; 4];
    for (count, table) in counts.iter_mut().zip(LOCKBOX_TABLES) {
        *count = db.count(table).await;
    }
    counts
}

/// Sends `document` to `path`, asserts the refusal `code`, and that the lockbox tables did not
/// change.
async fn assert_refused_untouched(
    db: &TestDb,
    addr: SocketAddr,
    path: &str,
    document: &str,
    code: u16,
) {
    let before = lockbox_counts(db).await;
    let answer = call(addr, path, document).await;
    assert_eq!(error_code(&answer), code, "{:?}", answer.body);
    assert_eq!(lockbox_counts(db).await, before, "{LOCKBOX_TABLES:?}");
}

/// [`assert_refused_untouched`] for a lockbox `method` with `body`.
async fn assert_method_refused(
    db: &TestDb,
    addr: SocketAddr,
    method: Method,
    body: Object,
    code: u16,
) {
    assert_refused_untouched(db, addr, LOCKBOX, &protocol(method, body), code).await;
}

/// Every row of the result of `sql` (one text column), read over a connection of its own.
async fn texts(db: &TestDb, sql: &str) -> Vec<String> {
    let conn = Database::connect(db.url.as_str())
        .await
        .expect("second connection to the test database");
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let texts = rows
        .iter()
        .map(|row| {
            let text: Option<String> = row.try_get_by_index(0).expect("a text column");
            text.unwrap_or_default()
        })
        .collect();
    conn.close().await.expect("close");
    texts
}

/// Every table of the database, each row rendered as one text.
async fn every_row(db: &TestDb) -> Vec<(String, String)> {
    let tables =
        match db.backend {
            Backend::Sqlite => texts(
                db,
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'",
            )
            .await,
            Backend::Postgres => {
                texts(
                    db,
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                )
                .await
            }
        };
    assert!(tables.len() > 10, "tables: {tables:?}");
    let mut rows = Vec::new();
    for table in tables {
        let sql = match db.backend {
            // quote() renders every column as text: strings quoted, blobs as X'…', numbers.
            Backend::Sqlite => {
                let columns = texts(
                    db,
                    &format!("SELECT name FROM pragma_table_info('{table}')"),
                )
                .await;
                let rendered: Vec<String> =
                    columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
                format!("SELECT {} FROM \"{table}\"", rendered.join(" || ',' || "))
            }
            Backend::Postgres => format!("SELECT CAST(t AS TEXT) FROM \"{table}\" AS t"),
        };
        for row in texts(db, &sql).await {
            rows.push((table.clone(), row));
        }
    }
    rows
}

/// A `lockbox-access` with grant id `grant` asking for `namespaces`: the lockbox and the
/// namespace grant challenge of the result.
async fn access_with_grant(
    addr: SocketAddr,
    login: &Login,
    key: &[u8],
    grant: &str,
    namespaces: &[&str],
) -> (Lockbox, Object) {
    let body = access_body(login, key, false, Some(grant), namespaces);
    let answer = call_method(addr, Method::LockboxAccess, body).await;
    let result = ok_body(&answer);
    let challenge = result
        .get_object("namespaceGrantChallenge")
        .expect("namespaceGrantChallenge")
        .clone();
    (lockbox_of(result), challenge)
}

/// The grant form's answer to approving `challenge`.
async fn approve(addr: SocketAddr, challenge: &Object) -> Response {
    let body = Object::new().with(
        "namespaceGrantChallenges",
        Object::new().with("namespaceGrantChallenge", challenge.clone()),
    );
    post(addr, GRANT, &render_object(&body)).await
}

/// The signed bundle of an approved `challenge` (`namespace-grant-complete`).
async fn signed_bundle(addr: SocketAddr, challenge: &Object) -> Object {
    let complete = approve(addr, challenge).await.message();
    assert_eq!(complete.envelope.kind, MessageKind::Notify);
    assert_eq!(
        complete.envelope.method.as_deref(),
        Some("namespace-grant-complete")
    );
    complete
        .body
        .get_object("namespaceGrantChallengeBundles")
        .and_then(|b| b.get_object("namespaceGrantChallengeBundle"))
        .expect("namespaceGrantChallengeBundle")
        .clone()
}

/// `lockbox-namespace-grant-challenge-validate` presenting `bundle`: the answer.
async fn present(addr: SocketAddr, lockbox: &Lockbox, bundle: &Object) -> Message {
    let body = proven_body(
        lockbox,
        Purpose::LockboxNamespaceGrantChallengeValidate,
        Object::new().with("namespaceGrantChallengeBundle", bundle.clone()),
    );
    call_method(addr, Method::LockboxNamespaceGrantChallengeValidate, body).await
}

/// `challenge` with its namespaces replaced by `namespaces`.
fn with_namespaces(challenge: &Object, namespaces: &[&str]) -> Object {
    challenge
        .clone()
        .with("namespaces", namespaces_of(namespaces))
}

// ---------------------------------------------------------------------------------------------
// 1. lockbox-access

async fn access_result_has_the_documented_shape(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice"]).await;
    let alice = log_in(addr, "alice").await;
    let key = new_key();
    let body = access_body(&alice, &key, false, None, &WELL_KNOWN_NAMESPACES);
    let answer = call_method(addr, Method::LockboxAccess, body).await;
    let result = ok_body(&answer);
    assert_eq!(keys(result), ["identities", "lockbox"], "{result:?}");

    let lockbox = result.get_object("lockbox").unwrap();
    assert_eq!(
        keys(lockbox),
        [
            "$id",
            "accessSecret",
            "accessSecretExpires",
            "accessToken",
            "domain"
        ]
    );
    assert_eq!(lockbox.get_str("domain"), Some("localhost"));
    let expires = lockbox.get_u64("accessSecretExpires").unwrap();
    assert!(expires.abs_diff(unix_now() + 86_400) < 10, "{expires}");
    let issued = lockbox_of(result);
    assert!(!issued.account_id.is_empty() && !issued.token.is_empty());
    assert_ne!(issued.token, issued.secret);
    assert_eq!(
        rendered(&identities_of(result)),
        rendered(&[attached(&alice, false)])
    );

    assert_eq!(db.count("lockbox_accounts").await, 1);
    assert_eq!(db.count("lockbox_identities").await, 1);
    assert_eq!(
        texts(&db, "SELECT key_hash FROM lockbox_accounts").await,
        [lockbox_hash(&key)]
    );
    assert_eq!(
        texts(&db, "SELECT account_id FROM lockbox_accounts").await,
        [issued.account_id]
    );
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Content

async fn content_round_trips_merges_deletes_and_keeps_its_limits(db: TestDb) {
    let limits =
        "[lockbox]\nmax_value_bytes = 2048\nmax_names_per_namespace = 3\nmax_namespaces = 2\n";
    let (node, addr) = gateway(&db, limits, &["alice"]).await;
    let alice = log_in(addr, "alice").await;
    let key = new_key();
    let lockbox = access(addr, &alice, &key, false).await;

    // Two values, read back byte for byte, with the time they changed.
    let file = seal(
        &key,
        PRIVATE,
        PRIVATE_PEER_FILE_VALUE,
        r#"{"privatePeer":{}}"#,
    );
    let secret = seal(&key, PRIVATE, PRIVATE_PEER_FILE_SECRET_VALUE, "s3cret");
    let two = [
        (PRIVATE_PEER_FILE_VALUE, file.as_str()),
        (PRIVATE_PEER_FILE_SECRET_VALUE, secret.as_str()),
    ];
    set_ok(addr, &lockbox, PRIVATE, &two).await;
    let (updated, values) = get_one(addr, &lockbox, PRIVATE).await;
    assert!(updated.unwrap().abs_diff(unix_now()) < 10, "{updated:?}");
    assert_eq!(values, map(&two));
    let opened = open_value(
        &key,
        PRIVATE,
        PRIVATE_PEER_FILE_SECRET_VALUE,
        &values[PRIVATE_PEER_FILE_SECRET_VALUE],
    )
    .unwrap();
    assert_eq!(&opened[..], b"s3cret");

    // A later write of another name merges; "-" deletes a name.
    let extra = seal(&key, PRIVATE, "extra", "more");
    set_ok(addr, &lockbox, PRIVATE, &[("extra", &extra)]).await;
    let merged = [two[0], two[1], ("extra", extra.as_str())];
    assert_eq!(get_one(addr, &lockbox, PRIVATE).await.1, map(&merged));
    set_ok(
        addr,
        &lockbox,
        PRIVATE,
        &[(PRIVATE_PEER_FILE_SECRET_VALUE, "-")],
    )
    .await;
    let kept = [two[0], ("extra", extra.as_str())];
    assert_eq!(get_one(addr, &lockbox, PRIVATE).await.1, map(&kept));
    assert_eq!(db.count("lockbox_values").await, 2);

    // Plaintext is refused; so is a value over max_value_bytes; neither writes anything.
    let body = content_set_body(&lockbox, &[namespace(PRIVATE, &[("plain", "hello")])]);
    assert_method_refused(&db, addr, Method::LockboxContentSet, body, 400).await;
    let large = seal(&key, PRIVATE, "large", &"x".repeat(2048));
    let body = content_set_body(
        &lockbox,
        &[namespace(PRIVATE, &[("small", &extra), ("large", &large)])],
    );
    assert_method_refused(&db, addr, Method::LockboxContentSet, body, 413).await;

    // Two more names would make 4 > max_names_per_namespace (3): nothing of it is written.
    let body = content_set_body(
        &lockbox,
        &[namespace(PRIVATE, &[("n1", &extra), ("n2", &extra)])],
    );
    assert_method_refused(&db, addr, Method::LockboxContentSet, body, 409).await;
    assert_eq!(get_one(addr, &lockbox, PRIVATE).await.1, map(&kept));

    // A second namespace fits max_namespaces (2); a third does not.
    let relogin = seal(&key, IDENTITY_RELOGINS_NAMESPACE, "r", "relogin");
    set_ok(
        addr,
        &lockbox,
        IDENTITY_RELOGINS_NAMESPACE,
        &[("r", &relogin)],
    )
    .await;
    let contact = seal(&key, ROLODEX_CONTACTS_NAMESPACE, "c", "contacts");
    let body = content_set_body(
        &lockbox,
        &[namespace(ROLODEX_CONTACTS_NAMESPACE, &[("c", &contact)])],
    );
    assert_method_refused(&db, addr, Method::LockboxContentSet, body, 409).await;
    assert_eq!(db.count("lockbox_values").await, 3);
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// 3. Refusals of §5

async fn refusals_leave_the_lockbox_untouched(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice", "bob"]).await;
    let alice = log_in(addr, "alice").await;
    let bob = log_in(addr, "bob").await;
    let key = new_key();
    let lockbox = access(addr, &alice, &key, false).await;
    let value = seal(&key, PRIVATE, "v", "value");
    let contents = [namespace(PRIVATE, &[("v", &value)])];
    let set_method = Method::LockboxContentSet;

    // A proof made with a wrong secret.
    let forged = Lockbox {
        secret: "0".repeat(32),
        ..lockbox.clone()
    };
    let body = content_set_body(&forged, &contents);
    assert_method_refused(&db, addr, set_method, body, 403).await;

    // A proof that expired a minute ago.
    let (element, n) = lockbox_proof(&lockbox, Purpose::LockboxContentSet, unix_now() - 60);
    let body = Object::new()
        .with("nonce", n)
        .with("lockbox", element)
        .with("namespaces", namespaces_element(&contents));
    assert_method_refused(&db, addr, set_method, body, 401).await;

    // A proof made for another purpose.
    let body = proven_body(
        &lockbox,
        Purpose::LockboxContentGet,
        Object::new().with("namespaces", namespaces_element(&contents)),
    );
    assert_method_refused(&db, addr, set_method, body, 403).await;

    // Bob's access token presented for Alice's identity.
    let impostor = Login {
        uri: alice.uri.clone(),
        ..bob.clone()
    };
    let body = access_body(&impostor, &key, false, None, &[]);
    assert_method_refused(&db, addr, Method::LockboxAccess, body, 403).await;

    // A method the lockbox does not serve (G1 `lockbox-admin`). The envelope's method does not
    // parse, so the dispatcher refuses the request before any service sees it.
    let (element, n) = lockbox_proof(&lockbox, Purpose::LockboxAccess, unix_now() + 300);
    let members = format!("\"nonce\":{n:?},\"lockbox\":{}", render_object(&element));
    let document = request("identity-lockbox", "lockbox-admin", &members);
    assert_refused_untouched(&db, addr, LOCKBOX, &document, UNKNOWN_METHOD_CODE).await;

    // The same request twice: the second one replays its nonce.
    let document = protocol(set_method, content_set_body(&lockbox, &contents));
    assert_eq!(
        ok_body(&call(addr, LOCKBOX, &document).await),
        &Object::new()
    );
    assert_refused_untouched(&db, addr, LOCKBOX, &document, 403).await;
    assert_eq!(db.count("lockbox_values").await, 1);
    stop(node).await;
}

/// What the dispatcher answers for a method name it does not know (checked against the server).
const UNKNOWN_METHOD_CODE: u16 = 501;

// ---------------------------------------------------------------------------------------------
// 4. Devices and reset

async fn two_devices_share_an_account_and_a_reset_wipes_it(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice", "bob"]).await;
    let key = new_key();
    let device1 = access(addr, &log_in(addr, "alice").await, &key, false).await;
    let alice2 = log_in(addr, "alice").await;
    let device2 = access(addr, &alice2, &key, false).await;
    assert_eq!(device1.account_id, device2.account_id);
    assert_ne!(device1.token, device2.token);

    let file = seal(&key, PRIVATE, PRIVATE_PEER_FILE_VALUE, "peer file");
    set_ok(addr, &device1, PRIVATE, &[(PRIVATE_PEER_FILE_VALUE, &file)]).await;
    let (_, values) = get_one(addr, &device2, PRIVATE).await;
    assert_eq!(values, map(&[(PRIVATE_PEER_FILE_VALUE, &file)]));

    // Another key without a reset is refused.
    let other_key = new_key();
    let body = access_body(&alice2, &other_key, false, None, &[]);
    assert_method_refused(&db, addr, Method::LockboxAccess, body, 403).await;

    // Bob joins the account.
    let bob = log_in(addr, "bob").await;
    let body = identities_update_body(&device1, &[&bob], &[]);
    let answer = call_method(addr, Method::LockboxIdentitiesUpdate, body).await;
    let mut listed = identities_of(ok_body(&answer));
    listed.sort_by(|a, b| a.get_str("uri").cmp(&b.get_str("uri")));
    let alice = log_in(addr, "alice").await;
    assert_eq!(
        rendered(&listed),
        rendered(&[attached(&alice, false), attached(&bob, false)])
    );

    // A third device resets with a new key: same account, no values, Bob must update.
    let new = new_key();
    let answer = call_method(
        addr,
        Method::LockboxAccess,
        access_body(&alice, &new, true, None, &[]),
    )
    .await;
    let result = ok_body(&answer);
    let device3 = lockbox_of(result);
    assert_eq!(device3.account_id, device1.account_id);
    let mut listed = identities_of(result);
    listed.sort_by(|a, b| a.get_str("uri").cmp(&b.get_str("uri")));
    assert_eq!(
        rendered(&listed),
        rendered(&[attached(&alice, false), attached(&bob, true)])
    );
    assert_eq!(
        get(addr, &device3, &[PRIVATE]).await,
        [Object::new().with("$id", PRIVATE)]
    );
    assert_eq!(db.count("lockbox_values").await, 0);
    assert_eq!(
        texts(&db, "SELECT key_hash FROM lockbox_accounts").await,
        [lockbox_hash(&new)]
    );
    // The devices holding the old key lost their access with it.
    let answer = call_method(
        addr,
        Method::LockboxContentGet,
        content_get_body(&device1, &[PRIVATE]),
    )
    .await;
    assert_eq!(
        error_code(&answer),
        403,
        "device 1's token was revoked by the reset"
    );

    // Bob is refused the old key, and is up to date again once he proves the new one.
    let body = access_body(&bob, &key, false, None, &[]);
    assert_method_refused(&db, addr, Method::LockboxAccess, body, 403).await;
    let answer = call_method(
        addr,
        Method::LockboxAccess,
        access_body(&bob, &new, false, None, &[]),
    )
    .await;
    let result = ok_body(&answer);
    assert_eq!(lockbox_of(result).account_id, device1.account_id);
    let mut listed = identities_of(result);
    listed.sort_by(|a, b| a.get_str("uri").cmp(&b.get_str("uri")));
    assert_eq!(
        rendered(&listed),
        rendered(&[attached(&alice, false), attached(&bob, false)])
    );
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Removing the last identity

async fn removing_the_last_identity_deletes_the_account(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice"]).await;
    let alice = log_in(addr, "alice").await;
    let key = new_key();
    let lockbox = access(addr, &alice, &key, false).await;
    let file = seal(&key, PRIVATE, PRIVATE_PEER_FILE_VALUE, "peer file");
    set_ok(addr, &lockbox, PRIVATE, &[(PRIVATE_PEER_FILE_VALUE, &file)]).await;
    assert_eq!(db.count("lockbox_values").await, 1);

    let body = identities_update_body(&lockbox, &[], &[&alice]);
    let answer = call_method(addr, Method::LockboxIdentitiesUpdate, body).await;
    assert_eq!(identities_of(ok_body(&answer)), []);
    for table in LOCKBOX_TABLES {
        assert_eq!(db.count(table).await, 0, "{table}");
    }
    // The account's tokens went with it.
    let body = content_get_body(&lockbox, &[PRIVATE]);
    let answer = call_method(addr, Method::LockboxContentGet, body).await;
    assert_eq!(error_code(&answer), 403);
    stop(node).await;
}

/// Attaching an identity that belongs to another account moves it; the account it leaves must
/// not stay behind without identities (spec §6.7: an account without identities is deleted).
async fn attaching_another_accounts_identity_leaves_no_orphan(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice", "bob"]).await;
    let alice = log_in(addr, "alice").await;
    let bob = log_in(addr, "bob").await;
    let alice_key = new_key();
    let bob_key = new_key();
    let alices = access(addr, &alice, &alice_key, false).await;
    let bobs = access(addr, &bob, &bob_key, false).await;
    let value = seal(&bob_key, PRIVATE, "v", "bob's value");
    set_ok(addr, &bobs, PRIVATE, &[("v", &value)]).await;

    let body = identities_update_body(&alices, &[&bob], &[]);
    let answer = call_method(addr, Method::LockboxIdentitiesUpdate, body).await;
    let mut listed = identities_of(ok_body(&answer));
    listed.sort_by(|a, b| a.get_str("uri").cmp(&b.get_str("uri")));
    assert_eq!(
        rendered(&listed),
        rendered(&[attached(&alice, false), attached(&bob, false)])
    );
    // Bob's old account went with him: its values and its access token too.
    let orphans = texts(
        &db,
        "SELECT account_id FROM lockbox_accounts \
         WHERE account_id NOT IN (SELECT account_id FROM lockbox_identities)",
    )
    .await;
    assert_eq!(orphans, Vec::<String>::new(), "accounts without identities");
    assert_eq!(db.count("lockbox_accounts").await, 1);
    assert_eq!(db.count("lockbox_values").await, 0);
    let body = content_get_body(&bobs, &[PRIVATE]);
    let answer = call_method(addr, Method::LockboxContentGet, body).await;
    assert_eq!(error_code(&answer), 403, "bob's old token is gone");
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// 6. Namespace grants

async fn namespaces_beyond_the_well_known_need_a_signed_grant(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice"]).await;
    let alice = log_in(addr, "alice").await;
    let key = new_key();
    let (lockbox, challenge) = access_with_grant(addr, &alice, &key, "g1", &[APP_DATA]).await;
    assert_eq!(
        keys(&challenge),
        ["$id", "domains", "image", "name", "namespaces", "url"]
    );
    assert!(!challenge.get_str("$id").unwrap().is_empty());
    assert_eq!(challenge.get_str("name"), Some("localhost lockbox"));
    assert_eq!(challenge.get_str("url"), Some(node.public_url()));
    assert_eq!(challenge.get_str("domains"), Some("localhost"));
    assert_eq!(
        challenge.get_object("namespaces"),
        Some(&namespaces_of(&[APP_DATA]))
    );

    // Not granted yet.
    let value = seal(&key, APP_DATA, "v", "app value");
    let body = content_set_body(&lockbox, &[namespace(APP_DATA, &[("v", &value)])]);
    assert_method_refused(&db, addr, Method::LockboxContentSet, body, 403).await;

    // Approved, signed, presented: granted.
    let bundle = signed_bundle(addr, &challenge).await;
    assert_eq!(
        ok_body(&present(addr, &lockbox, &bundle).await),
        &Object::new()
    );
    set_ok(addr, &lockbox, APP_DATA, &[("v", &value)]).await;
    assert_eq!(
        get_one(addr, &lockbox, APP_DATA).await.1,
        map(&[("v", &value)])
    );

    // A bundle works once.
    assert_eq!(error_code(&present(addr, &lockbox, &bundle).await), 403);

    // A bundle whose namespaces changed after signing does not verify, and grants nothing.
    let more = "https://localhost/more-data";
    let (lockbox, challenge) = access_with_grant(addr, &alice, &key, "g2", &[more]).await;
    let mut altered = signed_bundle(addr, &challenge).await;
    let signed = altered.get_object("namespaceGrantChallenge").unwrap();
    let widened = with_namespaces(signed, &[more, "https://localhost/everything"]);
    altered.insert("namespaceGrantChallenge", widened);
    assert_eq!(error_code(&present(addr, &lockbox, &altered).await), 403);
    let value = seal(&key, more, "v", "more");
    let body = content_set_body(&lockbox, &[namespace(more, &[("v", &value)])]);
    assert_method_refused(&db, addr, Method::LockboxContentSet, body, 403).await;

    // The grant service signs only namespaces of its own domain.
    let evil = with_namespaces(&challenge, &["https://evil.example/x"]);
    assert_eq!(error_code(&approve(addr, &evil).await.message()), 403);
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// 7. Privacy

async fn no_table_holds_plaintext_keys_or_secrets(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice"]).await;
    let alice = log_in(addr, "alice").await;
    let key = new_key();
    let lockbox = access(addr, &alice, &key, false).await;
    let marker = "PRIVATE-PEER-FILE-MARKER";
    let plaintext = format!(r#"{{"privatePeer":{{"$id":"{marker}","key":"secret"}}}}"#);
    let file = seal(&key, PRIVATE, PRIVATE_PEER_FILE_VALUE, &plaintext);
    let key_copy = seal(&key, PRIVATE, PRIVATE_PEER_FILE_SECRET_VALUE, &to_hex(&key));
    let values = [
        (PRIVATE_PEER_FILE_VALUE, file.as_str()),
        (PRIVATE_PEER_FILE_SECRET_VALUE, key_copy.as_str()),
    ];
    set_ok(addr, &lockbox, PRIVATE, &values).await;
    stop(node).await;

    let secrets = [
        ("plaintext marker", marker.to_owned()),
        ("hex lockbox key", to_hex(&key)),
        ("upper-case hex lockbox key", to_hex(&key).to_uppercase()),
        ("base64 lockbox key", to_base64(&key)),
        ("identity access secret", alice.secret.clone()),
        ("lockbox access secret", lockbox.secret.clone()),
    ];
    let rows = every_row(&db).await;
    assert!(
        rows.iter()
            .any(|(t, r)| t == "lockbox_values" && r.contains(&file))
    );
    for (table, row) in &rows {
        for (what, secret) in &secrets {
            assert!(!row.contains(secret.as_str()), "{what} in {table}: {row}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 8. peer-services-get

async fn peer_services_hand_out_turn_rest_credentials(db: TestDb) {
    let turn_uri = "turn:127.0.0.1:3478?transport=udp";
    let stun_uri = "stun:127.0.0.1:3478";
    let config = format!(
        "[peer_services]\nstun = [{stun_uri:?}]\n[[peer_services.turn]]\nuri = {turn_uri:?}\nsecret = \"s3cret\"\n"
    );
    let (node, addr) = gateway(&db, &config, &["alice"]).await;
    let alice = log_in(addr, "alice").await;
    let lockbox = access(addr, &alice, &new_key(), false).await;

    let body = proven_body(&lockbox, Purpose::PeerServicesGet, Object::new());
    let answer = call(
        addr,
        PEER_SERVICES,
        &protocol(Method::PeerServicesGet, body),
    )
    .await;
    let result = ok_body(&answer);
    let services = children(result.get_object("services").expect("services"), "service");
    let expires = services[0].get_u64("expires").expect("turn expires");
    assert!(expires.abs_diff(unix_now() + 86_400) < 10, "{expires}");
    let username = format!("{expires}:{}", lockbox.account_id);
    let turn = Object::new()
        .with("$id", "turn-1")
        .with("type", "turn")
        .with("version", "RFC5766")
        .with("expires", expires)
        .with(
            "methods",
            Object::new().with(
                "method",
                Object::new()
                    .with("name", "turn")
                    .with("uri", turn_uri)
                    .with("username", username.as_str())
                    .with("password", turn_rest_password("s3cret", &username)),
            ),
        );
    let stun = Object::new()
        .with("$id", "stun-1")
        .with("type", "stun")
        .with("version", "RFC5389")
        .with(
            "methods",
            Object::new().with(
                "method",
                Object::new().with("name", "stun").with("uri", stun_uri),
            ),
        );
    assert_eq!(rendered(&services), rendered(&[turn, stun]));
    assert_eq!(keys(result), ["services"]);

    // Without a lockbox proof.
    let body = Object::new().with("nonce", "n-without-proof");
    let answer = call(
        addr,
        PEER_SERVICES,
        &protocol(Method::PeerServicesGet, body),
    )
    .await;
    assert_eq!(error_code(&answer), 400);
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// 9. identity-access-lockbox-update

async fn the_identity_keeps_the_encrypted_lockbox_key(db: TestDb) {
    let (node, addr) = gateway(&db, "", &["alice"]).await;
    let first = local_login_notify(addr, "alice").await;
    assert_eq!(first.body.get("lockbox"), None);
    let alice = log_in(addr, "alice").await;

    // What the client stores: the lockbox key sealed under a key of its own.
    let encrypted = seal(&new_key(), PRIVATE, "lockbox-key", &to_hex(&new_key()));
    let (identity, n) = proof(&alice, Purpose::LockboxUpdate, unix_now() + 300);
    let lockbox = Object::new()
        .with("domain", "localhost")
        .with("key", encrypted.as_str());
    let body = Object::new()
        .with("nonce", n)
        .with("identity", identity)
        .with("lockbox", lockbox.clone());
    let answer = call(
        addr,
        "/openpeer/identity/identity-access-lockbox-update",
        &protocol(Method::IdentityAccessLockboxUpdate, body),
    )
    .await;
    assert_eq!(ok_body(&answer), &Object::new());

    let next = local_login_notify(addr, "alice").await;
    assert_eq!(next.body.get_object("lockbox"), Some(&lockbox));
    stop(node).await;
}

/// The `identity-access-complete` notify of a local login of `user`.
async fn local_login_notify(addr: SocketAddr, user: &str) -> Message {
    let body = render_object(
        &Object::new()
            .with("username", user)
            .with("password", PASSWORD),
    );
    let notify = post(addr, "/identity/v1/local/login", &body)
        .await
        .message();
    assert_eq!(
        notify.envelope.method.as_deref(),
        Some("identity-access-complete")
    );
    notify
}
