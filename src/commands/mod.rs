//! Offline commands of the CLI: each takes its parsed arguments and returns what to print, so
//! `main.rs` stays a thin shell and tests can call them directly.

pub mod canonical;
pub mod load;
pub mod peer;
pub mod peer_file;
pub mod serve;

use std::io::Read as _;
use std::path::Path;

/// A command that could not do its work; the message goes to stderr and the process exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl CommandError {
    /// An error whose message starts with a rule name (`malformed: …`).
    pub fn rule(rule: &str, detail: impl std::fmt::Display) -> CommandError {
        CommandError(format!("{rule}: {detail}"))
    }
}

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &Path) -> Result<String, CommandError> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| CommandError(format!("cannot read {}: {e}", path.display())))?;
    Ok(text)
}

/// Parses a JSON document of the Open Peer object model, naming the file on failure.
pub fn parse_document(
    path: &Path,
    text: &str,
) -> Result<openpeer_protocol::json::Object, CommandError> {
    openpeer_protocol::json::parse(text)
        .map_err(|e| CommandError::rule("malformed", format_args!("{}: {e}", path.display())))
}
