//! Access-secret proofs (spec §5), the find proof (spec §6.11) and the relay channel-map proof
//! (spec §7.5): every "prove you know a secret without sending it" value of the protocol.
//!
//! All proofs are lowercase hex and are checked with [`check`], which tests expiry first and
//! then compares in constant time, ignoring case. Nonce replay is the caller's business (the
//! server's nonce cache, spec §5, §10).
//!
//! HMAC keys given as strings are their raw UTF-8 bytes (spec §2, `hmacKeyFromPassphrase`),
//! except the rolodex proof, see [`rolodex_access_proof`].

use hmac::{Hmac, Mac as _};
use sha1::{Digest as _, Sha1};
use zeroize::Zeroizing;

use crate::encoding::{hex_proof_matches, to_hex};

type HmacSha1 = Hmac<Sha1>;

/// The `purpose` field of an access-secret proof (spec §5): which request the proof allows.
///
/// It is the last field of the proof message, so a proof made for one request does not
/// authorise another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// `lockbox-access`; C13/C14 `RolodexAccessRequest` also uses it for rolodex access.
    LockboxAccess,
    /// `lockbox-update`.
    LockboxUpdate,
    /// `rolodex-credentials-get`.
    RolodexCredentialsGet,
    /// `identity-lookup-update`.
    IdentityLookupUpdate,
    /// `lockbox-access-update` (identities-update).
    LockboxAccessUpdate,
    /// `lockbox-content-get`.
    LockboxContentGet,
    /// `lockbox-content-set`.
    LockboxContentSet,
    /// `lockbox-identities-update`.
    LockboxIdentitiesUpdate,
    /// `lockbox-namespace-grant-challenge-validate`.
    LockboxNamespaceGrantChallengeValidate,
    /// `peer-services-get`.
    PeerServicesGet,
    /// `rolodex-contacts-get`.
    RolodexContactsGet,
    /// `rolodex-namespace-grant-challenge-validate`.
    RolodexNamespaceGrantChallengeValidate,
    /// `rolodex-access`, the spec's name where C13/C14 send `lockbox-access`; accept both.
    RolodexAccess,
}

impl Purpose {
    /// Every purpose of spec §5 plus `rolodex-access`.
    pub const ALL: [Purpose; 13] = [
        Purpose::LockboxAccess,
        Purpose::LockboxUpdate,
        Purpose::RolodexCredentialsGet,
        Purpose::IdentityLookupUpdate,
        Purpose::LockboxAccessUpdate,
        Purpose::LockboxContentGet,
        Purpose::LockboxContentSet,
        Purpose::LockboxIdentitiesUpdate,
        Purpose::LockboxNamespaceGrantChallengeValidate,
        Purpose::PeerServicesGet,
        Purpose::RolodexContactsGet,
        Purpose::RolodexNamespaceGrantChallengeValidate,
        Purpose::RolodexAccess,
    ];

    /// The wire string hashed into the proof (spec §5).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::LockboxAccess => "lockbox-access",
            Purpose::LockboxUpdate => "lockbox-update",
            Purpose::RolodexCredentialsGet => "rolodex-credentials-get",
            Purpose::IdentityLookupUpdate => "identity-lookup-update",
            Purpose::LockboxAccessUpdate => "lockbox-access-update",
            Purpose::LockboxContentGet => "lockbox-content-get",
            Purpose::LockboxContentSet => "lockbox-content-set",
            Purpose::LockboxIdentitiesUpdate => "lockbox-identities-update",
            Purpose::LockboxNamespaceGrantChallengeValidate => {
                "lockbox-namespace-grant-challenge-validate"
            }
            Purpose::PeerServicesGet => "peer-services-get",
            Purpose::RolodexContactsGet => "rolodex-contacts-get",
            Purpose::RolodexNamespaceGrantChallengeValidate => {
                "rolodex-namespace-grant-challenge-validate"
            }
            Purpose::RolodexAccess => "rolodex-access",
        }
    }

    /// Reads a wire `purpose` (spec §5, as forwarded in `*-access-validate`); exact match only.
    pub fn parse(text: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// Why a presented proof was refused (spec §5, §6.11, §7.5). An expired proof maps to 401, a wrong one to 403 ([`crate::error::Error::result_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// `now` is past the proof's `expires`.
    #[error("proof expired")]
    Expired,
    /// The proof is not the expected value (wrong secret, field or purpose).
    #[error("proof does not match")]
    Mismatch,
}

