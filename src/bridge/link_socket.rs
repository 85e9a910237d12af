//! Inbound finder-to-finder links at `/federation/link` (architecture §4 "Federation" (4)): the
//! first message must be a `peer-finder/link-hello` request, within the request timeout, whose
//! greeting verifies under the sender domain's finder certificates, is addressed to this
//! domain, has not expired and carries an unseen nonce. Only then is the link served as a
//! finder connection of that domain ([`crate::finder::socket::serve`]); anything else is
//! answered with an error and the link closed.

use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt as _;
use openpeer_federation::clock::unix_now;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::link::LinkHello;
use openpeer_protocol::message::{self, Message, Method};
use openpeer_protocol::uri::DomainName;

use crate::envelope::{check_request, result_document, undecodable_document};
use crate::error::Error;
use crate::finder::socket::{Side, serve};
use crate::gateway::Gateway;
use crate::identity::repo::IdentityRepo as _;
use crate::services::Reply;

/// Serves one inbound link: the greeting, then the link itself.
pub async fn accept<S>(gateway: Arc<Gateway>, mut ws: WebSocketStream<S>)
where
    S: futures_util::AsyncRead + futures_util::AsyncWrite + Unpin + Send + 'static,
{
    let links = &gateway.services.bridge().links;
    let Some(_permit) = links.admit() else {
        tracing::warn!("finder link refused: too many links open");
        let _ = ws.close(None).await;
        return;
    };
    let limit = Duration::from_secs(
        gateway
            .services
            .settings()
            .federation
            .request_timeout_seconds,
    );
    let first = match async_std::future::timeout(limit, ws.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => text,
        _ => {
            tracing::debug!("finder link closed: no link-hello in time");
            let _ = ws.close(None).await;
            return;
        }
    };
    let now = unix_now();
    let (reply, greeted) = match message::decode(first.as_str()) {
        Ok(received) => match greet(&gateway, &received, now).await {
            Ok(domain) => {
                let welcome = Ok(Reply::Body(Object::new()));
                let reply = result_document(&received.envelope, welcome, Some(now)).0;
                (reply, Some(domain))
            }
            Err(e) => {
                tracing::warn!(error = %e, "finder link refused");
                (
                    result_document(&received.envelope, Err(e), Some(now)).0,
                    None,
                )
            }
        },
        Err(e) => (undecodable_document(e.result_code(), now), None),
    };
    if ws.send(WsMessage::text(reply)).await.is_err() {
        return;
    }
    match greeted {
        Some(domain) => {
            tracing::info!(%domain, "finder link accepted");
            serve(Arc::clone(&gateway), ws, Side::Link(domain.clone())).await;
            tracing::info!(%domain, "finder link closed");
        }
        None => {
            let _ = ws.close(None).await;
        }
    }
}

/// Checks the greeting; the domain it authenticates.
async fn greet(gateway: &Gateway, received: &Message, now: u64) -> Result<DomainName, Error> {
    let services = &gateway.services;
    let settings = services.settings();
    let method = check_request(settings, &received.envelope, &settings.domain, now)?;
    if method != Method::LinkHello {
        return Err(Error::refused(
            ResultCode::BadRequest,
            "a finder link starts with link-hello",
        ));
    }
    let claimed = LinkHello::claimed(&received.body)
        .map_err(|_| Error::refused(ResultCode::BadRequest, "link-hello is malformed"))?;
    if claimed.domain == settings.domain {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "a link from this domain to itself",
        ));
    }
    let bridge = services.bridge();
    let verified = bridge
        .remotes
        .verify_with(&claimed.domain, now, |certificates: &CertificateSet| {
            LinkHello::verify(
                &received.body,
                &certificates.of_service("finder"),
                &settings.domain,
                now,
            )
        })
        .await?;
    let hello = verified.map_err(|e| {
        tracing::warn!(domain = %claimed.domain, error = %e, "link-hello refused");
        match e {
            openpeer_protocol::link::LinkHelloError::Expired => {
                Error::refused(ResultCode::Unauthorized, "link-hello expired")
            }
            openpeer_protocol::link::LinkHelloError::Misaddressed => Error::refused(
                ResultCode::Forbidden,
                "link-hello is addressed to another domain",
            ),
            _ => Error::refused(ResultCode::Forbidden, "link-hello does not verify"),
        }
    })?;
    if !services
        .store()
        .use_nonce(&hello.nonce, hello.expires)
        .await?
    {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "link-hello nonce already used",
        ));
    }
    Ok(hello.domain)
}
