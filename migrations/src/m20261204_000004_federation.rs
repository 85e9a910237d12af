//! Federation (issue 2.1): the verified certificates of remote domains, kept between runs until
//! they lapse.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RemoteCertificates {
    Table,
    Domain,
    Document,
    Fetched,
    Expires,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RemoteCertificates::Table)
                    .col(string(RemoteCertificates::Domain).primary_key())
                    .col(text(RemoteCertificates::Document))
                    .col(big_integer(RemoteCertificates::Fetched))
                    .col(big_integer(RemoteCertificates::Expires))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RemoteCertificates::Table).to_owned())
            .await
    }
}
