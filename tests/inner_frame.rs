//! The identity inner frame (`GET /identity/v1/inner-frame`, spec §6.5) in a real browser:
//! `tests/oidc/inner_frame.mjs` drives Debian's Chromium (`/usr/bin/chromium`, through npm
//! `playwright-core`) on an outer page of another origin that speaks the postMessage protocol with
//! the frame — a form login, a silent re-login with the reloginKey, and a wrong password — and the
//! test checks what the outer page received, down to the access secret passing
//! `identity-access-validate`. SQLite only: no storage logic is under test here.

mod support;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::message::{self, Message};
use openpeer_protocol::proof::Purpose;
use support::identity::{ACCESS_VALIDATE, Login, access_validate, create_account, login_of, proof};
use support::oidc::{ensure_node_modules, oidc_dir};
use support::{TestDb, call, ok_body, start, stop, unix_now};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver gives up by itself after 90 s; this is the harness's own backstop.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `node tests/oidc/inner_frame.mjs <gateway>` to completion and returns its one JSON line.
fn run_driver(gateway: &str) -> Object {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the inner-frame test needs Debian's Chromium \
         (`apt-get install -y chromium`; .ci/run installs it)"
    );
    ensure_node_modules();
    let mut child = Command::new("node")
        .args(["inner_frame.mjs", gateway, "alice", "correct horse"])
        .current_dir(oidc_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn `node inner_frame.mjs` (is Node.js installed?): {e}"));
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + DRIVER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("inner_frame.mjs failed ({s}):\nstderr:\n{stderr}\nstdout:\n{stdout}"),
        None => panic!("inner_frame.mjs did not finish within {DRIVER_TIMEOUT:?}:\n{stderr}"),
    }
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "one JSON line expected from inner_frame.mjs; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    parse(lines[0]).unwrap_or_else(|e| panic!("inner_frame.mjs printed no JSON ({e:?}): {stdout}"))
}

/// The messages one scenario's outer page received, as `(origin, data)`.
fn messages(result: &Object, scenario: &str) -> Vec<(String, Object)> {
    result
        .get_object(scenario)
        .unwrap_or_else(|| panic!("no {scenario} in {}", render_object(result)))
        .get_list("messages")
        .iter()
        .map(|m| {
            let m = m.as_object().expect("a message record");
            (
                m.get_str("origin").expect("origin").to_owned(),
                m.get_object("data").expect("data").clone(),
            )
        })
        .collect()
}

/// The `$method` of a posted document (`request`, `result` or `notify`).
fn method_of(data: &Object) -> Option<&str> {
    ["request", "notify", "result"]
        .iter()
        .find_map(|kind| data.get_object(kind))
        .and_then(|envelope| envelope.get_str("$method"))
}

/// The completions among `messages`, decoded as protocol messages.
fn completions(messages: &[(String, Object)]) -> Vec<Message> {
    messages
        .iter()
        .filter(|(_, data)| method_of(data) == Some("identity-access-complete"))
        .map(|(_, data)| {
            let text = render_object(data);
            message::decode(&text)
                .unwrap_or_else(|e| panic!("undecodable completion ({e}): {text}"))
        })
        .collect()
}

/// Checks the inner frame's first message: `identity-access-window` with `browser.ready` true.
fn assert_opens_with_window(messages: &[(String, Object)], gateway_origin: &str) {
    let (origin, first) = messages.first().expect("at least one message");
    assert_eq!(origin, gateway_origin, "posted by the inner frame");
    let request = first
        .get_object("request")
        .unwrap_or_else(|| panic!("a request first: {}", render_object(first)));
    assert_eq!(request.get_str("$method"), Some("identity-access-window"));
    assert_eq!(request.get_str("$handler"), Some("identity"));
    assert_eq!(
        request.get_str("$domain"),
        Some("localhost"),
        "the gateway's domain"
    );
    let browser = request.get_object("browser").expect("browser");
    assert_eq!(browser.get_bool("ready"), Some(true));
}

/// The login of the one completion in `messages`, posted by the gateway origin.
fn the_completion(messages: &[(String, Object)], gateway_origin: &str) -> Login {
    let all = completions(messages);
    assert_eq!(all.len(), 1, "exactly one completion: {messages:?}");
    let (origin, _) = messages
        .iter()
        .find(|(_, d)| method_of(d) == Some("identity-access-complete"))
        .unwrap();
    assert_eq!(origin, gateway_origin);
    login_of(&all[0])
}

#[async_std::test]
async fn the_inner_frame_logs_in_and_relogs_in_in_a_real_browser() {
    let db = TestDb::sqlite();
    create_account(&db, "alice", "correct horse").await;
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let gateway = format!("http://{addr}");

    let driver_gateway = gateway.clone();
    let result = async_std::task::spawn_blocking(move || run_driver(&driver_gateway)).await;
    assert_eq!(
        result.get_list("pageErrors"),
        &[] as &[Value],
        "script errors in the pages"
    );
    assert_ne!(result.get_str("outerOrigin"), Some(gateway.as_str()));

    // The form login.
    let login_messages = messages(&result, "login");
    assert_opens_with_window(&login_messages, &gateway);
    let login = the_completion(&login_messages, &gateway);
    assert_eq!(login.uri, "identity://localhost/alice");
    assert_eq!(login.provider, "local");
    let validate = |login: &Login| {
        let (identity, n) = proof(login, Purpose::LockboxAccess, unix_now() + 600);
        access_validate(identity, n, "lockbox-access")
    };
    assert_eq!(
        ok_body(&call(addr, ACCESS_VALIDATE, &validate(&login)).await),
        &Object::new(),
        "the browser's access token and secret validate"
    );

    // The silent re-login, without the form.
    let relogin_messages = messages(&result, "relogin");
    assert_opens_with_window(&relogin_messages, &gateway);
    assert_eq!(
        result.get_object("relogin").unwrap().get_bool("formShown"),
        Some(false),
        "a re-login shows no form"
    );
    let relogin = the_completion(&relogin_messages, &gateway);
    assert_eq!(relogin.uri, login.uri);
    assert_eq!(relogin.provider, "local");
    assert_ne!(relogin.token, login.token, "a new access token");
    assert_eq!(
        ok_body(&call(addr, ACCESS_VALIDATE, &validate(&relogin)).await),
        &Object::new()
    );

    // The wrong password: an error in the frame, and no completion.
    let wrong = result.get_object("wrongPassword").expect("wrongPassword");
    let wrong_messages = messages(&result, "wrongPassword");
    assert_opens_with_window(&wrong_messages, &gateway);
    assert!(
        completions(&wrong_messages).is_empty(),
        "no completion after a wrong password: {wrong_messages:?}"
    );
    let error_text = wrong.get_str("errorText").unwrap_or_default();
    assert!(
        !error_text.trim().is_empty(),
        "the frame shows an error after a wrong password"
    );

    stop(node).await;
}
