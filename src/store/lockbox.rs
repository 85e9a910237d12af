//! The lockbox's rows: `lockbox_accounts`, `lockbox_identities`, `lockbox_values`,
//! `lockbox_grants`, `grant_challenges` and `service_tokens`.
//!
//! Every change of more than one row is one transaction, so a crash leaves an acknowledged write
//! whole and an unacknowledged one absent. A content write first touches its account row, which
//! queues concurrent writers of one account behind each other, so its limits are checked on what
//! it will commit.

use std::collections::BTreeSet;

use openpeer_protocol::lockbox::{DELETE_VALUE, NamespaceContent};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, Set, TransactionTrait as _,
};

use super::entity::{
    grant_challenge, lockbox_account, lockbox_grant, lockbox_identity, lockbox_value, service_token,
};
use super::{Store, StoreError, corrupt, from_db_time, to_db_time};
use crate::lockbox::repo::{
    AccountRecord, AttachedIdentity, ChallengeRecord, ContentLimits, ContentWrite, LockboxRepo,
    ServiceTokenRecord, TokenService,
};

fn account_from_row(row: lockbox_account::Model) -> AccountRecord {
    AccountRecord {
        account_id: row.account_id,
        key_hash: row.key_hash,
        created: from_db_time(row.created),
        updated: from_db_time(row.updated),
    }
}

fn attached_from_row(row: lockbox_identity::Model) -> AttachedIdentity {
    AttachedIdentity {
        uri: row.identity_uri,
        provider: row.provider,
        needs_update: row.needs_update,
    }
}

fn service_from_str(table: &'static str, s: &str) -> Result<TokenService, StoreError> {
    TokenService::ALL
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| corrupt(table, format_args!("unknown service {s:?}")))
}

fn challenge_from_row(row: grant_challenge::Model) -> Result<ChallengeRecord, StoreError> {
    Ok(ChallengeRecord {
        service: service_from_str("grant_challenges", &row.service)?,
        challenge_id: row.challenge_id,
        subject: row.subject,
        grant_hash: row.grant_hash,
        namespaces: row.namespaces.lines().map(str::to_owned).collect(),
        expires: from_db_time(row.expires),
    })
}

