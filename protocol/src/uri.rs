//! Domain names, `peer:` and `identity:` URIs (spec §3), as newtypes that only a checking
//! constructor makes, always held in normalised form.

use std::fmt;
use std::str::FromStr;

/// Why a name or URI was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a DNS name of letters, digits and hyphens.
    #[error("invalid domain name")]
    Domain,
    /// Not `peer://<domain>/<contact id>`.
    #[error("invalid peer URI")]
    Peer,
    /// Not an `identity:` URI.
    #[error("invalid identity URI")]
    Identity,
    /// `?`, `;` or `#` appears: reserved for future extensions (spec §3).
    #[error("reserved character in URI")]
    Reserved,
}

/// A DNS domain name, lower-cased: the `$domain` of messages and the domain of URIs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomainName(String);

impl DomainName {
    /// Checks and lower-cases a name: 1–253 characters, labels of 1–63 letters, digits and inner
    /// hyphens.
    pub fn parse(text: &str) -> Result<DomainName, UriError> {
        let lower = text.to_ascii_lowercase();
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if lower.is_empty() || lower.len() > 253 || !lower.split('.').all(label_ok) {
            return Err(UriError::Domain);
        }
        Ok(DomainName(lower))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DomainName {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DomainName::parse(s)
    }
}

/// `peer://<domain>/<contact id>`: a peer, named by the hash of its Section A (spec §3, §4.1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerUri {
    domain: DomainName,
    contact_id: String,
}

impl PeerUri {
    /// A URI from its parts; the contact id must be 40 or 64 hex digits (lower-cased here).
    pub fn new(domain: DomainName, contact_id: &str) -> Result<PeerUri, UriError> {
        let is_hex = contact_id.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex || !(contact_id.len() == 64 || contact_id.len() == 40) {
            return Err(UriError::Peer);
        }
        Ok(PeerUri {
            domain,
            contact_id: contact_id.to_ascii_lowercase(),
        })
    }

    /// Parses `peer://domain/contactid`; the reserved extensions (`/resource`, `?`, `;`, `#`)
    /// are refused until the protocol defines them.
    pub fn parse(text: &str) -> Result<PeerUri, UriError> {
        if text.contains(['?', ';', '#']) {
            return Err(UriError::Reserved);
        }
        let scheme_len = "peer://".len();
        if text.len() < scheme_len || !text[..scheme_len].eq_ignore_ascii_case("peer://") {
            return Err(UriError::Peer);
        }
        let (domain, contact_id) = text[scheme_len..].split_once('/').ok_or(UriError::Peer)?;
        PeerUri::new(DomainName::parse(domain)?, contact_id)
    }

    /// The domain whose salt service signed the peer's salt.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    /// The contact id, lowercase hex.
    pub fn contact_id(&self) -> &str {
        &self.contact_id
    }
}

impl fmt::Display for PeerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer://{}/{}", self.domain, self.contact_id)
    }
}

impl FromStr for PeerUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeerUri::parse(s)
    }
}

/// `identity:[type:][//domain/]identifier` (spec §3): resolved by a domain, or a legacy type
/// resolved by the configured identity service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityUri {
    /// `identity://<domain>/<identifier>`, e.g. `identity://github.com/583231`.
    Domain {
        /// The domain that resolves the identity.
        domain: DomainName,
        /// The identifier inside that domain.
        identifier: String,
    },
    /// `identity:<type>:<identifier>`, e.g. `identity:phone:14165551212`.
    Legacy {
        /// The lower-cased type (`phone`, `email`, …).
        kind: String,
        /// The identifier.
        identifier: String,
    },
}

/// Domains named without their top-level domain by older clients (C13 `RolodexContactsGetResult`).
const SHORT_DOMAINS: [(&str, &str); 4] = [
    ("facebook", "facebook.com"),
    ("twitter", "twitter.com"),
    ("linkedin", "linkedin.com"),
    ("github", "github.com"),
];

impl IdentityUri {
    /// Parses and normalises: lower-case scheme, type and domain; `identity://facebook/…` →
    /// `identity://facebook.com/…`. Refuses reserved characters, credentials, control
    /// characters, whitespace and empty identifiers.
    pub fn parse(text: &str) -> Result<IdentityUri, UriError> {
        if text.contains(['?', ';', '#']) {
            return Err(UriError::Reserved);
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(UriError::Identity);
        }
        let scheme_len = "identity:".len();
        if text.len() < scheme_len || !text[..scheme_len].eq_ignore_ascii_case("identity:") {
            return Err(UriError::Identity);
        }
        let rest = &text[scheme_len..];
        if let Some(resolved) = rest.strip_prefix("//") {
            let (domain, identifier) = resolved.split_once('/').ok_or(UriError::Identity)?;
            if domain.contains('@') || identifier.is_empty() {
                return Err(UriError::Identity);
            }
            let lower = domain.to_ascii_lowercase();
            let domain = SHORT_DOMAINS
                .iter()
                .find(|(short, _)| *short == lower)
                .map_or(lower.as_str(), |(_, full)| full);
            return Ok(IdentityUri::Domain {
                domain: DomainName::parse(domain)?,
                identifier: identifier.to_owned(),
            });
        }
        let (kind, identifier) = rest.split_once(':').ok_or(UriError::Identity)?;
        let kind_ok =
            !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !kind_ok || identifier.is_empty() || identifier.starts_with("//") {
            return Err(UriError::Identity);
        }
        Ok(IdentityUri::Legacy {
            kind: kind.to_ascii_lowercase(),
            identifier: identifier.to_owned(),
        })
    }

