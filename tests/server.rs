//! The serving gateway (issue 2/4), end to end: `app::start` on a free loopback port over a real
//! database — every test runs once on SQLite (`sqlite::…`) and once on PostgreSQL
//! (`postgres::…`) — spoken to over HTTP(S) by a small client, and every signature checked with
//! `openpeer-protocol` using nothing but what `certificates-get` returned.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use openpeer_gateway::keys::{KeyRing, ServiceType};
use openpeer_gateway::services::finders::{FinderNode, FinderNodeRepo as _};
use openpeer_gateway::services::salt::SaltRepo as _;
use openpeer_gateway::store::Store;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::encoding::from_base64;
use openpeer_protocol::finder::FinderEntry;
use openpeer_protocol::json::{Object, Value};
use openpeer_protocol::message::{self, MessageKind};
use openpeer_protocol::salt::SaltBundle;
use openpeer_protocol::signature::{KeyReference, SignatureError, SignatureSuite, verify_bundle};
use openpeer_protocol::uri::DomainName;

use support::{
    CERTIFICATES_GET, FINDERS_GET, SERVICES_GET, SIGNED_SALT_GET, TestDb, TlsClient, call,
    error_code, error_of, get, ok_body, post, post_bytes, post_chunked, request, request_for,
    self_signed_pem, start, stop, tls_toml, unix_now,
};

crate::on_both_backends!(
    services_get_echoes_the_envelope_and_lists_the_services,
    services_get_static_forms_have_no_id_or_timestamp,
    services_get_redirects_when_configured,
    certificates_get_ed25519,
    certificates_get_rsa_sha1_for_a_configured_domain,
    signed_salt_get_signs_records_and_caps,
    signed_salt_get_refuses_bad_counts_without_recording,
    concurrent_salt_requests_are_all_signed_and_recorded,
    configured_caps_are_honoured,
    finders_get_lists_signed_entries_never_more_than_asked,
    bad_input_is_refused_without_changing_storage,
    body_of_exactly_the_limit_is_accepted,
    rotation_keeps_old_salts_valid_until_they_expire,
    rotation_within_one_second_makes_the_new_key_active,
    a_running_node_picks_up_a_key_rotated_elsewhere,
    restart_keeps_keys_and_salts,
    operations_endpoints,
    tls_with_pem_files,
    tls_with_a_self_signed_certificate,
    start_fails_on_unreadable_tls_files,
);

const LOCALHOST: &str = "localhost";

fn domain(name: &str) -> DomainName {
    DomainName::parse(name).expect("domain name")
}

fn assert_recent(timestamp: Option<u64>, what: &str) {
    let now = unix_now();
    let t = timestamp.unwrap_or_else(|| panic!("{what}: no $timestamp"));
    assert!(
        t.abs_diff(now) <= 5,
        "{what}: $timestamp {t} is not within 5 s of {now}"
    );
}

fn list<'a>(object: &'a Object, path: &[&str], leaf: &str) -> &'a [Value] {
    let mut at = object;
    for key in path {
        at = at
            .get_object(key)
            .unwrap_or_else(|| panic!("no {key:?} in {at:?}"));
    }
    at.get_list(leaf)
}

fn objects(values: &[Value]) -> Vec<&Object> {
    values
        .iter()
        .map(|v| v.as_object().expect("an element"))
        .collect()
}

/// `certificates-get` from `addr` for `domain_name`, as a verified set for time `now`, and the
/// result body it came from.
async fn certificates(addr: SocketAddr, domain_name: &str, now: u64) -> (CertificateSet, Object) {
    let answer = call(
        addr,
        CERTIFICATES_GET,
        &request_for(domain_name, "certificates", "certificates-get", ""),
    )
    .await;
    let body = ok_body(&answer).clone();
    let set = CertificateSet::from_certificates_get(&domain(domain_name), &body, now)
        .unwrap_or_else(|e| panic!("certificates-get does not verify: {e}"));
    (set, body)
}

fn certificates_of<'a>(
    set: &'a CertificateSet,
    service: &str,
) -> Vec<&'a openpeer_protocol::certificates::Certificate> {
    set.certificates()
        .iter()
        .filter(|c| c.service == service)
        .collect()
}

/// `signed-salt-get` with `members`; the salt bundles.
async fn salts(addr: SocketAddr, members: &str) -> Vec<Object> {
    let answer = call(
        addr,
        SIGNED_SALT_GET,
        &request("peer-salt", "signed-salt-get", members),
    )
    .await;
    objects(list(ok_body(&answer), &["salts"], "saltBundle"))
        .into_iter()
        .cloned()
        .collect()
}

fn salt_id(bundle: &Object) -> String {
    bundle
        .get_object("salt")
        .and_then(|s| s.get_str("$id"))
        .expect("salt $id")
        .to_owned()
}

fn salt_text(bundle: &Object) -> String {
    bundle
        .get_object("salt")
        .and_then(|s| s.get_str("#text"))
        .expect("salt text")
        .to_owned()
}

/// The certificate reference a bundle's signature names.
fn signer_of(bundle: &Object) -> KeyReference {
    KeyReference::from_object(
        bundle
            .get_object("signature")
            .and_then(|s| s.get_object("key"))
            .expect("signature key"),
    )
    .expect("readable key reference")
}

fn certificate_id_of(bundle: &Object) -> String {
    match signer_of(bundle) {
        KeyReference::Certificate { id, .. } => id,
        other => panic!("signed by {other:?}, not by a certificate"),
    }
}

// ---------------------------------------------------------------------------------------------
// bootstrapper / services-get

