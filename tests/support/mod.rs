//! Shared harness of the integration tests: real databases (a fresh SQLite file or a fresh
//! PostgreSQL database per test), settings files, a gateway on a free loopback port, and a tiny
//! HTTP/1.1 client (plain and over rustls) that reads each answer to EOF.
//!
//! Each test binary uses only part of it.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_std::net::TcpStream;
use futures_lite::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use futures_rustls::TlsConnector;
use openpeer_gateway::app::{self, RunningGateway};
use openpeer_gateway::config::Settings;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, ErrorResult, Message, MessageKind};
use rand_core::{OsRng, RngCore as _};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sea_orm::{ConnectionTrait as _, Database, Statement};

pub use openpeer_federation::clock::unix_now;

pub mod federation;
pub mod finder;
pub mod identity;
pub mod lockbox;
pub mod oidc;
pub mod peers;
pub mod process;
pub mod proxy;
pub mod turn;

// ---------------------------------------------------------------------------------------------
// Scratch directories

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty, uniquely named directory.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "openpeer-it-{label}-{}-{}-{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            OsRng.next_u32()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Databases

const PG_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 5432);

fn postgres_accepts() -> bool {
    StdTcpStream::connect_timeout(&SocketAddr::from(PG_ADDR), Duration::from_secs(1)).is_ok()
}

/// Makes sure PostgreSQL listens on 127.0.0.1:5432, starting the local cluster if needed; panics
/// when it cannot (a missing PostgreSQL is a failure, never a skip). Runs once per test binary.
pub fn ensure_postgres() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        if postgres_accepts() {
            return;
        }
        let started = Command::new("sh")
            .args([
                "-c",
                "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            ])
            .output();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if postgres_accepts() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "PostgreSQL is not accepting connections on 127.0.0.1:5432 and could not be started \
             (pg_ctlcluster: {started:?}); the storage tests need it"
        );
    });
}

fn psql(sql: &str) -> std::process::Output {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ])
        .output()
        .expect("run psql")
}

/// Which storage backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A database of its own for one test (and a scratch directory for its files), removed on drop.
#[derive(Debug)]
pub struct TestDb {
    /// The backend.
    pub backend: Backend,
    /// The sea-orm URL.
    pub url: String,
    /// Scratch directory: the SQLite file, settings files, PEM files.
    pub dir: TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    /// A fresh SQLite file in a fresh directory.
    pub fn sqlite() -> TestDb {
        let dir = TempDir::new("sqlite");
        let url = format!("sqlite://{}/gw.db?mode=rwc", dir.path().display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            dir,
            pg_name: None,
        }
    }

