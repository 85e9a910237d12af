//! The crate's one error type and the result codes it maps to (spec §1.3; style "Apply here" 5).
//!
//! Every module keeps its own small cause enum; [`Error`] folds them together by `From`, and
//! [`Error::result_code`] is the only place that decides which wire code a failure becomes.

use std::fmt;

use crate::certificates::CertificateError;
use crate::cipher::CipherError;
use crate::finder::FrameError;
use crate::json::ParseError;
use crate::lockbox::LockboxError;
use crate::message::EnvelopeError;
use crate::peer_file::PeerFileError;
use crate::proof::ProofError;
use crate::signature::{KeyError, SignatureError};
use crate::uri::UriError;

/// A result code of the `error` element (spec §1.3 "Codes"), written as its `$id`.
///
/// The §1.3 list, plus 410 (a peer's answer to an invalid find, §1.3), 413 (a body or frame over
/// the receiver's limit, §6.11), 500 (our own failure) and 501 (unknown handler/method, §1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 301: the peer contact moved; re-resolve the identity.
    MovedPermanently = 301,
    /// 302: `services-get` redirect; the error carries `location`.
    Found = 302,
    /// 400: bad request, including a known method with an unparseable body.
    BadRequest = 400,
    /// 401: a security check failed (wrong clock, expired proof).
    Unauthorized = 401,
    /// 403: forbidden, the data is invalid (bad signature, key or URI).
    Forbidden = 403,
    /// 404: contact, session or resource not found.
    NotFound = 404,
    /// 409: version conflict.
    Conflict = 409,
    /// 410: a peer refuses an invalid find (C14 `stepRespondToPeerLocationFindReqests`).
    Gone = 410,
    /// 413: a request body or finder frame over the receiver's size limit.
    PayloadTooLarge = 413,
    /// 424: "Failed Rolodex Token Dependency"; the client refreshes its rolodex `serverToken`.
    FailedDependency = 424,
    /// 426: upgrade required (expired certificates, outdated request).
    UpgradeRequired = 426,
    /// 480: temporarily unavailable; may carry a retry expiry.
    TemporarilyUnavailable = 480,
    /// 500: the server failed; the detail stays in its logs.
    InternalError = 500,
    /// 501: unknown handler or method (C14 `MessageFactoryManager`).
    NotImplemented = 501,
}

impl ResultCode {
    /// Every code, in ascending order.
    pub const ALL: [ResultCode; 14] = [
        ResultCode::MovedPermanently,
        ResultCode::Found,
        ResultCode::BadRequest,
        ResultCode::Unauthorized,
        ResultCode::Forbidden,
        ResultCode::NotFound,
        ResultCode::Conflict,
        ResultCode::Gone,
        ResultCode::PayloadTooLarge,
        ResultCode::FailedDependency,
        ResultCode::UpgradeRequired,
        ResultCode::TemporarilyUnavailable,
        ResultCode::InternalError,
        ResultCode::NotImplemented,
    ];

    /// The numeric code written as the error's `$id`.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The code for a number read from the wire, if it is one we know.
    pub fn from_code(code: u16) -> Option<ResultCode> {
        ResultCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The standard reason phrase, written as the error's `#text` when the caller gives none.
    pub fn reason(self) -> &'static str {
        match self {
            ResultCode::MovedPermanently => "Moved Permanently",
            ResultCode::Found => "Found",
            ResultCode::BadRequest => "Bad Request",
            ResultCode::Unauthorized => "Unauthorized",
            ResultCode::Forbidden => "Forbidden",
            ResultCode::NotFound => "Not Found",
            ResultCode::Conflict => "Conflict",
            ResultCode::Gone => "Gone",
            ResultCode::PayloadTooLarge => "Payload Too Large",
            ResultCode::FailedDependency => "Failed Dependency",
            ResultCode::UpgradeRequired => "Upgrade Required",
            ResultCode::TemporarilyUnavailable => "Temporarily Unavailable",
            ResultCode::InternalError => "Internal Server Error",
            ResultCode::NotImplemented => "Not Implemented",
        }
    }
}

