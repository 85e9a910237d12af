//! The namespace grant service (spec §6.8): signs the challenges a user approved with this
//! domain's `namespace-grant` key. It signs only namespaces under this domain or a host of
//! `namespace_grant.namespace_domains`, and only challenges that name this domain as a signer.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::namespace_grant::{GrantChallenge, list_of};
use rand_core::OsRng;

use super::Services;
use crate::error::Error;
use crate::keys::ServiceType;

/// Most challenges one approval may carry.
const MAX_CHALLENGES: usize = 16;

/// Whether this domain may grant `namespace`: its URL's host is this domain or a configured one.
fn authorises(services: &Services, namespace: &str) -> bool {
    let settings = services.settings();
    let host = namespace
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', ':', '?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    host.eq_ignore_ascii_case(settings.domain.as_str())
        || settings
            .namespace_grant
            .namespace_domains
            .iter()
            .any(|d| host.eq_ignore_ascii_case(d.as_str()))
}

/// Signs the approved challenges of `namespaceGrantChallenges`: the body of
/// `namespace-grant-complete` (`namespaceGrantChallengeBundles`).
pub fn grant(services: &Services, approved: &Object, now: u64) -> Result<Object, Error> {
    let settings = services.settings();
    let challenges = list_of(
        approved,
        "namespaceGrantChallenges",
        "namespaceGrantChallenge",
    );
    if challenges.is_empty() || challenges.len() > MAX_CHALLENGES {
        return Err(Error::refused(
            ResultCode::BadRequest,
            "namespaceGrantChallenges must hold 1 to 16 challenges",
        ));
    }
    let published = services.published();
    let signer = published.signer(ServiceType::NamespaceGrant, now)?;
    let reference = signer.certificate.reference(&settings.domain);
    let mut bundles = Vec::with_capacity(challenges.len());
    for challenge in challenges {
        let challenge = challenge
            .as_object()
            .ok_or_else(|| Error::refused(ResultCode::BadRequest, "malformed challenge"))
            .and_then(|c| {
                GrantChallenge::from_object(c)
                    .map_err(|_| Error::refused(ResultCode::BadRequest, "malformed challenge"))
            })?;
        if !challenge.domains.contains(&settings.domain) {
            return Err(Error::refused(
                ResultCode::Forbidden,
                "the challenge does not accept this domain's grants",
            ));
        }
        if challenge.namespaces.is_empty()
            || !challenge.namespaces.iter().all(|n| authorises(services, n))
        {
            return Err(Error::refused(
                ResultCode::Forbidden,
                "this domain does not grant namespaces of other domains",
            ));
        }
        bundles.push(Value::Object(challenge.sign(
            &signer.key,
            &reference,
            &mut OsRng,
        )));
    }
    Ok(Object::new().with(
        "namespaceGrantChallengeBundles",
        Object::new().with("namespaceGrantChallengeBundle", Value::from_list(bundles)),
    ))
}
