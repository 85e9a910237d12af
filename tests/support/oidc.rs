//! A real OpenID Connect provider for the integration tests: npm `oidc-provider` (9.x) run by
//! `tests/oidc/server.mjs` in a Node process of its own, on a free loopback port, plus a driver
//! that logs a user in through its development login and consent pages with a cookie jar.
//!
//! ```ignore
//! let op = OidcProvider::start(&[Client::new("gw", "secret", "http://127.0.0.1:9/cb")], 600);
//! let pkce = Pkce::new();
//! let url = op.authorization_url(&client, "openid email", "state-1", "nonce-1", &pkce.challenge);
//! let back = login(&url, "alice").await; // http://127.0.0.1:9/cb?code=…&state=state-1&iss=…
//! let code = query_param(&back, "code").unwrap();
//! ```
//!
//! Accounts (see server.mjs): login `X` is `sub` X, `X@example.test`, `email_verified` true except
//! for logins starting with `unverified`; logins starting with `wrongaud` get ID tokens whose `aud`
//! is [`WRONG_AUDIENCE`]. Any password is accepted.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openpeer_protocol::json::{self, Object};
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};

use super::{Response, http_request, post_form};

/// The `aud` of ID tokens issued to `wrongaud…` logins.
pub const WRONG_AUDIENCE: &str = "someone-else";

/// How long a provider may take to print `READY`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A client registered at the provider (confidential; `client_secret_basic` or
/// `client_secret_post` at the token endpoint, authorization code with PKCE S256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
    /// The one registered `redirect_uri` (matched exactly).
    pub redirect_uri: String,
}

impl Client {
    /// A client with one redirect URI.
    pub fn new(id: &str, secret: &str, redirect_uri: &str) -> Client {
        Client {
            id: id.to_owned(),
            secret: secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        }
    }
}

/// Less common start options; `Options::default()` is what [`OidcProvider::start`] uses apart
/// from the ID token lifetime.
#[derive(Clone, Debug)]
pub struct Options {
    /// ID token lifetime (`exp - iat`), seconds.
    pub id_token_ttl_secs: u64,
    /// Host part of the issuer, default `127.0.0.1`; e.g. `localhost` gives the issuer
    /// `http://localhost:PORT` (the provider still listens on 127.0.0.1 only).
    pub issuer_host: Option<String>,
    /// Port part of the issuer, default the port the provider listens on; e.g. the port of a
    /// proxy in front of it ([`super::proxy::DelayProxy`]), which then carries every request a
    /// relying party makes (discovery gives it issuer-based endpoints). The provider still
    /// listens on its own port ([`OidcProvider::port`]).
    pub issuer_port: Option<u16>,
    /// Private signing keys as a JWKS document (`{"keys":[…]}`); default: development keys that
    /// change at every start.
    pub jwks: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            id_token_ttl_secs: 600,
            issuer_host: None,
            issuer_port: None,
            jwks: None,
        }
    }
}

/// A running provider, killed on drop.
#[derive(Debug)]
pub struct OidcProvider {
    /// The issuer, verbatim (`http://127.0.0.1:PORT`, no trailing slash).
    pub issuer: String,
    /// The loopback port it listens on.
    pub port: u16,
    child: Child,
    // Held open: the server exits when it reads EOF here, so a test binary that dies without
    // running Drop leaves no provider behind.
    _stdin: ChildStdin,
    stderr: Arc<Mutex<String>>,
}

