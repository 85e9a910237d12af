//! The identity service against a real server, on SQLite and PostgreSQL (issue 3/4): local
//! accounts and their login limits, access tokens and their proofs, binding a peer file to an
//! identity, and lookups whose proofs a third party verifies with `certificates-get` alone.

mod support;

use std::net::SocketAddr;

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::{Object, parse};
use openpeer_protocol::message::{Message, Method};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::proof::Purpose;
use openpeer_protocol::random::nonce;
use openpeer_protocol::signature::{PeerKey, verify_bundle};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;
use support::identity::{
    ACCESS_VALIDATE, LOOKUP, LOOKUP_CHECK, LOOKUP_UPDATE, contact_proof, create_account,
    forged_contact_proof, identities, login_of, lookup_body, lookup_update_body, peer, proof,
    protocol,
};
use support::{
    CERTIFICATES_GET, TestDb, call, error_code, ok_body, post, request, start, stop, unix_now,
};

crate::on_both_backends!(
    bind_a_peer_file_and_find_it_by_identity,
    access_proofs_are_checked_exactly,
    forged_or_mismatched_contact_proofs_are_refused,
    local_logins_are_limited_and_relogin_works,
    signup_follows_its_setting,
    expired_records_are_purged_while_serving,
);

async fn local_login(addr: SocketAddr, username: &str, password: &str) -> Message {
    let body = render_object(
        &Object::new()
            .with("username", username)
            .with("password", password),
    );
    post(addr, "/identity/v1/local/login", &body)
        .await
        .message()
}

async fn bind_a_peer_file_and_find_it_by_identity(db: TestDb) {
    create_account(&db, "alice", "correct horse").await;
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let login = login_of(&local_login(addr, "Alice", "correct horse").await);
    assert_eq!(login.uri, "identity://localhost/alice");
    assert_eq!(
        (
            login.token.len(),
            login.secret.len(),
            login.relogin_key.len()
        ),
        (32, 32, 40)
    );
    let (key, file) = peer(addr).await;
    let update = call(
        addr,
        LOOKUP_UPDATE,
        &protocol(
            Method::IdentityLookupUpdate,
            lookup_update_body(&login, &key, &file),
        ),
    )
    .await;
    assert_eq!(ok_body(&update), &Object::new());

    let check = call(
        addr,
        LOOKUP_CHECK,
        &protocol(Method::IdentityLookupCheck, lookup_body("nobody,alice")),
    )
    .await;
    let checked = identities(&check);
    assert_eq!(checked.len(), 1);
    assert_eq!(
        checked[0].get_str("uri"),
        Some("identity://localhost/alice")
    );
    assert_eq!(checked[0].get_str("provider"), Some("local"));
    assert!(checked[0].get_u64("updated").unwrap().abs_diff(unix_now()) < 10);

    // A third party: only the lookup answer and certificates-get.
    let lookup = call(
        addr,
        LOOKUP,
        &protocol(Method::IdentityLookup, lookup_body("alice,nobody")),
    )
    .await;
    let found = identities(&lookup);
    assert_eq!(found.len(), 1);
    let entry = &found[0];
    assert_eq!(entry.get_str("stableID"), Some("stable-1"));
    assert_eq!(
        (entry.get_u64("priority"), entry.get_u64("weight")),
        (Some(1), Some(10))
    );
    assert!(entry.get_u64("expires").unwrap() > unix_now());
    let certificates = call(
        addr,
        CERTIFICATES_GET,
        &request("certificates", "certificates-get", ""),
    )
    .await;
    let domain = DomainName::parse("localhost").unwrap();
    let set =
        CertificateSet::from_certificates_get(&domain, ok_body(&certificates), unix_now()).unwrap();
    let peer_document = Object::new().with("peer", entry.get("peer").unwrap().clone());
    let peer_file = PublicPeerFile::validate(&peer_document, unix_now(), Some(&set)).unwrap();
    assert_eq!(peer_file.contact(), file.contact());
    assert!(peer_file.salt_verified());
    let proof_bundle = entry.get_object("identityProofBundle").unwrap();
    let identity_proof =
        verify_bundle(proof_bundle, "identityProof", &set).expect("identity proof verifies");
    let contact_bundle = identity_proof
        .get()
        .get_object("contactProofBundle")
        .unwrap();
    let contact = verify_bundle(
        contact_bundle,
        "contactProof",
        &PeerKey {
            uri: peer_file.contact(),
            key: peer_file.key(),
        },
    )
    .expect("contact proof verifies");
    assert_eq!(
        contact.get().get_str("uri"),
        Some("identity://localhost/alice")
    );
    // The proof is signed by the identity certificate, not any other.
    let signer = proof_bundle
        .get_object("signature")
        .unwrap()
        .get_object("key")
        .unwrap();
    assert_eq!(signer.get_str("service"), Some("identity"));

    // Without `peer` the binding goes away.
    let (identity, n) = proof(&login, Purpose::IdentityLookupUpdate, unix_now() + 3600);
    let remove = call(
        addr,
        LOOKUP_UPDATE,
        &protocol(
            Method::IdentityLookupUpdate,
            Object::new().with("nonce", n).with("identity", identity),
        ),
    )
    .await;
    assert_eq!(ok_body(&remove), &Object::new());
    let after = call(
        addr,
        LOOKUP,
        &protocol(Method::IdentityLookup, lookup_body("alice")),
    )
    .await;
    assert!(identities(&after).is_empty());
    assert_eq!(db.count("lookup_entries").await, 0);
    stop(node).await;
}

