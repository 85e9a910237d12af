//! What the identity service keeps (architecture §5): local accounts, identities, pending
//! provider logins, access tokens, re-login keys, one-time nonces and lookup entries. Secrets are
//! stored hashed (passwords: argon2id; tokens, keys and states: SHA-256) or encrypted under a key
//! derived from a value only the client holds, so a copy of the database alone reveals none.

use crate::store::StoreError;

/// A local account: username and argon2id PHC password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalAccount {
    /// The username (the identifier of `identity://<domain>/<username>`).
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Unix time of creation.
    pub created: u64,
}

impl std::fmt::Debug for LocalAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalAccount({}, hash redacted)", self.username)
    }
}

/// An identity this domain has seen proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityRecord {
    /// `identity://<domain>/<id>`.
    pub uri: String,
    /// The provider (configuration name, or `local`).
    pub provider: String,
    /// The provider's stable subject id.
    pub subject: String,
    /// E-mail as the provider gave it.
    pub email: Option<String>,
    /// Whether the provider marked the e-mail verified.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Profile page.
    pub profile_url: Option<String>,
    /// Avatar image.
    pub avatar_url: Option<String>,
    /// Unix time first seen.
    pub created: u64,
    /// Unix time last proven.
    pub updated: u64,
}

/// A provider login between `start` and the provider's callback.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLoginRecord {
    /// hex SHA-256 of the `state`.
    pub state_hash: String,
    /// The provider's configuration name.
    pub provider: String,
    /// The PKCE verifier and nonce, encrypted under a key derived from the state.
    pub pending_encrypted: String,
    /// Unix time after which the login is refused.
    pub expires: u64,
}

impl std::fmt::Debug for PendingLoginRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PendingLoginRecord({}, expires {})",
            self.provider, self.expires
        )
    }
}

/// An issued access token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// hex SHA-256 of the `accessToken`.
    pub token_hash: String,
    /// The identity it proves.
    pub identity_uri: String,
    /// The provider that proved it.
    pub provider: String,
    /// The `accessSecret`, encrypted under a key derived from the token.
    pub secret_encrypted: String,
    /// Unix time of `accessSecretExpires`.
    pub expires: u64,
}

impl std::fmt::Debug for AccessTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AccessTokenRecord({}, expires {})",
            self.identity_uri, self.expires
        )
    }
}

/// A re-login key: lets a client log the same identity in again without the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloginKeyRecord {
    /// hex SHA-256 of the `reloginKey`.
    pub key_hash: String,
    /// The identity.
    pub identity_uri: String,
    /// The provider.
    pub provider: String,
    /// Unix time after which it is refused.
    pub expires: u64,
}

/// What `identity-lookup` answers for one identity (spec §6.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupEntry {
    /// The identity URI.
    pub identity_uri: String,
    /// The provider.
    pub provider: String,
    /// `stableID`.
    pub stable_id: String,
    /// The peer URI bound to the identity.
    pub contact: String,
    /// The public peer file, canonical JSON.
    pub peer_file: String,
    /// The `identityProofBundle`, canonical JSON, signed by this domain's identity key.
    pub identity_proof_bundle: String,
    /// Priority among the identity's peers.
    pub priority: u32,
    /// Weight among equal priorities.
    pub weight: u32,
    /// Unix time of the last update.
    pub updated: u64,
}

/// The lockbox key an identity's client left with the identity service for its next login,
/// encrypted by the client (spec §6.5 "Lockbox key handling"): opaque to this server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockboxKeyRecord {
    /// The identity.
    pub identity_uri: String,
    /// The lockbox domain the key opens.
    pub lockbox_domain: String,
    /// The client-encrypted key.
    pub key_encrypted: String,
    /// Unix time stored.
    pub updated: u64,
}

/// Storage of the identity service.
#[async_trait::async_trait]
pub trait IdentityRepo: Send + Sync {
    /// Creates a local account; `false` when the username is taken.
    async fn insert_account(&self, account: &LocalAccount) -> Result<bool, StoreError>;
    /// A local account.
    async fn account(&self, username: &str) -> Result<Option<LocalAccount>, StoreError>;

    /// Creates or refreshes an identity (keeping `created`).
    async fn upsert_identity(&self, identity: &IdentityRecord) -> Result<(), StoreError>;
    /// An identity.
    async fn identity(&self, uri: &str) -> Result<Option<IdentityRecord>, StoreError>;

    /// Stores a pending provider login.
    async fn insert_pending_login(&self, login: &PendingLoginRecord) -> Result<(), StoreError>;
    /// Removes and returns a pending login: only one caller ever gets it (single use).
    async fn take_pending_login(
        &self,
        state_hash: &str,
    ) -> Result<Option<PendingLoginRecord>, StoreError>;

    /// Stores an access token.
    async fn insert_access_token(&self, token: &AccessTokenRecord) -> Result<(), StoreError>;
    /// An access token by hash.
    async fn access_token(&self, token_hash: &str)
    -> Result<Option<AccessTokenRecord>, StoreError>;

    /// Stores a re-login key.
    async fn insert_relogin_key(&self, key: &ReloginKeyRecord) -> Result<(), StoreError>;
    /// A re-login key by hash.
    async fn relogin_key(&self, key_hash: &str) -> Result<Option<ReloginKeyRecord>, StoreError>;

    /// Records a proof nonce until `expires`; `false` when it was already used (a replay).
    async fn use_nonce(&self, nonce: &str, expires: u64) -> Result<bool, StoreError>;

    /// Creates or replaces the lookup entry of an identity.
    async fn upsert_lookup(&self, entry: &LookupEntry) -> Result<(), StoreError>;
    /// Removes the lookup entry of an identity; `false` when there was none.
    async fn delete_lookup(&self, identity_uri: &str) -> Result<bool, StoreError>;
    /// The lookup entries of these identities (any order; absent ones are missing).
    async fn lookups(&self, identity_uris: &[String]) -> Result<Vec<LookupEntry>, StoreError>;

    /// Stores (or replaces) an identity's client-encrypted lockbox key.
    async fn set_lockbox_key(&self, key: &LockboxKeyRecord) -> Result<(), StoreError>;
    /// An identity's client-encrypted lockbox key.
    async fn lockbox_key(&self, identity_uri: &str)
    -> Result<Option<LockboxKeyRecord>, StoreError>;

    /// Deletes expired pending logins, access tokens, re-login keys and nonces.
    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError>;
}
