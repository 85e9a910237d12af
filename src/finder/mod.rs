//! The finder (spec §6.11, architecture §4): peers register their locations over a WebSocket at
//! `/finder` and the finder introduces them to each other, then drops out.

pub mod find;
pub mod registry;
pub mod relay;
pub mod routes;
pub mod session;
pub mod socket;

use std::sync::Arc;

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;

use crate::bridge::Bridge;
use crate::config::Settings;
use crate::error::Error;
use crate::identity::repo::IdentityRepo;
use crate::metrics::Metrics;
use crate::services::certificates::Published;
use registry::{LocationRepo, Registry};
use routes::Routes;

/// Longest proof lifetime a finder accepts (the C++ makes session and find proofs 24 h).
const MAX_PROOF_LIFETIME: u64 = 25 * 3600;

/// What the finder's methods need from the node.
pub struct Context<'a> {
    /// Node settings.
    pub settings: &'a Settings,
    /// Keys in force when the message arrived.
    pub published: Arc<Published>,
    /// The one-time nonce cache.
    pub nonces: &'a dyn IdentityRepo,
    /// The location rows.
    pub locations: &'a dyn LocationRepo,
    /// The live connections and registrations.
    pub registry: &'a Registry,
    /// Find routes and relay channels.
    pub routes: &'a Routes,
    /// Request counters, shared with HTTP.
    pub metrics: &'a Metrics,
    /// The federation bridge: finds for other domains' peers leave through it.
    pub bridge: &'a Bridge,
}

fn bad_request(reason: &'static str) -> Error {
    Error::refused(ResultCode::BadRequest, reason)
}

fn forbidden(reason: &'static str) -> Error {
    Error::refused(ResultCode::Forbidden, reason)
}

/// A required string attribute of at most 128 characters, not empty: ids, nonces, contexts.
fn short_text<'o>(object: &'o Object, key: &str, missing: &'static str) -> Result<&'o str, Error> {
    object
        .get_str(key)
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .ok_or_else(|| bad_request(missing))
}

/// Checks a proof expiry: 401 when it passed or lies further ahead than `max_lifetime`.
fn check_expiry(expires: u64, now: u64, max_lifetime: u64) -> Result<(), Error> {
    if expires <= now {
        return Err(Error::refused(ResultCode::Unauthorized, "proof expired"));
    }
    if expires > now.saturating_add(max_lifetime) {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "proof lifetime too long",
        ));
    }
    Ok(())
}

/// The `$id`s of a `locations` element's `location` list (`session-delete`, `exclude`).
fn location_ids(locations: &Object) -> Vec<String> {
    locations
        .get_list("location")
        .iter()
        .filter_map(|v| v.as_object()?.get_str("$id").map(str::to_owned))
        .collect()
}
