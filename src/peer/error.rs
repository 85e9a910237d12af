//! The peer client's one error type: what a caller of [`super::Peer`] or
//! [`super::Connection`] is told, with [`Rejection`] grouping why a document from another peer
//! (or relayed by a finder) was refused.

use std::time::Duration;

use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::Message;
use openpeer_protocol::peer_file::PeerFileError;

/// Why a peer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The options cannot work (bad base URL, domain name, bind address).
    #[error("invalid peer options: {0}")]
    Options(String),
    /// The domain's HTTP endpoint could not be reached or gave no usable HTTP answer.
    #[error("domain request failed: {0}")]
    Http(String),
    /// The domain or finder answered something that is not the document the protocol promises.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// The domain or finder answered with a protocol error result (spec §1.3).
    #[error("refused with {code}: {reason}")]
    Refused {
        /// The result code, e.g. 404 when the target has no findable location.
        code: u16,
        /// The reason text the server gave.
        reason: String,
    },
    /// A signature or certificate of the domain did not verify: the domain cannot be trusted.
    #[error("the domain's {0} does not verify")]
    Untrusted(&'static str),
    /// `finders-get` listed no finder whose entry verifies and that speaks WebSocket.
    #[error("the domain lists no usable finder")]
    NoFinder,
    /// The WebSocket to a finder could not be opened or failed.
    #[error("finder link: {0}")]
    Link(String),
    /// The finder link closed before the answer came.
    #[error("the finder link is closed")]
    LinkClosed,
    /// No answer within the configured time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// A socket operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A document from the other peer was refused.
    #[error("refused the other peer's answer: {0}")]
    Rejected(#[from] Rejection),
    /// The target's public peer file has no find secret (Section B), or a key no secret can be
    /// sealed to: nobody can find it.
    #[error("the target peer is not findable")]
    NotFindable,
    /// Local key generation failed.
    #[error("local cryptography failed: {0}")]
    Crypto(&'static str),
    /// Neither the direct path nor the finder relay reached the other peer.
    #[error("the peer could not be reached directly or through the relay")]
    Unreachable,
    /// The connection (or the peer) is closed.
    #[error("the connection is closed")]
    Closed,
    /// An application datagram is larger than one datagram can carry.
    #[error("a datagram carries at most {max} bytes, got {len}")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why a document from another peer was refused. Coarse toward the sender (see
/// [`Rejection::result_code`]); the variant is for our logs and tests.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A required element is missing or of the wrong type.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A find for another peer than this one.
    #[error("the find is for another peer")]
    NotForMe,
    /// A find secret, relay proof or decryption did not match what this peer knows.
    #[error("wrong secret or proof")]
    WrongSecret,
    /// Past its `expires`, or with an expiry further away than accepted.
    #[error("expired or too long-lived")]
    Expired,
    /// A nonce already used, or a datagram sequence not above the last one.
    #[error("replayed")]
    Replayed,
    /// The signature is not by the key it must be by.
    #[error("signature does not verify")]
    BadSignature,
    /// Refers to no find, context, channel or connection this peer knows.
    #[error("no matching find or connection")]
    UnknownFind,
    /// The included public peer file breaks a rule of spec §4.1.
    #[error("peer file: {0}")]
    PeerFile(#[from] PeerFileError),
}

impl Rejection {
    /// The code a refused find is answered with: 400 for a malformed one, else 410 Gone as C14
    /// answers an invalid find (spec §1.3, §6.11).
    pub fn result_code(&self) -> ResultCode {
        match self {
            Rejection::Malformed(_) => ResultCode::BadRequest,
            _ => ResultCode::Gone,
        }
    }
}

impl From<openpeer_federation::Error> for PeerError {
    fn from(e: openpeer_federation::Error) -> Self {
        use openpeer_federation::Error as F;
        match e {
            F::Config(why) => PeerError::Options(why),
            F::Http(why) => PeerError::Http(why),
            F::HttpStatus(status) => PeerError::Http(format!("HTTP status {status}")),
            F::Malformed(what) => PeerError::Malformed(what),
            F::Refused { code, reason } => PeerError::Refused { code, reason },
            F::Untrusted(what) => PeerError::Untrusted(what),
            F::PinMismatch => PeerError::Untrusted("pinned certificates key"),
            F::Denied => PeerError::Refused {
                code: 403,
                reason: e.to_string(),
            },
            F::NoFinder => PeerError::NoFinder,
            F::Link(why) => PeerError::Link(why),
            F::LinkClosed => PeerError::LinkClosed,
            F::Timeout(limit) => PeerError::Timeout(limit),
            F::Io(e) => PeerError::Io(e),
        }
    }
}

/// The body of a successful result, or its error (spec §1.3) as [`PeerError::Refused`].
pub(crate) fn result_body(message: Message) -> Result<Object, PeerError> {
    Ok(openpeer_federation::result_body(message)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_finds_are_400_or_410() {
        assert_eq!(
            Rejection::Malformed("x").result_code(),
            ResultCode::BadRequest
        );
        for r in [
            Rejection::NotForMe,
            Rejection::WrongSecret,
            Rejection::Expired,
            Rejection::Replayed,
        ] {
            assert_eq!(r.result_code().code(), 410, "{r}");
        }
    }
}
