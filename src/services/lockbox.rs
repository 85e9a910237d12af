//! The lockbox, `identity-lockbox` (spec §6.7): a store of values each user's client encrypts
//! with a key the server never sees (it keeps the key's SHA-1 to recognise it), reached by
//! proving an identity login. The domain's well-known namespaces are open right after
//! `lockbox-access` (unless `lockbox.require_grant`); any other namespace needs a namespace grant.

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::lockbox::{
    NamespaceContent, WELL_KNOWN_NAMESPACES, namespace_contents, namespaces_element,
    requested_namespaces,
};
use openpeer_protocol::namespace_grant::{GrantChallenge, signer_domain};
use openpeer_protocol::proof::{Purpose, lockbox_access_proof};
use openpeer_protocol::random::random_string;
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;

use super::Services;
use super::certificates::OwnCertificates;
use super::identity_proof::{self, ProvenIdentity, identity_element};
use crate::error::Error;
use crate::identity::access::{NonceUse, hash, request_nonce};
use crate::lockbox::repo::LockboxRepo as _;
use crate::lockbox::repo::{
    AccountRecord, AttachedIdentity, ChallengeRecord, ContentLimits, ContentWrite,
    ServiceTokenRecord, TokenService,
};
use crate::lockbox::tokens::{self, ServiceProof, TokenOwner};

fn bad(reason: &'static str) -> Error {
    Error::refused(ResultCode::BadRequest, reason)
}

fn lockbox_element(body: &Object) -> Result<&Object, Error> {
    body.get_object("lockbox")
        .ok_or_else(|| bad("lockbox element missing"))
}

/// Checks the lockbox access proof of a request for `purposes`: the token's record.
pub(super) async fn lockbox_token(
    services: &Services,
    body: &Object,
    purposes: &[Purpose],
    now: u64,
) -> Result<ServiceTokenRecord, Error> {
    let nonce = request_nonce(body)?;
    let proof = ServiceProof::read(lockbox_element(body)?)?;
    let store = &**services.store();
    tokens::validate(
        store,
        store,
        TokenService::Lockbox,
        lockbox_access_proof,
        &proof,
        nonce,
        purposes,
        now,
    )
    .await
}

/// Whether `namespace` needs no grant.
fn open_namespace(services: &Services, namespace: &str) -> bool {
    !services.settings().lockbox.require_grant && WELL_KNOWN_NAMESPACES.contains(&namespace)
}

/// Refuses with 403 unless every namespace is open or granted to the token's grant id.
async fn check_granted(
    services: &Services,
    token: &ServiceTokenRecord,
    namespaces: impl Iterator<Item = &str>,
) -> Result<(), Error> {
    let granted = services
        .store()
        .granted(&token.subject, &token.grant_hash)
        .await?;
    for namespace in namespaces {
        if !open_namespace(services, namespace) && !granted.contains(namespace) {
            return Err(Error::refused(
                ResultCode::Forbidden,
                "namespace not granted",
            ));
        }
    }
    Ok(())
}

fn identities_element(identities: &[AttachedIdentity]) -> Object {
    let list = identities
        .iter()
        .map(|i| {
            let mut o = Object::new();
            if i.needs_update {
                o.insert("$disposition", "update");
            }
            Value::Object(
                o.with("uri", i.uri.as_str())
                    .with("provider", i.provider.as_str()),
            )
        })
        .collect();
    Object::new().with("identity", Value::from_list(list))
}

