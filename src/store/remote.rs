//! Remote domains' certificates (`remote_certificates`), for the federation's trust cache.

use openpeer_federation::trust::{CachedCertificates, CertificateCache};
use openpeer_protocol::uri::DomainName;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait as _, Set};

use super::entity::remote_certificates;
use super::{Store, from_db_time, to_db_time};

#[async_trait::async_trait]
impl CertificateCache for Store {
    async fn load_certificates(
        &self,
        domain: &DomainName,
    ) -> Result<Option<CachedCertificates>, String> {
        let row = remote_certificates::Entity::find_by_id(domain.as_str())
            .one(&self.db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.map(|row| CachedCertificates {
            domain: domain.clone(),
            document: row.document,
            fetched: from_db_time(row.fetched),
            expires: from_db_time(row.expires),
        }))
    }

    async fn save_certificates(&self, cached: &CachedCertificates) -> Result<(), String> {
        let row = remote_certificates::ActiveModel {
            domain: Set(cached.domain.to_string()),
            document: Set(cached.document.clone()),
            fetched: Set(to_db_time(cached.fetched)),
            expires: Set(to_db_time(cached.expires)),
        };
        let replace = OnConflict::column(remote_certificates::Column::Domain)
            .update_columns([
                remote_certificates::Column::Document,
                remote_certificates::Column::Fetched,
                remote_certificates::Column::Expires,
            ])
            .to_owned();
        remote_certificates::Entity::insert(row)
            .on_conflict(replace)
            .exec(&self.db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
