//! Serving the tide app over TCP, with or without TLS, and stopping it gracefully.
//!
//! tide's own `listen` neither speaks rustls 0.23 nor stops gracefully, so this module owns the
//! accept loop (see `shared/design/dependencies.md`, "Glue"):
//! TCP accept → optional rustls handshake → `async_h1` → [`tide::Server::respond`].
//! Plain HTTP and HTTPS share that one loop; only the handshake step differs.
//!
//! Shutdown ([`RunningServer::shutdown`]) stops accepting at once, closes keep-alive connections
//! that are idle between requests, lets requests in progress finish within
//! [`ServeOptions::shutdown_grace`], and then drops whatever is still open.
//!
//! Limits worth knowing:
//! * async-h1 2.3 has no public setter for its header timeout (it stays at its built-in 60 s), so
//!   [`ServeOptions::request_timeout`] is enforced here instead. It covers the TLS handshake and the
//!   time from the start of waiting for a request until its headers have been read. The handler's
//!   own time and the body upload are not limited here.
//! * Connections upgraded by a handler (WebSocket: `101 Switching Protocols`) leave this module's
//!   control once the upgrade is handed over. Shutdown neither waits for them nor drops them:
//!   whoever took the upgrade has to close them.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_std::channel::{self, Receiver, Sender};
use async_std::net::{TcpListener, TcpStream};
use async_std::task::{self, JoinHandle};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use futures_rustls::TlsAcceptor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tide::http::{Request, Response, StatusCode};

/// How often shutdown re-checks the number of open connections.
const SHUTDOWN_POLL: Duration = Duration::from_millis(20);
/// Pause after a failed `accept` (EMFILE and friends) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long shutdown waits, after the grace period, for dropped connections to unwind.
const DROP_SETTLE: Duration = Duration::from_millis(500);

/// Errors while building the TLS configuration. They name the file involved, because they are
/// read by an operator fixing a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A certificate or key file could not be read or is not valid PEM.
    #[error("cannot read {}: {source}", .path.display())]
    Pem {
        /// The file that failed.
        path: PathBuf,
        /// What went wrong (I/O error or PEM syntax).
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("no certificate in {}", .path.display())]
    NoCertificate {
        /// The certificate file.
        path: PathBuf,
    },
    /// The key file holds no PKCS#8, PKCS#1 or SEC1 private key.
    #[error("no private key in {}", .path.display())]
    NoPrivateKey {
        /// The key file.
        path: PathBuf,
    },
    /// rustls refused the certificate or key (for example a key that does not match the
    /// certificate, or an unsupported key type).
    #[error("TLS configuration rejected: {0}")]
    Tls(#[from] rustls::Error),
    /// The development certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    SelfSigned(#[from] rcgen::Error),
}

/// Where TLS material comes from (mirror of the configuration): PEM files, or a self-signed
/// certificate generated at start-up for development.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// A PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    Files {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
    },
    /// A fresh self-signed certificate for `domain`, `localhost` and `127.0.0.1`. Clients will not
    /// trust it: for development only.
    SelfSigned {
        /// The domain name the certificate is issued for.
        domain: String,
    },
}

/// Builds the rustls server configuration for `source`.
///
/// Always uses the ring provider with rustls' safe default protocol versions, so the whole
/// process has one crypto provider (see `dependencies.md`), and advertises `http/1.1` by ALPN.
pub fn tls_config(source: &TlsSource) -> Result<Arc<rustls::ServerConfig>, NetError> {
    match source {
        TlsSource::Files { cert, key } => {
            let chain = load_certificates(cert)?;
            let key = load_private_key(key)?;
            server_config(chain, key)
        }
        TlsSource::SelfSigned { domain } => self_signed(domain).map(|(config, _)| config),
    }
}

/// Generates a self-signed certificate for `domain`, `localhost` and `127.0.0.1` and a server
/// configuration that uses it. The certificate is returned too, so that tests (and development
/// clients) can trust exactly this certificate.
pub fn self_signed(
    domain: &str,
) -> Result<(Arc<rustls::ServerConfig>, CertificateDer<'static>), NetError> {
    let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(vec![
        domain.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ])?;
    tracing::warn!(
        domain,
        "serving a self-signed TLS certificate: for development only, clients will not trust it"
    );
    let der = cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = server_config(vec![der.clone()], key)?;
    Ok((config, der))
}

