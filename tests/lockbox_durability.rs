//! Durability of the lockbox: 100 cycles of starting the gateway process, streaming
//! `lockbox-content-set` requests at it and killing it (SIGKILL) while requests are in flight;
//! then one more start reads the namespace back. Every write whose successful result came back
//! (acknowledged) must be there byte for byte; writes cut off by the kill may or may not be,
//! but a value that is there must be the ciphertext sent for its name.

mod support;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use openpeer_protocol::lockbox::{PRIVATE_PEER_FILE_NAMESPACE, namespace_contents, seal_value};
use openpeer_protocol::message::{self, MessageKind, Method};
use rand_core::{OsRng, RngCore as _};
use support::identity::{create_account, protocol};
use support::lockbox::{
    LOCKBOX, Lockbox, access, call_method, content_get_body, content_set_body, login, namespace,
};
use support::process::{Serving, free_port};
use support::{Backend, TestDb, ok_body, write_config};

/// Kill cycles per backend.
const CYCLES: usize = 100;
/// Concurrent writers per cycle, so that several requests are in flight when the kill lands.
const WRITERS: usize = 2;
/// The fewest acknowledged writes over all cycles for the run to mean anything.
const MIN_ACKNOWLEDGED: usize = 100;
/// Room for every value the cycles write (the default allows 256 names per namespace).
const EXTRA_TOML: &str = "[lockbox]\nmax_names_per_namespace = 1000000\n";

#[test]
fn sqlite_acknowledged_writes_survive_sigkill() {
    durability(Backend::Sqlite);
}

#[test]
fn postgres_acknowledged_writes_survive_sigkill() {
    durability(Backend::Postgres);
}

/// A small deterministic generator (xorshift64*) for the kill delays, so a failing run can be
/// replayed with `DURABILITY_SEED`.
struct Delays(u64);

impl Delays {
    fn new(seed: u64) -> Delays {
        Delays(seed | 1)
    }

    /// A delay of 20–150 ms.
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        Duration::from_millis(20 + (r >> 33) % 131)
    }
}

/// How one `lockbox-content-set` ended.
enum Outcome {
    /// A successful result came back: the write must survive.
    Acknowledged,
    /// No (complete) answer: the process died first. Either way is fine.
    Unknown,
    /// An answer that is not a successful result.
    Refused(String),
}

/// What the writers of all cycles did.
#[derive(Default)]
struct Ledger {
    /// Every value sent, by name.
    sent: BTreeMap<String, String>,
    /// Names whose write was acknowledged.
    acknowledged: Vec<String>,
    /// Writes without an answer.
    unknown: usize,
    /// Writes refused, with the answer.
    refused: Vec<(String, String)>,
}

/// One gateway process over `db` on a fresh port.
fn serve(db: &TestDb, label: &str) -> (Serving, SocketAddr) {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let config = write_config(&db.dir, &db.url, &addr.to_string(), EXTRA_TOML);
    let log: PathBuf = db.dir.join(&format!("serve-{label}.log"));
    (Serving::start(log, &config, addr), addr)
}

