//! The CLI contract (issue 2): `canonical`, `peer-file generate` and `peer-file validate`, run as
//! the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use openpeer_protocol::json::{Object, parse};

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openpeer-gateway"))
        .args(args)
        .env_remove("OPENPEER_PEER_FILE_SECRET")
        .output()
        .unwrap()
}

fn stdout_json(output: &Output) -> Object {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        text.ends_with('\n') && text.lines().count() == 1,
        "{text:?}"
    );
    parse(&text).unwrap()
}

fn stderr(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("openpeer-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).to_str().unwrap().to_owned()
}

/// Generates peer files with a development salt; returns the summary printed.
fn generate(dir: &Path, suite: &str, extra: &[&str]) -> Object {
    let (public, private, certs) = (
        path(dir, "public.json"),
        path(dir, "private.json"),
        path(dir, "certs.json"),
    );
    let mut args = vec![
        "peer-file",
        "generate",
        "--domain",
        "example.org",
        "--suite",
        suite,
        "--dev-salt",
        "--dev-certificates",
        &certs,
        "--public",
        &public,
        "--private",
        &private,
    ];
    args.extend_from_slice(extra);
    stdout_json(&gateway(&args))
}

#[test]
fn canonical_prints_the_c14_rendering() {
    let dir = scratch("canonical");
    let file = path(&dir, "doc.json");
    std::fs::write(
        &file,
        r##"{ "b": [ {"y":"1","$x":"2"} ], "a": {}, "#text": "t", "$z": 1.50 }"##,
    )
    .unwrap();
    let output = gateway(&["canonical", &file]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "{\"$z\":1.50,\"#text\":\"t\",\"a\":\"\",\"b\":{\"$x\":\"2\",\"y\":\"1\"}}\n"
    );
}

#[test]
fn canonical_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_openpeer-gateway"))
        .args(["canonical", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), br#"{"b":"\u00e9","a":1}"#).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "{\"a\":1,\"b\":\"é\"}\n"
    );
}

#[test]
fn canonical_refuses_malformed_input() {
    let dir = scratch("canonical-bad");
    let file = path(&dir, "bad.json");
    for bad in [r#"{"a":1,"a":2}"#, r#"{"a":"#, "[1]", "not json"] {
        std::fs::write(&file, bad).unwrap();
        let message = stderr(&gateway(&["canonical", &file]));
        assert!(message.starts_with("malformed: "), "{message}");
    }
    let missing = stderr(&gateway(&["canonical", &path(&dir, "absent.json")]));
    assert!(missing.starts_with("cannot read "), "{missing}");
}

#[test]
fn generated_files_validate_in_both_suites() {
    for suite in ["ed25519", "rsa-sha1"] {
        let dir = scratch(&format!("generate-{suite}"));
        let summary = generate(&dir, suite, &["--lifetime-days", "30"]);
        let secret = summary.get_str("secret").unwrap();
        assert_eq!(secret.len(), 52);
        let contact = summary.get_str("contact").unwrap();
        assert!(contact.starts_with("peer://example.org/"), "{contact}");
        let public = path(&dir, "public.json");
        let result = stdout_json(&gateway(&["peer-file", "validate", &public]));
        assert_eq!(result.get_str("contact"), Some(contact));
        assert_eq!(result.get_str("contactId"), summary.get_str("contactId"));
        assert_eq!(result.get_str("suite"), Some(suite));
        assert_eq!(result.get_bool("findable"), Some(true));
        assert_eq!(result.get_bool("saltVerified"), Some(false));
        let created = result.get_u64("created").unwrap();
        assert_eq!(result.get_u64("expires"), Some(created + 30 * 86_400));
        let with_certs = stdout_json(&gateway(&[
            "peer-file",
            "validate",
            &public,
            "--certificates",
            &path(&dir, "certs.json"),
        ]));
        assert_eq!(with_certs.get_bool("saltVerified"), Some(true));
        // The private file is for the owner's eyes only and opens with the printed secret.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join("private.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let private = parse(&std::fs::read_to_string(dir.join("private.json")).unwrap()).unwrap();
        let opened =
            openpeer_protocol::peer_file::decrypt_private(&private, secret, created).unwrap();
        assert_eq!(opened.public.contact().to_string(), contact);
    }
}

