//! Benchmarks of the protocol crate's hot paths: canonical JSON, jsonsig signing and
//! verification, whole public peer file validation, and the raw ring primitive underneath for
//! comparison.
//!
//! Run with `cargo bench -p openpeer-protocol`. Criterion ids:
//!
//! - `canonicalise/peer_file`: parse + canonical render of a generated rsa-sha1 public peer file;
//!   `canonicalise/render_only`: the render of an already parsed one.
//! - `sign/<suite>`, `verify/<suite>`: `sign_bundle`/`verify_bundle` of a Section-B-like object
//!   with an `x509Data` key (`InlineKey`).
//! - `validate_peer_file/<suite>/with_certificates`: `PublicPeerFile::validate` of a findable peer
//!   file (Sections A, B, C) with the domain's certificates, so the salt signature is checked too
//!   (4 signatures); `…/without_certificates`: the same without the salt check (3 signatures).
//! - `raw_verify/<suite>`: ring's `UnparsedPublicKey::verify` alone (RSA PKCS#1 v1.5 over the
//!   20-byte SHA-1 digest, or Ed25519 over the canonical bytes).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use openpeer_protocol::canonical::{canon_object, render_object};
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::dev::DevDomain;
use openpeer_protocol::encoding::from_base64;
use openpeer_protocol::json::{Object, parse};
use openpeer_protocol::peer_file::{PeerFileOptions, PublicPeerFile};
use openpeer_protocol::signature::{
    InlineKey, KeyReference, SignatureSuite, SigningKey, sign_bundle, verify_bundle,
};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;
use ring::signature::{
    ED25519, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, UnparsedPublicKey, VerificationAlgorithm,
};

const SUITES: [SignatureSuite; 2] = [
    SignatureSuite::RsaSha1ForLegacyUseOnly,
    SignatureSuite::Ed25519,
];
const CREATED: u64 = 1_800_000_000;
const EXPIRES: u64 = CREATED + 2 * 365 * 86_400;
/// Validation time: inside every lifetime above.
const NOW: u64 = CREATED + 10;

/// Everything the benchmarks of one suite need, made once (RSA key generation is slow).
struct Fixture {
    suite: SignatureSuite,
    key: SigningKey,
    /// The certificates of the peer's development domain, verified.
    certificates: CertificateSet,
    /// A findable public peer file (Sections A, B and C).
    peer_file: Object,
    /// `{"section": {Section-B-like object}}`, unsigned, with its `$id`.
    section_b: Object,
    /// `section_b` signed with `key`, the key given inline as `x509Data`.
    signed_b: Object,
}

impl Fixture {
    fn new(suite: SignatureSuite) -> Fixture {
        let domain = DomainName::parse("example.org").expect("domain");
        let dev = DevDomain::generate(domain.clone(), suite, EXPIRES + 1, &mut OsRng)
            .expect("development domain");
        let certificates = CertificateSet::from_certificates_get(
            &domain,
            &dev.certificates_get_result(&mut OsRng),
            CREATED,
        )
        .expect("certificates verify");
        let key = SigningKey::generate(suite, &mut OsRng).expect("peer key");
        let salt = dev.salt_bundle(&mut OsRng);
        let options = PeerFileOptions {
            salt_bundle: &salt,
            created: CREATED,
            expires: EXPIRES,
            findable: true,
        };
        let peer = PublicPeerFile::generate(&key, &options, &mut OsRng).expect("peer file");
        let section_b = Object::new()
            .with("$id", "B")
            .with("contact", peer.contact().to_string())
            .with(
                "findSecret",
                "Xq1f0bqUBn3TX1eiAx8aqbG4KdSIbgeFEc5W4i0nHHUtvR8ZwMnJ",
            );
        let signed_b = sign_bundle(
            "section",
            section_b.clone(),
            &key,
            &KeyReference::X509Data(key.public_key().clone()),
            &mut OsRng,
        );
        Fixture {
            suite,
            key,
            certificates,
            peer_file: peer.document().clone(),
            section_b,
            signed_b,
        }
    }

