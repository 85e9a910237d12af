//! The namespace grant inner frame (`GET /namespace-grant/v1/inner-frame`, spec §6.8) in a real
//! browser: `tests/oidc/namespace_grant_frame.mjs` drives Debian's Chromium (`/usr/bin/chromium`,
//! through npm `playwright-core`) on an outer page of another origin that speaks the postMessage
//! protocol with the frame, handing it the `namespaceGrantChallenge` of a real `lockbox-access`.
//! Three runs: Allow (the signed bundle reaches the outer page, and presenting it in
//! `lockbox-namespace-grant-challenge-validate` opens the namespace to `lockbox-content-set`),
//! Allow with an `outerFrameURL` of an origin other than the embedding page's (the bundle goes
//! nowhere), and Deny (a completion without bundles). SQLite only: no storage logic is under test
//! here.

mod support;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::json::{Object, Value, parse};
use openpeer_protocol::lockbox::seal_value;
use openpeer_protocol::message::{self, Message, MessageKind, Method};
use openpeer_protocol::proof::Purpose;
use rand_core::{OsRng, RngCore as _};
use support::identity::create_account;
use support::lockbox::{
    Lockbox, access_body, call_method, content_set_body, lockbox_of, login, namespace, proven_body,
};
use support::oidc::{ensure_node_modules, oidc_dir};
use support::{TestDb, error_code, ok_body, start, stop};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver gives up by itself after 90 s; this is the harness's own backstop.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);
const PASSWORD: &str = "correct horse";
const APP_DATA: &str = "https://localhost/app-data";
const COMPLETE: &str = "namespace-grant-complete";
const WINDOW: &str = "namespace-grant-window";

/// Runs `node tests/oidc/namespace_grant_frame.mjs <gateway> <challenge>` to completion and
/// returns its one JSON line.
fn run_driver(gateway: &str, challenge: &str) -> Object {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the namespace-grant-frame test needs Debian's Chromium \
         (`apt-get install -y chromium`; .ci/run installs it)"
    );
    ensure_node_modules();
    let mut child = Command::new("node")
        .args(["namespace_grant_frame.mjs", gateway, challenge])
        .current_dir(oidc_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("spawn `node namespace_grant_frame.mjs` (is Node.js installed?): {e}")
        });
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
        Some(s) => {
            panic!("namespace_grant_frame.mjs failed ({s}):\nstderr:\n{stderr}\nstdout:\n{stdout}")
        }
        None => {
            panic!("namespace_grant_frame.mjs did not finish within {DRIVER_TIMEOUT:?}:\n{stderr}")
        }
    }
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "one JSON line expected from namespace_grant_frame.mjs; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    parse(lines[0])
        .unwrap_or_else(|e| panic!("namespace_grant_frame.mjs printed no JSON ({e:?}): {stdout}"))
}

/// One scenario of the driver's result.
fn scenario<'a>(result: &'a Object, name: &str) -> &'a Object {
    result
        .get_object(name)
        .unwrap_or_else(|| panic!("no {name} in {}", render_object(result)))
}

