//! HTTP wiring: routes of the protocol, the static `services-get` form and the operations
//! endpoints, all over one shared [`Gateway`].

mod dispatch;
mod identity;
mod namespace_grant;
mod ops;
mod request_log;
mod websocket;

pub use dispatch::{Answer, answer, static_services_get_document};

use std::sync::Arc;

use crate::gateway::Gateway;
use crate::services::bootstrapper::{INNER_FRAME_PATH, METHOD_PATH_PREFIX, WELL_KNOWN_PATH};
use crate::services::finders::{FINDER_PATH, LINK_PATH};

/// The tide state: the node, shared.
pub type State = Arc<Gateway>;

/// The node's HTTP application.
pub fn routes(gateway: State) -> tide::Server<State> {
    let mut app = tide::with_state(gateway);
    app.with(request_log::RequestLog);
    app.at(WELL_KNOWN_PATH)
        .post(dispatch::protocol_request)
        .get(dispatch::static_services_get);
    app.at(&format!("{METHOD_PATH_PREFIX}/*"))
        .post(dispatch::protocol_request);
    app.at("/identity/v1/providers").get(identity::providers);
    app.at("/identity/v1/local/login")
        .post(identity::local_login);
    app.at("/identity/v1/local/signup")
        .post(identity::local_signup);
    app.at("/identity/v1/relogin").post(identity::relogin);
    app.at("/identity/v1/local/contacts")
        .post(identity::local_contacts);
    app.at("/identity/v1/login/start")
        .post(identity::login_start)
        .get(identity::login_start_redirect);
    app.at("/identity/v1/callback/:provider")
        .get(identity::callback);
    app.at(INNER_FRAME_PATH).get(identity::inner_frame);
    app.at(namespace_grant::NAMESPACE_GRANT_FRAME_PATH)
        .get(namespace_grant::inner_frame);
    app.at(namespace_grant::NAMESPACE_GRANT_PATH)
        .post(namespace_grant::grant);
    app.at(FINDER_PATH).get(websocket::finder);
    app.at(LINK_PATH).get(websocket::link);
    app.at("/healthz").get(ops::healthz);
    app.at("/readyz").get(ops::readyz);
    app.at("/metrics").get(ops::metrics);
    app
}
