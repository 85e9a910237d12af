//! Values derived by hashing that are neither proofs nor cipher keys (spec §1.2, §2, §3, §4.3,
//! §11): the `$appid` MAC, the lockbox key hash, the stable id, the identity re-login value
//! name, key fingerprints and the contact-id digest. All are lowercase hex.

use hmac::{Hmac, Mac as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use crate::encoding::to_hex;

/// The split character of `$appid` in C14 (spec §1.2); HCS deployments used `-`.
pub const DEFAULT_APP_ID_SPLIT: char = ':';

/// The MAC of an authorised application id (spec §1.2, C14 `createAuthorizedApplicationID`):
/// hex(HMAC-SHA1(appSharedSecret, `appID + split + random20 + split + expiry`)).
pub fn app_id_mac(
    app_shared_secret: &str,
    app_id: &str,
    random20: &str,
    expiry: u64,
    split: char,
) -> String {
    let message = format!("{app_id}{split}{random20}{split}{expiry}");
    // HMAC accepts keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(app_shared_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    to_hex(&mac.finalize().into_bytes())
}

/// The full `$appid` envelope value (spec §1.2):
/// `appID + split + random20 + split + expiry + split + mac`, mac from [`app_id_mac`].
pub fn authorized_app_id(
    app_shared_secret: &str,
    app_id: &str,
    random20: &str,
    expiry: u64,
    split: char,
) -> String {
    let mac = app_id_mac(app_shared_secret, app_id, random20, expiry, split);
    format!("{app_id}{split}{random20}{split}{expiry}{split}{mac}")
}

/// `lockbox.hash` (spec §11, §8): hex(SHA-1(lockboxKey)), so the lockbox server can recognise
/// the key without holding it.
pub fn lockbox_hash(lockbox_key: &[u8]) -> String {
    to_hex(&Sha1::digest(lockbox_key))
}

/// `stableID` of a contact proof (spec §4.3, C14 `stack_ServiceLockboxSession.cpp`):
/// hex(SHA-1(`"stable-id:" + lockboxDomain + ":" + lockboxAccountId`)).
pub fn stable_id(lockbox_domain: &str, lockbox_account_id: &str) -> String {
    sha1_hex(&["stable-id:", lockbox_domain, ":", lockbox_account_id].concat())
}

/// The lockbox value name that holds an identity's re-login data (spec §11):
/// hex(SHA-1(`"identity-relogin:" + uri + ":" + provider`)).
pub fn identity_relogin_value_name(uri: &str, provider: &str) -> String {
    sha1_hex(&["identity-relogin:", uri, ":", provider].concat())
}

/// A public key's `fingerprint` (spec §2, §2.2 `key.fingerprint`): hex(SHA-1(DER
/// SubjectPublicKeyInfo)). The DER is hashed as given, not parsed.
pub fn key_fingerprint(spki_der: &[u8]) -> String {
    to_hex(&Sha1::digest(spki_der))
}

/// The contact id (spec §3, §4.1): hex(SHA-256(`"contact:" + canonical`)), 64 hex characters,
/// where `canonical` is the C14 canonical rendering of the whole Section A bundle
/// (`{"sectionBundle":{…}}`, signature included), produced by the `canonical` module.
pub fn contact_id_digest(canonical_section_a_bundle: &str) -> String {
    let mut sha = Sha256::new();
    sha.update(b"contact:");
    sha.update(canonical_section_a_bundle.as_bytes());
    to_hex(&sha.finalize())
}

fn sha1_hex(message: &str) -> String {
    to_hex(&Sha1::digest(message.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::test_vectors::{hex, rows};

    fn split_char(text: &str) -> char {
        let mut chars = text.chars();
        let c = chars.next().expect("one split character");
        assert!(chars.next().is_none());
        c
    }

    #[test]
    fn app_id_mac_and_authorized_app_id_match_vectors() {
        for row in rows("app_id_mac") {
            let [label, secret, app_id, random20, expiry, split, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let mac = app_id_mac(
                secret,
                app_id,
                random20,
                expiry.parse().unwrap(),
                split_char(split),
            );
            assert_eq!(mac, expected, "{label}");
        }
        for row in rows("authorized_app_id") {
            let [label, secret, app_id, random20, expiry, split, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let id = authorized_app_id(
                secret,
                app_id,
                random20,
                expiry.parse().unwrap(),
                split_char(split),
            );
            assert_eq!(id, expected, "{label}");
        }
    }

    #[test]
    fn authorized_app_id_has_four_parts_with_the_default_split() {
        let id = authorized_app_id("s", "app", "r", 5, DEFAULT_APP_ID_SPLIT);
        let parts: Vec<_> = id.split(':').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[3], app_id_mac("s", "app", "r", 5, ':'));
        assert_ne!(
            app_id_mac("s", "app", "r", 5, ':'),
            app_id_mac("s", "app", "r", 5, '-')
        );
    }

    #[test]
    fn lockbox_hash_matches_vectors() {
        for row in rows("lockbox_hash") {
            let [label, key, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(lockbox_hash(&hex(key)), expected, "{label}");
        }
    }

    #[test]
    fn stable_id_matches_vectors() {
        for row in rows("stable_id") {
            let [label, domain, account, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(stable_id(domain, account), expected, "{label}");
        }
    }

    #[test]
    fn identity_relogin_value_name_matches_vectors() {
        for row in rows("identity_relogin_value_name") {
            let [label, uri, provider, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(
                identity_relogin_value_name(uri, provider),
                expected,
                "{label}"
            );
        }
    }

    #[test]
    fn key_fingerprint_matches_vectors() {
        for row in rows("key_fingerprint") {
            let [label, spki, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            assert_eq!(key_fingerprint(&hex(spki)), expected, "{label}");
        }
    }

    #[test]
    fn contact_id_digest_matches_vectors_and_is_64_hex() {
        for row in rows("contact_id_digest") {
            let [label, canonical, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let id = contact_id_digest(canonical);
            assert_eq!(id, expected, "{label}");
            assert_eq!(id.len(), 64);
        }
    }
}
