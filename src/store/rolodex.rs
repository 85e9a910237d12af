//! The rolodex's rows: `rolodex_contacts`. A change takes the owner's next version inside its
//! transaction, after touching the owner's rows, so concurrent changes of one owner queue.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, Set, TransactionTrait as _,
};

use super::entity::rolodex_contact;
use super::{Store, StoreError, from_db_time, to_db_time};
use crate::rolodex::{ContactRecord, ContactsWrite, RolodexRepo};

fn contact_from_row(row: rolodex_contact::Model) -> ContactRecord {
    ContactRecord {
        uri: row.contact_uri,
        provider: row.provider,
        name: row.name,
        profile: row.profile,
        avatar: row.avatar,
        removed: row.removed,
        version: from_db_time(row.version),
    }
}

async fn version_of(db: &impl sea_orm::ConnectionTrait, owner: &str) -> Result<u64, StoreError> {
    let latest: Option<i64> = rolodex_contact::Entity::find()
        .select_only()
        .column_as(rolodex_contact::Column::Version.max(), "version")
        .filter(rolodex_contact::Column::OwnerUri.eq(owner))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    Ok(latest.map_or(0, from_db_time))
}

#[async_trait::async_trait]
impl RolodexRepo for Store {
    async fn contacts_since(
        &self,
        owner: &str,
        version: u64,
    ) -> Result<(Vec<ContactRecord>, u64), StoreError> {
        let mut query = rolodex_contact::Entity::find()
            .filter(rolodex_contact::Column::OwnerUri.eq(owner))
            .order_by_asc(rolodex_contact::Column::ContactUri);
        query = if version == 0 {
            query.filter(rolodex_contact::Column::Removed.eq(false))
        } else {
            query.filter(rolodex_contact::Column::Version.gt(to_db_time(version)))
        };
        let contacts = query
            .all(&self.db)
            .await?
            .into_iter()
            .map(contact_from_row)
            .collect();
        Ok((contacts, version_of(&self.db, owner).await?))
    }

    async fn change_contacts(
        &self,
        owner: &str,
        upserts: &[ContactRecord],
        removals: &[String],
        max: usize,
    ) -> Result<ContactsWrite, StoreError> {
        let txn = self.db.begin().await?;
        rolodex_contact::Entity::update_many()
            .col_expr(
                rolodex_contact::Column::Version,
                Expr::col(rolodex_contact::Column::Version),
            )
            .filter(rolodex_contact::Column::OwnerUri.eq(owner))
            .exec(&txn)
            .await?;
        let version = version_of(&txn, owner).await? + 1;
        for contact in upserts {
            let row = rolodex_contact::ActiveModel {
                owner_uri: Set(owner.to_owned()),
                contact_uri: Set(contact.uri.clone()),
                provider: Set(contact.provider.clone()),
                name: Set(contact.name.clone()),
                profile: Set(contact.profile.clone()),
                avatar: Set(contact.avatar.clone()),
                removed: Set(false),
                version: Set(to_db_time(version)),
            };
            rolodex_contact::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        rolodex_contact::Column::OwnerUri,
                        rolodex_contact::Column::ContactUri,
                    ])
                    .update_columns([
                        rolodex_contact::Column::Provider,
                        rolodex_contact::Column::Name,
                        rolodex_contact::Column::Profile,
                        rolodex_contact::Column::Avatar,
                        rolodex_contact::Column::Removed,
                        rolodex_contact::Column::Version,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        if !removals.is_empty() {
            rolodex_contact::Entity::update_many()
                .col_expr(rolodex_contact::Column::Removed, Expr::value(true))
                .col_expr(
                    rolodex_contact::Column::Version,
                    Expr::value(to_db_time(version)),
                )
                .filter(rolodex_contact::Column::OwnerUri.eq(owner))
                .filter(
                    rolodex_contact::Column::ContactUri.is_in(removals.iter().map(String::as_str)),
                )
                .filter(rolodex_contact::Column::Removed.eq(false))
                .exec(&txn)
                .await?;
        }
        let live = rolodex_contact::Entity::find()
            .filter(rolodex_contact::Column::OwnerUri.eq(owner))
            .filter(rolodex_contact::Column::Removed.eq(false))
            .count(&txn)
            .await?;
        if live > max as u64 {
            txn.rollback().await?;
            return Ok(ContactsWrite::TooMany);
        }
        txn.commit().await?;
        Ok(ContactsWrite::Written(version))
    }
}