/// POSTs `body` to the lockbox and classifies the answer; never panics on a dead server.
fn content_set(addr: SocketAddr, body: &str) -> Outcome {
    let exchange = || -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let head = format!(
            "POST {LOCKBOX} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())?;
        stream.flush()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Ok(raw)
    };
    let Ok(raw) = exchange() else {
        return Outcome::Unknown;
    };
    let Some((status, body)) = complete_answer(&raw) else {
        return Outcome::Unknown;
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    if status != 200 {
        return Outcome::Refused(format!("HTTP {status}: {text}"));
    }
    match message::decode(&text) {
        Ok(m) if m.envelope.kind == MessageKind::Result && m.error().is_none() => {
            Outcome::Acknowledged
        }
        _ => Outcome::Refused(text),
    }
}

/// The status and body of a complete HTTP answer (`Content-Length` or chunked), or `None` when
/// it was cut short.
fn complete_answer(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let mut rest = &raw[end + 4..];
    if let Some(len) = find("content-length") {
        let len: usize = len.parse().ok()?;
        return (rest.len() >= len).then(|| (status, rest[..len].to_vec()));
    }
    if !find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return None;
    }
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some((status, body));
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// Writes new values back to back until `stop`, recording each in `ledger`.
fn writer(
    addr: SocketAddr,
    cycle: usize,
    lockbox: &Lockbox,
    key: &[u8],
    next: &AtomicUsize,
    stop: &AtomicBool,
    ledger: &Mutex<Ledger>,
) {
    while !stop.load(Ordering::SeqCst) {
        let name = format!("v{cycle}_{}", next.fetch_add(1, Ordering::SeqCst));
        let mut plaintext = vec![0u8; 16 + (OsRng.next_u32() % 200) as usize];
        OsRng.fill_bytes(&mut plaintext);
        let value = seal_value(
            key,
            PRIVATE_PEER_FILE_NAMESPACE,
            &name,
            &plaintext,
            &mut OsRng,
        );
        let body = protocol(
            Method::LockboxContentSet,
            content_set_body(
                lockbox,
                &[namespace(
                    PRIVATE_PEER_FILE_NAMESPACE,
                    &[(name.as_str(), value.as_str())],
                )],
            ),
        );
        ledger
            .lock()
            .unwrap()
            .sent
            .insert(name.clone(), value.clone());
        let outcome = content_set(addr, &body);
        let mut ledger = ledger.lock().unwrap();
        match outcome {
            Outcome::Acknowledged => ledger.acknowledged.push(name),
            Outcome::Unknown => {
                ledger.unknown += 1;
                // The server is gone (or going): nothing more this cycle.
                return;
            }
            Outcome::Refused(answer) => ledger.refused.push((name, answer)),
        }
    }
}

fn durability(backend: Backend) {
    // One backend at a time: the kill timing means little on two cores shared by two runs.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let started = Instant::now();
    let db = TestDb::new(backend);
    let label = format!("{backend:?}").to_lowercase();
    let seed = std::env::var("DURABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| OsRng.next_u64());
    let mut delays = Delays::new(seed);

    // The account, a login and a lockbox token, made once: the token lives in the database.
    async_std::task::block_on(create_account(&db, "alice", "correct horse"));
    let mut key = vec![0u8; 32];
    OsRng.fill_bytes(&mut key);
    let lockbox = {
        let (_serving, addr) = serve(&db, "setup");
        async_std::task::block_on(async {
            let login = login(addr, "alice", "correct horse").await;
            access(addr, &login, &key, false).await
        })
    };

    let ledger = Mutex::new(Ledger::default());
    let mut in_flight_at_kill = 0usize;
    for cycle in 0..CYCLES {
        let (mut serving, addr) = serve(&db, &format!("cycle-{cycle}"));
        let stop = AtomicBool::new(false);
        let next = AtomicUsize::new(0);
        let delay = delays.next();
        std::thread::scope(|scope| {
            for _ in 0..WRITERS {
                scope.spawn(|| writer(addr, cycle, &lockbox, &key, &next, &stop, &ledger));
            }
            std::thread::sleep(delay);
            {
                // Sent but not answered yet: in flight when the kill lands.
                let l = ledger.lock().unwrap();
                in_flight_at_kill +=
                    l.sent.len() - l.acknowledged.len() - l.unknown - l.refused.len();
                serving.child.kill().expect("SIGKILL the gateway");
            }
            serving.child.wait().expect("reap the gateway");
            stop.store(true, Ordering::SeqCst);
        });
        let killed_by = serving.child.try_wait().ok().flatten();
        assert_eq!(
            killed_by.and_then(|s| s.signal()),
            Some(9),
            "cycle {cycle}: the gateway did not die of SIGKILL: {killed_by:?}"
        );
    }

    let ledger = ledger.into_inner().unwrap();
    assert!(
        ledger.refused.is_empty(),
        "{} writes were refused, e.g. {:?}",
        ledger.refused.len(),
        ledger.refused.first()
    );

    // One more start reads everything back.
    let (_serving, addr) = serve(&db, "check");
    let answer = async_std::task::block_on(call_method(
        addr,
        Method::LockboxContentGet,
        content_get_body(&lockbox, &[PRIVATE_PEER_FILE_NAMESPACE]),
    ));
    let contents = namespace_contents(ok_body(&answer)).expect("namespaces of the result");
    let stored: BTreeMap<&str, &str> = contents
        .iter()
        .filter(|c| c.id == PRIVATE_PEER_FILE_NAMESPACE)
        .flat_map(|c| c.values.iter())
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();

    let missing: Vec<&String> = ledger
        .acknowledged
        .iter()
        .filter(|name| !stored.contains_key(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{backend:?}: {} of {} acknowledged writes are missing after SIGKILL cycles, e.g. {:?}",
        missing.len(),
        ledger.acknowledged.len(),
        &missing[..missing.len().min(10)]
    );
    for name in &ledger.acknowledged {
        assert_eq!(
            stored[name.as_str()],
            ledger.sent[name].as_str(),
            "{backend:?}: acknowledged value {name} changed"
        );
    }
    for (name, value) in &stored {
        let sent = ledger
            .sent
            .get(*name)
            .unwrap_or_else(|| panic!("{backend:?}: value {name} was never sent"));
        assert_eq!(
            value, sent,
            "{backend:?}: value {name} is not what was sent"
        );
    }
    let unacknowledged_stored = stored.len() - ledger.acknowledged.len();
    assert!(
        ledger.acknowledged.len() >= MIN_ACKNOWLEDGED,
        "{backend:?}: only {} acknowledged writes in {CYCLES} cycles",
        ledger.acknowledged.len()
    );

    println!(
        "durability {label}: {CYCLES} SIGKILL cycles, {} acknowledged writes checked \
         ({} sent, {} without an answer, {unacknowledged_stored} of those stored anyway, \
         ~{in_flight_at_kill} in flight at the kill; seed {seed}, {:.1} s)",
        ledger.acknowledged.len(),
        ledger.sent.len(),
        ledger.unknown,
        started.elapsed().as_secs_f64()
    );
}