impl fmt::Display for ResultCode {
    /// `"404 Not Found"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

/// Every failure of the crate, grouped by cause (style "Apply here" 5).
///
/// The variants carry detail for logs and tests; toward a peer only [`Error::result_code`] and
/// a generic reason leave the process.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not a JSON document of the object model (spec §1.1).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The document is not a well-formed message envelope, or names no known method (spec §1.2).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A signed bundle did not verify (spec §2.2).
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A key encoding was refused (spec §2).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A domain name or URI was refused (spec §3).
    #[error(transparent)]
    Uri(#[from] UriError),
    /// An access-secret or find proof was refused (spec §5).
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A `splitEncrypt` value was malformed (spec §2).
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// A finder frame was refused (spec §6.11).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A peer file broke a rule of spec §4.
    #[error(transparent)]
    PeerFile(#[from] PeerFileError),
    /// A `certificates-get` document did not verify (spec §6.2).
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// A lockbox `namespaces` element was refused (spec §6.7).
    #[error(transparent)]
    Lockbox(#[from] LockboxError),
}

impl Error {
    /// The wire code for this failure: the one `Error → ResultCode` mapping of the crate
    /// (style "Apply here" 5; codes of spec §1.3).
    ///
    /// * Unparseable JSON or a malformed envelope → 400 (§1.3 "bad request"); an unknown
    ///   handler or method → 501 (§1.3, C14 `MessageFactoryManager`).
    /// * A signature, key or URI that does not check out → 403, "data invalid" (§1.3).
    /// * An expired proof → 401, "security check failed … expired proof" (§1.3); a proof that
    ///   does not match → 403, the presented data is invalid.
    /// * A malformed `splitEncrypt` value → 400.
    /// * A frame over the size limit → 413; any other framing fault → 400.
    /// * A peer file or certificate that breaks a rule → 403; an expired peer file → 401.
    /// * A malformed lockbox `namespaces` element → 400.
    pub fn result_code(&self) -> ResultCode {
        match self {
            Error::Parse(_) => ResultCode::BadRequest,
            Error::Envelope(
                EnvelopeError::UnknownHandler { .. } | EnvelopeError::UnknownMethod { .. },
            ) => ResultCode::NotImplemented,
            Error::Envelope(_) => ResultCode::BadRequest,
            Error::Signature(_) | Error::Key(_) | Error::Uri(_) => ResultCode::Forbidden,
            Error::Proof(ProofError::Expired) => ResultCode::Unauthorized,
            Error::Proof(ProofError::Mismatch) => ResultCode::Forbidden,
            Error::Cipher(_) => ResultCode::BadRequest,
            Error::Frame(FrameError::Oversize { .. }) => ResultCode::PayloadTooLarge,
            Error::Frame(_) => ResultCode::BadRequest,
            Error::PeerFile(PeerFileError::Expired) => ResultCode::Unauthorized,
            Error::PeerFile(_) | Error::Certificate(_) => ResultCode::Forbidden,
            Error::Lockbox(_) => ResultCode::BadRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_ascending() {
        for code in ResultCode::ALL {
            assert_eq!(ResultCode::from_code(code.code()), Some(code));
        }
        let numbers: Vec<u16> = ResultCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(
            numbers,
            [
                301, 302, 400, 401, 403, 404, 409, 410, 413, 424, 426, 480, 500, 501
            ]
        );
        assert_eq!(ResultCode::from_code(200), None);
        assert_eq!(ResultCode::from_code(999), None);
    }

    #[test]
    fn reasons_are_the_standard_phrases() {
        assert_eq!(ResultCode::NotFound.reason(), "Not Found");
        assert_eq!(ResultCode::Found.reason(), "Found");
        assert_eq!(ResultCode::BadRequest.reason(), "Bad Request");
        assert_eq!(
            ResultCode::TemporarilyUnavailable.reason(),
            "Temporarily Unavailable"
        );
        assert_eq!(ResultCode::FailedDependency.reason(), "Failed Dependency");
        assert_eq!(
            ResultCode::NotImplemented.to_string(),
            "501 Not Implemented"
        );
    }

    #[test]
    fn every_cause_maps_to_its_code() {
        let cases: Vec<(Error, u16)> = vec![
            (
                ParseError {
                    offset: 0,
                    reason: "x",
                }
                .into(),
                400,
            ),
            (EnvelopeError::RootNotObject.into(), 400),
            (
                EnvelopeError::MissingAttribute { name: "$method" }.into(),
                400,
            ),
            (
                EnvelopeError::UnknownHandler {
                    handler: "x".into(),
                }
                .into(),
                501,
            ),
            (
                EnvelopeError::UnknownMethod {
                    handler: "peer".into(),
                    method: "x".into(),
                }
                .into(),
                501,
            ),
            (SignatureError::BadSignature.into(), 403),
            (KeyError::Malformed.into(), 403),
            (UriError::Peer.into(), 403),
            (ProofError::Expired.into(), 401),
            (ProofError::Mismatch.into(), 403),
            (CipherError::BadBase64.into(), 400),
            (FrameError::Oversize { len: 2, max: 1 }.into(), 413),
            (FrameError::Truncated.into(), 400),
            (FrameError::ControlChannelInBinary.into(), 400),
        ];
        for (error, code) in cases {
            assert_eq!(error.result_code().code(), code, "{error:?}");
        }
    }
}
