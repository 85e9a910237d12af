//! The gateway as a real process: the binary with a clean environment, a free port, and a
//! running `serve` that can be stopped politely or killed.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::get;

/// The binary with a clean environment: no inherited configuration variables or log filter.
pub fn gateway() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openpeer-gateway"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OPENPEER_GATEWAY") {
            command.env_remove(&name);
        }
    }
    command.env_remove("RUST_LOG");
    command
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Waits up to `within` for `child` to exit.
pub fn wait_for_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A `serve` process, killed on drop if still running.
pub struct Serving {
    /// The process.
    pub child: Child,
    log: PathBuf,
}

impl Serving {
    /// Runs `serve --config <config>` (logging to `log`) until `/healthz` at `addr` answers;
    /// panics with the log if it exits or stays silent for 15 s. It blocks: async tests call it
    /// through `spawn_blocking`.
    pub fn start(log: PathBuf, config: &Path, addr: SocketAddr) -> Serving {
        Serving::start_probing(log, config, addr, || {
            async_std::task::block_on(get(addr, "/healthz")).status == 200
        })
    }

    /// [`Serving::start`] for a TLS domain: `/healthz` is asked over TLS trusting `cert_pem`.
    pub fn start_tls(log: PathBuf, config: &Path, addr: SocketAddr, cert_pem: &str) -> Serving {
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
            .expect("certificate PEM");
        let client = super::TlsClient::trusting(der);
        Serving::start_probing(log, config, addr, || {
            async_std::task::block_on(client.get(addr, "/healthz")).status == 200
        })
    }

    fn start_probing(
        log: PathBuf,
        config: &Path,
        addr: SocketAddr,
        healthy: impl Fn() -> bool,
    ) -> Serving {
        let child = gateway()
            .arg("serve")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn serve");
        let mut serving = Serving { child, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = serving.child.try_wait().expect("try_wait") {
                panic!("serve exited early with {status}: {}", serving.log());
            }
            if std::net::TcpStream::connect(addr).is_ok() && healthy() {
                return serving;
            }
            assert!(
                Instant::now() < deadline,
                "/healthz did not answer within 15 s: {}",
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (`TERM`, `KILL`) and waits up to 5 s for the exit.
    pub fn signal(&mut self, signal: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
        wait_for_exit(&mut self.child, Duration::from_secs(5)).unwrap_or_else(|| {
            panic!(
                "serve did not stop within 5 s of SIG{signal}: {}",
                self.log()
            )
        })
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
