//! The key ring's rows (`domain_keys`).

use openpeer_protocol::signature::SignatureSuite;
use sea_orm::{ActiveModelTrait as _, EntityTrait as _, QueryOrder as _, Set};
use zeroize::Zeroizing;

use super::entity::domain_key;
use super::{Store, StoreError, corrupt, from_db_time, to_db_time};
use crate::keys::{KeyRepo, ServiceType, StoredKey};

#[async_trait::async_trait]
impl KeyRepo for Store {
    async fn load_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        domain_key::Entity::find()
            .order_by_asc(domain_key::Column::Generation)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                Ok(StoredKey {
                    service: ServiceType::parse(&row.service).ok_or_else(|| {
                        corrupt("domain_keys", format_args!("service {:?}", row.service))
                    })?,
                    id: row.id,
                    generation: u64::try_from(row.generation).unwrap_or(0),
                    private_pkcs8: Zeroizing::new(row.private_key),
                    created: from_db_time(row.created),
                    expires: from_db_time(row.expires),
                })
            })
            .collect()
    }

    async fn insert_key(
        &self,
        key: &StoredKey,
        suite: SignatureSuite,
        public_spki: &[u8],
    ) -> Result<(), StoreError> {
        domain_key::ActiveModel {
            id: Set(key.id.clone()),
            service: Set(key.service.as_str().to_owned()),
            generation: Set(i64::try_from(key.generation).unwrap_or(i64::MAX)),
            suite: Set(suite.name().to_owned()),
            private_key: Set(key.private_pkcs8.to_vec()),
            public_key: Set(public_spki.to_vec()),
            created: Set(to_db_time(key.created)),
            expires: Set(to_db_time(key.expires)),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }
}
