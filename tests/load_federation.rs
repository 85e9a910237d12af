//! Figures of issue 2.1, with two release-built gateways on loopback (`alpha.test` and
//! `beta.test`, SQLite, plain HTTP), run by hand (needs wrk):
//!
//! ```sh
//! apt-get install wrk
//! cargo test --release --test load_federation -- --ignored --nocapture --test-threads 1
//! ```
//!
//! * the latency a cross-domain find adds over a same-domain find: a requester at alpha finds,
//!   one at a time, a peer at alpha and a peer at beta, each answering the forwarded find with a
//!   notify at once; find sent → notify received, p50/p99;
//! * `identity-lookup` of 50 identities of beta asked at alpha, cold (a fresh alpha process
//!   state, certificates from its database) and warm (answers cached), against the same lookup
//!   of the 50 as beta's own identities at beta (wrk `-t2 -c32 -d10s`).

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt as _;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::signature::SigningKey;
use support::federation::{Pair, pair_with};
use support::finder::{Socket, connect, exchange, find_request, good_in_own_domain};
use support::identity::{
    create_account_of, login_of, lookup_body_at, lookup_update_body, peer_of, protocol_for,
};
use support::{TempDir, TestDb, call, ok_body, post, start, stop};

const FINDS: usize = 2000;
const WARM_UP: usize = 100;
const IDENTITIES: usize = 50;
const LOOKUP: &str = "/openpeer/identity-lookup/identity-lookup";

/// A raw finder session of a fresh peer of `domain` at `addr`.
async fn session(addr: SocketAddr, domain: &str) -> (Socket, SigningKey, PublicPeerFile) {
    let (key, file) = peer_of(addr, domain).await;
    let mut socket = connect(addr).await;
    let created = exchange(&mut socket, good_in_own_domain(&key, &file)).await;
    assert!(created.error().is_none(), "{created:?}");
    (socket, key, file)
}

/// Answers every forwarded find on `socket` with a notify of the same `$id`, at once.
fn answer_finds(mut socket: Socket, domain: &'static str) {
    async_std::task::spawn(async move {
        while let Some(Ok(WsMessage::Text(text))) = socket.next().await {
            let Ok(find) = message::decode(text.as_str()) else {
                continue;
            };
            if find.envelope.kind != MessageKind::Request {
                continue;
            }
            let envelope = Envelope {
                domain: Some(domain.into()),
                id: find.envelope.id.clone(),
                ..Envelope::new(MessageKind::Notify, Method::PeerLocationFind)
            };
            let notify = message::encode(&Message::new(envelope, Object::new()));
            if socket.send(WsMessage::text(notify)).await.is_err() {
                break;
            }
        }
    });
}

/// `count` finds of `target`, one at a time: the find → notify latencies, sorted.
async fn find_latencies(
    socket: &mut Socket,
    key: &SigningKey,
    file: &PublicPeerFile,
    target: &PublicPeerFile,
    count: usize,
) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let from = file.contact().to_string();
        let secret = target.find_secret().expect("findable");
        let domain = file.contact().domain().to_string();
        let target = target.contact().to_string();
        let (id, text) = find_request(&domain, &from, Some(key), &target, secret);
        let sent = Instant::now();
        socket.send(WsMessage::text(text)).await.expect("send");
        loop {
            let Some(Ok(WsMessage::Text(text))) = socket.next().await else {
                panic!("the finder closed")
            };
            let received = message::decode(text.as_str()).expect("a message");
            assert!(received.error().is_none(), "{received:?}");
            if received.envelope.kind == MessageKind::Notify
                && received.envelope.id.as_deref() == Some(id.as_str())
            {
                break;
            }
        }
        latencies.push(sent.elapsed());
    }
    latencies.sort_unstable();
    latencies
}

fn percentile(sorted: &[Duration], p: usize) -> f64 {
    let at = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[at].as_secs_f64() * 1000.0
}

fn pair() -> Pair {
    let quiet = "log.level = \"warn\"\nfinder.max_finds_per_second = 100000";
    pair_with(TestDb::sqlite(), false, quiet, quiet)
}

