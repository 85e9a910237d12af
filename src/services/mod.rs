//! The domain's services, one file each, behind one dispatcher keyed by (`$handler`, `$method`)
//! that HTTP (and later the finder) calls with a decoded request.

pub mod bootstrapper;
pub mod certificates;
pub mod finders;
pub mod identity;
pub mod identity_lookup;
pub mod identity_proof;
pub mod lockbox;
pub mod namespace_grant;
pub mod peer_services;
pub mod rolodex;
pub mod salt;

use std::sync::{Arc, RwLock};

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{Method, RenderedBody};

use crate::bridge::Bridge;
use crate::config::Settings;
use crate::error::Error;
use crate::identity::repo::IdentityRepo;
use crate::keys::KeyRing;
use crate::store::Store;
use certificates::{OwnCertificates, Published};

/// Everything the services of a node share.
#[derive(Debug)]
pub struct Services {
    settings: Arc<Settings>,
    store: Arc<Store>,
    bridge: Bridge,
    published: RwLock<Arc<Published>>,
    services_get: Arc<RenderedBody>,
}

/// What identity lookups and updates need: this domain's entries and keys, and the bridge to
/// other domains' identities and peer files.
pub struct LookupContext<'a> {
    /// This domain's lookup entries.
    pub repo: &'a dyn IdentityRepo,
    /// Node settings.
    pub settings: &'a Settings,
    /// This domain's certificates (they check its own peer files' salts).
    pub own: OwnCertificates<'a>,
    /// The keys in force (the identity key signs proofs).
    pub published: &'a Published,
    /// Other domains.
    pub bridge: &'a Bridge,
    /// When the request arrived.
    pub now: u64,
}

/// A count a request asks for (`salts`, `servers`): 1 when absent, at most `cap`; anything
/// but a positive number (quoted or not) is a bad request.
pub fn requested_count(body: &Object, name: &'static str, cap: u32) -> Result<u64, Error> {
    let wanted = match body.get(name) {
        None => 1,
        Some(value) => value.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            Error::refused(
                ResultCode::BadRequest,
                "the count must be a positive number",
            )
        })?,
    };
    Ok(wanted.min(u64::from(cap)))
}

/// A service's answer: a body built for this request, or one rendered once and shared.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Built for this request.
    Body(Object),
    /// The same for every request, already canonical.
    Rendered(Arc<RenderedBody>),
}

impl Services {
    /// Services over a loaded key ring, at time `now`, reaching other domains through `bridge`.
    pub fn new(
        settings: Arc<Settings>,
        store: Arc<Store>,
        bridge: Bridge,
        ring: KeyRing,
        now: u64,
    ) -> Services {
        Services {
            bridge,
            // Invariant: the body is the one child element `services`, which always renders.
            services_get: Arc::new(
                RenderedBody::new(&bootstrapper::services_body(&settings))
                    .expect("one child element"),
            ),
            published: RwLock::new(Arc::new(Published::new(ring, &settings.domain, now))),
            settings,
            store,
        }
    }

    /// The node's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The node's store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The federation bridge.
    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// The keys and certificates in force.
    pub fn published(&self) -> Arc<Published> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the value is whole.
        self.published
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the key ring (after a reload from the database), re-signing the certificates.
    pub fn set_key_ring(&self, ring: KeyRing, now: u64) {
        let published = Arc::new(Published::new(ring, &self.settings.domain, now));
        *self.published.write().unwrap_or_else(|e| e.into_inner()) = published;
    }

    fn lookup_context<'a>(&'a self, published: &'a Published, now: u64) -> LookupContext<'a> {
        LookupContext {
            repo: &*self.store,
            settings: &self.settings,
            own: OwnCertificates {
                ring: &published.ring,
                domain: &self.settings.domain,
                now,
            },
            published,
            bridge: &self.bridge,
            now,
        }
    }

    /// Answers one request: the result body, or why not.
    pub async fn call(&self, method: Method, body: &Object, now: u64) -> Result<Reply, Error> {
        let published = self.published();
        match method {
            Method::ServicesGet => {
                bootstrapper::services_get(&self.settings, &self.services_get).map(Reply::Rendered)
            }
            Method::CertificatesGet => Ok(Reply::Rendered(Arc::clone(&published.certificates_get))),
            Method::FindersGet => {
                finders::finders_get(&*self.store, &self.settings, &published, body, now)
                    .await
                    .map(Reply::Body)
            }
            Method::SignedSaltGet => {
                salt::signed_salt_get(&*self.store, &self.settings, &published, body, now)
                    .await
                    .map(Reply::Body)
            }
            Method::IdentityAccessValidate => {
                identity::identity_access_validate(&*self.store, body, now)
                    .await
                    .map(Reply::Body)
            }
            Method::IdentityLookupUpdate => {
                identity::identity_lookup_update(self.lookup_context(&published, now), body)
                    .await
                    .map(Reply::Body)
            }
            Method::IdentityLookupCheck => {
                identity_lookup::identity_lookup_check(self.lookup_context(&published, now), body)
                    .await
                    .map(Reply::Body)
            }
            Method::IdentityLookup => {
                identity_lookup::identity_lookup(self.lookup_context(&published, now), body)
                    .await
                    .map(Reply::Body)
            }
            Method::LockboxAccess => lockbox::lockbox_access(self, body, now)
                .await
                .map(Reply::Body),
            Method::LockboxAccessValidate => lockbox::lockbox_access_validate(self, body, now)
                .await
                .map(Reply::Body),
            Method::LockboxIdentitiesUpdate => lockbox::lockbox_identities_update(self, body, now)
                .await
                .map(Reply::Body),
            Method::LockboxContentGet => lockbox::lockbox_content_get(self, body, now)
                .await
                .map(Reply::Body),
            Method::LockboxContentSet => lockbox::lockbox_content_set(self, body, now)
                .await
                .map(Reply::Body),
            Method::LockboxNamespaceGrantChallengeValidate => {
                lockbox::lockbox_namespace_grant_challenge_validate(self, body, now)
                    .await
                    .map(Reply::Body)
            }
            Method::PeerServicesGet => peer_services::peer_services_get(self, body, now)
                .await
                .map(Reply::Body),
            Method::IdentityAccessLockboxUpdate => {
                identity::identity_access_lockbox_update(&*self.store, body, now)
                    .await
                    .map(Reply::Body)
            }
            Method::IdentityAccessRolodexCredentialsGet => {
                rolodex::identity_access_rolodex_credentials_get(self, body, now)
                    .await
                    .map(Reply::Body)
            }
            Method::RolodexAccess => rolodex::rolodex_access(self, body, now)
                .await
                .map(Reply::Body),
            Method::RolodexContactsGet => rolodex::rolodex_contacts_get(self, body, now)
                .await
                .map(Reply::Body),
            _ => Err(Error::refused(
                ResultCode::NotImplemented,
                "method not served by this domain",
            )),
        }
    }
}
