//! The Rust peer's account login (spec §7.2) against the real gateway: the first device makes
//! the peer and keeps its private peer file in the lockbox; a second device with the same login
//! reads it back and registers at the finder as the same peer, found by the identity; a third
//! device that resets the lockbox gets a fresh lockbox, and the old peer file is gone.

mod support;

use std::net::SocketAddr;

use openpeer_gateway::peer::{AccountLogin, Directory, Peer, PeerOptions};
use openpeer_protocol::canonical::render_object;
use openpeer_protocol::derivation::stable_id;
use openpeer_protocol::uri::DomainName;
use support::identity::create_account;
use support::peers::within;
use support::{TestDb, start, stop};

crate::on_both_backends!(devices_of_one_user_are_one_peer);

const PASSWORD: &str = "correct horse";

fn options(addr: SocketAddr) -> PeerOptions {
    PeerOptions::new(
        format!("http://{addr}"),
        DomainName::parse("localhost").unwrap(),
    )
}

/// What a device ended up with.
struct Device {
    login: AccountLogin,
    peer: Peer,
}

/// One device: logs alice in (§7.2), starts her peer and publishes it.
async fn device(addr: SocketAddr, reset: bool) -> Device {
    let directory = Directory::bootstrap(&options(addr))
        .await
        .expect("bootstrap");
    let login = within(
        "the login",
        directory.login_account("alice", PASSWORD, reset),
    )
    .await
    .expect("login");
    let peer = within("the start", Peer::start_as(options(addr), &login))
        .await
        .expect("the peer starts");
    directory
        .publish(&login.identity, &peer, &login.lockbox.stable_id())
        .await
        .expect("identity-lookup-update");
    Device { login, peer }
}

async fn devices_of_one_user_are_one_peer(db: TestDb) {
    create_account(&db, "alice", PASSWORD).await;
    let node = start(db.settings("[peer_services]\nstun = [\"stun:127.0.0.1:3478\"]\n")).await;
    let addr = node.local_addr();

    let Device {
        login: first,
        peer: first_peer,
    } = device(addr, false).await;
    assert!(first.new_peer, "the first device makes the peer");
    assert_eq!(first.identity.uri, "identity://localhost/alice");
    assert_eq!(
        first.lockbox.stable_id(),
        stable_id("localhost", &first.lockbox.account_id)
    );
    assert_eq!(first.ice_servers.len(), 1);
    assert_eq!(first.ice_servers[0].uri, "stun:127.0.0.1:3478");
    assert_eq!(db.count("lockbox_accounts").await, 1);
    // The private peer file and its secret, as ciphertext; the lockbox key sealed by the client.
    assert_eq!(db.count("lockbox_values").await, 2);
    assert_eq!(db.count("identity_lockbox_keys").await, 1);

    let Device {
        login: second,
        peer: second_peer,
    } = device(addr, false).await;
    assert!(!second.new_peer, "the second device reads the peer back");
    assert_eq!(second.lockbox.account_id, first.lockbox.account_id);
    assert_eq!(second_peer.contact(), first_peer.contact());
    assert_eq!(
        render_object(second.peer_file.document()),
        render_object(first.peer_file.document()),
        "the same public peer file"
    );
    db.wait_for_count("finder_locations", 2).await;

    // Anyone finds alice's peer by her identity.
    let directory = Directory::bootstrap(&options(addr))
        .await
        .expect("bootstrap");
    let found = directory
        .lookup("identity://localhost/alice")
        .await
        .expect("identity-lookup");
    assert_eq!(found.contact(), first_peer.contact());

    // A reset makes a new key: the lockbox is the same account, emptied, and a new peer is made.
    let Device {
        login: third,
        peer: third_peer,
    } = device(addr, true).await;
    assert!(third.new_peer);
    assert_eq!(third.lockbox.account_id, first.lockbox.account_id);
    assert_ne!(third_peer.contact(), first_peer.contact());
    assert_eq!(
        db.count("lockbox_values").await,
        2,
        "only the new peer file"
    );
    // The next login opens the reset lockbox with the key kept at the identity service.
    let fourth = device(addr, false).await.login;
    assert!(!fourth.new_peer);
    assert_eq!(fourth.peer_file.contact(), third_peer.contact());

    stop(node).await;
}
