//! `lookup_entries`: what `identity-lookup` answers for each identity.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lookup_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub identity_uri: String,
    pub provider: String,
    pub stable_id: String,
    pub contact: String,
    pub peer_file: String,
    pub identity_proof_bundle: String,
    pub priority: i32,
    pub weight: i32,
    pub updated: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
