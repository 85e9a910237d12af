//! Peer file generation, validation rules and private file encryption (spec §4, §11).

use std::sync::OnceLock;

use proptest::prelude::*;
use rand_core::OsRng;

use super::*;
use crate::canonical::render_object;
use crate::certificates::CertificateSet;
use crate::dev::DevDomain;
use crate::json::{Object, Value, parse};
use crate::signature::test_keys::{key, other_key};
use crate::signature::{KeyReference, SignatureSuite, sign_bundle};
use crate::uri::DomainName;

const SUITES: [SignatureSuite; 2] = [
    SignatureSuite::RsaSha1ForLegacyUseOnly,
    SignatureSuite::Ed25519,
];
const CREATED: u64 = 1_800_000_000;
const EXPIRES: u64 = CREATED + 2 * 365 * 86_400;

/// A development domain and its verified certificates, made once.
fn domain() -> &'static (DevDomain, CertificateSet) {
    static DOMAIN: OnceLock<(DevDomain, CertificateSet)> = OnceLock::new();
    DOMAIN.get_or_init(|| {
        let name = DomainName::parse("example.org").unwrap();
        let dev = DevDomain::generate(
            name.clone(),
            SignatureSuite::Ed25519,
            EXPIRES + 1,
            &mut OsRng,
        )
        .unwrap();
        let doc = dev.certificates_get_result(&mut OsRng);
        let set = CertificateSet::from_certificates_get(&name, &doc, CREATED).unwrap();
        (dev, set)
    })
}

fn generate(suite: SignatureSuite, findable: bool, created: u64) -> PublicPeerFile {
    let salt = domain().0.salt_bundle(&mut OsRng);
    let options = PeerFileOptions {
        salt_bundle: &salt,
        created,
        expires: created + 86_400 * 730,
        findable,
    };
    PublicPeerFile::generate(key(suite), &options, &mut OsRng).unwrap()
}

fn validate(doc: &Object) -> Result<PublicPeerFile, PeerFileError> {
    PublicPeerFile::validate(doc, CREATED + 10, Some(&domain().1))
}

/// The section bundles of a generated file, for surgery.
fn bundles(doc: &Object) -> Vec<Object> {
    doc.get_object("peer")
        .unwrap()
        .get_list("sectionBundle")
        .iter()
        .map(|b| b.as_object().unwrap().clone())
        .collect()
}

fn with_bundles(bundles: Vec<Object>) -> Object {
    Object::new().with(
        "peer",
        Object::new().with("$version", "1").with(
            "sectionBundle",
            Value::Array(bundles.into_iter().map(Value::Object).collect()),
        ),
    )
}

fn edit_section(bundle: &Object, field: &str, value: Value) -> Object {
    let mut bundle = bundle.clone();
    let mut section = bundle
        .remove("section")
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    section.insert(field, value);
    bundle.insert("section", section);
    bundle
}

#[test]
fn generated_files_validate_with_every_field() {
    for suite in SUITES {
        let file = generate(suite, true, CREATED);
        let text = render_object(file.document());
        let again = validate(&parse(&text).unwrap()).unwrap();
        assert_eq!(again.contact(), file.contact());
        assert_eq!(again.contact().domain().as_str(), "example.org");
        assert_eq!(again.contact().contact_id().len(), 64);
        assert_eq!(again.suite(), suite);
        assert_eq!(again.created(), CREATED);
        assert_eq!(again.expires(), CREATED + 86_400 * 730);
        assert_eq!(again.find_secret().unwrap().len(), FIND_SECRET_LEN);
        assert!(again.salt_verified());
        let a = bundles(file.document())[0].clone();
        assert_eq!(contact_uri(&a).unwrap(), *file.contact());
        let cipher = a
            .get_object("section")
            .unwrap()
            .get_str("algorithm")
            .unwrap();
        assert_eq!(
            cipher,
            if suite == SUITES[0] {
                CIPHER_RSA_C14
            } else {
                CIPHER_ED25519
            }
        );
        // Without certificates the salt is not checked, and says so.
        assert!(
            !PublicPeerFile::validate(file.document(), CREATED, None)
                .unwrap()
                .salt_verified()
        );
    }
}

#[test]
fn an_unfindable_file_has_no_section_b() {
    let file = generate(SignatureSuite::Ed25519, false, CREATED);
    assert_eq!(bundles(file.document()).len(), 2);
    assert_eq!(validate(file.document()).unwrap().find_secret(), None);
}

