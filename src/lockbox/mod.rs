//! The lockbox's storage and access tokens (spec §6.7), shared by its service, the rolodex
//! (whose tokens and grant challenges live in the same tables) and the peer services.

pub mod repo;
pub mod tokens;