/// Deletes an account with its values, grants, identities, tokens and challenges.
async fn delete_account_rows(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<(), StoreError> {
    lockbox_value::Entity::delete_many()
        .filter(lockbox_value::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    lockbox_grant::Entity::delete_many()
        .filter(lockbox_grant::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    lockbox_identity::Entity::delete_many()
        .filter(lockbox_identity::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    delete_tokens(db, account_id).await?;
    grant_challenge::Entity::delete_many()
        .filter(grant_challenge::Column::Service.eq(TokenService::Lockbox.as_str()))
        .filter(grant_challenge::Column::Subject.eq(account_id))
        .exec(db)
        .await?;
    lockbox_account::Entity::delete_by_id(account_id.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the lockbox access tokens of an account.
async fn delete_tokens(db: &impl ConnectionTrait, account_id: &str) -> Result<(), StoreError> {
    service_token::Entity::delete_many()
        .filter(service_token::Column::Service.eq(TokenService::Lockbox.as_str()))
        .filter(service_token::Column::Subject.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}

async fn upsert_attachment(
    db: &impl ConnectionTrait,
    account_id: &str,
    identity: &AttachedIdentity,
    now: u64,
) -> Result<(), StoreError> {
    let row = lockbox_identity::ActiveModel {
        identity_uri: Set(identity.uri.clone()),
        provider: Set(identity.provider.clone()),
        account_id: Set(account_id.to_owned()),
        needs_update: Set(false),
        attached: Set(to_db_time(now)),
    };
    lockbox_identity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(lockbox_identity::Column::IdentityUri)
                .update_columns([
                    lockbox_identity::Column::Provider,
                    lockbox_identity::Column::AccountId,
                    lockbox_identity::Column::NeedsUpdate,
                    lockbox_identity::Column::Attached,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl LockboxRepo for Store {
    async fn account_of_identity(
        &self,
        identity_uri: &str,
    ) -> Result<Option<(AccountRecord, AttachedIdentity)>, StoreError> {
        let Some(attached) = lockbox_identity::Entity::find_by_id(identity_uri.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let account = lockbox_account::Entity::find_by_id(attached.account_id.clone())
            .one(&self.db)
            .await?;
        Ok(account.map(|a| (account_from_row(a), attached_from_row(attached))))
    }

    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        Ok(lockbox_account::Entity::find_by_id(account_id.to_owned())
            .one(&self.db)
            .await?
            .map(account_from_row))
    }

    async fn create_account(
        &self,
        account: &AccountRecord,
        identity: &AttachedIdentity,
        now: u64,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        lockbox_account::Entity::insert(lockbox_account::ActiveModel {
            account_id: Set(account.account_id.clone()),
            key_hash: Set(account.key_hash.clone()),
            created: Set(to_db_time(account.created)),
            updated: Set(to_db_time(account.updated)),
        })
        .exec_without_returning(&txn)
        .await?;
        upsert_attachment(&txn, &account.account_id, identity, now).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn reset_account(
        &self,
        account_id: &str,
        key_hash: &str,
        keeping: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        lockbox_account::Entity::update_many()
            .col_expr(lockbox_account::Column::KeyHash, Expr::value(key_hash))
            .col_expr(
                lockbox_account::Column::Updated,
                Expr::value(to_db_time(now)),
            )
            .filter(lockbox_account::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        lockbox_value::Entity::delete_many()
            .filter(lockbox_value::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        lockbox_identity::Entity::update_many()
            .col_expr(lockbox_identity::Column::NeedsUpdate, Expr::value(true))
            .filter(lockbox_identity::Column::AccountId.eq(account_id))
            .filter(lockbox_identity::Column::IdentityUri.ne(keeping))
            .exec(&txn)
            .await?;
        // Devices holding the old key lose their access with it.
        delete_tokens(&txn, account_id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// An identity moved from another account leaves it; an account left without identities
    /// is deleted with everything it holds, in the same transaction.
    async fn attach_identity(
        &self,
        account_id: &str,
        identity: &AttachedIdentity,
        now: u64,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let previous = lockbox_identity::Entity::find_by_id(identity.uri.clone())
            .one(&txn)
            .await?
            .map(|row| row.account_id)
            .filter(|previous| previous != account_id);
        upsert_attachment(&txn, account_id, identity, now).await?;
        if let Some(previous) = previous {
            let left = lockbox_identity::Entity::find()
                .filter(lockbox_identity::Column::AccountId.eq(previous.as_str()))
                .count(&txn)
                .await?;
            if left == 0 {
                delete_account_rows(&txn, &previous).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    async fn detach_identity(&self, account_id: &str, uri: &str) -> Result<bool, StoreError> {
        let deleted = lockbox_identity::Entity::delete_many()
            .filter(lockbox_identity::Column::IdentityUri.eq(uri))
            .filter(lockbox_identity::Column::AccountId.eq(account_id))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected == 1)
    }

    async fn attached_identities(
        &self,
        account_id: &str,
    ) -> Result<Vec<AttachedIdentity>, StoreError> {
        Ok(lockbox_identity::Entity::find()
            .filter(lockbox_identity::Column::AccountId.eq(account_id))
            .order_by_asc(lockbox_identity::Column::IdentityUri)
            .all(&self.db)
            .await?
            .into_iter()
            .map(attached_from_row)
            .collect())
    }

    async fn delete_account(&self, account_id: &str) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        delete_account_rows(&txn, account_id).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn content(
        &self,
        account_id: &str,
        namespaces: &[String],
    ) -> Result<Vec<NamespaceContent>, StoreError> {
        let rows = lockbox_value::Entity::find()
            .filter(lockbox_value::Column::AccountId.eq(account_id))
            .filter(lockbox_value::Column::Namespace.is_in(namespaces.iter().map(String::as_str)))
            .order_by_asc(lockbox_value::Column::Name)
            .all(&self.db)
            .await?;
        Ok(namespaces
            .iter()
            .map(|namespace| {
                let mut content = NamespaceContent {
                    id: namespace.clone(),
                    updated: None,
                    values: Vec::new(),
                };
                for row in rows.iter().filter(|r| &r.namespace == namespace) {
                    let updated = from_db_time(row.updated);
                    content.updated = Some(content.updated.map_or(updated, |u| u.max(updated)));
                    content.values.push((row.name.clone(), row.value.clone()));
                }
                content
            })
            .collect())
    }

    async fn set_content(
        &self,
        account_id: &str,
        changes: &[NamespaceContent],
        limits: ContentLimits,
        now: u64,
    ) -> Result<ContentWrite, StoreError> {
        let txn = self.db.begin().await?;
        // Writers of one account queue here (row lock in PostgreSQL, the write lock in SQLite).
        lockbox_account::Entity::update_many()
            .col_expr(
                lockbox_account::Column::Updated,
                Expr::col(lockbox_account::Column::Updated),
            )
            .filter(lockbox_account::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        for namespace in changes {
            for (name, value) in &namespace.values {
                if value == DELETE_VALUE {
                    lockbox_value::Entity::delete_by_id((
                        account_id.to_owned(),
                        namespace.id.clone(),
                        name.clone(),
                    ))
                    .exec(&txn)
                    .await?;
                    continue;
                }
                let row = lockbox_value::ActiveModel {
                    account_id: Set(account_id.to_owned()),
                    namespace: Set(namespace.id.clone()),
                    name: Set(name.clone()),
                    value: Set(value.clone()),
                    updated: Set(to_db_time(now)),
                };
                lockbox_value::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([
                            lockbox_value::Column::AccountId,
                            lockbox_value::Column::Namespace,
                            lockbox_value::Column::Name,
                        ])
                        .update_columns([
                            lockbox_value::Column::Value,
                            lockbox_value::Column::Updated,
                        ])
                        .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
            let names = lockbox_value::Entity::find()
                .filter(lockbox_value::Column::AccountId.eq(account_id))
                .filter(lockbox_value::Column::Namespace.eq(namespace.id.as_str()))
                .count(&txn)
                .await?;
            if names > limits.max_names_per_namespace as u64 {
                txn.rollback().await?;
                return Ok(ContentWrite::TooManyNames);
            }
        }
        let namespaces = lockbox_value::Entity::find()
            .select_only()
            .column(lockbox_value::Column::Namespace)
            .distinct()
            .filter(lockbox_value::Column::AccountId.eq(account_id))
            .count(&txn)
            .await?;
        if namespaces > limits.max_namespaces as u64 {
            txn.rollback().await?;
            return Ok(ContentWrite::TooManyNamespaces);
        }
        txn.commit().await?;
        Ok(ContentWrite::Written)
    }

    async fn granted(
        &self,
        account_id: &str,
        grant_hash: &str,
    ) -> Result<BTreeSet<String>, StoreError> {
        Ok(lockbox_grant::Entity::find()
            .filter(lockbox_grant::Column::AccountId.eq(account_id))
            .filter(lockbox_grant::Column::GrantHash.eq(grant_hash))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| row.namespace)
            .collect())
    }

    async fn grant(
        &self,
        account_id: &str,
        grant_hash: &str,
        namespaces: &[String],
        now: u64,
    ) -> Result<(), StoreError> {
        if namespaces.is_empty() {
            return Ok(());
        }
        let rows = namespaces
            .iter()
            .map(|namespace| lockbox_grant::ActiveModel {
                account_id: Set(account_id.to_owned()),
                grant_hash: Set(grant_hash.to_owned()),
                namespace: Set(namespace.clone()),
                granted: Set(to_db_time(now)),
            });
        lockbox_grant::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    lockbox_grant::Column::AccountId,
                    lockbox_grant::Column::GrantHash,
                    lockbox_grant::Column::Namespace,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn insert_challenge(&self, challenge: &ChallengeRecord) -> Result<(), StoreError> {
        grant_challenge::Entity::insert(grant_challenge::ActiveModel {
            challenge_id: Set(challenge.challenge_id.clone()),
            service: Set(challenge.service.as_str().to_owned()),
            subject: Set(challenge.subject.clone()),
            grant_hash: Set(challenge.grant_hash.clone()),
            namespaces: Set(challenge.namespaces.join("\n")),
            expires: Set(to_db_time(challenge.expires)),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    async fn challenge(&self, challenge_id: &str) -> Result<Option<ChallengeRecord>, StoreError> {
        grant_challenge::Entity::find_by_id(challenge_id.to_owned())
            .one(&self.db)
            .await?
            .map(challenge_from_row)
            .transpose()
    }

    /// Returns the row even when it has expired (and removes it all the same): the caller
    /// checks `expires`.
    async fn take_challenge(
        &self,
        challenge_id: &str,
    ) -> Result<Option<ChallengeRecord>, StoreError> {
        let Some(challenge) = self.challenge(challenge_id).await? else {
            return Ok(None);
        };
        // Of concurrent takers that all read the row, only the one whose DELETE removed it
        // gets it.
        let deleted = grant_challenge::Entity::delete_by_id(challenge_id.to_owned())
            .exec(&self.db)
            .await?;
        Ok((deleted.rows_affected == 1).then_some(challenge))
    }

    async fn insert_service_token(&self, token: &ServiceTokenRecord) -> Result<(), StoreError> {
        service_token::Entity::insert(service_token::ActiveModel {
            token_hash: Set(token.token_hash.clone()),
            service: Set(token.service.as_str().to_owned()),
            subject: Set(token.subject.clone()),
            provider: Set(token.provider.clone()),
            grant_hash: Set(token.grant_hash.clone()),
            secret_encrypted: Set(token.secret_encrypted.clone()),
            expires: Set(to_db_time(token.expires)),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    async fn service_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<ServiceTokenRecord>, StoreError> {
        let Some(row) = service_token::Entity::find_by_id(token_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(ServiceTokenRecord {
            service: service_from_str("service_tokens", &row.service)?,
            token_hash: row.token_hash,
            subject: row.subject,
            provider: row.provider,
            grant_hash: row.grant_hash,
            secret_encrypted: row.secret_encrypted,
            expires: from_db_time(row.expires),
        }))
    }

    async fn purge_expired_lockbox(&self, now: u64) -> Result<u64, StoreError> {
        let now = to_db_time(now);
        let tokens = service_token::Entity::delete_many()
            .filter(service_token::Column::Expires.lt(now))
            .exec(&self.db)
            .await?;
        let challenges = grant_challenge::Entity::delete_many()
            .filter(grant_challenge::Column::Expires.lt(now))
            .exec(&self.db)
            .await?;
        Ok(tokens.rows_affected + challenges.rows_affected)
    }
}
