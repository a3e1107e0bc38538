//! Wire-level script tests: every `tests/scripts/*.pkt` run against a
//! stack on an in-memory wire with a manual clock (see
//! `tests/wire_script` for the language; docs/tests.md for the list).
//! `DPSTACK_SCRIPT=name` runs the scripts whose file name contains it.

mod wire_script;

use std::path::PathBuf;

fn scripts() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let filter = std::env::var("DPSTACK_SCRIPT").unwrap_or_default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scripts exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pkt"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_script_passes() {
    let paths = scripts();
    assert!(!paths.is_empty(), "no scripts matched");
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("readable script");
        if let Err(e) = wire_script::run_script(&text) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    println!("{} scripts, {} failed", paths.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A passive open any correct script may start with.
const HANDSHAKE: &str = "
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0.1  < S 0:0(0) win 65535 <mss 1460>
+0    > S. 0:0(0) ack 1 <mss 1460>
+0.01 < . 1:1(0) ack 1 win 65535
+0    accept(3, ..., ...) = 4
";

fn with(tail: &str) -> String {
    format!("--sack=0\n--timestamps=0\n--window_scaling=0\n{HANDSHAKE}{tail}")
}

#[test]
fn the_runner_accepts_a_correct_script() {
    wire_script::run_script(&with(
        "+0 write(4, ..., 100) = 100\n+0 > P. 1:101(100) ack 1\n",
    ))
    .unwrap();
}

#[test]
fn the_runner_fails_a_wrong_sequence_number() {
    let e = wire_script::run_script(&with(
        "+0 write(4, ..., 100) = 100\n+0 > P. 2:102(100) ack 1\n",
    ))
    .unwrap_err();
    assert!(e.contains("sequence number differs"), "{e}");
}

#[test]
fn the_runner_fails_an_unexpected_segment() {
    let e = wire_script::run_script(&with(
        "+0 write(4, ..., 100) = 100\n+0.5 < . 1:1(0) ack 101\n",
    ))
    .unwrap_err();
    assert!(e.contains("unexpected segment"), "{e}");
}

#[test]
fn the_runner_fails_a_segment_outside_the_tolerance() {
    // The retransmission goes at 1 s (the initial RTO), not at 0.5 s.
    let e = wire_script::run_script(&with(
        "+0 write(4, ..., 100) = 100\n+0 > P. 1:101(100) ack 1\n+0.5 > P. 1:101(100) ack 1\n",
    ))
    .unwrap_err();
    assert!(e.contains("sent at"), "{e}");
}

#[test]
fn the_runner_fails_a_wrong_call_result() {
    let e = wire_script::run_script(&with("+0 read(4, ..., 100) = 0\n")).unwrap_err();
    assert!(e.contains("EAGAIN"), "{e}");
}

#[test]
fn the_runner_fails_a_segment_that_never_comes() {
    let e = wire_script::run_script(&with("+0 > . 1:1(0) ack 1\n")).unwrap_err();
    assert!(e.contains("nothing was sent"), "{e}");
}
