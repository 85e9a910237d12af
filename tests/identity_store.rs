//! The identity service's storage (`IdentityRepo for Store`) over a real database — every test
//! runs once on SQLite (`sqlite::…`) and once on PostgreSQL (`postgres::…`).

mod support;

use openpeer_gateway::identity::repo::{
    AccessTokenRecord, IdentityRecord, IdentityRepo as _, LocalAccount, LookupEntry,
    PendingLoginRecord, ReloginKeyRecord,
};
use openpeer_gateway::store::Store;

use support::TestDb;

crate::on_both_backends!(
    accounts_insert_once_and_read_back,
    identity_upsert_keeps_created_and_updates_the_rest,
    pending_login_is_taken_once,
    concurrent_takers_of_a_pending_login_get_it_once,
    access_tokens_and_relogin_keys_round_trip,
    a_nonce_is_used_once,
    lookup_entries_upsert_replace_select_and_delete,
    purge_removes_only_expired_rows,
);

/// A migrated store over `db`.
async fn store(db: &TestDb) -> Store {
    let settings = db.settings("");
    let store = Store::connect(&settings.database)
        .await
        .expect("connect to the test database");
    store.migrate().await.expect("migrate");
    store
}

fn identity(uri: &str, created: u64, updated: u64) -> IdentityRecord {
    IdentityRecord {
        uri: uri.to_owned(),
        provider: "google".to_owned(),
        subject: "sub-1".to_owned(),
        email: Some("alice@example.com".to_owned()),
        email_verified: true,
        name: Some("Alice".to_owned()),
        profile_url: None,
        avatar_url: Some("https://example.com/a.png".to_owned()),
        created,
        updated,
    }
}

fn pending(state_hash: &str, expires: u64) -> PendingLoginRecord {
    PendingLoginRecord {
        state_hash: state_hash.to_owned(),
        provider: "google".to_owned(),
        pending_encrypted: format!("sealed-{state_hash}"),
        expires,
    }
}

fn token(token_hash: &str, expires: u64) -> AccessTokenRecord {
    AccessTokenRecord {
        token_hash: token_hash.to_owned(),
        identity_uri: "identity://example.com/alice".to_owned(),
        provider: "local".to_owned(),
        secret_encrypted: format!("sealed-{token_hash}"),
        expires,
    }
}

fn relogin(key_hash: &str, expires: u64) -> ReloginKeyRecord {
    ReloginKeyRecord {
        key_hash: key_hash.to_owned(),
        identity_uri: "identity://example.com/alice".to_owned(),
        provider: "local".to_owned(),
        expires,
    }
}

fn lookup(uri: &str, contact: &str, priority: u32, updated: u64) -> LookupEntry {
    LookupEntry {
        identity_uri: uri.to_owned(),
        provider: "local".to_owned(),
        stable_id: format!("stable-{uri}"),
        contact: contact.to_owned(),
        peer_file: format!("{{\"peer\":{contact:?}}}"),
        identity_proof_bundle: format!("{{\"proof\":{uri:?}}}"),
        priority,
        weight: 7,
        updated,
    }
}

async fn accounts_insert_once_and_read_back(db: TestDb) {
    let store = store(&db).await;
    assert_eq!(store.account("alice").await.unwrap(), None);

    let alice = LocalAccount {
        username: "alice".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created: 1_700_000_000,
    };
    assert!(store.insert_account(&alice).await.unwrap());
    assert_eq!(store.account("alice").await.unwrap(), Some(alice.clone()));

    // A taken username is refused without error and without touching the first account.
    let impostor = LocalAccount {
        password_hash: "$argon2id$other".to_owned(),
        created: 1_800_000_000,
        ..alice.clone()
    };
    assert!(!store.insert_account(&impostor).await.unwrap());
    assert_eq!(store.account("alice").await.unwrap(), Some(alice));
    assert_eq!(db.count("local_accounts").await, 1);

    // Times past i64::MAX saturate instead of failing.
    let far = LocalAccount {
        username: "bob".to_owned(),
        password_hash: "h".to_owned(),
        created: u64::MAX,
    };
    assert!(store.insert_account(&far).await.unwrap());
    assert_eq!(
        store.account("bob").await.unwrap().unwrap().created,
        i64::MAX as u64
    );
    store.close().await.unwrap();
}

