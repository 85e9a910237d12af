//! TURN credentials for `peer-services-get` (spec §6.10) in the TURN REST API form, so that a
//! stock TURN server holding the same shared secret (coturn's `use-auth-secret`) accepts them
//! without asking the gateway: the username carries its own expiry and the password is an HMAC
//! of the username.

use hmac::{Hmac, Mac as _};
use sha1::Sha1;

use crate::encoding::to_base64;

type HmacSha1 = Hmac<Sha1>;

/// The TURN username `"{expires}:{account}"` (spec §6.10): the server reads the expiry, in Unix
/// seconds, from the part before the first `:` and refuses the credentials after it.
pub fn turn_rest_username(expires: u64, account: &str) -> String {
    format!("{expires}:{account}")
}

/// The TURN password for `username` (spec §6.10): standard padded base64 of
/// HMAC-SHA1(key = the secret shared with the TURN server, message = the username).
pub fn turn_rest_password(shared_secret: &str, username: &str) -> String {
    let mut mac = HmacSha1::new_from_slice(shared_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    to_base64(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_puts_the_expiry_first() {
        assert_eq!(turn_rest_username(1_700_000_000, "acct"), "1700000000:acct");
    }

    #[test]
    fn password_matches_an_independent_hmac() {
        // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"secret",b"1700000000:acct",hashlib.sha1).digest()).decode())'
        assert_eq!(
            turn_rest_password("secret", "1700000000:acct"),
            "j7TENIQze0ACMuJ6B1YUVbCjFhg="
        );
    }
}
