//! Load figures of `identity-lookup` (issue 3/4): requests/s and p50/p99 for batches of 1 and 50
//! identities, on SQLite and PostgreSQL, with wrk against a release-built gateway on loopback.
//! Not part of the test command (it runs for a minute and needs wrk):
//!
//! ```sh
//! apt-get install wrk
//! cargo test --release --test load_identity_lookup -- --ignored --nocapture
//! ```

mod support;

use std::process::Command;

use openpeer_protocol::message::Method;
use support::identity::{
    create_account, identities, login_of, lookup_body, lookup_update_body, peer, protocol,
};
use support::{TempDir, TestDb, call, ok_body, post, start, stop};

const IDENTITIES: usize = 50;
const SECONDS: &str = "10";

async fn populate_and_measure(db: TestDb, backend: &str) -> Vec<String> {
    for i in 0..IDENTITIES {
        create_account(&db, &format!("user{i}"), "correct horse").await;
    }
    let node = start(db.settings("[log]\nlevel = \"warn\"\n")).await;
    let addr = node.local_addr();
    for i in 0..IDENTITIES {
        let body = format!("{{\"username\":\"user{i}\",\"password\":\"correct horse\"}}");
        let login = login_of(
            &post(addr, "/identity/v1/local/login", &body)
                .await
                .message(),
        );
        let (key, file) = peer(addr).await;
        let update = protocol(
            Method::IdentityLookupUpdate,
            lookup_update_body(&login, &key, &file),
        );
        ok_body(&call(addr, "/openpeer/identity/identity-lookup-update", &update).await);
    }
    let dir = TempDir::new("lookup-load");
    let mut rows = Vec::new();
    for batch in [1, IDENTITIES] {
        let names: Vec<String> = (0..batch).map(|i| format!("user{i}")).collect();
        let request = protocol(Method::IdentityLookup, lookup_body(&names.join(",")));
        let answer = call(addr, "/openpeer/identity-lookup/identity-lookup", &request).await;
        assert_eq!(identities(&answer).len(), batch, "every identity answers");
        let body_file = dir.join(&format!("lookup-{batch}.json"));
        std::fs::write(&body_file, &request).unwrap();
        let output = Command::new("wrk")
            .args(["-t2", "-c32", &format!("-d{SECONDS}s"), "--latency", "-s"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/load/post.lua"))
            .arg(format!(
                "http://{addr}/openpeer/identity-lookup/identity-lookup"
            ))
            .env("BODY_FILE", &body_file)
            .output()
            .expect("wrk (apt-get install wrk)");
        let text = String::from_utf8_lossy(&output.stdout);
        let result = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("no RESULT line from wrk: {text}"))
            .to_owned();
        rows.push(format!("{backend:<10} batch {batch:>2}: {result}"));
    }
    stop(node).await;
    rows
}

#[async_std::test]
#[ignore = "load figures: run by hand with --ignored --nocapture (needs wrk)"]
async fn identity_lookup_load() {
    let mut rows = populate_and_measure(TestDb::sqlite(), "sqlite").await;
    rows.extend(populate_and_measure(TestDb::postgres(), "postgres").await);
    println!("wrk -t2 -c32 -d{SECONDS}s, identity-lookup of {IDENTITIES} bound identities");
    for row in rows {
        println!("{row}");
    }
}
