//! The identity service over HTTPS for clients without a browser, and the inner-frame page for
//! those with one (spec §6.5). Requests are small JSON objects; answers are the
//! `identity-access-complete` notify document, or the C14 error form.
//!
//! * `GET  /identity/v1/providers` — the login methods this domain offers.
//! * `POST /identity/v1/local/login` `{"username","password"}`
//! * `POST /identity/v1/local/signup` `{"username","password"}` (when `identity.local.signup`)
//! * `POST /identity/v1/relogin` `{"reloginKey"}`
//! * `POST /identity/v1/login/start` `{"provider"}` → `{"authorizationUrl","state"}`; `GET` with
//!   `?provider=` redirects the browser there instead.
//! * `GET  /identity/v1/callback/<provider>?code=…&state=…` — where the provider sends the user
//!   back: the completion document (JSON), or for a browser a page that hands it to the inner
//!   frame that opened the login.
//! * `GET  /identity/v1/inner-frame` — the `identity-access-inner-frame` page.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::message::{self, Envelope, ErrorResult, Message, MessageKind, Method};

use super::State;
use crate::error::Error;
use crate::identity::access::Completion;
use crate::identity::{login, providers};
use crate::services::rolodex as contacts;
use openpeer_federation::clock::unix_now;

/// The page served as `identity-access-inner-frame`.
const INNER_FRAME: &str = include_str!("inner_frame.html");

pub(super) fn json(document: String) -> tide::Response {
    let mut response = tide::Response::new(200);
    response.set_content_type(tide::http::mime::JSON);
    response.set_body(document);
    response
}

/// The C14 error form, as a result of `identity-access-complete`.
fn refusal(state: &State, error: &Error) -> tide::Response {
    refusal_of(state, Method::IdentityAccessComplete, error)
}

/// The C14 error form, as a result of `method`.
pub(super) fn refusal_of(state: &State, method: Method, error: &Error) -> tide::Response {
    let (code, reason) = error.wire();
    if code == ResultCode::InternalError {
        tracing::error!(error = %error, "identity request failed");
    }
    let envelope = Envelope {
        domain: Some(state.services.settings().domain.to_string()),
        timestamp: Some(unix_now()),
        ..Envelope::new(MessageKind::Result, method)
    };
    let body = Object::new().with(
        "error",
        ErrorResult {
            code: code.code(),
            reason: reason.to_owned(),
            location: None,
        }
        .to_object(),
    );
    json(message::encode(&Message::new(envelope, body)))
}

/// Reads a small JSON object body.
pub(super) async fn body_object(req: &mut tide::Request<State>) -> Result<Object, Error> {
    let max = req.state().services.settings().limits.max_body_bytes;
    if req.len().is_some_and(|len| len > max) {
        return Err(Error::refused(
            ResultCode::PayloadTooLarge,
            "body too large",
        ));
    }
    let text = req
        .body_string()
        .await
        .map_err(|_| Error::refused(ResultCode::BadRequest, "body is not UTF-8"))?;
    if text.len() > max {
        return Err(Error::refused(
            ResultCode::PayloadTooLarge,
            "body too large",
        ));
    }
    parse(&text).map_err(|e| Error::Protocol(e.into()))
}

fn field<'a>(body: &'a Object, name: &'static str) -> Result<&'a str, Error> {
    body.get_str(name)
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "a required field is missing"))
}

async fn answer(state: &State, outcome: Result<Completion, Error>) -> tide::Result {
    Ok(match outcome {
        Ok(completion) => {
            let settings = state.services.settings();
            json(message::encode(&login::completion_document(
                settings,
                &completion,
            )))
        }
        Err(e) => refusal(state, &e),
    })
}

/// Reads the JSON body, runs `login` on it and answers with the completion or the refusal.
async fn login_with<F, Fut>(mut req: tide::Request<State>, login: F) -> tide::Result
where
    F: FnOnce(State, String, Object) -> Fut,
    Fut: std::future::Future<Output = Result<Completion, Error>>,
{
    let state = req.state().clone();
    let address = req
        .peer_addr()
        .and_then(|a| a.rsplit_once(':').map(|(ip, _)| ip.to_owned()))
        .unwrap_or_default();
    let outcome = match body_object(&mut req).await {
        Ok(body) => login(state.clone(), address, body).await,
        Err(e) => Err(e),
    };
    answer(&state, outcome).await
}

/// `POST /identity/v1/local/login`.
pub async fn local_login(req: tide::Request<State>) -> tide::Result {
    login_with(req, |state, address, body| async move {
        let services = &state.services;
        login::local_login(
            services.store().as_ref(),
            services.settings(),
            &state.login_failures,
            &address,
            field(&body, "username")?,
            field(&body, "password")?,
            unix_now(),
        )
        .await
    })
    .await
}

/// `POST /identity/v1/local/signup`.
pub async fn local_signup(req: tide::Request<State>) -> tide::Result {
    login_with(req, |state, _, body| async move {
        let services = &state.services;
        let (username, password) = (field(&body, "username")?, field(&body, "password")?);
        login::local_signup(
            services.store().as_ref(),
            services.settings(),
            username,
            password,
            unix_now(),
        )
        .await
    })
    .await
}

