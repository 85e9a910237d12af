//! Two independent domains as two real gateway processes (`alpha.test` on HTTP, `beta.test` on
//! TLS with a test certificate alpha trusts through `federation.extra_roots`): a peer of alpha
//! that knows only `identity://beta.test/bob` looks bob up through its own gateway, finds him
//! through its own finder (which forwards the find over a finder-to-finder link), hands off
//! over UDP, and keeps talking after both gateways are killed; and the relay fallback across
//! domains, at beta's finder.

mod support;

use std::time::Duration;

use async_std::net::UdpSocket;
use openpeer_gateway::peer::{Connection, Directory, Peer};
use support::federation::{Pair, pair, published_peer};
use support::peers::{talk, until_unregistered, within};
use support::process::Serving;
use support::{TestDb, start, stop};

crate::on_both_backends!(a_peer_finds_another_domains_peer_by_identity_and_outlives_both_gateways);

/// alice (of alpha) looks bob up by identity through alpha and finds him; bob accepts.
async fn alice_finds_bob(pair: &Pair, alice: &Peer, bob: &Peer) -> (Connection, Connection) {
    let directory = Directory::bootstrap(&pair.alpha.peer_options(&[]))
        .await
        .expect("alpha's directory");
    let file = within("the lookup", directory.lookup("identity://beta.test/bob"))
        .await
        .expect("bob is found through alpha");
    assert_eq!(file.contact(), bob.contact());
    let listener = bob.clone();
    let accepting = async_std::task::spawn(async move { listener.accept().await });
    let to_bob = within("the find", alice.find(&file))
        .await
        .expect("alice finds bob across domains");
    let to_alice = within("the accept", accepting).await.expect("bob accepts");
    assert_eq!(to_bob.remote(), bob.contact());
    assert_eq!(to_alice.remote(), alice.contact());
    (to_bob, to_alice)
}

async fn a_peer_finds_another_domains_peer_by_identity_and_outlives_both_gateways(db: TestDb) {
    let pair = pair(db, "", "");
    let (alpha_config, beta_config) = (pair.alpha.config.clone(), pair.beta.config.clone());
    let (alpha_log, beta_log) = (
        pair.alpha.db.dir.join("alpha.log"),
        pair.beta.db.dir.join("beta.log"),
    );
    let (alpha_addr, beta_addr) = (pair.alpha.addr, pair.beta.addr);
    let mut alpha = async_std::task::spawn_blocking(move || {
        Serving::start(alpha_log, &alpha_config, alpha_addr)
    })
    .await;
    let cert = pair.beta_cert.clone();
    let mut beta = async_std::task::spawn_blocking(move || {
        Serving::start_tls(beta_log, &beta_config, beta_addr, &cert)
    })
    .await;
    let roots = [pair.beta_cert.clone()];
    let bob = published_peer(&pair.beta, "bob", pair.beta.peer_options(&roots)).await;
    assert_eq!(bob.contact().domain().as_str(), "beta.test");
    let alice = Peer::start(pair.alpha.peer_options(&[]))
        .await
        .expect("alice starts");
    let (to_bob, to_alice) = alice_finds_bob(&pair, &alice, &bob).await;
    assert!(!to_bob.is_relayed() && !to_alice.is_relayed(), "direct");
    talk(&to_bob, &to_alice).await;
    // alpha verified beta's certificates and keeps them; beta verified alpha's for the link.
    assert_eq!(pair.alpha.db.count("remote_certificates").await, 1);
    assert_eq!(pair.beta.db.count("remote_certificates").await, 1);
    for serving in [&mut alpha, &mut beta] {
        let status = serving.signal("KILL");
        assert!(!status.success(), "killed, not exited: {status}");
    }
    until_unregistered("both finder sessions to drop", &[&alice, &bob]).await;
    talk(&to_bob, &to_alice).await;
    talk(&to_alice, &to_bob).await;
}

#[async_std::test]
async fn a_blocked_direct_path_falls_back_to_the_relay_at_the_other_domains_finder() {
    let pair = pair(TestDb::sqlite(), "", "");
    let alpha = start(pair.alpha.settings()).await;
    let beta = start(pair.beta.settings()).await;
    let roots = [pair.beta_cert.clone()];
    // bob advertises a UDP address where nothing is ever read.
    let dead = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut bob_options = pair.beta.peer_options(&roots);
    bob_options.advertised_host = Some(dead.local_addr().expect("addr"));
    let bob = published_peer(&pair.beta, "bob", bob_options).await;
    // alice trusts beta's certificate: the relay is beta's `wss` finder.
    let mut alice_options = pair.alpha.peer_options(&roots);
    alice_options.direct_timeout = Duration::from_millis(500);
    let alice = Peer::start(alice_options).await.expect("alice starts");
    let (to_bob, to_alice) = alice_finds_bob(&pair, &alice, &bob).await;
    assert!(to_bob.is_relayed() && to_alice.is_relayed(), "relayed");
    talk(&to_bob, &to_alice).await;
    stop(alpha).await;
    stop(beta).await;
}

/// beta's process stops and starts again: alpha's link dies with it, and the next find opens
/// a new one.
#[async_std::test]
async fn a_link_lost_with_a_restarting_domain_is_opened_again_on_the_next_find() {
    let pair = pair(TestDb::sqlite(), "", "");
    let alpha = start(pair.alpha.settings()).await;
    let start_beta = || {
        let (config, addr, cert) = (
            pair.beta.config.clone(),
            pair.beta.addr,
            pair.beta_cert.clone(),
        );
        let log = pair.beta.db.dir.join("beta.log");
        async_std::task::spawn_blocking(move || Serving::start_tls(log, &config, addr, &cert))
    };
    let mut beta = start_beta().await;
    let roots = [pair.beta_cert.clone()];
    let alice = Peer::start(pair.alpha.peer_options(&roots))
        .await
        .expect("alice starts");
    let bob = published_peer(&pair.beta, "bob", pair.beta.peer_options(&roots)).await;
    let (to_bob, to_alice) = alice_finds_bob(&pair, &alice, &bob).await;
    talk(&to_bob, &to_alice).await;
    let links = &alpha.gateway().services.bridge().links;
    assert_eq!(links.open_count(), 1);
    let status = beta.signal("TERM");
    assert!(status.success(), "beta stops: {status}");
    within("alpha to notice the link closed", async {
        while links.open_count() > 0 {
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let _beta = start_beta().await;
    // bob's session went with the old process: he registers again.
    let bob = Peer::start(pair.beta.peer_options(&roots))
        .await
        .expect("bob starts again");
    let listener = bob.clone();
    let accepting = async_std::task::spawn(async move { listener.accept().await });
    let again = within(
        "the find after the restart",
        alice.find(bob.public_peer_file()),
    )
    .await
    .expect("a new link carries the find");
    let accepted = within("the accept", accepting).await.expect("bob accepts");
    talk(&again, &accepted).await;
    assert_eq!(links.open_count(), 1);
    stop(alpha).await;
}