/// `tests/oidc`, where `server.mjs` and its `package.json` live.
pub fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Makes sure `tests/oidc/node_modules` holds `oidc-provider` and `playwright-core` (for
/// `tests/inner_frame.rs`), running `npm ci` there once per
/// test binary if not; panics when Node or npm is missing or the install fails (a missing
/// provider is a failure, never a skip).
pub fn ensure_node_modules() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let dir = oidc_dir();
        match Command::new("node").arg("--version").output() {
            Ok(out) if out.status.success() => {}
            other => panic!(
                "Node.js is needed for the OpenID provider tests (tests/oidc/server.mjs) but \
                 `node --version` failed: {other:?}; install Node.js 20+ and npm"
            ),
        }
        // Every package of package.json: a tree installed before one was added gets `npm ci`.
        if ["oidc-provider", "playwright-core"].iter().all(|name| {
            dir.join(format!("node_modules/{name}/package.json"))
                .is_file()
        }) {
            return;
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "npm is needed to install tests/oidc (oidc-provider) but could not be run: \
                     {e}; install npm"
                )
            });
        assert!(
            out.status.success(),
            "`npm ci` in {} failed ({}):\n{}\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

fn clients_json(clients: &[Client]) -> String {
    let items: Vec<String> = clients
        .iter()
        .map(|c| {
            format!(
                "{{\"client_id\":{},\"client_secret\":{},\"redirect_uris\":[{}]}}",
                json_string(&c.id),
                json_string(&c.secret),
                json_string(&c.redirect_uri)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl OidcProvider {
    /// Starts a provider with `clients` and ID tokens living `id_token_ttl_secs`; panics if it
    /// is not ready within 20 s.
    pub fn start(clients: &[Client], id_token_ttl_secs: u64) -> OidcProvider {
        OidcProvider::start_with(
            clients,
            Options {
                id_token_ttl_secs,
                ..Options::default()
            },
        )
    }

    /// Starts a provider with `clients` and `options`.
    pub fn start_with(clients: &[Client], options: Options) -> OidcProvider {
        ensure_node_modules();
        // The port is picked here and bound by Node a moment later: retry if another process
        // took it in between.
        let mut last_error = String::new();
        for _ in 0..3 {
            match OidcProvider::try_start(clients, &options) {
                Ok(provider) => return provider,
                Err(e) => last_error = e,
            }
        }
        panic!("the OpenID provider did not start: {last_error}");
    }

    fn try_start(clients: &[Client], options: &Options) -> Result<OidcProvider, String> {
        let port = free_port();
        let host = options.issuer_host.as_deref().unwrap_or("127.0.0.1");
        let issuer = format!("http://{host}:{}", options.issuer_port.unwrap_or(port));
        let mut command = Command::new("node");
        command
            .arg("server.mjs")
            .current_dir(oidc_dir())
            .env("PORT", port.to_string())
            .env("ISSUER", &issuer)
            .env("CLIENTS", clients_json(clients))
            .env("ID_TOKEN_TTL", options.id_token_ttl_secs.to_string())
            .env("EXIT_ON_STDIN_EOF", "1")
            .env_remove("JWKS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(jwks) = &options.jwks {
            command.env("JWKS", jwks);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn `node server.mjs` (is Node.js installed?): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr buffer")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        // Read stdout on a thread of its own until EOF (so the pipe never fills), passing the
        // READY line on.
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        let out_pipe = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(rest.to_owned());
                }
            }
        });

        let mut provider = OidcProvider {
            issuer: issuer.clone(),
            port,
            child,
            _stdin: stdin,
            stderr,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match ready_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(announced) => {
                    if announced != issuer {
                        panic!("provider announced issuer {announced:?}, expected {issuer:?}");
                    }
                    return Ok(provider);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // stdout closed: the process is exiting; try_wait below will see it.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
            }
            if let Ok(Some(status)) = provider.child.try_wait() {
                // Give the stderr thread a moment to collect the last words.
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!(
                    "node server.mjs on port {port} exited with {status} before READY; \
                     stderr:\n{}",
                    provider.stderr()
                ));
            }
            if Instant::now() > deadline {
                panic!(
                    "the OpenID provider on port {port} was not READY within {READY_TIMEOUT:?}; \
                     stderr:\n{}",
                    provider.stderr()
                );
            }
        }
    }

    /// What the Node process printed on stderr so far (warnings, `server_error`s).
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `GET path` (a path on the provider, or a full URL on it) with extra header fields.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let path = path_on(path, &origin_of(&self.issuer)).unwrap_or_else(|| path.to_owned());
        http_request(self.addr(), "GET", &path, headers, None).await
    }

    /// The discovery document (`/.well-known/openid-configuration`).
    pub async fn discovery(&self) -> Object {
        let answer = self.get("/.well-known/openid-configuration", &[]).await;
        assert_eq!(answer.status, 200, "discovery: {}", answer.text());
        json::parse(&answer.text())
            .unwrap_or_else(|e| panic!("discovery document ({e}): {}", answer.text()))
    }

    /// An authorization request URL for `client` (code flow, PKCE S256 with `code_challenge`).
    pub fn authorization_url(
        &self,
        client: &Client,
        scope: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> String {
        format!(
            "{}/auth?{}",
            self.issuer,
            form_urlencode(&[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", &client.redirect_uri),
                ("scope", scope),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", code_challenge),
                ("code_challenge_method", "S256"),
            ])
        )
    }

    /// Exchanges `code` at the token endpoint, authenticating with `client_secret_basic`
    /// (`basic` true) or `client_secret_post`. Returns the raw answer (200 with `id_token`, or
    /// 400 with `error`).
    pub async fn token(
        &self,
        client: &Client,
        code: &str,
        code_verifier: &str,
        basic: bool,
    ) -> Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", code_verifier),
        ];
        let authorization;
        let mut headers = vec![("accept", "application/json")];
        if basic {
            // RFC 6749 §2.3.1: id and secret are form-encoded before the Basic encoding.
            let credentials = format!(
                "{}:{}",
                form_urlencode_value(&client.id),
                form_urlencode_value(&client.secret)
            );
            authorization = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            );
            headers.push(("authorization", authorization.as_str()));
        } else {
            form.push(("client_id", client.id.as_str()));
            form.push(("client_secret", client.secret.as_str()));
        }
        post_form(self.addr(), "/token", &headers, &form_urlencode(&form)).await
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// PKCE, JWTs, URLs

