//! The domain key ring (spec §6.2): one key and certificate per service type, made at first
//! start in the configured suite and kept in the database. Rotation adds a successor while the
//! old key stays published and valid until it expires, so signatures made with it keep verifying.

use std::fmt;
use std::sync::Arc;

use openpeer_protocol::certificates::Certificate;
use openpeer_protocol::encoding::to_hex;
use openpeer_protocol::random::random_bytes;
use openpeer_protocol::signature::{PublicKey, SignatureSuite, SigningKey};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::config::SigningSettings;
use crate::store::StoreError;

pub use openpeer_protocol::bootstrapper::ServiceType;

/// A key row as stored; the private key is zeroized when dropped and never printed.
pub struct StoredKey {
    /// The certificate `$id`.
    pub id: String,
    /// The service type.
    pub service: ServiceType,
    /// Order of creation within the ring: the highest valid one of a service is its active key
    /// (seconds alone cannot order two rotations within one second).
    pub generation: u64,
    /// PKCS#8 DER private key.
    pub private_pkcs8: Zeroizing<Vec<u8>>,
    /// Unix time of creation.
    pub created: u64,
    /// Unix time of expiry.
    pub expires: u64,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StoredKey({} {} expires {}, private part redacted)",
            self.service, self.id, self.expires
        )
    }
}

/// Storage of the key ring.
#[async_trait::async_trait]
pub trait KeyRepo: Send + Sync {
    /// Every stored key, expired ones included.
    async fn load_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Stores a new key (with its public half, for operators' queries).
    async fn insert_key(
        &self,
        key: &StoredKey,
        suite: SignatureSuite,
        public_spki: &[u8],
    ) -> Result<(), StoreError>;
}

/// A service key with its certificate.
#[derive(Debug)]
pub struct DomainKey {
    /// The published certificate.
    pub certificate: Certificate,
    /// The private key.
    pub key: SigningKey,
    /// Unix time of creation.
    pub created: u64,
    /// Order of creation within the ring.
    pub generation: u64,
}

impl DomainKey {
    /// The service type.
    pub fn service(&self) -> ServiceType {
        ServiceType::parse(&self.certificate.service).unwrap_or(ServiceType::Certificates)
    }
}

/// Why the key ring cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored private key does not load.
    #[error("stored key {id} does not load")]
    Corrupt {
        /// Its certificate id.
        id: String,
    },
    /// Key generation failed.
    #[error("cannot generate a {0} key")]
    Generation(ServiceType),
}

/// All keys of the domain, in order of creation.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<Arc<DomainKey>>,
}

impl KeyRing {
    /// Loads the ring and gives every service type a key valid for at least
    /// `signing.rotate_before_seconds` more (making its first key, or a successor).
    pub async fn load_or_create(
        repo: &dyn KeyRepo,
        signing: &SigningSettings,
        now: u64,
    ) -> Result<KeyRing, KeyRingError> {
        let mut ring = KeyRing::load(repo).await?;
        for service in ServiceType::ALL {
            let fresh = ring.newest(service).is_some_and(|k| {
                k.certificate.expires > now.saturating_add(signing.rotate_before_seconds)
            });
            if !fresh {
                ring.add(repo, service, signing, now).await?;
            }
        }
        Ok(ring)
    }

    /// Loads the ring as stored.
    pub async fn load(repo: &dyn KeyRepo) -> Result<KeyRing, KeyRingError> {
        let mut keys = Vec::new();
        for stored in repo.load_keys().await? {
            let key = SigningKey::from_pkcs8_der(&stored.private_pkcs8).map_err(|_| {
                KeyRingError::Corrupt {
                    id: stored.id.clone(),
                }
            })?;
            keys.push(Arc::new(DomainKey {
                certificate: Certificate {
                    id: stored.id,
                    service: stored.service.as_str().to_owned(),
                    expires: stored.expires,
                    key: key.public_key().clone(),
                },
                key,
                created: stored.created,
                generation: stored.generation,
            }));
        }
        keys.sort_by_key(|k| (k.generation, k.certificate.id.clone()));
        Ok(KeyRing { keys })
    }

    /// Makes and stores a new key for `service`; the old ones stay until they expire.
    pub async fn add(
        &mut self,
        repo: &dyn KeyRepo,
        service: ServiceType,
        signing: &SigningSettings,
        now: u64,
    ) -> Result<Arc<DomainKey>, KeyRingError> {
        let suite = signing.suite;
        // RSA generation takes a while; it runs off the async executor.
        let key = async_std::task::spawn_blocking(move || SigningKey::generate(suite, &mut OsRng))
            .await
            .map_err(|_| KeyRingError::Generation(service))?;
        let generation = self
            .keys
            .iter()
            .map(|k| k.generation + 1)
            .max()
            .unwrap_or(0);
        let stored = StoredKey {
            id: to_hex(&random_bytes(&mut OsRng, 16)),
            service,
            generation,
            private_pkcs8: key.to_pkcs8_der(),
            created: now,
            expires: now.saturating_add(signing.key_lifetime_seconds),
        };
        repo.insert_key(&stored, suite, key.public_key().spki_der())
            .await?;
        tracing::info!(service = %service, id = %stored.id, expires = stored.expires, suite = suite.name(), "made a domain key");
        let added = Arc::new(DomainKey {
            certificate: Certificate {
                id: stored.id.clone(),
                service: service.as_str().to_owned(),
                expires: stored.expires,
                key: key.public_key().clone(),
            },
            key,
            created: now,
            generation,
        });
        self.keys.push(added.clone());
        Ok(added)
    }

    /// The newest key of `service`, expired or not.
    fn newest(&self, service: ServiceType) -> Option<&Arc<DomainKey>> {
        self.keys.iter().rev().find(|k| k.service() == service)
    }

    /// The key that signs for `service` now: the newest one still valid.
    pub fn active(&self, service: ServiceType, now: u64) -> Option<&Arc<DomainKey>> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.service() == service && k.certificate.expires > now)
    }

    /// Every key still valid at `now`, oldest first: what `certificates-get` publishes.
    pub fn published(&self, now: u64) -> impl Iterator<Item = &Arc<DomainKey>> {
        self.keys
            .iter()
            .filter(move |k| k.certificate.expires > now)
    }

    /// Every key, expired ones included (for `keys list`).
    pub fn all(&self) -> &[Arc<DomainKey>] {
        &self.keys
    }

    /// The public key of `service`'s active key.
    pub fn public_key(&self, service: ServiceType, now: u64) -> Option<&PublicKey> {
        self.active(service, now).map(|k| &k.certificate.key)
    }
}
