//! The location registry's rows (`finder_locations`).

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, Set};

use super::entity::finder_location;
use super::{Store, StoreError, to_db_time};
use crate::finder::registry::{LocationRepo, LocationRow};

#[async_trait::async_trait]
impl LocationRepo for Store {
    async fn upsert_location(&self, row: &LocationRow) -> Result<(), StoreError> {
        let model = finder_location::ActiveModel {
            contact: Set(row.contact.clone()),
            location_id: Set(row.location_id.clone()),
            node_id: Set(row.node_id.clone()),
            expires: Set(to_db_time(row.expires)),
        };
        let replace = OnConflict::columns([
            finder_location::Column::Contact,
            finder_location::Column::LocationId,
        ])
        .update_columns([
            finder_location::Column::NodeId,
            finder_location::Column::Expires,
        ])
        .to_owned();
        finder_location::Entity::insert(model)
            .on_conflict(replace)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    async fn delete_location(&self, contact: &str, location_id: &str) -> Result<(), StoreError> {
        finder_location::Entity::delete_many()
            .filter(finder_location::Column::Contact.eq(contact))
            .filter(finder_location::Column::LocationId.eq(location_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn delete_node_locations(&self, node_id: &str) -> Result<u64, StoreError> {
        Ok(finder_location::Entity::delete_many()
            .filter(finder_location::Column::NodeId.eq(node_id))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