/// `lockbox-access`: proves an identity, finds (or creates, or resets) its account, and hands
/// out a lockbox access token; a namespace grant challenge when the client's grant id lacks a
/// namespace it asks for.
pub async fn lockbox_access(services: &Services, body: &Object, now: u64) -> Result<Object, Error> {
    let settings = services.settings();
    let nonce = request_nonce(body)?;
    let lockbox = lockbox_element(body)?;
    let key_hash = lockbox
        .get_str("hash")
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad("lockbox hash must be hex SHA-1"))?
        .to_ascii_lowercase();
    let reset = lockbox.get_bool("reset").unwrap_or(false);
    let namespaces = requested_namespaces(body).map_err(|e| Error::Protocol(e.into()))?;
    let grant_hash = body
        .get_object("grant")
        .and_then(|g| g.get_str("$id"))
        .filter(|id| !id.is_empty())
        .map(hash)
        .unwrap_or_default();
    let identity = identity_element(body)?;
    let proven = identity_proof::prove(
        services,
        identity,
        nonce,
        Purpose::LockboxAccess,
        now,
        NonceUse::Record,
    )
    .await?;
    let account_id = open_account(services, &proven, lockbox, &key_hash, reset, now).await?;
    let store = services.store();
    let granted = store.granted(&account_id, &grant_hash).await?;
    let missing: Vec<String> = namespaces
        .into_iter()
        .filter(|n| !open_namespace(services, n) && !granted.contains(n))
        .collect();
    let challenge = if missing.is_empty() {
        None
    } else {
        if grant_hash.is_empty() {
            return Err(bad("grant $id missing"));
        }
        Some(challenge_for(services, &account_id, &grant_hash, missing, now).await?)
    };
    let token = tokens::issue(
        &**store,
        TokenService::Lockbox,
        TokenOwner {
            subject: &account_id,
            provider: "",
            grant_hash: &grant_hash,
        },
        now,
        settings.lockbox.access_lifetime_seconds,
    )
    .await?;
    let identities = store.attached_identities(&account_id).await?;
    let mut result = Object::new().with(
        "lockbox",
        Object::new()
            .with("$id", account_id.as_str())
            .with("domain", settings.domain.as_str())
            .with("accessToken", token.token.as_str())
            .with("accessSecret", token.secret.as_str())
            .with("accessSecretExpires", token.expires),
    );
    if let Some(challenge) = challenge {
        result.insert("namespaceGrantChallenge", challenge.to_object());
    }
    Ok(result.with("identities", identities_element(&identities)))
}

/// The account of a proven identity: its own (after a reset if asked), the account named by
/// `lockbox.$id` when the key proves it, or a new one.
async fn open_account(
    services: &Services,
    proven: &ProvenIdentity,
    lockbox: &Object,
    key_hash: &str,
    reset: bool,
    now: u64,
) -> Result<String, Error> {
    let store = services.store();
    let attachment = AttachedIdentity {
        uri: proven.uri.clone(),
        provider: proven.provider.clone(),
        needs_update: false,
    };
    if let Some((account, attached)) = store.account_of_identity(&proven.uri).await? {
        if reset {
            store
                .reset_account(&account.account_id, key_hash, &proven.uri, now)
                .await?;
        } else if account.key_hash != key_hash {
            return Err(Error::refused(
                ResultCode::Forbidden,
                "the lockbox key does not match",
            ));
        } else if attached.needs_update {
            store
                .attach_identity(&account.account_id, &attachment, now)
                .await?;
        }
        return Ok(account.account_id);
    }
    // A further identity joins an account it names by proving the account's key.
    if let Some(id) = lockbox.get_str("$id").filter(|id| !id.is_empty())
        && let Some(account) = store.account(id).await?
        && !reset
    {
        if account.key_hash != key_hash {
            return Err(Error::refused(
                ResultCode::Forbidden,
                "the lockbox key does not match",
            ));
        }
        store.attach_identity(id, &attachment, now).await?;
        return Ok(account.account_id);
    }
    let account = AccountRecord {
        account_id: random_string(&mut OsRng, 32),
        key_hash: key_hash.to_owned(),
        created: now,
        updated: now,
    };
    store.create_account(&account, &attachment, now).await?;
    Ok(account.account_id)
}

