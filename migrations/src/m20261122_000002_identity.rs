//! Identity (issue 3/4): local accounts, identities proven through a provider, pending provider
//! logins, access tokens, re-login keys, one-time proof nonces and the identity lookup entries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, integer, string, string_null, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LocalAccounts {
    Table,
    Username,
    PasswordHash,
    Created,
}

#[derive(DeriveIden)]
enum Identities {
    Table,
    Uri,
    Provider,
    Subject,
    Email,
    EmailVerified,
    Name,
    ProfileUrl,
    AvatarUrl,
    Created,
    Updated,
}

#[derive(DeriveIden)]
enum PendingLogins {
    Table,
    StateHash,
    Provider,
    Pending,
    Expires,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    TokenHash,
    IdentityUri,
    Provider,
    SecretEncrypted,
    Expires,
}

#[derive(DeriveIden)]
enum ReloginKeys {
    Table,
    KeyHash,
    IdentityUri,
    Provider,
    Expires,
}

#[derive(DeriveIden)]
enum UsedNonces {
    Table,
    Nonce,
    Expires,
}

#[derive(DeriveIden)]
enum LookupEntries {
    Table,
    IdentityUri,
    Provider,
    StableId,
    Contact,
    PeerFile,
    IdentityProofBundle,
    Priority,
    Weight,
    Updated,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LocalAccounts::Table)
                    .col(string(LocalAccounts::Username).primary_key())
                    .col(string(LocalAccounts::PasswordHash))
                    .col(big_integer(LocalAccounts::Created))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Identities::Table)
                    .col(string(Identities::Uri).primary_key())
                    .col(string(Identities::Provider))
                    .col(string(Identities::Subject))
                    .col(string_null(Identities::Email))
                    .col(boolean(Identities::EmailVerified))
                    .col(string_null(Identities::Name))
                    .col(string_null(Identities::ProfileUrl))
                    .col(string_null(Identities::AvatarUrl))
                    .col(big_integer(Identities::Created))
                    .col(big_integer(Identities::Updated))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PendingLogins::Table)
                    .col(string(PendingLogins::StateHash).primary_key())
                    .col(string(PendingLogins::Provider))
                    .col(text(PendingLogins::Pending))
                    .col(big_integer(PendingLogins::Expires))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(string(AccessTokens::TokenHash).primary_key())
                    .col(string(AccessTokens::IdentityUri))
                    .col(string(AccessTokens::Provider))
                    .col(text(AccessTokens::SecretEncrypted))
                    .col(big_integer(AccessTokens::Expires))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReloginKeys::Table)
                    .col(string(ReloginKeys::KeyHash).primary_key())
                    .col(string(ReloginKeys::IdentityUri))
                    .col(string(ReloginKeys::Provider))
                    .col(big_integer(ReloginKeys::Expires))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsedNonces::Table)
                    .col(string(UsedNonces::Nonce).primary_key())
                    .col(big_integer(UsedNonces::Expires))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LookupEntries::Table)
                    .col(string(LookupEntries::IdentityUri).primary_key())
                    .col(string(LookupEntries::Provider))
                    .col(string(LookupEntries::StableId))
                    .col(string(LookupEntries::Contact))
                    .col(text(LookupEntries::PeerFile))
                    .col(text(LookupEntries::IdentityProofBundle))
                    .col(integer(LookupEntries::Priority))
                    .col(integer(LookupEntries::Weight))
                    .col(big_integer(LookupEntries::Updated))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LookupEntries::Table.into_iden(),
            UsedNonces::Table.into_iden(),
            ReloginKeys::Table.into_iden(),
            AccessTokens::Table.into_iden(),
            PendingLogins::Table.into_iden(),
            Identities::Table.into_iden(),
            LocalAccounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
