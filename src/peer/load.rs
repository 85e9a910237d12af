//! The finder load driver behind `openpeer-gateway load`: many lightweight sessions against one
//! gateway, then finds between them at a fixed rate, measured from the client side and from the
//! server's `/proc/<pid>/status`.
//!
//! A session here is not a [`super::Peer`]: a peer binds a UDP socket and runs keep-alive and
//! relay tasks, and the open-file limit (one descriptor per socket on each side) is what caps
//! the load. A load session is only what the finder sees of a peer — an Ed25519 key, a findable
//! public peer file on the domain's salt, one finder WebSocket registered with the peer module's
//! `session-create` (server proof verified, relay secret opened) — and one task that answers
//! the finds forwarded to it with a signed notify and hands the notifies of its own finds to the
//! waiting find. Sessions are not kept alive: a run must end within the finder's session
//! lifetime.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_std::channel::{self, Receiver, Sender};
use futures_rustls::TlsConnector;
use openpeer_federation::http::HttpClient;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::json::Object;
use openpeer_protocol::message::{Envelope, Message, MessageKind, Method};
use openpeer_protocol::peer_file::{PeerFileOptions, PublicPeerFile};
use openpeer_protocol::random::{message_id, random_string};
use openpeer_protocol::signature::{SignatureSuite, SigningKey};
use openpeer_protocol::uri::DomainName;
use rand_core::{OsRng, RngCore as _};

use super::error::PeerError;
use super::find::{
    find_notify, find_request, new_context, verify_find_notify, verify_find_request,
};
use super::location::Local;
use super::nonces::NonceCache;
use super::session::{self, Session};
use super::{LOCATION_ID_LEN, PEER_FILE_LIFETIME, lock};
use openpeer_federation::Error as FederationError;
use openpeer_federation::clock::unix_now;
use openpeer_federation::discovery::Domain;
use openpeer_federation::finder_link::LinkEvent;
use openpeer_protocol::finder::FinderEntry;

/// How long a bootstrap request or a `session-create` may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a find may wait for its notify before it counts as timed out.
pub(crate) const FIND_TIMEOUT: Duration = Duration::from_secs(5);
/// Find nonces a load session remembers: more than one session receives in a run.
const NONCE_CAPACITY: usize = 1024;
/// The host candidate of a load session, which has no UDP socket: port 0, which readers of
/// candidates skip, so nobody tries the direct path.
const NO_HOST: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

/// What to run, against which gateway.
#[derive(Clone, Debug)]
pub(crate) struct LoadOptions {
    /// The gateway's base URL, e.g. `http://127.0.0.1:8080`.
    pub(crate) base_url: String,
    /// The gateway's domain.
    pub(crate) domain: DomainName,
    /// The gateway's process id, whose `VmRSS` is read before and after the sessions.
    pub(crate) server_pid: u32,
    /// Sessions to open and hold.
    pub(crate) sessions: usize,
    /// `session-create`s in flight at once while ramping up.
    pub(crate) concurrency: usize,
    /// Finds started per second in the find phase (0: no find phase).
    pub(crate) find_rate: u32,
    /// Length of the find phase.
    pub(crate) find_duration: Duration,
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadReport {
    /// Sessions asked for.
    pub(crate) sessions: usize,
    /// Sessions registered.
    pub(crate) created: usize,
    /// `session-create`s that failed (connect, refusal, timeout, bad server proof).
    pub(crate) session_errors: usize,
    /// The first of those failures, to say why.
    pub(crate) first_session_error: Option<String>,
    /// From the first `session-create` sent to the last one answered.
    pub(crate) ramp: Duration,
    /// The server's `VmRSS` before the sessions, KiB.
    pub(crate) server_rss_before_kib: u64,
    /// The server's `VmRSS` with every session open, KiB.
    pub(crate) server_rss_after_kib: u64,
    /// This process's `VmRSS` before and with the sessions, KiB.
    pub(crate) client_rss_kib: (u64, u64),
    /// CPU time the server used during the ramp.
    pub(crate) server_cpu_ramp: Duration,
    /// CPU time this process used during the ramp: it shares the machine with the server.
    pub(crate) client_cpu_ramp: Duration,
    /// Finds started.
    pub(crate) finds: usize,
    /// Finds whose notify came and verified.
    pub(crate) found: usize,
    /// Of the find phase: from its start to the last notify, at least its planned length.
    pub(crate) find_elapsed: Duration,
    /// find → notify latencies of the finds found, sorted.
    pub(crate) latencies: Vec<Duration>,
    /// Finds the finder answered with an error result, by code.
    pub(crate) refused: Vec<(u16, usize)>,
    /// Finds with no result or no notify within [`FIND_TIMEOUT`].
    pub(crate) timed_out: usize,
    /// Finds that could not be sent (link closed) or built.
    pub(crate) not_sent: usize,
    /// Notifies that did not verify against the find.
    pub(crate) bad_notifies: usize,
    /// Forwarded finds the found side refused (their requesters then time out).
    pub(crate) answers_refused: usize,
}

impl LoadReport {
    /// Sessions created per second of the ramp.
    pub(crate) fn sessions_per_second(&self) -> f64 {
        per_second(self.created, self.ramp)
    }

