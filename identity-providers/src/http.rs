//! Outbound HTTP of the connectors: the workspace's one client
//! ([`openpeer_federation::http::HttpClient`], surf on rustls, no redirects followed, a timeout
//! and a body cap per request), plus the adapter through which `openidconnect` and `oauth2` call
//! it ([`OAuthHttp`], their `AsyncHttpClient` interface).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

pub use openpeer_federation::http::{HttpClient, HttpError, describe, secure_url};

use crate::ProviderError;

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        ProviderError::Http(e.0)
    }
}

/// [`HttpClient`] as `openidconnect` and `oauth2` call it (the trait is theirs and the client
/// another crate's, so a wrapper carries the implementation; a clone shares the client).
#[derive(Clone, Debug)]
pub(crate) struct OAuthHttp(pub(crate) HttpClient);

impl<'c> openidconnect::AsyncHttpClient<'c> for OAuthHttp {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        let client = &self.0;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bad = |what: &str| HttpError(format!("cannot build request: {what}"));
            let method: surf::http::Method =
                parts.method.as_str().parse().map_err(|_| bad("method"))?;
            let url = surf::Url::parse(&parts.uri.to_string()).map_err(|_| bad("URL"))?;
            let mut req = surf::Request::new(method, url);
            if !body.is_empty() {
                req.set_body(body);
            }
            // Headers after the body: `set_body` sets a default Content-Type that the caller's
            // header must replace.
            let mut seen = HashSet::new();
            for (name, value) in parts.headers.iter() {
                let value = value.to_str().map_err(|_| bad("header value"))?;
                if seen.insert(name.as_str()) {
                    req.insert_header(name.as_str(), value);
                } else {
                    req.append_header(name.as_str(), value);
                }
            }
            let fetched = client.execute(req).await?;
            let mut builder = openidconnect::http::Response::builder().status(fetched.status);
            for (name, value) in &fetched.headers {
                // A header the `http` crate cannot represent is dropped rather than failing the
                // whole answer; none of the ones OAuth relies on can be malformed this way.
                if let (Ok(name), Ok(value)) = (
                    openidconnect::http::HeaderName::from_bytes(name.as_bytes()),
                    openidconnect::http::HeaderValue::from_str(value),
                ) {
                    builder = builder.header(name, value);
                }
            }
            builder
                .body(fetched.body)
                .map_err(|e| HttpError(format!("unusable answer: {e}")))
        })
    }
}