#[test]
fn a_given_secret_is_used_and_not_printed() {
    let dir = scratch("secret");
    let summary = generate(
        &dir,
        "ed25519",
        &["--secret", "correct horse", "--unfindable"],
    );
    assert!(summary.get("secret").is_none());
    let private = parse(&std::fs::read_to_string(dir.join("private.json")).unwrap()).unwrap();
    assert!(
        openpeer_protocol::peer_file::decrypt_private(&private, "correct horse", u64::MAX / 2)
            .is_err()
    );
    let public = stdout_json(&gateway(&[
        "peer-file",
        "validate",
        &path(&dir, "public.json"),
    ]));
    assert_eq!(public.get_bool("findable"), Some(false));
    let created = public.get_u64("created").unwrap();
    openpeer_protocol::peer_file::decrypt_private(&private, "correct horse", created).unwrap();
}

/// Replaces the first occurrence of `from` in the file by `to`, a change of one byte.
fn change_one_byte(file: &Path, from: &str, to: &str) -> String {
    assert_eq!(from.len(), to.len());
    let text = std::fs::read_to_string(file).unwrap();
    let at = text
        .find(from)
        .unwrap_or_else(|| panic!("{from} not in file"));
    let changed = format!("{}{}{}", &text[..at], to, &text[at + from.len()..]);
    assert_eq!(
        changed
            .bytes()
            .zip(text.bytes())
            .filter(|(a, b)| a != b)
            .count(),
        1
    );
    let out = file.with_extension("changed.json");
    std::fs::write(&out, changed).unwrap();
    out.to_str().unwrap().to_owned()
}

#[test]
fn a_file_changed_by_one_byte_is_refused_with_the_right_rule() {
    let dir = scratch("one-byte");
    generate(&dir, "ed25519", &[]);
    let public = dir.join("public.json");
    let text = std::fs::read_to_string(&public).unwrap();
    let doc = parse(&text).unwrap();
    let section = |id: &str| {
        doc.get_object("peer")
            .unwrap()
            .get_list("sectionBundle")
            .iter()
            .map(|b| {
                b.as_object()
                    .unwrap()
                    .get_object("section")
                    .unwrap()
                    .clone()
            })
            .find(|s| s.get_str("$id") == Some(id))
            .unwrap()
    };
    let created = section("A").get_u64("created").unwrap().to_string();
    let mut later = created.clone().into_bytes();
    *later.last_mut().unwrap() = if later.last() == Some(&b'9') {
        b'8'
    } else {
        later.last().unwrap() + 1
    };
    let later = String::from_utf8(later).unwrap();
    let find_secret = section("B").get_str("findSecret").unwrap().to_owned();
    let flipped_secret = format!(
        "{}{}",
        if find_secret.starts_with('x') {
            "y"
        } else {
            "x"
        },
        &find_secret[1..]
    );
    let c_contact = "\"$id\":\"C\",\"contact\":\"peer://example.org/".to_owned();
    let cases = [
        (
            format!("\"created\":{created}"),
            format!("\"created\":{later}"),
            "signature-a",
        ),
        (find_secret.clone(), flipped_secret, "signature-b"),
        (
            c_contact.clone(),
            c_contact.replace("example.org", "examplf.org"),
            "signature-c",
        ),
        (
            "\"algorithm\":\"urn:openpeer:jsonmsg:".to_owned(),
            "\"algorithm\":\"urn:openpeer:jsonmsh:".to_owned(),
            "unknown-algorithm",
        ),
        (
            "\"sectionBundle\"".to_owned(),
            "\"sectionBundlf\"".to_owned(),
            "malformed",
        ),
    ];
    for (from, to, rule) in cases {
        let changed = change_one_byte(&public, &from, &to);
        let message = stderr(&gateway(&["peer-file", "validate", &changed]));
        assert!(
            message.starts_with(&format!("{rule}: ")),
            "{rule}: {message}"
        );
    }
}

