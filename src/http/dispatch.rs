//! The protocol dispatcher: body → envelope → checks → one service call → result or C14 error.
//! Every answer is HTTP 200 with the result document (spec §1.2); the result code is inside.

use std::time::Instant;

use futures_lite::AsyncReadExt as _;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, ErrorResult, Message, MessageKind, Method};
use openpeer_protocol::uri::DomainName;

use super::State;
use crate::app::Gateway;
use crate::error::Error;
use crate::services::bootstrapper::WELL_KNOWN_PATH;
use crate::services::{Reply, Services};
use openpeer_federation::clock::unix_now;

/// An answer and what metrics record of it.
#[derive(Debug)]
pub struct Answer {
    /// The result document.
    pub document: String,
    /// The resolved method, when the request named a known one.
    pub method: Option<Method>,
    /// The result code (200 for a result without error).
    pub code: u16,
}

/// `POST` of any method URI.
pub async fn protocol_request(mut req: tide::Request<State>) -> tide::Result {
    let started = Instant::now();
    let gateway = req.state().clone();
    let now = unix_now();
    let limits = &gateway.services.settings().limits;
    let well_known = req.url().path() == WELL_KNOWN_PATH;
    let answer = match read_body(&mut req, limits.max_body_bytes).await {
        // A bodiless POST of the well-known URL is the static-file form of services-get.
        Ok(text) if well_known && text.trim().is_empty() => Answer {
            document: gateway.static_services_get.clone(),
            method: Some(Method::ServicesGet),
            code: 200,
        },
        Ok(text) => answer(&gateway, &text, now).await,
        Err(code) => {
            let document = Message::error_document(code, None, now);
            Answer {
                document: message::encode(&document),
                method: None,
                code: code.code(),
            }
        }
    };
    let (handler, method) = answer
        .method
        .map_or(("unknown", "unknown"), |m| (m.handler().as_str(), m.name()));
    gateway
        .metrics
        .observe(handler, method, answer.code, started.elapsed());
    Ok(json_response(answer.document))
}

/// `GET /.well-known/openpeer-services-get`: the static-file form, without `$id` or `$timestamp`.
pub async fn static_services_get(req: tide::Request<State>) -> tide::Result {
    Ok(json_response(req.state().static_services_get.clone()))
}

fn json_response(document: String) -> tide::Response {
    let mut response = tide::Response::new(200);
    response.set_content_type(tide::http::mime::JSON);
    response.set_body(document);
    response
}

/// Reads at most `max` bytes of UTF-8 body; otherwise the code to refuse with.
async fn read_body(req: &mut tide::Request<State>, max: usize) -> Result<String, ResultCode> {
    if req.len().is_some_and(|len| len > max) {
        return Err(ResultCode::PayloadTooLarge);
    }
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    req.take_body()
        .take(limit)
        .read_to_end(&mut bytes)
        .await
        .map_err(|_| ResultCode::BadRequest)?;
    if bytes.len() > max {
        return Err(ResultCode::PayloadTooLarge);
    }
    String::from_utf8(bytes).map_err(|_| ResultCode::BadRequest)
}

/// Answers one protocol document received at time `now`.
pub async fn answer(gateway: &Gateway, text: &str, now: u64) -> Answer {
    let request = match message::decode(text) {
        Ok(request) => request,
        Err(e) => {
            tracing::debug!(error = %e, "undecodable request");
            let code = e.result_code();
            return Answer {
                document: message::encode(&Message::error_document(code, None, now)),
                method: None,
                code: code.code(),
            };
        }
    };
    let method = request.method().ok();
    let outcome = match check(gateway, &request.envelope, now) {
        Ok(method) => gateway.services.call(method, &request.body, now).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &outcome {
        if matches!(e, Error::Store(_) | Error::Keys(_)) {
            tracing::error!(error = %e, method = ?method, "request failed");
        } else {
            tracing::debug!(error = %e, method = ?method, "request refused");
        }
    }
    let (document, code) = reply(&request.envelope, outcome, Some(now));
    Answer {
        document,
        method,
        code,
    }
}

/// The checks every request passes before its service sees it.
fn check(gateway: &Gateway, envelope: &Envelope, now: u64) -> Result<Method, Error> {
    let settings = gateway.services.settings();
    if envelope.kind != MessageKind::Request {
        return Err(Error::refused(
            ResultCode::BadRequest,
            "only requests are served here",
        ));
    }
    if let Some(domain) = &envelope.domain
        && DomainName::parse(domain).ok().as_ref() != Some(&settings.domain)
    {
        return Err(Error::refused(
            ResultCode::NotFound,
            "this gateway does not serve that domain",
        ));
    }
    if let Some(timestamp) = envelope.timestamp
        && timestamp.abs_diff(now) > settings.limits.timestamp_skew_seconds
    {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "$timestamp too far from the server clock",
        ));
    }
    envelope.method().map_err(|e| Error::Protocol(e.into()))
}

/// The result (or error) document answering `request`, and its code. `now` becomes the
/// `$timestamp`; the static-file form has none.
fn reply(request: &Envelope, outcome: Result<Reply, Error>, now: Option<u64>) -> (String, u16) {
    let mut envelope = request.result_envelope(now.unwrap_or_default());
    envelope.timestamp = now;
    match outcome {
        Ok(Reply::Body(body)) => (message::encode(&Message::new(envelope, body)), 200),
        Ok(Reply::Rendered(body)) => (message::encode_rendered(&envelope, &body), 200),
        Err(e) => {
            let (code, reason) = e.wire();
            let error = ErrorResult {
                code: code.code(),
                reason: reason.to_owned(),
                location: e.location().map(str::to_owned),
            };
            let body = Object::new().with("error", error.to_object());
            (message::encode(&Message::new(envelope, body)), code.code())
        }
    }
}

/// The `services-get` answer without `$id` or `$timestamp`: the static-file form, made once.
pub async fn static_services_get_document(services: &Services) -> String {
    let request = Envelope {
        domain: Some(services.settings().domain.to_string()),
        ..Envelope::new(MessageKind::Request, Method::ServicesGet)
    };
    let outcome = services.call(Method::ServicesGet, &Object::new(), 0).await;
    reply(&request, outcome, None).0
}
