//! `bootstrapper/services-get` (spec §6.1): the services this node serves and their method URIs,
//! or a 302 to the domain's real bootstrapper.

use openpeer_protocol::error::ResultCode;
use std::sync::Arc;

use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{Method, RenderedBody};

use crate::config::Settings;
use crate::error::Error;

pub use openpeer_protocol::bootstrapper::WELL_KNOWN_PATH;

/// Path prefix of every other method URI: `/openpeer/<service type>/<method>`.
pub const METHOD_PATH_PREFIX: &str = "/openpeer";

/// (service type, methods) served by this node, in `services-get` order.
const SERVED: [(&str, &[Method]); 10] = [
    ("bootstrapper", &[Method::ServicesGet]),
    ("certificates", &[Method::CertificatesGet]),
    ("bootstrapped-finders", &[Method::FindersGet]),
    ("salt", &[Method::SignedSaltGet]),
    (
        "identity",
        &[
            Method::IdentityAccessValidate,
            Method::IdentityLookupUpdate,
            Method::IdentityAccessLockboxUpdate,
            Method::IdentityAccessRolodexCredentialsGet,
        ],
    ),
    (
        "identity-lookup",
        &[Method::IdentityLookupCheck, Method::IdentityLookup],
    ),
    (
        "identity-lockbox",
        &[
            Method::LockboxAccess,
            Method::LockboxAccessValidate,
            Method::LockboxIdentitiesUpdate,
            Method::LockboxContentGet,
            Method::LockboxContentSet,
            Method::LockboxNamespaceGrantChallengeValidate,
        ],
    ),
    ("namespace-grant", &[]),
    ("peer", &[Method::PeerServicesGet]),
    (
        "rolodex",
        &[Method::RolodexAccess, Method::RolodexContactsGet],
    ),
];

/// Pages served besides the POST methods: (service type, method name, path).
const PAGES: [(&str, &str, &str); 2] = [
    ("identity", "identity-access-inner-frame", INNER_FRAME_PATH),
    (
        "namespace-grant",
        "namespace-grant-inner-frame",
        NAMESPACE_GRANT_FRAME_PATH,
    ),
];

/// Path of the identity inner-frame page (spec §6.5).
pub const INNER_FRAME_PATH: &str = "/identity/v1/inner-frame";
/// Path of the namespace-grant inner-frame page (spec §6.8).
pub const NAMESPACE_GRANT_FRAME_PATH: &str = "/namespace-grant/v1/inner-frame";

/// The URI of a method of this node.
pub fn method_uri(settings: &Settings, service_type: &str, method: Method) -> String {
    match method {
        Method::ServicesGet => format!("{}{WELL_KNOWN_PATH}", settings.public_url),
        _ => format!(
            "{}{METHOD_PATH_PREFIX}/{service_type}/{}",
            settings.public_url,
            method.name()
        ),
    }
}

/// The `services` element, built once at start.
pub fn services_body(settings: &Settings) -> Object {
    let services = SERVED
        .iter()
        .map(|(service_type, methods)| {
            let mut methods: Vec<Value> = methods
                .iter()
                .map(|m| {
                    Value::Object(
                        Object::new()
                            .with("name", m.name())
                            .with("uri", method_uri(settings, service_type, *m)),
                    )
                })
                .collect();
            for (_, name, path) in PAGES.iter().filter(|(t, ..)| t == service_type) {
                methods.push(Value::Object(
                    Object::new()
                        .with("name", *name)
                        .with("uri", format!("{}{path}", settings.public_url)),
                ));
            }
            Value::Object(
                Object::new()
                    .with("$id", *service_type)
                    .with("type", *service_type)
                    .with("version", "1.0")
                    .with(
                        "methods",
                        Object::new().with("method", Value::from_list(methods)),
                    ),
            )
        })
        .collect();
    Object::new().with(
        "services",
        Object::new().with("service", Value::from_list(services)),
    )
}

/// Answers `services-get`: the list rendered at start, or a 302 when the bootstrapper lives
/// elsewhere.
pub fn services_get(
    settings: &Settings,
    body: &Arc<RenderedBody>,
) -> Result<Arc<RenderedBody>, Error> {
    match &settings.bootstrapper_redirect {
        Some(location) => Err(Error::Refused {
            code: ResultCode::Found,
            reason: ResultCode::Found.reason(),
            location: Some(location.clone()),
        }),
        None => Ok(Arc::clone(body)),
    }
}
