//! `finder_locations`: which node holds each registered peer location.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "finder_locations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub location_id: String,
    pub node_id: String,
    pub expires: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
