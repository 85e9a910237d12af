//! Lookups of another domain's identities (spec §6.6, §4.3; architecture §4 "Federation" (3)):
//! asked of that domain in one batch, each answer accepted only when its identity proof verifies
//! under that domain's identity certificates and its peer file (salt included) under the peer
//! domain's, then cached until its `expires`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::identity_lookup::{LookupIdentity, lookup_request};
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::Method;
use openpeer_protocol::peer_file::salt_domain;
use openpeer_protocol::signature::KeyResolver;
use openpeer_protocol::uri::{DomainName, IdentityUri};

use super::Bridge;
use crate::error::Error;

/// Most cached answers; past it, lapsed ones go first, then everything.
const CACHE_CAPACITY: usize = 100_000;

/// The answer for one identity of a remote domain: its verified lookup element, or why there is
/// none. Identities the domain does not know are absent.
pub type RemoteAnswer = Result<LookupIdentity, Error>;

/// Verified lookup answers by identity URI, each until its `expires` — at most
/// `identity.lookup_expires_seconds` after it was fetched, however far the remote domain's
/// `expires` lies, so a rebinding there is seen within our own lookup lifetime.
#[derive(Debug)]
pub struct LookupCache {
    entries: Mutex<HashMap<String, LookupIdentity>>,
    max_lifetime: u64,
}