/// A PKCE pair: a random `code_verifier` and its S256 `code_challenge`.
#[derive(Clone, Debug)]
pub struct Pkce {
    /// `code_verifier` (43 characters of base64url).
    pub verifier: String,
    /// `code_challenge` = base64url(SHA-256(verifier)).
    pub challenge: String,
}

impl Pkce {
    /// A fresh random pair.
    pub fn new() -> Pkce {
        let verifier = random_token();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Pkce {
        Pkce::new()
    }
}

/// 32 random bytes as base64url: a state, nonce or verifier.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of a compact JWS (its middle part), unverified.
pub fn jwt_payload(token: &str) -> Object {
    jwt_part(token, 1)
}

/// The protected header of a compact JWS (its first part).
pub fn jwt_header(token: &str) -> Object {
    jwt_part(token, 0)
}

fn jwt_part(token: &str, index: usize) -> Object {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token:?}");
    let part = parts[index];
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("JWT part {index} is not base64url ({e}): {part:?}"));
    let text = String::from_utf8(bytes).expect("UTF-8 JWT part");
    json::parse(&text).unwrap_or_else(|e| panic!("JWT part {index} ({e}): {text}"))
}

/// `application/x-www-form-urlencoded` (also fine for query strings).
pub fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_urlencode_value(k), form_urlencode_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but the RFC 3986 unreserved characters.
pub fn form_urlencode_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space).
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first query parameter `name` of `url`, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// `scheme://host:port` of an absolute `http://` URL.
fn origin_of(url: &str) -> String {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("only http:// URLs are supported here: {url:?}"));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("http://{authority}")
}

/// The path and query of `url` if it is on `origin`.
fn path_on(url: &str, origin: &str) -> Option<String> {
    let rest = url.strip_prefix(origin)?;
    match rest.chars().next() {
        None => Some("/".to_owned()),
        Some('/') => Some(rest.to_owned()),
        Some('?') => Some(format!("/{rest}")),
        _ => None,
    }
}

/// Resolves a `Location` against the URL it answered.
fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{}{location}", origin_of(base))
    } else {
        let base = base.split(['?', '#']).next().unwrap_or(base);
        let dir = &base[..base.rfind('/').map_or(base.len(), |i| i + 1)];
        format!("{dir}{location}")
    }
}

/// The loopback socket address of an `http://host:port` origin (IPv4 preferred: the provider
/// binds 127.0.0.1 only).
fn socket_addr_of(origin: &str) -> SocketAddr {
    let authority = origin.strip_prefix("http://").expect("http origin");
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("resolve {authority:?}: {e}"))
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .unwrap_or_else(|| panic!("{authority:?} resolves to nothing"))
}

// ---------------------------------------------------------------------------------------------
// The login driver

/// Cookies by (name, path), as a browser would keep them for one origin.
#[derive(Debug, Default)]
struct CookieJar(HashMap<(String, String), String>);