/// (service type, method name, path) as `services-get` must list them.
const SERVICES: [(&str, &str, &str); 21] = [
    ("bootstrapper", "services-get", SERVICES_GET),
    ("certificates", "certificates-get", CERTIFICATES_GET),
    ("bootstrapped-finders", "finders-get", FINDERS_GET),
    ("salt", "signed-salt-get", SIGNED_SALT_GET),
    (
        "identity",
        "identity-access-validate",
        "/openpeer/identity/identity-access-validate",
    ),
    (
        "identity",
        "identity-lookup-update",
        "/openpeer/identity/identity-lookup-update",
    ),
    (
        "identity",
        "identity-access-lockbox-update",
        "/openpeer/identity/identity-access-lockbox-update",
    ),
    (
        "identity",
        "identity-access-rolodex-credentials-get",
        "/openpeer/identity/identity-access-rolodex-credentials-get",
    ),
    (
        "identity",
        "identity-access-inner-frame",
        "/identity/v1/inner-frame",
    ),
    (
        "identity-lookup",
        "identity-lookup-check",
        "/openpeer/identity-lookup/identity-lookup-check",
    ),
    (
        "identity-lookup",
        "identity-lookup",
        "/openpeer/identity-lookup/identity-lookup",
    ),
    (
        "identity-lockbox",
        "lockbox-access",
        "/openpeer/identity-lockbox/lockbox-access",
    ),
    (
        "identity-lockbox",
        "lockbox-access-validate",
        "/openpeer/identity-lockbox/lockbox-access-validate",
    ),
    (
        "identity-lockbox",
        "lockbox-identities-update",
        "/openpeer/identity-lockbox/lockbox-identities-update",
    ),
    (
        "identity-lockbox",
        "lockbox-content-get",
        "/openpeer/identity-lockbox/lockbox-content-get",
    ),
    (
        "identity-lockbox",
        "lockbox-content-set",
        "/openpeer/identity-lockbox/lockbox-content-set",
    ),
    (
        "identity-lockbox",
        "lockbox-namespace-grant-challenge-validate",
        "/openpeer/identity-lockbox/lockbox-namespace-grant-challenge-validate",
    ),
    (
        "namespace-grant",
        "namespace-grant-inner-frame",
        "/namespace-grant/v1/inner-frame",
    ),
    (
        "peer",
        "peer-services-get",
        "/openpeer/peer/peer-services-get",
    ),
    (
        "rolodex",
        "rolodex-access",
        "/openpeer/rolodex/rolodex-access",
    ),
    (
        "rolodex",
        "rolodex-contacts-get",
        "/openpeer/rolodex/rolodex-contacts-get",
    ),
];

