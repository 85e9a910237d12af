//! The finder (issue 4/4): where each registered peer location is connected, so that another
//! node of the domain can route to it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FinderLocations {
    Table,
    Contact,
    LocationId,
    NodeId,
    Expires,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FinderLocations::Table)
                    .col(string(FinderLocations::Contact))
                    .col(string(FinderLocations::LocationId))
                    .col(string(FinderLocations::NodeId))
                    .col(big_integer(FinderLocations::Expires))
                    .primary_key(
                        Index::create()
                            .col(FinderLocations::Contact)
                            .col(FinderLocations::LocationId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FinderLocations::Table).to_owned())
            .await
    }
}
