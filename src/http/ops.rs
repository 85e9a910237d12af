//! Operations endpoints: `/healthz` (the process answers), `/readyz` (database reachable and keys
//! loaded) and `/metrics` (Prometheus text).

use super::State;
use crate::keys::ServiceType;
use openpeer_federation::clock::unix_now;

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
    let gateway = req.state();
    let (finds, channel_ends) = gateway.routes.counts();
    let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let gauges = [
        (
            "openpeer_finder_connections",
            "Open finder WebSocket connections (peers' and finder-to-finder links').",
            as_u64(gateway.registry.connections()),
        ),
        (
            "openpeer_finder_registrations",
            "Locations registered with session-create on this node.",
            as_u64(gateway.registry.len()),
        ),
        (
            "openpeer_finder_find_routes",
            "Forwarded finds whose notifies are still relayed.",
            as_u64(finds),
        ),
        (
            "openpeer_finder_relay_channels",
            "Relay channels mapped by channel-map.",
            as_u64(channel_ends / 2),
        ),
        (
            "openpeer_federation_links",
            "Finder-to-finder links open, inbound and outbound.",
            as_u64(gateway.services.bridge().links.open_count()),
        ),
    ];
    let text = gateway.metrics.render(&gauges);
    Ok(tide::Response::builder(200)
        .content_type("text/plain; version=0.0.4")
        .body(text)
        .build())
}