/// Opens a namespace grant challenge for `namespaces` (spec §6.7, §6.8).
async fn challenge_for(
    services: &Services,
    account_id: &str,
    grant_hash: &str,
    namespaces: Vec<String>,
    now: u64,
) -> Result<GrantChallenge, Error> {
    let settings = services.settings();
    let mut domains = vec![settings.domain.clone()];
    domains.extend(settings.lockbox.grant_domains.iter().cloned());
    let challenge = GrantChallenge {
        id: random_string(&mut OsRng, 32),
        name: format!("{} lockbox", settings.domain),
        image: String::new(),
        url: settings.public_url.clone(),
        domains,
        namespaces,
    };
    services
        .store()
        .insert_challenge(&ChallengeRecord {
            challenge_id: challenge.id.clone(),
            service: TokenService::Lockbox,
            subject: account_id.to_owned(),
            grant_hash: grant_hash.to_owned(),
            namespaces: challenge.namespaces.clone(),
            expires: now.saturating_add(settings.lockbox.challenge_lifetime_seconds),
        })
        .await?;
    Ok(challenge)
}

/// `lockbox-access-validate`: another service checks a client's lockbox proof for the purpose
/// stated; an empty result or a refusal.
pub async fn lockbox_access_validate(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let purpose = body
        .get_str("purpose")
        .and_then(Purpose::parse)
        .ok_or_else(|| bad("purpose missing or unknown"))?;
    lockbox_token(services, body, &[purpose], now).await?;
    Ok(Object::new())
}

/// `lockbox-identities-update`: attaches (`update`, with that identity's proof) or detaches
/// (`remove`) identities; removing the last one deletes the account and its values.
pub async fn lockbox_identities_update(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let token = lockbox_token(services, body, &[Purpose::LockboxIdentitiesUpdate], now).await?;
    let nonce = request_nonce(body)?;
    let account_id = token.subject.as_str();
    let store = services.store();
    let changes = body
        .get_object("identities")
        .map(|i| i.get_list("identity"))
        .unwrap_or_default();
    // Every proof is checked before anything changes.
    let mut updates = Vec::new();
    let mut removals = Vec::new();
    for change in changes {
        let change = change.as_object().ok_or_else(|| bad("identity element"))?;
        match change.get_str("$disposition") {
            Some("remove") => removals.push(
                change
                    .get_str("uri")
                    .ok_or_else(|| bad("identity uri missing"))?,
            ),
            Some("update") | None => updates.push(
                identity_proof::prove(
                    services,
                    change,
                    nonce,
                    Purpose::LockboxAccessUpdate,
                    now,
                    NonceUse::RecordedByRequest,
                )
                .await?,
            ),
            Some(_) => return Err(bad("$disposition must be update or remove")),
        }
    }
    for proven in &updates {
        let attachment = AttachedIdentity {
            uri: proven.uri.clone(),
            provider: proven.provider.clone(),
            needs_update: false,
        };
        store.attach_identity(account_id, &attachment, now).await?;
    }
    for uri in removals {
        store.detach_identity(account_id, uri).await?;
    }
    let identities = store.attached_identities(account_id).await?;
    if identities.is_empty() {
        store.delete_account(account_id).await?;
    }
    Ok(Object::new().with("identities", identities_element(&identities)))
}

/// `lockbox-content-get`: the values of the namespaces asked for.
pub async fn lockbox_content_get(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let token = lockbox_token(services, body, &[Purpose::LockboxContentGet], now).await?;
    let namespaces = requested_namespaces(body).map_err(|e| Error::Protocol(e.into()))?;
    check_granted(services, &token, namespaces.iter().map(String::as_str)).await?;
    let contents = services
        .store()
        .content(&token.subject, &namespaces)
        .await?;
    Ok(Object::new().with("namespaces", namespaces_element(&contents)))
}

