//! `openpeer-gateway canonical <FILE|->`: the C14 canonical JSON of a document (spec §2.1), for
//! checking signatures by hand and comparing implementations.

use std::path::Path;

use openpeer_protocol::canonical::render_object;

use super::{CommandError, parse_document, read_input};

/// The canonical rendering of the document at `path`, followed by one newline.
pub fn run(path: &Path) -> Result<String, CommandError> {
    let text = read_input(path)?;
    let document = parse_document(path, &text)?;
    Ok(format!("{}\n", render_object(&document)))
}
