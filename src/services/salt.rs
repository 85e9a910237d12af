//! `peer-salt/signed-salt-get` (spec §6.4): fresh random salts signed by the domain's salt key,
//! each recorded before the answer leaves.

use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::salt::sign_salt;
use rand_core::OsRng;

use super::certificates::Published;
use crate::config::Settings;
use crate::error::Error;
use crate::keys::ServiceType;
use crate::store::StoreError;

/// A salt as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedSalt {
    /// The salt `$id`.
    pub id: String,
    /// The base64 salt.
    pub salt: String,
    /// The certificate whose key signed it.
    pub certificate_id: String,
    /// Unix time it was issued.
    pub issued: u64,
}

/// Storage of issued salts.
#[async_trait::async_trait]
pub trait SaltRepo: Send + Sync {
    /// Records salts, all or none.
    async fn record_salts(&self, salts: &[IssuedSalt]) -> Result<(), StoreError>;
    /// A recorded salt.
    async fn find_salt(&self, id: &str) -> Result<Option<IssuedSalt>, StoreError>;
}

/// Signs `salts` salts (default 1, at most `limits.max_salts_per_request`), records them and
/// returns `{"salts":{"saltBundle":…}}`.
pub async fn signed_salt_get(
    repo: &dyn SaltRepo,
    settings: &Settings,
    published: &Published,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let count = super::requested_count(body, "salts", settings.limits.max_salts_per_request)?;
    let signer = published.signer(ServiceType::Salt, now)?;
    let mut bundles = Vec::new();
    let mut issued = Vec::new();
    for _ in 0..count {
        let bundle = sign_salt(
            &settings.domain,
            &signer.key,
            &signer.certificate,
            &mut OsRng,
        );
        let salt = bundle.get_object("salt");
        issued.push(IssuedSalt {
            id: salt
                .and_then(|s| s.get_str("$id"))
                .unwrap_or_default()
                .to_owned(),
            salt: salt
                .and_then(|s| s.get_str("#text"))
                .unwrap_or_default()
                .to_owned(),
            certificate_id: signer.certificate.id.clone(),
            issued: now,
        });
        bundles.push(Value::Object(bundle));
    }
    repo.record_salts(&issued).await?;
    Ok(Object::new().with(
        "salts",
        Object::new().with("saltBundle", Value::from_list(bundles)),
    ))
}