#[test]
fn each_rule_refuses_with_its_name() {
    for suite in SUITES {
        let file = generate(suite, true, CREATED);
        let [a, b, c]: [Object; 3] = bundles(file.document()).try_into().unwrap();
        let rule = |doc: Object| validate(&doc).unwrap_err().rule();

        let edited_a = edit_section(&a, "created", (CREATED + 1).into());
        assert_eq!(
            rule(with_bundles(vec![edited_a, b.clone(), c.clone()])),
            "signature-a"
        );
        let edited_b = edit_section(&b, "findSecret", "x".into());
        assert_eq!(
            rule(with_bundles(vec![a.clone(), edited_b, c.clone()])),
            "signature-b"
        );
        let edited_c = edit_section(&c, "contact", "peer://x".into());
        assert_eq!(
            rule(with_bundles(vec![a.clone(), b.clone(), edited_c])),
            "signature-c"
        );

        // Sections B and C of another file of the same key: validly signed, but for another peer.
        let other = generate(suite, true, CREATED + 5);
        let [_, other_b, other_c]: [Object; 3] = bundles(other.document()).try_into().unwrap();
        assert_eq!(
            rule(with_bundles(vec![a.clone(), other_b, c.clone()])),
            "contact-mismatch"
        );
        assert_eq!(
            rule(with_bundles(vec![a.clone(), b.clone(), other_c])),
            "contact-mismatch"
        );

        // B signed by another key that claims the right peer URI.
        let forged_b = sign_bundle(
            "section",
            b.get_object("section").unwrap().clone(),
            other_key(suite),
            &KeyReference::Uri(file.contact().clone()),
            &mut OsRng,
        );
        assert_eq!(
            rule(with_bundles(vec![a.clone(), forged_b, c.clone()])),
            "signature-b"
        );

        let unknown = edit_section(&a, "algorithm", "urn:unknown".into());
        assert_eq!(
            rule(with_bundles(vec![unknown, b.clone(), c.clone()])),
            "unknown-algorithm"
        );
        let mut unknown_sig = a.clone();
        let mut sig = unknown_sig
            .remove("signature")
            .unwrap()
            .as_object()
            .unwrap()
            .clone();
        sig.insert("algorithm", "urn:openpeer:jsonsig:unknown");
        unknown_sig.insert("signature", sig);
        assert_eq!(
            rule(with_bundles(vec![unknown_sig, b.clone(), c.clone()])),
            "unknown-algorithm"
        );

        let expires = CREATED + 86_400 * 730;
        for at in [expires, expires + 1, CREATED - 601] {
            assert_eq!(
                PublicPeerFile::validate(file.document(), at, None).unwrap_err(),
                PeerFileError::Expired,
                "{at}"
            );
        }

        // A salt signed by another domain's salt key under this domain's name.
        let rogue = DevDomain::generate(
            DomainName::parse("example.org").unwrap(),
            SignatureSuite::Ed25519,
            EXPIRES,
            &mut OsRng,
        )
        .unwrap();
        let salt = rogue.salt_bundle(&mut OsRng);
        let options = PeerFileOptions {
            salt_bundle: &salt,
            created: CREATED,
            expires: EXPIRES,
            findable: true,
        };
        let rogue_file = PublicPeerFile::generate(key(suite), &options, &mut OsRng).unwrap();
        assert_eq!(
            validate(rogue_file.document()).unwrap_err(),
            PeerFileError::SaltSignature
        );
    }
}

#[test]
fn malformed_files_name_the_problem() {
    let file = generate(SignatureSuite::Ed25519, true, CREATED);
    let [a, b, c]: [Object; 3] = bundles(file.document()).try_into().unwrap();
    let cases = [
        (Object::new(), "not a peer file"),
        (
            with_bundles(vec![b.clone(), c.clone()]),
            "section A missing",
        ),
        (
            with_bundles(vec![a.clone(), a.clone()]),
            "duplicate section",
        ),
        (
            with_bundles(vec![a.clone(), edit_section(&b, "$id", "D".into())]),
            "unknown section",
        ),
        (
            with_bundles(vec![edit_section(&a, "expires", CREATED.into())]),
            "expires is not after created",
        ),
        (
            with_bundles(vec![edit_section(&a, "created", "soon".into())]),
            "created",
        ),
        (
            with_bundles(vec![edit_section(&a, "saltBundle", "x".into())]),
            "section A has no saltBundle",
        ),
    ];
    for (doc, reason) in cases {
        assert_eq!(
            validate(&doc).unwrap_err(),
            PeerFileError::Malformed(reason)
        );
    }
    let mut version = file.document().clone();
    let mut peer = version.remove("peer").unwrap().as_object().unwrap().clone();
    peer.insert("$version", "2");
    version.insert("peer", peer);
    assert_eq!(
        validate(&version).unwrap_err(),
        PeerFileError::Malformed("unsupported $version")
    );
}