/// `POST /identity/v1/local/contacts` `{"username","password","set":{"contact":[{"uri",
/// "provider","name","profile","avatar"}]},"remove":{"uri":[…]}}`: edits the account's
/// rolodex contacts (README "Rolodex"); answers `{"version":N}`.
pub async fn local_contacts(mut req: tide::Request<State>) -> tide::Result {
    let state = req.state().clone();
    let address = req
        .peer_addr()
        .and_then(|a| a.rsplit_once(':').map(|(ip, _)| ip.to_owned()))
        .unwrap_or_default();
    let outcome = async {
        let body = body_object(&mut req).await?;
        let services = &state.services;
        let owner = login::check_local_password(
            services.store().as_ref(),
            services.settings(),
            &state.login_failures,
            &address,
            field(&body, "username")?,
            field(&body, "password")?,
            unix_now(),
        )
        .await?;
        contacts::change(services, &owner, &body).await
    }
    .await;
    Ok(match outcome {
        Ok(version) => json(openpeer_protocol::canonical::render_object(
            &Object::new().with("version", version),
        )),
        Err(e) => refusal(&state, &e),
    })
}

/// `POST /identity/v1/relogin`.
pub async fn relogin(req: tide::Request<State>) -> tide::Result {
    login_with(req, |state, _, body| async move {
        let services = &state.services;
        login::relogin(
            services.store().as_ref(),
            services.settings(),
            field(&body, "reloginKey")?,
            unix_now(),
        )
        .await
    })
    .await
}

/// `POST /identity/v1/login/start`.
pub async fn login_start(mut req: tide::Request<State>) -> tide::Result {
    let state = req.state().clone();
    let outcome = async {
        let body = body_object(&mut req).await?;
        start(&state, field(&body, "provider")?).await
    }
    .await;
    Ok(match outcome {
        Ok((url, login_state)) => {
            let body = Object::new()
                .with("authorizationUrl", url)
                .with("state", login_state);
            json(openpeer_protocol::canonical::render_object(&body))
        }
        Err(e) => refusal(&state, &e),
    })
}

/// `GET /identity/v1/login/start?provider=…`: redirects the browser to the provider.
pub async fn login_start_redirect(req: tide::Request<State>) -> tide::Result {
    let state = req.state().clone();
    let provider = query(&req, "provider").unwrap_or_default();
    Ok(match start(&state, &provider).await {
        Ok((url, _)) => tide::Redirect::see_other(url).into(),
        Err(e) => refusal(&state, &e),
    })
}

async fn start(state: &State, provider: &str) -> Result<(String, String), Error> {
    let services = &state.services;
    providers::start(
        services.store().as_ref(),
        services.settings(),
        &state.providers,
        provider,
        unix_now(),
    )
    .await
}

fn query(req: &tide::Request<State>, name: &str) -> Option<String> {
    req.url()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /identity/v1/callback/<provider>`.
pub async fn callback(req: tide::Request<State>) -> tide::Result {
    let state = req.state().clone();
    let provider = req.param("provider").unwrap_or_default().to_owned();
    let outcome = async {
        let code = query(&req, "code")
            .ok_or_else(|| Error::refused(ResultCode::BadRequest, "code missing"))?;
        let login_state = query(&req, "state")
            .ok_or_else(|| Error::refused(ResultCode::BadRequest, "state missing"))?;
        let services = &state.services;
        providers::callback(
            services.store().as_ref(),
            services.settings(),
            &state.providers,
            &provider,
            &code,
            &login_state,
            unix_now(),
        )
        .await
    }
    .await;
    let mut response = answer(&state, outcome).await?;
    let wants_html = req
        .header("accept")
        .is_some_and(|a| a.as_str().contains("text/html"));
    if wants_html {
        let document = response.take_body().into_string().await?;
        response = browser_handoff(&document);
    }
    Ok(response)
}

/// The page a browser lands on after the provider: it hands the completion to the inner frame
/// that opened this login window (same origin only) and closes.
fn browser_handoff(document: &str) -> tide::Response {
    // The document is JSON, which is a valid JavaScript expression; `<` is escaped so it cannot
    // close the script element.
    let data = document.replace('<', "\\u003c");
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Signed in</title><p>You can close this window.</p>\
         <script>\"use strict\";const doc={data};\
         if(window.opener){{window.opener.postMessage(JSON.stringify(doc),location.origin);window.close();}}</script>"
    );
    let mut response = tide::Response::new(200);
    response.set_content_type(tide::http::mime::HTML);
    response.set_body(page);
    response
}

/// `GET /identity/v1/providers`: `{"providers":{"provider":[{"name","kind","domain"}]}}`.
pub async fn providers(req: tide::Request<State>) -> tide::Result {
    let settings = req.state().services.settings();
    let mut list = Vec::new();
    if settings.identity.local.enabled {
        list.push(Value::Object(
            Object::new()
                .with("name", "local")
                .with("kind", "local")
                .with("domain", settings.domain.as_str())
                .with("signup", settings.identity.local.signup),
        ));
    }
    for provider in &settings.identity.providers {
        list.push(Value::Object(
            Object::new()
                .with("name", provider.name.as_str())
                .with("kind", provider.kind.as_str())
                .with("domain", provider.identity_domain()),
        ));
    }
    let body = Object::new().with(
        "providers",
        Object::new().with("provider", Value::Array(list)),
    );
    Ok(json(openpeer_protocol::canonical::render_object(&body)))
}

/// `GET /identity/v1/inner-frame`: the page, with this domain as the `$domain` of its messages.
pub async fn inner_frame(req: tide::Request<State>) -> tide::Result {
    let domain = req.state().services.settings().domain.to_string();
    let mut response = tide::Response::new(200);
    response.set_content_type(tide::http::mime::HTML);
    response.insert_header(
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline'; frame-ancestors *",
    );
    response.set_body(INNER_FRAME.replace("__OPENPEER_DOMAIN__", &domain));
    Ok(response)
}
