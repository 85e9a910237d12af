//! Operations endpoints: `/healthz` (the process answers), `/readyz` (database reachable and keys
//! loaded) and `/metrics` (Prometheus text).

use super::State;
use crate::commands::unix_now;
use crate::keys::ServiceType;

/// The process is up.
pub async fn healthz(_: tide::Request<State>) -> tide::Result {
    Ok(tide::Response::builder(200).body("ok\n").build())
}

/// The node can answer: its database responds and every service has a valid key.
pub async fn readyz(req: tide::Request<State>) -> tide::Result {
    let services = &req.state().services;
    let now = unix_now();
    let published = services.published();
    let keys = ServiceType::ALL
        .iter()
        .all(|s| published.ring.active(*s, now).is_some());
    let database = services.store().ping().await;
    let (status, body) = match (database, keys) {
        (true, true) => (200, "ready\n"),
        (false, _) => (503, "database unreachable\n"),
        (true, false) => (503, "domain keys missing or expired\n"),
    };
    Ok(tide::Response::builder(status).body(body).build())
}

/// Prometheus metrics.
pub async fn metrics(req: tide::Request<State>) -> tide::Result {
    let text = req.state().metrics.render(&[]);
    Ok(tide::Response::builder(200)
        .content_type("text/plain; version=0.0.4")
        .body(text)
        .build())
}