impl CookieJar {
    fn store(&mut self, answer: &Response, request_path: &str) {
        for field in answer.headers_named("set-cookie") {
            let mut parts = field.split(';');
            let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let mut path = default_cookie_path(request_path);
            let mut expired = false;
            for attribute in parts {
                let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
                match key.trim().to_ascii_lowercase().as_str() {
                    "path" if val.trim().starts_with('/') => path = val.trim().to_owned(),
                    "max-age" => expired |= val.trim().parse::<i64>().is_ok_and(|s| s <= 0),
                    "expires" => expired |= val.contains("1970"),
                    _ => {}
                }
            }
            let key = (name.trim().to_owned(), path);
            if expired {
                self.0.remove(&key);
            } else {
                self.0.insert(key, value.trim().to_owned());
            }
        }
    }

    /// The `cookie` field for a request to `path` (query ignored), longest paths first.
    fn header_for(&self, path: &str) -> Option<String> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let mut matching: Vec<(&(String, String), &String)> = self
            .0
            .iter()
            .filter(|((_, cookie_path), _)| path_matches(path, cookie_path))
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by(|a, b| b.0.1.len().cmp(&a.0.1.len()).then(a.0.0.cmp(&b.0.0)));
        Some(
            matching
                .iter()
                .map(|((name, _), value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// RFC 6265 §5.1.4 path match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 §5.1.4 default path.
fn default_cookie_path(request_path: &str) -> String {
    let path = request_path.split(['?', '#']).next().unwrap_or("");
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// Decodes the few entities an HTML attribute value carries.
fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `action` of the first `<form` in `html` and the value of its hidden `prompt` input.
fn form_of(html: &str) -> Option<(String, String)> {
    let form = &html[html.find("<form")?..];
    let tag = &form[..form.find('>')?];
    let action = tag.split("action=\"").nth(1)?.split('"').next()?;
    let prompt = form
        .split("name=\"prompt\" value=\"")
        .nth(1)?
        .split('"')
        .next()?;
    Some((html_unescape(action), prompt.to_owned()))
}

/// Logs `login` in (any password) by following `authorization_url` through the provider's
/// development login and consent pages with a cookie jar, and returns the final redirect
/// `Location` that leaves the provider — the client's `redirect_uri` with `code`, `state` and
/// `iss`, or with `error` — without requesting it.
///
/// The pages are forms posted back to `/interaction/<uid>`: login as
/// `prompt=login&login=<login>&password=<anything>`, consent as `prompt=consent`.
pub async fn login(authorization_url: &str, login: &str) -> String {
    let origin = origin_of(authorization_url);
    let addr = socket_addr_of(&origin);
    let mut jar = CookieJar::default();
    let mut url = authorization_url.to_owned();
    let mut form: Option<String> = None;
    let mut trail = Vec::new();
    for _ in 0..20 {
        let path = path_on(&url, &origin).expect("a URL on the provider");
        let cookie = jar.header_for(&path);
        let mut headers = vec![("accept", "text/html")];
        if let Some(cookie) = &cookie {
            headers.push(("cookie", cookie.as_str()));
        }
        let answer = match form.take() {
            Some(body) => post_form(addr, &path, &headers, &body).await,
            None => http_request(addr, "GET", &path, &headers, None).await,
        };
        jar.store(&answer, &path);
        trail.push(format!("{} {}", answer.status, path));
        match answer.status {
            301 | 302 | 303 | 307 | 308 => {
                let location = answer
                    .header("location")
                    .unwrap_or_else(|| panic!("redirect without location from {url}"));
                let next = resolve(&url, location);
                if path_on(&next, &origin).is_none() {
                    return next;
                }
                url = next;
            }
            200 => {
                let html = answer.text();
                let (action, prompt) = form_of(&html).unwrap_or_else(|| {
                    panic!("no interaction form at {url} (after {trail:?}):\n{html}")
                });
                let body = match prompt.as_str() {
                    "login" => form_urlencode(&[
                        ("prompt", "login"),
                        ("login", login),
                        ("password", "any-password"),
                    ]),
                    "consent" => form_urlencode(&[("prompt", "consent")]),
                    other => panic!("unexpected interaction prompt {other:?} at {url}"),
                };
                url = resolve(&url, &action);
                form = Some(body);
            }
            status => panic!(
                "the provider answered {status} at {url} (after {trail:?}): {}",
                String::from_utf8_lossy(&answer.bytes)
            ),
        }
    }
    panic!("no redirect out of the provider after 20 steps: {trail:?}");
}
