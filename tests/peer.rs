//! The peer client (`openpeer_gateway::peer`) against the real gateway: bootstrap,
//! `session-create` and keep-alive; two peers that find each other, hand off over UDP and keep
//! talking after the gateway process is killed; the finder relay when the direct path is
//! blocked; a find for a peer that left.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use async_std::net::UdpSocket;
use openpeer_gateway::peer::{Connection, Peer, PeerError, PeerOptions};
use openpeer_protocol::uri::DomainName;
use support::peers::{talk, until_unregistered, within};
use support::process::{Serving, free_port};
use support::{TestDb, self_signed_pem, start, stop, tls_toml, unix_now, write_config};

crate::on_both_backends!(
    a_peer_registers_and_keeps_its_session_alive,
    two_peers_hand_off_and_outlive_the_gateway_process,
);

fn options(addr: SocketAddr) -> PeerOptions {
    PeerOptions::new(
        format!("http://{addr}"),
        DomainName::parse("localhost").unwrap(),
    )
}

async fn a_peer_registers_and_keeps_its_session_alive(db: TestDb) {
    // Four-second sessions, purged within a second of lapsing: only keep-alives hold this one.
    let node =
        start(db.settings("[finder]\nsession_ttl_seconds = 4\nnode_ttl_seconds = 3\n")).await;
    let mut options = options(node.local_addr());
    options.keep_alive_margin = Duration::from_secs(1);
    let peer = within("the start", Peer::start(options))
        .await
        .expect("the peer starts");
    assert_eq!(peer.contact().domain().as_str(), "localhost");
    let file = peer.public_peer_file();
    assert_eq!(file.contact(), peer.contact());
    assert!(file.find_secret().is_some(), "findable");
    assert!(
        file.salt_verified(),
        "salt checked against certificates-get"
    );
    assert!(peer.is_registered());
    let first = peer.session_expires();
    assert!(first.abs_diff(unix_now() + 4) <= 2, "expires {first}");
    db.wait_for_count("finder_locations", 1).await;

    async_std::task::sleep(Duration::from_secs(7)).await;
    assert!(
        peer.session_expires() > first + 2,
        "keep-alives moved the expiry"
    );
    assert!(peer.is_registered());
    assert_eq!(
        db.count("finder_locations").await,
        1,
        "still registered past the first expiry"
    );

    peer.close().await;
    db.wait_for_count("finder_locations", 0).await;
    // The row goes with session-delete; the WebSocket closes just after.
    until_unregistered("the finder link to close", &[&peer]).await;
    stop(node).await;
}

#[async_std::test]
async fn a_peer_cannot_start_on_a_domain_that_is_not_served() {
    let db = TestDb::sqlite();
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    // The gateway serves `localhost` only.
    let other = PeerOptions::new(
        format!("http://{addr}"),
        DomainName::parse("example.org").unwrap(),
    );
    let refused = within("the start", Peer::start(other)).await;
    assert!(
        matches!(refused, Err(PeerError::Refused { code: 404, .. })),
        "{refused:?}"
    );
    stop(node).await;
    // Nothing listens any more.
    let gone = within("the start", Peer::start(options(addr))).await;
    assert!(matches!(gone, Err(PeerError::Http(_))), "{gone:?}");
}

/// A finds B by its public peer file; B accepts.
async fn find(a: &Peer, b: &Peer) -> (Connection, Connection) {
    let listener = b.clone();
    let accepting = async_std::task::spawn(async move { listener.accept().await });
    let to_b = within("the find", a.find(b.public_peer_file()))
        .await
        .expect("A finds B");
    let to_a = within("the accept", accepting).await.expect("B accepts");
    assert_eq!(to_b.remote(), b.contact());
    assert_eq!(to_a.remote(), a.contact());
    (to_b, to_a)
}

