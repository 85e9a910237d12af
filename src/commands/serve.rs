//! `openpeer-gateway serve`, `migrate` and `keys list|rotate`: the commands that use the
//! configuration and the database.

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::json::{Object, Value};

use openpeer_federation::clock::unix_now;

use super::CommandError;
use crate::app;
use crate::config::Settings;
use crate::keys::{KeyRing, ServiceType};
use crate::net;
use crate::store::Store;

/// Serves until Ctrl-C or SIGTERM, then shuts down cleanly.
pub async fn serve(settings: Settings) -> Result<String, CommandError> {
    let running = app::start(settings)
        .await
        .map_err(|e| CommandError(e.to_string()))?;
    net::shutdown_signal()
        .await
        .map_err(|e| CommandError(format!("cannot wait for signals: {e}")))?;
    tracing::info!("shutting down");
    running
        .shutdown()
        .await
        .map_err(|e| CommandError(e.to_string()))?;
    Ok(String::new())
}

async fn open(settings: &Settings) -> Result<Store, CommandError> {
    let store = Store::connect(&settings.database)
        .await
        .map_err(|e| CommandError(e.to_string()))?;
    store
        .migrate()
        .await
        .map_err(|e| CommandError(e.to_string()))?;
    Ok(store)
}

async fn close(store: Store) -> Result<(), CommandError> {
    store.close().await.map_err(|e| CommandError(e.to_string()))
}

/// Applies pending migrations.
pub async fn migrate(settings: Settings) -> Result<String, CommandError> {
    let store = open(&settings).await?;
    close(store).await?;
    Ok("database is up to date\n".to_owned())
}

/// Lists the domain keys as JSON lines: id, service, suite, created, expires, state.
pub async fn keys_list(settings: Settings) -> Result<String, CommandError> {
    let store = open(&settings).await?;
    let ring = KeyRing::load(&store)
        .await
        .map_err(|e| CommandError(e.to_string()))?;
    let now = unix_now();
    let mut out = String::new();
    for key in ring.all() {
        let state = if ring
            .active(key.service(), now)
            .is_some_and(|a| a.certificate.id == key.certificate.id)
        {
            "active"
        } else if key.certificate.expires > now {
            "published"
        } else {
            "expired"
        };
        let line = Object::new()
            .with("id", key.certificate.id.as_str())
            .with("service", key.certificate.service.as_str())
            .with("suite", key.key.suite().name())
            .with("created", key.created)
            .with("expires", key.certificate.expires)
            .with("state", state);
        out.push_str(&render_object(&line));
        out.push('\n');
    }
    close(store).await?;
    Ok(out)
}

/// Adds a new key for one service (or all); the old keys stay published until they expire.
pub async fn keys_rotate(
    settings: Settings,
    service: Option<&str>,
) -> Result<String, CommandError> {
    let services = match service {
        Some(name) => vec![ServiceType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = ServiceType::ALL.iter().map(|s| s.as_str()).collect();
            CommandError(format!(
                "--service: {name:?} is not one of {}",
                known.join(", ")
            ))
        })?],
        None => ServiceType::ALL.to_vec(),
    };
    let store = open(&settings).await?;
    let mut ring = KeyRing::load(&store)
        .await
        .map_err(|e| CommandError(e.to_string()))?;
    let now = unix_now();
    let mut added = Vec::new();
    for service in services {
        let key = ring
            .add(&store, service, &settings.signing, now)
            .await
            .map_err(|e| CommandError(e.to_string()))?;
        added.push(Value::Object(
            Object::new()
                .with("id", key.certificate.id.as_str())
                .with("service", service.as_str())
                .with("expires", key.certificate.expires),
        ));
    }
    close(store).await?;
    Ok(format!(
        "{}\n",
        render_object(&Object::new().with("added", Value::Array(added)))
    ))
}

/// Creates a local account; the password comes from `password` (read from standard input or
/// `OPENPEER_ACCOUNT_PASSWORD` by the caller).
pub async fn accounts_add(
    settings: Settings,
    username: &str,
    password: &str,
) -> Result<String, CommandError> {
    let store = open(&settings).await?;
    let uri = crate::identity::local::create_account(
        &store,
        settings.domain.as_str(),
        username,
        password,
        unix_now(),
    )
    .await
    .map_err(|e| CommandError(format!("cannot create the account: {}", e.wire().1)))?;
    close(store).await?;
    Ok(format!(
        "{}\n",
        render_object(&Object::new().with("identity", uri))
    ))
}
