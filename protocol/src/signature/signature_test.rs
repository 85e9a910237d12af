//! jsonsig vectors (independent Python implementation) and properties (spec §2, §11).

use proptest::prelude::*;
use rand_core::OsRng;

use super::test_keys::{key, other_key};
use super::*;
use crate::canonical::canon_object;
use crate::encoding::from_hex;
use crate::json::{Value, parse};

const SUITES: [SignatureSuite; 2] = [
    SignatureSuite::RsaSha1ForLegacyUseOnly,
    SignatureSuite::Ed25519,
];

struct Vector {
    suite: String,
    key: SigningKey,
    name: String,
    object: Object,
    canonical: String,
    digest_value: String,
    digest_signed: String,
    x509_data: String,
}

fn vectors() -> Vec<Vector> {
    include_str!("../../tests/vectors/signatures.tsv")
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let doc = parse(f[2]).unwrap();
            let (name, value) = doc.iter().next().unwrap();
            Vector {
                suite: f[0].to_owned(),
                key: SigningKey::from_pkcs8_der(&from_hex(f[1]).unwrap()).unwrap(),
                name: name.to_owned(),
                object: value.as_object().unwrap().clone(),
                canonical: f[2].to_owned(),
                digest_value: f[3].to_owned(),
                digest_signed: f[4].to_owned(),
                x509_data: f[5].to_owned(),
            }
        })
        .collect()
}