    /// Growth of the server's RSS per session created, KiB.
    pub(crate) fn rss_per_session_kib(&self) -> f64 {
        let grown = self
            .server_rss_after_kib
            .saturating_sub(self.server_rss_before_kib);
        if self.created == 0 {
            0.0
        } else {
            grown as f64 / self.created as f64
        }
    }

    /// Server CPU time per session created during the ramp.
    pub(crate) fn server_cpu_per_session(&self) -> Duration {
        self.server_cpu_ramp / u32::try_from(self.created.max(1)).unwrap_or(u32::MAX)
    }

    /// Notifies received per second of the find phase.
    pub(crate) fn finds_per_second(&self) -> f64 {
        per_second(self.found, self.find_elapsed)
    }

    /// The nearest-rank `q`-quantile (0 < q ≤ 1) of the find → notify latencies.
    pub(crate) fn latency_quantile(&self, q: f64) -> Option<Duration> {
        let n = self.latencies.len();
        let rank = (n as f64 * q).ceil() as usize;
        self.latencies.get(rank.clamp(1, n.max(1)) - 1).copied()
    }

    /// Finds refused by the finder, all codes.
    pub(crate) fn refused_total(&self) -> usize {
        self.refused.iter().map(|(_, n)| n).sum()
    }

    /// Every failure of the run: sessions not created and finds not found.
    pub(crate) fn errors(&self) -> usize {
        self.session_errors + self.finds.saturating_sub(self.found)
    }
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

/// Runs the load: bootstrap and peer files (untimed), the ramp of `options.sessions`
/// sessions with the server's RSS read before and after, then the find phase.
pub(crate) async fn run(options: &LoadOptions) -> Result<LoadReport, PeerError> {
    let http =
        HttpClient::new(&[], REQUEST_TIMEOUT).map_err(|e| PeerError::Options(e.to_string()))?;
    let now = unix_now();
    let domain = Domain::bootstrap(http, &options.base_url, options.domain.clone(), now).await?;
    let finder = domain.finder(now).await?;
    let salt = domain.signed_salt().await?;
    let locals = make_locals(&salt, domain.certificates(), options.sessions, now).await?;
    let server = options.server_pid.to_string();
    let mut report = LoadReport {
        sessions: options.sessions,
        server_rss_before_kib: vm_rss_kib(&server)?,
        ..LoadReport::default()
    };
    let client_before = vm_rss_kib("self")?;
    let load = Arc::new(Load {
        certificates: domain.certificates().clone(),
        finder,
        domain: options.domain.clone(),
        tls: domain.http().tls_connector().clone(),
        sessions: Mutex::new(Vec::with_capacity(options.sessions)),
        finds: Mutex::new(HashMap::new()),
        answers_refused: AtomicUsize::new(0),
    });
    let cpu_before = (cpu_time(&server)?, cpu_time("self")?);
    ramp(&load, locals, options.concurrency, &mut report).await;
    report.server_cpu_ramp = cpu_time(&server)?.saturating_sub(cpu_before.0);
    report.client_cpu_ramp = cpu_time("self")?.saturating_sub(cpu_before.1);
    report.server_rss_after_kib = vm_rss_kib(&server)?;
    report.client_rss_kib = (client_before, vm_rss_kib("self")?);
    let sessions = lock(&load.sessions).clone();
    if options.find_rate > 0 && sessions.len() >= 2 {
        find_phase(&load, &sessions, options, &mut report).await;
    }
    report.answers_refused = load.answers_refused.load(Ordering::Relaxed);
    for s in &sessions {
        s.session.link.close();
    }
    Ok(report)
}

/// `VmRSS` of `/proc/<pid>/status` (`pid` may be `self`), KiB.
fn vm_rss_kib(pid: &str) -> Result<u64, PeerError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or(PeerError::Malformed("VmRSS of /proc/<pid>/status"))
}

/// User + system CPU time of process `pid` (or `self`) from `/proc/<pid>/stat`, whose
/// counts are in USER_HZ, 100 a second on every Linux this runs on.
fn cpu_time(pid: &str) -> Result<Duration, PeerError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields count from its last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok(Duration::from_millis((user + system) * 10)),
        _ => Err(PeerError::Malformed("utime/stime of /proc/<pid>/stat")),
    }
}

