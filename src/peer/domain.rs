//! The peer's domain over HTTP (spec §6.1–§6.4, §7.1): `services-get` (following up to five
//! 302 redirects), `certificates-get` verified into a [`CertificateSet`], `finders-get` with
//! every entry's signature checked against it, and `signed-salt-get`.

use openpeer_identity_providers::http::HttpClient;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::random::message_id;
use openpeer_protocol::signature::verify_bundle;
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;

use super::error::{PeerError, result_body};
use crate::commands::unix_now;
use crate::keys::ServiceType;
use crate::services::bootstrapper::WELL_KNOWN_PATH;

/// Redirects of `services-get` followed before giving up (spec §7.1).
const MAX_REDIRECTS: usize = 5;

/// A bootstrapped domain: its method URIs and its verified certificates.
pub(crate) struct Domain {
    name: DomainName,
    http: HttpClient,
    /// (service type, method name, URI) from `services-get`.
    methods: Vec<(String, String, String)>,
    certificates: CertificateSet,
}

/// A finder picked from `finders-get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FinderEntry {
    /// `finder.$id`: named in the session proof.
    pub(crate) id: String,
    /// The finder's WebSocket URL.
    pub(crate) url: String,
}

impl Domain {
    /// Bootstraps `name` from `base_url` (spec §7.1): `services-get`, then `certificates-get`
    /// verified at `now`.
    pub(crate) async fn bootstrap(
        http: HttpClient,
        base_url: &str,
        name: DomainName,
        now: u64,
    ) -> Result<Domain, PeerError> {
        let mut url = format!("{}{WELL_KNOWN_PATH}", base_url.trim_end_matches('/'));
        let mut redirects = 0;
        let services = loop {
            let answer = post(&http, &name, &url, Method::ServicesGet, Object::new()).await?;
            let location = match answer.error() {
                Some(Ok(error)) if error.code == 302 => error.location,
                _ => None,
            };
            match location {
                Some(next) if redirects < MAX_REDIRECTS => {
                    redirects += 1;
                    url = next;
                }
                _ => break result_body(answer)?,
            }
        };
        let mut methods = Vec::new();
        let list = services
            .get_object("services")
            .ok_or(PeerError::Malformed("services"))?
            .get_list("service");
        for service in list.iter().filter_map(Value::as_object) {
            let Some(kind) = service.get_str("type") else {
                continue;
            };
            let entries = service
                .get_object("methods")
                .map(|m| m.get_list("method"))
                .unwrap_or_default();
            for method in entries.iter().filter_map(Value::as_object) {
                if let (Some(method_name), Some(uri)) =
                    (method.get_str("name"), method.get_str("uri"))
                {
                    methods.push((kind.to_owned(), method_name.to_owned(), uri.to_owned()));
                }
            }
        }
        let uri = method_uri(&methods, "certificates", Method::CertificatesGet)?;
        let body =
            result_body(post(&http, &name, uri, Method::CertificatesGet, Object::new()).await?)?;
        let certificates = CertificateSet::from_certificates_get(&name, &body, now)
            .map_err(|_| PeerError::Untrusted("certificates"))?;
        Ok(Domain {
            name,
            http,
            methods,
            certificates,
        })
    }

    /// The domain's certificates, verified.
    pub(crate) fn certificates(&self) -> &CertificateSet {
        &self.certificates
    }

    /// The HTTP client, whose TLS settings the finder WebSocket shares.
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The first finder of `finders-get` whose entry is signed by the domain's certificates and
    /// not expired at `now` (spec §6.3).
    pub(crate) async fn finder(&self, now: u64) -> Result<FinderEntry, PeerError> {
        let body = self
            .call("bootstrapped-finders", Method::FindersGet, Object::new())
            .await?;
        let bundles = body
            .get_object("finders")
            .map(|f| f.get_list("finderBundle"))
            .unwrap_or_default();
        bundles
            .iter()
            .filter_map(Value::as_object)
            .find_map(|bundle| {
                let verified = verify_bundle(
                    bundle,
                    "finder",
                    &self.certificates.of_service(ServiceType::Finder.as_str()),
                )
                .ok()?;
                let finder = *verified.get();
                if finder.get_u64("expires").is_some_and(|e| e <= now) {
                    return None;
                }
                let id = finder.get_str("$id")?;
                let url = finder
                    .get_object("protocols")?
                    .get_list("protocol")
                    .iter()
                    .filter_map(Value::as_object)
                    .find_map(|p| p.get_str("host").filter(|h| is_websocket_url(h)))?;
                Some(FinderEntry {
                    id: id.to_owned(),
                    url: url.to_owned(),
                })
            })
            .ok_or(PeerError::NoFinder)
    }

    /// One signed salt from `signed-salt-get` (spec §6.4), as the peer file embeds it.
    pub(crate) async fn signed_salt(&self) -> Result<Object, PeerError> {
        let body = self
            .call("salt", Method::SignedSaltGet, Object::new())
            .await?;
        body.get_object("salts")
            .and_then(|s| s.get_list("saltBundle").first())
            .and_then(Value::as_object)
            .cloned()
            .ok_or(PeerError::Malformed("salts"))
    }

    /// Calls `method` of service type `service` at the URI `services-get` listed.
    pub(crate) async fn call(
        &self,
        service: &str,
        method: Method,
        body: Object,
    ) -> Result<Object, PeerError> {
        let uri = method_uri(&self.methods, service, method)?;
        result_body(post(&self.http, &self.name, uri, method, body).await?)
    }
}

/// The URI `services-get` listed for `method` of service type `service`.
fn method_uri<'a>(
    methods: &'a [(String, String, String)],
    service: &str,
    method: Method,
) -> Result<&'a str, PeerError> {
    methods
        .iter()
        .find(|(kind, name, _)| kind == service && name == method.name())
        .map(|(_, _, uri)| uri.as_str())
        .ok_or(PeerError::Malformed("services-get lacks a method"))
}

/// POSTs a request of `method` for `domain` to `url` and reads the result (spec §1.2): HTTP 200
/// with the result document; an empty body takes its code from the HTTP status.
async fn post(
    http: &HttpClient,
    domain: &DomainName,
    url: &str,
    method: Method,
    body: Object,
) -> Result<Message, PeerError> {
    let id = message_id(&mut OsRng);
    let envelope = Envelope {
        domain: Some(domain.to_string()),
        id: Some(id.clone()),
        timestamp: Some(unix_now()),
        ..Envelope::new(MessageKind::Request, method)
    };
    let document = message::encode(&Message::new(envelope, body));
    let (status, answer) = http
        .post(url, "application/json", document.into_bytes())
        .await
        .map_err(|e| PeerError::Http(e.to_string()))?;
    if answer.is_empty() {
        return Err(PeerError::Refused {
            code: status,
            reason: String::new(),
        });
    }
    if status != 200 {
        return Err(PeerError::Http(format!("{url}: HTTP status {status}")));
    }
    let text = std::str::from_utf8(&answer).map_err(|_| PeerError::Malformed("not UTF-8"))?;
    let message = message::decode(text).map_err(|_| PeerError::Malformed("not a message"))?;
    if message.envelope.kind != MessageKind::Result {
        return Err(PeerError::Malformed("not a result"));
    }
    if message
        .envelope
        .id
        .as_deref()
        .is_some_and(|echo| echo != id)
    {
        return Err(PeerError::Malformed("result for another request"));
    }
    Ok(message)
}

/// Whether `url` is a WebSocket URL this client can open.
fn is_websocket_url(url: &str) -> bool {
    url.starts_with("ws://") || url.starts_with("wss://")
}