    fn name(&self) -> &'static str {
        self.suite.name()
    }
}

/// The key, message and signature ring verifies for `verify_bundle` of `fixture.signed_b`.
struct RawInput {
    /// RSAPublicKey DER (the SPKI bit string contents) or the 32 Ed25519 bytes.
    key: Vec<u8>,
    /// The 20-byte SHA-1 digest (RSA) or the canonical bytes (Ed25519).
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl RawInput {
    fn new(fixture: &Fixture) -> RawInput {
        let spki = fixture.key.public_key().spki_der();
        let info = spki::SubjectPublicKeyInfoRef::try_from(spki).expect("SPKI");
        let key = info.subject_public_key.raw_bytes().to_vec();
        let section = fixture.signed_b.get_object("section").expect("section");
        let canonical = canon_object("section", section);
        let message = match fixture.suite {
            SignatureSuite::RsaSha1ForLegacyUseOnly => fixture.suite.digest(canonical.as_bytes()),
            SignatureSuite::Ed25519 => canonical.into_bytes(),
        };
        let signature = fixture
            .signed_b
            .get_object("signature")
            .and_then(|s| s.get_str("digestSigned"))
            .and_then(from_base64)
            .expect("digestSigned");
        let raw = RawInput {
            key,
            message,
            signature,
        };
        assert!(raw.verify(fixture.suite), "raw signature must verify");
        raw
    }

    fn verify(&self, suite: SignatureSuite) -> bool {
        let algorithm: &dyn VerificationAlgorithm = match suite {
            SignatureSuite::RsaSha1ForLegacyUseOnly => {
                &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            SignatureSuite::Ed25519 => &ED25519,
        };
        UnparsedPublicKey::new(algorithm, &self.key)
            .verify(&self.message, &self.signature)
            .is_ok()
    }
}

fn benches(c: &mut Criterion) {
    let fixtures: Vec<Fixture> = SUITES.into_iter().map(Fixture::new).collect();

    // Canonical JSON of a realistic document: the rsa-sha1 peer file, as it travels.
    let rsa = &fixtures[0];
    let text = render_object(&rsa.peer_file);
    let mut group = c.benchmark_group("canonicalise");
    group.bench_function("peer_file", |b| {
        b.iter(|| {
            let doc = parse(black_box(&text)).expect("parses");
            render_object(&doc)
        })
    });
    group.bench_function("render_only", |b| {
        b.iter(|| render_object(black_box(&rsa.peer_file)))
    });
    group.finish();

    let mut group = c.benchmark_group("sign");
    for f in &fixtures {
        let reference = KeyReference::X509Data(f.key.public_key().clone());
        group.bench_function(f.name(), |b| {
            b.iter_batched(
                || f.section_b.clone(),
                |object| sign_bundle("section", object, &f.key, &reference, &mut OsRng),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("verify");
    for f in &fixtures {
        group.bench_function(f.name(), |b| {
            b.iter(|| {
                verify_bundle(black_box(&f.signed_b), "section", &InlineKey)
                    .expect("verifies")
                    .digest_value()
                    .len()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("validate_peer_file");
    for f in &fixtures {
        group.bench_function(BenchmarkId::new(f.name(), "with_certificates"), |b| {
            b.iter(|| {
                let file =
                    PublicPeerFile::validate(black_box(&f.peer_file), NOW, Some(&f.certificates))
                        .expect("validates");
                assert!(file.salt_verified());
                file
            })
        });
        group.bench_function(BenchmarkId::new(f.name(), "without_certificates"), |b| {
            b.iter(|| {
                PublicPeerFile::validate(black_box(&f.peer_file), NOW, None).expect("validates")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("raw_verify");
    for f in &fixtures {
        let raw = RawInput::new(f);
        group.bench_function(f.name(), |b| b.iter(|| black_box(&raw).verify(f.suite)));
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = protocol;
    config = config();
    targets = benches
}
criterion_main!(protocol);