/// Checks a presented proof against the one recomputed from the shared secret (spec §5).
///
/// Expiry first (`now > expires` → [`ProofError::Expired`]; a proof is valid through its
/// `expires` second), then a constant-time, case-insensitive comparison (spec §2: an
/// April-2013 C++ file shows upper-case hex). `expected` must be lowercase, as every function
/// of this module returns it.
pub fn check(expected: &str, presented: &str, expires: u64, now: u64) -> Result<(), ProofError> {
    if now > expires {
        return Err(ProofError::Expired);
    }
    if hex_proof_matches(expected, presented) {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// The identity service's `accessSecretProof` (spec §5): hex(HMAC-SHA1(accessSecret,
/// `"identity-access-validate:" + identityURI + ":" + nonce + ":" + expires + ":" + accessToken + ":" + purpose`)).
pub fn identity_access_proof(
    access_secret: &str,
    identity_uri: &str,
    nonce: &str,
    expires: u64,
    access_token: &str,
    purpose: Purpose,
) -> String {
    let message = format!(
        "identity-access-validate:{identity_uri}:{nonce}:{expires}:{access_token}:{}",
        purpose.as_str()
    );
    hmac_sha1_hex(access_secret.as_bytes(), &message)
}

/// The lockbox service's `accessSecretProof` (spec §5): hex(HMAC-SHA1(accessSecret,
/// `"lockbox-access-validate:" + nonce + ":" + expires + ":" + accessToken + ":" + purpose`)).
pub fn lockbox_access_proof(
    access_secret: &str,
    nonce: &str,
    expires: u64,
    access_token: &str,
    purpose: Purpose,
) -> String {
    let message = format!(
        "lockbox-access-validate:{nonce}:{expires}:{access_token}:{}",
        purpose.as_str()
    );
    hmac_sha1_hex(access_secret.as_bytes(), &message)
}

/// The rolodex service's `accessSecretProof` (spec §5): hex(HMAC-SHA1(SHA1(accessSecret),
/// `"rolodex-access-validate:" + nonce + ":" + expires + ":" + accessToken + ":" + purpose`)).
///
/// C13/C14 key this HMAC with SHA-1 of the secret, not the secret itself. [R] the spec leaves
/// raw-vs-hex open: we use the raw 20-byte digest; [`rolodex_hmac_key`] is the one place to
/// change if the C14 source says otherwise. The Rolodex-annex variant with an extra `:` after
/// the prefix is not produced.
pub fn rolodex_access_proof(
    access_secret: &str,
    nonce: &str,
    expires: u64,
    access_token: &str,
    purpose: Purpose,
) -> String {
    let message = format!(
        "rolodex-access-validate:{nonce}:{expires}:{access_token}:{}",
        purpose.as_str()
    );
    hmac_sha1_hex(rolodex_hmac_key(access_secret).as_slice(), &message)
}

/// The HMAC key of the rolodex proof: SHA-1(accessSecret) as the RAW 20-byte digest.
///
/// [R] the spec leaves raw-vs-hex open (§5, §11); this is the single place that decides it.
fn rolodex_hmac_key(access_secret: &str) -> Zeroizing<[u8; 20]> {
    Zeroizing::new(Sha1::digest(access_secret.as_bytes()).into())
}

/// The spec-only identity-sign proof (spec §5): hex(HMAC-SHA1(accessSecret,
/// `"identity-sign:" + identity + ":" + nonce + ":" + expires + ":" + accessToken`)).
pub fn identity_sign_proof(
    access_secret: &str,
    identity: &str,
    nonce: &str,
    expires: u64,
    access_token: &str,
) -> String {
    let message = format!("identity-sign:{identity}:{nonce}:{expires}:{access_token}");
    hmac_sha1_hex(access_secret.as_bytes(), &message)
}

/// `findSecretProof` of `peer-location-find` (spec §6.11): hex(HMAC-SHA1(findSecret,
/// `"proof:" + nonce + ":" + findSecretProofExpires`)), checked by the finder against the
/// `findSecret` in Section B of the target's peer file.
pub fn find_secret_proof(find_secret: &str, nonce: &str, expires: u64) -> String {
    hmac_sha1_hex(find_secret.as_bytes(), &format!("proof:{nonce}:{expires}"))
}

/// The inner value of a finder-relay candidate (spec §7.5): hex(HMAC-SHA1(relaySecret,
/// `"finder-relay-access-validate:" + relayToken + ":" + localContext + ":channel-map"`)).
///
/// The finder can recompute it because it issued the relay token and secret in
/// `session-create` (spec §6.11).
pub fn channel_map_inner(relay_secret: &str, relay_token: &str, local_context: &str) -> String {
    let message = format!("finder-relay-access-validate:{relay_token}:{local_context}:channel-map");
    hmac_sha1_hex(relay_secret.as_bytes(), &message)
}

/// The `channel-map` `accessSecretProof` (spec §7.5): hex(SHA1(`"proof:" + nonce + ":" +
/// context + ":" + channel + ":" + expires + ":" + inner`)), `inner` from
/// [`channel_map_inner`]. It binds the proof to one channel number.
pub fn channel_map_proof(
    nonce: &str,
    context: &str,
    channel: u32,
    expires: u64,
    inner: &str,
) -> String {
    let message = format!("proof:{nonce}:{context}:{channel}:{expires}:{inner}");
    to_hex(&Sha1::digest(message.as_bytes()))
}

fn hmac_sha1_hex(key: &[u8], message: &str) -> String {
    // HMAC accepts keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    to_hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::test_vectors::rows;

    fn purpose(text: &str) -> Purpose {
        Purpose::parse(text).expect("known purpose")
    }

    #[test]
    fn purposes_round_trip_and_unknown_is_refused() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(
            Purpose::parse("rolodex-access"),
            Some(Purpose::RolodexAccess)
        );
        assert_eq!(Purpose::parse("Lockbox-Access"), None);
        assert_eq!(Purpose::parse(""), None);
        assert_eq!(Purpose::parse("lockbox-access "), None);
    }

    #[test]
    fn identity_access_proof_matches_vectors_for_every_purpose() {
        let vectors = rows("identity_access_proof");
        for p in Purpose::ALL {
            assert!(
                vectors.iter().any(|r| r[6] == p.as_str()),
                "{p:?} not covered"
            );
        }
        for row in vectors {
            let [label, secret, uri, nonce, expires, token, p, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let proof = identity_access_proof(
                secret,
                uri,
                nonce,
                expires.parse().unwrap(),
                token,
                purpose(p),
            );
            assert_eq!(proof, expected, "{label}");
        }
    }

    #[test]
    fn lockbox_access_proof_matches_vectors_for_every_purpose() {
        let vectors = rows("lockbox_access_proof");
        for p in Purpose::ALL {
            assert!(
                vectors.iter().any(|r| r[5] == p.as_str()),
                "{p:?} not covered"
            );
        }
        for row in vectors {
            let [label, secret, nonce, expires, token, p, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let proof =
                lockbox_access_proof(secret, nonce, expires.parse().unwrap(), token, purpose(p));
            assert_eq!(proof, expected, "{label}");
        }
    }

    #[test]
    fn rolodex_access_proof_matches_vectors() {
        for row in rows("rolodex_access_proof") {
            let [label, secret, nonce, expires, token, p, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let proof =
                rolodex_access_proof(secret, nonce, expires.parse().unwrap(), token, purpose(p));
            assert_eq!(proof, expected, "{label}");
            // Keyed by the digest, so it differs from the lockbox-style raw-secret HMAC.
            let raw_keyed = hmac_sha1_hex(
                secret.as_bytes(),
                &format!("rolodex-access-validate:{nonce}:{expires}:{token}:{p}"),
            );
            assert_ne!(proof, raw_keyed, "{label}");
        }
    }

    #[test]
    fn identity_sign_proof_matches_vectors() {
        for row in rows("identity_sign_proof") {
            let [label, secret, identity, nonce, expires, token, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let proof =
                identity_sign_proof(secret, identity, nonce, expires.parse().unwrap(), token);
            assert_eq!(proof, expected, "{label}");
        }
    }

    #[test]
    fn find_secret_proof_matches_vectors() {
        for row in rows("find_secret_proof") {
            let [label, secret, nonce, expires, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(
                find_secret_proof(secret, nonce, expires.parse().unwrap()),
                expected,
                "{label}"
            );
        }
    }

    #[test]
    fn channel_map_matches_vectors() {
        for row in rows("channel_map_inner") {
            let [label, secret, token, context, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(
                channel_map_inner(secret, token, context),
                expected,
                "{label}"
            );
        }
        for row in rows("channel_map_proof") {
            let [label, nonce, context, channel, expires, inner, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let proof = channel_map_proof(
                nonce,
                context,
                channel.parse().unwrap(),
                expires.parse().unwrap(),
                inner,
            );
            assert_eq!(proof, expected, "{label}");
        }
    }

    #[test]
    fn check_accepts_a_valid_proof_up_to_its_expiry() {
        let proof = lockbox_access_proof("s", "n", 100, "t", Purpose::LockboxAccess);
        assert_eq!(check(&proof, &proof, 100, 99), Ok(()));
        assert_eq!(check(&proof, &proof, 100, 100), Ok(()));
    }

    #[test]
    fn check_refuses_an_expired_proof() {
        let proof = lockbox_access_proof("s", "n", 100, "t", Purpose::LockboxAccess);
        assert_eq!(check(&proof, &proof, 100, 101), Err(ProofError::Expired));
        // Expiry is reported even when the proof is also wrong.
        assert_eq!(check(&proof, "00", 100, 101), Err(ProofError::Expired));
    }

    #[test]
    fn check_refuses_a_proof_for_another_purpose() {
        let presented = identity_access_proof(
            "s",
            "identity://a.com/b",
            "n",
            100,
            "t",
            Purpose::LockboxUpdate,
        );
        let expected = identity_access_proof(
            "s",
            "identity://a.com/b",
            "n",
            100,
            "t",
            Purpose::IdentityLookupUpdate,
        );
        assert_eq!(
            check(&expected, &presented, 100, 50),
            Err(ProofError::Mismatch)
        );
        let presented = rolodex_access_proof("s", "n", 100, "t", Purpose::LockboxAccess);
        let expected = rolodex_access_proof("s", "n", 100, "t", Purpose::RolodexAccess);
        assert_eq!(
            check(&expected, &presented, 100, 50),
            Err(ProofError::Mismatch)
        );
    }

    #[test]
    fn check_refuses_wrong_secret_channel_and_length() {
        let expected = find_secret_proof("secret", "n", 100);
        assert_eq!(
            check(&expected, &find_secret_proof("other", "n", 100), 100, 0),
            Err(ProofError::Mismatch)
        );
        let inner = channel_map_inner("rs", "rt", "ctx");
        let expected = channel_map_proof("n", "a", 5, 100, &inner);
        assert_eq!(
            check(
                &expected,
                &channel_map_proof("n", "a", 6, 100, &inner),
                100,
                0
            ),
            Err(ProofError::Mismatch)
        );
        assert_eq!(
            check(&expected, &expected[..39], 100, 0),
            Err(ProofError::Mismatch)
        );
        assert_eq!(check(&expected, "", 100, 0), Err(ProofError::Mismatch));
    }

    #[test]
    fn check_accepts_upper_case_hex() {
        let expected = identity_sign_proof("s", "identity:phone:1", "n", 100, "t");
        assert_eq!(check(&expected, &expected.to_uppercase(), 100, 0), Ok(()));
        assert_eq!(expected, expected.to_lowercase());
    }
}