#[async_std::test]
#[ignore = "load figures: run by hand with --release --ignored --nocapture"]
async fn cross_domain_find_latency() {
    let pair = pair();
    let alpha = start(pair.alpha.settings()).await;
    let beta = start(pair.beta.settings()).await;
    let (mut requester, key, file) = session(alpha.local_addr(), "alpha.test").await;
    let (local, _, local_file) = session(alpha.local_addr(), "alpha.test").await;
    let (remote, _, remote_file) = session(beta.local_addr(), "beta.test").await;
    answer_finds(local, "alpha.test");
    answer_finds(remote, "beta.test");
    find_latencies(&mut requester, &key, &file, &local_file, WARM_UP).await;
    find_latencies(&mut requester, &key, &file, &remote_file, WARM_UP).await;
    let same = find_latencies(&mut requester, &key, &file, &local_file, FINDS).await;
    let cross = find_latencies(&mut requester, &key, &file, &remote_file, FINDS).await;
    println!("{FINDS} finds each, one at a time, after {WARM_UP} warm-up finds");
    for (what, sorted) in [("same-domain", &same), ("cross-domain", &cross)] {
        println!(
            "{what:<13} p50 {:.3} ms  p99 {:.3} ms",
            percentile(sorted, 50),
            percentile(sorted, 99)
        );
    }
    println!(
        "added         p50 {:.3} ms  p99 {:.3} ms",
        percentile(&cross, 50) - percentile(&same, 50),
        percentile(&cross, 99) - percentile(&same, 99)
    );
    stop(alpha).await;
    stop(beta).await;
}

/// wrk against `path` of `addr` with `request`: its RESULT line.
fn wrk(addr: SocketAddr, path: &str, request: &str, dir: &TempDir, name: &str) -> String {
    let body_file = dir.join(name);
    std::fs::write(&body_file, request).unwrap();
    let output = Command::new("wrk")
        .args(["-t2", "-c32", "-d10s", "--latency", "-s"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/load/post.lua"))
        .arg(format!("http://{addr}{path}"))
        .env("BODY_FILE", &body_file)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line from wrk: {text}"))
        .to_owned()
}

#[async_std::test]
#[ignore = "load figures: run by hand with --release --ignored --nocapture (needs wrk)"]
async fn remote_identity_lookup_throughput() {
    let pair = pair();
    for i in 0..IDENTITIES {
        create_account_of(
            &pair.beta.db,
            "beta.test",
            &format!("user{i}"),
            "correct horse",
        )
        .await;
    }
    let beta = start(pair.beta.settings()).await;
    let beta_addr = beta.local_addr();
    for i in 0..IDENTITIES {
        let body = format!("{{\"username\":\"user{i}\",\"password\":\"correct horse\"}}");
        let login = login_of(
            &post(beta_addr, "/identity/v1/local/login", &body)
                .await
                .message(),
        );
        let (key, file) = peer_of(beta_addr, "beta.test").await;
        let update = protocol_for(
            "beta.test",
            Method::IdentityLookupUpdate,
            lookup_update_body(&login, &key, &file),
        );
        ok_body(
            &call(
                beta_addr,
                "/openpeer/identity/identity-lookup-update",
                &update,
            )
            .await,
        );
    }
    let names: Vec<String> = (0..IDENTITIES).map(|i| format!("user{i}")).collect();
    let body = lookup_body_at("identity://beta.test/", &names.join(","));
    let at_alpha = protocol_for("alpha.test", Method::IdentityLookup, body.clone());
    let at_beta = protocol_for("beta.test", Method::IdentityLookup, body);
    let mut cold = Vec::new();
    for _ in 0..5 {
        // A fresh node: nothing cached in memory (certificates come from its database).
        let alpha = start(pair.alpha.settings()).await;
        let started = Instant::now();
        let answer = call(alpha.local_addr(), LOOKUP, &at_alpha).await;
        cold.push(started.elapsed());
        let items = ok_body(&answer)
            .get_object("identities")
            .unwrap()
            .get_list("identity")
            .len();
        assert_eq!(items, IDENTITIES);
        stop(alpha).await;
    }
    cold.sort_unstable();
    let alpha = start(pair.alpha.settings()).await;
    ok_body(&call(alpha.local_addr(), LOOKUP, &at_alpha).await);
    let dir = TempDir::new("federation-load");
    let warm = wrk(alpha.local_addr(), LOOKUP, &at_alpha, &dir, "remote.json");
    let local = wrk(beta_addr, LOOKUP, &at_beta, &dir, "local.json");
    println!("identity-lookup of {IDENTITIES} identities of beta.test");
    println!(
        "cold at alpha (fresh node, 5 runs): median {:.1} ms, max {:.1} ms",
        cold[2].as_secs_f64() * 1000.0,
        cold[4].as_secs_f64() * 1000.0
    );
    println!("warm at alpha (wrk -t2 -c32 -d10s): {warm}");
    println!("local at beta (wrk -t2 -c32 -d10s): {local}");
    stop(alpha).await;
    stop(beta).await;
}
