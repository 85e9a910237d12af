//! A loopback TCP proxy that holds back chosen answers: every connection is forwarded to an
//! upstream address as is, except that on a connection whose request starts with a given prefix
//! (e.g. `POST /token `) the upstream's answer is delayed before it is passed on. One request per
//! connection is assumed for the delay decision (clients that send `Connection: close`, as the
//! identity-provider HTTP client does).
//!
//! Used to let a short-lived token expire in transit: an OpenID provider mints the ID token at
//! the token endpoint, so only a delay between minting and the relying party's check can age it.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running proxy; stops accepting on drop (connections in flight finish on their own).
#[derive(Debug)]
pub struct DelayProxy {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    prefix: Vec<u8>,
    delay: Duration,
    delayed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DelayProxy {
    /// Binds a free loopback port; nothing is forwarded until [`forward_to`](Self::forward_to).
    /// Answers to requests starting with `prefix` are held back `delay`.
    pub fn bind(prefix: &str, delay: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        DelayProxy {
            addr: listener.local_addr().expect("proxy address"),
            listener: Some(listener),
            prefix: prefix.as_bytes().to_vec(),
            delay,
            delayed: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many answers were held back so far.
    pub fn delayed(&self) -> usize {
        self.delayed.load(Ordering::SeqCst)
    }

    /// Starts forwarding every accepted connection to `upstream`.
    pub fn forward_to(&mut self, upstream: SocketAddr) {
        let listener = self.listener.take().expect("forward_to is called once");
        let (prefix, delay) = (self.prefix.clone(), self.delay);
        let (delayed, stop) = (Arc::clone(&self.delayed), Arc::clone(&self.stop));
        self.thread = Some(std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let matched = Arc::new(OnceLock::<bool>::new());
                let prefix = prefix.clone();
                let delayed = Arc::clone(&delayed);
                let (client_in, server_out) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let seen = Arc::clone(&matched);
                // Client to upstream: notes whether the request starts with the prefix.
                std::thread::spawn(move || {
                    pump(client_in, server_out, |first| {
                        let _ = seen.set(first.starts_with(&prefix));
                    })
                });
                // Upstream to client: waits before the first bytes of a matched request's answer.
                std::thread::spawn(move || {
                    pump(server, client, |_| {
                        if matched.get() == Some(&true) {
                            delayed.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(delay);
                        }
                    })
                });
            }
        }));
    }
}

/// Copies `from` to `to` until EOF, calling `on_first` with the first chunk before passing it on,
/// then half-closes `to`.
fn pump(mut from: TcpStream, mut to: TcpStream, on_first: impl FnOnce(&[u8])) {
    let mut on_first = Some(on_first);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(f) = on_first.take() {
                    f(&buf[..n]);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // Wake the accept loop so it sees `stop`.
            let _ = TcpStream::connect(self.addr);
            let _ = thread.join();
        }
    }
}