/// What the sessions of a run share.
struct Load {
    /// The domain's certificates, which check the finder's server proofs.
    certificates: CertificateSet,
    /// The finder every session registers with.
    finder: FinderEntry,
    /// `$domain` of the sessions' requests.
    domain: DomainName,
    /// TLS for `wss` finders.
    tls: TlsConnector,
    /// Registered sessions; a session's index is its place here.
    sessions: Mutex<Vec<Arc<LoadSession>>>,
    /// Finds waiting for their notify, by `$id`.
    finds: Mutex<HashMap<String, Waiting>>,
    /// Forwarded finds a found session refused.
    answers_refused: AtomicUsize,
}

/// A find waiting for its notify.
struct Waiting {
    /// The index of the session that sent it: only a notify arriving there counts.
    requester: usize,
    /// Gets the notify's arrival time and body.
    notify: Sender<(Instant, Object)>,
}

/// One registered session.
struct LoadSession {
    /// Its key, peer file and location.
    local: Local,
    /// Its finder link and relay access.
    session: Session,
    /// Nonces of the finds it answered: a replayed find is refused as a peer refuses it.
    find_nonces: Mutex<NonceCache>,
}

/// A key and findable peer file per session, made on every core before anything is timed.
/// The first file's salt is checked against the domain's certificates as [`super::Peer`]
/// checks its own: the finder refuses every session otherwise.
async fn make_locals(
    salt: &Object,
    certificates: &CertificateSet,
    count: usize,
    now: u64,
) -> Result<Vec<Local>, PeerError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = count.div_ceil(workers.max(1));
    let mut jobs = Vec::new();
    for worker in 0..workers {
        let n = share.min(count.saturating_sub(worker * share));
        let salt = salt.clone();
        jobs.push(async_std::task::spawn_blocking(move || {
            (0..n)
                .map(|_| make_local(&salt, now))
                .collect::<Result<Vec<_>, _>>()
        }));
    }
    let mut locals = Vec::with_capacity(count);
    for job in jobs {
        locals.extend(job.await?);
    }
    if let Some(first) = locals.first() {
        PublicPeerFile::validate(first.file.document(), now, Some(certificates))
            .map_err(|_| PeerError::Untrusted("salt"))?;
    }
    Ok(locals)
}

/// A key and a findable peer file on `salt`, as [`super::Peer::start`] makes them.
fn make_local(salt: &Object, now: u64) -> Result<Local, PeerError> {
    let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng)
        .map_err(|_| PeerError::Crypto("key generation"))?;
    let options = PeerFileOptions {
        salt_bundle: salt,
        created: now,
        expires: now + PEER_FILE_LIFETIME,
        findable: true,
    };
    let file = PublicPeerFile::generate(&key, &options, &mut OsRng)
        .map_err(|_| PeerError::Untrusted("salt"))?;
    Ok(Local {
        key,
        file,
        location_id: random_string(&mut OsRng, LOCATION_ID_LEN),
        host: NO_HOST,
    })
}