impl LookupCache {
    /// An empty cache keeping answers at most `max_lifetime` seconds.
    pub fn new(max_lifetime: u64) -> LookupCache {
        LookupCache {
            entries: Mutex::new(HashMap::new()),
            max_lifetime,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, LookupIdentity>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, uri: &str, now: u64) -> Option<LookupIdentity> {
        self.lock().get(uri).filter(|e| e.expires > now).cloned()
    }

    /// Keeps `answer` and returns it as kept (its `expires` capped).
    fn put(&self, answer: &LookupIdentity, now: u64) -> LookupIdentity {
        let mut entries = self.lock();
        if entries.len() >= CACHE_CAPACITY {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        let expires = answer.expires.min(now.saturating_add(self.max_lifetime));
        let kept = LookupIdentity {
            expires,
            ..answer.clone()
        };
        entries.insert(answer.uri.clone(), kept.clone());
        kept
    }
}

impl Bridge {
    /// `identity-lookup` of `identities`, all of `domain`, for a client of this domain: cached
    /// answers, then one request to `domain` for the rest. `ours`/`own` check the salt of peer
    /// files of this domain (a foreign identity may be bound to one of our peers). A failure of
    /// the whole request is the error of every identity not answered from the cache.
    pub async fn lookup(
        &self,
        domain: &DomainName,
        identities: &[IdentityUri],
        ours: &DomainName,
        own: &(dyn KeyResolver + Sync),
        now: u64,
    ) -> HashMap<String, RemoteAnswer> {
        let mut answers = HashMap::new();
        let mut missing = Vec::new();
        for identity in identities {
            let uri = identity.to_string();
            match self.lookups.get(&uri, now) {
                Some(cached) => {
                    answers.insert(uri, Ok(cached));
                }
                None => missing.push(identity.clone()),
            }
        }
        if missing.is_empty() {
            return answers;
        }
        let asked = self
            .remotes
            .call(
                domain,
                "identity-lookup",
                Method::IdentityLookup,
                lookup_request(&missing),
                now,
            )
            .await;
        let body = match asked {
            Ok(body) => body,
            Err(e) => {
                tracing::debug!(%domain, error = %e, "remote identity-lookup failed");
                let (code, reason) = Error::Remote(e).wire();
                for identity in missing {
                    answers.insert(identity.to_string(), Err(Error::refused(code, reason)));
                }
                return answers;
            }
        };
        let wanted: Vec<String> = missing.iter().map(ToString::to_string).collect();
        for element in identity_elements(&body) {
            let answer = match LookupIdentity::from_object(element) {
                Ok(answer) if wanted.contains(&answer.uri) => answer,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(%domain, error = %e, "malformed identity in a remote lookup");
                    continue;
                }
            };
            let checked = self.check_answer(domain, &answer, ours, own, now).await;
            let uri = answer.uri.clone();
            match checked {
                Ok(()) => {
                    answers.insert(uri, Ok(self.lookups.put(&answer, now)));
                }
                Err(e) => {
                    tracing::warn!(%domain, identity = %uri, error = %e, "remote identity refused");
                    answers.insert(uri, Err(e));
                }
            }
        }
        answers
    }

    /// `identity-lookup-check` of `identities` of `domain`: `uri`, `provider` and `updated` of
    /// those it knows (nothing signed to verify), or the error of the whole request.
    pub async fn lookup_check(
        &self,
        domain: &DomainName,
        identities: &[IdentityUri],
        now: u64,
    ) -> Result<HashMap<String, Object>, Error> {
        let body = self
            .remotes
            .call(
                domain,
                "identity-lookup",
                Method::IdentityLookupCheck,
                lookup_request(identities),
                now,
            )
            .await?;
        let wanted: Vec<String> = identities.iter().map(ToString::to_string).collect();
        Ok(identity_elements(&body)
            .filter_map(|element| {
                let uri = element
                    .get_str("uri")
                    .filter(|u| wanted.iter().any(|w| w == u))?;
                let updated = element.get_u64("updated")?;
                let mut item = Object::new().with("uri", uri).with("updated", updated);
                if let Some(provider) = element.get_str("provider") {
                    item.insert("provider", provider);
                }
                Some((uri.to_owned(), item))
            })
            .collect())
    }

    /// Checks one answer of `domain`: the identity is of that domain, its identity proof
    /// verifies under `domain`'s identity certificates (fetched again once if the key is
    /// unknown), its peer file under its own domain's salt certificates.
    async fn check_answer(
        &self,
        domain: &DomainName,
        answer: &LookupIdentity,
        ours: &DomainName,
        own: &(dyn KeyResolver + Sync),
        now: u64,
    ) -> Result<(), Error> {
        let named = IdentityUri::parse(&answer.uri).ok();
        if !matches!(&named, Some(IdentityUri::Domain { domain: d, .. }) if d == domain) {
            return Err(Error::refused(
                ResultCode::Forbidden,
                "the remote domain answered for an identity not its own",
            ));
        }
        let document = Object::new().with("peer", answer.peer.clone());
        let peer_domain = salt_domain(&document).ok_or(Error::refused(
            ResultCode::Forbidden,
            "the peer file's salt names no domain",
        ))?;
        // The peer's domain may differ from the identity's: its salt is checked under its own
        // certificates (ours, the identity domain's, or a third domain's).
        let third = if peer_domain != *domain && peer_domain != *ours {
            Some(self.remotes.certificates(&peer_domain, now).await?)
        } else {
            None
        };
        let verified = self
            .remotes
            .verify_with(domain, now, |certificates: &CertificateSet| {
                let identity = certificates.of_service("identity");
                let salt_of_domain = certificates.of_service("salt");
                let salt_of_third = third.as_ref().map(|t| t.of_service("salt"));
                let salt: &dyn KeyResolver = if peer_domain == *ours {
                    own
                } else if let Some(third) = &salt_of_third {
                    third
                } else {
                    &salt_of_domain
                };
                answer.verify(Some(&identity), Some(salt), now)
            })
            .await?;
        verified.map(|_| ()).map_err(|e| {
            tracing::debug!(%domain, error = %e, "remote identity does not verify");
            Error::refused(
                ResultCode::Forbidden,
                "the remote domain's answer does not verify",
            )
        })
    }
}

/// The `identity` elements of a lookup result.
fn identity_elements(body: &Object) -> impl Iterator<Item = &Object> {
    body.get_object("identities")
        .map(|i| i.get_list("identity"))
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(expires: u64) -> LookupIdentity {
        LookupIdentity {
            uri: "identity://beta.test/bob".into(),
            provider: "local".into(),
            stable_id: "s".into(),
            peer: Object::new(),
            priority: 0,
            weight: 0,
            updated: 1,
            expires,
            identity_proof_bundle: Object::new(),
        }
    }

    #[test]
    fn answers_are_kept_until_their_expiry_at_most_our_own_lookup_lifetime() {
        let cache = LookupCache::new(100);
        let uri = "identity://beta.test/bob";
        // A remote expiry a year ahead is cut to our lifetime, in the answer as in the cache.
        assert_eq!(
            cache.put(&answer(1_000 + 365 * 86_400), 1_000).expires,
            1_100
        );
        assert!(cache.get(uri, 1_099).is_some());
        assert!(cache.get(uri, 1_100).is_none());
        // A sooner remote expiry is kept as it is.
        assert_eq!(cache.put(&answer(1_050), 1_000).expires, 1_050);
        assert!(cache.get(uri, 1_050).is_none());
    }
}
