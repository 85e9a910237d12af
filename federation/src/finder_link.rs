//! A WebSocket to a finder (architecture §4 "Finder transport"): a text message is one JSON
//! document on channel 0, a binary message a relay frame (4-byte big-endian channel +
//! payload). A peer's session and relay channels use it, and so does a finder's link to another
//! domain's finder (`/federation/link`), which carries finds byte for byte.
//!
//! One task reads, one writes. Requests wait for the `result` with their `$id`; every other
//! document (requests and notifies from the finder) and every relay frame is handed to the
//! owner as a [`LinkEvent`]. The event stream ends when the WebSocket closes. Dropping every
//! handle of a link, or [`FinderLink::close`], closes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use async_std::channel::{self, Receiver, Sender};
use async_std::net::TcpStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use futures_lite::StreamExt as _;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use openpeer_protocol::finder::{decode_relay_frame, encode_relay_frame};
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::random::message_id;
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;
use rustls_pki_types::ServerName;
use surf::http::url::{Host, Url};

use crate::clock::unix_now;
use crate::{Error, result_body};

/// Largest WebSocket message accepted from a finder.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Messages waiting to be written before senders wait.
const OUTGOING_QUEUE: usize = 256;
/// Events waiting for the owner before the reader waits.
const EVENT_QUEUE: usize = 256;

/// What a finder sends besides results.
#[derive(Debug)]
pub enum LinkEvent {
    /// A request or notify on channel 0.
    Message(Message),
    /// A relay frame; an empty payload closes the channel (spec §6.11).
    Frame {
        /// The relay channel, never 0.
        channel: u32,
        /// The bytes carried.
        payload: Vec<u8>,
    },
}

/// The transport under the WebSocket: plain TCP (`ws`) or TLS (`wss`).
trait LinkIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> LinkIo for T {}

/// A handle on an open finder WebSocket; clones share it.
#[derive(Clone)]
pub struct FinderLink {
    inner: Arc<LinkInner>,
}

struct LinkInner {
    /// The finder's WebSocket URL.
    url: String,
    /// `$domain` of the requests sent on this link.
    domain: DomainName,
    /// How long a request waits for its result.
    timeout: Duration,
    outgoing: Sender<WsMessage>,
    /// Requests waiting for their result, by `$id`.
    pending: Mutex<HashMap<String, Sender<Message>>>,
    /// Never carries anything: closed when the reader ends, i.e. when the link is gone.
    closed: Receiver<()>,
}

impl FinderLink {
    /// Opens a WebSocket to `url` (`ws://` or `wss://`, TLS through `tls`), for requests of
    /// `domain` answered within `timeout`; returns the link and its event stream.
    pub async fn connect(
        url: &str,
        domain: DomainName,
        tls: &TlsConnector,
        timeout: Duration,
    ) -> Result<(FinderLink, Receiver<LinkEvent>), Error> {
        let opening = async {
            let io = open_transport(url, tls).await?;
            // The finder's small buffers: the load tool holds thousands of links (the 128 KiB
            // default read buffer is zero-filled on every read).
            let config = WebSocketConfig::default()
                .read_buffer_size(8 * 1024)
                .write_buffer_size(0)
                .max_message_size(Some(MAX_MESSAGE))
                .max_frame_size(Some(MAX_MESSAGE));
            async_tungstenite::client_async_with_config(url, io, Some(config))
                .await
                .map(|(ws, _)| ws)
                .map_err(|e| Error::Link(format!("{url}: {e}")))
        };
        let ws = async_std::future::timeout(timeout, opening)
            .await
            .map_err(|_| Error::Timeout(timeout))??;
        let (mut sink, mut stream) = ws.split();
        let (outgoing, to_write) = channel::bounded::<WsMessage>(OUTGOING_QUEUE);
        let (events, event_stream) = channel::bounded(EVENT_QUEUE);
        let (closing, closed) = channel::bounded::<()>(1);
        let inner = Arc::new(LinkInner {
            url: url.to_owned(),
            domain,
            timeout,
            outgoing,
            pending: Mutex::new(HashMap::new()),
            closed,
        });
        async_std::task::spawn(async move {
            while let Ok(message) = to_write.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close(None).await;
        });
        let weak = Arc::downgrade(&inner);
        async_std::task::spawn(async move {
            while let Some(Ok(received)) = stream.next().await {
                if !read(&weak, &events, received).await {
                    break;
                }
            }
            if let Some(inner) = weak.upgrade() {
                inner.outgoing.close();
                // Dropping the waiters' senders fails their requests with `LinkClosed`.
                lock(&inner.pending).clear();
            }
            drop(closing);
        });
        Ok((FinderLink { inner }, event_stream))
    }

    /// The finder's WebSocket URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Sends a request of `method` and returns the body of its successful result.
    pub async fn request(&self, method: Method, body: Object) -> Result<Object, Error> {
        self.request_with_id(message_id(&mut OsRng), method, body)
            .await
    }

    /// [`FinderLink::request`] with a `$id` chosen by the caller, who may be waiting for
    /// notifies carrying the same `$id` (a find's).
    pub async fn request_with_id(
        &self,
        id: String,
        method: Method,
        body: Object,
    ) -> Result<Object, Error> {
        if self.is_closed() {
            return Err(Error::LinkClosed);
        }
        let envelope = Envelope {
            domain: Some(self.inner.domain.to_string()),
            id: Some(id.clone()),
            timestamp: Some(unix_now()),
            ..Envelope::new(MessageKind::Request, method)
        };
        let text = message::encode(&Message::new(envelope, body));
        result_body(self.request_text(&id, text).await?)
    }

