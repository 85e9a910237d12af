//! The domain's services, one file each, behind one dispatcher keyed by (`$handler`, `$method`)
//! that HTTP (and later the finder) calls with a decoded request.

pub mod bootstrapper;
pub mod certificates;
pub mod finders;
pub mod identity;
pub mod identity_lookup;
pub mod salt;

use std::sync::{Arc, RwLock};

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{Method, RenderedBody};

use crate::config::Settings;
use crate::error::Error;
use crate::keys::KeyRing;
use crate::store::Store;
use certificates::Published;

/// Everything the services of a node share.
#[derive(Debug)]
pub struct Services {
    settings: Arc<Settings>,
    store: Arc<Store>,
    published: RwLock<Arc<Published>>,
    services_get: Arc<RenderedBody>,
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
    /// Services over a loaded key ring, at time `now`.
    pub fn new(settings: Arc<Settings>, store: Arc<Store>, ring: KeyRing, now: u64) -> Services {
        Services {
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
            Method::IdentityLookupUpdate => identity::identity_lookup_update(
                &*self.store,
                &self.settings,
                &published,
                body,
                now,
            )
            .await
            .map(Reply::Body),
            Method::IdentityLookupCheck => {
                identity_lookup::identity_lookup_check(&*self.store, &self.settings, body)
                    .await
                    .map(Reply::Body)
            }
            Method::IdentityLookup => {
                identity_lookup::identity_lookup(&*self.store, &self.settings, body, now)
                    .await
                    .map(Reply::Body)
            }
            _ => Err(Error::refused(
                ResultCode::NotImplemented,
                "method not served by this domain",
            )),
        }
    }
}