/// `lockbox-content-set`: merges values (`"-"` deletes a name), all or nothing.
pub async fn lockbox_content_set(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let limits = &services.settings().lockbox;
    let contents: Vec<NamespaceContent> =
        namespace_contents(body).map_err(|e| Error::Protocol(e.into()))?;
    if contents
        .iter()
        .flat_map(|c| &c.values)
        .any(|(_, v)| v.len() > limits.max_value_bytes)
    {
        return Err(Error::refused(
            ResultCode::PayloadTooLarge,
            "a lockbox value is larger than lockbox.max_value_bytes",
        ));
    }
    let token = lockbox_token(services, body, &[Purpose::LockboxContentSet], now).await?;
    check_granted(services, &token, contents.iter().map(|c| c.id.as_str())).await?;
    let limits = ContentLimits {
        max_namespaces: limits.max_namespaces,
        max_names_per_namespace: limits.max_names_per_namespace,
    };
    match services
        .store()
        .set_content(&token.subject, &contents, limits, now)
        .await?
    {
        ContentWrite::Written => Ok(Object::new()),
        ContentWrite::TooManyNamespaces => Err(Error::refused(
            ResultCode::Conflict,
            "the lockbox would hold more than lockbox.max_namespaces namespaces",
        )),
        ContentWrite::TooManyNames => Err(Error::refused(
            ResultCode::Conflict,
            "a namespace would hold more than lockbox.max_names_per_namespace values",
        )),
    }
}

/// `lockbox-namespace-grant-challenge-validate`: a challenge this lockbox issued to the token's
/// account and grant id, signed by the `namespace-grant` key of a domain it trusts, grants the
/// namespaces both asked for and signed.
pub async fn lockbox_namespace_grant_challenge_validate(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<Object, Error> {
    let token = lockbox_token(
        services,
        body,
        &[Purpose::LockboxNamespaceGrantChallengeValidate],
        now,
    )
    .await?;
    let signed = verify_grant_bundle(services, body, now).await?;
    let store = services.store();
    let open = store.challenge(&signed.id).await?;
    let Some(open) = open.filter(|c| {
        c.service == TokenService::Lockbox
            && c.subject == token.subject
            && c.grant_hash == token.grant_hash
    }) else {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "no such challenge for this lockbox and grant",
        ));
    };
    if open.expires <= now {
        return Err(Error::refused(
            ResultCode::Unauthorized,
            "the namespace grant challenge expired",
        ));
    }
    // Single use: of concurrent presenters only one takes it.
    if store.take_challenge(&open.challenge_id).await?.is_none() {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "no such challenge for this lockbox and grant",
        ));
    }
    let granted: Vec<String> = open
        .namespaces
        .into_iter()
        .filter(|n| signed.namespaces.contains(n))
        .collect();
    store
        .grant(&token.subject, &token.grant_hash, &granted, now)
        .await?;
    Ok(Object::new())
}

/// Verifies a request's `namespaceGrantChallengeBundle` under the `namespace-grant`
/// certificates of the domain that signed it, which this domain must trust for grants: itself,
/// or one of `lockbox.grant_domains` (fetched and verified through federation).
pub async fn verify_grant_bundle(
    services: &Services,
    body: &Object,
    now: u64,
) -> Result<GrantChallenge, Error> {
    let settings = services.settings();
    let bundle = body
        .get_object("namespaceGrantChallengeBundle")
        .ok_or_else(|| bad("namespaceGrantChallengeBundle missing"))?;
    let forged = || Error::refused(ResultCode::Forbidden, "the namespace grant does not verify");
    let signer: DomainName = signer_domain(bundle).ok_or_else(forged)?;
    let signed = if signer == settings.domain {
        let published = services.published();
        let own = OwnCertificates {
            ring: &published.ring,
            domain: &settings.domain,
            now,
        };
        GrantChallenge::verify(bundle, &own).map_err(|_| forged())?
    } else if settings.lockbox.grant_domains.contains(&signer) {
        services
            .bridge()
            .remotes
            .verify_with(&signer, now, |certificates| {
                GrantChallenge::verify(bundle, &certificates.of_service("namespace-grant"))
            })
            .await?
            .map_err(|_| forged())?
    } else {
        return Err(Error::refused(
            ResultCode::Forbidden,
            "this lockbox does not trust that domain's namespace grants",
        ));
    };
    if !signed.domains.contains(&signer) {
        return Err(forged());
    }
    Ok(signed)
}
