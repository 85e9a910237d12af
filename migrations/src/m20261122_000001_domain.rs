//! The running domain (issue 3): the domain key ring, the salts it signed, and the gateway nodes
//! that publish themselves as finders.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, binary, integer, string};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DomainKeys {
    Table,
    Id,
    Service,
    Generation,
    Suite,
    PrivateKey,
    PublicKey,
    Created,
    Expires,
}

#[derive(DeriveIden)]
enum IssuedSalts {
    Table,
    Id,
    Salt,
    CertificateId,
    Issued,
}

#[derive(DeriveIden)]
enum FinderNodes {
    Table,
    NodeId,
    Url,
    Region,
    Priority,
    Weight,
    Created,
    LastSeen,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DomainKeys::Table)
                    .col(string(DomainKeys::Id).primary_key())
                    .col(string(DomainKeys::Service))
                    .col(big_integer(DomainKeys::Generation))
                    .col(string(DomainKeys::Suite))
                    .col(binary(DomainKeys::PrivateKey))
                    .col(binary(DomainKeys::PublicKey))
                    .col(big_integer(DomainKeys::Created))
                    .col(big_integer(DomainKeys::Expires))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("domain_keys_service_expires")
                    .table(DomainKeys::Table)
                    .col(DomainKeys::Service)
                    .col(DomainKeys::Expires)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IssuedSalts::Table)
                    .col(string(IssuedSalts::Id).primary_key())
                    .col(string(IssuedSalts::Salt))
                    .col(string(IssuedSalts::CertificateId))
                    .col(big_integer(IssuedSalts::Issued))
                    .foreign_key(
                        ForeignKey::create()
                            .name("issued_salts_certificate")
                            .from(IssuedSalts::Table, IssuedSalts::CertificateId)
                            .to(DomainKeys::Table, DomainKeys::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FinderNodes::Table)
                    .col(string(FinderNodes::NodeId).primary_key())
                    .col(string(FinderNodes::Url))
                    .col(string(FinderNodes::Region))
                    .col(integer(FinderNodes::Priority))
                    .col(integer(FinderNodes::Weight))
                    .col(big_integer(FinderNodes::Created))
                    .col(big_integer(FinderNodes::LastSeen))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FinderNodes::Table.into_iden(),
            IssuedSalts::Table.into_iden(),
            DomainKeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