async fn identity_upsert_keeps_created_and_updates_the_rest(db: TestDb) {
    let store = store(&db).await;
    let uri = "identity://example.com/alice";
    assert_eq!(store.identity(uri).await.unwrap(), None);

    let first = identity(uri, 100, 100);
    store.upsert_identity(&first).await.unwrap();
    assert_eq!(store.identity(uri).await.unwrap(), Some(first.clone()));

    let second = IdentityRecord {
        provider: "github".to_owned(),
        subject: "sub-2".to_owned(),
        email: None,
        email_verified: false,
        name: Some("Alice B.".to_owned()),
        profile_url: Some("https://example.com/alice".to_owned()),
        avatar_url: None,
        created: 999,
        updated: 200,
        ..first.clone()
    };
    store.upsert_identity(&second).await.unwrap();
    let stored = store.identity(uri).await.unwrap().unwrap();
    assert_eq!(stored.created, 100, "created is kept");
    assert_eq!(
        stored,
        IdentityRecord {
            created: 100,
            ..second
        }
    );
    assert_eq!(db.count("identities").await, 1);
    store.close().await.unwrap();
}

async fn pending_login_is_taken_once(db: TestDb) {
    let store = store(&db).await;
    assert_eq!(store.take_pending_login("nope").await.unwrap(), None);

    let login = pending("state-1", 1_000);
    store.insert_pending_login(&login).await.unwrap();
    assert_eq!(
        store.take_pending_login("state-1").await.unwrap(),
        Some(login)
    );
    assert_eq!(store.take_pending_login("state-1").await.unwrap(), None);
    assert_eq!(db.count("pending_logins").await, 0);

    // An expired login is still handed out (the caller checks `expires`), and removed.
    let expired = pending("state-2", 1);
    store.insert_pending_login(&expired).await.unwrap();
    assert_eq!(
        store.take_pending_login("state-2").await.unwrap(),
        Some(expired)
    );
    assert_eq!(db.count("pending_logins").await, 0);
    store.close().await.unwrap();
}

async fn concurrent_takers_of_a_pending_login_get_it_once(db: TestDb) {
    // Two pools, so the takers certainly run on different connections.
    let first = store(&db).await;
    let second = Store::connect(&db.settings("").database).await.unwrap();
    for i in 0..20 {
        let state = format!("state-{i}");
        let login = pending(&state, 1_000);
        first.insert_pending_login(&login).await.unwrap();
        let (a, b) = futures_lite::future::zip(
            first.take_pending_login(&state),
            second.take_pending_login(&state),
        )
        .await;
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a.is_some() != b.is_some(),
            "round {i}: exactly one taker wins, got {a:?} and {b:?}"
        );
        assert_eq!(a.or(b), Some(login));
    }
    assert_eq!(db.count("pending_logins").await, 0);
    first.close().await.unwrap();
    second.close().await.unwrap();
}

async fn access_tokens_and_relogin_keys_round_trip(db: TestDb) {
    let store = store(&db).await;
    assert_eq!(store.access_token("t1").await.unwrap(), None);
    assert_eq!(store.relogin_key("k1").await.unwrap(), None);

    let t1 = token("t1", 2_000);
    let t2 = token("t2", 3_000);
    store.insert_access_token(&t1).await.unwrap();
    store.insert_access_token(&t2).await.unwrap();
    assert_eq!(store.access_token("t1").await.unwrap(), Some(t1));
    assert_eq!(store.access_token("t2").await.unwrap(), Some(t2));

    let k1 = relogin("k1", 4_000);
    store.insert_relogin_key(&k1).await.unwrap();
    assert_eq!(store.relogin_key("k1").await.unwrap(), Some(k1));
    assert_eq!(store.relogin_key("t1").await.unwrap(), None);
    store.close().await.unwrap();
}

async fn a_nonce_is_used_once(db: TestDb) {
    let store = store(&db).await;
    assert!(store.use_nonce("n1", 1_000).await.unwrap());
    assert!(!store.use_nonce("n1", 1_000).await.unwrap(), "a replay");
    assert!(!store.use_nonce("n1", 5_000).await.unwrap(), "a replay");
    assert!(store.use_nonce("n2", 1_000).await.unwrap());
    assert_eq!(db.count("used_nonces").await, 2);
    store.close().await.unwrap();
}

