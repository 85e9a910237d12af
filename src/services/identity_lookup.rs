//! `identity-lookup/identity-lookup-check` and `identity-lookup` (spec §6.6): who is behind these
//! identities, in request order. This domain answers its own identities (its local accounts,
//! the identities of its configured providers, legacy `identity:type:` ones) from its entries,
//! each carrying the `identityProofBundle` its identity key signed; identities of another
//! domain are asked of that domain through the bridge (one batch per domain, concurrently) and
//! returned only once they verify under that domain's certificates. An identity whose domain
//! could not be asked, or whose answer did not verify, is listed with an `error` element
//! (`{"uri":…,"error":{"$id":480,"#text":…}}`) while the others are answered.

use std::collections::HashMap;

use futures_util::future::join_all;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::identity_lookup::{LookupIdentity, requested_identities};
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::uri::{DomainName, IdentityUri};

use super::LookupContext;
use crate::config::Settings;
use crate::envelope::error_element;
use crate::error::Error;
use crate::identity::repo::{IdentityRepo, LookupEntry};

/// The identities a request names, split into this domain's (in request order) and other
/// domains' (grouped by domain, in order of first appearance).
struct Split {
    requested: Vec<IdentityUri>,
    local: Vec<String>,
    remote: Vec<(DomainName, Vec<IdentityUri>)>,
}

fn split(body: &Object, settings: &Settings) -> Result<Split, Error> {
    let requested =
        requested_identities(body, settings.identity.max_lookup_identities).map_err(|problem| {
            Error::refused(
                ResultCode::BadRequest,
                match problem {
                    "too many identities" => "too many identities in one lookup",
                    _ => "providers element missing or malformed",
                },
            )
        })?;
    let mut local = Vec::new();
    let mut remote: Vec<(DomainName, Vec<IdentityUri>)> = Vec::new();
    for identity in &requested {
        match identity {
            IdentityUri::Domain { domain, .. } if !answers_for(settings, domain) => {
                match remote.iter_mut().find(|(d, _)| d == domain) {
                    Some((_, list)) => list.push(identity.clone()),
                    None => remote.push((domain.clone(), vec![identity.clone()])),
                }
            }
            _ => local.push(identity.to_string()),
        }
    }
    Ok(Split {
        requested,
        local,
        remote,
    })
}

/// Whether this domain answers for identities of `domain`: its own, and those of the providers
/// it logs users in with (spec §6.6: a domain without a bootstrapper is answered by the
/// identity service domain).
pub(crate) fn answers_for(settings: &Settings, domain: &DomainName) -> bool {
    *domain == settings.domain
        || settings.identity.providers.iter().any(|p| {
            p.effective_identity_domain()
                .is_ok_and(|d| d.eq_ignore_ascii_case(domain.as_str()))
        })
}

/// The entries of `uris` that exist, by URI.
async fn local_entries(
    repo: &dyn IdentityRepo,
    uris: &[String],
) -> Result<HashMap<String, LookupEntry>, Error> {
    if uris.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(repo
        .lookups(uris)
        .await?
        .into_iter()
        .map(|e| (e.identity_uri.clone(), e))
        .collect())
}

fn identities_element(items: Vec<Value>) -> Object {
    Object::new().with(
        "identities",
        Object::new().with("identity", Value::from_list(items)),
    )
}

/// The item of an identity that could not be answered.
fn failed_item(uri: &str, error: &Error) -> Value {
    let (code, reason) = error.wire();
    Value::Object(
        Object::new()
            .with("uri", uri)
            .with("error", error_element(code, reason, None)),
    )
}

/// `identity-lookup-check`: `uri`, `provider`, `updated` of every known identity asked for.
pub async fn identity_lookup_check(ctx: LookupContext<'_>, body: &Object) -> Result<Object, Error> {
    let split = split(body, ctx.settings)?;
    let local = local_entries(ctx.repo, &split.local).await?;
    let asked = split
        .remote
        .iter()
        .map(|(domain, identities)| ctx.bridge.lookup_check(domain, identities, ctx.now));
    let remote: Vec<_> = join_all(asked).await;
    let mut items = Vec::new();
    for identity in &split.requested {
        let uri = identity.to_string();
        if let Some(entry) = local.get(&uri) {
            items.push(Value::Object(
                Object::new()
                    .with("uri", entry.identity_uri.as_str())
                    .with("provider", entry.provider.as_str())
                    .with("updated", entry.updated),
            ));
            continue;
        }
        let Some(at) = remote_index(&split, identity) else {
            continue;
        };
        match &remote[at] {
            Ok(found) => items.extend(found.get(&uri).cloned().map(Value::Object)),
            Err(e) => items.push(failed_item(&uri, e)),
        }
    }
    Ok(identities_element(items))
}

/// `identity-lookup`: the whole entry of every known identity asked for, with its signed proof.
pub async fn identity_lookup(ctx: LookupContext<'_>, body: &Object) -> Result<Object, Error> {
    let split = split(body, ctx.settings)?;
    let local = local_entries(ctx.repo, &split.local).await?;
    let ours = &ctx.settings.domain;
    let asked = split.remote.iter().map(|(domain, identities)| {
        ctx.bridge
            .lookup(domain, identities, ours, &ctx.own, ctx.now)
    });
    let remote: Vec<_> = join_all(asked).await;
    let expires = ctx
        .now
        .saturating_add(ctx.settings.identity.lookup_expires_seconds);
    let mut items = Vec::new();
    for identity in &split.requested {
        let uri = identity.to_string();
        if let Some(entry) = local.get(&uri) {
            items.push(Value::Object(lookup_result(entry, expires)?.to_object()));
            continue;
        }
        let Some(at) = remote_index(&split, identity) else {
            continue;
        };
        match remote[at].get(&uri) {
            Some(Ok(answer)) => items.push(Value::Object(answer.to_object())),
            Some(Err(e)) => items.push(failed_item(&uri, e)),
            None => {}
        }
    }
    Ok(identities_element(items))
}

/// Which remote batch `identity` is in.
fn remote_index(split: &Split, identity: &IdentityUri) -> Option<usize> {
    split
        .remote
        .iter()
        .position(|(_, identities)| identities.contains(identity))
}

/// One `identity` element of a lookup result of this domain (spec §6.6).
fn lookup_result(entry: &LookupEntry, expires: u64) -> Result<LookupIdentity, Error> {
    let stored = |text: &str| {
        parse(text).map_err(|_| {
            Error::refused(
                ResultCode::InternalError,
                "stored lookup entry does not parse",
            )
        })
    };
    Ok(LookupIdentity {
        uri: entry.identity_uri.clone(),
        provider: entry.provider.clone(),
        stable_id: entry.stable_id.clone(),
        peer: stored(&entry.peer_file)?,
        priority: u64::from(entry.priority),
        weight: u64::from(entry.weight),
        updated: entry.updated,
        expires,
        identity_proof_bundle: stored(&entry.identity_proof_bundle)?,
    })
}
