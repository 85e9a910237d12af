//! A real TURN server for the `peer-services-get` tests (spec §6.10): Debian's coturn on a free
//! loopback port checking TURN REST API credentials against a shared secret, and coturn's own
//! test client to find out whether it grants an allocation for a given username and password.
//!
//! Both block (they wait on processes): async tests call them through `spawn_blocking`.

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::process::wait_for_exit;

const TURNSERVER: &str = "/usr/bin/turnserver";
const UCLIENT: &str = "/usr/bin/turnutils_uclient";
const REALM: &str = "openpeer.test";

/// A coturn process with `use-auth-secret` on 127.0.0.1, killed and reaped on drop.
pub struct Coturn {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Coturn {
    /// Starts coturn with `static-auth-secret=secret` and waits (up to 10 s) until its UDP and
    /// TCP listeners are open; panics with its log if it exits or stays silent.
    pub fn start(secret: &str) -> Coturn {
        assert!(
            Path::new(TURNSERVER).exists(),
            "{TURNSERVER} is missing: apt-get install -y coturn (.ci/run installs it)"
        );
        let dir = TempDir::new("coturn");
        let port = free_udp_and_tcp_port();
        // A relay window of its own in the dynamic range, so that servers of tests running
        // side by side do not compete for relay ports.
        let min_port = 49152 + u32::from(port % 160) * 100;
        let log = File::create(dir.join("turnserver.log")).expect("coturn log file");
        let child = Command::new(TURNSERVER)
            // -n: no configuration file, so /etc/turnserver.conf cannot change the setup.
            .arg("-n")
            .arg("--verbose")
            .arg("--listening-ip=127.0.0.1")
            .arg("--relay-ip=127.0.0.1")
            .arg(format!("--listening-port={port}"))
            .arg(format!("--min-port={min_port}"))
            .arg(format!("--max-port={}", min_port + 99))
            .arg("--use-auth-secret")
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!("--realm={REALM}"))
            .arg("--no-tls")
            .arg("--no-dtls")
            .arg("--no-cli")
            // The peers of a loopback-only test are loopback relay addresses.
            .arg("--allow-loopback-peers")
            // Logged to stdout, which goes to the same file as the stderr noise.
            .arg("--log-file=stdout")
            .arg(format!(
                "--pidfile={}",
                dir.join("turnserver.pid").display()
            ))
            .arg(format!("--userdb={}", dir.join("turndb").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone coturn log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn turnserver");
        let mut coturn = Coturn { child, port, dir };
        let listeners = [
            format!("UDP listener opened on: 127.0.0.1:{port}"),
            format!("TCP listener opened on : 127.0.0.1:{port}"),
        ];
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = coturn.child.try_wait().expect("try_wait") {
                panic!("turnserver exited early with {status}: {}", coturn.log());
            }
            let log = coturn.log();
            if listeners.iter().all(|line| log.contains(line.as_str())) {
                return coturn;
            }
            assert!(
                Instant::now() < deadline,
                "turnserver did not open its listeners on port {port} within 10 s: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The TURN URI a client is given, over UDP.
    pub fn uri(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// The UDP and TCP listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What coturn logged so far: one line per request with its result and username.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("turnserver.log")).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free for both UDP and TCP on 127.0.0.1 a moment ago.
fn free_udp_and_tcp_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral TCP port");
        let port = tcp.local_addr().expect("TCP listener address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1 after 100 tries");
}

/// Asks the TURN server at 127.0.0.1:`port` for an allocation with `username` and `password`:
/// `Ok` once it granted one, `Err` with the client's error lines when it refused (401, stale
/// nonce, …) or the client did not finish within 20 s.
///
/// `turnutils_uclient -y` allocates relays for two clients and has them send one message to each
/// other through them (about 5 s). A refused Allocate makes it retry, print "Cannot complete
/// Allocation" and exit with 255; only a granted one prints "Received relay addr" (with `-v`).
pub fn allocate(port: u16, username: &str, password: &str) -> Result<(), String> {
    assert!(
        Path::new(UCLIENT).exists(),
        "{UCLIENT} is missing: apt-get install -y coturn (.ci/run installs it)"
    );
    let dir = TempDir::new("uclient");
    let out_path = dir.join("uclient.out");
    let out = File::create(&out_path).expect("uclient output file");
    let mut child = Command::new(UCLIENT)
        .args(["-v", "-y", "-c", "-n", "1", "-p", &port.to_string()])
        .args(["-u", username, "-w", password, "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone uclient output handle"))
        .stderr(out)
        .spawn()
        .expect("spawn turnutils_uclient");
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(status) if status.success() && output.contains("Received relay addr") => Ok(()),
        Some(status) => Err(format!(
            "turnutils_uclient exited with {status}: {}",
            error_lines(&output)
        )),
        None => Err(format!(
            "turnutils_uclient did not finish within 20 s: {}",
            error_lines(&output)
        )),
    }
}

/// The lines of uclient output that say what went wrong, or its tail when none does.
fn error_lines(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| line.to_ascii_lowercase().contains("error"))
        .collect();
    if errors.is_empty() {
        lines[lines.len().saturating_sub(10)..].join("\n")
    } else {
        errors.join("\n")
    }
}
