//! Feeds arbitrary bytes to everything in the protocol crate that reads untrusted input:
//!
//! - the finder frame decoders (TCP stream frames and WebSocket relay frames), on the raw bytes;
//! - the JSON parser, on the bytes as UTF-8;
//! - the C14 canonical renderer, checking that it is idempotent: the wrapped canonical form
//!   `{"d":…}` parses again and renders to exactly the same string (a violation panics: two
//!   parties would then digest different bytes for the same document);
//! - `verify_bundle` with `InlineKey`, on every object anywhere in the document that holds a
//!   `signature` object, for each of its other members;
//! - `CertificateSet::from_certificates_get` when there is a `certificates` member, and
//!   `PublicPeerFile::validate` when there is a `peer` member (with those certificates when they
//!   verified, and without).
//!
//! Nothing but the idempotence check may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openpeer_protocol::canonical::{canon_object, render_object};
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::finder::{TcpFrameDecoder, decode_relay_frame};
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::signature::{InlineKey, verify_bundle};
use openpeer_protocol::uri::DomainName;

/// Validation time for peer files and certificates (inside the seeds' lifetimes).
const NOW: u64 = 1_800_000_000;
/// The receiver limit used for TCP frames.
const MAX_PAYLOAD: u32 = 65_536;
/// The domain the seeds' certificates belong to.
const DOMAIN: &str = "example.org";

fuzz_target!(|data: &[u8]| {
    frames(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse(text) else {
        return;
    };
    canonical_is_idempotent(&doc);
    verify_all_bundles(&doc, 0);
    let certificates = doc.get_object("certificates").and_then(|_| {
        let domain = DomainName::parse(DOMAIN).ok()?;
        CertificateSet::from_certificates_get(&domain, &doc, NOW).ok()
    });
    if doc.contains_key("peer") {
        let _ = PublicPeerFile::validate(&doc, NOW, None);
        if let Some(certificates) = &certificates {
            let _ = PublicPeerFile::validate(&doc, NOW, Some(certificates));
        }
    }
});

fn frames(data: &[u8]) {
    // Pushed whole or in pieces, the same stream must give the same frames.
    let mut whole = TcpFrameDecoder::new(MAX_PAYLOAD);
    whole.push(data);
    let mut split = TcpFrameDecoder::new(MAX_PAYLOAD);
    let mut from_split = Vec::new();
    for chunk in data.chunks(7) {
        split.push(chunk);
        while let Ok(Some(frame)) = split.pop() {
            from_split.push(frame);
        }
    }
    let mut from_whole = Vec::new();
    while let Ok(Some(frame)) = whole.pop() {
        let _ = (frame.is_close(), frame.is_keep_alive());
        from_whole.push(frame);
    }
    assert_eq!(
        from_whole.len(),
        from_split.len(),
        "chunked TCP frame decoding differs"
    );
    for (a, b) in from_whole.iter().zip(&from_split) {
        assert_eq!(
            (a.channel, &a.payload),
            (b.channel, &b.payload),
            "chunked TCP frame decoding differs"
        );
    }
    if let Ok((channel, payload)) = decode_relay_frame(data) {
        assert_ne!(channel, 0, "relay frame on the control channel accepted");
        assert_eq!(payload.len() + 4, data.len());
    }
}

fn canonical_is_idempotent(doc: &Object) {
    let rendered = render_object(doc);
    let wrapped = canon_object("d", doc);
    assert_eq!(wrapped, format!("{{\"d\":{rendered}}}"));
    let reparsed = match parse(&wrapped) {
        Ok(reparsed) => reparsed,
        // Wrapping adds one level of nesting; at the parser's depth limit that is our doing.
        Err(e) if e.reason == "nested too deeply" => return,
        Err(e) => panic!("canonical form does not parse again: {e}\ncanonical: {wrapped:?}"),
    };
    let again = render_object(&reparsed);
    assert_eq!(
        again, wrapped,
        "canonical rendering is not idempotent\nfirst:  {wrapped:?}\nsecond: {again:?}"
    );
}

/// `verify_bundle` on every object holding a `signature` object, for each other member name.
fn verify_all_bundles(object: &Object, depth: usize) {
    if depth > 80 {
        return;
    }
    if object.get_object("signature").is_some() {
        for (name, _) in object.iter().filter(|(name, _)| *name != "signature") {
            let _ = verify_bundle(object, name, &InlineKey);
        }
    }
    for (_, value) in object.iter() {
        verify_values(value, depth + 1);
    }
}

fn verify_values(value: &Value, depth: usize) {
    match value {
        Value::Object(o) => verify_all_bundles(o, depth),
        Value::Array(items) => items.iter().for_each(|v| verify_values(v, depth)),
        _ => {}
    }
}