#[test]
fn the_real_2013_c_file_is_refused_at_section_a() {
    let doc = parse(include_str!("../../tests/vectors/public-from-C.json")).unwrap();
    let error = PublicPeerFile::validate(&doc, 1_400_000_000, None).unwrap_err();
    assert_eq!(error.rule(), "signature-a");
}

#[test]
fn private_files_round_trip_and_refuse_a_wrong_secret() {
    for suite in SUITES {
        let public = generate(suite, true, CREATED);
        let data = Object::new().with("note", "x");
        let private = encrypt_private(&public, key(suite), "s3cret", &data, &mut OsRng).unwrap();
        let text = render_object(&private);
        let opened = decrypt_private(&parse(&text).unwrap(), "s3cret", CREATED + 1).unwrap();
        assert_eq!(opened.key.public_key(), key(suite).public_key());
        assert_eq!(opened.public.contact(), public.contact());
        assert_eq!(opened.private_data, data);
        assert_eq!(
            decrypt_private(&private, "wrong", CREATED).unwrap_err(),
            PeerFileError::WrongSecret
        );
        let empty = encrypt_private(&public, key(suite), "s", &Object::new(), &mut OsRng).unwrap();
        assert_eq!(
            decrypt_private(&empty, "s", CREATED).unwrap().private_data,
            Object::new()
        );
        assert_eq!(
            encrypt_private(&public, other_key(suite), "s", &data, &mut OsRng).unwrap_err(),
            PeerFileError::Malformed("the key is not the public peer file's key")
        );
    }
}

#[test]
fn a_tampered_private_file_is_refused() {
    let suite = SignatureSuite::Ed25519;
    let public = generate(suite, true, CREATED);
    let private = encrypt_private(&public, key(suite), "s", &Object::new(), &mut OsRng).unwrap();
    let sections: Vec<Object> = private
        .get_object("privatePeer")
        .unwrap()
        .get_list("sectionBundle")
        .iter()
        .map(|b| b.as_object().unwrap().clone())
        .collect();
    let rebuild = |a: Object, b: Object| {
        Object::new().with(
            "privatePeer",
            Object::new()
                .with("$version", "1")
                .with("sectionBundle", Value::Array(vec![a.into(), b.into()])),
        )
    };
    // Another accepted spelling of the cipher: the key still opens, the signature breaks.
    let cipher = edit_section(&sections[0], "algorithm", "sha256/aes256".into());
    assert_eq!(
        decrypt_private(&rebuild(cipher, sections[1].clone()), "s", CREATED).unwrap_err(),
        PeerFileError::SignatureA
    );
    // Another salt derives other keys: the private key no longer decrypts.
    let salt = edit_section(&sections[0], "salt", "AAAA".into());
    assert_eq!(
        decrypt_private(&rebuild(salt, sections[1].clone()), "s", CREATED).unwrap_err(),
        PeerFileError::Malformed("encryptedPrivateKey")
    );
    let data = edit_section(&sections[1], "encryptedPrivateData", "AAAA".into());
    assert_eq!(
        decrypt_private(&rebuild(sections[0].clone(), data), "s", CREATED).unwrap_err(),
        PeerFileError::SignatureB
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn generate_serialise_parse_validate_round_trips(
        rsa in any::<bool>(),
        findable in any::<bool>(),
        created in 1_000_000_000u64..4_000_000_000,
    ) {
        let suite = if rsa { SUITES[0] } else { SUITES[1] };
        let file = generate(suite, findable, created);
        let parsed = parse(&render_object(file.document())).unwrap();
        let again = PublicPeerFile::validate(&parsed, created, None).unwrap();
        prop_assert_eq!(again.contact(), file.contact());
        prop_assert_eq!(again.find_secret().is_some(), findable);
        prop_assert_eq!(again.key(), key(suite).public_key());
    }

    #[test]
    fn any_changed_byte_is_refused(position in any::<prop::sample::Index>(), rsa in any::<bool>()) {
        let suite = if rsa { SUITES[0] } else { SUITES[1] };
        let file = generate(suite, true, CREATED);
        let mut text = render_object(file.document()).into_bytes();
        // XOR 1 never turns a letter into its other case, which URI parsing would forgive.
        let i = position.index(text.len());
        text[i] ^= 1;
        let refused = match std::str::from_utf8(&text).ok().and_then(|t| parse(t).ok()) {
            Some(doc) => validate(&doc).is_err(),
            None => true,
        };
        prop_assert!(refused, "byte {} accepted", i);
    }
}
