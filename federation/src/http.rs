//! The one outbound HTTP client (identity-provider logins, domain discovery, federation): surf
//! on a small async-h1 + rustls backend.
//!
//! * [`RustlsH1Client`] is surf's backend (see `shared/design/dependencies.md`, "Glue"): one TCP
//!   connection per request, TLS by futures-rustls with the ring provider and the WebPKI roots
//!   (plus extra roots from configuration, for private CAs and tests). surf's own
//!   `h1-client-rustls` is not used because it pins an old rustls.
//! * [`HttpClient`] wraps the surf client. The identity providers call `openidconnect` and
//!   `oauth2` through it, the peer and the gateway reach other domains with it. surf's Redirect
//!   middleware is **not** installed: redirects are returned to the caller as they are, which is
//!   what OAuth 2.0 token and userinfo requests need (no credentials forwarded to another host,
//!   no SSRF through redirects); discovery follows the protocol's own 302 results itself.
//! * Every request (connect, TLS handshake, headers and body) runs under one timeout
//!   (`async_std::future::timeout`), because surf's own timeout setting is ignored by a custom
//!   backend. Response bodies are capped (by default at [`MAX_BODY`] bytes).
//!
//! Nothing in this module logs a URL's query, a header value or a body.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_std::io::ReadExt;
use async_std::net::TcpStream;
use futures_rustls::TlsConnector;
use http_client::{Error as BackendError, Request, Response};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use surf::http::url;

use crate::Error;

/// The default cap of a response body (discovery documents, JWKS, certificates and lookups of a
/// few hundred identities fit).
pub const MAX_BODY: usize = 1024 * 1024;

/// `User-Agent` sent with every request (GitHub's API refuses requests without one).
const USER_AGENT: &str = concat!("openpeer-gateway/", env!("CARGO_PKG_VERSION"));

/// surf backend: async-h1 over a plain `TcpStream` (`http`) or a futures-rustls stream (`https`).
///
/// No connection pooling: a login is a handful of requests, and a remote domain is asked again
/// only when its cached answers lapse.
#[derive(Clone)]
pub struct RustlsH1Client {
    tls: TlsConnector,
}

impl std::fmt::Debug for RustlsH1Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustlsH1Client")
    }
}

