//! `openpeer-gateway peer listen|find` as an operator or a script runs them, every part a real
//! process: the gateway, a listening peer logged in to a local account, and peers that find it
//! by identity and by public peer file, hand off and get their messages echoed.

mod support;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::process::{Serving, free_port, gateway};
use support::{TempDir, write_config};

crate::on_both_backends!(a_peer_found_by_identity_and_by_peer_file_echoes);

/// A running `peer listen`, killed on drop, and the lines it prints.
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Listener {
    /// The next line that starts with `prefix`, within 20 s.
    fn line_starting(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listen(url: &str, dir: &TempDir) -> Listener {
    let mut child = gateway()
        .args(["peer", "listen", "--url", url, "--login", "alice", "--echo"])
        .arg("--peer-file-out")
        .arg(dir.join("alice.peer"))
        .env("OPENPEER_ACCOUNT_PASSWORD", "correct horse")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn peer listen");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    Listener { child, lines }
}

fn find(url: &str, target: &[&str], messages: &[&str]) -> Output {
    let mut command = gateway();
    command.args(["peer", "find", "--url", url]).args(target);
    for m in messages {
        command.args(["--message", m]);
    }
    command.output().expect("run peer find")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn a_peer_found_by_identity_and_by_peer_file_echoes(db: support::TestDb) {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let config = write_config(&db.dir, &db.url, &addr.to_string(), "");
    let added = gateway()
        .arg("--config")
        .arg(&config)
        .args(["accounts", "add", "alice"])
        .env("OPENPEER_ACCOUNT_PASSWORD", "correct horse")
        .output()
        .expect("accounts add");
    assert!(added.status.success(), "{added:?}");
    let log = db.dir.join("serve.log");
    let config_path = config.clone();
    let _serving =
        async_std::task::spawn_blocking(move || Serving::start(log, &config_path, addr)).await;
    let url = format!("http://{addr}");

    let listener = listen(&url, &db.dir);
    assert_eq!(
        listener.line_starting("identity "),
        "identity identity://localhost/alice"
    );
    let alice = listener
        .line_starting("listening ")
        .trim_start_matches("listening ")
        .to_owned();
    assert!(alice.starts_with("peer://localhost/"), "{alice}");

    let by_identity = stdout_lines(&find(
        &url,
        &["--identity", "identity://localhost/alice"],
        &["hello", "world"],
    ));
    assert_eq!(
        by_identity,
        [
            format!("connected {alice} direct"),
            format!("{alice} hello"),
            format!("{alice} world"),
        ]
    );
    let caller = listener.line_starting("connected ");
    assert!(caller.ends_with(" direct"), "{caller}");
    let caller = caller
        .trim_start_matches("connected ")
        .trim_end_matches(" direct")
        .to_owned();
    assert_ne!(caller, alice);
    assert_eq!(listener.line_starting(&caller), format!("{caller} hello"));

    let peer_file = db.dir.join("alice.peer");
    let by_file = stdout_lines(&find(
        &url,
        &["--peer-file", peer_file.to_str().unwrap()],
        &["again"],
    ));
    assert_eq!(by_file.last(), Some(&format!("{alice} again")));

    let nobody = find(&url, &["--identity", "identity://localhost/nobody"], &[]);
    assert_eq!(nobody.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&nobody.stderr);
    assert!(
        stderr.contains("identity-lookup") && stderr.contains("404"),
        "{stderr}"
    );
}