/// The one place a `rustls::ServerConfig` is built.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let pem_error = |source| NetError::Pem {
        path: path.to_owned(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if chain.is_empty() {
        return Err(NetError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, NetError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => NetError::NoPrivateKey {
            path: path.to_owned(),
        },
        source => NetError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

/// How to serve: where to listen, whether to speak TLS, and the time limits.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `Some` serves HTTPS with this configuration, `None` plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Limit for the TLS handshake and for a request's headers to arrive (counted from when the
    /// connection starts waiting for the request, so it is also the keep-alive idle limit).
    pub request_timeout: Duration,
    /// How long [`RunningServer::shutdown`] lets requests in progress run before dropping them.
    pub shutdown_grace: Duration,
}

/// Spawns the accept loop on `listener` and returns at once. The caller binds, so it knows the
/// address (port 0 included) before it builds the app.
///
/// The server runs until [`RunningServer::shutdown`] is called. Dropping the [`RunningServer`]
/// instead stops it abruptly: no more accepts, and open connections are dropped at once.
pub async fn serve<S: Clone + Send + Sync + 'static>(
    app: tide::Server<S>,
    listener: TcpListener,
    options: ServeOptions,
) -> io::Result<RunningServer> {
    let local_addr = listener.local_addr()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // Neither channel ever carries a message: closing the sender (explicitly or by drop) is the
    // signal, and every clone of the receiver sees it.
    let (stop_tx, stop_rx) = channel::bounded::<()>(1);
    let (kill_tx, kill_rx) = channel::bounded::<()>(1);
    let open = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        app,
        acceptor: options.tls.map(TlsAcceptor::from),
        request_timeout: options.request_timeout,
        scheme,
        stop: stop_rx,
        kill: kill_rx,
        open: Arc::clone(&open),
    });
    let accept_task = task::spawn(accept_loop(listener, shared));
    tracing::info!(%local_addr, scheme, "listening");
    Ok(RunningServer {
        local_addr,
        scheme,
        shutdown_grace: options.shutdown_grace,
        stop: stop_tx,
        kill: kill_tx,
        open,
        accept_task,
    })
}

/// A server started by [`serve`]. Dropping it stops the server abruptly; call
/// [`shutdown`](Self::shutdown) to stop gracefully.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    scheme: &'static str,
    shutdown_grace: Duration,
    stop: Sender<()>,
    kill: Sender<()>,
    open: Arc<AtomicUsize>,
    accept_task: JoinHandle<()>,
}

impl RunningServer {
    /// The address actually bound (useful when binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `"https"` when serving TLS, `"http"` otherwise; with [`local_addr`](Self::local_addr) this
    /// gives the base URL.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Stops accepting, lets in-flight requests finish (up to `shutdown_grace`), then returns the
    /// number of connections that were still open and got dropped.
    ///
    /// Keep-alive connections idle between requests are closed at once rather than holding the
    /// shutdown; a connection in the middle of a request is closed after its response. After this
    /// returns, new connections to the address are refused.
    pub async fn shutdown(self) -> usize {
        self.stop.close();
        // The accept loop ends promptly once stopped; awaiting it guarantees the listener is
        // closed before we return.
        self.accept_task.await;
        let deadline = deadline_after(self.shutdown_grace);
        loop {
            if self.open.load(Ordering::Acquire) == 0 {
                tracing::info!("server stopped");
                return 0;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            task::sleep(SHUTDOWN_POLL.min(deadline.saturating_duration_since(now))).await;
        }
        let dropped = self.open.load(Ordering::Acquire);
        self.kill.close();
        // Give the dropped connection tasks a moment to unwind so their sockets are closed when
        // we return; they only need to be woken, so this is short.
        let settle = Instant::now() + DROP_SETTLE;
        while self.open.load(Ordering::Acquire) > 0 && Instant::now() < settle {
            task::sleep(Duration::from_millis(5)).await;
        }
        tracing::warn!(
            dropped,
            grace = ?self.shutdown_grace,
            "server stopped; connections still open after the shutdown grace were dropped"
        );
        dropped
    }
}

/// `now + after`, saturating: a configured duration too large for `Instant` means "never" in
/// practice, and must not panic.
fn deadline_after(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 60 * 60)))
        .unwrap_or(now)
}

