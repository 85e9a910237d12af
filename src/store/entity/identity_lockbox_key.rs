//! `identity_lockbox_keys`: the client-encrypted lockbox key kept for an identity.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_lockbox_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub identity_uri: String,
    pub lockbox_domain: String,
    pub key_encrypted: String,
    pub updated: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