/// Registers every local with `concurrency` `session-create`s in flight, recording the ramp's
/// length and its failures in `report`.
async fn ramp(load: &Arc<Load>, locals: Vec<Local>, concurrency: usize, report: &mut LoadReport) {
    let queue = Arc::new(Mutex::new(locals.into_iter()));
    let errors = Arc::new(Mutex::new((0usize, None::<String>)));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (load, queue, errors) = (Arc::clone(load), Arc::clone(&queue), Arc::clone(&errors));
            async_std::task::spawn(async move {
                loop {
                    let Some(local) = lock(&queue).next() else {
                        break;
                    };
                    if let Err(e) = open_session(&load, local).await {
                        let mut errors = lock(&errors);
                        errors.0 += 1;
                        errors.1.get_or_insert_with(|| e.to_string());
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await;
    }
    report.ramp = started.elapsed();
    report.created = lock(&load.sessions).len();
    let (count, first) = std::mem::take(&mut *lock(&errors));
    report.session_errors = count;
    report.first_session_error = first;
}

/// One `session-create` as the peer module makes it; the session joins `load` and its event
/// task starts.
async fn open_session(load: &Arc<Load>, local: Local) -> Result<(), PeerError> {
    let (session, events) = session::create(
        &local,
        &load.certificates,
        &load.finder,
        load.domain.clone(),
        &load.tls,
        REQUEST_TIMEOUT,
    )
    .await?;
    let session = Arc::new(LoadSession {
        local,
        session,
        find_nonces: Mutex::new(NonceCache::new(NONCE_CAPACITY)),
    });
    let index = {
        let mut sessions = lock(&load.sessions);
        sessions.push(Arc::clone(&session));
        sessions.len() - 1
    };
    async_std::task::spawn(read_events(Arc::clone(load), session, index, events));
    Ok(())
}

/// Handles what the finder sends one session until its link closes: a forwarded find is
/// checked and answered with a signed notify at once (as [`super::Peer`] answers one, without
/// the state its hand-off needs); a notify goes to the find waiting for it, if that find came
/// from this session.
async fn read_events(
    load: Arc<Load>,
    session: Arc<LoadSession>,
    index: usize,
    events: Receiver<LinkEvent>,
) {
    while let Ok(event) = events.recv().await {
        let LinkEvent::Message(message) = event else {
            continue;
        };
        match (message.envelope.kind, message.method()) {
            (MessageKind::Request, Ok(Method::PeerLocationFind)) => {
                let answer = session.answer_find(&load, &message);
                if session.session.link.send(&answer).await.is_err() {
                    break;
                }
            }
            (MessageKind::Notify, Ok(Method::PeerLocationFind)) => {
                let arrived = Instant::now();
                let waiting = message.envelope.id.as_deref().and_then(|id| {
                    let mut finds = lock(&load.finds);
                    let mine = finds.get(id).is_some_and(|w| w.requester == index);
                    mine.then(|| finds.remove(id)).flatten()
                });
                if let Some(waiting) = waiting {
                    let _ = waiting.notify.try_send((arrived, message.body));
                }
            }
            _ => {}
        }
    }
}

impl LoadSession {
    /// The notify answering a forwarded find, or the error result refusing it.
    fn answer_find(&self, load: &Load, request: &Message) -> Message {
        let now = unix_now();
        let checked = verify_find_request(
            &self.local,
            &request.body,
            now,
            &mut lock(&self.find_nonces),
        );
        match checked {
            Ok(incoming) => {
                let relay = self.session.relay.as_ref();
                let body = find_notify(&self.local, &incoming, &new_context(), relay);
                let envelope = Envelope {
                    domain: request.envelope.domain.clone(),
                    id: request.envelope.id.clone(),
                    timestamp: Some(now),
                    ..Envelope::new(MessageKind::Notify, Method::PeerLocationFind)
                };
                Message::new(envelope, body)
            }
            Err(rejection) => {
                load.answers_refused.fetch_add(1, Ordering::Relaxed);
                Message::error_for(&request.envelope, now, rejection.result_code(), None, None)
            }
        }
    }
}

/// How one find ended.
enum FindOutcome {
    /// Its notify came at this instant and verified.
    Found(Instant),
    /// The finder answered this error code.
    Refused(u16),
    /// No result or no notify within [`FIND_TIMEOUT`].
    TimedOut,
    /// It could not be built or sent.
    NotSent,
    /// The notify did not verify.
    BadNotify,
}

/// Starts `options.find_rate` finds a second for `options.find_duration`, each from a random
/// session to another random one, and records how they end in `report`.
async fn find_phase(
    load: &Arc<Load>,
    sessions: &[Arc<LoadSession>],
    options: &LoadOptions,
    report: &mut LoadReport,
) {
    let total = (f64::from(options.find_rate) * options.find_duration.as_secs_f64()) as usize;
    let started = Instant::now();
    let mut finds = Vec::with_capacity(total);
    for i in 0..total {
        let due = started + Duration::from_secs_f64(i as f64 / f64::from(options.find_rate));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            async_std::task::sleep(wait).await;
        }
        let a = random_index(sessions.len());
        let b = (a + 1 + random_index(sessions.len() - 1)) % sessions.len();
        let (load, from, to) = (
            Arc::clone(load),
            Arc::clone(&sessions[a]),
            Arc::clone(&sessions[b]),
        );
        finds.push(async_std::task::spawn(async move {
            let sent = Instant::now();
            (sent, find_one(&load, a, &from, &to).await)
        }));
    }
    let mut last = started + options.find_duration;
    let mut refused = HashMap::<u16, usize>::new();
    report.finds = total;
    for find in finds {
        match find.await {
            (sent, FindOutcome::Found(at)) => {
                report.found += 1;
                report.latencies.push(at.saturating_duration_since(sent));
                last = last.max(at);
            }
            (_, FindOutcome::Refused(code)) => *refused.entry(code).or_default() += 1,
            (_, FindOutcome::TimedOut) => report.timed_out += 1,
            (_, FindOutcome::NotSent) => report.not_sent += 1,
            (_, FindOutcome::BadNotify) => report.bad_notifies += 1,
        }
    }
    report.find_elapsed = last.saturating_duration_since(started);
    report.latencies.sort_unstable();
    report.refused = refused.into_iter().collect();
    report.refused.sort_unstable();
}

/// A uniformly random index below `n` (`n` > 0; the modulo bias is negligible here).
fn random_index(n: usize) -> usize {
    (OsRng.next_u64() % n as u64) as usize
}

/// One `peer-location-find` from session `from` (index `index`) for `to`, built and checked
/// by the peer module: waits for the finder's result and for the found session's notify.
async fn find_one(load: &Load, index: usize, from: &LoadSession, to: &LoadSession) -> FindOutcome {
    let Ok((body, outgoing)) = find_request(&from.local, &to.local.file, unix_now()) else {
        return FindOutcome::NotSent;
    };
    let id = message_id(&mut OsRng);
    let (notify, notified) = channel::bounded(1);
    let waiting = Waiting {
        requester: index,
        notify,
    };
    lock(&load.finds).insert(id.clone(), waiting);
    let _forget = Forget {
        finds: &load.finds,
        id: id.clone(),
    };
    let find = async {
        match from
            .session
            .link
            .request_with_id(id, Method::PeerLocationFind, body)
            .await
        {
            Ok(_) => {}
            Err(FederationError::Refused { code, .. }) => return FindOutcome::Refused(code),
            Err(FederationError::Timeout(_)) => return FindOutcome::TimedOut,
            Err(_) => return FindOutcome::NotSent,
        }
        match notified.recv().await {
            Ok((at, body)) => match verify_find_notify(&outgoing, &body) {
                Ok(_) => FindOutcome::Found(at),
                Err(_) => FindOutcome::BadNotify,
            },
            Err(_) => FindOutcome::NotSent,
        }
    };
    async_std::future::timeout(FIND_TIMEOUT, find)
        .await
        .unwrap_or(FindOutcome::TimedOut)
}

/// Forgets a find's waiter however the find ends.
struct Forget<'a> {
    finds: &'a Mutex<HashMap<String, Waiting>>,
    id: String,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(self.finds).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank_and_errors_count_every_failure() {
        let report = LoadReport {
            created: 8,
            session_errors: 2,
            finds: 100,
            found: 97,
            latencies: (1..=100).map(Duration::from_millis).collect(),
            ..LoadReport::default()
        };
        assert_eq!(
            report.latency_quantile(0.5),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            report.latency_quantile(0.99),
            Some(Duration::from_millis(99))
        );
        assert_eq!(
            report.latency_quantile(1.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(LoadReport::default().latency_quantile(0.5), None);
        assert_eq!(report.errors(), 5);
    }

    #[test]
    fn this_process_has_a_resident_size_and_cpu_time() {
        assert!(vm_rss_kib("self").unwrap() > 0);
        assert!(cpu_time("self").is_ok());
    }
}
