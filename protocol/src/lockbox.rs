//! Lockbox content (spec §6.7): namespaces of named values that the client encrypts before they
//! leave it, so the lockbox server stores only `<hex iv>:<base64>` strings it cannot read. The
//! gateway reads and writes `namespaces` with these types; the peer seals and opens the values.

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::cipher::{CipherError, lockbox_value_key, split_decrypt, split_encrypt};
use crate::encoding::{from_base64, from_hex};
use crate::json::{Object, Value};

/// Holds the private peer file (`privatePeerFile`) and its secret (`privatePeerFileSecret`).
pub const PRIVATE_PEER_FILE_NAMESPACE: &str =
    "https://meta.openpeer.org/permission/private-peer-file";
/// Holds identity re-login data, one value per identity
/// ([`crate::derivation::identity_relogin_value_name`]).
pub const IDENTITY_RELOGINS_NAMESPACE: &str =
    "https://meta.openpeer.org/permission/identity-relogins";
/// Holds the client's copy of its rolodex contacts.
pub const ROLODEX_CONTACTS_NAMESPACE: &str =
    "https://meta.openpeer.org/permission/rolodex-contacts";
/// The namespaces every C14 client uses, in the order above.
pub const WELL_KNOWN_NAMESPACES: [&str; 3] = [
    PRIVATE_PEER_FILE_NAMESPACE,
    IDENTITY_RELOGINS_NAMESPACE,
    ROLODEX_CONTACTS_NAMESPACE,
];

/// Value name of the encrypted private peer file document.
pub const PRIVATE_PEER_FILE_VALUE: &str = "privatePeerFile";
/// Value name of the secret the private peer file is encrypted under.
pub const PRIVATE_PEER_FILE_SECRET_VALUE: &str = "privatePeerFileSecret";

/// A value of `lockbox-content-set` that deletes the name instead of storing it.
pub const DELETE_VALUE: &str = "-";

/// Why a `namespaces` element was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockboxError {
    /// A namespace without a `$id` that is an http(s) URL.
    #[error("a namespace $id must be an http(s) URL")]
    NamespaceId,
    /// A value that is not a string.
    #[error("lockbox values must be strings")]
    ValueType,
    /// A value that is neither [`DELETE_VALUE`] nor `<hex iv>:<base64>` client ciphertext.
    #[error("lockbox values must be client ciphertext (<hex iv>:<base64>) or \"-\"")]
    NotCiphertext,
    /// A value name that is empty, an attribute (`$…`) or `#text`.
    #[error("a lockbox value name must be a plain element name")]
    ValueName,
}

/// One namespace of a lockbox: its URL, when it last changed, and its values by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceContent {
    /// The namespace URL (`$id`).
    pub id: String,
    /// `$updated`: when a value of it last changed (results only; clients strip it).
    pub updated: Option<u64>,
    /// `(name, value)` in document order.
    pub values: Vec<(String, String)>,
}

impl NamespaceContent {
    /// Reads one `namespace` element of a request: the values must be ciphertext or `"-"`.
    pub fn from_object(namespace: &Object) -> Result<NamespaceContent, LockboxError> {
        let id = namespace_id(namespace)?;
        let mut values = Vec::new();
        for (name, value) in namespace.iter() {
            if name.starts_with('$') {
                continue;
            }
            if name == "#text" || name.is_empty() {
                return Err(LockboxError::ValueName);
            }
            let value = match value {
                Value::String(s) => s,
                _ => return Err(LockboxError::ValueType),
            };
            if value != DELETE_VALUE && !is_ciphertext(value) {
                return Err(LockboxError::NotCiphertext);
            }
            values.push((name.to_owned(), value.clone()));
        }
        Ok(NamespaceContent {
            id: id.to_owned(),
            updated: None,
            values,
        })
    }

    /// The `namespace` element of a result.
    pub fn to_object(&self) -> Object {
        let mut object = Object::new().with("$id", self.id.as_str());
        if let Some(updated) = self.updated {
            object.insert("$updated", updated);
        }
        for (name, value) in &self.values {
            object.insert(name.as_str(), value.as_str());
        }
        object
    }

    /// The value named `name`, if present.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn namespace_id(namespace: &Object) -> Result<&str, LockboxError> {
    namespace
        .get_str("$id")
        .filter(|id| id.starts_with("https://") || id.starts_with("http://"))
        .filter(|id| id.len() > "https://".len())
        .ok_or(LockboxError::NamespaceId)
}

