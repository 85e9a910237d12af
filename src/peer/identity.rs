//! Identities for peers (spec §6.5, §6.6, §7.2 step 14, §7.3 step 1): log in to a local
//! account of the gateway, bind a running peer to that identity with `identity-lookup-update`,
//! and turn another identity into its public peer file with `identity-lookup`, trusting nothing
//! the domain's certificates do not sign.

use openpeer_protocol::bootstrapper::ServiceType;
use openpeer_protocol::canonical::render_object;
use openpeer_protocol::identity_lookup::{LookupError, LookupIdentity, lookup_request};
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{self, ErrorResult, MessageKind, Method};
use openpeer_protocol::peer_file::{PublicPeerFile, salt_domain};
use openpeer_protocol::proof::{Purpose, identity_access_proof};
use openpeer_protocol::random::nonce;
use openpeer_protocol::signature::{KeyReference, KeyResolver, sign_bundle};
use openpeer_protocol::uri::IdentityUri;
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::error::{PeerError, result_body};
use super::{Peer, PeerOptions};
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
    /// `lockbox{domain, key}` of `identity-access-complete`: the lockbox key this identity left
    /// for its next login, encrypted by the client.
    pub(crate) lockbox: Option<(String, String)>,
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

impl IdentityLogin {
    /// An `identity` element proving this login for `purpose` (valid a few minutes), and the
    /// nonce it was made with.
    pub(crate) fn proof(&self, purpose: Purpose) -> (Object, String) {
        self.proof_with_nonce(purpose, &nonce(&mut OsRng))
    }

    /// [`IdentityLogin::proof`] with a nonce of the request it is part of.
    pub(crate) fn proof_with_nonce(&self, purpose: Purpose, n: &str) -> (Object, String) {
        let n = n.to_owned();
        let expires = unix_now() + PROOF_LIFETIME;
        let proof =
            identity_access_proof(&self.secret, &self.uri, &n, expires, &self.token, purpose);
        let identity = Object::new()
            .with("uri", self.uri.as_str())
            .with("provider", self.provider.as_str())
            .with("accessToken", self.token.as_str())
            .with("accessSecretProof", proof)
            .with("accessSecretProofExpires", expires);
        (identity, n)
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
        let domain = super::bootstrap(options).await?;
        Ok(Directory {
            domain,
            base_url: options.base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The domain, bootstrapped.
    pub(crate) fn domain(&self) -> &Domain {
        &self.domain
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
        let lockbox = answer.body.get_object("lockbox").and_then(|l| {
            Some((
                l.get_str("domain")?.to_owned(),
                l.get_str("key")?.to_owned(),
            ))
        });
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
            lockbox,
        })
    }

    /// Binds `peer` to `login`'s identity (`identity-lookup-update`) under `stable_id` (the
    /// lockbox's, [`openpeer_protocol::derivation::stable_id`], or any stable random string):
    /// others can then find it by that identity. The contact proof is signed by the peer's key.
    pub async fn publish(
        &self,
        login: &IdentityLogin,
        peer: &Peer,
        stable_id: &str,
    ) -> Result<(), PeerError> {
        let local = &peer.inner.local;
        let now = unix_now();
        let contact_proof = Object::new()
            .with("stableID", stable_id)
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
        let (identity, n) = login.proof(Purpose::IdentityLookupUpdate);
        let peer_element = local
            .file
            .document()
            .get("peer")
            .cloned()
            .ok_or(PeerError::Malformed("peer file"))?;
        let identity = identity
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
    /// identity proof is signed by the identity domain's identity certificate, the contact proof
    /// inside it is signed by that peer file's key and names this identity, and the peer file
    /// validates (spec §4.3). Signatures of this peer's own domain are checked with its
    /// certificates; for another domain's identity or peer file the gateway, which verified them
    /// under that domain's certificates before answering, is taken at its word (a thin client
    /// needs one gateway only; architecture §4 "Federation" (3)), and everything checkable
    /// without that domain's keys is still checked.
    pub async fn lookup(&self, identity: &str) -> Result<PublicPeerFile, PeerError> {
        let uri = IdentityUri::parse(identity)
            .map_err(|_| PeerError::Options(format!("not an identity URI: {identity}")))?;
        let answer = self
            .domain
            .call(
                "identity-lookup",
                Method::IdentityLookup,
                lookup_request(std::slice::from_ref(&uri)),
            )
            .await?;
        let wanted = uri.to_string();
        let entry = answer
            .get_object("identities")
            .map(|i| i.get_list("identity"))
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_object)
            .find(|e| e.get_str("uri") == Some(wanted.as_str()))
            .ok_or(PeerError::Refused {
                code: 404,
                reason: format!("no peer is bound to {identity}"),
            })?;
        if let Some(Ok(error)) = entry.get("error").map(ErrorResult::from_value) {
            return Err(PeerError::Refused {
                code: error.code,
                reason: error.reason,
            });
        }
        self.verify_entry(&uri, entry)
    }

    fn verify_entry(
        &self,
        identity: &IdentityUri,
        entry: &Object,
    ) -> Result<PublicPeerFile, PeerError> {
        let certificates = self.domain.certificates();
        let ours = certificates.domain();
        let answer =
            LookupIdentity::from_object(entry).map_err(|_| PeerError::Malformed("identity"))?;
        let identity_signers = certificates.of_service(ServiceType::Identity.as_str());
        let salt_signers = certificates.of_service(ServiceType::Salt.as_str());
        let own_identity = matches!(identity, IdentityUri::Domain { domain, .. } if domain == ours);
        let document = Object::new().with("peer", answer.peer.clone());
        let own_peer = salt_domain(&document).as_ref() == Some(ours);
        answer
            .verify(
                own_identity.then_some(&identity_signers as &dyn KeyResolver),
                own_peer.then_some(&salt_signers as &dyn KeyResolver),
                unix_now(),
            )
            .map_err(|e| match e {
                LookupError::Malformed(what) => PeerError::Malformed(what),
                LookupError::PeerFile(_) => PeerError::Untrusted("peer file"),
                LookupError::IdentityProof => PeerError::Untrusted("identity proof"),
                LookupError::ContactProof => PeerError::Untrusted("contact proof"),
            })
    }
}
