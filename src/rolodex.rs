//! What the rolodex keeps (spec §6.9): the contacts of local accounts, which their users edit
//! through the identity service, each change numbered by a per-owner version so that
//! `rolodex-contacts-get` can send only what changed since the version a client holds.
//! Identities of upstream providers have no stored contacts (README "Rolodex").

use crate::store::StoreError;

/// One contact of an owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRecord {
    /// The contact's identity URI.
    pub uri: String,
    /// The contact's provider.
    pub provider: String,
    /// Display name.
    pub name: Option<String>,
    /// Profile page.
    pub profile: Option<String>,
    /// Avatar image URL.
    pub avatar: Option<String>,
    /// Removed since (sent as `$disposition:"remove"`).
    pub removed: bool,
    /// The owner's version at the last change.
    pub version: u64,
}

/// What a contacts change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactsWrite {
    /// Committed under this version.
    Written(u64),
    /// Refused whole: the owner would keep more contacts than allowed.
    TooMany,
}

/// Storage of the rolodex.
#[async_trait::async_trait]
pub trait RolodexRepo: Send + Sync {
    /// The owner's contacts changed after `version` (all live ones when 0), and the owner's
    /// current version.
    async fn contacts_since(
        &self,
        owner: &str,
        version: u64,
    ) -> Result<(Vec<ContactRecord>, u64), StoreError>;
    /// Adds or replaces `upserts` and marks `removals` removed, under one new version, in one
    /// transaction; nothing is written when more than `max` live contacts would remain.
    async fn change_contacts(
        &self,
        owner: &str,
        upserts: &[ContactRecord],
        removals: &[String],
        max: usize,
    ) -> Result<ContactsWrite, StoreError>;
}
