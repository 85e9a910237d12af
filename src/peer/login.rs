//! The account login of spec §7.2 for a peer: identity login → `lockbox-access` →
//! `lockbox-content-get` of the private peer file (made, encrypted and stored with
//! `lockbox-content-set` on the first device) → `peer-services-get` → `lockbox-identities-update`;
//! the caller then starts the peer as that identity and publishes it. Every device of one user
//! thereby becomes the same peer, while the lockbox server only ever holds ciphertext.
//!
//! The lockbox key is 32 random bytes made on the first login. The identity service keeps it
//! for later logins encrypted under a key stretched from the account password with argon2id
//! (`identity-access-lockbox-update`), so that service cannot read it either (spec §6.5 "Lockbox
//! key handling").

use argon2::Argon2;
use openpeer_protocol::cipher::{split_decrypt, split_encrypt};
use openpeer_protocol::derivation::{lockbox_hash, stable_id};
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::lockbox::{
    NamespaceContent, PRIVATE_PEER_FILE_NAMESPACE, PRIVATE_PEER_FILE_SECRET_VALUE,
    PRIVATE_PEER_FILE_VALUE, namespaces_element, namespaces_of, open_value, seal_value,
};
use openpeer_protocol::message::Method;
use openpeer_protocol::peer_file::{
    PRIVATE_PEER_FILE_SECRET_LEN, PublicPeerFile, decrypt_private, encrypt_private,
};
use openpeer_protocol::proof::{Purpose, lockbox_access_proof};
use openpeer_protocol::random::{nonce, random_bytes, random_string};
use openpeer_protocol::signature::SigningKey;
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::error::PeerError;
use super::identity::{Directory, IdentityLogin};
use super::new_peer_file;
use openpeer_federation::clock::unix_now;

/// Length of a lockbox key (C14 `stepLockboxAccess`).
const LOCKBOX_KEY_LEN: usize = 32;
/// How long a lockbox access proof is valid.
const PROOF_LIFETIME: u64 = 300;

/// A lockbox this client opened.
pub struct LockboxSession {
    /// The account id (`lockbox.$id`).
    pub account_id: String,
    /// The lockbox domain.
    pub domain: String,
    token: String,
    secret: Zeroizing<String>,
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for LockboxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LockboxSession({}@{}, secrets redacted)",
            self.account_id, self.domain
        )
    }
}

impl LockboxSession {
    /// A request body proven with this lockbox's token for `purpose`.
    fn proven(&self, purpose: Purpose, members: Object) -> Object {
        let n = nonce(&mut OsRng);
        let expires = unix_now() + PROOF_LIFETIME;
        let proof = lockbox_access_proof(&self.secret, &n, expires, &self.token, purpose);
        let mut body = Object::new().with("nonce", n).with(
            "lockbox",
            Object::new()
                .with("accessToken", self.token.as_str())
                .with("accessSecretProof", proof)
                .with("accessSecretProofExpires", expires),
        );
        for (k, v) in members.iter() {
            body.insert(k, v.clone());
        }
        body
    }

    /// The `stableID` of the identities of this lockbox (spec §4.3).
    pub fn stable_id(&self) -> String {
        stable_id(&self.domain, &self.account_id)
    }
}

/// A STUN or TURN server from `peer-services-get`.
#[derive(Clone, PartialEq, Eq)]
pub struct IceServer {
    /// `turn` or `stun`.
    pub kind: String,
    /// Its URI.
    pub uri: String,
    /// TURN username (empty for STUN).
    pub username: String,
    /// TURN password (empty for STUN).
    pub password: String,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IceServer({} {}, credentials redacted)",
            self.kind, self.uri
        )
    }
}

/// What the login of §7.2 yields: the identity, the lockbox, the peer's key and public peer file
/// (new or read back), and the STUN/TURN servers.
#[derive(Debug)]
pub struct AccountLogin {
    /// The identity logged in.
    pub identity: IdentityLogin,
    /// Its lockbox.
    pub lockbox: LockboxSession,
    /// The peer's key.
    pub key: SigningKey,
    /// The peer's public peer file.
    pub peer_file: PublicPeerFile,
    /// Whether this login made the peer file (first device, or after a reset).
    pub new_peer: bool,
    /// STUN and TURN servers.
    pub ice_servers: Vec<IceServer>,
}

