//! Finding a domain's services (spec §3, §6.1–§6.4, §7.1): `services-get` at
//! `<base>/.well-known/openpeer-services-get` (POST, the static GET form when POST gets no
//! protocol answer, at most five 302 redirects, each to `https` or loopback `http`),
//! `certificates-get` at the URI it lists, `finders-get` with every entry's signature checked,
//! and any other method at its listed URI. [`Domain`] is the bootstrapped domain a peer keeps.

use openpeer_protocol::bootstrapper::{ServiceType, WELL_KNOWN_PATH};
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::finder::FinderEntry;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};
use openpeer_protocol::random::message_id;
use openpeer_protocol::signature::verify_bundle;
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;

use crate::clock::unix_now;
use crate::http::{HttpClient, secure_url};
use crate::{Error, result_body};

/// Redirects of `services-get` followed before giving up (spec §7.1).
pub const MAX_REDIRECTS: usize = 5;

/// The method URIs a domain's `services-get` listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services {
    /// (service type, method name, URI).
    methods: Vec<(String, String, String)>,
}

impl Services {
    /// Reads the `services` element of a `services-get` result (spec §6.1); methods given by
    /// `host` only (TURN, STUN) are not callable and are left out.
    pub fn from_result(body: &Object) -> Result<Services, Error> {
        let list = body
            .get_object("services")
            .ok_or(Error::Malformed("services"))?
            .get_list("service");
        let mut methods = Vec::new();
        for service in list.iter().filter_map(Value::as_object) {
            let Some(kind) = service.get_str("type") else {
                continue;
            };
            let entries = service
                .get_object("methods")
                .map(|m| m.get_list("method"))
                .unwrap_or_default();
            for method in entries.iter().filter_map(Value::as_object) {
                if let (Some(name), Some(uri)) = (method.get_str("name"), method.get_str("uri")) {
                    methods.push((kind.to_owned(), name.to_owned(), uri.to_owned()));
                }
            }
        }
        Ok(Services { methods })
    }

    /// The URI listed for `method` of service type `service`.
    pub fn uri(&self, service: &str, method: Method) -> Result<&str, Error> {
        self.methods
            .iter()
            .find(|(kind, name, _)| kind == service && name == method.name())
            .map(|(_, _, uri)| uri.as_str())
            .ok_or(Error::Malformed("services-get lacks a method"))
    }
}

/// `services-get` of `name` served at `base_url` (spec §7.1): POSTed; when the POST gets no
/// protocol answer (an HTTP error status or an empty body, as from a static file server) the
/// same URL is read with GET. A 302 result is followed to its `location` at most
/// [`MAX_REDIRECTS`] times, each target `https` or `http` to a loopback host.
pub async fn services_get(
    http: &HttpClient,
    base_url: &str,
    name: &DomainName,
) -> Result<Services, Error> {
    let mut url = format!("{}{WELL_KNOWN_PATH}", base_url.trim_end_matches('/'));
    let mut redirects = 0;
    loop {
        let answer = match request(http, name, &url, Method::ServicesGet, Object::new()).await {
            // An HTTP answer that is not a protocol answer: a static file server.
            Err(Error::Refused { .. } | Error::Malformed(_) | Error::HttpStatus(_)) => {
                static_services_get(http, &url).await?
            }
            other => other?,
        };
        let location = match answer.error() {
            Some(Ok(error)) if error.code == 302 => error.location,
            _ => None,
        };
        match location {
            Some(next) if redirects < MAX_REDIRECTS => {
                secure_url(&next, "services-get redirect")
                    .map_err(|_| Error::Malformed("redirect to an insecure URL"))?;
                redirects += 1;
                url = next;
            }
            Some(_) => return Err(Error::Malformed("too many services-get redirects")),
            None => return Services::from_result(&result_body(answer)?),
        }
    }
}

/// The static-file form of `services-get` (spec §1.2: no `$id`, no `$timestamp`), read by GET.
async fn static_services_get(http: &HttpClient, url: &str) -> Result<Message, Error> {
    let (status, answer) = http
        .get(url)
        .await
        .map_err(|e| Error::Http(e.to_string()))?;
    if status != 200 {
        return Err(Error::HttpStatus(status));
    }
    decode_result(&answer, None)
}

/// `certificates-get` of `name` at the URI `services` lists: the result body, not yet verified.
pub async fn certificates_get(
    http: &HttpClient,
    services: &Services,
    name: &DomainName,
) -> Result<Object, Error> {
    let uri = services.uri(ServiceType::Certificates.as_str(), Method::CertificatesGet)?;
    result_body(request(http, name, uri, Method::CertificatesGet, Object::new()).await?)
}

