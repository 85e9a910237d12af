//! `peer/peer-services-get` (spec §6.10): the STUN and TURN servers a logged-in peer may use,
//! with TURN REST-API credentials (username `expiry:lockbox-account`, password
//! base64(HMAC-SHA1(shared secret, username))) that the TURN server checks by itself.

use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::proof::Purpose;
use openpeer_protocol::turn::{turn_rest_password, turn_rest_username};

use super::Services;
use super::lockbox::lockbox_token;
use crate::error::Error;

/// `peer-services-get`: proven with a lockbox access token; one `turn` service per configured
/// TURN server and one `stun` service per STUN URI.
pub async fn peer_services_get(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let token = lockbox_token(services, body, &[Purpose::PeerServicesGet], now).await?;
    let settings = &services.settings().peer_services;
    let expires = now.saturating_add(settings.credential_lifetime_seconds);
    let username = turn_rest_username(expires, &token.subject);
    let turn = settings.turn.iter().enumerate().map(|(i, server)| {
        let method = Object::new()
            .with("name", "turn")
            .with("uri", server.uri.as_str())
            .with("username", username.as_str())
            .with("password", turn_rest_password(&server.secret, &username));
        service(
            &format!("turn-{}", i + 1),
            "turn",
            "RFC5766",
            Some(expires),
            method,
        )
    });
    let stun = settings.stun.iter().enumerate().map(|(i, uri)| {
        let method = Object::new().with("name", "stun").with("uri", uri.as_str());
        service(&format!("stun-{}", i + 1), "stun", "RFC5389", None, method)
    });
    let list: Vec<Value> = turn.chain(stun).collect();
    Ok(Object::new().with(
        "services",
        Object::new().with("service", Value::from_list(list)),
    ))
}

fn service(id: &str, kind: &str, version: &str, expires: Option<u64>, method: Object) -> Value {
    let mut service = Object::new()
        .with("$id", id)
        .with("type", kind)
        .with("version", version);
    if let Some(expires) = expires {
        service.insert("expires", expires);
    }
    Value::Object(service.with("methods", Object::new().with("method", method)))
}
