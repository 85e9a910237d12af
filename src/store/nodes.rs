//! Gateway nodes publishing their finders (`finder_nodes`).

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
};

use super::entity::finder_node;
use super::{Store, StoreError, from_db_time, to_db_time};
use crate::services::finders::{FinderNode, FinderNodeRepo};

#[async_trait::async_trait]
impl FinderNodeRepo for Store {
    async fn heartbeat(&self, node: &FinderNode) -> Result<(), StoreError> {
        let row = finder_node::ActiveModel {
            node_id: Set(node.node_id.clone()),
            url: Set(node.url.clone()),
            region: Set(node.region.clone()),
            priority: Set(i32::try_from(node.priority).unwrap_or(i32::MAX)),
            weight: Set(i32::try_from(node.weight).unwrap_or(i32::MAX)),
            created: Set(to_db_time(node.created)),
            last_seen: Set(to_db_time(node.last_seen)),
        };
        let keep_created = OnConflict::column(finder_node::Column::NodeId)
            .update_columns([
                finder_node::Column::Url,
                finder_node::Column::Region,
                finder_node::Column::Priority,
                finder_node::Column::Weight,
                finder_node::Column::LastSeen,
            ])
            .to_owned();
        finder_node::Entity::insert(row)
            .on_conflict(keep_created)
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn live_nodes(&self, seen_since: u64, limit: u64) -> Result<Vec<FinderNode>, StoreError> {
        Ok(finder_node::Entity::find()
            .filter(finder_node::Column::LastSeen.gte(to_db_time(seen_since)))
            .order_by_asc(finder_node::Column::Priority)
            .order_by_asc(finder_node::Column::NodeId)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| FinderNode {
                node_id: row.node_id,
                url: row.url,
                region: row.region,
                priority: u32::try_from(row.priority).unwrap_or(0),
                weight: u32::try_from(row.weight).unwrap_or(0),
                created: from_db_time(row.created),
                last_seen: from_db_time(row.last_seen),
            })
            .collect())
    }
}
