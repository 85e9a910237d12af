//! The rolodex (spec §6.9): an identity's contacts, for its own proven login. The identity
//! service hands out a `serverToken` (`identity-access-rolodex-credentials-get`); the rolodex
//! exchanges it and an identity proof for an access token (`rolodex-access`), then answers
//! `rolodex-contacts-get` with what changed since the client's `version`. The rolodex namespace
//! is the client's own contacts, so no namespace grant is asked (README "Rolodex").

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::proof::{Purpose, rolodex_access_proof};

use super::Services;
use super::identity_proof::{self, ProvenIdentity, identity_element};
use crate::error::Error;
use crate::identity::access::{NonceUse, hash, request_nonce};
use crate::lockbox::repo::{LockboxRepo as _, TokenService};
use crate::lockbox::tokens::{self, ServiceProof, TokenOwner};
use crate::rolodex::{ContactRecord, ContactsWrite, RolodexRepo as _};

fn rolodex_element(body: &Object) -> Result<&Object, Error> {
    body.get_object("rolodex")
        .ok_or_else(|| Error::refused(ResultCode::BadRequest, "rolodex element missing"))
}

/// `identity-access-rolodex-credentials-get` (purpose `rolodex-credentials-get`): a
/// `serverToken` for the identity's rolodex.
pub async fn identity_access_rolodex_credentials_get(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let nonce = request_nonce(body)?;
    let proven = identity_proof::prove(
        services,
        identity_element(body)?,
        nonce,
        Purpose::RolodexCredentialsGet,
        now,
        NonceUse::Record,
    )
    .await?;
    let token = tokens::issue(
        &**services.store(),
        TokenService::RolodexServer,
        TokenOwner {
            subject: &proven.uri,
            provider: &proven.provider,
            grant_hash: "",
        },
        now,
        services.settings().rolodex.server_token_lifetime_seconds,
    )
    .await?;
    Ok(Object::new().with(
        "rolodex",
        Object::new().with("serverToken", token.token.as_str()),
    ))
}

/// The identity a `serverToken` was issued to; 424 when it is unknown or expired (the client
/// gets a new one from the identity service, spec §6.9).
async fn server_token_subject(
    services: &Services,
    rolodex: &Object,
    now: u64,
) -> Result<String, Error> {
    let stale = || {
        Error::refused(
            ResultCode::FailedDependency,
            "serverToken unknown or expired; get a new one from the identity service",
        )
    };
    let token = rolodex
        .get_str("serverToken")
        .filter(|t| !t.is_empty())
        .ok_or_else(stale)?;
    let record = services
        .store()
        .service_token(&hash(token))
        .await?
        .filter(|r| r.service == TokenService::RolodexServer && r.expires > now)
        .ok_or_else(stale)?;
    Ok(record.subject)
}

/// `rolodex-access`: an identity proof (purpose `rolodex-access`, or `lockbox-access` as C14
/// sends) and that identity's `serverToken` give a rolodex access token.
pub async fn rolodex_access(services: &Services, body: &Object, now: u64) -> Result<Object, Error> {
    let settings = services.settings();
    let nonce = request_nonce(body)?;
    let rolodex = rolodex_element(body)?;
    let identity = identity_element(body)?;
    let subject = server_token_subject(services, rolodex, now).await?;
    let proven = prove_either(services, identity, nonce, now).await?;
    if proven.uri != subject {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "the serverToken is another identity's",
        ));
    }
    let token = tokens::issue(
        &**services.store(),
        TokenService::Rolodex,
        TokenOwner {
            subject: &proven.uri,
            provider: &proven.provider,
            grant_hash: "",
        },
        now,
        settings.rolodex.access_lifetime_seconds,
    )
    .await?;
    Ok(Object::new().with(
        "rolodex",
        Object::new()
            .with("accessToken", token.token.as_str())
            .with("accessSecret", token.secret.as_str())
            .with("accessSecretExpires", token.expires)
            .with(
                "updateNext",
                now.saturating_add(settings.rolodex.update_next_seconds),
            ),
    ))
}

/// Proves `identity` for `rolodex-access`, accepting C14's `lockbox-access` purpose too.
async fn prove_either(
    services: &Services,
    identity: &Object,
    nonce: &str,
    now: u64,
) -> Result<ProvenIdentity, Error> {
    let first = identity_proof::prove(
        services,
        identity,
        nonce,
        Purpose::RolodexAccess,
        now,
        NonceUse::Record,
    )
    .await;
    match first {
        Err(Error::Refused {
            reason: "proof does not verify",
            ..
        }) => {
            identity_proof::prove(
                services,
                identity,
                nonce,
                Purpose::LockboxAccess,
                now,
                NonceUse::Record,
            )
            .await
        }
        other => other,
    }
}

