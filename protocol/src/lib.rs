//! The Open Peer wire model and cryptography, exact to the byte, with no I/O.
//!
//! Everything the gateway, its tests and a client SDK must agree on lives here: the
//! `$attribute`/`#text` JSON object model ([`json`]), the C14 canonical rendering
//! ([`canonical`]), the two signature suites ([`signature`]), URIs ([`uri`]), peer files
//! ([`peer_file`]), the access-secret and find proofs ([`proof`]), the symmetric ciphers
//! ([`cipher`]) and the message envelope ([`message`]). Section numbers in doc comments point
//! into `shared/spec/openpeer-protocol.md`.
//!
//! The crate reads no clock and no OS randomness: callers pass `now` (Unix seconds) and a
//! cryptographically secure random source.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bootstrapper;
pub mod canonical;
pub mod certificates;
pub mod cipher;
pub mod derivation;
pub mod dev;
pub mod encoding;
pub mod error;
pub mod finder;
pub mod identity_lookup;
pub mod json;
pub mod link;
pub mod lockbox;
pub mod message;
pub mod namespace_grant;
pub mod peer_file;
pub mod peer_location_find;
pub mod proof;
pub mod random;
pub mod salt;
pub mod seal;
pub mod signature;
pub mod turn;
pub mod uri;