async fn access_proofs_are_checked_exactly(db: TestDb) {
    create_account(&db, "bob", "correct horse").await;
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let login = login_of(&local_login(addr, "bob", "correct horse").await);
    let validate = |identity: Object, n: String, purpose: &str| {
        protocol(
            Method::IdentityAccessValidate,
            Object::new()
                .with("clientNonce", n)
                .with("purpose", purpose)
                .with("identity", identity),
        )
    };
    let (identity, n) = proof(&login, Purpose::LockboxAccess, unix_now() + 600);
    let good = validate(identity, n, "lockbox-access");
    assert_eq!(
        ok_body(&call(addr, ACCESS_VALIDATE, &good).await),
        &Object::new()
    );
    let nonces = db.count("used_nonces").await;
    // Replayed: same nonce.
    assert_eq!(error_code(&call(addr, ACCESS_VALIDATE, &good).await), 403);
    // Wrong purpose: the proof was made for another.
    let (identity, n) = proof(&login, Purpose::LockboxAccess, unix_now() + 600);
    assert_eq!(
        error_code(
            &call(
                addr,
                ACCESS_VALIDATE,
                &validate(identity, n, "lockbox-content-get")
            )
            .await
        ),
        403
    );
    // Past its expiry.
    let (identity, n) = proof(&login, Purpose::LockboxAccess, unix_now() - 5);
    assert_eq!(
        error_code(
            &call(
                addr,
                ACCESS_VALIDATE,
                &validate(identity, n, "lockbox-access")
            )
            .await
        ),
        401
    );
    // Upper-case hex is the same proof.
    let (mut identity, n) = proof(&login, Purpose::LockboxAccess, unix_now() + 600);
    let upper = identity
        .get_str("accessSecretProof")
        .unwrap()
        .to_uppercase();
    identity.insert("accessSecretProof", upper);
    assert_eq!(
        ok_body(
            &call(
                addr,
                ACCESS_VALIDATE,
                &validate(identity, n, "lockbox-access")
            )
            .await
        ),
        &Object::new()
    );
    // Another identity's URI with this token; an unknown token; a forged proof.
    let (mut identity, n) = proof(&login, Purpose::LockboxAccess, unix_now() + 600);
    identity.insert("uri", "identity://localhost/alice");
    assert_eq!(
        error_code(
            &call(
                addr,
                ACCESS_VALIDATE,
                &validate(identity, n, "lockbox-access")
            )
            .await
        ),
        403
    );
    let (mut identity, n) = proof(&login, Purpose::LockboxAccess, unix_now() + 600);
    identity.insert("accessToken", "x".repeat(32));
    assert_eq!(
        error_code(
            &call(
                addr,
                ACCESS_VALIDATE,
                &validate(identity, n, "lockbox-access")
            )
            .await
        ),
        403
    );
    let (mut identity, n) = proof(&login, Purpose::LockboxAccess, unix_now() + 600);
    identity.insert("accessSecretProof", "0".repeat(40));
    assert_eq!(
        error_code(
            &call(
                addr,
                ACCESS_VALIDATE,
                &validate(identity, n, "lockbox-access")
            )
            .await
        ),
        403
    );
    // Malformed: no nonce, no identity, unknown purpose.
    let (identity, _) = proof(&login, Purpose::LockboxAccess, unix_now() + 600);
    let no_nonce = protocol(
        Method::IdentityAccessValidate,
        Object::new()
            .with("purpose", "lockbox-access")
            .with("identity", identity.clone()),
    );
    assert_eq!(
        error_code(&call(addr, ACCESS_VALIDATE, &no_nonce).await),
        400
    );
    assert_eq!(
        error_code(
            &call(
                addr,
                ACCESS_VALIDATE,
                &validate(identity, nonce(&mut OsRng), "no-such-purpose")
            )
            .await
        ),
        400
    );
    // Only the two accepted proofs used a nonce.
    assert_eq!(db.count("used_nonces").await, nonces + 1);
    stop(node).await;
}

