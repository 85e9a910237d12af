//! The namespace grant service over HTTP (spec §6.8): the `namespace-grant-inner-frame` page for
//! applications with a browser, and its JSON form for those without.
//!
//! * `GET  /namespace-grant/v1/inner-frame` — the page. It asks the outer frame for the
//!   challenges (`namespace-grant-window`, `namespace-grant-start`), shows them, and on approval
//!   posts `namespace-grant-complete` to the declared outer origin only.
//! * `POST /namespace-grant/v1/grant` `{"namespaceGrantChallenges":{…}}` — the approval: the
//!   `namespace-grant-complete` notify document with the signed bundles, or the C14 error form.

use openpeer_protocol::message::{self, Envelope, Message, MessageKind, Method};

use super::State;
use super::identity::{body_object, json, refusal_of};
pub use crate::services::bootstrapper::NAMESPACE_GRANT_FRAME_PATH;
use crate::services::namespace_grant;
use openpeer_federation::clock::unix_now;

/// Path of the JSON approval.
pub const NAMESPACE_GRANT_PATH: &str = "/namespace-grant/v1/grant";

const INNER_FRAME: &str = include_str!("namespace_grant_frame.html");

/// `POST /namespace-grant/v1/grant`.
pub async fn grant(mut req: tide::Request<State>) -> tide::Result {
    let state = req.state().clone();
    let outcome = match body_object(&mut req).await {
        Ok(body) => namespace_grant::grant(&state.services, &body, unix_now()),
        Err(e) => Err(e),
    };
    Ok(match outcome {
        Ok(body) => {
            let envelope = Envelope {
                domain: Some(state.services.settings().domain.to_string()),
                ..Envelope::new(MessageKind::Notify, Method::NamespaceGrantComplete)
            };
            json(message::encode(&Message::new(envelope, body)))
        }
        Err(e) => refusal_of(&state, Method::NamespaceGrantComplete, &e),
    })
}

/// `GET /namespace-grant/v1/inner-frame`.
pub async fn inner_frame(req: tide::Request<State>) -> tide::Result {
    let domain = req.state().services.settings().domain.to_string();
    let mut response = tide::Response::new(200);
    response.set_content_type(tide::http::mime::HTML);
    response.insert_header(
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline'; frame-ancestors *",
    );
    response.set_body(INNER_FRAME.replace("__OPENPEER_DOMAIN__", &domain));
    Ok(response)
}
