//! The operator's contract of `serve`, `migrate` and `keys`, run as the real binary over SQLite
//! in a temporary directory: start-up, answering, a clean stop on SIGTERM, configuration errors
//! that name their key, and key listing and rotation.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};

use openpeer_protocol::json::{Object, parse};
use openpeer_protocol::message::MessageKind;

use support::process::{Serving, free_port, gateway};
use support::{SERVICES_GET, TempDir, ok_body, post, write_config};

fn run(config: &Path, args: &[&str]) -> Output {
    gateway()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run the gateway binary")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

/// Asserts exit status 1 and returns stderr.
fn failure(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}, stderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}/data/gw.db?mode=rwc", dir.path().display())
}

/// Runs `serve` until `/healthz` answers, lets `check` talk to it, then stops it with SIGTERM
/// and asserts a clean exit (status 0) within 5 s; returns its log.
fn serve_and_stop(dir: &TempDir, config: &Path, addr: SocketAddr, check: impl FnOnce()) -> String {
    let mut serving = Serving::start(dir.join("serve.log"), config, addr);
    check();
    let status = serving.signal("TERM");
    let log = serving.log();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; log:\n{log}"
    );
    log
}

fn key_lines(config: &Path) -> Vec<Object> {
    stdout(&run(config, &["keys", "list"]))
        .lines()
        .map(|line| parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

#[test]
fn serve_answers_stops_on_sigterm_and_keys_can_be_listed_and_rotated() {
    let dir = TempDir::new("serve");
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let config = write_config(&dir, &sqlite_url(&dir), &addr.to_string(), "");
    let log = serve_and_stop(&dir, &config, addr, || {
        let response = async_std::task::block_on(post(addr, SERVICES_GET, ""));
        let answer = response.message();
        assert_eq!(answer.envelope.kind, MessageKind::Result);
        assert_eq!(answer.envelope.id, None);
        assert_eq!(answer.envelope.timestamp, None);
        let services = ok_body(&answer)
            .get_object("services")
            .expect("services")
            .get_list("service");
        assert_eq!(services.len(), 10);
        assert!(
            response
                .text()
                .contains(&format!("\"http://{addr}/openpeer/salt/signed-salt-get\"")),
            "{}",
            response.text()
        );
    });
    assert!(log.contains("serving"), "log:\n{log}");
    assert!(log.contains("stopped"), "log:\n{log}");
    assert!(dir.path().join("data/gw.db").exists(), "database file made");

    assert_eq!(
        stdout(&run(&config, &["migrate"])),
        "database is up to date\n"
    );

    let keys = key_lines(&config);
    assert_eq!(keys.len(), 6, "one key per service: {keys:?}");
    let mut services: Vec<&str> = keys
        .iter()
        .map(|k| k.get_str("service").expect("service"))
        .collect();
    services.sort_unstable();
    assert_eq!(
        services,
        [
            "certificates",
            "finder",
            "identity",
            "identity-lookup",
            "namespace-grant",
            "salt"
        ]
    );
    for key in &keys {
        assert_eq!(key.get_str("state"), Some("active"), "{key:?}");
        assert_eq!(key.get_str("suite"), Some("ed25519"), "{key:?}");
        assert_eq!(key.get_str("id").map(str::len), Some(32), "{key:?}");
        let (created, expires) = (key.get_u64("created"), key.get_u64("expires"));
        assert_eq!(
            expires.zip(created).map(|(e, c)| e - c),
            Some(365 * 86_400),
            "{key:?}"
        );
    }
    let old_salt = keys
        .iter()
        .find(|k| k.get_str("service") == Some("salt"))
        .and_then(|k| k.get_str("id"))
        .expect("salt key")
        .to_owned();

    let rotated = parse(stdout(&run(&config, &["keys", "rotate", "--service", "salt"])).trim())
        .expect("rotate prints JSON");
    let added = rotated.get_list("added");
    assert_eq!(added.len(), 1, "{rotated:?}");
    let new_salt = added[0]
        .as_object()
        .and_then(|a| a.get_str("id"))
        .expect("added id")
        .to_owned();
    assert_ne!(new_salt, old_salt);

    let keys = key_lines(&config);
    assert_eq!(keys.len(), 7, "{keys:?}");
    let salt_keys: Vec<&Object> = keys
        .iter()
        .filter(|k| k.get_str("service") == Some("salt"))
        .collect();
    assert_eq!(salt_keys.len(), 2);
    let mut states: Vec<&str> = salt_keys
        .iter()
        .map(|k| k.get_str("state").expect("state"))
        .collect();
    states.sort_unstable();
    assert_eq!(states, ["active", "published"]);
    let ids: Vec<&str> = salt_keys
        .iter()
        .map(|k| k.get_str("id").expect("id"))
        .collect();
    assert!(
        ids.contains(&old_salt.as_str()) && ids.contains(&new_salt.as_str()),
        "{ids:?}"
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.get_str("state") == Some("active"))
            .count(),
        6,
        "one active key per service"
    );

    let refused = failure(&run(&config, &["keys", "rotate", "--service", "nope"]));
    assert!(refused.contains("nope"), "{refused}");
    for service in [
        "certificates",
        "salt",
        "finder",
        "identity",
        "identity-lookup",
        "namespace-grant",
    ] {
        assert!(refused.contains(service), "{service} not named: {refused}");
    }
    assert_eq!(
        key_lines(&config).len(),
        7,
        "a refused rotation adds nothing"
    );
}

#[test]
fn migrate_makes_a_fresh_database() {
    let dir = TempDir::new("migrate");
    let config = write_config(&dir, &sqlite_url(&dir), "127.0.0.1:0", "");
    assert_eq!(
        stdout(&run(&config, &["migrate"])),
        "database is up to date\n"
    );
    assert!(dir.path().join("data/gw.db").exists());
    // Twice is fine.
    assert_eq!(
        stdout(&run(&config, &["migrate"])),
        "database is up to date\n"
    );
    assert_eq!(
        stdout(&run(&config, &["keys", "list"])),
        "",
        "no keys before serve"
    );
}

#[test]
fn a_bad_bind_address_stops_start_up_naming_the_key() {
    let dir = TempDir::new("bad-bind");
    let config = dir.join("bad.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"nowhere\"\n[database]\nurl = {:?}\n",
            sqlite_url(&dir)
        ),
    )
    .expect("write config");
    let stderr = failure(&run(&config, &["serve"]));
    assert!(stderr.contains("server.bind"), "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing made on a bad configuration"
    );
}