/// What every connection task needs, shared by one `Arc`.
struct Shared<S> {
    app: tide::Server<S>,
    acceptor: Option<TlsAcceptor>,
    request_timeout: Duration,
    scheme: &'static str,
    /// Closed when shutdown starts: stop accepting, close idle connections.
    stop: Receiver<()>,
    /// Closed when the grace period is over: drop every connection.
    kill: Receiver<()>,
    /// Connection tasks alive (handshaking or serving).
    open: Arc<AtomicUsize>,
}

/// Counts one connection task for as long as it lives, including when it is cancelled.
struct OpenGuard(Arc<AtomicUsize>);

impl OpenGuard {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(open))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn accept_loop<S: Clone + Send + Sync + 'static>(
    listener: TcpListener,
    shared: Arc<Shared<S>>,
) {
    loop {
        // The stop future goes first: `or` polls its first argument first, so a flood of
        // incoming connections cannot keep the loop from seeing the stop.
        let next = future::or(
            async {
                let _ = shared.stop.recv().await;
                None
            },
            async { Some(listener.accept().await) },
        )
        .await;
        match next {
            None => break,
            Some(Ok((tcp, peer))) => {
                let guard = OpenGuard::new(&shared.open);
                let shared = Arc::clone(&shared);
                task::spawn(async move {
                    let _guard = guard;
                    future::or(connection(tcp, peer, &shared), async {
                        let _ = shared.kill.recv().await;
                        tracing::debug!(%peer, "connection dropped at the end of the shutdown grace");
                    })
                    .await;
                });
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "accept failed; backing off");
                task::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    tracing::debug!("accept loop stopped");
}

/// One accepted TCP connection: optional TLS handshake, then HTTP/1.1 requests until the client
/// closes, an error, a timeout or shutdown.
async fn connection<S: Clone + Send + Sync + 'static>(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: &Shared<S>,
) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
    }
    let local = tcp.local_addr().ok();
    match &shared.acceptor {
        None => serve_http(tcp, peer, local, shared).await,
        Some(acceptor) => {
            let handshake = future::or(
                async {
                    Some(
                        async_std::future::timeout(shared.request_timeout, acceptor.accept(tcp))
                            .await,
                    )
                },
                async {
                    let _ = shared.stop.recv().await;
                    None
                },
            )
            .await;
            match handshake {
                Some(Ok(Ok(tls))) => {
                    // async_h1 needs a `Clone` stream (a reader and a writer half).
                    let io = async_dup::Arc::new(async_dup::Mutex::new(tls));
                    serve_http(io, peer, local, shared).await;
                }
                Some(Ok(Err(error))) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Some(Err(_)) => tracing::debug!(%peer, "TLS handshake timed out"),
                None => tracing::debug!(%peer, "TLS handshake abandoned: shutting down"),
            }
        }
    }
}

/// Where a connection stands in its current request, as seen by [`Tracked`] and the endpoint.
/// Waiting for the first byte of the next request.
const IDLE: u8 = 0;
/// Bytes of a request have arrived, its headers are not complete yet.
const READING: u8 = 1;
/// The headers were decoded and the app is handling the request (or the response is being
/// written).
const HANDLING: u8 = 2;
/// The app answered `101 Switching Protocols`: the stream now belongs to the upgrade.
const UPGRADED: u8 = 3;

