//! Gives every HTTP request an id (`x-request-id`, and the `request` span of its logs) and logs
//! its outcome.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use openpeer_protocol::encoding::to_hex;
use openpeer_protocol::random::random_bytes;
use rand_core::OsRng;
use tracing::Instrument as _;

use super::State;

/// A random prefix per process and a counter: unique across nodes and restarts, and cheaper than
/// asking the OS for randomness on every request.
fn next_request_id() -> String {
    static PREFIX: LazyLock<String> = LazyLock::new(|| to_hex(&random_bytes(&mut OsRng, 4)));
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{:x}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The request-id and logging middleware.
#[derive(Debug, Clone, Copy)]
pub struct RequestLog;

#[tide::utils::async_trait]
impl tide::Middleware<State> for RequestLog {
    async fn handle(&self, req: tide::Request<State>, next: tide::Next<'_, State>) -> tide::Result {
        let id = next_request_id();
        let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.url().path());
        let started = Instant::now();
        let mut response = next.run(req).instrument(span.clone()).await;
        let _entered = span.enter();
        tracing::debug!(
            status = u16::from(response.status()),
            micros = started.elapsed().as_micros() as u64,
            "answered"
        );
        response.insert_header("x-request-id", id);
        Ok(response)
    }
}
