//! The byte encodings of the wire (spec §2): lowercase hex, standard padded base64, and the
//! constant-time, case-insensitive comparison every hex proof is checked with.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq as _;

/// Lowercase hex, the form every digest and proof is emitted in (C14 `convertToHex`).
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Decodes hex in either case (an April 2013 C++ file shows upper-case proofs).
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

/// Standard alphabet, padded, no line breaks (spec §2).
pub fn to_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard padded base64; anything else is refused.
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// Compares a presented hex proof with the expected one in constant time, ignoring case.
///
/// `expected` must be lowercase hex as produced by [`to_hex`].
pub fn hex_proof_matches(expected: &str, presented: &str) -> bool {
    if expected.len() != presented.len() {
        return false;
    }
    let lowered: Vec<u8> = presented.bytes().map(|b| b.to_ascii_lowercase()).collect();
    bool::from(expected.as_bytes().ct_eq(&lowered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_decodes_either_case() {
        assert_eq!(to_hex(&[0xab, 0x01]), "ab01");
        assert_eq!(from_hex("AB01"), Some(vec![0xab, 0x01]));
        assert_eq!(from_hex("ab0"), None);
    }

    #[test]
    fn base64_is_standard_and_padded() {
        assert_eq!(to_base64(b"ab"), "YWI=");
        assert_eq!(from_base64("YWI="), Some(b"ab".to_vec()));
        assert_eq!(from_base64("YWI"), None);
        assert_eq!(from_base64("Y W I="), None);
    }

    #[test]
    fn proofs_compare_case_insensitively() {
        assert!(hex_proof_matches("ab01", "AB01"));
        assert!(hex_proof_matches("ab01", "ab01"));
        assert!(!hex_proof_matches("ab01", "ab02"));
        assert!(!hex_proof_matches("ab01", "ab0"));
    }
}