/// The HTTP/1.1 request loop on one connection.
///
/// async-h1's `accept` gives no hook between requests, so this drives `Server::accept_one` itself
/// and races each call against a watchdog (see [`watchdog`]): that is what lets shutdown close idle
/// keep-alive connections at once, and enforces the header timeout.
async fn serve_http<IO, S>(io: IO, peer: SocketAddr, local: Option<SocketAddr>, shared: &Shared<S>)
where
    IO: AsyncRead + AsyncWrite + Clone + Send + Sync + Unpin + 'static,
    S: Clone + Send + Sync + 'static,
{
    let phase = Arc::new(AtomicU8::new(IDLE));
    let mut io = Tracked {
        inner: io,
        phase: Arc::clone(&phase),
    };
    let scheme = shared.scheme;
    let endpoint = |mut req: Request| {
        let app = shared.app.clone();
        let phase = Arc::clone(&phase);
        phase.store(HANDLING, Ordering::Release);
        async move {
            // Only fails for schemes that cannot be swapped (not http/https); both are fine.
            let _ = req.url_mut().set_scheme(scheme);
            req.set_peer_addr(Some(peer));
            req.set_local_addr(local);
            let res: Response = app.respond(req).await?;
            if res.status() == StatusCode::SwitchingProtocols {
                phase.store(UPGRADED, Ordering::Release);
            }
            Ok(res)
        }
    };
    let mut server = async_h1::server::Server::new(io.clone(), endpoint);
    loop {
        if shared.stop.is_closed() {
            tracing::debug!(%peer, "closing connection: shutting down");
            break;
        }
        phase.store(IDLE, Ordering::Release);
        let outcome = future::or(async { Some(server.accept_one().await) }, async {
            watchdog(
                &phase,
                &shared.stop,
                deadline_after(shared.request_timeout),
                peer,
            )
            .await;
            None
        })
        .await;
        match outcome {
            Some(Ok(async_h1::server::ConnectionStatus::KeepAlive)) => {}
            Some(Ok(async_h1::server::ConnectionStatus::Close)) => break,
            Some(Err(error)) => {
                tracing::debug!(%peer, %error, "HTTP connection error");
                break;
            }
            None => break,
        }
    }
    drop(server);
    if phase.load(Ordering::Acquire) != UPGRADED {
        // Close politely (TLS close_notify, TCP FIN) rather than just dropping the stream; bounded,
        // since a client that stopped reading could stall it.
        match async_std::future::timeout(shared.request_timeout, io.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%peer, %error, "error closing connection"),
            Err(_) => tracing::debug!(%peer, "timed out closing connection"),
        }
    }
}

/// Resolves when the current `accept_one` should be abandoned:
/// * shutdown has started and the connection is idle between requests, or
/// * the request's headers have not arrived by `deadline` (also covers idle keep-alive).
///
/// Never resolves once the app is handling the request: a request in progress is allowed to
/// finish; the shutdown grace bounds it from outside.
///
/// `accept_one` and this watchdog are polled by the same task, so when the watchdog sees `IDLE`
/// no byte of a next request has been consumed and abandoning it loses nothing.
async fn watchdog(phase: &AtomicU8, stop: &Receiver<()>, deadline: Instant, peer: SocketAddr) {
    let mut stopping = stop.is_closed();
    loop {
        let now = Instant::now();
        match phase.load(Ordering::Acquire) {
            HANDLING | UPGRADED => return future::pending().await,
            IDLE if stopping => return,
            _ if now >= deadline => {
                tracing::debug!(%peer, "request headers timed out");
                return;
            }
            _ => {}
        }
        let until_deadline = deadline.saturating_duration_since(now);
        if stopping {
            // Part of a request has arrived: give it until the deadline to become a request.
            task::sleep(until_deadline).await;
        } else {
            stopping = future::or(
                async {
                    let _ = stop.recv().await;
                    true
                },
                async {
                    task::sleep(until_deadline).await;
                    false
                },
            )
            .await;
        }
    }
}

/// A stream that notes when the first byte of a request arrives (`IDLE` → `READING`), so the
/// watchdog can tell an idle keep-alive connection from one in the middle of a request.
#[derive(Clone)]
struct Tracked<IO> {
    inner: IO,
    phase: Arc<AtomicU8>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &result
            && *n > 0
        {
            // Fails (harmlessly) unless we were idle: body reads happen while HANDLING.
            let _ = this
                .phase
                .compare_exchange(IDLE, READING, Ordering::AcqRel, Ordering::Acquire);
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// Resolves when the process receives SIGINT or SIGTERM, to start a graceful shutdown.
///
/// The signals are read by signal-hook on a helper thread (no unsafe code here). Once this
/// future has resolved or been dropped, a further SIGINT or SIGTERM terminates the process at
/// once (status 130 / 143): a stuck shutdown can always be cut short by pressing Ctrl-C again.
/// Call it once per process.
#[cfg(unix)]
pub async fn shutdown_signal() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;
    use std::sync::atomic::AtomicBool;

    // Registered before the iterator, so on a signal it runs first: while the flag is false it
    // does nothing; once set (see `Armed`) the next signal exits.
    let terminate_now = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(
            signal,
            128 + signal,
            Arc::clone(&terminate_now),
        )?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();

    /// Closes the signal iterator (ending the helper thread) and arms the immediate exit, both
    /// when the signal was received and when the future is dropped early.
    struct Armed {
        handle: signal_hook::iterator::Handle,
        terminate_now: Arc<AtomicBool>,
    }
    impl Drop for Armed {
        fn drop(&mut self) {
            self.terminate_now.store(true, Ordering::SeqCst);
            self.handle.close();
        }
    }
    let _armed = Armed {
        handle,
        terminate_now,
    };

    let (tx, rx) = channel::bounded::<i32>(1);
    std::thread::Builder::new()
        .name("shutdown-signal".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // The channel has room for this one message; the receiver may be gone.
                let _ = tx.try_send(signal);
            }
        })?;
    match rx.recv().await {
        Ok(signal) => {
            tracing::info!(signal, "shutdown signal received");
            Ok(())
        }
        Err(_) => Err(io::Error::other("the signal listener stopped unexpectedly")),
    }
}

