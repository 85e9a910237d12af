//! openpeer-gateway: the domain side of Open Peer. This library holds everything the binary
//! runs; `main.rs` only parses the command line.
#![forbid(unsafe_code)]

pub mod commands;