/// `rolodex-contacts-get`: the contacts changed since `version` (all, without a version or with
/// `refresh`), the current `version` and `updateNext`.
pub async fn rolodex_contacts_get(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let settings = services.settings();
    let nonce = request_nonce(body)?;
    let rolodex = rolodex_element(body)?;
    let proof = ServiceProof::read(rolodex)?;
    let store = &**services.store();
    let token = tokens::validate(
        store,
        store,
        TokenService::Rolodex,
        rolodex_access_proof,
        &proof,
        nonce,
        &[Purpose::RolodexContactsGet],
        now,
    )
    .await?;
    if server_token_subject(services, rolodex, now).await? != token.subject {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "the serverToken is another identity's",
        ));
    }
    let since = match (rolodex.get_bool("refresh"), rolodex.get("version")) {
        (Some(true), _) | (_, None) => 0,
        (_, Some(v)) if v.as_text() == Some("") => 0,
        (_, Some(v)) => v
            .as_u64()
            .ok_or_else(|| Error::refused(ResultCode::BadRequest, "version must be a number"))?,
    };
    let (contacts, version) = store.contacts_since(&token.subject, since).await?;
    let list = contacts.iter().map(contact_element).collect();
    Ok(Object::new()
        .with(
            "rolodex",
            Object::new()
                .with(
                    "updateNext",
                    now.saturating_add(settings.rolodex.update_next_seconds),
                )
                .with("version", version.to_string()),
        )
        .with(
            "identities",
            Object::new().with("identity", Value::from_list(list)),
        ))
}

fn contact_element(contact: &ContactRecord) -> Value {
    let disposition = if contact.removed { "remove" } else { "update" };
    let mut element = Object::new()
        .with("$disposition", disposition)
        .with("uri", contact.uri.as_str())
        .with("provider", contact.provider.as_str());
    if let Some(name) = &contact.name {
        element.insert("name", name.as_str());
    }
    if let Some(profile) = &contact.profile {
        element.insert("profile", profile.as_str());
    }
    if let Some(avatar) = &contact.avatar {
        element.insert(
            "avatars",
            Object::new().with("avatar", Object::new().with("url", avatar.as_str())),
        );
    }
    Value::Object(element)
}

/// Longest text kept of a contact field.
const MAX_FIELD: usize = 1024;

/// Applies a local account's contact edits (`set.contact[]`, `remove.uri[]`); the new version.
pub async fn change(services: &Services, owner: &str, body: &Object) -> Result<u64, Error> {
    let bad = |reason| Error::refused(ResultCode::BadRequest, reason);
    let text = |contact: &Object, name: &str| -> Result<Option<String>, Error> {
        match contact.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_text()
                .filter(|t| t.len() <= MAX_FIELD)
                .map(|t| Some(t.to_owned()))
                .ok_or_else(|| bad("contact fields must be short strings")),
        }
    };
    let mut upserts = Vec::new();
    for contact in body
        .get_object("set")
        .map(|s| s.get_list("contact"))
        .unwrap_or_default()
    {
        let contact = contact
            .as_object()
            .ok_or_else(|| bad("malformed contact"))?;
        let uri = text(contact, "uri")?
            .filter(|u| openpeer_protocol::uri::IdentityUri::parse(u).is_ok())
            .ok_or_else(|| bad("a contact needs an identity uri"))?;
        upserts.push(ContactRecord {
            provider: text(contact, "provider")?.unwrap_or_default(),
            name: text(contact, "name")?,
            profile: text(contact, "profile")?,
            avatar: text(contact, "avatar")?,
            removed: false,
            version: 0,
            uri,
        });
    }
    let removals: Vec<String> = body
        .get_object("remove")
        .map(|r| r.get_list("uri"))
        .unwrap_or_default()
        .iter()
        .map(|u| {
            u.as_text()
                .map(str::to_owned)
                .ok_or_else(|| bad("malformed uri"))
        })
        .collect::<Result<_, _>>()?;
    let max = services.settings().rolodex.max_contacts;
    match services
        .store()
        .change_contacts(owner, &upserts, &removals, max)
        .await?
    {
        ContactsWrite::Written(version) => Ok(version),
        ContactsWrite::TooMany => Err(Error::refused(
            ResultCode::Conflict,
            "more contacts than rolodex.max_contacts",
        )),
    }
}
