//! The direct path (spec §7.3 step 4): the peer's UDP socket, the host candidate it
//! advertises, and the task that reads every datagram and hands it on. That task depends on no
//! server: it runs until the peer is dropped, whatever happens to the finder link.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_std::net::UdpSocket;
use futures_lite::future;

use super::PeerInner;
use super::connection::Origin;
use super::error::PeerError;

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_536;
/// Pause after a failed receive so that a persistent error does not spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Binds the UDP socket and picks the host candidate to advertise: `advertised` if given, else
/// the bound address with an unspecified IP replaced by loopback.
pub(crate) async fn bind(
    addr: SocketAddr,
    advertised: Option<SocketAddr>,
) -> Result<(UdpSocket, SocketAddr), PeerError> {
    let socket = UdpSocket::bind(addr).await?;
    let bound = socket.local_addr()?;
    let host = advertised.unwrap_or_else(|| match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), bound.port())
        }
        _ => bound,
    });
    Ok((socket, host))
}

/// Starts the task that reads the peer's socket and delivers each datagram
/// ([`PeerInner::deliver`]). Receive errors (an ICMP error of an earlier datagram) are logged
/// and skipped; the task ends only when the peer is dropped.
pub(crate) fn spawn_receiver(peer: &Arc<PeerInner>) {
    let socket = Arc::clone(&peer.socket);
    let stop = peer.stop.1.clone();
    let weak: Weak<PeerInner> = Arc::downgrade(peer);
    async_std::task::spawn(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let receive = async { Some(socket.recv_from(&mut buf).await) };
            let stopped = async {
                let _ = stop.recv().await;
                None
            };
            let received = future::or(receive, stopped).await;
            match received {
                None => break,
                Some(Ok((len, from))) => {
                    let Some(peer) = weak.upgrade() else { break };
                    peer.deliver(Origin::Direct(from), &buf[..len]).await;
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "UDP receive failed");
                    async_std::task::sleep(ERROR_BACKOFF).await;
                }
            }
        }
    });
}
