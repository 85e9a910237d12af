//! Load figures of `lockbox-content-get` and `lockbox-content-set` (issue 2.2): requests/s and
//! p50/p99 on SQLite and PostgreSQL, against a gateway built in release mode on loopback. Each
//! request carries its own nonce and access proof, so a replaying tool like wrk cannot drive
//! these methods: 32 clients here, each with its own account, send requests back to back for
//! 10 s, one TCP connection per request. Not part of the test command:
//!
//! ```sh
//! cargo test --release --test load_lockbox -- --ignored --nocapture
//! ```

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use openpeer_protocol::lockbox::{PRIVATE_PEER_FILE_NAMESPACE, seal_value};
use openpeer_protocol::message::Method;
use openpeer_protocol::random::random_bytes;
use rand_core::OsRng;
use support::identity::{create_account, protocol};
use support::lockbox::{
    LOCKBOX, Lockbox, access, content_get_body, content_set_body, login, namespace,
};
use support::{TestDb, call, error_of, start, stop};

const CLIENTS: usize = 32;
const SECONDS: u64 = 10;
const PASSWORD: &str = "correct horse";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Get,
    Set,
}

/// One request of `operation` by `lockbox`: a 1 KB value written, or the namespace read back.
async fn one(addr: SocketAddr, lockbox: &Lockbox, key: &[u8], operation: Operation, n: usize) {
    let body = match operation {
        Operation::Set => {
            let name = format!("v{}", n % 8);
            let value = seal_value(
                key,
                PRIVATE_PEER_FILE_NAMESPACE,
                &name,
                &[7; 1024],
                &mut OsRng,
            );
            protocol(
                Method::LockboxContentSet,
                content_set_body(
                    lockbox,
                    &[namespace(PRIVATE_PEER_FILE_NAMESPACE, &[(&name, &value)])],
                ),
            )
        }
        Operation::Get => protocol(
            Method::LockboxContentGet,
            content_get_body(lockbox, &[PRIVATE_PEER_FILE_NAMESPACE]),
        ),
    };
    let answer = call(addr, LOCKBOX, &body).await;
    assert!(error_of(&answer).is_none(), "{answer:?}");
}

/// Runs `operation` from every client for `SECONDS`: (requests/s, p50, p99).
async fn measure(
    addr: SocketAddr,
    clients: &[(Lockbox, Vec<u8>)],
    operation: Operation,
) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = clients
        .iter()
        .cloned()
        .map(|(lockbox, key)| {
            async_std::task::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    one(addr, &lockbox, &key, operation, n).await;
                    latencies.push(started.elapsed());
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await);
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (latencies.len() as f64 / SECONDS as f64, at(0.50), at(0.99))
}

async fn run(db: TestDb, backend: &str) -> Vec<String> {
    for i in 0..CLIENTS {
        create_account(&db, &format!("user{i}"), PASSWORD).await;
    }
    let node = start(db.settings("[log]\nlevel = \"warn\"\n")).await;
    let addr = node.local_addr();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let key = random_bytes(&mut OsRng, 32);
        let identity = login(addr, &format!("user{i}"), PASSWORD).await;
        clients.push((access(addr, &identity, &key, false).await, key));
    }
    let mut rows = Vec::new();
    for operation in [Operation::Set, Operation::Get] {
        let (rate, p50, p99) = measure(addr, &clients, operation).await;
        rows.push(format!(
            "| {backend} | {operation:?} | {rate:.0} | {:.2} ms | {:.2} ms |",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        ));
    }
    stop(node).await;
    rows
}

#[async_std::test]
#[ignore = "load figures: run by hand with --release --ignored --nocapture"]
async fn lockbox_load() {
    let mut rows = run(TestDb::sqlite(), "SQLite").await;
    rows.extend(run(TestDb::postgres(), "PostgreSQL").await);
    println!("{CLIENTS} clients, {SECONDS} s per method, 8 values of 1 KB per account");
    println!("| store | method | requests/s | p50 | p99 |");
    for row in rows {
        println!("{row}");
    }
}
