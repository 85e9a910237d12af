//! The identity service: local accounts, provider logins, access tokens and identity lookup.

pub mod access;
pub mod local;
pub mod login;
pub mod providers;
pub mod repo;
