//! The protocol dispatcher: body → envelope → checks → one service call → result or C14 error.
//! Every answer is HTTP 200 with the result document (spec §1.2); the result code is inside.

use std::time::Instant;

use futures_lite::AsyncReadExt as _;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, MessageKind, Method};

use super::State;
use crate::envelope::{check_request, result_document, undecodable_document};
use crate::gateway::Gateway;
use crate::services::Services;
use crate::services::bootstrapper::WELL_KNOWN_PATH;
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
        Err(code) => Answer {
            document: undecodable_document(code, now),
            method: None,
            code: code.code(),
        },
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
                document: undecodable_document(code, now),
                method: None,
                code: code.code(),
            };
        }
    };
    let method = request.method().ok();
    let settings = gateway.services.settings();
    let outcome = match check_request(settings, &request.envelope, &settings.domain, now) {
        Ok(method) => gateway.services.call(method, &request.body, now).await,
        Err(e) => Err(e),
    };
    let (document, code) = result_document(&request.envelope, outcome, Some(now));
    Answer {
        document,
        method,
        code,
    }
}

/// The `services-get` answer without `$id` or `$timestamp`: the static-file form, made once.
pub async fn static_services_get_document(services: &Services) -> String {
    let request = Envelope {
        domain: Some(services.settings().domain.to_string()),
        ..Envelope::new(MessageKind::Request, Method::ServicesGet)
    };
    let outcome = services.call(Method::ServicesGet, &Object::new(), 0).await;
    result_document(&request, outcome, None).0
}