impl RustlsH1Client {
    /// A backend trusting the WebPKI roots plus every certificate in `extra_root_pems` (each
    /// element is one PEM file's content and may hold several `CERTIFICATE` sections).
    pub fn new(extra_root_pems: &[Vec<u8>]) -> Result<Self, Error> {
        let mut roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for (index, pem) in extra_root_pems.iter().enumerate() {
            let mut found = 0usize;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert
                    .map_err(|e| Error::Config(format!("extra root certificate #{index}: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::Config(format!("extra root certificate #{index}: {e}")))?;
                found += 1;
            }
            if found == 0 {
                return Err(Error::Config(format!(
                    "extra root certificate #{index}: no CERTIFICATE section in the PEM"
                )));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS client configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }
}

#[http_client::async_trait]
impl http_client::HttpClient for RustlsH1Client {
    async fn send(&self, req: Request) -> Result<Response, BackendError> {
        let url = req.url().clone();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| BackendError::from_str(400, "URL without a port"))?;
        let (tcp, server_name) = match url.host() {
            Some(url::Host::Domain(domain)) => (
                TcpStream::connect((domain, port)).await?,
                ServerName::try_from(domain.to_owned())
                    .map_err(|e| BackendError::from_str(400, e.to_string()))?,
            ),
            Some(url::Host::Ipv4(ip)) => (
                TcpStream::connect((ip, port)).await?,
                ServerName::IpAddress(IpAddr::V4(ip).into()),
            ),
            Some(url::Host::Ipv6(ip)) => (
                TcpStream::connect((ip, port)).await?,
                ServerName::IpAddress(IpAddr::V6(ip).into()),
            ),
            None => return Err(BackendError::from_str(400, "URL without a host")),
        };
        tcp.set_nodelay(true)?;
        let mut res = match url.scheme() {
            "http" => async_h1::connect(tcp, req).await?,
            "https" => {
                let tls = self.tls.connect(server_name, tcp).await?;
                async_h1::connect(tls, req).await?
            }
            other => {
                return Err(BackendError::from_str(
                    400,
                    format!("unsupported URL scheme {other}"),
                ));
            }
        };
        fix_synthesized_date(&mut res);
        Ok(res)
    }
}

/// async-h1 2.3 adds a `Date` header to answers that lack one, but writes its value as
/// `"date: <date>\r\n"`, which is not a valid header value. Repair it.
fn fix_synthesized_date(res: &mut Response) {
    let broken = res
        .header("Date")
        .map(|v| v.as_str())
        .and_then(|v| v.strip_prefix("date: "))
        .map(|v| v.trim_end().to_owned());
    if let Some(date) = broken {
        res.insert_header("Date", date);
    }
}

/// The HTTP client everything outbound uses: surf over [`RustlsH1Client`], no redirects, one
/// timeout per request, a cap on answer bodies. Cheap to clone (the surf client is shared).
#[derive(Clone, Debug)]
pub struct HttpClient {
    surf: surf::Client,
    timeout: Duration,
    max_body: usize,
    /// The backend surf also holds, kept for its TLS connector.
    backend: RustlsH1Client,
}

impl HttpClient {
    /// A client trusting the WebPKI roots plus `extra_root_pems` (PEM file contents; for private
    /// CAs and tests), giving each request (connect + TLS + answer) at most `timeout`.
    pub fn new(extra_root_pems: &[Vec<u8>], timeout: Duration) -> Result<Self, Error> {
        if timeout.is_zero() {
            return Err(Error::Config("the HTTP timeout must be positive".into()));
        }
        let backend = RustlsH1Client::new(extra_root_pems)?;
        Ok(Self {
            // `with_http_client` installs no middleware: no Redirect, no Logger.
            surf: surf::Client::with_http_client(backend.clone()),
            timeout,
            max_body: MAX_BODY,
            backend,
        })
    }

    /// The same client with answers capped at `max_body` bytes.
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The TLS connector of this client (same roots), so that a WebSocket (`wss`) opened next to
    /// these requests trusts exactly the servers the requests do.
    pub fn tls_connector(&self) -> &TlsConnector {
        &self.backend.tls
    }

    /// POSTs `body` as `content_type` to `url` and returns the status and the whole body (at most
    /// the cap), within the timeout. For protocol clients (Open Peer requests are JSON
    /// POSTs answered with HTTP 200); redirects are returned, not followed.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let url =
            surf::Url::parse(url).map_err(|_| HttpError("cannot build request: URL".to_owned()))?;
        let mut req = surf::Request::new(surf::http::Method::Post, url);
        req.set_body(body);
        // After the body: `set_body` sets a default Content-Type that this one replaces.
        req.insert_header("Content-Type", content_type);
        let fetched = self.execute(req).await?;
        Ok((fetched.status, fetched.body))
    }

    /// GETs `url` and returns the status and the whole body, like [`HttpClient::post`].
    pub async fn get(&self, url: &str) -> Result<(u16, Vec<u8>), HttpError> {
        let url =
            surf::Url::parse(url).map_err(|_| HttpError("cannot build request: URL".to_owned()))?;
        let fetched = self
            .execute(surf::Request::new(surf::http::Method::Get, url))
            .await?;
        Ok((fetched.status, fetched.body))
    }

    /// Sends `req` and reads the whole answer (at most the cap) within the timeout.
    pub async fn execute(&self, mut req: surf::Request) -> Result<Fetched, HttpError> {
        let max_body = self.max_body;
        let target = describe(req.url());
        if req.header("User-Agent").is_none() {
            req.insert_header("User-Agent", USER_AGENT);
        }
        let exchange = async {
            let mut res = self
                .surf
                .send(req)
                .await
                .map_err(|e| HttpError(format!("{target}: {e}")))?;
            let status = u16::from(res.status());
            let mut headers = Vec::new();
            for (name, values) in res.iter() {
                for value in values.iter() {
                    headers.push((name.as_str().to_owned(), value.as_str().to_owned()));
                }
            }
            let mut body = Vec::new();
            res.take_body()
                .take(max_body as u64 + 1)
                .read_to_end(&mut body)
                .await
                .map_err(|e| HttpError(format!("{target}: reading the answer: {e}")))?;
            if body.len() > max_body {
                return Err(HttpError(format!(
                    "{target}: answer larger than {max_body} bytes"
                )));
            }
            Ok(Fetched {
                status,
                headers,
                body,
            })
        };
        async_std::future::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError(format!("{target}: no answer within {:?}", self.timeout)))?
    }
}

/// A complete answer: status, headers (names lowercase, in order) and body.
#[derive(Debug)]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Fetched {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A transport failure. The message names the endpoint by scheme, host, port and path only.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(pub String);

/// `scheme://host[:port]/path` of `url`: what messages may name (no query, no fragment, no
/// user info).
pub fn describe(url: &surf::Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    out
}

/// Whether `url`'s host is a loopback address (`127.0.0.0/8`, `::1`) or `localhost`.
pub fn is_loopback(url: &surf::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses `raw` as an absolute URL that is `https`, or plain `http` to a loopback host (local
/// development and tests; see the crate documentation). `what` names the field in messages.
pub fn secure_url(raw: &str, what: &str) -> Result<surf::Url, String> {
    let url = surf::Url::parse(raw).map_err(|e| format!("{what} is not a URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{what} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{what} must not carry user information"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "{what} ({}) must use https (plain http is allowed for loopback hosts only)",
            describe(&url)
        )),
        other => Err(format!("{what} has unsupported scheme {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(secure_url("https://accounts.google.com", "issuer").is_ok());
        assert!(secure_url("http://127.0.0.1:4000", "issuer").is_ok());
        assert!(secure_url("http://127.1.2.3:4000/x", "issuer").is_ok());
        assert!(secure_url("http://[::1]:4000", "issuer").is_ok());
        assert!(secure_url("http://localhost:4000", "issuer").is_ok());
        assert!(secure_url("http://gitlab.example.org", "issuer").is_err());
        assert!(secure_url("http://10.0.0.1", "issuer").is_err());
        assert!(secure_url("ftp://example.org", "issuer").is_err());
        assert!(secure_url("https://user:pw@example.org", "issuer").is_err());
        assert!(secure_url("not a url", "issuer").is_err());
    }

    #[test]
    fn describe_drops_query_and_user_info() {
        let url = surf::Url::parse("https://u:p@graph.example:8443/me?access_token=SECRET#x")
            .expect("test URL");
        assert_eq!(describe(&url), "https://graph.example:8443/me");
    }

    #[test]
    fn extra_roots_must_be_certificates() {
        assert!(RustlsH1Client::new(&[b"not a pem".to_vec()]).is_err());
        assert!(RustlsH1Client::new(&[]).is_ok());
    }

    #[async_std::test]
    async fn a_silent_server_times_out() {
        let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        async_std::task::spawn(async move {
            // Accept and hold the connection without answering.
            let held = listener.accept().await;
            async_std::task::sleep(Duration::from_secs(30)).await;
            drop(held);
        });
        let client = HttpClient::new(&[], Duration::from_millis(300)).expect("client");
        let url = surf::Url::parse(&format!("http://{addr}/slow?token=SECRET")).expect("URL");
        let started = std::time::Instant::now();
        let err = client
            .execute(surf::Request::new(surf::http::Method::Get, url))
            .await
            .expect_err("timeout");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("no answer within"), "{err}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[async_std::test]
    async fn post_sends_the_body_and_returns_the_answer() {
        use async_std::io::WriteExt as _;
        let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = async_std::task::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            // Read until the 7-byte body has arrived after the head.
            while !seen.ends_with(b"{\"a\":1}") {
                let n = stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "request cut short");
                seen.extend_from_slice(&buf[..n]);
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
            stream.write_all(answer).await.expect("write");
            String::from_utf8(seen).expect("UTF-8 request")
        });
        let client = HttpClient::new(&[], Duration::from_secs(5)).expect("client");
        let (status, body) = client
            .post(
                &format!("http://{addr}/x"),
                "application/json",
                b"{\"a\":1}".to_vec(),
            )
            .await
            .expect("answer");
        assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
        let request = server.await.to_ascii_lowercase();
        assert!(request.starts_with("post /x http/1.1"), "{request}");
        assert!(
            request.contains("content-type: application/json"),
            "{request}"
        );
        assert!(
            client
                .post("not a url", "text/plain", Vec::new())
                .await
                .is_err()
        );
    }

    #[test]
    fn zero_timeout_refused() {
        assert!(HttpClient::new(&[], Duration::ZERO).is_err());
    }
}
