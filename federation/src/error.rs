//! The crate's one error type: why a call to another domain (or a finder) failed.

use std::time::Duration;

use openpeer_protocol::json::Object;
use openpeer_protocol::message::{Message, MessageKind};

/// Why talking to a domain or a finder failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Settings that cannot work (bad URL, unreadable roots, zero timeout).
    #[error("invalid federation settings: {0}")]
    Config(String),
    /// The domain's HTTP endpoint could not be reached or gave no usable HTTP answer.
    #[error("domain request failed: {0}")]
    Http(String),
    /// The domain answered with an HTTP status other than 200 and a body.
    #[error("domain answered with HTTP status {0}")]
    HttpStatus(u16),
    /// The answer is not the document the protocol promises.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// The domain or finder answered with a protocol error result (spec §1.3).
    #[error("refused with {code}: {reason}")]
    Refused {
        /// The result code.
        code: u16,
        /// The reason text the server gave.
        reason: String,
    },
    /// A signature or certificate of the domain did not verify.
    #[error("the domain's {0} does not verify")]
    Untrusted(&'static str),
    /// The domain's certificates key is not one of its configured pins.
    #[error("the domain's certificates key does not match its pins")]
    PinMismatch,
    /// The federation policy does not allow this domain.
    #[error("the federation policy does not allow this domain")]
    Denied,
    /// `finders-get` listed no finder whose entry verifies and that speaks WebSocket.
    #[error("the domain lists no usable finder")]
    NoFinder,
    /// A WebSocket to a finder could not be opened or failed.
    #[error("finder link: {0}")]
    Link(String),
    /// The link closed before the answer came.
    #[error("the finder link is closed")]
    LinkClosed,
    /// No answer within the configured time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// A socket operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// The body of a successful result, or its error (spec §1.3) as [`Error::Refused`].
pub fn result_body(message: Message) -> Result<Object, Error> {
    if message.envelope.kind != MessageKind::Result {
        return Err(Error::Malformed("not a result"));
    }
    match message.error() {
        None => Ok(message.body),
        Some(Ok(error)) => Err(Error::Refused {
            code: error.code,
            reason: error.reason,
        }),
        Some(Err(_)) => Err(Error::Malformed("error element")),
    }
}
