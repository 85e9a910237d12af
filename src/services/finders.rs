//! `bootstrapped-finders/finders-get` (spec §6.3): the finders of the domain — one per live
//! gateway node — each entry signed by the domain's finder key; never more than asked.

use openpeer_protocol::finder::FinderEntry;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::signature::sign_bundle;
use rand_core::OsRng;

use super::certificates::Published;
use crate::config::Settings;
use crate::error::Error;
use crate::keys::ServiceType;
use crate::store::StoreError;

/// Path of the finder WebSocket on every node.
pub const FINDER_PATH: &str = "/finder";

/// Path of the finder-to-finder link on every node (architecture §4 "Federation" (4)); finder
/// entries list it as their `finder-link` protocol.
pub const LINK_PATH: &str = "/federation/link";

/// A gateway node as listed in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinderNode {
    /// The node id: the finder `$id`.
    pub node_id: String,
    /// The finder's WebSocket URL.
    pub url: String,
    /// Published region.
    pub region: String,
    /// Published priority (lower first).
    pub priority: u32,
    /// Published weight.
    pub weight: u32,
    /// Unix time the node first registered.
    pub created: u64,
    /// Unix time of its last heartbeat.
    pub last_seen: u64,
}

/// Storage of the node directory.
#[async_trait::async_trait]
pub trait FinderNodeRepo: Send + Sync {
    /// Registers the node or refreshes its entry (keeping `created`).
    async fn heartbeat(&self, node: &FinderNode) -> Result<(), StoreError>;
    /// Nodes seen since `seen_since`, by priority, at most `limit`.
    async fn live_nodes(&self, seen_since: u64, limit: u64) -> Result<Vec<FinderNode>, StoreError>;
}

/// This node's directory entry at `now`.
pub fn this_node(settings: &Settings, now: u64) -> FinderNode {
    let ws = settings
        .public_url
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    FinderNode {
        node_id: settings.node_id.clone(),
        url: format!("{ws}{FINDER_PATH}"),
        region: settings.finder.region.clone(),
        priority: settings.finder.priority,
        weight: settings.finder.weight,
        created: now,
        last_seen: now,
    }
}

/// Answers `finders-get`: `servers` (default 1) signed finder entries, capped by configuration.
pub async fn finders_get(
    repo: &dyn FinderNodeRepo,
    settings: &Settings,
    published: &Published,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let limit = super::requested_count(body, "servers", settings.limits.max_finders_per_request)?;
    let signer = published.signer(ServiceType::Finder, now)?;
    let reference = signer.certificate.reference(&settings.domain);
    let since = now.saturating_sub(settings.finder.node_ttl_seconds);
    let entries = repo
        .live_nodes(since, limit)
        .await?
        .into_iter()
        .map(|node| {
            let entry = FinderEntry {
                id: node.node_id.clone(),
                link: node
                    .url
                    .strip_suffix(FINDER_PATH)
                    .map(|base| format!("{base}{LINK_PATH}")),
                websocket: node.url,
                key: signer.certificate.key.clone(),
                priority: node.priority,
                weight: node.weight,
                region: node.region,
                created: node.created,
                expires: node.last_seen + settings.finder.node_ttl_seconds,
            };
            Value::Object(sign_bundle(
                "finder",
                entry.to_object(),
                &signer.key,
                &reference,
                &mut OsRng,
            ))
        })
        .collect();
    Ok(Object::new().with(
        "finders",
        Object::new().with("finderBundle", Value::from_list(entries)),
    ))
}