/// A change to the `identity` element of an otherwise valid `identity-lookup-update`.
type Edit<'a> = Box<dyn Fn(Object) -> Object + 'a>;

async fn forged_or_mismatched_contact_proofs_are_refused(db: TestDb) {
    create_account(&db, "carol", "correct horse").await;
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let login = login_of(&local_login(addr, "carol", "correct horse").await);
    let (key, file) = peer(addr).await;
    let (other_key, other_file) = peer(addr).await;
    let cases: [(&str, Edit<'_>, u16); 5] = [
        // Signed by another peer's key, claiming this peer.
        (
            "forged signature",
            Box::new(|mut identity: Object| {
                identity.insert(
                    "contactProofBundle",
                    forged_contact_proof(
                        &other_key,
                        &file,
                        "identity://localhost/carol",
                        "stable-1",
                    ),
                );
                identity
            }),
            403,
        ),
        // A valid proof of another peer than the peer file sent.
        (
            "other peer",
            Box::new(|mut identity: Object| {
                identity.insert(
                    "contactProofBundle",
                    contact_proof(
                        &other_key,
                        &other_file,
                        "identity://localhost/carol",
                        "stable-1",
                    ),
                );
                identity
            }),
            403,
        ),
        // A proof for another identity.
        (
            "other identity",
            Box::new(|mut identity: Object| {
                identity.insert(
                    "contactProofBundle",
                    contact_proof(&key, &file, "identity://localhost/alice", "stable-1"),
                );
                identity
            }),
            403,
        ),
        // A peer file changed by one byte.
        (
            "tampered peer file",
            Box::new(|mut identity: Object| {
                let text = render_object(identity.get_object("peer").unwrap()).replacen(
                    "\"$id\":\"B\"",
                    "\"$id\":\"C\"",
                    1,
                );
                identity.insert("peer", parse(&text).unwrap());
                identity
            }),
            403,
        ),
        (
            "no stable id",
            Box::new(|mut identity: Object| {
                identity.remove("stableID");
                identity
            }),
            400,
        ),
    ];
    for (case, edit, code) in cases {
        let mut body = lookup_update_body(&login, &key, &file);
        let identity = body
            .remove("identity")
            .unwrap()
            .as_object()
            .unwrap()
            .clone();
        body.insert("identity", edit(identity));
        let answer = call(
            addr,
            LOOKUP_UPDATE,
            &protocol(Method::IdentityLookupUpdate, body),
        )
        .await;
        assert_eq!(error_code(&answer), code, "{case}");
        assert_eq!(db.count("lookup_entries").await, 0, "{case}");
    }
    stop(node).await;
}

async fn local_logins_are_limited_and_relogin_works(db: TestDb) {
    create_account(&db, "dave", "correct horse").await;
    let node = start(db.settings("[identity.local]\nmax_failures_per_account = 3\n")).await;
    let addr = node.local_addr();
    assert_eq!(
        error_code(&local_login(addr, "nobody", "correct horse").await),
        403
    );
    for _ in 0..3 {
        assert_eq!(
            error_code(&local_login(addr, "dave", "wrong horse").await),
            403
        );
    }
    // Locked for the window, even with the right password.
    assert_eq!(
        error_code(&local_login(addr, "dave", "correct horse").await),
        480
    );
    assert_eq!(db.count("access_tokens").await, 0);
    let oversize = format!("{{\"username\":\"{}\"}}", "x".repeat(70_000));
    assert_eq!(
        error_code(
            &post(addr, "/identity/v1/local/login", &oversize)
                .await
                .message()
        ),
        413
    );
    assert_eq!(
        error_code(&post(addr, "/identity/v1/login/start", "{}").await.message()),
        400
    );
    let bad = post(addr, "/identity/v1/local/login", "{\"username\":")
        .await
        .message();
    assert_eq!(error_code(&bad), 400);
    stop(node).await;

    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let first = login_of(&local_login(addr, "dave", "correct horse").await);
    let relogin_body = render_object(&Object::new().with("reloginKey", first.relogin_key.as_str()));
    let again = login_of(
        &post(addr, "/identity/v1/relogin", &relogin_body)
            .await
            .message(),
    );
    assert_eq!(again.uri, first.uri);
    assert_ne!(again.token, first.token);
    let unknown = render_object(&Object::new().with("reloginKey", "x".repeat(40)));
    assert_eq!(
        error_code(&post(addr, "/identity/v1/relogin", &unknown).await.message()),
        403
    );
    stop(node).await;
}

async fn signup_follows_its_setting(db: TestDb) {
    let node = start(db.settings("")).await;
    let body = render_object(
        &Object::new()
            .with("username", "erin")
            .with("password", "correct horse"),
    );
    let closed = post(node.local_addr(), "/identity/v1/local/signup", &body)
        .await
        .message();
    assert_eq!(error_code(&closed), 403);
    stop(node).await;
    let node = start(db.settings("[identity.local]\nsignup = true\n")).await;
    let addr = node.local_addr();
    let login = login_of(
        &post(addr, "/identity/v1/local/signup", &body)
            .await
            .message(),
    );
    assert_eq!(login.uri, "identity://localhost/erin");
    assert_eq!(
        error_code(
            &post(addr, "/identity/v1/local/signup", &body)
                .await
                .message()
        ),
        409
    );
    let short = render_object(
        &Object::new()
            .with("username", "frank")
            .with("password", "short"),
    );
    assert_eq!(
        error_code(
            &post(addr, "/identity/v1/local/signup", &short)
                .await
                .message()
        ),
        400
    );
    let providers = parse(&support::get(addr, "/identity/v1/providers").await.text()).unwrap();
    let list = providers
        .get_object("providers")
        .unwrap()
        .get_list("provider");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].as_object().unwrap().get_str("name"), Some("local"));
    let page = support::get(addr, "/identity/v1/inner-frame").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("identity-access-complete"));
    stop(node).await;
}

async fn expired_records_are_purged_while_serving(db: TestDb) {
    let settings = db.settings("[finder]\nnode_ttl_seconds = 3\n");
    let store = openpeer_gateway::store::Store::connect(&settings.database)
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    use openpeer_gateway::identity::repo::IdentityRepo as _;
    assert!(store.use_nonce("stale", unix_now() - 10).await.unwrap());
    assert!(store.use_nonce("fresh", unix_now() + 600).await.unwrap());
    store.close().await.expect("close");
    let node = start(settings).await;
    let mut left = db.count("used_nonces").await;
    for _ in 0..40 {
        if left == 1 {
            break;
        }
        async_std::task::sleep(std::time::Duration::from_millis(100)).await;
        left = db.count("used_nonces").await;
    }
    assert_eq!(left, 1, "the stale nonce is purged, the fresh one kept");
    stop(node).await;
}
