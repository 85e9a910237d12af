//! A tiny HTTP/1.1 server on `127.0.0.1:0` for tests: one request per connection, answers from a
//! closure, every request recorded. Answers carry no `Date` header on purpose: that exercises the
//! repair of async-h1's synthesized `Date` in [`crate::http`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_std::io::prelude::BufReadExt;
use async_std::io::{BufReader, ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use async_std::task;

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    /// Path and query, as sent.
    pub(crate) target: String,
    /// Header names lowercased.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Recorded {
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub(crate) fn query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        form_value(query, name)
    }

    pub(crate) fn form(&self, name: &str) -> Option<String> {
        form_value(&self.body, name)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

/// Value of `name` in an `application/x-www-form-urlencoded` string.
pub(crate) fn form_value(encoded: &str, name: &str) -> Option<String> {
    surf::Url::parse(&format!("http://x/?{encoded}"))
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// An answer.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string(),
        }
    }
}

type Handler = dyn Fn(&Recorded, &str) -> Reply + Send + Sync;

/// The running server (it lives until the test process ends).
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    /// Starts a server; `handler(request, base_url)` answers each request.
    pub(crate) async fn start(
        handler: impl Fn(&Recorded, &str) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let base = format!("http://{addr}");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = requests.clone();
        task::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, log, base) = (handler.clone(), log.clone(), base.clone());
                task::spawn(async move {
                    let _ = serve_one(stream, &*handler, &log, &base).await;
                });
            }
        });
        Self { addr, requests }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// The recorded requests to `path`.
    pub(crate) fn to_path(&self, path: &str) -> Vec<Recorded> {
        self.recorded()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

async fn serve_one(
    stream: TcpStream,
    handler: &Handler,
    log: &Mutex<Vec<Recorded>>,
    base: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.clone());
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let request = Recorded {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    log.lock().expect("lock").push(request.clone());
    let reply = handler(&request, base);
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let mut stream = stream;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(reply.body.as_bytes()).await?;
    stream.flush().await
}
