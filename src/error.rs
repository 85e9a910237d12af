//! The gateway's one error type and its one mapping to wire codes (style "Apply here" 5): a
//! service refuses with a protocol code, or fails inside, which is logged and answered with 500
//! without detail.

use openpeer_protocol::error::{Error as ProtocolError, ResultCode};

use crate::keys::KeyRingError;
use crate::store::StoreError;

/// Why a request was not answered with a result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is refused for a protocol reason the peer may know.
    #[error("{code}: {reason}")]
    Refused {
        /// The result code.
        code: ResultCode,
        /// A short reason for the peer.
        reason: &'static str,
        /// `location` of a 302.
        location: Option<String>,
    },
    /// The input broke a protocol rule.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key ring failed.
    #[error(transparent)]
    Keys(#[from] KeyRingError),
    /// Another domain could not be reached, refused, or is not trusted.
    #[error("remote domain: {0}")]
    Remote(#[from] openpeer_federation::Error),
}

impl Error {
    /// A refusal with a reason.
    pub fn refused(code: ResultCode, reason: &'static str) -> Error {
        Error::Refused {
            code,
            reason,
            location: None,
        }
    }

    /// The wire code, and the reason a peer is told: internal failures say nothing more.
    pub fn wire(&self) -> (ResultCode, &'static str) {
        match self {
            Error::Refused { code, reason, .. } => (*code, reason),
            Error::Protocol(e) => (e.result_code(), e.result_code().reason()),
            Error::Store(_) | Error::Keys(_) => (
                ResultCode::InternalError,
                ResultCode::InternalError.reason(),
            ),
            Error::Remote(e) => remote_wire(e),
        }
    }

    /// The `location` of a redirect.
    pub fn location(&self) -> Option<&str> {
        match self {
            Error::Refused { location, .. } => location.as_deref(),
            _ => None,
        }
    }
}

/// What a peer is told when another domain fails us: 403 when that domain is refused or does
/// not verify, its own code when it refused, else 480 (spec §1.3: temporarily unavailable).
fn remote_wire(e: &openpeer_federation::Error) -> (ResultCode, &'static str) {
    use openpeer_federation::Error as F;
    match e {
        F::Denied => (
            ResultCode::Forbidden,
            "the federation policy does not allow that domain",
        ),
        F::Untrusted(_) | F::PinMismatch => (
            ResultCode::Forbidden,
            "the remote domain's certificates or signatures do not verify",
        ),
        F::Refused { code, .. } => match ResultCode::from_code(*code) {
            Some(code) if code != ResultCode::InternalError => {
                (code, "refused by the remote domain")
            }
            _ => (
                ResultCode::TemporarilyUnavailable,
                "the remote domain failed; try again later",
            ),
        },
        F::Timeout(_) => (
            ResultCode::TemporarilyUnavailable,
            "the remote domain did not answer in time; try again later",
        ),
        F::Malformed(_) => (
            ResultCode::TemporarilyUnavailable,
            "the remote domain answered something unusable; try again later",
        ),
        F::Config(_)
        | F::Http(_)
        | F::HttpStatus(_)
        | F::NoFinder
        | F::Link(_)
        | F::LinkClosed
        | F::Io(_) => (
            ResultCode::TemporarilyUnavailable,
            "the remote domain is unreachable; try again later",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_failures_reveal_nothing() {
        let store = Error::Store(StoreError::Corrupt {
            table: "t",
            reason: "secret detail".into(),
        });
        assert_eq!(
            store.wire(),
            (ResultCode::InternalError, "Internal Server Error")
        );
        let refused = Error::refused(ResultCode::NotFound, "unknown domain");
        assert_eq!(refused.wire(), (ResultCode::NotFound, "unknown domain"));
        let parse = Error::Protocol(openpeer_protocol::json::parse("{").unwrap_err().into());
        assert_eq!(parse.wire().0, ResultCode::BadRequest);
    }
}
