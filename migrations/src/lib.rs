//! Database migrations of openpeer-gateway, one per change, never edited once released. They run
//! at start-up and by `openpeer-gateway migrate`, on SQLite and PostgreSQL alike.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_domain;
mod m20261122_000002_identity;
mod m20261122_000003_finder;
mod m20261204_000004_federation;
mod m20261204_000005_lockbox;

/// Every migration, in order.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_domain::Migration),
            Box::new(m20261122_000002_identity::Migration),
            Box::new(m20261122_000003_finder::Migration),
            Box::new(m20261204_000004_federation::Migration),
            Box::new(m20261204_000005_lockbox::Migration),
        ]
    }
}
