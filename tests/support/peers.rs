//! Peers as the tests drive them: a time limit on each step, and datagrams both ways.

use std::future::Future;
use std::time::Duration;

use openpeer_gateway::peer::{Connection, Peer};

/// Awaits `future`, failing the test if it takes more than 30 s.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    async_std::future::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what} took too long"))
}

/// Three datagrams each way, each checked.
pub async fn talk(a: &Connection, b: &Connection) {
    for i in 0..3 {
        a.send(format!("from a {i}")).await.expect("send");
        b.send(format!("from b {i}")).await.expect("send");
    }
    for i in 0..3 {
        let got = within("a datagram", b.recv()).await.expect("recv");
        assert_eq!(got, format!("from a {i}").into_bytes());
        let got = within("a datagram", a.recv()).await.expect("recv");
        assert_eq!(got, format!("from b {i}").into_bytes());
    }
}

/// Waits (within 30 s) until none of `peers` holds its finder session any more.
pub async fn until_unregistered(what: &str, peers: &[&Peer]) {
    within(what, async {
        while peers.iter().any(|p| p.is_registered()) {
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