fn assert_services(body: &Object, public_url: &str) {
    assert_eq!(body.len(), 1, "services-get body: {body:?}");
    let services = objects(list(body, &["services"], "service"));
    let found: Vec<(String, String, String)> = services
        .iter()
        .flat_map(|service| {
            let kind = service.get_str("type").expect("service type").to_owned();
            assert_eq!(service.get_str("$id"), Some(kind.as_str()), "{service:?}");
            assert_eq!(service.get_str("version"), Some("1.0"), "{service:?}");
            objects(list(service, &["methods"], "method"))
                .into_iter()
                .map(move |m| {
                    (
                        kind.clone(),
                        m.get_str("name").expect("method name").to_owned(),
                        m.get_str("uri").expect("method uri").to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let expected: Vec<(String, String, String)> = SERVICES
        .iter()
        .map(|(kind, name, path)| {
            (
                (*kind).to_owned(),
                (*name).to_owned(),
                format!("{public_url}{path}"),
            )
        })
        .collect();
    assert_eq!(found, expected);
}

async fn services_get_echoes_the_envelope_and_lists_the_services(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let public_url = format!("http://{addr}");
    assert_eq!(node.public_url(), public_url);
    let sent = format!(
        "{{\"request\":{{\"$domain\":\"localhost\",\"$appid\":\"app-7\",\"$id\":\"abc-123\",\"$handler\":\"bootstrapper\",\"$method\":\"services-get\",\"$timestamp\":{}}}}}",
        unix_now()
    );
    let response = post(addr, SERVICES_GET, &sent).await;
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    let text = response.text();
    let answer = response.message();
    // Written in the C14 canonical form.
    assert_eq!(message::encode(&answer), text);
    let envelope = &answer.envelope;
    assert_eq!(envelope.kind, MessageKind::Result);
    assert_eq!(envelope.domain.as_deref(), Some("localhost"));
    assert_eq!(envelope.app_id.as_deref(), Some("app-7"));
    assert_eq!(envelope.id.as_deref(), Some("abc-123"));
    assert_eq!(envelope.handler.as_deref(), Some("bootstrapper"));
    assert_eq!(envelope.method.as_deref(), Some("services-get"));
    assert_recent(envelope.timestamp, "services-get");
    assert_services(ok_body(&answer), &public_url);
    // Every listed method answers at the path its URI names.
    for (handler, method, path) in [
        ("bootstrapper", "services-get", SERVICES_GET),
        ("certificates", "certificates-get", CERTIFICATES_GET),
        ("bootstrapped-finders", "finders-get", FINDERS_GET),
        ("peer-salt", "signed-salt-get", SIGNED_SALT_GET),
    ] {
        let answer = call(addr, path, &request(handler, method, "")).await;
        ok_body(&answer);
        assert_eq!(answer.envelope.method.as_deref(), Some(method));
    }
    stop(node).await;
}

async fn services_get_static_forms_have_no_id_or_timestamp(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let public_url = format!("http://{addr}");
    let by_get = get(addr, SERVICES_GET).await;
    let bodiless = post(addr, SERVICES_GET, "").await;
    for (form, response) in [("GET", &by_get), ("bodiless POST", &bodiless)] {
        let answer = response.message();
        let envelope = &answer.envelope;
        assert_eq!(envelope.kind, MessageKind::Result, "{form}");
        assert_eq!(envelope.id, None, "{form}: $id");
        assert_eq!(envelope.timestamp, None, "{form}: $timestamp");
        assert_eq!(envelope.domain.as_deref(), Some("localhost"), "{form}");
        assert_eq!(envelope.handler.as_deref(), Some("bootstrapper"), "{form}");
        assert_eq!(envelope.method.as_deref(), Some("services-get"), "{form}");
        assert!(
            !response.text().contains("$timestamp") && !response.text().contains("\"$id\":\"t"),
            "{form}: {}",
            response.text()
        );
        assert_services(ok_body(&answer), &public_url);
    }
    // One static document: both forms serve the same bytes.
    assert_eq!(by_get.text(), bodiless.text());
    // A whitespace-only body is bodiless too.
    assert_eq!(
        post(addr, SERVICES_GET, " \r\n").await.text(),
        by_get.text()
    );
    stop(node).await;
}

async fn services_get_redirects_when_configured(db: TestDb) {
    let node =
        start(db.settings("[bootstrapper]\nredirect = \"https://elsewhere.example/x\"")).await;
    let addr = node.local_addr();
    let expected =
        r##""error":{"$id":302,"#text":"Found","location":"https://elsewhere.example/x"}"##;
    let response = post(
        addr,
        SERVICES_GET,
        &request("bootstrapper", "services-get", ""),
    )
    .await;
    assert!(response.text().contains(expected), "{}", response.text());
    let answer = response.message();
    assert_eq!(answer.envelope.id.as_deref(), Some("t-1"));
    let error = error_of(&answer).expect("an error");
    assert_eq!(error.code, 302);
    assert_eq!(error.reason, "Found");
    assert_eq!(
        error.location.as_deref(),
        Some("https://elsewhere.example/x")
    );
    assert_eq!(answer.body.len(), 1, "only the error: {:?}", answer.body);
    // The static forms redirect too.
    for response in [
        get(addr, SERVICES_GET).await,
        post(addr, SERVICES_GET, "").await,
    ] {
        assert!(response.text().contains(expected), "{}", response.text());
    }
    // The other services are still served here.
    ok_body(
        &call(
            addr,
            CERTIFICATES_GET,
            &request("certificates", "certificates-get", ""),
        )
        .await,
    );
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// certificates / certificates-get

const SERVICE_TYPES: [&str; 6] = [
    "certificates",
    "salt",
    "finder",
    "identity",
    "identity-lookup",
    "namespace-grant",
];

async fn check_certificates(db: TestDb, suite: &str, domain_name: &str) {
    let mut extra = format!("signing.suite = {suite:?}\n");
    if domain_name != LOCALHOST {
        extra.push_str(&format!("domain.name = {domain_name:?}\n"));
    }
    let node = start(db.settings(&extra)).await;
    let addr = node.local_addr();
    let now = unix_now();
    let expected_suite = SignatureSuite::from_name(suite).expect("suite name");
    let answer = call(
        addr,
        CERTIFICATES_GET,
        &request_for(domain_name, "certificates", "certificates-get", ""),
    )
    .await;
    assert_eq!(answer.envelope.domain.as_deref(), Some(domain_name));
    assert_eq!(answer.envelope.id.as_deref(), Some("t-1"));
    assert_eq!(answer.envelope.handler.as_deref(), Some("certificates"));
    assert_eq!(answer.envelope.method.as_deref(), Some("certificates-get"));
    assert_recent(answer.envelope.timestamp, "certificates-get");
    let body = ok_body(&answer);
    assert_eq!(body.len(), 1, "{body:?}");
    let set = CertificateSet::from_certificates_get(&domain(domain_name), body, now)
        .expect("certificates-get verifies");
    // Exactly one certificate per service type, all valid for about a year.
    let services: Vec<&str> = set
        .certificates()
        .iter()
        .map(|c| c.service.as_str())
        .collect();
    let mut sorted = services.clone();
    sorted.sort_unstable();
    let mut expected = SERVICE_TYPES.to_vec();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "services of the certificates");
    let ids: BTreeSet<&str> = set.certificates().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 6, "distinct certificate ids");
    for certificate in set.certificates() {
        assert!(certificate.expires > now, "{certificate:?} expired");
        assert!(
            certificate.expires.abs_diff(now + 365 * 86_400) < 120,
            "{} expires {} instead of in 365 days",
            certificate.service,
            certificate.expires
        );
        assert_eq!(
            certificate.key.suite(),
            expected_suite,
            "{} key",
            certificate.service
        );
    }
    // Every bundle is signed by the certificates key, in the configured suite.
    let root = certificates_of(&set, "certificates")[0].clone();
    for bundle in objects(list(body, &["certificates"], "certificateBundle")) {
        let signature = bundle.get_object("signature").expect("signature");
        assert_eq!(signature.get_str("algorithm"), Some(expected_suite.uri()));
        assert_eq!(
            signer_of(bundle),
            KeyReference::Certificate {
                id: root.id.clone(),
                domain: domain(domain_name),
                service: "certificates".to_owned(),
            }
        );
    }
    // The document binds its domain: read for another one it does not verify.
    assert!(
        CertificateSet::from_certificates_get(&domain("other.example"), body, now).is_err(),
        "certificates of {domain_name} accepted for other.example"
    );
    // A salt of this suite verifies against them.
    let answer = call(
        addr,
        SIGNED_SALT_GET,
        &request_for(domain_name, "peer-salt", "signed-salt-get", ""),
    )
    .await;
    let bundles = objects(list(ok_body(&answer), &["salts"], "saltBundle"));
    assert_eq!(bundles.len(), 1);
    SaltBundle::verify(bundles[0], &set).expect("salt verifies");
    assert_eq!(
        SaltBundle::read(bundles[0]).expect("salt bundle").domain,
        domain(domain_name)
    );
    stop(node).await;
}

async fn certificates_get_ed25519(db: TestDb) {
    check_certificates(db, "ed25519", LOCALHOST).await;
}

async fn certificates_get_rsa_sha1_for_a_configured_domain(db: TestDb) {
    check_certificates(db, "rsa-sha1", "example.org").await;
}

// ---------------------------------------------------------------------------------------------
// peer-salt / signed-salt-get

async fn signed_salt_get_signs_records_and_caps(db: TestDb) {
    let settings = db.settings("");
    let node = start(settings.clone()).await;
    let addr = node.local_addr();
    let (set, _) = certificates(addr, LOCALHOST, unix_now()).await;
    let salt_certificate = certificates_of(&set, "salt")[0].clone();
    assert_eq!(db.count("issued_salts").await, 0);

    let answer = call(
        addr,
        SIGNED_SALT_GET,
        &request("peer-salt", "signed-salt-get", "\"salts\":3"),
    )
    .await;
    assert_eq!(answer.envelope.id.as_deref(), Some("t-1"));
    assert_eq!(answer.envelope.handler.as_deref(), Some("peer-salt"));
    assert_eq!(answer.envelope.method.as_deref(), Some("signed-salt-get"));
    assert_recent(answer.envelope.timestamp, "signed-salt-get");
    let body = ok_body(&answer);
    assert_eq!(body.len(), 1, "{body:?}");
    let bundles: Vec<Object> = objects(list(body, &["salts"], "saltBundle"))
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(bundles.len(), 3);

    let store = Store::connect(&settings.database)
        .await
        .expect("second store");
    let issued_after = unix_now();
    let mut ids = BTreeSet::new();
    let mut texts = BTreeSet::new();
    for bundle in &bundles {
        SaltBundle::verify(bundle, &set).expect("salt verifies with certificates-get only");
        let read = SaltBundle::read(bundle).expect("salt bundle");
        assert_eq!(read.domain, domain(LOCALHOST));
        assert_eq!(certificate_id_of(bundle), salt_certificate.id);
        let text = salt_text(bundle);
        let raw = from_base64(&text).unwrap_or_else(|| panic!("salt {text:?} is not base64"));
        assert_eq!(raw.len(), 32, "salt bytes");
        ids.insert(salt_id(bundle));
        texts.insert(text.clone());
        let recorded = store
            .find_salt(&salt_id(bundle))
            .await
            .expect("find_salt")
            .unwrap_or_else(|| panic!("salt {} not recorded", salt_id(bundle)));
        assert_eq!(recorded.salt, text);
        assert_eq!(recorded.certificate_id, salt_certificate.id);
        assert!(recorded.issued.abs_diff(issued_after) <= 5);
    }
    assert_eq!(ids.len(), 3, "distinct salt ids");
    assert_eq!(texts.len(), 3, "distinct salts");
    assert_eq!(db.count("issued_salts").await, 3);
    // A tampered salt does not verify.
    let mut forged = bundles[0].clone();
    let mut salt = forged.get_object("salt").expect("salt").clone();
    salt.insert("#text", salt_text(&bundles[1]));
    forged.insert("salt", salt);
    assert!(SaltBundle::verify(&forged, &set).is_err());

    // A quoted count is a count.
    assert_eq!(salts(addr, "\"salts\":\"2\"").await.len(), 2);
    assert_eq!(db.count("issued_salts").await, 5);
    // No count: one salt.
    assert_eq!(salts(addr, "").await.len(), 1);
    assert_eq!(db.count("issued_salts").await, 6);
    // More than the cap: the default cap of 10.
    let capped = salts(addr, "\"salts\":1000").await;
    assert_eq!(capped.len(), 10);
    for bundle in &capped {
        SaltBundle::verify(bundle, &set).expect("capped salt verifies");
        assert!(ids.insert(salt_id(bundle)), "salt id repeated");
    }
    assert_eq!(db.count("issued_salts").await, 16);
    store.close().await.expect("close");
    stop(node).await;
}

async fn signed_salt_get_refuses_bad_counts_without_recording(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    salts(addr, "\"salts\":1").await;
    let before = db.counts().await;
    for count in [
        "\"x\"",
        "0",
        "\"0\"",
        "-1",
        "1.5",
        "\"\"",
        "true",
        "99999999999999999999999",
    ] {
        let answer = call(
            addr,
            SIGNED_SALT_GET,
            &request(
                "peer-salt",
                "signed-salt-get",
                &format!("\"salts\":{count}"),
            ),
        )
        .await;
        assert_eq!(error_code(&answer), 400, "salts:{count}");
        assert_eq!(answer.envelope.id.as_deref(), Some("t-1"), "salts:{count}");
        assert_eq!(db.counts().await, before, "salts:{count} changed storage");
    }
    stop(node).await;
}

async fn concurrent_salt_requests_are_all_signed_and_recorded(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let (set, _) = certificates(addr, LOCALHOST, unix_now()).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| async_std::task::spawn(salts(addr, "\"salts\":5")))
        .collect();
    let mut ids = BTreeSet::new();
    for task in tasks {
        let bundles = task.await;
        assert_eq!(bundles.len(), 5);
        for bundle in &bundles {
            SaltBundle::verify(bundle, &set).expect("salt verifies");
            ids.insert(salt_id(bundle));
        }
    }
    assert_eq!(ids.len(), 80, "distinct salts");
    assert_eq!(db.count("issued_salts").await, 80);
    stop(node).await;
}

async fn configured_caps_are_honoured(db: TestDb) {
    let settings =
        db.settings("[limits]\nmax_salts_per_request = 4\nmax_finders_per_request = 1\n");
    let node = start(settings.clone()).await;
    let addr = node.local_addr();
    assert_eq!(salts(addr, "\"salts\":1000").await.len(), 4);
    assert_eq!(salts(addr, "\"salts\":3").await.len(), 3);
    assert_eq!(db.count("issued_salts").await, 7);
    let store = Store::connect(&settings.database).await.expect("store");
    store
        .heartbeat(&FinderNode {
            node_id: "gw-b".to_owned(),
            url: "wss://gw-b.example/finder".to_owned(),
            region: "1".to_owned(),
            priority: 0,
            weight: 10,
            created: unix_now(),
            last_seen: unix_now(),
        })
        .await
        .expect("heartbeat");
    store.close().await.expect("close");
    assert_eq!(finders(addr, "\"servers\":5").await.len(), 1);
    stop(node).await;
}

/// PostgreSQL only: the database disappears under a running node. Readiness says so, liveness
/// does not, and a request that needs storage gets a 500 that tells nothing about the cause.
#[async_std::test]
async fn postgres_lost_database_fails_readiness_and_answers_500() {
    let db = TestDb::postgres();
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    assert_eq!(get(addr, "/readyz").await.status, 200);
    let name = db.url.rsplit('/').next().expect("database name").to_owned();
    let dropped = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-q",
            "-c",
        ])
        .arg(format!("DROP DATABASE {name} WITH (FORCE)"))
        .output()
        .expect("psql");
    assert!(
        dropped.status.success(),
        "{}",
        String::from_utf8_lossy(&dropped.stderr)
    );
    let ready = get(addr, "/readyz").await;
    assert_eq!(
        (ready.status, ready.text().as_str()),
        (503, "database unreachable\n")
    );
    assert_eq!(get(addr, "/healthz").await.status, 200);
    let response = post(
        addr,
        SIGNED_SALT_GET,
        &request("peer-salt", "signed-salt-get", ""),
    )
    .await;
    let answer = response.message();
    assert_eq!(error_code(&answer), 500);
    assert_eq!(
        error_of(&answer).expect("error").reason,
        "Internal Server Error",
        "no detail: {}",
        response.text()
    );
    // Certificates need no storage: still served.
    ok_body(
        &call(
            addr,
            CERTIFICATES_GET,
            &request("certificates", "certificates-get", ""),
        )
        .await,
    );
    let _ = node.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// bootstrapped-finders / finders-get

async fn finders(addr: SocketAddr, members: &str) -> Vec<Object> {
    let answer = call(
        addr,
        FINDERS_GET,
        &request("bootstrapped-finders", "finders-get", members),
    )
    .await;
    assert_eq!(answer.envelope.id.as_deref(), Some("t-1"));
    assert_eq!(
        answer.envelope.handler.as_deref(),
        Some("bootstrapped-finders")
    );
    objects(list(ok_body(&answer), &["finders"], "finderBundle"))
        .into_iter()
        .cloned()
        .collect()
}

fn finder_id(bundle: &Object) -> &str {
    bundle
        .get_object("finder")
        .and_then(|f| f.get_str("$id"))
        .expect("finder $id")
}

async fn finders_get_lists_signed_entries_never_more_than_asked(db: TestDb) {
    let settings = db.settings(
        "domain.node_id = \"gw-a\"\n[finder]\nregion = \"eu-1\"\npriority = 3\nweight = 7\n",
    );
    let node = start(settings.clone()).await;
    let addr = node.local_addr();
    let now = unix_now();
    let (set, _) = certificates(addr, LOCALHOST, now).await;
    let finder_certificate = certificates_of(&set, "finder")[0].clone();

    let listed = finders(addr, "\"servers\":1").await;
    assert_eq!(listed.len(), 1);
    let bundle = &listed[0];
    let verified = verify_bundle(bundle, "finder", &set).expect("finder entry verifies");
    assert_eq!(verified.signer(), &finder_certificate.key);
    assert_eq!(
        signer_of(bundle),
        KeyReference::Certificate {
            id: finder_certificate.id.clone(),
            domain: domain(LOCALHOST),
            service: "finder".to_owned(),
        }
    );
    let finder = bundle.get_object("finder").expect("finder");
    assert_eq!(finder.get_str("$id"), Some("gw-a"));
    let protocols: Vec<(&str, &str)> = finder
        .get_object("protocols")
        .expect("protocols")
        .get_list("protocol")
        .iter()
        .filter_map(|p| {
            let p = p.as_object()?;
            Some((p.get_str("transport")?, p.get_str("host")?))
        })
        .collect();
    let (finder_url, link_url) = (
        format!("ws://{addr}/finder"),
        format!("ws://{addr}/federation/link"),
    );
    assert_eq!(
        protocols,
        [
            ("websocket", finder_url.as_str()),
            ("finder-link", link_url.as_str())
        ]
    );
    assert_eq!(finder.get_u64("priority"), Some(3));
    assert_eq!(finder.get_u64("weight"), Some(7));
    assert_eq!(finder.get_str("region"), Some("eu-1"));
    let created = finder.get_u64("created").expect("created");
    let expires = finder.get_u64("expires").expect("expires");
    assert!(created.abs_diff(now) <= 5, "created {created}, now {now}");
    assert!(
        expires.abs_diff(now + 90) <= 5,
        "expires {expires}: last heartbeat + node_ttl_seconds (90)"
    );
    assert_eq!(
        finder.get_object("key").and_then(|k| k.get_str("x509Data")),
        Some(finder_certificate.key.x509_data().as_str())
    );
    // Tampering breaks the signature.
    let mut forged = bundle.clone();
    let mut changed = finder.clone();
    changed.insert("region", "elsewhere");
    forged.insert("finder", changed);
    assert_eq!(
        verify_bundle(&forged, "finder", &set).map(|_| ()),
        Err(SignatureError::DigestMismatch)
    );

    // One node: never more entries than nodes, whatever is asked.
    assert_eq!(finders(addr, "\"servers\":5").await.len(), 1);
    assert_eq!(finders(addr, "").await.len(), 1);

    // A second live node and a stale one, registered as another process would.
    let store = Store::connect(&settings.database).await.expect("store");
    for (id, priority, seen) in [("gw-b", 1, now), ("gw-stale", 0, now - 10_000)] {
        store
            .heartbeat(&FinderNode {
                node_id: id.to_owned(),
                url: format!("wss://{id}.example/finder"),
                region: "eu-1".to_owned(),
                priority,
                weight: 1,
                created: seen,
                last_seen: seen,
            })
            .await
            .expect("heartbeat");
    }
    store.close().await.expect("close");
    let one = finders(addr, "\"servers\":1").await;
    assert_eq!(one.len(), 1, "never more than asked");
    assert_eq!(finder_id(&one[0]), "gw-b", "lowest priority first");
    let all = finders(addr, "\"servers\":5").await;
    let ids: Vec<&str> = all.iter().map(finder_id).collect();
    assert_eq!(
        ids,
        ["gw-b", "gw-a"],
        "live nodes by priority, stale one left out"
    );
    for bundle in &all {
        verify_bundle(bundle, "finder", &set).expect("every entry verifies");
    }
    let quoted = finders(addr, "\"servers\":\"2\"").await;
    assert_eq!(quoted.len(), 2);

    let before = db.counts().await;
    for count in ["0", "\"x\"", "-2"] {
        let answer = call(
            addr,
            FINDERS_GET,
            &request(
                "bootstrapped-finders",
                "finders-get",
                &format!("\"servers\":{count}"),
            ),
        )
        .await;
        assert_eq!(error_code(&answer), 400, "servers:{count}");
    }
    assert_eq!(db.counts().await, before);
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// Bad input

/// What a refused request must look like.
enum Echo {
    /// Nothing of the request is echoed: only `$timestamp` and the error.
    Nothing,
    /// `$id`, `$handler` and `$method` are echoed.
    Envelope(&'static str, &'static str),
}

async fn bad_input_is_refused_without_changing_storage(db: TestDb) {
    let node = start(db.settings("[limits]\nmax_body_bytes = 2048\n")).await;
    let addr = node.local_addr();
    salts(addr, "").await;
    let now = unix_now();
    let salt_request = |extra: &str| request("peer-salt", "signed-salt-get", extra);
    let padded = {
        let mut body = salt_request(&format!("\"pad\":\"{}\"", "x".repeat(4096)));
        body.truncate(4096);
        body.into_bytes()
    };
    assert_eq!(padded.len(), 4096);
    let big_valid = salt_request(&format!("\"pad\":\"{}\"", "x".repeat(4096))).into_bytes();
    let mut non_utf8 = format!(
        "{{\"request\":{{\"$domain\":\"localhost\",\"$id\":\"u-1\",\"$handler\":\"peer-salt\",\"$method\":\"signed-salt-get\",\"$timestamp\":{now},\"x\":\""
    )
    .into_bytes();
    non_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    non_utf8.extend_from_slice(b"\"}}");
    let envelope = |kind: &str, timestamp: u64, extra: &str| {
        format!(
            "{{\"{kind}\":{{\"$domain\":\"localhost\",\"$id\":\"t-1\",\"$handler\":\"peer-salt\",\"$method\":\"signed-salt-get\",\"$timestamp\":{timestamp}{extra}}}}}"
        )
    };
    let cases: Vec<(&str, Vec<u8>, u16, Echo)> = vec![
        (
            "malformed JSON",
            b"{\"request\":{\"$id\":\"m-1\",\"$handler\":".to_vec(),
            400,
            Echo::Nothing,
        ),
        ("empty body", Vec::new(), 400, Echo::Nothing),
        ("top-level array", b"[1,2]".to_vec(), 400, Echo::Nothing),
        (
            "duplicate key",
            br#"{"request":{"$handler":"peer-salt","$method":"signed-salt-get","salts":1,"salts":2}}"#
                .to_vec(),
            400,
            Echo::Nothing,
        ),
        (
            "two top-level keys",
            br#"{"request":{"$handler":"peer-salt","$method":"signed-salt-get"},"notify":{"$handler":"peer-salt","$method":"signed-salt-get"}}"#
                .to_vec(),
            400,
            Echo::Nothing,
        ),
        (
            "unknown kind",
            b"{\"question\":{\"$handler\":\"peer-salt\",\"$method\":\"signed-salt-get\"}}".to_vec(),
            400,
            Echo::Nothing,
        ),
        (
            "missing $method",
            b"{\"request\":{\"$id\":\"t-1\",\"$handler\":\"peer-salt\"}}".to_vec(),
            400,
            Echo::Nothing,
        ),
        ("non-UTF-8 body", non_utf8, 400, Echo::Nothing),
        (
            "unknown handler",
            request("no-such-handler", "signed-salt-get", "\"salts\":1").into_bytes(),
            501,
            Echo::Envelope("no-such-handler", "signed-salt-get"),
        ),
        (
            "unknown method of a known handler",
            request("peer-salt", "salt-mine", "\"salts\":1").into_bytes(),
            501,
            Echo::Envelope("peer-salt", "salt-mine"),
        ),
        (
            "known method this domain does not serve",
            request("identity", "identity-access-start", "").into_bytes(),
            501,
            Echo::Envelope("identity", "identity-access-start"),
        ),
        (
            "wrong $domain",
            request_for("example.org", "peer-salt", "signed-salt-get", "\"salts\":1").into_bytes(),
            404,
            Echo::Envelope("peer-salt", "signed-salt-get"),
        ),
        (
            "a result document",
            envelope("result", now, ",\"salts\":1").into_bytes(),
            400,
            Echo::Envelope("peer-salt", "signed-salt-get"),
        ),
        (
            "a notify document",
            envelope("notify", now, ",\"salts\":1").into_bytes(),
            400,
            Echo::Envelope("peer-salt", "signed-salt-get"),
        ),
        (
            "$timestamp an hour behind",
            envelope("request", now - 3600, ",\"salts\":1").into_bytes(),
            401,
            Echo::Envelope("peer-salt", "signed-salt-get"),
        ),
        (
            "$timestamp an hour ahead",
            envelope("request", now + 3600, ",\"salts\":1").into_bytes(),
            401,
            Echo::Envelope("peer-salt", "signed-salt-get"),
        ),
    ];
    let before = db.counts().await;
    for (name, body, code, echo) in cases {
        let response = post_bytes(addr, SIGNED_SALT_GET, &body).await;
        let answer = response.message();
        assert_eq!(error_code(&answer), code, "{name}: {}", response.text());
        assert_recent(answer.envelope.timestamp, name);
        match echo {
            Echo::Nothing => {
                let envelope = &answer.envelope;
                assert_eq!(
                    (
                        &envelope.domain,
                        &envelope.id,
                        &envelope.handler,
                        &envelope.method
                    ),
                    (&None, &None, &None, &None),
                    "{name}: nothing may be echoed"
                );
            }
            Echo::Envelope(handler, method) => {
                assert_eq!(answer.envelope.id.as_deref(), Some("t-1"), "{name}: $id");
                assert_eq!(answer.envelope.handler.as_deref(), Some(handler), "{name}");
                assert_eq!(answer.envelope.method.as_deref(), Some(method), "{name}");
            }
        }
        assert_eq!(answer.body.len(), 1, "{name}: only the error");
        assert_eq!(db.counts().await, before, "{name}: storage changed");
        // The server is still up and serving.
        assert_eq!(
            get(addr, "/healthz").await.status,
            200,
            "{name}: server down"
        );
    }
    // Over the body limit, with and without Content-Length.
    for (name, response) in [
        (
            "oversize body",
            post_bytes(addr, SIGNED_SALT_GET, &padded).await,
        ),
        (
            "oversize valid request",
            post_bytes(addr, SIGNED_SALT_GET, &big_valid).await,
        ),
        (
            "oversize chunked body",
            post_chunked(addr, SIGNED_SALT_GET, &big_valid).await,
        ),
    ] {
        let answer = response.message();
        assert_eq!(error_code(&answer), 413, "{name}: {}", response.text());
        assert_eq!(answer.envelope.id, None, "{name}: nothing echoed");
        assert_eq!(db.counts().await, before, "{name}: storage changed");
    }
    // And afterwards a good request is answered as usual.
    assert_eq!(salts(addr, "\"salts\":2").await.len(), 2);
    assert_eq!(db.count("issued_salts").await, before.issued_salts + 2);
    stop(node).await;
}

async fn body_of_exactly_the_limit_is_accepted(db: TestDb) {
    let node = start(db.settings("[limits]\nmax_body_bytes = 2048\n")).await;
    let addr = node.local_addr();
    let bare = request("peer-salt", "signed-salt-get", "\"pad\":\"\"");
    let pad = 2048 - bare.len();
    let body = request(
        "peer-salt",
        "signed-salt-get",
        &format!("\"pad\":\"{}\"", "x".repeat(pad)),
    );
    assert_eq!(body.len(), 2048);
    let answer = call(addr, SIGNED_SALT_GET, &body).await;
    assert_eq!(
        objects(list(ok_body(&answer), &["salts"], "saltBundle")).len(),
        1
    );
    let over = request(
        "peer-salt",
        "signed-salt-get",
        &format!("\"pad\":\"{}\"", "x".repeat(pad + 1)),
    );
    assert_eq!(error_code(&call(addr, SIGNED_SALT_GET, &over).await), 413);
    assert_eq!(db.count("issued_salts").await, 1);
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// Rotation and durability

async fn rotation_keeps_old_salts_valid_until_they_expire(db: TestDb) {
    let settings = db.settings("");
    let node = start(settings.clone()).await;
    let (before, _) = certificates(node.local_addr(), LOCALHOST, unix_now()).await;
    let old_certificate = certificates_of(&before, "salt")[0].clone();
    let old_salt = salts(node.local_addr(), "").await.remove(0);
    assert_eq!(certificate_id_of(&old_salt), old_certificate.id);
    stop(node).await;

    // Rotate the salt key as `keys rotate --service salt` does, a second later and with a longer
    // lifetime so that the new key outlives the old one.
    let store = Store::connect(&settings.database).await.expect("store");
    let mut ring = KeyRing::load(&store).await.expect("key ring");
    let mut signing = settings.signing.clone();
    signing.key_lifetime_seconds += 30 * 86_400;
    let added = ring
        .add(&store, ServiceType::Salt, &signing, unix_now() + 1)
        .await
        .expect("rotate");
    store.close().await.expect("close");
    let new_id = added.certificate.id.clone();
    let new_expires = added.certificate.expires;
    assert!(new_expires > old_certificate.expires);
    drop(added);
    drop(ring);

    let node = start(settings.clone()).await;
    let addr = node.local_addr();
    let (after, body) = certificates(addr, LOCALHOST, unix_now()).await;
    assert_eq!(
        after.certificates().len(),
        7,
        "six services plus the new salt key"
    );
    let salt_ids: BTreeSet<String> = certificates_of(&after, "salt")
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(
        salt_ids,
        BTreeSet::from([old_certificate.id.clone(), new_id.clone()])
    );
    for service in SERVICE_TYPES.iter().filter(|s| **s != "salt") {
        assert_eq!(certificates_of(&after, service).len(), 1, "{service}");
    }
    // The old salt still verifies; new salts are signed by the new key.
    SaltBundle::verify(&old_salt, &after).expect("old salt verifies after rotation");
    let new_salt = salts(addr, "").await.remove(0);
    assert_eq!(
        certificate_id_of(&new_salt),
        new_id,
        "new salts use the new key"
    );
    SaltBundle::verify(&new_salt, &after).expect("new salt verifies");
    // Expiry is respected: just before the old key's expiry the old salt verifies, after it
    // only the new one does.
    let domain = domain(LOCALHOST);
    let last_second =
        CertificateSet::from_certificates_get(&domain, &body, old_certificate.expires - 1)
            .expect("certificates verify");
    SaltBundle::verify(&old_salt, &last_second).expect("old salt valid until expiry");
    let later = CertificateSet::from_certificates_get(&domain, &body, old_certificate.expires + 1)
        .expect("certificates verify");
    assert_eq!(
        SaltBundle::verify(&old_salt, &later),
        Err(SignatureError::UnknownKey),
        "old salt accepted after its certificate expired"
    );
    SaltBundle::verify(&new_salt, &later).expect("new salt still valid");
    stop(node).await;
}

/// `keys rotate` run within the same second as the key it replaces was made (for instance right
/// after the first start, or twice in a row) must still hand signing to the new key.
async fn rotation_within_one_second_makes_the_new_key_active(db: TestDb) {
    let settings = db.settings("");
    let node = start(settings.clone()).await;
    stop(node).await;
    let store = Store::connect(&settings.database).await.expect("store");
    let mut ring = KeyRing::load(&store).await.expect("key ring");
    let now = unix_now();
    let (first_id, created) = {
        let first = ring.active(ServiceType::Salt, now).expect("a salt key");
        (first.certificate.id.clone(), first.created)
    };
    // Rotate several times "in the same second": a ring that ordered same-second keys by their
    // random ids instead of by rotation would pick the last one only by chance.
    let mut newest = String::new();
    for _ in 0..8 {
        let key = ring
            .add(&store, ServiceType::Salt, &settings.signing, created)
            .await
            .expect("rotate");
        newest = key.certificate.id.clone();
    }
    assert_ne!(newest, first_id);
    let reloaded = KeyRing::load(&store).await.expect("reload");
    store.close().await.expect("close");
    let active = reloaded
        .active(ServiceType::Salt, now)
        .expect("salt key")
        .certificate
        .id
        .clone();
    let node = start(settings).await;
    let salt = salts(node.local_addr(), "").await.remove(0);
    let signer = certificate_id_of(&salt);
    stop(node).await;
    assert_eq!(
        (active.as_str(), signer.as_str()),
        (newest.as_str(), newest.as_str()),
        "after reloading the ring, the key rotated last must be the active salt key"
    );
}

async fn a_running_node_picks_up_a_key_rotated_elsewhere(db: TestDb) {
    // A 3 s node TTL makes the node refresh itself (and reload its keys) every second.
    let settings = db.settings("[finder]\nnode_ttl_seconds = 3\n");
    let node = start(settings.clone()).await;
    let addr = node.local_addr();
    let now = unix_now();
    let before = certificate_id_of(&salts(addr, "").await.remove(0));
    // `keys rotate` in another process: a second connection to the same database.
    let store = Store::connect(&settings.database).await.expect("store");
    let mut ring = KeyRing::load(&store).await.expect("key ring");
    let rotated = ring
        .add(&store, ServiceType::Salt, &settings.signing, now)
        .await
        .expect("rotate")
        .certificate
        .id
        .clone();
    store.close().await.expect("close");
    assert_ne!(before, rotated);
    let mut signer = before.clone();
    for _ in 0..40 {
        async_std::task::sleep(std::time::Duration::from_millis(100)).await;
        signer = certificate_id_of(&salts(addr, "").await.remove(0));
        if signer == rotated {
            break;
        }
    }
    assert_eq!(
        signer, rotated,
        "the node still signs with the old salt key"
    );
    let (set, _) = certificates(addr, LOCALHOST, unix_now()).await;
    let salt_certificates: Vec<&str> = set
        .certificates()
        .iter()
        .filter(|c| c.service == "salt")
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(salt_certificates.len(), 2, "{salt_certificates:?}");
    assert!(
        salt_certificates.contains(&before.as_str())
            && salt_certificates.contains(&rotated.as_str())
    );
    stop(node).await;
}

async fn restart_keeps_keys_and_salts(db: TestDb) {
    let settings = db.settings("");
    let node = start(settings.clone()).await;
    let (first, _) = certificates(node.local_addr(), LOCALHOST, unix_now()).await;
    let issued = salts(node.local_addr(), "\"salts\":2").await;
    let counts = db.counts().await;
    assert_eq!((counts.domain_keys, counts.issued_salts), (6, 2));
    stop(node).await;

    let node = start(settings.clone()).await;
    let (second, _) = certificates(node.local_addr(), LOCALHOST, unix_now()).await;
    let by_id = |set: &CertificateSet| {
        let mut certificates = set.certificates().to_vec();
        certificates.sort_by(|a, b| a.id.cmp(&b.id));
        certificates
    };
    assert_eq!(
        by_id(&first),
        by_id(&second),
        "same certificates (ids, services, keys, expiry) after a restart"
    );
    let counts = db.counts().await;
    assert_eq!((counts.domain_keys, counts.issued_salts), (6, 2));
    let store = Store::connect(&settings.database).await.expect("store");
    for bundle in &issued {
        SaltBundle::verify(bundle, &second).expect("salt of the first run verifies");
        let recorded = store
            .find_salt(&salt_id(bundle))
            .await
            .expect("find_salt")
            .expect("salt still recorded");
        assert_eq!(recorded.salt, salt_text(bundle));
    }
    store.close().await.expect("close");
    // New salts come from the same salt key.
    let again = salts(node.local_addr(), "").await.remove(0);
    assert_eq!(certificate_id_of(&again), certificate_id_of(&issued[0]));
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// Operations

async fn operations_endpoints(db: TestDb) {
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let health = get(addr, "/healthz").await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let ready = get(addr, "/readyz").await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    let mut request_ids = BTreeSet::new();
    for response in [&health, &ready] {
        let id = response.header("x-request-id").expect("x-request-id");
        let (prefix, counter) = id.split_once('-').expect("x-request-id is prefix-counter");
        assert!(
            prefix.len() == 8
                && prefix.bytes().all(|b| b.is_ascii_hexdigit())
                && !counter.is_empty()
                && counter.bytes().all(|b| b.is_ascii_hexdigit()),
            "x-request-id {id:?}"
        );
        request_ids.insert(id.to_owned());
    }
    let answered = post(
        addr,
        CERTIFICATES_GET,
        &request("certificates", "certificates-get", ""),
    )
    .await;
    request_ids.insert(
        answered
            .header("x-request-id")
            .expect("x-request-id")
            .to_owned(),
    );
    ok_body(&answered.message());
    assert_eq!(request_ids.len(), 3, "request ids differ");
    let metrics = get(addr, "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        metrics.headers
    );
    let text = metrics.text();
    let labels = "handler=\"certificates\",method=\"certificates-get\"";
    for line in [
        format!("openpeer_requests_total{{{labels},code=\"200\"}} 1"),
        "# TYPE openpeer_request_duration_seconds histogram".to_owned(),
        format!("openpeer_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 1"),
        format!("openpeer_request_duration_seconds_bucket{{{labels},le=\"2.5\"}} 1"),
        format!("openpeer_request_duration_seconds_count{{{labels}}} 1"),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with(&format!(
            "openpeer_request_duration_seconds_sum{{{labels}}} "
        ))),
        "no latency sum in\n{text}"
    );
    // Refusals are counted by code, under fixed labels.
    let refused = call(addr, SIGNED_SALT_GET, &request("no-such-handler", "x", "")).await;
    assert_eq!(error_code(&refused), 501);
    let text = get(addr, "/metrics").await.text();
    assert!(
        text.lines().any(|l| l
            == "openpeer_requests_total{handler=\"unknown\",method=\"unknown\",code=\"501\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("no-such-handler"),
        "raw input in labels: {text}"
    );
    stop(node).await;
}

// ---------------------------------------------------------------------------------------------
// TLS

async fn tls_with_pem_files(db: TestDb) {
    let (cert, cert_path, key_path) = self_signed_pem(&db.dir);
    let node = start(db.settings(&tls_toml(&cert_path, &key_path))).await;
    let addr = node.local_addr();
    assert_eq!(node.public_url(), format!("https://{addr}"));
    let client = TlsClient::trusting(cert.der().clone());
    let answer = client
        .post(
            addr,
            CERTIFICATES_GET,
            &request("certificates", "certificates-get", ""),
        )
        .await
        .message();
    let set =
        CertificateSet::from_certificates_get(&domain(LOCALHOST), ok_body(&answer), unix_now())
            .expect("certificates-get over TLS verifies");
    assert_eq!(set.certificates().len(), 6);
    let services = client.get(addr, SERVICES_GET).await.message();
    assert_services(ok_body(&services), &format!("https://{addr}"));
    let finders = client
        .post(
            addr,
            FINDERS_GET,
            &request("bootstrapped-finders", "finders-get", ""),
        )
        .await
        .message();
    let entry = objects(list(ok_body(&finders), &["finders"], "finderBundle"))[0].clone();
    let finder = FinderEntry::from_object(entry.get_object("finder").expect("finder"))
        .expect("a finder entry");
    assert_eq!(finder.websocket, format!("wss://{addr}/finder"));
    assert_eq!(
        finder.link.as_deref(),
        Some(format!("wss://{addr}/federation/link").as_str())
    );
    let health = client.get(addr, "/healthz").await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    stop(node).await;
}

async fn tls_with_a_self_signed_certificate(db: TestDb) {
    let node = start(db.settings("[server.tls]\nself_signed = true\n")).await;
    let addr = node.local_addr();
    assert_eq!(node.public_url(), format!("https://{addr}"));
    let client = TlsClient::accepting_any();
    let answer = client
        .post(
            addr,
            CERTIFICATES_GET,
            &request("certificates", "certificates-get", ""),
        )
        .await
        .message();
    CertificateSet::from_certificates_get(&domain(LOCALHOST), ok_body(&answer), unix_now())
        .expect("certificates-get over TLS verifies");
    let services = client.get(addr, SERVICES_GET).await.message();
    assert_services(ok_body(&services), &format!("https://{addr}"));
    stop(node).await;
}

async fn start_fails_on_unreadable_tls_files(db: TestDb) {
    let missing = db.dir.join("missing-cert.pem");
    let settings = db.settings(&tls_toml(&missing, &db.dir.join("missing-key.pem")));
    let error = openpeer_gateway::app::start(settings)
        .await
        .expect_err("start with missing TLS files");
    let message = error.to_string();
    assert!(
        message.contains("tls") && message.contains(&missing.display().to_string()),
        "{message}"
    );
}