#[test]
fn expiry_and_the_salt_certificate_are_enforced() {
    let dir = scratch("expiry");
    generate(&dir, "ed25519", &["--lifetime-days", "1"]);
    let public = path(&dir, "public.json");
    let created = stdout_json(&gateway(&["peer-file", "validate", &public]))
        .get_u64("created")
        .unwrap();
    let at = (created + 86_400).to_string();
    assert!(
        stderr(&gateway(&["peer-file", "validate", &public, "--at", &at])).starts_with("expired: ")
    );
    // Certificates of another development domain under the same name do not vouch for the salt.
    let other = scratch("expiry-other");
    generate(&other, "ed25519", &[]);
    let message = stderr(&gateway(&[
        "peer-file",
        "validate",
        &public,
        "--certificates",
        &path(&other, "certs.json"),
    ]));
    assert!(message.starts_with("salt-signature: "), "{message}");
}

#[test]
fn contact_mismatch_is_reported() {
    // Section B from another file made with the same key cannot be produced through the CLI, so
    // the mismatch is built from two generated files' Section C, whose contact differs.
    let (one, two) = (scratch("mismatch-1"), scratch("mismatch-2"));
    generate(&one, "ed25519", &[]);
    generate(&two, "ed25519", &[]);
    let first = parse(&std::fs::read_to_string(one.join("public.json")).unwrap()).unwrap();
    let second = parse(&std::fs::read_to_string(two.join("public.json")).unwrap()).unwrap();
    let bundles = |doc: &Object| {
        doc.get_object("peer")
            .unwrap()
            .get_list("sectionBundle")
            .to_vec()
    };
    let mut spliced = bundles(&first);
    spliced[2] = bundles(&second)[2].clone();
    let doc = Object::new().with(
        "peer",
        Object::new()
            .with("$version", "1")
            .with("sectionBundle", spliced),
    );
    let file = one.join("spliced.json");
    std::fs::write(&file, openpeer_protocol::canonical::render_object(&doc)).unwrap();
    // Another key signed that C, and it names another peer: the key reference no longer resolves.
    let message = stderr(&gateway(&["peer-file", "validate", file.to_str().unwrap()]));
    assert!(message.starts_with("contact-mismatch: "), "{message}");
}

#[test]
fn the_real_2013_c_file_is_refused_at_section_a() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/protocol/tests/vectors/public-from-C.json"
    );
    let message = stderr(&gateway(&[
        "peer-file",
        "validate",
        file,
        "--at",
        "1400000000",
    ]));
    assert!(message.starts_with("signature-a: "), "{message}");
}

#[test]
fn generate_refuses_a_salt_of_another_domain() {
    let dir = scratch("foreign-salt");
    let salt = path(&dir, "salt.json");
    std::fs::write(&salt, r##"{"saltBundle":{"salt":{"$id":"1","#text":"c2FsdA=="},"signature":{"reference":"#1","algorithm":"urn:openpeer:jsonsig:ed25519","digestValue":"","digestSigned":"","key":{"$id":"s","domain":"other.org","service":"salt"}}}}"##).unwrap();
    let output = gateway(&[
        "peer-file",
        "generate",
        "--domain",
        "example.org",
        "--salt-bundle",
        &salt,
        "--public",
        &path(&dir, "p"),
        "--private",
        &path(&dir, "q"),
    ]);
    assert!(stderr(&output).contains("signed by other.org"));
    assert!(!dir.join("p").exists());
}
