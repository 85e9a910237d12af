//! What crosses a domain boundary (architecture §4 "Federation", §6): the gateway, the Rust
//! peer and the federation bridge all stand on this crate, so none of them copies another.
//!
//! * [`http`]: the one outbound HTTP client (surf on rustls, WebPKI roots plus extra roots, a
//!   timeout and a body cap per request, no redirects followed behind the caller's back).
//! * [`discovery`]: a domain's `services-get` (POST, GET fallback, at most five 302 redirects)
//!   and `certificates-get`, and calling a method at the URI `services-get` listed.
//! * [`trust`]: the remote domains a gateway deals with — per-domain base-URL overrides, SPKI
//!   pins, the `open`/`allowlist`/`denylist` policy, certificates verified and cached (behind
//!   a repository the gateway's store implements), bounded concurrency.
//! * [`finder_link`]: a WebSocket to a finder (a peer's session, a relay channel, or one finder's
//!   link to another's `/federation/link`).
//! * [`backoff`]: when a failing domain (or link) is tried again.
//! * [`clock`]: the wall clock, read in one place.
//!
//! It never depends on tide, sea-orm or the gateway crate; nothing received from another
//! domain is handed out before it verifies under that domain's certificates.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backoff;
pub mod clock;
pub mod discovery;
mod error;
pub mod finder_link;
pub mod http;
pub mod trust;

pub use error::{Error, result_body};