/// The namespace URLs a request names (`namespaces.namespace[].$id`), each once, in order.
pub fn requested_namespaces(body: &Object) -> Result<Vec<String>, LockboxError> {
    let mut ids: Vec<String> = Vec::new();
    for namespace in namespace_elements(body) {
        let id = namespace
            .as_object()
            .ok_or(LockboxError::NamespaceId)
            .and_then(namespace_id)?;
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// The namespaces of a `lockbox-content-set` request, with their values.
pub fn namespace_contents(body: &Object) -> Result<Vec<NamespaceContent>, LockboxError> {
    namespace_elements(body)
        .iter()
        .map(|n| {
            n.as_object()
                .ok_or(LockboxError::NamespaceId)
                .and_then(NamespaceContent::from_object)
        })
        .collect()
}

fn namespace_elements(body: &Object) -> &[Value] {
    body.get_object("namespaces")
        .map(|n| n.get_list("namespace"))
        .unwrap_or_default()
}

/// The `namespaces` element listing `ids` (requests of `lockbox-access` and `-content-get`).
pub fn namespaces_of(ids: &[&str]) -> Object {
    let list = ids
        .iter()
        .map(|id| Value::Object(Object::new().with("$id", *id)))
        .collect();
    Object::new().with("namespace", Value::from_list(list))
}

/// The `namespaces` element of `lockbox-content-get` results and `-set` requests.
pub fn namespaces_element(contents: &[NamespaceContent]) -> Object {
    let list = contents
        .iter()
        .map(|c| Value::Object(c.to_object()))
        .collect();
    Object::new().with("namespace", Value::from_list(list))
}

/// Whether `value` has the shape of `splitEncrypt` output: 16 hex-encoded iv bytes, `:`, and
/// base64 — all a server can check of ciphertext it cannot read.
pub fn is_ciphertext(value: &str) -> bool {
    value.split_once(':').is_some_and(|(iv, data)| {
        iv.len() == 32 && from_hex(iv).is_some() && !data.is_empty() && from_base64(data).is_some()
    })
}

/// Encrypts one value for `namespace`/`name` under the lockbox key (spec §6.7, C14).
pub fn seal_value(
    lockbox_key: &[u8],
    namespace: &str,
    name: &str,
    plaintext: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
) -> String {
    split_encrypt(
        &lockbox_value_key(lockbox_key, namespace, name),
        plaintext,
        rng,
    )
}

/// Decrypts a value sealed by [`seal_value`]. A wrong key yields garbage, not an error (CFB has
/// no tag): callers check what they decrypted (a private peer file checks its own signatures).
pub fn open_value(
    lockbox_key: &[u8],
    namespace: &str,
    name: &str,
    sealed: &str,
) -> Result<Zeroizing<Vec<u8>>, CipherError> {
    split_decrypt(&lockbox_value_key(lockbox_key, namespace, name), sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use rand_core::OsRng;

    #[test]
    fn sealed_values_open_only_under_their_name() {
        let key = [7u8; 32];
        let sealed = seal_value(
            &key,
            PRIVATE_PEER_FILE_NAMESPACE,
            "a",
            b"secret",
            &mut OsRng,
        );
        assert!(is_ciphertext(&sealed));
        let opened = open_value(&key, PRIVATE_PEER_FILE_NAMESPACE, "a", &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"secret");
        let other = open_value(&key, PRIVATE_PEER_FILE_NAMESPACE, "b", &sealed).unwrap();
        assert_ne!(other.as_slice(), b"secret");
    }

    #[test]
    fn requests_are_read_strictly() {
        let body = parse(
            r#"{"namespaces":{"namespace":[{"$id":"https://x.example/a","v":"00112233445566778899aabbccddeeff:AAAA","w":"-"},{"$id":"https://x.example/a"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            requested_namespaces(&body).unwrap(),
            vec!["https://x.example/a"]
        );
        let contents = namespace_contents(&body).unwrap();
        assert_eq!(contents[0].value("w"), Some("-"));
        assert_eq!(contents[1].values, vec![]);
        let refused = [
            (r#"{"$id":"ftp://x/a"}"#, LockboxError::NamespaceId),
            (
                r#"{"$id":"https://x/a","v":"plain text"}"#,
                LockboxError::NotCiphertext,
            ),
            (
                r#"{"$id":"https://x/a","v":{"x":"1"}}"#,
                LockboxError::ValueType,
            ),
            (
                r#"{"$id":"https://x/a","v":"00:AAAA"}"#,
                LockboxError::NotCiphertext,
            ),
        ];
        for (namespace, error) in refused {
            let body = parse(&format!(r#"{{"namespaces":{{"namespace":{namespace}}}}}"#)).unwrap();
            assert_eq!(namespace_contents(&body), Err(error), "{namespace}");
        }
    }

    #[test]
    fn results_carry_updated_and_values() {
        let content = NamespaceContent {
            id: "https://x.example/a".into(),
            updated: Some(5),
            values: vec![("v".into(), "1".into())],
        };
        let rendered = crate::canonical::render_object(&namespaces_element(&[content]));
        assert_eq!(
            rendered,
            r#"{"namespace":{"$id":"https://x.example/a","$updated":5,"v":"1"}}"#
        );
    }
}