/// The key the lockbox key is encrypted under for the identity service: argon2id of the
/// password, salted with the identity.
fn key_sealing_key(password: &str, identity_uri: &str) -> Result<Zeroizing<[u8; 32]>, PeerError> {
    let salt = Sha256::digest(format!("openpeer lockbox key:{identity_uri}").as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::default()
        .hash_password_into(password.as_bytes(), &salt, key.as_mut())
        .map_err(|_| PeerError::Crypto("argon2"))?;
    Ok(key)
}

impl Directory {
    /// Runs the login of spec §7.2 for local account `username` of this domain, whose lockbox is
    /// this domain's. With `reset`, a new lockbox key replaces the old one and the old values
    /// are wiped (a lost key, or a fresh start).
    pub async fn login_account(
        &self,
        username: &str,
        password: &str,
        reset: bool,
    ) -> Result<AccountLogin, PeerError> {
        let identity = self.login_local(username, password).await?;
        let sealing = key_sealing_key(password, &identity.uri)?;
        let known = match (&identity.lockbox, reset) {
            (Some((_, sealed)), false) => split_decrypt(&sealing, sealed)
                .ok()
                .filter(|k| k.len() == LOCKBOX_KEY_LEN),
            _ => None,
        };
        let fresh = known.is_none();
        let key =
            known.unwrap_or_else(|| Zeroizing::new(random_bytes(&mut OsRng, LOCKBOX_KEY_LEN)));
        let lockbox = self.lockbox_access(&identity, key, fresh).await?;
        if fresh {
            self.keep_lockbox_key(&identity, &lockbox, &sealing).await?;
        }
        let (peer_key, peer_file, new_peer) = match self.read_peer_file(&lockbox).await? {
            Some((key, file)) => (key, file, false),
            None => {
                let (key, file) = self.store_new_peer_file(&lockbox).await?;
                (key, file, true)
            }
        };
        let ice_servers = self.peer_services(&lockbox).await?;
        self.attach_identity(&identity, &lockbox).await?;
        Ok(AccountLogin {
            identity,
            lockbox,
            key: peer_key,
            peer_file,
            new_peer,
            ice_servers,
        })
    }

    async fn lockbox_access(
        &self,
        identity: &IdentityLogin,
        key: Zeroizing<Vec<u8>>,
        reset: bool,
    ) -> Result<LockboxSession, PeerError> {
        let (identity_element, n) = identity.proof(Purpose::LockboxAccess);
        let mut lockbox = Object::new()
            .with("domain", self.domain().name().as_str())
            .with("hash", lockbox_hash(&key));
        if reset {
            lockbox.insert("reset", true);
        }
        let body = Object::new()
            .with("nonce", n)
            .with("identity", identity_element)
            .with("lockbox", lockbox);
        let answer = self
            .domain()
            .call("identity-lockbox", Method::LockboxAccess, body)
            .await?;
        let element = answer
            .get_object("lockbox")
            .ok_or(PeerError::Malformed("lockbox"))?;
        let text = |k: &'static str| {
            element
                .get_str(k)
                .map(str::to_owned)
                .ok_or(PeerError::Malformed(k))
        };
        Ok(LockboxSession {
            account_id: text("$id")?,
            domain: text("domain")?,
            token: text("accessToken")?,
            secret: Zeroizing::new(text("accessSecret")?),
            key,
        })
    }

    /// `identity-access-lockbox-update`: the identity service keeps the key, sealed.
    async fn keep_lockbox_key(
        &self,
        identity: &IdentityLogin,
        lockbox: &LockboxSession,
        sealing: &[u8; 32],
    ) -> Result<(), PeerError> {
        let (identity_element, n) = identity.proof(Purpose::LockboxUpdate);
        let body = Object::new()
            .with("nonce", n)
            .with("identity", identity_element)
            .with(
                "lockbox",
                Object::new()
                    .with("domain", lockbox.domain.as_str())
                    .with("key", split_encrypt(sealing, &lockbox.key, &mut OsRng)),
            );
        self.domain()
            .call("identity", Method::IdentityAccessLockboxUpdate, body)
            .await?;
        Ok(())
    }

    /// The private peer file of the lockbox, opened and checked, if there is a valid one.
    async fn read_peer_file(
        &self,
        lockbox: &LockboxSession,
    ) -> Result<Option<(SigningKey, PublicPeerFile)>, PeerError> {
        let body = lockbox.proven(
            Purpose::LockboxContentGet,
            Object::new().with("namespaces", namespaces_of(&[PRIVATE_PEER_FILE_NAMESPACE])),
        );
        let answer = self
            .domain()
            .call("identity-lockbox", Method::LockboxContentGet, body)
            .await?;
        let namespace = answer
            .get_object("namespaces")
            .map(|n| n.get_list("namespace"))
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_object)
            .find(|n| n.get_str("$id") == Some(PRIVATE_PEER_FILE_NAMESPACE));
        let value = |name| {
            namespace.and_then(|n| n.get_str(name)).and_then(|sealed| {
                open_value(&lockbox.key, PRIVATE_PEER_FILE_NAMESPACE, name, sealed).ok()
            })
        };
        let (Some(secret), Some(document)) = (
            value(PRIVATE_PEER_FILE_SECRET_VALUE),
            value(PRIVATE_PEER_FILE_VALUE),
        ) else {
            return Ok(None);
        };
        let secret = String::from_utf8_lossy(&secret).into_owned();
        let Some(document) = std::str::from_utf8(&document)
            .ok()
            .and_then(|d| openpeer_protocol::json::parse(d).ok())
        else {
            return Ok(None);
        };
        // A file past its lifetime (or one that no longer opens) is replaced, not used.
        Ok(decrypt_private(&document, &secret, unix_now())
            .ok()
            .map(|opened| (opened.key, opened.public)))
    }

    /// Makes a key and peer file, and stores them in the lockbox as a private peer file and its
    /// secret, each encrypted under the lockbox key.
    async fn store_new_peer_file(
        &self,
        lockbox: &LockboxSession,
    ) -> Result<(SigningKey, PublicPeerFile), PeerError> {
        let (key, file) = new_peer_file(self.domain(), unix_now()).await?;
        let secret = Zeroizing::new(random_string(&mut OsRng, PRIVATE_PEER_FILE_SECRET_LEN));
        let private = encrypt_private(&file, &key, &secret, &Object::new(), &mut OsRng)
            .map_err(|_| PeerError::Crypto("private peer file"))?;
        let seal = |name: &str, plaintext: &[u8]| {
            (
                name.to_owned(),
                seal_value(
                    &lockbox.key,
                    PRIVATE_PEER_FILE_NAMESPACE,
                    name,
                    plaintext,
                    &mut OsRng,
                ),
            )
        };
        let content = NamespaceContent {
            id: PRIVATE_PEER_FILE_NAMESPACE.to_owned(),
            updated: None,
            values: vec![
                seal(PRIVATE_PEER_FILE_SECRET_VALUE, secret.as_bytes()),
                seal(
                    PRIVATE_PEER_FILE_VALUE,
                    openpeer_protocol::canonical::render_object(&private).as_bytes(),
                ),
            ],
        };
        let body = lockbox.proven(
            Purpose::LockboxContentSet,
            Object::new().with("namespaces", namespaces_element(&[content])),
        );
        self.domain()
            .call("identity-lockbox", Method::LockboxContentSet, body)
            .await?;
        Ok((key, file))
    }

    /// `peer-services-get`: the STUN and TURN servers of the domain.
    async fn peer_services(&self, lockbox: &LockboxSession) -> Result<Vec<IceServer>, PeerError> {
        let body = lockbox.proven(Purpose::PeerServicesGet, Object::new());
        let answer = self
            .domain()
            .call("peer", Method::PeerServicesGet, body)
            .await?;
        let services = answer
            .get_object("services")
            .map(|s| s.get_list("service"))
            .unwrap_or_default();
        Ok(services
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|service| {
                let kind = service.get_str("type").unwrap_or_default().to_owned();
                service
                    .get_object("methods")
                    .map(|m| m.get_list("method"))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Value::as_object)
                    .map(move |m| IceServer {
                        kind: kind.clone(),
                        uri: m.get_str("uri").unwrap_or_default().to_owned(),
                        username: m.get_str("username").unwrap_or_default().to_owned(),
                        password: m.get_str("password").unwrap_or_default().to_owned(),
                    })
            })
            .collect())
    }

    /// `lockbox-identities-update`: attaches this identity to the lockbox.
    async fn attach_identity(
        &self,
        identity: &IdentityLogin,
        lockbox: &LockboxSession,
    ) -> Result<(), PeerError> {
        let mut body = lockbox.proven(Purpose::LockboxIdentitiesUpdate, Object::new());
        let n = body.get_str("nonce").unwrap_or_default().to_owned();
        let (element, _) = identity.proof_with_nonce(Purpose::LockboxAccessUpdate, &n);
        body.insert(
            "identities",
            Object::new().with("identity", element.with("$disposition", "update")),
        );
        self.domain()
            .call("identity-lockbox", Method::LockboxIdentitiesUpdate, body)
            .await?;
        Ok(())
    }
}
