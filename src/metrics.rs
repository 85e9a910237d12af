//! Prometheus text metrics (`/metrics`): requests by handler, method and result code, and a
//! latency histogram per method. Labels come only from the method table, never from raw input,
//! so a client cannot grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters of one node.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    latency: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(
        &self,
        handler: &'static str,
        method: &'static str,
        code: u16,
        elapsed: Duration,
    ) {
        // A poisoned lock only means a panic while counting: the counts are still usable.
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((handler, method, code))
            .or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let histogram = latency.entry((handler, method)).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[i] += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The Prometheus text exposition, with `gauges` (name, help, value) appended.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP openpeer_requests_total Protocol requests answered, by result code.\n",
        );
        out.push_str("# TYPE openpeer_requests_total counter\n");
        for ((handler, method, code), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "openpeer_requests_total{{handler=\"{handler}\",method=\"{method}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP openpeer_request_duration_seconds Time to answer a protocol request.\n",
        );
        out.push_str("# TYPE openpeer_request_duration_seconds histogram\n");
        for ((handler, method), h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let labels = format!("handler=\"{handler}\",method=\"{method}\"");
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "openpeer_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "openpeer_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "openpeer_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "openpeer_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_buckets_and_gauges() {
        let m = Metrics::default();
        m.observe(
            "certificates",
            "certificates-get",
            200,
            Duration::from_micros(700),
        );
        m.observe(
            "certificates",
            "certificates-get",
            200,
            Duration::from_millis(30),
        );
        m.observe("unknown", "unknown", 501, Duration::from_micros(10));
        let text = m.render(&[("openpeer_finder_sessions", "Open finder sessions.", 3)]);
        assert!(text.contains("openpeer_requests_total{handler=\"certificates\",method=\"certificates-get\",code=\"200\"} 2\n"));
        assert!(text.contains(
            "openpeer_requests_total{handler=\"unknown\",method=\"unknown\",code=\"501\"} 1\n"
        ));
        assert!(text.contains("openpeer_request_duration_seconds_bucket{handler=\"certificates\",method=\"certificates-get\",le=\"0.001\"} 1\n"));
        assert!(text.contains("openpeer_request_duration_seconds_bucket{handler=\"certificates\",method=\"certificates-get\",le=\"0.05\"} 2\n"));
        assert!(text.contains("openpeer_request_duration_seconds_count{handler=\"certificates\",method=\"certificates-get\"} 2\n"));
        assert!(
            text.contains("# TYPE openpeer_finder_sessions gauge\nopenpeer_finder_sessions 3\n")
        );
    }
}
