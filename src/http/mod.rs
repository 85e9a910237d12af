//! HTTP wiring: routes of the protocol, the static `services-get` form and the operations
//! endpoints, all over one shared [`Gateway`].

mod dispatch;
mod ops;
mod request_log;

pub use dispatch::{Answer, answer, static_services_get_document};

use std::sync::Arc;

use crate::app::Gateway;
use crate::services::bootstrapper::{METHOD_PATH_PREFIX, WELL_KNOWN_PATH};

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
    app.at("/healthz").get(ops::healthz);
    app.at("/readyz").get(ops::readyz);
    app.at("/metrics").get(ops::metrics);
    app
}
