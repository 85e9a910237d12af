//! The finder (spec §6.11, architecture §4): peers register their locations over a WebSocket at
//! `/finder` and the finder introduces them to each other, then drops out.

pub mod registry;
pub mod session;
pub mod socket;