#[test]
fn signatures_match_the_independent_implementation() {
    let mut checked = 0;
    for v in vectors().into_iter().filter(|v| v.suite != "single-hash") {
        assert_eq!(canon_object(&v.name, &v.object), v.canonical);
        assert_eq!(v.key.public_key().x509_data(), v.x509_data);
        assert_eq!(v.key.suite().name(), v.suite);
        let reference = KeyReference::X509Data(v.key.public_key().clone());
        let bundle = sign_bundle(&v.name, v.object.clone(), &v.key, &reference, &mut OsRng);
        let signature = bundle.get_object("signature").unwrap();
        assert_eq!(
            signature.get_str("digestValue"),
            Some(v.digest_value.as_str())
        );
        assert_eq!(
            signature.get_str("digestSigned"),
            Some(v.digest_signed.as_str())
        );
        assert_eq!(signature.get_str("algorithm"), Some(v.key.suite().uri()));
        let verified = verify_bundle(&bundle, &v.name, &InlineKey).unwrap();
        assert_eq!(verified.digest_value(), v.digest_value);
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn a_single_hash_rsa_signature_does_not_verify() {
    for v in vectors().into_iter().filter(|v| v.suite == "single-hash") {
        let reference = KeyReference::X509Data(v.key.public_key().clone());
        let mut bundle = sign_bundle(&v.name, v.object.clone(), &v.key, &reference, &mut OsRng);
        let mut signature = bundle
            .remove("signature")
            .unwrap()
            .as_object()
            .unwrap()
            .clone();
        signature.insert("digestSigned", v.digest_signed.as_str());
        bundle.insert("signature", signature);
        assert_eq!(
            verify_bundle(&bundle, &v.name, &InlineKey).unwrap_err(),
            SignatureError::BadSignature
        );
    }
}

#[test]
fn real_c_peer_file_sections_b_and_c_verify_with_section_a_key() {
    let file = parse(include_str!("../../tests/vectors/public-from-C.json")).unwrap();
    let bundles = file.get_object("peer").unwrap().get_list("sectionBundle");
    let bundle = |i: usize| bundles[i].as_object().unwrap();
    let a_key = bundle(0)
        .get_object("signature")
        .and_then(|s| s.get_object("key"))
        .and_then(|k| k.get_str("x509Data"))
        .map(PublicKey::from_x509_data)
        .unwrap()
        .unwrap();
    let uri = PeerUri::parse(
        bundle(1)
            .get_object("section")
            .unwrap()
            .get_str("contact")
            .unwrap(),
    )
    .unwrap();
    let resolver = PeerKey {
        uri: &uri,
        key: &a_key,
    };
    for i in [1, 2] {
        verify_bundle(bundle(i), "section", &resolver).unwrap();
    }
    // Section A was signed over the unsorted pre-May-2013 rendering.
    assert_eq!(
        verify_bundle(bundle(0), "section", &InlineKey).unwrap_err(),
        SignatureError::DigestMismatch
    );
}

fn sample() -> Object {
    parse(r#"{"$id":"s1","contact":"peer://a.b/x","n":12,"list":[{"v":"1"},{"v":"2"}]}"#).unwrap()
}

fn signed(suite: SignatureSuite) -> Object {
    let k = key(suite);
    sign_bundle(
        "section",
        sample(),
        k,
        &KeyReference::X509Data(k.public_key().clone()),
        &mut OsRng,
    )
}

fn with_signature_field(mut bundle: Object, field: &str, value: Value) -> Object {
    let mut signature = bundle
        .remove("signature")
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    signature.insert(field, value);
    bundle.insert("signature", signature);
    bundle
}

#[test]
fn every_legacy_algorithm_alias_verifies() {
    for alias in [
        "https://meta.openpeer.org/2012/12/14/jsonsig#rsa-sha1",
        "http://meta.openpeer.org/2012/12/14/jsonsig#rsa-sha1",
        "http://openpeer.org/2012/12/14/jsonsig#rsa-sha1",
    ] {
        let bundle = with_signature_field(
            signed(SignatureSuite::RsaSha1ForLegacyUseOnly),
            "algorithm",
            alias.into(),
        );
        verify_bundle(&bundle, "section", &InlineKey).unwrap();
    }
}

#[test]
fn refusals_name_their_cause() {
    for suite in SUITES {
        let bundle = signed(suite);
        let unknown = with_signature_field(bundle.clone(), "algorithm", "urn:x".into());
        assert_eq!(
            verify_bundle(&unknown, "section", &InlineKey).unwrap_err(),
            SignatureError::UnknownAlgorithm
        );
        let other = SUITES.into_iter().find(|s| *s != suite).unwrap();
        let mismatched = with_signature_field(bundle.clone(), "algorithm", other.uri().into());
        assert_eq!(
            verify_bundle(&mismatched, "section", &InlineKey).unwrap_err(),
            SignatureError::KeyAlgorithmMismatch
        );
        let reference = with_signature_field(bundle.clone(), "reference", "#s2".into());
        assert_eq!(
            verify_bundle(&reference, "section", &InlineKey).unwrap_err(),
            SignatureError::ReferenceMismatch
        );
        let untrusted = PeerKey {
            uri: &PeerUri::parse(&format!("peer://a.b/{}", "0".repeat(64))).unwrap(),
            key: key(suite).public_key(),
        };
        assert_eq!(
            verify_bundle(&bundle, "section", &untrusted).unwrap_err(),
            SignatureError::UnknownKey
        );
        let wrong_key = with_signature_field(
            bundle.clone(),
            "key",
            KeyReference::X509Data(other_key(suite).public_key().clone())
                .to_object()
                .into(),
        );
        assert_eq!(
            verify_bundle(&wrong_key, "section", &InlineKey).unwrap_err(),
            SignatureError::BadSignature
        );
        let no_signature = Object::new().with("section", sample());
        assert_eq!(
            verify_bundle(&no_signature, "section", &InlineKey).unwrap_err(),
            SignatureError::Malformed("signature missing")
        );
        assert_eq!(
            verify_bundle(&bundle, "other", &InlineKey).unwrap_err(),
            SignatureError::Malformed("signed object missing")
        );
    }
}

#[test]
fn sign_assigns_an_id_when_absent() {
    let k = key(SignatureSuite::Ed25519);
    let reference = KeyReference::X509Data(k.public_key().clone());
    let bundle = sign_bundle("x", Object::new().with("a", "1"), k, &reference, &mut OsRng);
    let id = bundle
        .get_object("x")
        .unwrap()
        .get_str("$id")
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(
        bundle.get_object("signature").unwrap().get_str("reference"),
        Some(format!("#{id}").as_str())
    );
}

#[test]
fn key_references_round_trip_in_all_four_forms() {
    let public = key(SignatureSuite::Ed25519).public_key().clone();
    let forms = [
        KeyReference::X509Data(public.clone()),
        KeyReference::Uri(PeerUri::parse(&format!("peer://a.b/{}", "ab".repeat(32))).unwrap()),
        KeyReference::Fingerprint(public.fingerprint()),
        KeyReference::Certificate {
            id: "c1".into(),
            domain: DomainName::parse("a.b").unwrap(),
            service: "salt".into(),
        },
    ];
    for form in forms {
        assert_eq!(KeyReference::from_object(&form.to_object()).unwrap(), form);
    }
    assert!(KeyReference::from_object(&Object::new().with("x", "1")).is_err());
    let resolver = PeerKey {
        uri: &PeerUri::parse(&format!("peer://a.b/{}", "ab".repeat(32))).unwrap(),
        key: &public,
    };
    assert_eq!(
        resolver.resolve(&KeyReference::Fingerprint(public.fingerprint())),
        Some(public.clone())
    );
}

#[test]
fn keys_round_trip_through_pkcs8_and_debug_hides_them() {
    for suite in SUITES {
        let k = key(suite);
        let again = SigningKey::from_pkcs8_der(&k.to_pkcs8_der()).unwrap();
        assert_eq!(again.public_key(), k.public_key());
        let shown = format!("{k:?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains(&crate::encoding::to_hex(&k.to_pkcs8_der())));
    }
    assert_eq!(
        SigningKey::from_pkcs8_der(b"junk").unwrap_err(),
        KeyError::Malformed
    );
    assert_eq!(
        PublicKey::from_x509_data("AAAA").unwrap_err(),
        KeyError::Malformed
    );
}

/// Every path to a scalar leaf of `object`, for the tamper properties.
fn leaves(object: &Object, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in object.iter() {
        let mut path = prefix.clone();
        path.push(k.to_owned());
        match v {
            Value::Object(o) => leaves(o, path, out),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(o) = item {
                        let mut p = path.clone();
                        p.push(i.to_string());
                        leaves(o, p, out);
                    }
                }
            }
            _ => out.push(path),
        }
    }
}

fn tamper(object: &mut Object, path: &[String], byte: usize) {
    let (head, rest) = path.split_first().unwrap();
    let mut value = object.remove(head).unwrap();
    let mut target = &mut value;
    let mut rest = rest;
    while let Some((step, tail)) = rest.split_first() {
        target = match target {
            Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
            Value::Object(o) => {
                let mut inner = o.remove(step).unwrap();
                tamper_leaf_or_descend(&mut inner, tail, byte);
                o.insert(step.clone(), inner);
                object.insert(head.clone(), value);
                return;
            }
            _ => unreachable!(),
        };
        rest = tail;
    }
    tamper_leaf_or_descend(target, &[], byte);
    object.insert(head.clone(), value);
}

fn tamper_leaf_or_descend(value: &mut Value, path: &[String], byte: usize) {
    if let (Value::Object(o), false) = (&mut *value, path.is_empty()) {
        tamper(o, path, byte);
        return;
    }
    if !path.is_empty() {
        if let Value::Array(items) = value {
            let (step, tail) = path.split_first().unwrap();
            tamper_leaf_or_descend(&mut items[step.parse::<usize>().unwrap()], tail, byte);
        }
        return;
    }
    *value = match value {
        Value::String(s) => {
            let mut bytes = s.clone().into_bytes();
            if bytes.is_empty() {
                Value::String("x".into())
            } else {
                let i = byte % bytes.len();
                bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
        }
        Value::Number(n) => Value::String(n.as_str().to_owned()),
        Value::Bool(b) => Value::Bool(!*b),
        _ => Value::String("tampered".into()),
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify_round_trips(text in any::<String>(), n in any::<u64>(), rsa in any::<bool>()) {
        let suite = if rsa { SUITES[0] } else { SUITES[1] };
        let k = key(suite);
        let object = Object::new().with("$id", "p").with("text", text).with("n", n);
        let bundle = sign_bundle("proof", object.clone(), k, &KeyReference::X509Data(k.public_key().clone()), &mut OsRng);
        let verified = verify_bundle(&bundle, "proof", &InlineKey).unwrap();
        prop_assert_eq!(*verified.get(), &object);
        prop_assert_eq!(verified.signer(), k.public_key());
    }

    #[test]
    fn changing_any_signed_byte_fails(leaf in any::<prop::sample::Index>(), byte in any::<usize>(), rsa in any::<bool>()) {
        let suite = if rsa { SUITES[0] } else { SUITES[1] };
        let mut bundle = signed(suite);
        let mut object = bundle.remove("section").unwrap().as_object().unwrap().clone();
        let mut paths = Vec::new();
        leaves(&object, Vec::new(), &mut paths);
        let path = leaf.get(&paths).clone();
        tamper(&mut object, &path, byte);
        bundle.insert("section", object);
        prop_assert!(verify_bundle(&bundle, "section", &InlineKey).is_err());
    }

    #[test]
    fn a_signature_moved_to_another_object_fails(other in "[a-z]{1,8}", rsa in any::<bool>()) {
        let suite = if rsa { SUITES[0] } else { SUITES[1] };
        let bundle = signed(suite);
        let signature = bundle.get("signature").unwrap().clone();
        // Same $id, so the reference still matches: only the digest can catch the move.
        let moved = Object::new()
            .with("section", Object::new().with("$id", "s1").with("contact", other))
            .with("signature", signature);
        prop_assert!(verify_bundle(&moved, "section", &InlineKey).is_err());
    }
}