#[test]
fn an_environment_override_is_checked_too() {
    let dir = TempDir::new("bad-env");
    let config = write_config(&dir, &sqlite_url(&dir), "127.0.0.1:0", "");
    let output = gateway()
        .env("OPENPEER_GATEWAY__DOMAIN__NAME", "bad_name")
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let stderr = failure(&output);
    assert!(stderr.contains("domain.name"), "{stderr}");
    assert!(stderr.contains("bad_name"), "{stderr}");
}

#[test]
fn other_bad_configurations_name_their_key() {
    let dir = TempDir::new("bad-config");
    let url = sqlite_url(&dir);
    for (extra, key) in [
        ("signing.suite = \"dsa\"", "signing.suite"),
        ("server.allow_http = \"sometimes\"", "server.allow_http"),
        ("[limits]\nmax_body_bytes = 10", "limits.max_body_bytes"),
        (
            "[bootstrapper]\nredirect = \"ftp://x\"",
            "bootstrapper.redirect",
        ),
        ("[server.tls]\ncert = \"only-a-cert.pem\"", "server.tls"),
    ] {
        let config = write_config(&dir, &url, "127.0.0.1:0", extra);
        let stderr = failure(&run(&config, &["serve"]));
        assert!(stderr.contains(key), "{extra}: {stderr}");
    }
    let missing = dir.join("missing.toml");
    let stderr = failure(&run(&missing, &["serve"]));
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn accounts_add_creates_a_local_account_that_logs_in() {
    let dir = TempDir::new("accounts");
    let config = write_config(&dir, &sqlite_url(&dir), "127.0.0.1:0", "");
    let add = |username: &str, password: &str| {
        gateway()
            .arg("--config")
            .arg(&config)
            .args(["accounts", "add", username])
            .env("OPENPEER_ACCOUNT_PASSWORD", password)
            .output()
            .expect("run the gateway binary")
    };
    let created = parse(stdout(&add("Grace", "correct horse")).trim()).unwrap();
    assert_eq!(
        created.get_str("identity"),
        Some("identity://localhost/grace")
    );
    assert!(failure(&add("grace", "another horse")).contains("taken"));
    assert!(failure(&add("heidi", "short")).contains("too short"));
    assert!(failure(&add("bad name", "correct horse")).contains("username"));
    // The password may also come from standard input.
    let mut child = gateway()
        .arg("--config")
        .arg(&config)
        .args(["accounts", "add", "ivan"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"correct horse\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(stdout(&output).contains("identity://localhost/ivan"));
    // The account logs in through the identity service.
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let serving = write_config(&dir, &sqlite_url(&dir), &addr.to_string(), "");
    serve_and_stop(&dir, &serving, addr, || {
        let answer = async_std::task::block_on(post(
            addr,
            "/identity/v1/local/login",
            r#"{"username":"grace","password":"correct horse"}"#,
        ))
        .message();
        assert_eq!(answer.envelope.kind, MessageKind::Notify);
        let identity = answer.body.get_object("identity").expect("identity");
        assert_eq!(identity.get_str("uri"), Some("identity://localhost/grace"));
    });
}
