//! `domain_keys`: one row per domain service key and its certificate.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "domain_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub service: String,
    pub generation: i64,
    pub suite: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created: i64,
    pub expires: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
