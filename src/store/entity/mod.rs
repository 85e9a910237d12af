//! sea-orm entities: the table shapes of `migrations/`. They never leave `store/`.

pub mod access_token;
pub mod domain_key;
pub mod finder_location;
pub mod finder_node;
pub mod grant_challenge;
pub mod identity;
pub mod identity_lockbox_key;
pub mod issued_salt;
pub mod local_account;
pub mod lockbox_account;
pub mod lockbox_grant;
pub mod lockbox_identity;
pub mod lockbox_value;
pub mod lookup_entry;
pub mod pending_login;
pub mod relogin_key;
pub mod remote_certificates;
pub mod rolodex_contact;
pub mod service_token;
pub mod used_nonce;