    /// A fresh, uniquely named PostgreSQL database.
    pub fn postgres() -> TestDb {
        ensure_postgres();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "openpeer_test_{}_{}_{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            OsRng.next_u32()
        );
        let out = psql(&format!("CREATE DATABASE {name}"));
        assert!(
            out.status.success(),
            "CREATE DATABASE {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestDb {
            backend: Backend::Postgres,
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            dir: TempDir::new("pg"),
            pg_name: Some(name),
        }
    }

    /// A new database of `backend`.
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres(),
        }
    }

    /// Settings over this database: `extra_toml` layered over a file that binds 127.0.0.1:0.
    pub fn settings(&self, extra_toml: &str) -> Settings {
        settings_in(&self.dir, &self.url, extra_toml)
    }

    /// Settings over this database that bind `bind` (e.g. `127.0.0.1:PORT`, a port picked ahead
    /// so that URLs built from it can be registered elsewhere first), then `extra_toml`.
    pub fn settings_at(&self, bind: &str, extra_toml: &str) -> Settings {
        let path = write_config(&self.dir, &self.url, bind, extra_toml);
        Settings::load(Some(&path)).unwrap_or_else(|e| panic!("settings {path:?}: {e}"))
    }

    /// Rows of `table`, read over a connection of its own (not the server's).
    pub async fn count(&self, table: &str) -> i64 {
        let db = Database::connect(self.url.as_str())
            .await
            .expect("second connection to the test database");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("a count row");
        let n: i64 = row.try_get_by_index(0).expect("count value");
        db.close().await.expect("close");
        n
    }

    /// Waits up to 5 s for `table` to hold `rows` rows (the server writes after it answers, or
    /// when a connection closes); panics with the last count otherwise.
    pub async fn wait_for_count(&self, table: &str, rows: i64) {
        let mut seen = -1;
        for _ in 0..100 {
            seen = self.count(table).await;
            if seen == rows {
                return;
            }
            async_std::task::sleep(Duration::from_millis(50)).await;
        }
        panic!("{table} has {seen} rows, expected {rows}");
    }

    /// Row counts of the three tables the gateway writes.
    pub async fn counts(&self) -> Counts {
        Counts {
            domain_keys: self.count("domain_keys").await,
            issued_salts: self.count("issued_salts").await,
            finder_nodes: self.count("finder_nodes").await,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Row counts of the gateway's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// `domain_keys`.
    pub domain_keys: i64,
    /// `issued_salts`.
    pub issued_salts: i64,
    /// `finder_nodes`.
    pub finder_nodes: i64,
}

/// Both backends, for tests that loop instead of being generated per backend.
pub fn backends() -> [Backend; 2] {
    [Backend::Sqlite, Backend::Postgres]
}

/// Generates one `#[async_std::test]` per backend for each `async fn name(db: TestDb)` listed:
/// `sqlite::name` and `postgres::name`, so a failure names its backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[async_std::test]
                async fn $name() {
                    super::$name(super::support::TestDb::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[async_std::test]
                async fn $name() {
                    super::$name(super::support::TestDb::postgres()).await
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Settings and servers

/// Writes a settings file in `dir` (bind 127.0.0.1:0, the database `url`, then `extra_toml`)
/// and loads it as the binary would.
pub fn settings_in(dir: &TempDir, url: &str, extra_toml: &str) -> Settings {
    let path = write_config(dir, url, "127.0.0.1:0", extra_toml);
    Settings::load(Some(&path)).unwrap_or_else(|e| panic!("settings {path:?}: {e}"))
}

/// Writes a configuration file and returns its path. The base keys are top-level dotted keys
/// (`server.bind`, `database.url`), so `extra_toml` may start with more dotted keys
/// (`signing.suite = …`) and then open any table except `[server]` and `[database]`
/// (`[server.tls]`, `[limits]`, … are fine).
pub fn write_config(dir: &TempDir, url: &str, bind: &str, extra_toml: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = dir.join(&format!(
        "gateway-{}.toml",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let text = format!("server.bind = {bind:?}\ndatabase.url = {url:?}\n{extra_toml}\n");
    std::fs::write(&path, text).expect("write settings file");
    path
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files into `dir`:
/// the certificate and the paths of the certificate and key files.
pub fn self_signed_pem(dir: &TempDir) -> (rcgen::Certificate, PathBuf, PathBuf) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("rcgen");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, signing_key.serialize_pem()).expect("write key");
    (cert, cert_path, key_path)
}

/// The `[server.tls]` table serving `cert` and `key` files.
pub fn tls_toml(cert: &Path, key: &Path) -> String {
    format!(
        "[server.tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    )
}

/// Starts a gateway; panics with the start error.
pub async fn start(settings: Settings) -> RunningGateway {
    app::start(settings)
        .await
        .unwrap_or_else(|e| panic!("gateway start: {e}"))
}

/// Stops a gateway; panics if shutdown fails.
pub async fn stop(running: RunningGateway) {
    running.shutdown().await.expect("gateway shutdown");
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client

/// An HTTP answer.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes (de-chunked).
    pub bytes: Vec<u8>,
}

impl Response {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every header `name` (lower case), in order: e.g. all the `set-cookie` fields.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).expect("UTF-8 response body")
    }

    /// The body as a protocol message (the HTTP status must be 200, spec §1.2).
    pub fn message(&self) -> Message {
        assert_eq!(self.status, 200, "HTTP status; body: {}", self.text());
        message::decode(&self.text())
            .unwrap_or_else(|e| panic!("undecodable answer ({e}): {}", self.text()))
    }
}

fn request_bytes(method: &str, host: &str, path: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}

/// A request with extra header fields and an optional body of the given content type.
fn request_bytes_with(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, body)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.map(|(_, b)| b).unwrap_or_default());
    bytes
}

/// Sends `request` on `stream` and reads the answer to EOF.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> Response {
    stream.write_all(request).await.expect("write request");
    stream.flush().await.expect("flush request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A TLS peer that drops without close_notify, or a reset after the answer: the
                // parse below decides whether the answer is complete.
                Err(_) => return,
            }
        }
    };
    async_std::future::timeout(Duration::from_secs(20), read_all)
        .await
        .expect("answer within 20 s");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete HTTP head in {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let bytes = if let Some(len) = find("content-length") {
        let len: usize = len.parse().expect("numeric content-length");
        assert!(
            rest.len() >= len,
            "body cut short: {} of {len} bytes",
            rest.len()
        );
        rest[..len].to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        bytes,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&rest[..line_end]).expect("chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("hex chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// `POST path` with `body` over plain HTTP.
pub async fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    post_bytes(addr, path, body.as_bytes()).await
}

/// `POST path` with raw body bytes over plain HTTP.
pub async fn post_bytes(addr: SocketAddr, path: &str, body: &[u8]) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    exchange(
        stream,
        &request_bytes("POST", &addr.to_string(), path, Some(body)),
    )
    .await
}

