//! Identities for peers (spec §6.5, §6.6, §7.2 step 14, §7.3 step 1): log in to a local
//! account of the gateway, bind a running peer to that identity with `identity-lookup-update`,
//! and turn another identity into its public peer file with `identity-lookup`, trusting nothing
//! the domain's certificates do not sign.

use openpeer_federation::http::HttpClient;
use openpeer_protocol::canonical::render_object;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{self, MessageKind, Method};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::proof::{Purpose, identity_access_proof};
use openpeer_protocol::random::{nonce, random_string};
use openpeer_protocol::signature::{KeyReference, PeerKey, sign_bundle, verify_bundle};
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::error::{PeerError, result_body};
use super::{Peer, PeerOptions};
use crate::keys::ServiceType;
use openpeer_federation::clock::unix_now;
use openpeer_federation::discovery::Domain;

/// How long the access proof of one `identity-lookup-update` is valid.
const PROOF_LIFETIME: u64 = 300;
/// How long a contact proof (identity ↔ peer binding) is valid.
const CONTACT_PROOF_LIFETIME: u64 = 365 * 86_400;

/// An identity this client logged in as: what `identity-access-complete` hands over.
pub struct IdentityLogin {
    /// The identity URI, e.g. `identity://localhost/alice`.
    pub uri: String,
    /// The identity provider's name.
    pub provider: String,
    token: String,
    secret: Zeroizing<String>,
}

impl std::fmt::Debug for IdentityLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token and secret stay out of logs.
        f.debug_struct("IdentityLogin")
            .field("uri", &self.uri)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// A domain's identity and lookup services as a peer uses them.
pub struct Directory {
    domain: Domain,
    base_url: String,
}

