//! sea-orm entities: the table shapes of `migrations/`. They never leave `store/`.

pub mod domain_key;
pub mod finder_node;
pub mod issued_salt;