    /// Sends one document on channel 0.
    pub async fn send(&self, message: &Message) -> Result<(), Error> {
        self.send_text(message::encode(message)).await
    }

    /// Sends `text`, a request with `$id` = `id` exactly as another party wrote it, and waits
    /// for its result (a find forwarded from one finder to another).
    pub async fn request_text(&self, id: &str, text: String) -> Result<Message, Error> {
        let (waiter, answer) = channel::bounded(1);
        lock(&self.inner.pending).insert(id.to_owned(), waiter);
        let _pending = Pending {
            link: &self.inner,
            id: id.to_owned(),
        };
        self.send_text(text).await?;
        async_std::future::timeout(self.inner.timeout, answer.recv())
            .await
            .map_err(|_| Error::Timeout(self.inner.timeout))?
            .map_err(|_| Error::LinkClosed)
    }

    /// Sends one document on channel 0, as written.
    pub async fn send_text(&self, text: String) -> Result<(), Error> {
        self.inner
            .outgoing
            .send(WsMessage::text(text))
            .await
            .map_err(|_| Error::LinkClosed)
    }

    /// Sends `payload` on relay channel `channel`.
    pub async fn send_frame(&self, channel: u32, payload: &[u8]) -> Result<(), Error> {
        let frame = encode_relay_frame(channel, payload).map_err(|e| Error::Link(e.to_string()))?;
        self.inner
            .outgoing
            .send(WsMessage::binary(frame))
            .await
            .map_err(|_| Error::LinkClosed)
    }

    /// Closes relay channel `channel` with an empty frame, without waiting (spec §6.11); a
    /// full queue or a closed link leaves nothing to close.
    pub fn close_channel(&self, channel: u32) {
        if let Ok(frame) = encode_relay_frame(channel, &[]) {
            let _ = self.inner.outgoing.try_send(WsMessage::binary(frame));
        }
    }

    /// Closes the WebSocket once what is queued has been written.
    pub fn close(&self) {
        self.inner.outgoing.close();
    }

    /// Whether the link is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_closed()
    }

    /// Resolves when the link is gone.
    pub async fn closed(&self) {
        let _ = self.inner.closed.recv().await;
    }
}

/// A mutex's guard; a panic elsewhere while it was held leaves the data usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes a request's waiter however the request ends (answer, timeout, cancellation).
struct Pending<'a> {
    link: &'a LinkInner,
    id: String,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        lock(&self.link.pending).remove(&self.id);
    }
}

/// Handles one WebSocket message; `false` ends the link.
async fn read(weak: &Weak<LinkInner>, events: &Sender<LinkEvent>, received: WsMessage) -> bool {
    match received {
        WsMessage::Text(text) => {
            let message = match message::decode(text.as_str()) {
                Ok(message) => message,
                Err(e) => {
                    tracing::debug!(error = %e, "undecodable document from the finder dropped");
                    return true;
                }
            };
            if message.envelope.kind == MessageKind::Result {
                let waiter = match (weak.upgrade(), message.envelope.id.as_deref()) {
                    (Some(inner), Some(id)) => lock(&inner.pending).remove(id),
                    _ => None,
                };
                match waiter {
                    Some(waiter) => {
                        let _ = waiter.try_send(message);
                    }
                    None => tracing::debug!("result for no pending request dropped"),
                }
                return true;
            }
            // The owner stopped listening: results are still delivered above.
            let _ = events.send(LinkEvent::Message(message)).await;
            true
        }
        WsMessage::Binary(bytes) => match decode_relay_frame(&bytes) {
            Ok((channel, payload)) => {
                let frame = LinkEvent::Frame {
                    channel,
                    payload: payload.to_vec(),
                };
                let _ = events.send(frame).await;
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "malformed relay frame dropped");
                true
            }
        },
        WsMessage::Close(_) => false,
        _ => true,
    }
}

/// TCP to the URL's host and port, wrapped in TLS for `wss`.
async fn open_transport(url: &str, tls: &TlsConnector) -> Result<Box<dyn LinkIo>, Error> {
    let bad = |what: &str| Error::Link(format!("{url}: {what}"));
    let parsed = Url::parse(url).map_err(|_| bad("not a URL"))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| bad("no port"))?;
    let (tcp, name) = match parsed.host() {
        Some(Host::Domain(domain)) => (
            TcpStream::connect((domain, port)).await,
            ServerName::try_from(domain.to_owned()).ok(),
        ),
        Some(Host::Ipv4(ip)) => (
            TcpStream::connect((ip, port)).await,
            Some(ServerName::IpAddress(std::net::IpAddr::V4(ip).into())),
        ),
        Some(Host::Ipv6(ip)) => (
            TcpStream::connect((ip, port)).await,
            Some(ServerName::IpAddress(std::net::IpAddr::V6(ip).into())),
        ),
        None => return Err(bad("no host")),
    };
    let tcp = tcp.map_err(|e| bad(&e.to_string()))?;
    tcp.set_nodelay(true)?;
    match parsed.scheme() {
        "ws" => Ok(Box::new(tcp)),
        "wss" => {
            let name = name.ok_or_else(|| bad("not a TLS server name"))?;
            let stream = tls
                .connect(name, tcp)
                .await
                .map_err(|e| bad(&e.to_string()))?;
            Ok(Box::new(stream))
        }
        _ => Err(bad("not a ws or wss URL")),
    }
}
