//! `identity-lookup/identity-lookup-check` and `identity-lookup` (spec §6.6): who is behind these
//! identities, in request order, each answer carrying the `identityProofBundle` this domain's
//! identity key signed, so a third party verifies it with `certificates-get` alone.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::uri::IdentityUri;

use crate::config::Settings;
use crate::error::Error;
use crate::identity::repo::{IdentityRepo, LookupEntry};

/// The identity URIs a request names, normalised, in request order, without duplicates:
/// `providers.provider[{base, separator, identities}]`, where each identifier is appended to
/// `base` (with a `/` after a domain base, as the node IdP does; directly after a legacy
/// `identity:type:` base). Identifiers that do not form a valid identity are skipped.
pub fn requested_identities(body: &Object, max: usize) -> Result<Vec<String>, Error> {
    let providers = body
        .get_object("providers")
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "providers element missing"))?;
    let mut uris: Vec<String> = Vec::new();
    for provider in providers.get_list("provider") {
        let provider = provider
            .as_object()
            .ok_or_else(|| Error::refused(ResultCode::BadRequest, "provider is not an element"))?;
        let base = provider.get_str("base").unwrap_or_default();
        let separator = provider
            .get_str("separator")
            .filter(|s| !s.is_empty())
            .unwrap_or(",");
        let identities = provider.get_str("identities").unwrap_or_default();
        for identifier in identities.split(separator).filter(|i| !i.is_empty()) {
            let full = if base.starts_with("identity://") {
                format!("{}/{identifier}", base.trim_end_matches('/'))
            } else {
                format!("{base}{identifier}")
            };
            if let Ok(uri) = IdentityUri::parse(&full) {
                let uri = uri.to_string();
                if !uris.contains(&uri) {
                    uris.push(uri);
                }
            }
            if uris.len() > max {
                return Err(Error::refused(
                    ResultCode::BadRequest,
                    "too many identities in one lookup",
                ));
            }
        }
    }
    Ok(uris)
}

/// The entries of `uris` that exist, in the order of `uris`.
async fn entries_in_order(
    repo: &dyn IdentityRepo,
    uris: &[String],
) -> Result<Vec<LookupEntry>, Error> {
    let mut found = repo.lookups(uris).await?;
    let mut ordered = Vec::with_capacity(found.len());
    for uri in uris {
        if let Some(i) = found.iter().position(|e| e.identity_uri == *uri) {
            ordered.push(found.swap_remove(i));
        }
    }
    Ok(ordered)
}

fn identities_element(items: Vec<Value>) -> Object {
    Object::new().with(
        "identities",
        Object::new().with("identity", Value::from_list(items)),
    )
}

/// `identity-lookup-check`: `uri`, `provider`, `updated` of every known identity asked for.
pub async fn identity_lookup_check(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    body: &Object,
) -> Result<Object, Error> {
    let uris = requested_identities(body, settings.identity.max_lookup_identities)?;
    let items = entries_in_order(repo, &uris)
        .await?
        .iter()
        .map(|e| {
            Value::Object(
                Object::new()
                    .with("uri", e.identity_uri.as_str())
                    .with("provider", e.provider.as_str())
                    .with("updated", e.updated),
            )
        })
        .collect();
    Ok(identities_element(items))
}

/// `identity-lookup`: the whole entry of every known identity asked for, with its signed proof.
pub async fn identity_lookup(
    repo: &dyn IdentityRepo,
    settings: &Settings,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let uris = requested_identities(body, settings.identity.max_lookup_identities)?;
    let expires = now.saturating_add(settings.identity.lookup_expires_seconds);
    let items = entries_in_order(repo, &uris)
        .await?
        .iter()
        .map(|e| lookup_result(e, expires).map(Value::Object))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(identities_element(items))
}

/// One `identity` element of a lookup result (spec §6.6).
fn lookup_result(entry: &LookupEntry, expires: u64) -> Result<Object, Error> {
    let stored = |text: &str| {
        parse(text).map_err(|_| {
            Error::refused(
                ResultCode::InternalError,
                "stored lookup entry does not parse",
            )
        })
    };
    Ok(Object::new()
        .with("uri", entry.identity_uri.as_str())
        .with("provider", entry.provider.as_str())
        .with("stableID", entry.stable_id.as_str())
        .with("peer", Value::Object(stored(&entry.peer_file)?))
        .with("priority", entry.priority)
        .with("weight", entry.weight)
        .with("updated", entry.updated)
        .with("expires", expires)
        .with(
            "identityProofBundle",
            Value::Object(stored(&entry.identity_proof_bundle)?),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_expand_from_bases_in_order() {
        let body = parse(
            r#"{"providers":{"provider":[
                {"base":"identity://Example.org/","separator":",","identities":"bob,alice,bob"},
                {"base":"identity:phone:","separator":";","identities":"1604;bad id"},
                {"base":"identity://github.com","identities":"583231"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            requested_identities(&body, 10).unwrap(),
            [
                "identity://example.org/bob",
                "identity://example.org/alice",
                "identity:phone:1604",
                "identity://github.com/583231"
            ]
        );
        assert!(requested_identities(&body, 2).is_err());
        assert!(requested_identities(&Object::new(), 2).is_err());
    }
}
