//! Lockbox, namespace grants, rolodex (issue 2.2): accounts and their client-encrypted values,
//! the identities attached to them, namespace grants and open challenges, the access tokens of
//! the lockbox and the rolodex, the client-encrypted lockbox key the identity service keeps, and
//! local accounts' contacts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, string, string_null, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LockboxAccounts {
    Table,
    AccountId,
    KeyHash,
    Created,
    Updated,
}

#[derive(DeriveIden)]
enum LockboxIdentities {
    Table,
    IdentityUri,
    Provider,
    AccountId,
    NeedsUpdate,
    Attached,
}

#[derive(DeriveIden)]
enum LockboxValues {
    Table,
    AccountId,
    Namespace,
    Name,
    Value,
    Updated,
}

#[derive(DeriveIden)]
enum LockboxGrants {
    Table,
    AccountId,
    GrantHash,
    Namespace,
    Granted,
}

#[derive(DeriveIden)]
enum GrantChallenges {
    Table,
    ChallengeId,
    Service,
    Subject,
    GrantHash,
    Namespaces,
    Expires,
}

#[derive(DeriveIden)]
enum ServiceTokens {
    Table,
    TokenHash,
    Service,
    Subject,
    Provider,
    GrantHash,
    SecretEncrypted,
    Expires,
}

#[derive(DeriveIden)]
enum IdentityLockboxKeys {
    Table,
    IdentityUri,
    LockboxDomain,
    KeyEncrypted,
    Updated,
}

#[derive(DeriveIden)]
enum RolodexContacts {
    Table,
    OwnerUri,
    ContactUri,
    Provider,
    Name,
    Profile,
    Avatar,
    Removed,
    Version,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LockboxAccounts::Table)
                    .col(string(LockboxAccounts::AccountId).primary_key())
                    .col(string(LockboxAccounts::KeyHash))
                    .col(big_integer(LockboxAccounts::Created))
                    .col(big_integer(LockboxAccounts::Updated))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LockboxIdentities::Table)
                    .col(string(LockboxIdentities::IdentityUri).primary_key())
                    .col(string(LockboxIdentities::Provider))
                    .col(string(LockboxIdentities::AccountId))
                    .col(boolean(LockboxIdentities::NeedsUpdate))
                    .col(big_integer(LockboxIdentities::Attached))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LockboxIdentities::Table, LockboxIdentities::AccountId)
                            .to(LockboxAccounts::Table, LockboxAccounts::AccountId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("lockbox_identities_account")
                    .table(LockboxIdentities::Table)
                    .col(LockboxIdentities::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LockboxValues::Table)
                    .col(string(LockboxValues::AccountId))
                    .col(string(LockboxValues::Namespace))
                    .col(string(LockboxValues::Name))
                    .col(text(LockboxValues::Value))
                    .col(big_integer(LockboxValues::Updated))
                    .primary_key(
                        Index::create()
                            .col(LockboxValues::AccountId)
                            .col(LockboxValues::Namespace)
                            .col(LockboxValues::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LockboxValues::Table, LockboxValues::AccountId)
                            .to(LockboxAccounts::Table, LockboxAccounts::AccountId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LockboxGrants::Table)
                    .col(string(LockboxGrants::AccountId))
                    .col(string(LockboxGrants::GrantHash))
                    .col(string(LockboxGrants::Namespace))
                    .col(big_integer(LockboxGrants::Granted))
                    .primary_key(
                        Index::create()
                            .col(LockboxGrants::AccountId)
                            .col(LockboxGrants::GrantHash)
                            .col(LockboxGrants::Namespace),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LockboxGrants::Table, LockboxGrants::AccountId)
                            .to(LockboxAccounts::Table, LockboxAccounts::AccountId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GrantChallenges::Table)
                    .col(string(GrantChallenges::ChallengeId).primary_key())
                    .col(string(GrantChallenges::Service))
                    .col(string(GrantChallenges::Subject))
                    .col(string(GrantChallenges::GrantHash))
                    .col(text(GrantChallenges::Namespaces))
                    .col(big_integer(GrantChallenges::Expires))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceTokens::Table)
                    .col(string(ServiceTokens::TokenHash).primary_key())
                    .col(string(ServiceTokens::Service))
                    .col(string(ServiceTokens::Subject))
                    .col(string(ServiceTokens::Provider))
                    .col(string(ServiceTokens::GrantHash))
                    .col(text(ServiceTokens::SecretEncrypted))
                    .col(big_integer(ServiceTokens::Expires))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("service_tokens_subject")
                    .table(ServiceTokens::Table)
                    .col(ServiceTokens::Service)
                    .col(ServiceTokens::Subject)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentityLockboxKeys::Table)
                    .col(string(IdentityLockboxKeys::IdentityUri).primary_key())
                    .col(string(IdentityLockboxKeys::LockboxDomain))
                    .col(text(IdentityLockboxKeys::KeyEncrypted))
                    .col(big_integer(IdentityLockboxKeys::Updated))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RolodexContacts::Table)
                    .col(string(RolodexContacts::OwnerUri))
                    .col(string(RolodexContacts::ContactUri))
                    .col(string(RolodexContacts::Provider))
                    .col(string_null(RolodexContacts::Name))
                    .col(string_null(RolodexContacts::Profile))
                    .col(string_null(RolodexContacts::Avatar))
                    .col(boolean(RolodexContacts::Removed))
                    .col(big_integer(RolodexContacts::Version))
                    .primary_key(
                        Index::create()
                            .col(RolodexContacts::OwnerUri)
                            .col(RolodexContacts::ContactUri),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RolodexContacts::Table.into_iden(),
            IdentityLockboxKeys::Table.into_iden(),
            ServiceTokens::Table.into_iden(),
            GrantChallenges::Table.into_iden(),
            LockboxGrants::Table.into_iden(),
            LockboxValues::Table.into_iden(),
            LockboxIdentities::Table.into_iden(),
            LockboxAccounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
