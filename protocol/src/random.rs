//! Random identifiers of the wire (spec §2): `randomString(n)`, nonces and message ids.
//!
//! The caller passes the random source, so this crate never reads OS randomness itself; use a
//! cryptographically secure one (`rand_core::OsRng`) outside tests.

use rand_core::{CryptoRng, RngCore};

use crate::encoding::to_hex;

const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `n` characters from `[0-9a-zA-Z]`, uniformly (C14 `services::IHelper::randomString`).
pub fn random_string(rng: &mut (impl RngCore + CryptoRng), n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        // 248 = 4 × 62: rejecting the top values keeps every character equally likely.
        if byte[0] < 248 {
            out.push(char::from(ALPHABET[usize::from(byte[0] % 62)]));
        }
    }
    out
}

/// `n` random bytes.
pub fn random_bytes(rng: &mut (impl RngCore + CryptoRng), n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    rng.fill_bytes(&mut out);
    out
}

/// A one-time nonce: hex of 16 random bytes (C14 `nonce` elements).
pub fn nonce(rng: &mut (impl RngCore + CryptoRng)) -> String {
    to_hex(&random_bytes(rng, 16))
}

/// A message `$id`: 32 random characters (C14 `createDocumentWithRoot`).
pub fn message_id(rng: &mut (impl RngCore + CryptoRng)) -> String {
    random_string(rng, 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn random_string_has_the_length_and_alphabet() {
        let s = random_string(&mut OsRng, 52);
        assert_eq!(s.len(), 52);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(s, random_string(&mut OsRng, 52));
    }

    #[test]
    fn nonce_is_32_lowercase_hex_digits() {
        let n = nonce(&mut OsRng);
        assert_eq!(n.len(), 32);
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(message_id(&mut OsRng).len(), 32);
    }
}
