//! Salts handed out by `signed-salt-get` (`issued_salts`).

use sea_orm::{EntityTrait as _, Set, TransactionTrait as _};

use super::entity::issued_salt;
use super::{Store, StoreError, from_db_time, to_db_time};
use crate::services::salt::{IssuedSalt, SaltRepo};

#[async_trait::async_trait]
impl SaltRepo for Store {
    async fn record_salts(&self, salts: &[IssuedSalt]) -> Result<(), StoreError> {
        let rows = salts.iter().map(|s| issued_salt::ActiveModel {
            id: Set(s.id.clone()),
            salt: Set(s.salt.clone()),
            certificate_id: Set(s.certificate_id.clone()),
            issued: Set(to_db_time(s.issued)),
        });
        let txn = self.db.begin().await?;
        issued_salt::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn find_salt(&self, id: &str) -> Result<Option<IssuedSalt>, StoreError> {
        Ok(issued_salt::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(|row| IssuedSalt {
                id: row.id,
                salt: row.salt,
                certificate_id: row.certificate_id,
                issued: from_db_time(row.issued),
            }))
    }
}
