//! Who this peer is (its key, public peer file and location) and where it can be reached: the
//! `location` element and the ICE host and finder-relay candidates (spec §6.11, §7.5).

use std::net::{IpAddr, SocketAddr};

use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::signature::{KeyReference, SigningKey, sign_bundle};
use openpeer_protocol::uri::PeerUri;
use rand_core::OsRng;

/// `namespace` of an ICE candidate (spec §6.11).
pub(crate) const ICE_NAMESPACE: &str = "https://meta.openpeer.org/candidate/ice";
/// `namespace` of a finder-relay candidate (spec §7.5).
pub(crate) const RELAY_NAMESPACE: &str = "https://meta.openpeer.org/candidate/finder-relay";
/// `transport` of a UDP host candidate (spec §6.11).
const HOST_TRANSPORT: &str = "json-mls/rudp";
/// `transport` of a finder-relay candidate (spec §7.5).
const RELAY_TRANSPORT: &str = "multiplexed-json-mls/tcp";
/// ICE priority of a host candidate: type preference 126, local preference 65535, component 1.
const HOST_PRIORITY: u32 = 2_130_706_431;

/// This peer: its key, its public peer file, its location id and the UDP address it
/// advertises as its host candidate.
#[derive(Debug)]
pub(crate) struct Local {
    /// The peer's private key.
    pub(crate) key: SigningKey,
    /// Its public peer file (findable: Section B is present).
    pub(crate) file: PublicPeerFile,
    /// `location.$id` of this running instance.
    pub(crate) location_id: String,
    /// The host candidate advertised in find notifies and requests.
    pub(crate) host: SocketAddr,
}

impl Local {
    /// The peer URI.
    pub(crate) fn contact(&self) -> &PeerUri {
        self.file.contact()
    }

    /// Section B's `findSecret`: what a finder and a finding peer must prove knowledge of.
    pub(crate) fn find_secret(&self) -> Option<&str> {
        self.file.find_secret()
    }

    /// `object` signed as `name` by this peer's key, named by its peer URI (spec §2.2).
    pub(crate) fn sign(&self, name: &str, object: Object) -> Object {
        sign_bundle(
            name,
            object,
            &self.key,
            &KeyReference::Uri(self.contact().clone()),
            &mut OsRng,
        )
    }

    /// The `location` element: `$id`, `contact`, empty `details`, and `candidates` when given.
    pub(crate) fn location(&self, candidates: Vec<Value>) -> Object {
        let location = Object::new()
            .with("$id", self.location_id.as_str())
            .with("contact", self.contact().to_string())
            .with("details", Object::new());
        if candidates.is_empty() {
            location
        } else {
            location.with(
                "candidates",
                Object::new().with("candidate", Value::Array(candidates)),
            )
        }
    }
}

/// An ICE host candidate for `addr` (spec §6.11).
pub(crate) fn host_candidate(addr: SocketAddr) -> Value {
    Value::Object(
        Object::new()
            .with("namespace", ICE_NAMESPACE)
            .with("transport", HOST_TRANSPORT)
            .with("type", "host")
            .with("foundation", "1")
            .with("component", 1u32)
            .with("ip", addr.ip().to_string())
            .with("port", addr.port())
            .with("priority", HOST_PRIORITY),
    )
}

/// A finder-relay candidate (spec §7.5): the finder's WebSocket URL, the relay token and the
/// encrypted channel-map inner proof.
pub(crate) fn relay_candidate(host: &str, token: &str, proof_encrypted: String) -> Value {
    Value::Object(
        Object::new()
            .with("namespace", RELAY_NAMESPACE)
            .with("transport", RELAY_TRANSPORT)
            .with("type", "relay")
            .with("host", host)
            .with("accessToken", token)
            .with("accessSecretProofEncrypted", proof_encrypted),
    )
}

/// A finder-relay candidate as read, its proof still encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelayOffer {
    /// The finder's WebSocket URL.
    pub(crate) host: String,
    /// The relay `accessToken`.
    pub(crate) token: String,
    /// `accessSecretProofEncrypted`.
    pub(crate) proof_encrypted: String,
}

/// The first usable host and relay candidates of a `location` element. Candidates of other
/// namespaces or types, and malformed ones, are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Candidates {
    /// The first host candidate's UDP address.
    pub(crate) host: Option<SocketAddr>,
    /// The first finder-relay candidate.
    pub(crate) relay: Option<RelayOffer>,
}

/// Reads the candidates of `location`.
pub(crate) fn read_candidates(location: &Object) -> Candidates {
    let mut found = Candidates::default();
    let list = location
        .get_object("candidates")
        .map(|c| c.get_list("candidate"))
        .unwrap_or_default();
    for candidate in list.iter().filter_map(Value::as_object) {
        match candidate.get_str("namespace") {
            Some(ICE_NAMESPACE) if found.host.is_none() => {
                let ip = candidate
                    .get_str("ip")
                    .and_then(|ip| ip.parse::<IpAddr>().ok());
                let port = candidate
                    .get_u64("port")
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0);
                if candidate.get_str("type") == Some("host")
                    && let (Some(ip), Some(port)) = (ip, port)
                {
                    found.host = Some(SocketAddr::new(ip, port));
                }
            }
            Some(RELAY_NAMESPACE) if found.relay.is_none() => {
                let text = |k| candidate.get_str(k).filter(|v| !v.is_empty());
                if let (Some(host), Some(token), Some(proof)) = (
                    text("host"),
                    text("accessToken"),
                    text("accessSecretProofEncrypted"),
                ) {
                    found.relay = Some(RelayOffer {
                        host: host.to_owned(),
                        token: token.to_owned(),
                        proof_encrypted: proof.to_owned(),
                    });
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_round_trip_and_junk_is_skipped() {
        let host: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let location = Object::new().with(
            "candidates",
            Object::new().with(
                "candidate",
                Value::Array(vec![
                    Value::from("junk"),
                    Value::Object(
                        Object::new()
                            .with("namespace", ICE_NAMESPACE)
                            .with("type", "host")
                            .with("ip", "not an ip")
                            .with("port", 1u32),
                    ),
                    Value::Object(
                        Object::new()
                            .with("namespace", ICE_NAMESPACE)
                            .with("type", "host")
                            .with("ip", "127.0.0.1")
                            .with("port", 70_000u32),
                    ),
                    host_candidate(host),
                    relay_candidate("ws://127.0.0.1:1/finder", "tok", "iv:data".into()),
                ]),
            ),
        );
        let found = read_candidates(&location);
        assert_eq!(found.host, Some(host));
        assert_eq!(
            found.relay,
            Some(RelayOffer {
                host: "ws://127.0.0.1:1/finder".into(),
                token: "tok".into(),
                proof_encrypted: "iv:data".into(),
            })
        );
        assert_eq!(read_candidates(&Object::new()), Candidates::default());
    }
}
