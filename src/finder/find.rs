//! `peer-finder/peer-location-find` (spec §6.11, §7.3): a registered peer asks for another
//! peer's locations. The finder checks the request, forwards the same signed request to each of
//! the target's locations and relays their `notify` (same `$id`) back to the requester; it never
//! reads the candidates (architecture §4).

use openpeer_protocol::bootstrapper::ServiceType;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::link::{LinkHello, MAX_HELLO_LIFETIME};
use openpeer_protocol::message::Envelope;
use openpeer_protocol::peer_location_find::FindRequest;
use openpeer_protocol::proof::{check, find_secret_proof};
use openpeer_protocol::random::nonce as random_nonce;
use openpeer_protocol::signature::{PeerKey, verify_bundle};
use openpeer_protocol::uri::{DomainName, PeerUri};
use rand_core::OsRng;

use super::registry::{ConnectionId, Outbound, Registration, Registry};
use super::routes::Routes;
use super::{Context, MAX_PROOF_LIFETIME, bad_request, check_expiry, forbidden};
use crate::error::Error;

/// Answers a find from `connection` and forwards `text`, the request exactly as received, to
/// the target's locations. Checks, in order: the find rate of the connection (480), the
/// requester registered on this connection and its signature (403), the proof expiry (401),
/// the target's findable locations (404), `findSecretProof` against their `findSecret` (403),
/// the one-time nonce (403), and what is left after `exclude` (404).
pub async fn peer_location_find(
    ctx: &Context<'_>,
    connection: ConnectionId,
    request: &Envelope,
    text: &str,
    body: &Object,
    now: u64,
) -> Result<FindOutcome, Error> {
    let limit = ctx.settings.finder.max_finds_per_second;
    if !ctx.registry.allow_find(connection, now, limit) {
        return Err(Error::refused(
            ResultCode::TemporarilyUnavailable,
            "too many finds on this connection; slow down",
        ));
    }
    let find = Find::read(request, text, body)?;
    let request = &find.request;
    let requester = ctx
        .registry
        .registered_on(connection, request.from)
        .ok_or_else(|| forbidden("register this location with session-create before finding"))?;
    let requester_uri =
        PeerUri::parse(&requester.contact).map_err(|e| Error::Protocol(e.into()))?;
    verify_bundle(
        request.bundle,
        "findProof",
        &PeerKey {
            uri: &requester_uri,
            key: &requester.key,
        },
    )
    .map_err(|_| forbidden("find proof does not verify"))?;
    check_expiry(request.expires, now, MAX_PROOF_LIFETIME)?;
    let target_domain = PeerUri::parse(request.find)
        .map_err(|_| bad_request("find is not a peer URI"))?
        .domain()
        .clone();
    if target_domain != ctx.settings.domain {
        ctx.bridge
            .remotes
            .check_policy(&target_domain)
            .map_err(Error::Remote)?;
        if !ctx.nonces.use_nonce(request.nonce, request.expires).await? {
            return Err(forbidden("nonce already used"));
        }
        return Ok(FindOutcome::Forward(Forwarding {
            domain: target_domain,
            id: find.id.to_owned(),
            text: find.text.to_owned(),
        }));
    }
    introduce(ctx, connection, &find, now)
        .await
        .map(FindOutcome::Answered)
}

/// What becomes of a find a peer sent its own finder.
pub enum FindOutcome {
    /// Answered here: the target is of this domain.
    Answered(Object),
    /// Checked here and to be carried to the target's domain, whose finder answers it; the
    /// caller does that without holding up the requester's connection.
    Forward(Forwarding),
}

/// A find for a peer of another domain that this finder checked (rate, registration,
/// signature, expiry, policy, nonce).
pub struct Forwarding {
    /// The target's domain.
    pub domain: DomainName,
    /// The find's `$id`.
    pub id: String,
    /// The find exactly as the requester sent it.
    pub text: String,
}

/// A find as the finders handle it (spec §6.11), wherever it came from: its `$id`, its text as
/// received (forwarded as it is), and its body read through the protocol's one reader.
struct Find<'a> {
    id: &'a str,
    text: &'a str,
    request: FindRequest<'a>,
}

impl<'a> Find<'a> {
    /// Reads a find; a missing or mistyped field is a bad request.
    fn read(envelope: &'a Envelope, text: &'a str, body: &'a Object) -> Result<Self, Error> {
        let id = envelope
            .id
            .as_deref()
            .filter(|id| !id.is_empty() && id.len() <= 128)
            .ok_or_else(|| bad_request("$id missing"))?;
        let request = FindRequest::read(body)
            .map_err(|_| bad_request("findProofBundle lacks a field of peer-location-find"))?;
        if request.nonce.is_empty() || request.nonce.len() > 128 {
            return Err(bad_request("nonce missing"));
        }
        Ok(Find { id, text, request })
    }
}

/// Carries a checked find from `requester` over the link to its target's finder (architecture
/// §4 "Federation" (4)) and returns that finder's answer; the callee's notifies follow the
/// find's route back.
pub async fn forward(
    ctx: &Context<'_>,
    requester: ConnectionId,
    forwarding: &Forwarding,
    now: u64,
) -> Result<Object, Error> {
    let bridge = ctx.bridge;
    let domain = &forwarding.domain;
    let hello = || link_hello(ctx, domain, now);
    let find = (forwarding.id.as_str(), forwarding.text.as_str());
    bridge
        .links
        .forward_find(&bridge.remotes, domain, hello, find, requester, now)
        .await
}

