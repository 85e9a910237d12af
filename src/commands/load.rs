//! `openpeer-gateway load`: the finder load tool. It starts this same binary as a gateway
//! (`serve`) on a free loopback port over a scratch database, drives it with
//! [`crate::peer::load`], stops it, and prints a summary and one markdown table row for the
//! README's performance section.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_lite::io::{AsyncReadExt as _, AsyncWriteExt as _};
use openpeer_protocol::uri::DomainName;
use rand_core::{OsRng, RngCore as _};
use sea_orm::{ConnectionTrait as _, Database};
use tide::http::url::Url;

use super::CommandError;
use crate::peer::load::{FIND_TIMEOUT, LoadOptions, LoadReport, run as run_load};

/// The domain the spawned gateway serves.
const DOMAIN: &str = "localhost";
/// How long the gateway may take to answer `/readyz` (first start makes its keys).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Descriptors a process needs besides one per session (listener, database, logs, HTTP).
const SPARE_FILES: u64 = 50;

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each session is one TCP connection, so this process and the gateway each hold one descriptor \
per session: raise the open-file limit first, e.g. `ulimit -n 20000` (the hard limit of the \
2-core test machine; `ulimit -Hn` shows yours, more where the machine allows). All sessions \
come from 127.0.0.1 to one port, so the loopback ephemeral port range \
(/proc/sys/net/ipv4/ip_local_port_range, about 28,000 ports by default) caps them too. \
Build with --release for meaningful figures.")]
pub struct LoadArgs {
    /// Sessions to open and hold (at least 2).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(2..))]
    pub sessions: u64,
    /// `session-create`s in flight at once during the ramp.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub concurrency: u64,
    /// Finds per second in the find phase, each from a random session to another (0: none).
    #[arg(long, default_value_t = 200)]
    pub find_rate: u32,
    /// Length of the find phase, seconds.
    #[arg(long, default_value_t = 10)]
    pub find_seconds: u64,
    /// The gateway's database: a `postgres://` URL gets a fresh database made next to it and
    /// dropped at the end; a `sqlite://` URL is used as given. Default: SQLite in a scratch
    /// directory.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// Runs the load and returns the report to print.
pub fn load(args: &LoadArgs) -> Result<String, CommandError> {
    let sessions = usize::try_from(args.sessions).map_err(|e| CommandError(e.to_string()))?;
    let concurrency = usize::try_from(args.concurrency).map_err(|e| CommandError(e.to_string()))?;
    for warning in preflight(args.sessions) {
        eprintln!("warning: {warning}");
    }
    let scratch = Scratch::new()?;
    async_std::task::block_on(async {
        let database = ScratchDatabase::open(args.database_url.as_deref(), &scratch).await?;
        let outcome = async {
            let gateway = Gateway::start(&scratch, &database.url).await?;
            let options = LoadOptions {
                base_url: format!("http://{}", gateway.addr),
                domain: DomainName::parse(DOMAIN).map_err(|e| CommandError(e.to_string()))?,
                server_pid: gateway.child.id(),
                sessions,
                concurrency,
                find_rate: args.find_rate,
                find_duration: Duration::from_secs(args.find_seconds),
            };
            let report = run_load(&options)
                .await
                .map_err(|e| CommandError(format!("load: {e}; gateway log: {}", gateway.log())))?;
            drop(gateway);
            Ok(report)
        }
        .await;
        database.drop_database().await;
        outcome.map(|report| render(args, database.kind, &report))
    })
}

/// Limits this run would exceed: the open-file limit and the loopback port range.
fn preflight(sessions: u64) -> Vec<String> {
    let mut warnings = Vec::new();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(soft) = soft
        && sessions + SPARE_FILES > soft
    {
        warnings.push(format!(
            "the open-file limit is {soft}; {sessions} sessions need about {} descriptors here \
             and in the gateway: raise it first (ulimit -n)",
            sessions + SPARE_FILES
        ));
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse::<u64>().ok())
        .collect::<Vec<_>>();
    if let [low, high] = range[..]
        && sessions > high.saturating_sub(low) + 1
    {
        warnings.push(format!(
            "the loopback ephemeral port range {low}-{high} holds fewer than {sessions} \
             connections to one port"
        ));
    }
    warnings
}

/// The summary and the markdown row.
fn render(args: &LoadArgs, database: &str, report: &LoadReport) -> String {
    let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let (p50, p99) = (
        ms(report.latency_quantile(0.5)),
        ms(report.latency_quantile(0.99)),
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut out = format!(
        "openpeer-gateway load: {} sessions on {database}, {} session-creates in flight, finds \
         at {}/s for {} s\n",
        thousands(report.sessions as u64),
        args.concurrency,
        args.find_rate,
        args.find_seconds
    );
    out += &format!(
        "sessions:   {} of {} created in {:.2} s: {:.0}/s, {} errors{}\n",
        thousands(report.created as u64),
        thousands(report.sessions as u64),
        report.ramp.as_secs_f64(),
        report.sessions_per_second(),
        report.session_errors,
        report
            .first_session_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    out += &format!(
        "ramp CPU:   server {:.2} s ({:.0} µs per session), this process {:.2} s, of {:.2} s × {} \
         cores\n",
        report.server_cpu_ramp.as_secs_f64(),
        report.server_cpu_per_session().as_secs_f64() * 1e6,
        report.client_cpu_ramp.as_secs_f64(),
        report.ramp.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    out += &format!(
        "server RSS: {:.1} MiB before, {:.1} MiB with the sessions: {:.1} KiB per session\n",
        mib(report.server_rss_before_kib),
        mib(report.server_rss_after_kib),
        report.rss_per_session_kib()
    );
    out += &format!(
        "client RSS: {:.1} MiB before, {:.1} MiB with the sessions\n",
        mib(report.client_rss_kib.0),
        mib(report.client_rss_kib.1)
    );
    let refused: Vec<String> = report
        .refused
        .iter()
        .map(|(code, n)| format!("{n}×{code}"))
        .collect();
    out += &format!(
        "finds:      {} sent, {} notified in {:.2} s: {:.1}/s; find→notify p50 {p50:.2} ms, \
         p99 {p99:.2} ms\n",
        report.finds,
        report.found,
        report.find_elapsed.as_secs_f64(),
        report.finds_per_second()
    );
    out += &format!(
        "find errors: {} refused [{}], {} timed out (>{} s), {} not sent, {} bad notifies; \
         found side refused {}\n",
        report.refused_total(),
        refused.join(", "),
        report.timed_out,
        FIND_TIMEOUT.as_secs(),
        report.not_sent,
        report.bad_notifies,
        report.answers_refused
    );
    out += "\n| sessions | sessions/s | RSS/session KiB | server RSS MiB | finds/s | p50 ms | p99 ms \
            | errors |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    out += &format!(
        "| {} | {} | {:.1} | {:.1} | {:.1} | {p50:.2} | {p99:.2} | {} |\n",
        thousands(report.created as u64),
        thousands(report.sessions_per_second().round() as u64),
        report.rss_per_session_kib(),
        mib(report.server_rss_after_kib),
        report.finds_per_second(),
        report.errors()
    );
    out
}

/// `n` with thousands separators, as the README's tables write numbers.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A scratch directory for the configuration, the log and the SQLite file; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, CommandError> {
        let path = std::env::temp_dir().join(format!(
            "openpeer-load-{}-{:08x}",
            std::process::id(),
            OsRng.next_u32()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| CommandError(format!("cannot create {}: {e}", path.display())))?;
        Ok(Scratch(path))
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The gateway's database for one run.
struct ScratchDatabase {
    /// What the gateway connects to.
    url: String,
    /// `sqlite` or `postgres`, for the summary.
    kind: &'static str,
    /// A PostgreSQL database made for this run: the server's URL and the name to drop.
    made: Option<(String, String)>,
}

impl ScratchDatabase {
    /// SQLite in `scratch` by default; a given PostgreSQL URL gets a fresh database on that
    /// server (made through the URL's own database), a given SQLite URL is used as it is.
    async fn open(given: Option<&str>, scratch: &Scratch) -> Result<Self, CommandError> {
        let Some(given) = given else {
            let file = scratch.join("load.db");
            return Ok(ScratchDatabase {
                url: format!("sqlite://{}?mode=rwc", file.display()),
                kind: "sqlite",
                made: None,
            });
        };
        if !given.starts_with("postgres") {
            return Ok(ScratchDatabase {
                url: given.to_owned(),
                kind: "sqlite",
                made: None,
            });
        }
        let name = format!(
            "openpeer_load_{}_{:08x}",
            std::process::id(),
            OsRng.next_u32()
        );
        execute(given, &format!("CREATE DATABASE {name}")).await?;
        let mut url = Url::parse(given).map_err(|e| CommandError(format!("{given}: {e}")))?;
        url.set_path(&name);
        Ok(ScratchDatabase {
            url: url.to_string(),
            kind: "postgres",
            made: Some((given.to_owned(), name)),
        })
    }

    /// Drops the database made for this run, if any; a failure is only reported.
    async fn drop_database(&self) {
        if let Some((server, name)) = &self.made
            && let Err(e) = execute(
                server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
        {
            eprintln!("warning: could not drop database {name}: {e}");
        }
    }
}

/// Runs one statement over a connection of its own.
async fn execute(url: &str, sql: &str) -> Result<(), CommandError> {
    let failed = |e: sea_orm::DbErr| CommandError(format!("{sql}: {e}"));
    let db = Database::connect(url).await.map_err(failed)?;
    db.execute_unprepared(sql).await.map_err(failed)?;
    db.close().await.map_err(failed)
}

/// The gateway under load: this binary's `serve`, killed on drop.
struct Gateway {
    child: Child,
    addr: std::net::SocketAddr,
    log: PathBuf,
}

impl Gateway {
    /// Writes the configuration (a free loopback port, `database_url`, log level `warn`,
    /// sessions that outlast any run), starts `serve` and waits for `/readyz`.
    async fn start(scratch: &Scratch, database_url: &str) -> Result<Gateway, CommandError> {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| CommandError(format!("no free loopback port: {e}")))?;
        let config = scratch.join("gateway.toml");
        let text = format!(
            "domain.name = {DOMAIN:?}\nserver.bind = \"{addr}\"\ndatabase.url = {database_url:?}\n\
             [finder]\n# No keep-alives are sent: registrations must outlast the run.\n\
             session_ttl_seconds = 86400\n[log]\nlevel = \"warn\"\n"
        );
        std::fs::write(&config, text)
            .map_err(|e| CommandError(format!("cannot write {}: {e}", config.display())))?;
        let exe = std::env::current_exe()
            .map_err(|e| CommandError(format!("cannot find this binary: {e}")))?;
        let log = scratch.join("gateway.log");
        let stderr = std::fs::File::create(&log)
            .map_err(|e| CommandError(format!("cannot create {}: {e}", log.display())))?;
        let mut command = Command::new(exe);
        // Only the file written above configures the gateway.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OPENPEER_GATEWAY") {
                command.env_remove(&name);
            }
        }
        let child = command
            .env_remove("RUST_LOG")
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| CommandError(format!("cannot start the gateway: {e}")))?;
        let mut gateway = Gateway { child, addr, log };
        gateway.wait_ready().await?;
        Ok(gateway)
    }

    async fn wait_ready(&mut self) -> Result<(), CommandError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(CommandError(format!(
                    "the gateway exited with {status}: {}",
                    self.log()
                )));
            }
            if ready(self.addr).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(CommandError(format!(
                    "the gateway was not ready within {READY_TIMEOUT:?}: {}",
                    self.log()
                )));
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The gateway's log so far (warnings and errors only).
    fn log(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Whether `GET /readyz` answers 200.
async fn ready(addr: std::net::SocketAddr) -> bool {
    let exchange = async {
        let mut stream = async_std::net::TcpStream::connect(addr).await?;
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer.starts_with(b"HTTP/1.1 200"))
    };
    async_std::future::timeout(Duration::from_secs(2), exchange)
        .await
        .is_ok_and(|r| r.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated_like_the_readme() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(19_950), "19,950");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