/// The seeds' resilience claim: the gateway process is killed (SIGKILL, no goodbye) after the
/// hand-off, and the peers keep talking; only finding needs the finder.
async fn two_peers_hand_off_and_outlive_the_gateway_process(db: TestDb) {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let config = write_config(&db.dir, &db.url, &addr.to_string(), "");
    let log = db.dir.join("serve.log");
    let mut serving =
        async_std::task::spawn_blocking(move || Serving::start(log, &config, addr)).await;
    // A generous direct timeout: on a loaded machine the hand-off must still be direct, since
    // a relayed one would end with the gateway.
    let patient = || PeerOptions {
        direct_timeout: Duration::from_secs(10),
        ..options(addr)
    };
    let a = Peer::start(patient()).await.expect("A");
    let b = Peer::start(patient()).await.expect("B");
    db.wait_for_count("finder_locations", 2).await;
    let (to_b, to_a) = find(&a, &b).await;
    assert!(!to_b.is_relayed() && !to_a.is_relayed());
    talk(&to_b, &to_a).await;
    let status = serving.signal("KILL");
    assert!(!status.success(), "killed, not exited: {status}");
    until_unregistered("both finder links to drop", &[&a, &b]).await;
    talk(&to_b, &to_a).await;
    talk(&to_a, &to_b).await;
    let refused = within("a find without a finder", a.find(b.public_peer_file())).await;
    assert!(matches!(refused, Err(PeerError::LinkClosed)), "{refused:?}");
}

#[async_std::test]
async fn a_blocked_direct_path_falls_back_to_the_relay() {
    let db = TestDb::sqlite();
    let node = start(db.settings("")).await;
    // B advertises a UDP address where nothing is ever read.
    let dead = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut a_options = options(node.local_addr());
    a_options.direct_timeout = Duration::from_millis(500);
    let a = Peer::start(a_options).await.expect("A");
    let mut b_options = options(node.local_addr());
    b_options.advertised_host = Some(dead.local_addr().expect("addr"));
    let b = Peer::start(b_options).await.expect("B");
    let (to_b, to_a) = find(&a, &b).await;
    assert!(to_b.is_relayed() && to_a.is_relayed());
    talk(&to_b, &to_a).await;
    // Closing one end closes the relay channel at the other.
    drop(to_b);
    let closed = within("the close", to_a.recv()).await;
    assert!(matches!(closed, Err(PeerError::Closed)), "{closed:?}");
    stop(node).await;
}

/// With TLS on, the finder is `wss://` and the relay link too: peers that trust the domain's
/// certificate register, find and relay through it.
#[async_std::test]
async fn peers_of_a_tls_domain_use_wss_for_the_finder_and_the_relay() {
    let db = TestDb::sqlite();
    let (cert, cert_path, key_path) = self_signed_pem(&db.dir);
    let node = start(db.settings(&tls_toml(&cert_path, &key_path))).await;
    let tls_options = || {
        let mut options = PeerOptions::new(
            format!("https://localhost:{}", node.local_addr().port()),
            DomainName::parse("localhost").unwrap(),
        );
        options.extra_root_pems = vec![cert.pem().into_bytes()];
        options.direct_timeout = Duration::from_millis(300);
        options
    };
    let dead = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let a = Peer::start(tls_options()).await.expect("A over TLS");
    let mut b_options = tls_options();
    b_options.advertised_host = Some(dead.local_addr().expect("addr"));
    let b = Peer::start(b_options).await.expect("B over TLS");
    let (to_b, to_a) = find(&a, &b).await;
    assert!(to_b.is_relayed() && to_a.is_relayed());
    talk(&to_b, &to_a).await;
    // A peer that does not trust the certificate cannot even bootstrap.
    let mut untrusting = tls_options();
    untrusting.extra_root_pems.clear();
    let refused = Peer::start(untrusting).await;
    assert!(matches!(refused, Err(PeerError::Http(_))), "{refused:?}");
    stop(node).await;
}

#[async_std::test]
async fn finding_a_peer_that_left_is_refused() {
    let db = TestDb::sqlite();
    let node = start(db.settings("")).await;
    let a = Peer::start(options(node.local_addr())).await.expect("A");
    let b = Peer::start(options(node.local_addr())).await.expect("B");
    b.close().await;
    db.wait_for_count("finder_locations", 1).await;
    let refused = within("the find", a.find(b.public_peer_file())).await;
    assert!(
        matches!(refused, Err(PeerError::Refused { code: 404, .. })),
        "{refused:?}"
    );
    stop(node).await;
}
