//! `rolodex_contacts`: local accounts' contacts, versioned.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rolodex_contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_uri: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_uri: String,
    pub provider: String,
    pub name: Option<String>,
    pub profile: Option<String>,
    pub avatar: Option<String>,
    pub removed: bool,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
