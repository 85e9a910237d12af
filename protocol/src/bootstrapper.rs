//! The bootstrapper (spec §3, §6.1): where a domain's `services-get` lives, and the service types
//! whose keys a domain publishes in `certificates-get` (§6.2).

use std::fmt;

/// The path of `services-get` under a domain's base URL (spec §3 "Locating a domain's
/// bootstrapper").
pub const WELL_KNOWN_PATH: &str = "/.well-known/openpeer-services-get";

/// A service type with a key of its own, named in certificates and `{$id, domain, service}` key
/// references (spec §2.2, §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceType {
    /// Signs the certificates of all the others (`bootstrapper`/`certificates`).
    Certificates,
    /// Signs salts.
    Salt,
    /// Signs finder entries, finder results and finder-to-finder `link-hello`s.
    Finder,
    /// Signs identity proofs.
    Identity,
    /// Signs identity lookup results.
    IdentityLookup,
    /// Signs namespace grant challenges.
    NamespaceGrant,
}

impl ServiceType {
    /// Every service type, certificates first.
    pub const ALL: [ServiceType; 6] = [
        ServiceType::Certificates,
        ServiceType::Salt,
        ServiceType::Finder,
        ServiceType::Identity,
        ServiceType::IdentityLookup,
        ServiceType::NamespaceGrant,
    ];

    /// The `service` value of certificates and key references.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Certificates => "certificates",
            ServiceType::Salt => "salt",
            ServiceType::Finder => "finder",
            ServiceType::Identity => "identity",
            ServiceType::IdentityLookup => "identity-lookup",
            ServiceType::NamespaceGrant => "namespace-grant",
        }
    }

    /// Parses a `service` value.
    pub fn parse(name: &str) -> Option<ServiceType> {
        ServiceType::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for service in ServiceType::ALL {
            assert_eq!(ServiceType::parse(service.as_str()), Some(service));
        }
        assert_eq!(ServiceType::parse("bootstrapper"), None);
    }
}
