//! The `peer-location-find` request body (spec §6.11): the finding peer writes it, its finder
//! and — across domains — the target's finder check it, and the found peer checks it again.
//! [`FindProof`] is what the finding peer signs; [`FindRequest`] is what the others read.

use crate::json::{Object, Value};

/// The `findProof` a finding peer signs (spec §6.11, C14 `PeerLocationFindRequest.cpp`).
#[derive(Clone, Debug, PartialEq)]
pub struct FindProof {
    /// One-time value (hex of 16 random bytes).
    pub nonce: String,
    /// When the find was made.
    pub created: u64,
    /// The peer URI of the peer looked for.
    pub find: String,
    /// hex(HMAC-SHA1(target's findSecret, "proof:" + nonce + ":" + expires)).
    pub find_secret_proof: String,
    /// When the proof lapses.
    pub find_secret_proof_expires: u64,
    /// The finding peer's context id.
    pub context: String,
    /// The peer secret sealed to the target's key.
    pub peer_secret_encrypted: String,
    /// ICE username fragment.
    pub ice_username_frag: String,
    /// The ICE password, `splitEncrypt`ed with the peer secret.
    pub ice_password_encrypted: String,
    /// Whether the candidates are complete.
    pub ice_final: bool,
    /// The finding peer's `location` (with its `contact` and candidates).
    pub location: Object,
}

impl FindProof {
    /// The `findProof` element, to be signed by the finding peer.
    pub fn to_object(&self) -> Object {
        Object::new()
            .with("nonce", self.nonce.as_str())
            .with("created", self.created)
            .with("find", self.find.as_str())
            .with("findSecretProof", self.find_secret_proof.as_str())
            .with("findSecretProofExpires", self.find_secret_proof_expires)
            .with("context", self.context.as_str())
            .with("peerSecretEncrypted", self.peer_secret_encrypted.as_str())
            .with("iceUsernameFrag", self.ice_username_frag.as_str())
            .with("icePasswordEncrypted", self.ice_password_encrypted.as_str())
            .with("iceFinal", self.ice_final)
            .with("location", self.location.clone())
    }
}

/// A `peer-location-find` request body as finders and the found peer read it: borrowed from
/// the body, nothing checked but presence and type. The error names the first field missing.
#[derive(Clone, Debug, PartialEq)]
pub struct FindRequest<'a> {
    /// `findProofBundle`: the signed proof, verified by whoever holds the finder's key.
    pub bundle: &'a Object,
    /// The `findProof` inside it.
    pub proof: &'a Object,
    /// `find`: the peer URI looked for.
    pub find: &'a str,
    /// `location.contact`: the finding peer.
    pub from: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// `findSecretProof`.
    pub find_secret_proof: &'a str,
    /// `findSecretProofExpires`.
    pub expires: u64,
    /// The `$id`s of `exclude.locations.location`.
    pub exclude: Vec<&'a str>,
}

impl<'a> FindRequest<'a> {
    /// Reads a request body.
    pub fn read(body: &'a Object) -> Result<FindRequest<'a>, &'static str> {
        let bundle = body
            .get_object("findProofBundle")
            .ok_or("findProofBundle")?;
        let proof = bundle.get_object("findProof").ok_or("findProof")?;
        let text = |key: &'static str| proof.get_str(key).ok_or(key);
        Ok(FindRequest {
            bundle,
            proof,
            find: text("find")?,
            from: proof
                .get_object("location")
                .and_then(|l| l.get_str("contact"))
                .ok_or("location.contact")?,
            nonce: text("nonce")?,
            find_secret_proof: text("findSecretProof")?,
            expires: proof
                .get_u64("findSecretProofExpires")
                .ok_or("findSecretProofExpires")?,
            exclude: body
                .get_object("exclude")
                .and_then(|e| e.get_object("locations"))
                .map(|l| l.get_list("location"))
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_object()?.get_str("$id"))
                .collect(),
        })
    }
}

/// A request body `{"findProofBundle": bundle}`, excluding the locations `exclude`.
pub fn find_request_body(bundle: Object, exclude: &[&str]) -> Object {
    let body = Object::new().with("findProofBundle", bundle);
    if exclude.is_empty() {
        return body;
    }
    let locations = exclude
        .iter()
        .map(|id| Value::Object(Object::new().with("$id", *id)))
        .collect();
    body.with(
        "exclude",
        Object::new().with(
            "locations",
            Object::new().with("location", Value::from_list(locations)),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof() -> FindProof {
        FindProof {
            nonce: "00ff".into(),
            created: 100,
            find: "peer://beta.test/abc".into(),
            find_secret_proof: "beef".into(),
            find_secret_proof_expires: 220,
            context: "ctx".into(),
            peer_secret_encrypted: "sealed".into(),
            ice_username_frag: "ufrag".into(),
            ice_password_encrypted: "iv:pw".into(),
            ice_final: true,
            location: Object::new()
                .with("$id", "l1")
                .with("contact", "peer://alpha.test/def"),
        }
    }

    #[test]
    fn what_the_finding_peer_writes_the_finders_read() {
        let bundle = Object::new().with("findProof", proof().to_object());
        let body = find_request_body(bundle, &["l2", "l3"]);
        let read = FindRequest::read(&body).unwrap();
        assert_eq!(
            (
                read.find,
                read.from,
                read.nonce,
                read.find_secret_proof,
                read.expires
            ),
            (
                "peer://beta.test/abc",
                "peer://alpha.test/def",
                "00ff",
                "beef",
                220
            )
        );
        assert_eq!(read.exclude, ["l2", "l3"]);
        assert_eq!(read.proof.get_str("context"), Some("ctx"));
    }

    #[test]
    fn a_missing_field_is_named() {
        assert_eq!(FindRequest::read(&Object::new()), Err("findProofBundle"));
        let mut without_nonce = proof().to_object();
        without_nonce.remove("nonce");
        let body = find_request_body(Object::new().with("findProof", without_nonce), &[]);
        assert_eq!(FindRequest::read(&body), Err("nonce"));
        let expires_text = proof().to_object().with("findSecretProofExpires", "later");
        let body = find_request_body(Object::new().with("findProof", expires_text), &[]);
        assert_eq!(FindRequest::read(&body), Err("findSecretProofExpires"));
    }
}
