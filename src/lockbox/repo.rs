//! What the lockbox keeps (architecture §5): accounts known by the SHA-1 of their key, the
//! identities attached to them, values the client encrypted, namespace grants and their open
//! challenges, and the access tokens of the lockbox and the rolodex. Tokens are stored as SHA-256
//! and their secrets encrypted under a key derived from the token, as the identity service does.

use std::collections::BTreeSet;

use openpeer_protocol::lockbox::NamespaceContent;

use crate::store::StoreError;

/// A lockbox account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    /// The account id (`lockbox.$id`), random.
    pub account_id: String,
    /// hex SHA-1 of the lockbox key (`lockbox.hash`).
    pub key_hash: String,
    /// Unix time of creation.
    pub created: u64,
    /// Unix time of the last key change.
    pub updated: u64,
}

/// An identity attached to an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedIdentity {
    /// The identity URI.
    pub uri: String,
    /// Its provider.
    pub provider: String,
    /// Set when the account's key changed after the identity was attached: the client must
    /// prove the identity again (`$disposition:"update"`).
    pub needs_update: bool,
}

/// Per-account limits of `lockbox-content-set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentLimits {
    /// Namespaces holding values.
    pub max_namespaces: usize,
    /// Value names per namespace.
    pub max_names_per_namespace: usize,
}

/// What a `lockbox-content-set` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentWrite {
    /// Committed.
    Written,
    /// Refused whole (nothing written): the account would hold more namespaces than allowed.
    TooManyNamespaces,
    /// Refused whole: a namespace would hold more names than allowed.
    TooManyNames,
}

/// Which service a token or challenge belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenService {
    /// A lockbox access token; subject = account id.
    Lockbox,
    /// A rolodex access token; subject = identity URI.
    Rolodex,
    /// A rolodex `serverToken` from the identity service; subject = identity URI.
    RolodexServer,
}

impl TokenService {
    /// Every service.
    pub const ALL: [TokenService; 3] = [
        TokenService::Lockbox,
        TokenService::Rolodex,
        TokenService::RolodexServer,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenService::Lockbox => "lockbox",
            TokenService::Rolodex => "rolodex",
            TokenService::RolodexServer => "rolodex-server",
        }
    }
}

/// An issued service token.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceTokenRecord {
    /// hex SHA-256 of the token.
    pub token_hash: String,
    /// Its service.
    pub service: TokenService,
    /// Account id (lockbox) or identity URI (rolodex).
    pub subject: String,
    /// The identity's provider (rolodex), or empty.
    pub provider: String,
    /// hex SHA-256 of the client's grant id, or empty.
    pub grant_hash: String,
    /// The secret, encrypted under a key derived from the token (empty for server tokens).
    pub secret_encrypted: String,
    /// Unix time it lapses.
    pub expires: u64,
}

impl std::fmt::Debug for ServiceTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ServiceTokenRecord({} of {}, expires {})",
            self.service.as_str(),
            self.subject,
            self.expires
        )
    }
}

/// A namespace grant challenge waiting for its signed answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeRecord {
    /// The challenge `$id`.
    pub challenge_id: String,
    /// The challenging service.
    pub service: TokenService,
    /// The account (lockbox) or identity (rolodex) challenged.
    pub subject: String,
    /// hex SHA-256 of the grant id challenged.
    pub grant_hash: String,
    /// The namespaces asked for.
    pub namespaces: Vec<String>,
    /// Unix time it lapses.
    pub expires: u64,
}

/// Storage of the lockbox.
#[async_trait::async_trait]
pub trait LockboxRepo: Send + Sync {
    /// The account an identity is attached to, and the attachment.
    async fn account_of_identity(
        &self,
        identity_uri: &str,
    ) -> Result<Option<(AccountRecord, AttachedIdentity)>, StoreError>;
    /// An account by id.
    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// Creates an account with its first identity, in one transaction.
    async fn create_account(
        &self,
        account: &AccountRecord,
        identity: &AttachedIdentity,
        now: u64,
    ) -> Result<(), StoreError>;
    /// A new key for the account, in one transaction: its values are wiped (grants stay), every
    /// identity but `keeping` is marked `needs_update`, and its access tokens are revoked.
    async fn reset_account(
        &self,
        account_id: &str,
        key_hash: &str,
        keeping: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Attaches (or moves, or refreshes) an identity to an account, clearing `needs_update`; an
    /// account the identity leaves without any identity is deleted with all it holds.
    async fn attach_identity(
        &self,
        account_id: &str,
        identity: &AttachedIdentity,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Detaches an identity from an account; `false` when it was not attached to it.
    async fn detach_identity(&self, account_id: &str, uri: &str) -> Result<bool, StoreError>;
    /// The identities attached to an account, by URI.
    async fn attached_identities(
        &self,
        account_id: &str,
    ) -> Result<Vec<AttachedIdentity>, StoreError>;
    /// Deletes an account with its identities, values, grants and tokens, in one transaction.
    async fn delete_account(&self, account_id: &str) -> Result<(), StoreError>;

    /// The values of these namespaces (a namespace without values has none and no `updated`).
    async fn content(
        &self,
        account_id: &str,
        namespaces: &[String],
    ) -> Result<Vec<NamespaceContent>, StoreError>;
    /// Merges values into the account in one transaction (`"-"` deletes a name), unless the
    /// result would pass `limits`; then nothing is written.
    async fn set_content(
        &self,
        account_id: &str,
        changes: &[NamespaceContent],
        limits: ContentLimits,
        now: u64,
    ) -> Result<ContentWrite, StoreError>;

    /// The namespaces granted to a client grant id of an account.
    async fn granted(
        &self,
        account_id: &str,
        grant_hash: &str,
    ) -> Result<BTreeSet<String>, StoreError>;
    /// Records granted namespaces.
    async fn grant(
        &self,
        account_id: &str,
        grant_hash: &str,
        namespaces: &[String],
        now: u64,
    ) -> Result<(), StoreError>;
    /// Stores an open challenge.
    async fn insert_challenge(&self, challenge: &ChallengeRecord) -> Result<(), StoreError>;
    /// An open challenge, left in place.
    async fn challenge(&self, challenge_id: &str) -> Result<Option<ChallengeRecord>, StoreError>;
    /// Removes and returns a challenge: only one caller ever gets it (single use).
    async fn take_challenge(
        &self,
        challenge_id: &str,
    ) -> Result<Option<ChallengeRecord>, StoreError>;

    /// Stores a service token.
    async fn insert_service_token(&self, token: &ServiceTokenRecord) -> Result<(), StoreError>;
    /// A service token by hash.
    async fn service_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<ServiceTokenRecord>, StoreError>;
    /// Deletes expired tokens and challenges.
    async fn purge_expired_lockbox(&self, now: u64) -> Result<u64, StoreError>;
}
