//! The WebSocket endpoints: the finder (`/finder`) and the finder-to-finder link
//! (`/federation/link`). Both are an HTTP upgrade (RFC 6455) handed to their own serving code.

use std::sync::Arc;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use tide::http::upgrade::Connection;

use super::State;
use crate::bridge::link_socket;
use crate::finder::socket::{Side, serve};

/// `GET /finder`: a peer's finder connection.
pub async fn finder(req: tide::Request<State>) -> tide::Result {
    upgrade(req, |gateway, ws| serve(gateway, ws, Side::Peer)).await
}

/// `GET /federation/link`: another domain's finder, which must greet first.
pub async fn link(req: tide::Request<State>) -> tide::Result {
    upgrade(req, link_socket::accept).await
}

/// Answers the upgrade request (426 when it is not one) and runs `serve` on the WebSocket once
/// the connection has switched.
async fn upgrade<F, Fut>(req: tide::Request<State>, serve: F) -> tide::Result
where
    F: FnOnce(State, WebSocketStream<Connection>) -> Fut,
    F: Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let wants_upgrade = req
        .header("upgrade")
        .is_some_and(|v| v.as_str().eq_ignore_ascii_case("websocket"));
    let Some(key) = req
        .header("sec-websocket-key")
        .map(|v| v.as_str().to_owned())
    else {
        return Ok(tide::Response::new(426));
    };
    if !wants_upgrade {
        return Ok(tide::Response::new(426));
    }
    let gateway = Arc::clone(req.state());
    let mut response = tide::Response::new(tide::StatusCode::SwitchingProtocols);
    response.insert_header("upgrade", "websocket");
    response.insert_header("connection", "Upgrade");
    response.insert_header("sec-websocket-accept", derive_accept_key(key.as_bytes()));
    let http_response: &mut tide::http::Response = response.as_mut();
    let upgrade = http_response.recv_upgrade().await;
    async_std::task::spawn(async move {
        if let Some(connection) = upgrade.await {
            let max = gateway.services.settings().limits.max_body_bytes;
            // Small buffers: a finder holds many idle connections (dependencies.md).
            let config = WebSocketConfig::default()
                .read_buffer_size(8 * 1024)
                .write_buffer_size(0)
                .max_message_size(Some(max))
                .max_frame_size(Some(max));
            let ws = WebSocketStream::from_raw_socket(connection, Role::Server, Some(config)).await;
            serve(gateway, ws).await;
        }
    });
    Ok(response)
}