/// The entries of `finders-get` (spec §6.3) that are signed by `certificates`' finder keys, not
/// expired at `now` and offer a WebSocket; entries that do not check out are skipped.
pub async fn finders_get(
    http: &HttpClient,
    services: &Services,
    certificates: &CertificateSet,
    servers: u32,
    now: u64,
) -> Result<Vec<FinderEntry>, Error> {
    let uri = services.uri("bootstrapped-finders", Method::FindersGet)?;
    let body = Object::new().with("servers", u64::from(servers));
    let name = certificates.domain();
    let body = result_body(request(http, name, uri, Method::FindersGet, body).await?)?;
    let resolver = certificates.of_service(ServiceType::Finder.as_str());
    Ok(body
        .get_object("finders")
        .map(|f| f.get_list("finderBundle"))
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|bundle| {
            let verified = verify_bundle(bundle, "finder", &resolver).ok()?;
            FinderEntry::from_object(verified.get()).ok()
        })
        .filter(|entry| entry.expires > now)
        .collect())
}

/// POSTs a request of `method` for `domain` to `url` and reads the result (spec §1.2): HTTP 200
/// with the result document echoing the request's `$id`; an empty body takes its code from
/// the HTTP status.
pub async fn request(
    http: &HttpClient,
    domain: &DomainName,
    url: &str,
    method: Method,
    body: Object,
) -> Result<Message, Error> {
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
        .map_err(|e| Error::Http(e.to_string()))?;
    if answer.is_empty() {
        return Err(Error::Refused {
            code: status,
            reason: String::new(),
        });
    }
    if status != 200 {
        return Err(Error::HttpStatus(status));
    }
    decode_result(&answer, Some(&id))
}

/// A result document, echoing `id` when one was sent.
fn decode_result(answer: &[u8], id: Option<&str>) -> Result<Message, Error> {
    let text = std::str::from_utf8(answer).map_err(|_| Error::Malformed("not UTF-8"))?;
    let message = message::decode(text).map_err(|_| Error::Malformed("not a message"))?;
    if message.envelope.kind != MessageKind::Result {
        return Err(Error::Malformed("not a result"));
    }
    if let (Some(sent), Some(echo)) = (id, message.envelope.id.as_deref())
        && sent != echo
    {
        return Err(Error::Malformed("result for another request"));
    }
    Ok(message)
}

/// A bootstrapped domain: its method URIs and its verified certificates (spec §7.1).
pub struct Domain {
    name: DomainName,
    http: HttpClient,
    services: Services,
    certificates: CertificateSet,
}

impl Domain {
    /// Bootstraps `name` from `base_url`: `services-get`, then `certificates-get` verified at
    /// `now`.
    pub async fn bootstrap(
        http: HttpClient,
        base_url: &str,
        name: DomainName,
        now: u64,
    ) -> Result<Domain, Error> {
        let services = services_get(&http, base_url, &name).await?;
        let body = certificates_get(&http, &services, &name).await?;
        let certificates = CertificateSet::from_certificates_get(&name, &body, now)
            .map_err(|_| Error::Untrusted("certificates"))?;
        Ok(Domain {
            name,
            http,
            services,
            certificates,
        })
    }

    /// The domain's name.
    pub fn name(&self) -> &DomainName {
        &self.name
    }

    /// The domain's verified certificates.
    pub fn certificates(&self) -> &CertificateSet {
        &self.certificates
    }

    /// The HTTP client, whose TLS settings the finder WebSocket shares.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The first finder of `finders-get` whose entry is signed by the domain's certificates and
    /// not expired at `now` (spec §6.3).
    pub async fn finder(&self, now: u64) -> Result<FinderEntry, Error> {
        finders_get(&self.http, &self.services, &self.certificates, 1, now)
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NoFinder)
    }

    /// One signed salt from `signed-salt-get` (spec §6.4), as the peer file embeds it.
    pub async fn signed_salt(&self) -> Result<Object, Error> {
        let body = self
            .call("salt", Method::SignedSaltGet, Object::new())
            .await?;
        body.get_object("salts")
            .and_then(|s| s.get_list("saltBundle").first())
            .and_then(Value::as_object)
            .cloned()
            .ok_or(Error::Malformed("salts"))
    }

    /// Calls `method` of service type `service` at the URI `services-get` listed.
    pub async fn call(&self, service: &str, method: Method, body: Object) -> Result<Object, Error> {
        let uri = self.services.uri(service, method)?;
        result_body(request(&self.http, &self.name, uri, method, body).await?)
    }
}