/// The messages one scenario's outer page received, as `(origin, data)`.
fn messages(result: &Object, name: &str) -> Vec<(String, Object)> {
    scenario(result, name)
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

/// The completions among `messages` with the origin that posted them, decoded as protocol
/// messages.
fn completions(messages: &[(String, Object)]) -> Vec<(String, Message)> {
    messages
        .iter()
        .filter(|(_, data)| method_of(data) == Some(COMPLETE))
        .map(|(origin, data)| {
            let text = render_object(data);
            let message = message::decode(&text)
                .unwrap_or_else(|e| panic!("undecodable completion ({e}): {text}"));
            (origin.clone(), message)
        })
        .collect()
}

/// The one completion in `messages`, checked to be a `namespace-grant` notify posted by the
/// gateway origin.
fn the_completion(messages: &[(String, Object)], gateway_origin: &str) -> Message {
    let mut all = completions(messages);
    assert_eq!(all.len(), 1, "exactly one completion: {messages:?}");
    let (origin, complete) = all.remove(0);
    assert_eq!(origin, gateway_origin, "posted by the inner frame");
    assert_eq!(complete.envelope.kind, MessageKind::Notify);
    assert_eq!(complete.envelope.method.as_deref(), Some(COMPLETE));
    complete
}

/// The `browser.visibility` of each `namespace-grant-window` request in `messages`, in order,
/// after checking each is the frame's well-formed request with `browser.ready` true.
fn window_requests(messages: &[(String, Object)], gateway_origin: &str) -> Vec<bool> {
    messages
        .iter()
        .filter(|(_, data)| method_of(data) == Some(WINDOW))
        .map(|(origin, data)| {
            assert_eq!(origin, gateway_origin, "posted by the inner frame");
            let request = data
                .get_object("request")
                .unwrap_or_else(|| panic!("a request: {}", render_object(data)));
            assert_eq!(request.get_str("$handler"), Some("namespace-grant"));
            assert_eq!(
                request.get_str("$domain"),
                Some("localhost"),
                "the gateway's domain"
            );
            assert!(
                request.get_str("$id").is_some_and(|id| !id.is_empty()),
                "a request $id: {}",
                render_object(data)
            );
            let browser = request.get_object("browser").expect("browser");
            assert_eq!(browser.get_bool("ready"), Some(true));
            browser.get_bool("visibility").expect("browser.visibility")
        })
        .collect()
}

/// Checks a scenario's protocol up to the click: the frame opened with an invisible
/// `namespace-grant-window`, showed the challenge's namespace, and asked to be visible.
fn assert_window_protocol(result: &Object, name: &str, gateway_origin: &str) {
    let received = messages(result, name);
    let (origin, first) = received.first().expect("at least one message");
    assert_eq!(origin, gateway_origin, "{name}: posted by the inner frame");
    assert_eq!(
        method_of(first),
        Some(WINDOW),
        "{name}: the window request first"
    );
    assert_eq!(
        window_requests(&received, gateway_origin),
        [false, true],
        "{name}: invisible on load, visible once the challenge is shown"
    );
    let shown = scenario(result, name)
        .get_str("challengeText")
        .unwrap_or_default();
    assert!(
        shown.contains(APP_DATA),
        "{name}: the frame shows the namespace asked for: {shown:?}"
    );
    assert_eq!(
        scenario(result, name).get_str("errorText").map(str::trim),
        Some(""),
        "{name}: no error in the frame"
    );
}

/// The `(status, origin, frame)` of each `POST /namespace-grant/v1/grant` a scenario's page saw.
fn grant_responses(result: &Object, name: &str) -> Vec<(u64, String, String)> {
    scenario(result, name)
        .get_list("grantResponses")
        .iter()
        .map(|r| {
            let r = r.as_object().expect("a grant response record");
            (
                r.get_u64("status").expect("status"),
                r.get_str("origin").expect("origin").to_owned(),
                r.get_str("frame").expect("frame").to_owned(),
            )
        })
        .collect()
}

/// The bundles of a `namespace-grant-complete`.
fn bundles_of(complete: &Message) -> Vec<Object> {
    complete
        .body
        .get_object("namespaceGrantChallengeBundles")
        .map(|b| b.get_list("namespaceGrantChallengeBundle"))
        .unwrap_or_default()
        .iter()
        .map(|b| b.as_object().expect("a bundle element").clone())
        .collect()
}

/// `lockbox-content-set` of `v` into [`APP_DATA`]: the answer.
async fn set_app_data(addr: std::net::SocketAddr, lockbox: &Lockbox, key: &[u8]) -> Message {
    let value = seal_value(key, APP_DATA, "v", b"app value", &mut OsRng);
    let body = content_set_body(lockbox, &[namespace(APP_DATA, &[("v", &value)])]);
    call_method(addr, Method::LockboxContentSet, body).await
}

#[async_std::test]
async fn the_namespace_grant_frame_grants_to_the_declared_outer_origin_only() {
    let db = TestDb::sqlite();
    create_account(&db, "alice", PASSWORD).await;
    let node = start(db.settings("")).await;
    let addr = node.local_addr();
    let gateway = format!("http://{addr}");

    // lockbox-access with a grant id and a namespace beyond the well-known ones: a challenge.
    let alice = login(addr, "alice", PASSWORD).await;
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let body = access_body(&alice, &key, false, Some("g1"), &[APP_DATA]);
    let answer = call_method(addr, Method::LockboxAccess, body).await;
    let lockbox = lockbox_of(ok_body(&answer));
    let challenge = ok_body(&answer)
        .get_object("namespaceGrantChallenge")
        .expect("namespaceGrantChallenge")
        .clone();
    let challenge_id = challenge.get_str("$id").expect("challenge $id").to_owned();

    // Not granted yet.
    assert_eq!(
        error_code(&set_app_data(addr, &lockbox, &key).await),
        403,
        "no content-set before the grant"
    );

    let (driver_gateway, challenge_text) = (gateway.clone(), render_object(&challenge));
    let result =
        async_std::task::spawn_blocking(move || run_driver(&driver_gateway, &challenge_text)).await;
    assert_eq!(
        result.get_list("pageErrors"),
        &[] as &[Value],
        "script errors in the pages"
    );
    assert_eq!(result.get_str("gatewayOrigin"), Some(gateway.as_str()));
    let outer_origin = result.get_str("outerOrigin").expect("outerOrigin");
    let declared_origin = result.get_str("declaredOrigin").expect("declaredOrigin");
    assert_ne!(outer_origin, gateway, "the outer page is of another origin");
    assert_ne!(declared_origin, outer_origin);
    assert_ne!(declared_origin, gateway);

    // Allow: the signed bundle of exactly that challenge reaches the outer page.
    assert_window_protocol(&result, "allow", &gateway);
    let complete = the_completion(&messages(&result, "allow"), &gateway);
    assert_eq!(
        complete.envelope.handler.as_deref(),
        Some("namespace-grant")
    );
    let bundles = bundles_of(&complete);
    assert_eq!(bundles.len(), 1, "one bundle: {bundles:?}");
    let bundle = &bundles[0];
    let signed = bundle
        .get_object("namespaceGrantChallenge")
        .expect("the signed challenge");
    assert_eq!(signed.get_str("$id"), Some(challenge_id.as_str()));
    assert_eq!(
        signed.get_object("namespaces"),
        challenge.get_object("namespaces")
    );
    let signature_key = bundle
        .get_object("signature")
        .and_then(|s| s.get_object("key"))
        .expect("signature.key");
    assert_eq!(signature_key.get_str("service"), Some("namespace-grant"));
    assert_eq!(
        grant_responses(&result, "allow"),
        [(200, gateway.clone(), gateway.clone())],
        "the frame itself asked the gateway to sign, once"
    );

    // Presented: granted, and the namespace opens to content-set.
    let present = proven_body(
        &lockbox,
        Purpose::LockboxNamespaceGrantChallengeValidate,
        Object::new().with("namespaceGrantChallengeBundle", bundle.clone()),
    );
    let validated = call_method(
        addr,
        Method::LockboxNamespaceGrantChallengeValidate,
        present,
    )
    .await;
    assert_eq!(
        ok_body(&validated),
        &Object::new(),
        "the browser's bundle validates"
    );
    assert_eq!(
        ok_body(&set_app_data(addr, &lockbox, &key).await),
        &Object::new(),
        "content-set into the granted namespace"
    );

    // Allow, with an outerFrameURL of another origin than the embedding page's: the frame had
    // the bundle signed, but the page that embeds it receives no completion.
    assert_window_protocol(&result, "wrongOrigin", &gateway);
    let wrong = messages(&result, "wrongOrigin");
    assert_eq!(
        grant_responses(&result, "wrongOrigin"),
        [(200, gateway.clone(), gateway.clone())],
        "the frame had the grant signed"
    );
    assert!(
        completions(&wrong).is_empty(),
        "no completion reaches an undeclared origin: {wrong:?}"
    );
    assert!(
        wrong
            .iter()
            .all(|(_, data)| !render_object(data).contains("namespaceGrantChallengeBundle")),
        "no bundle reaches an undeclared origin: {wrong:?}"
    );

    // Deny: a completion without bundles, and nothing signed.
    assert_window_protocol(&result, "deny", &gateway);
    let denied = the_completion(&messages(&result, "deny"), &gateway);
    assert_eq!(
        bundles_of(&denied),
        Vec::<Object>::new(),
        "no bundles after Deny"
    );
    assert!(
        grant_responses(&result, "deny").is_empty(),
        "Deny asks nothing of the grant service"
    );

    stop(node).await;
}