/// `POST path` with a chunked body (no `Content-Length`) over plain HTTP.
pub async fn post_chunked(addr: SocketAddr, path: &str, body: &[u8]) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    exchange(stream, &request).await
}

/// `GET path` over plain HTTP.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    exchange(stream, &request_bytes("GET", &addr.to_string(), path, None)).await
}

/// `method path` over plain HTTP with extra header fields (`("cookie", "a=b")`,
/// `("authorization", …)`) and an optional body with its content type; redirects are not
/// followed.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    exchange(
        stream,
        &request_bytes_with(method, &addr.to_string(), path, headers, body),
    )
    .await
}

/// `POST path` with an `application/x-www-form-urlencoded` body (already encoded) and extra
/// header fields over plain HTTP.
pub async fn post_form(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    form: &str,
) -> Response {
    http_request(
        addr,
        "POST",
        path,
        headers,
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    )
    .await
}

/// A TLS client: a rustls connector and the name it asks for.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
}

impl TlsClient {
    /// Trusts exactly `cert`.
    pub fn trusting(cert: CertificateDer<'static>) -> TlsClient {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("test certificate is a valid root");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// Accepts any server certificate (for a self-signed one made inside the server); the
    /// handshake signatures are still checked.
    pub fn accepting_any() -> TlsClient {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    async fn send(&self, addr: SocketAddr, request: &[u8]) -> Response {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("valid name");
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        exchange(tls, request).await
    }

    /// `POST path` with `body` over TLS.
    pub async fn post(&self, addr: SocketAddr, path: &str, body: &str) -> Response {
        self.send(
            addr,
            &request_bytes("POST", "localhost", path, Some(body.as_bytes())),
        )
        .await
    }

    /// `GET path` over TLS.
    pub async fn get(&self, addr: SocketAddr, path: &str) -> Response {
        self.send(addr, &request_bytes("GET", "localhost", path, None))
            .await
    }
}

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol helpers

/// Path of `services-get`.
pub const SERVICES_GET: &str = "/.well-known/openpeer-services-get";
/// Path of `certificates-get`, as `services-get` lists it.
pub const CERTIFICATES_GET: &str = "/openpeer/certificates/certificates-get";
/// Path of `finders-get`, as `services-get` lists it.
pub const FINDERS_GET: &str = "/openpeer/bootstrapped-finders/finders-get";
/// Path of `signed-salt-get`, as `services-get` lists it.
pub const SIGNED_SALT_GET: &str = "/openpeer/salt/signed-salt-get";

/// A request document for `domain` with `$id` "t-1", the current `$timestamp`, and `members`
/// (JSON members without the surrounding braces, e.g. `"salts":3`) appended.
pub fn request_for(domain: &str, handler: &str, method: &str, members: &str) -> String {
    let mut root = format!(
        "\"$domain\":{domain:?},\"$id\":\"t-1\",\"$handler\":{handler:?},\"$method\":{method:?},\"$timestamp\":{}",
        unix_now()
    );
    if !members.is_empty() {
        root.push(',');
        root.push_str(members);
    }
    format!("{{\"request\":{{{root}}}}}")
}

/// [`request_for`] the default domain `localhost`.
pub fn request(handler: &str, method: &str, members: &str) -> String {
    request_for("localhost", handler, method, members)
}

/// POSTs `body` to `path` and decodes the answer.
pub async fn call(addr: SocketAddr, path: &str, body: &str) -> Message {
    post(addr, path, body).await.message()
}

/// The error a result carries, or `None` for a successful result.
pub fn error_of(message: &Message) -> Option<ErrorResult> {
    assert_eq!(message.envelope.kind, MessageKind::Result, "not a result");
    message
        .error()
        .map(|e| e.unwrap_or_else(|e| panic!("malformed error element: {e}")))
}

/// The body of a successful result; panics with the error otherwise.
pub fn ok_body(message: &Message) -> &Object {
    if let Some(error) = error_of(message) {
        panic!("expected a result, got error {error:?}");
    }
    &message.body
}

/// The result code of an error result; panics on a successful one.
pub fn error_code(message: &Message) -> u16 {
    error_of(message)
        .unwrap_or_else(|| panic!("expected an error result, got {:?}", message.body))
        .code
}

/// Waits (up to 5 s) until something accepts connections at `addr`.
pub async fn wait_for_port(addr: SocketAddr) {
    let started = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "nothing listens at {addr}"
        );
        async_std::task::sleep(Duration::from_millis(20)).await;
    }
}