/// Signals are not wired up on this platform: never resolves.
#[cfg(not(unix))]
pub async fn shutdown_signal() -> io::Result<()> {
    future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_std::io::ReadExt;
    use futures_rustls::TlsConnector;
    use rustls_pki_types::ServerName;

    fn options(tls: Option<Arc<rustls::ServerConfig>>) -> ServeOptions {
        ServeOptions {
            tls,
            request_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(5),
        }
    }

    async fn loopback() -> TcpListener {
        TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind")
    }

    fn app() -> tide::Server<()> {
        let mut app = tide::new();
        app.at("/").get(|_| async { Ok("ok") });
        app.at("/whoami").get(|req: tide::Request<()>| async move {
            Ok(format!(
                "{} {}",
                req.url().scheme(),
                req.peer_addr().unwrap_or("none")
            ))
        });
        app.at("/slow").get(|_| async {
            task::sleep(Duration::from_millis(300)).await;
            Ok("slow done")
        });
        app.at("/stuck").get(|_| async {
            task::sleep(Duration::from_secs(30)).await;
            Ok("never")
        });
        app
    }

    fn request(path: &str, close: bool) -> String {
        let connection = if close { "Connection: close\r\n" } else { "" };
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{connection}\r\n")
    }

    async fn get_plain(addr: SocketAddr, path: &str) -> io::Result<String> {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.write_all(request(path, true).as_bytes()).await?;
        let mut response = String::new();
        tcp.read_to_string(&mut response).await?;
        Ok(response)
    }

    fn client_trusting(cert: CertificateDer<'static>) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("test certificate is valid");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    async fn get_tls(connector: &TlsConnector, addr: SocketAddr, path: &str) -> String {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("valid name");
        let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
        tls.write_all(request(path, true).as_bytes())
            .await
            .expect("write");
        let mut response = String::new();
        tls.read_to_string(&mut response).await.expect("read");
        response
    }

    fn assert_ok(response: &str, body: &str) {
        assert!(
            response.starts_with("HTTP/1.1 200 OK\r\n"),
            "unexpected response: {response:?}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\n{body}")),
            "unexpected body: {response:?}"
        );
    }

    #[async_std::test]
    async fn plain_http_request() {
        let server = serve(app(), loopback().await, options(None))
            .await
            .expect("serve");
        assert_eq!(server.scheme(), "http");
        let response = get_plain(server.local_addr(), "/").await.expect("request");
        assert_ok(&response, "ok");
        let response = get_plain(server.local_addr(), "/whoami")
            .await
            .expect("request");
        assert!(response.contains("\r\n\r\nhttp 127.0.0.1:"), "{response:?}");
        assert_eq!(server.shutdown().await, 0);
    }

    #[async_std::test]
    async fn tls_with_self_signed_certificate() {
        let (config, cert) = self_signed("gateway.test").expect("self-signed");
        let server = serve(app(), loopback().await, options(Some(config)))
            .await
            .expect("serve");
        assert_eq!(server.scheme(), "https");
        let connector = client_trusting(cert);
        assert_ok(&get_tls(&connector, server.local_addr(), "/").await, "ok");
        let response = get_tls(&connector, server.local_addr(), "/whoami").await;
        assert!(
            response.contains("\r\n\r\nhttps 127.0.0.1:"),
            "{response:?}"
        );
        // A client that does not trust the certificate fails the handshake; the server carries on.
        let (_, other) = self_signed("other.test").expect("self-signed");
        let stranger = client_trusting(other);
        let tcp = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        let name = ServerName::try_from("localhost").expect("valid name");
        assert!(stranger.connect(name, tcp).await.is_err());
        assert_ok(&get_tls(&connector, server.local_addr(), "/").await, "ok");
        assert_eq!(server.shutdown().await, 0);
    }

    #[async_std::test]
    async fn shutdown_lets_in_flight_request_finish() {
        let server = serve(app(), loopback().await, options(None))
            .await
            .expect("serve");
        let addr = server.local_addr();
        let in_flight = task::spawn(get_plain(addr, "/slow"));
        // Let the request reach the handler before shutting down.
        task::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        assert_eq!(server.shutdown().await, 0);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_ok(&in_flight.await.expect("response"), "slow done");
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }

    #[async_std::test]
    async fn shutdown_closes_idle_keep_alive_at_once() {
        let server = serve(app(), loopback().await, options(None))
            .await
            .expect("serve");
        let mut tcp = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        tcp.write_all(request("/", false).as_bytes())
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let mut response = Vec::new();
        while !response.ends_with(b"\r\n\r\nok") {
            let n = tcp.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "closed early: {:?}",
                String::from_utf8_lossy(&response)
            );
            response.extend_from_slice(&buf[..n]);
        }
        // The connection is now idle, kept alive: it must not hold the 5 s grace.
        let started = Instant::now();
        assert_eq!(server.shutdown().await, 0);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(tcp.read(&mut buf).await.expect("read EOF"), 0);
    }

    #[async_std::test]
    async fn shutdown_drops_requests_that_outlive_the_grace() {
        let mut opts = options(None);
        opts.shutdown_grace = Duration::from_millis(200);
        let server = serve(app(), loopback().await, opts).await.expect("serve");
        let stuck = task::spawn(get_plain(server.local_addr(), "/stuck"));
        task::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.shutdown().await, 1);
        let response = stuck.await.unwrap_or_default();
        assert!(!response.contains("never"), "{response:?}");
    }

    #[async_std::test]
    async fn silent_connection_times_out() {
        let mut opts = options(None);
        opts.request_timeout = Duration::from_millis(200);
        let server = serve(app(), loopback().await, opts).await.expect("serve");
        let mut tcp = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        let mut buf = [0u8; 16];
        let n = async_std::future::timeout(Duration::from_secs(2), tcp.read(&mut buf))
            .await
            .expect("server closed the silent connection")
            .expect("read");
        assert_eq!(n, 0);
        assert_eq!(server.shutdown().await, 0);
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let path = std::env::temp_dir()
                .join(format!("openpeer-net-test-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&path).expect("create temp dir");
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[async_std::test]
    async fn pem_files() {
        let dir = TempDir::new();
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        let cert_path = dir.0.join("cert.pem");
        let key_path = dir.0.join("key.pem");
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, signing_key.serialize_pem()).expect("write key");

        let config = tls_config(&TlsSource::Files {
            cert: cert_path.clone(),
            key: key_path.clone(),
        })
        .expect("load PEM files");
        let server = serve(app(), loopback().await, options(Some(config)))
            .await
            .expect("serve");
        let connector = client_trusting(cert.der().clone());
        assert_ok(&get_tls(&connector, server.local_addr(), "/").await, "ok");
        assert_eq!(server.shutdown().await, 0);

        let missing = dir.0.join("missing-key.pem");
        let error = tls_config(&TlsSource::Files {
            cert: cert_path.clone(),
            key: missing.clone(),
        })
        .expect_err("missing key file");
        assert!(matches!(error, NetError::Pem { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );

        let error = tls_config(&TlsSource::Files {
            cert: cert_path.clone(),
            key: cert_path.clone(),
        })
        .expect_err("certificate given as key");
        assert_eq!(
            error.to_string(),
            format!("no private key in {}", cert_path.display())
        );

        let empty = dir.0.join("empty.pem");
        std::fs::write(&empty, "").expect("write empty");
        let error = tls_config(&TlsSource::Files {
            cert: empty.clone(),
            key: key_path.clone(),
        })
        .expect_err("empty certificate file");
        assert_eq!(
            error.to_string(),
            format!("no certificate in {}", empty.display())
        );
    }

    #[cfg(unix)]
    #[async_std::test]
    async fn shutdown_signal_resolves_on_sigterm() {
        let mut waiting = Box::pin(shutdown_signal());
        // The first poll installs the handlers (there is no await before that), so the raise
        // below cannot hit the default action.
        assert!(future::poll_once(&mut waiting).await.is_none());
        signal_hook::low_level::raise(signal_hook::consts::SIGTERM).expect("raise");
        async_std::future::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("signal seen")
            .expect("no error");
    }
}
