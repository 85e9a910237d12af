//! openpeer-gateway: the domain side of Open Peer. This library holds everything the binary
//! runs; `main.rs` only parses the command line.
#![forbid(unsafe_code)]

pub mod app;
pub mod bridge;
pub mod commands;
pub mod config;
pub mod envelope;
pub mod error;
pub mod finder;
pub mod gateway;
pub mod http;
pub mod identity;
pub mod keys;
pub mod lockbox;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod peer;
pub mod rolodex;
pub mod services;
pub mod store;
