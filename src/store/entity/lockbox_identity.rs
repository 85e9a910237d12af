//! `lockbox_identities`: identities attached to lockbox accounts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lockbox_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub identity_uri: String,
    pub provider: String,
    pub account_id: String,
    pub needs_update: bool,
    pub attached: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