async fn lookup_entries_upsert_replace_select_and_delete(db: TestDb) {
    let store = store(&db).await;
    let (a, b, c) = (
        "identity://example.com/a",
        "identity://example.com/b",
        "identity://example.com/c",
    );
    assert_eq!(store.lookups(&[]).await.unwrap(), vec![]);
    assert_eq!(store.lookups(&[a.to_owned()]).await.unwrap(), vec![]);

    store
        .upsert_lookup(&lookup(a, "peer://example.com/1", 1, 100))
        .await
        .unwrap();
    store
        .upsert_lookup(&lookup(b, "peer://example.com/2", 2, 100))
        .await
        .unwrap();
    store
        .upsert_lookup(&lookup(c, "peer://example.com/3", 3, 100))
        .await
        .unwrap();

    // Every column is replaced, priorities past i32::MAX saturate.
    let replaced = LookupEntry {
        provider: "google".to_owned(),
        stable_id: "stable-new".to_owned(),
        peer_file: "{\"new\":true}".to_owned(),
        identity_proof_bundle: "{\"newproof\":true}".to_owned(),
        weight: 9,
        ..lookup(a, "peer://example.com/9", u32::MAX, 300)
    };
    store.upsert_lookup(&replaced).await.unwrap();
    assert_eq!(db.count("lookup_entries").await, 3);

    let mut found = store
        .lookups(&[
            a.to_owned(),
            c.to_owned(),
            "identity://example.com/absent".to_owned(),
            a.to_owned(),
        ])
        .await
        .unwrap();
    found.sort_by(|x, y| x.identity_uri.cmp(&y.identity_uri));
    assert_eq!(
        found,
        vec![
            LookupEntry {
                priority: i32::MAX as u32,
                ..replaced
            },
            lookup(c, "peer://example.com/3", 3, 100),
        ]
    );

    assert!(store.delete_lookup(b).await.unwrap());
    assert!(!store.delete_lookup(b).await.unwrap());
    assert_eq!(store.lookups(&[b.to_owned()]).await.unwrap(), vec![]);
    assert_eq!(db.count("lookup_entries").await, 2);
    store.close().await.unwrap();
}

async fn purge_removes_only_expired_rows(db: TestDb) {
    let store = store(&db).await;
    let now = 10_000;
    // Expired (expires < now): 1 + 2 + 1 + 2 = 6 rows.
    store
        .insert_pending_login(&pending("p-old", now - 1))
        .await
        .unwrap();
    store
        .insert_access_token(&token("t-old-1", 5))
        .await
        .unwrap();
    store
        .insert_access_token(&token("t-old-2", now - 1))
        .await
        .unwrap();
    store
        .insert_relogin_key(&relogin("k-old", 0))
        .await
        .unwrap();
    assert!(store.use_nonce("n-old-1", 1).await.unwrap());
    assert!(store.use_nonce("n-old-2", now - 100).await.unwrap());
    // Live (expires >= now, `now` itself included): one per table and more.
    store
        .insert_pending_login(&pending("p-new", now))
        .await
        .unwrap();
    store
        .insert_access_token(&token("t-new", now + 1))
        .await
        .unwrap();
    store
        .insert_relogin_key(&relogin("k-new", u64::MAX))
        .await
        .unwrap();
    assert!(store.use_nonce("n-new", now).await.unwrap());
    // Tables without expiry are never touched.
    store
        .upsert_identity(&identity("identity://example.com/x", 1, 1))
        .await
        .unwrap();
    store
        .upsert_lookup(&lookup("identity://example.com/x", "peer://p", 1, 1))
        .await
        .unwrap();

    assert_eq!(store.purge_expired(now).await.unwrap(), 6);
    assert_eq!(store.purge_expired(now).await.unwrap(), 0);

    for table in [
        "pending_logins",
        "access_tokens",
        "relogin_keys",
        "used_nonces",
    ] {
        assert_eq!(db.count(table).await, 1, "{table}");
    }
    assert_eq!(db.count("identities").await, 1);
    assert_eq!(db.count("lookup_entries").await, 1);
    assert_eq!(store.access_token("t-old-2").await.unwrap(), None);
    assert!(store.access_token("t-new").await.unwrap().is_some());
    assert!(store.take_pending_login("p-new").await.unwrap().is_some());
    assert!(store.relogin_key("k-new").await.unwrap().is_some());
    // A purged nonce may be recorded again; a live one is still a replay.
    assert!(store.use_nonce("n-old-1", now + 50).await.unwrap());
    assert!(!store.use_nonce("n-new", now + 50).await.unwrap());
    store.close().await.unwrap();
}
