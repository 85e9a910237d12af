//! `openpeer-gateway load` as the README runs it, only small: the binary starts its own gateway,
//! opens the sessions, sends finds and prints its table row. Keeps the tool from rotting.

use std::process::Command;

#[test]
fn load_reports_every_session_and_finds_without_errors() {
    let output = Command::new(env!("CARGO_BIN_EXE_openpeer-gateway"))
        .args(["load", "--sessions", "20", "--find-rate", "20"])
        .args(["--find-seconds", "1"])
        .output()
        .expect("run the gateway binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}, stdout: {stdout}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // | sessions | sessions/s | RSS/session KiB | server RSS MiB | finds/s | p50 ms | p99 ms | errors |
    let row = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("| "))
        .unwrap_or_else(|| panic!("no table row in: {stdout}"));
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(cells.len(), 8, "{row}");
    assert_eq!(cells[0], "20", "sessions created: {stdout}");
    assert_eq!(cells[7], "0", "errors: {stdout}");
    let finds_per_second: f64 = cells[4].parse().expect("finds/s is a number");
    assert!(finds_per_second > 0.0, "no finds: {stdout}");
    let rss: f64 = cells[3].parse().expect("server RSS is a number");
    assert!(rss > 0.0, "server RSS read: {stdout}");
}
