//! The identity service's rows: `local_accounts`, `identities`, `pending_logins`,
//! `access_tokens`, `relogin_keys`, `used_nonces` and `lookup_entries`.
//!
//! Single use and uniqueness are decided by the database, never by a read followed by a write:
//! a pending login is handed out only to the caller whose `DELETE` removed it, a nonce is new
//! only when its `INSERT … ON CONFLICT DO NOTHING` added a row, a username is free only when
//! its insert added one. That holds across connections and across gateway nodes sharing a
//! PostgreSQL database.

use std::collections::BTreeSet;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, Set};

use super::entity::{
    access_token, identity, identity_lockbox_key, local_account, lookup_entry, pending_login,
    relogin_key, used_nonce,
};
use super::{Store, StoreError, from_db_time, to_db_time};
use crate::identity::repo::{
    AccessTokenRecord, IdentityRecord, IdentityRepo, LocalAccount, LockboxKeyRecord, LookupEntry,
    PendingLoginRecord, ReloginKeyRecord,
};

/// Identity URIs per `IN (…)` list: far below the bind-parameter limits of SQLite (32766) and
/// PostgreSQL (65535), whatever number of URIs a caller passes.
const LOOKUP_CHUNK: usize = 500;

/// `u32` as stored (`INTEGER`); values past `i32::MAX` saturate.
fn to_db_u32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// `u32` as read; a negative value (never written by us) reads as 0.
fn from_db_u32(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn lookup_from_row(row: lookup_entry::Model) -> LookupEntry {
    LookupEntry {
        identity_uri: row.identity_uri,
        provider: row.provider,
        stable_id: row.stable_id,
        contact: row.contact,
        peer_file: row.peer_file,
        identity_proof_bundle: row.identity_proof_bundle,
        priority: from_db_u32(row.priority),
        weight: from_db_u32(row.weight),
        updated: from_db_time(row.updated),
    }
}

#[async_trait::async_trait]
impl IdentityRepo for Store {
    async fn insert_account(&self, account: &LocalAccount) -> Result<bool, StoreError> {
        let row = local_account::ActiveModel {
            username: Set(account.username.clone()),
            password_hash: Set(account.password_hash.clone()),
            created: Set(to_db_time(account.created)),
        };
        let inserted = local_account::Entity::insert(row)
            .on_conflict(
                OnConflict::column(local_account::Column::Username)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(inserted == 1)
    }

    async fn account(&self, username: &str) -> Result<Option<LocalAccount>, StoreError> {
        Ok(local_account::Entity::find_by_id(username.to_owned())
            .one(&self.db)
            .await?
            .map(|row| LocalAccount {
                username: row.username,
                password_hash: row.password_hash,
                created: from_db_time(row.created),
            }))
    }

    async fn upsert_identity(&self, identity: &IdentityRecord) -> Result<(), StoreError> {
        let row = identity::ActiveModel {
            uri: Set(identity.uri.clone()),
            provider: Set(identity.provider.clone()),
            subject: Set(identity.subject.clone()),
            email: Set(identity.email.clone()),
            email_verified: Set(identity.email_verified),
            name: Set(identity.name.clone()),
            profile_url: Set(identity.profile_url.clone()),
            avatar_url: Set(identity.avatar_url.clone()),
            created: Set(to_db_time(identity.created)),
            updated: Set(to_db_time(identity.updated)),
        };
        let keep_created = OnConflict::column(identity::Column::Uri)
            .update_columns([
                identity::Column::Provider,
                identity::Column::Subject,
                identity::Column::Email,
                identity::Column::EmailVerified,
                identity::Column::Name,
                identity::Column::ProfileUrl,
                identity::Column::AvatarUrl,
                identity::Column::Updated,
            ])
            .to_owned();
        identity::Entity::insert(row)
            .on_conflict(keep_created)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn identity(&self, uri: &str) -> Result<Option<IdentityRecord>, StoreError> {
        Ok(identity::Entity::find_by_id(uri.to_owned())
            .one(&self.db)
            .await?
            .map(|row| IdentityRecord {
                uri: row.uri,
                provider: row.provider,
                subject: row.subject,
                email: row.email,
                email_verified: row.email_verified,
                name: row.name,
                profile_url: row.profile_url,
                avatar_url: row.avatar_url,
                created: from_db_time(row.created),
                updated: from_db_time(row.updated),
            }))
    }

    async fn insert_pending_login(&self, login: &PendingLoginRecord) -> Result<(), StoreError> {
        let row = pending_login::ActiveModel {
            state_hash: Set(login.state_hash.clone()),
            provider: Set(login.provider.clone()),
            pending: Set(login.pending_encrypted.clone()),
            expires: Set(to_db_time(login.expires)),
        };
        pending_login::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Returns the row even when it has expired (and removes it all the same): the caller
    /// checks `expires`, so it can tell an expired login from an unknown or replayed one.
    async fn take_pending_login(
        &self,
        state_hash: &str,
    ) -> Result<Option<PendingLoginRecord>, StoreError> {
        let Some(row) = pending_login::Entity::find_by_id(state_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        // Of concurrent takers that all read the row, only the one whose DELETE removed it
        // gets it.
        let deleted = pending_login::Entity::delete_by_id(state_hash.to_owned())
            .exec(&self.db)
            .await?;
        Ok((deleted.rows_affected == 1).then(|| PendingLoginRecord {
            state_hash: row.state_hash,
            provider: row.provider,
            pending_encrypted: row.pending,
            expires: from_db_time(row.expires),
        }))
    }

    async fn insert_access_token(&self, token: &AccessTokenRecord) -> Result<(), StoreError> {
        let row = access_token::ActiveModel {
            token_hash: Set(token.token_hash.clone()),
            identity_uri: Set(token.identity_uri.clone()),
            provider: Set(token.provider.clone()),
            secret_encrypted: Set(token.secret_encrypted.clone()),
            expires: Set(to_db_time(token.expires)),
        };
        access_token::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn access_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        Ok(access_token::Entity::find_by_id(token_hash.to_owned())
            .one(&self.db)
            .await?
            .map(|row| AccessTokenRecord {
                token_hash: row.token_hash,
                identity_uri: row.identity_uri,
                provider: row.provider,
                secret_encrypted: row.secret_encrypted,
                expires: from_db_time(row.expires),
            }))
    }

    async fn insert_relogin_key(&self, key: &ReloginKeyRecord) -> Result<(), StoreError> {
        let row = relogin_key::ActiveModel {
            key_hash: Set(key.key_hash.clone()),
            identity_uri: Set(key.identity_uri.clone()),
            provider: Set(key.provider.clone()),
            expires: Set(to_db_time(key.expires)),
        };
        relogin_key::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn relogin_key(&self, key_hash: &str) -> Result<Option<ReloginKeyRecord>, StoreError> {
        Ok(relogin_key::Entity::find_by_id(key_hash.to_owned())
            .one(&self.db)
            .await?
            .map(|row| ReloginKeyRecord {
                key_hash: row.key_hash,
                identity_uri: row.identity_uri,
                provider: row.provider,
                expires: from_db_time(row.expires),
            }))
    }

    /// A nonce still stored is a replay even past its `expires` (until `purge_expired` removes
    /// it); the caller refuses proofs past their expiry on its own.
    async fn use_nonce(&self, nonce: &str, expires: u64) -> Result<bool, StoreError> {
        let row = used_nonce::ActiveModel {
            nonce: Set(nonce.to_owned()),
            expires: Set(to_db_time(expires)),
        };
        let inserted = used_nonce::Entity::insert(row)
            .on_conflict(
                OnConflict::column(used_nonce::Column::Nonce)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(inserted == 1)
    }

    async fn upsert_lookup(&self, entry: &LookupEntry) -> Result<(), StoreError> {
        let row = lookup_entry::ActiveModel {
            identity_uri: Set(entry.identity_uri.clone()),
            provider: Set(entry.provider.clone()),
            stable_id: Set(entry.stable_id.clone()),
            contact: Set(entry.contact.clone()),
            peer_file: Set(entry.peer_file.clone()),
            identity_proof_bundle: Set(entry.identity_proof_bundle.clone()),
            priority: Set(to_db_u32(entry.priority)),
            weight: Set(to_db_u32(entry.weight)),
            updated: Set(to_db_time(entry.updated)),
        };
        let replace = OnConflict::column(lookup_entry::Column::IdentityUri)
            .update_columns([
                lookup_entry::Column::Provider,
                lookup_entry::Column::StableId,
                lookup_entry::Column::Contact,
                lookup_entry::Column::PeerFile,
                lookup_entry::Column::IdentityProofBundle,
                lookup_entry::Column::Priority,
                lookup_entry::Column::Weight,
                lookup_entry::Column::Updated,
            ])
            .to_owned();
        lookup_entry::Entity::insert(row)
            .on_conflict(replace)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn delete_lookup(&self, identity_uri: &str) -> Result<bool, StoreError> {
        let deleted = lookup_entry::Entity::delete_by_id(identity_uri.to_owned())
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    async fn lookups(&self, identity_uris: &[String]) -> Result<Vec<LookupEntry>, StoreError> {
        // Empty input: no chunk, no query. Duplicates asked for are answered once.
        let wanted: Vec<&str> = identity_uris
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut entries = Vec::new();
        for chunk in wanted.chunks(LOOKUP_CHUNK) {
            let rows = lookup_entry::Entity::find()
                .filter(lookup_entry::Column::IdentityUri.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?;
            entries.extend(rows.into_iter().map(lookup_from_row));
        }
        Ok(entries)
    }

    async fn set_lockbox_key(&self, key: &LockboxKeyRecord) -> Result<(), StoreError> {
        let row = identity_lockbox_key::ActiveModel {
            identity_uri: Set(key.identity_uri.clone()),
            lockbox_domain: Set(key.lockbox_domain.clone()),
            key_encrypted: Set(key.key_encrypted.clone()),
            updated: Set(to_db_time(key.updated)),
        };
        identity_lockbox_key::Entity::insert(row)
            .on_conflict(
                OnConflict::column(identity_lockbox_key::Column::IdentityUri)
                    .update_columns([
                        identity_lockbox_key::Column::LockboxDomain,
                        identity_lockbox_key::Column::KeyEncrypted,
                        identity_lockbox_key::Column::Updated,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn lockbox_key(
        &self,
        identity_uri: &str,
    ) -> Result<Option<LockboxKeyRecord>, StoreError> {
        Ok(
            identity_lockbox_key::Entity::find_by_id(identity_uri.to_owned())
                .one(&self.db)
                .await?
                .map(|row| LockboxKeyRecord {
                    identity_uri: row.identity_uri,
                    lockbox_domain: row.lockbox_domain,
                    key_encrypted: row.key_encrypted,
                    updated: from_db_time(row.updated),
                }),
        )
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
        let now = to_db_time(now);
        let mut purged = 0;
        purged += pending_login::Entity::delete_many()
            .filter(pending_login::Column::Expires.lt(now))
            .exec(&self.db)
            .await?
            .rows_affected;
        purged += access_token::Entity::delete_many()
            .filter(access_token::Column::Expires.lt(now))
            .exec(&self.db)
            .await?
            .rows_affected;
        purged += relogin_key::Entity::delete_many()
            .filter(relogin_key::Column::Expires.lt(now))
            .exec(&self.db)
            .await?
            .rows_affected;
        purged += used_nonce::Entity::delete_many()
            .filter(used_nonce::Column::Expires.lt(now))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(purged)
    }
}