    /// The resolving domain, for domain identities.
    pub fn domain(&self) -> Option<&DomainName> {
        match self {
            IdentityUri::Domain { domain, .. } => Some(domain),
            IdentityUri::Legacy { .. } => None,
        }
    }
}

impl fmt::Display for IdentityUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityUri::Domain { domain, identifier } => {
                write!(f, "identity://{domain}/{identifier}")
            }
            IdentityUri::Legacy { kind, identifier } => write!(f, "identity:{kind}:{identifier}"),
        }
    }
}

impl FromStr for IdentityUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdentityUri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "d82d6f216a1db12a101a93fa91629089d10231c292b8643e6504b039fdd55b72";

    #[test]
    fn domain_names_normalise_and_refuse_bad_labels() {
        assert_eq!(
            DomainName::parse("Example.ORG").unwrap().as_str(),
            "example.org"
        );
        assert!(DomainName::parse("localhost").is_ok());
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a-.b",
            "a_b.c",
            "a b",
            "a.b:80",
            &"a".repeat(64),
        ] {
            assert_eq!(DomainName::parse(bad), Err(UriError::Domain), "{bad}");
        }
    }

    #[test]
    fn peer_uris_round_trip_and_normalise() {
        let uri = PeerUri::parse(&format!("PEER://Example.org/{}", ID.to_uppercase())).unwrap();
        assert_eq!(uri.to_string(), format!("peer://example.org/{ID}"));
        assert_eq!(uri.contact_id(), ID);
        assert_eq!(uri.domain().as_str(), "example.org");
        assert!(PeerUri::parse(&format!("peer://a.b/{}", &ID[..40])).is_ok());
    }

    #[test]
    fn peer_uris_refuse_reserved_and_malformed() {
        assert_eq!(
            PeerUri::parse(&format!("peer://a.b/{ID};protocol=x")),
            Err(UriError::Reserved)
        );
        assert_eq!(
            PeerUri::parse(&format!("peer://a.b/{ID}?q")),
            Err(UriError::Reserved)
        );
        assert_eq!(
            PeerUri::parse(&format!("peer://a.b/{ID}#f")),
            Err(UriError::Reserved)
        );
        assert_eq!(
            PeerUri::parse(&format!("peer://a.b/{ID}/res")),
            Err(UriError::Peer)
        );
        assert_eq!(
            PeerUri::parse(&format!("peer:/a.b/{ID}")),
            Err(UriError::Peer)
        );
        assert_eq!(PeerUri::parse("peer://a.b/xyz"), Err(UriError::Peer));
        assert_eq!(
            PeerUri::parse(&format!("peer://a_b/{ID}")),
            Err(UriError::Domain)
        );
        assert_eq!(PeerUri::parse("peer"), Err(UriError::Peer));
    }

    #[test]
    fn identity_uris_domain_and_legacy_forms() {
        let github = IdentityUri::parse("identity://GitHub/583231").unwrap();
        assert_eq!(github.to_string(), "identity://github.com/583231");
        assert_eq!(github.domain().unwrap().as_str(), "github.com");
        let alice = IdentityUri::parse("Identity://Foo.com/alice.78").unwrap();
        assert_eq!(alice.to_string(), "identity://foo.com/alice.78");
        let phone = IdentityUri::parse("identity:phone:14165551212").unwrap();
        assert_eq!(
            phone,
            IdentityUri::Legacy {
                kind: "phone".into(),
                identifier: "14165551212".into()
            }
        );
        assert_eq!(phone.domain(), None);
        let email = IdentityUri::parse("identity:Email:foo@bar.com").unwrap();
        assert_eq!(email.to_string(), "identity:email:foo@bar.com");
    }

    #[test]
    fn identity_uris_refuse_reserved_and_malformed() {
        for reserved in [
            "identity://a.com/x?y",
            "identity://a.com/x;y",
            "identity:phone:1#2",
        ] {
            assert_eq!(
                IdentityUri::parse(reserved),
                Err(UriError::Reserved),
                "{reserved}"
            );
        }
        for bad in [
            "identity://a.com/",
            "identity://a.com",
            "identity://user:pw@a.com/x",
            "identity:phone:",
            "identity:phone",
            "identity::x",
            "identity://a.com/x y",
            "identity://a.com/x\u{1}",
            "identiti://a.com/x",
            "",
        ] {
            assert!(IdentityUri::parse(bad).is_err(), "{bad}");
        }
    }
}