impl Directory {
    /// Bootstraps the domain of `options` (its certificates verified).
    pub async fn bootstrap(options: &PeerOptions) -> Result<Directory, PeerError> {
        let http = HttpClient::new(&options.extra_root_pems, options.request_timeout)
            .map_err(|e| PeerError::Options(e.to_string()))?;
        let domain =
            Domain::bootstrap(http, &options.base_url, options.domain.clone(), unix_now()).await?;
        Ok(Directory {
            domain,
            base_url: options.base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Logs in to local account `username` of the gateway (`POST /identity/v1/local/login`).
    pub async fn login_local(
        &self,
        username: &str,
        password: &str,
    ) -> Result<IdentityLogin, PeerError> {
        let body = Object::new()
            .with("username", username)
            .with("password", password);
        let url = format!("{}/identity/v1/local/login", self.base_url);
        let (_, answer) = self
            .domain
            .http()
            .post(&url, "application/json", render_object(&body).into_bytes())
            .await
            .map_err(|e| PeerError::Http(e.to_string()))?;
        let text = std::str::from_utf8(&answer).map_err(|_| PeerError::Malformed("not UTF-8"))?;
        let answer = message::decode(text).map_err(|_| PeerError::Malformed("not a message"))?;
        let identity = match answer.envelope.kind {
            MessageKind::Notify => answer.body.get_object("identity").cloned(),
            _ => {
                return Err(result_body(answer)
                    .err()
                    .unwrap_or(PeerError::Malformed("login")));
            }
        }
        .ok_or(PeerError::Malformed("identity"))?;
        let text = |key: &'static str| {
            identity
                .get_str(key)
                .map(str::to_owned)
                .ok_or(PeerError::Malformed(key))
        };
        Ok(IdentityLogin {
            uri: text("uri")?,
            provider: text("provider")?,
            token: text("accessToken")?,
            secret: Zeroizing::new(text("accessSecret")?),
        })
    }

    /// Binds `peer` to `login`'s identity (`identity-lookup-update`): others can then find it
    /// by that identity. The contact proof is signed by the peer's key.
    pub async fn publish(&self, login: &IdentityLogin, peer: &Peer) -> Result<(), PeerError> {
        let local = &peer.inner.local;
        let now = unix_now();
        let stable_id = random_string(&mut OsRng, 32);
        let contact_proof = Object::new()
            .with("stableID", stable_id.as_str())
            .with("contact", local.contact().to_string())
            .with("uri", login.uri.as_str())
            .with("created", now)
            .with("expires", now + CONTACT_PROOF_LIFETIME);
        let contact_proof_bundle = sign_bundle(
            "contactProof",
            contact_proof,
            &local.key,
            &KeyReference::Uri(local.contact().clone()),
            &mut OsRng,
        );
        let n = nonce(&mut OsRng);
        let expires = now + PROOF_LIFETIME;
        let proof = identity_access_proof(
            &login.secret,
            &login.uri,
            &n,
            expires,
            &login.token,
            Purpose::IdentityLookupUpdate,
        );
        let peer_element = local
            .file
            .document()
            .get("peer")
            .cloned()
            .ok_or(PeerError::Malformed("peer file"))?;
        let identity = Object::new()
            .with("uri", login.uri.as_str())
            .with("provider", login.provider.as_str())
            .with("accessToken", login.token.as_str())
            .with("accessSecretProof", proof)
            .with("accessSecretProofExpires", expires)
            .with("stableID", stable_id)
            .with("peer", peer_element)
            .with("priority", 1u64)
            .with("weight", 10u64)
            .with("contactProofBundle", contact_proof_bundle);
        let body = Object::new().with("nonce", n).with("identity", identity);
        self.domain
            .call("identity", Method::IdentityLookupUpdate, body)
            .await?;
        Ok(())
    }

    /// The public peer file bound to `identity` (`identity-lookup`), accepted only when the
    /// domain's identity certificate signs the binding, the contact proof inside it is signed by
    /// that peer file's key and names this identity, and the peer file validates.
    pub async fn lookup(&self, identity: &str) -> Result<PublicPeerFile, PeerError> {
        let (base, name) = identity
            .rsplit_once('/')
            .filter(|(base, name)| base.starts_with("identity://") && !name.is_empty())
            .ok_or(PeerError::Options(format!(
                "not an identity URI: {identity}"
            )))?;
        let body = Object::new().with(
            "providers",
            Object::new().with(
                "provider",
                Object::new()
                    .with("base", format!("{base}/"))
                    .with("separator", ",")
                    .with("identities", name),
            ),
        );
        let answer = self
            .domain
            .call("identity-lookup", Method::IdentityLookup, body)
            .await?;
        let entries = answer
            .get_object("identities")
            .map(|i| i.get_list("identity"))
            .unwrap_or_default();
        let entry = entries
            .iter()
            .filter_map(Value::as_object)
            .find(|e| e.get_str("uri") == Some(identity))
            .ok_or(PeerError::Refused {
                code: 404,
                reason: format!("no peer is bound to {identity}"),
            })?;
        self.verify_entry(identity, entry)
    }

    fn verify_entry(&self, identity: &str, entry: &Object) -> Result<PublicPeerFile, PeerError> {
        let certificates = self.domain.certificates();
        let now = unix_now();
        let peer = entry.get("peer").ok_or(PeerError::Malformed("peer"))?;
        let document = Object::new().with("peer", peer.clone());
        let file = PublicPeerFile::validate(&document, now, Some(certificates))
            .map_err(|_| PeerError::Untrusted("peer file"))?;
        let bundle = entry
            .get_object("identityProofBundle")
            .ok_or(PeerError::Malformed("identityProofBundle"))?;
        let signers = certificates.of_service(ServiceType::Identity.as_str());
        let proof = verify_bundle(bundle, "identityProof", &signers)
            .map_err(|_| PeerError::Untrusted("identity proof"))?;
        let contact_bundle = proof
            .get()
            .get_object("contactProofBundle")
            .ok_or(PeerError::Malformed("contactProofBundle"))?;
        let contact = verify_bundle(
            contact_bundle,
            "contactProof",
            &PeerKey {
                uri: file.contact(),
                key: file.key(),
            },
        )
        .map_err(|_| PeerError::Untrusted("contact proof"))?;
        let contact = contact.get();
        let names_us = contact.get_str("uri") == Some(identity)
            && contact.get_str("contact") == Some(file.contact().to_string().as_str())
            && contact.get_u64("expires").is_some_and(|e| e > now);
        if !names_us {
            return Err(PeerError::Untrusted("contact proof"));
        }
        Ok(file)
    }
}
