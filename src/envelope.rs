//! What every request passes before a service sees it — over HTTP, a finder WebSocket or a
//! finder-to-finder link alike — and the one writer of result and error documents (spec §1.2,
//! §1.3; architecture §8).

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{self, Envelope, ErrorResult, Message, MessageKind, Method};
use openpeer_protocol::uri::DomainName;

use crate::config::Settings;
use crate::error::Error;
use crate::services::Reply;

/// The envelope checks: a request, addressed (`$domain`, when present) to `addressed_to`, with a
/// `$timestamp` (when present) within `limits.timestamp_skew_seconds` of `now`, naming a known
/// method. Returns the method.
pub fn check_request(
    settings: &Settings,
    envelope: &Envelope,
    addressed_to: &DomainName,
    now: u64,
) -> Result<Method, Error> {
    if envelope.kind != MessageKind::Request {
        return Err(Error::refused(
            ResultCode::BadRequest,
            "only requests are served here",
        ));
    }
    if let Some(domain) = &envelope.domain
        && DomainName::parse(domain).ok().as_ref() != Some(addressed_to)
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
/// `$timestamp`; the static-file form of `services-get` has none. Internal failures are logged
/// here and answered without detail.
pub fn result_document(
    request: &Envelope,
    outcome: Result<Reply, Error>,
    now: Option<u64>,
) -> (String, u16) {
    let mut envelope = request.result_envelope(now.unwrap_or_default());
    envelope.timestamp = now;
    match outcome {
        Ok(Reply::Body(body)) => (message::encode(&Message::new(envelope, body)), 200),
        Ok(Reply::Rendered(body)) => (message::encode_rendered(&envelope, &body), 200),
        Err(e) => {
            let (code, reason) = e.wire();
            if code == ResultCode::InternalError {
                tracing::error!(error = %e, method = ?request.method, "request failed");
            } else {
                tracing::debug!(error = %e, method = ?request.method, "request refused");
            }
            let body = Object::new().with("error", error_element(code, reason, e.location()));
            (message::encode(&Message::new(envelope, body)), code.code())
        }
    }
}

/// The error document for input that is not a message at all (no envelope to echo).
pub fn undecodable_document(code: ResultCode, now: u64) -> String {
    message::encode(&Message::error_document(code, None, now))
}

/// An `error` element (spec §1.3), e.g. for one identity of a lookup that could not be answered.
pub fn error_element(code: ResultCode, reason: &str, location: Option<&str>) -> Object {
    ErrorResult {
        code: code.code(),
        reason: reason.to_owned(),
        location: location.map(str::to_owned),
    }
    .to_object()
}