/// The signed `link-hello` this node opens a link to `to` with.
fn link_hello(ctx: &Context<'_>, to: &DomainName, now: u64) -> Result<Object, Error> {
    let signer = ctx.published.signer(ServiceType::Finder, now)?;
    let hello = LinkHello {
        domain: ctx.settings.domain.clone(),
        node: ctx.settings.node_id.clone(),
        to: to.clone(),
        nonce: random_nonce(&mut OsRng),
        expires: now + MAX_HELLO_LIFETIME / 2,
    };
    Ok(hello.sign(
        &signer.key,
        &signer.certificate.reference(&ctx.settings.domain),
        &mut OsRng,
    ))
}

/// A find that another domain's finder forwarded over its link (authenticated as `domain`):
/// the requester must be a peer of `domain` (403); its proof expiry (401), the target's
/// findable locations (404), `findSecretProof` (403), the nonce (403) and `exclude` (404) are
/// checked as for a local find. The requester's signature was checked by its own finder, which
/// alone holds its peer file; the callee checks it again at `peer-identify`.
pub async fn linked_find(
    ctx: &Context<'_>,
    link: ConnectionId,
    domain: &DomainName,
    request: &Envelope,
    text: &str,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let find = Find::read(request, text, body)?;
    let request = &find.request;
    let from = PeerUri::parse(request.from)
        .map_err(|_| bad_request("location.contact is not a peer URI"))?;
    if from.domain() != domain {
        return Err(forbidden(
            "the requester is not a peer of the link's domain",
        ));
    }
    check_expiry(request.expires, now, MAX_PROOF_LIFETIME)?;
    if PeerUri::parse(request.find)
        .ok()
        .as_ref()
        .map(PeerUri::domain)
        != Some(&ctx.settings.domain)
    {
        return Err(Error::refused(
            ResultCode::NotFound,
            "the peer is not of this domain",
        ));
    }
    introduce(ctx, link, &find, now).await
}

/// The target side of a find from `requester` (a peer's connection or a link): the target's
/// findable locations (404), `findSecretProof` against their `findSecret` (403), the one-time
/// nonce (403), and what is left after `exclude` (404); then the request goes, byte for byte,
/// to each callee connection, and their notifies are routed back to `requester`.
async fn introduce(
    ctx: &Context<'_>,
    requester: ConnectionId,
    find: &Find<'_>,
    now: u64,
) -> Result<Object, Error> {
    let Find { id, text, request } = find;
    let FindRequest {
        find: target,
        nonce,
        find_secret_proof: presented,
        expires,
        ..
    } = *request;
    let findable: Vec<Registration> = ctx
        .registry
        .locations_of(target)
        .into_iter()
        .filter(|r| r.find_secret.is_some())
        .collect();
    if findable.is_empty() {
        return Err(Error::refused(
            ResultCode::NotFound,
            "the peer has no findable location",
        ));
    }
    let proven: Vec<Registration> = findable
        .into_iter()
        .filter(|r| {
            let secret = r.find_secret.as_deref().unwrap_or_default();
            check(
                &find_secret_proof(secret, nonce, expires),
                presented,
                expires,
                now,
            )
            .is_ok()
        })
        .collect();
    if proven.is_empty() {
        return Err(forbidden("findSecretProof does not match"));
    }
    if !ctx.nonces.use_nonce(nonce, expires).await? {
        return Err(forbidden("nonce already used"));
    }
    let callees: Vec<Registration> = proven
        .into_iter()
        .filter(|r| !request.exclude.contains(&r.location_id.as_str()))
        .collect();
    if callees.is_empty() {
        return Err(Error::refused(
            ResultCode::NotFound,
            "every location of the peer is excluded",
        ));
    }
    let mut connections: Vec<ConnectionId> = callees.iter().map(|r| r.connection).collect();
    connections.sort_unstable();
    connections.dedup();
    let route_expires = now.saturating_add(ctx.settings.finder.find_route_seconds);
    ctx.routes
        .add_find(id, requester, connections.clone(), now, route_expires)?;
    for callee in connections {
        deliver(ctx.registry, callee, text);
    }
    let locations = callees
        .iter()
        .map(|r| {
            Value::Object(
                Object::new()
                    .with("$id", r.location_id.as_str())
                    .with("contact", r.contact.as_str())
                    .with("details", r.details.clone()),
            )
        })
        .collect();
    Ok(Object::new().with(
        "locations",
        Object::new().with("location", Value::from_list(locations)),
    ))
}

/// Relays a callee's `notify` for find `$id` to the requester, while the route lives and only
/// from a connection the find went to; anything else is dropped.
pub fn relay_notify(
    routes: &Routes,
    registry: &Registry,
    connection: ConnectionId,
    notify: &Envelope,
    text: &str,
    now: u64,
) {
    let requester = notify
        .id
        .as_deref()
        .and_then(|id| routes.find_requester(id, connection, now));
    match requester {
        Some(requester) => deliver(registry, requester, text),
        None => tracing::debug!(connection, "notify without a live find route dropped"),
    }
}

/// Sends one document to a connection, if it is still there and keeping up.
fn deliver(registry: &Registry, connection: ConnectionId, text: &str) {
    if !registry.deliver(connection, Outbound::Text(text.to_owned())) {
        tracing::debug!(
            connection,
            "find message not delivered: connection gone or full"
        );
    }
}
