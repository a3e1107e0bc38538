//! Two dpstack processes over a DPDK `net_memif` vdev (shared memory, no
//! network): `dpstack-echo --tcp-port` serves; `dpstack-perf rr` runs
//! 64-byte request/response on 8 connections for half a second (every
//! connection comes up, requests complete, latency is reported), then on
//! one connection beside 100 idle ones spread over the echo's three ports
//! (`--tcp-port 7-9`, `--idle-ports 3`), then `dpstack-perf crr` opens,
//! uses and closes connections 8 at a time.
#![cfg(feature = "dpdk")]

mod common;

use common::App;
use std::process::Command;
use std::time::Duration;

/// `--backend dpdk --eal ...` for a memif port in `role` on `lcore`.
fn memif(role: &str, lcore: u32, socket: &str) -> Vec<String> {
    let mut eal = format!("-l {lcore} --no-pci --vdev=net_memif0,role={role},socket={socket}");
    for arg in common::eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    // Distinct file prefixes when EAL falls back to --no-huge.
    eal = eal.replace(
        "--file-prefix dpstest",
        &format!("--file-prefix dpstest{role}"),
    );
    vec!["--backend".into(), "dpdk".into(), "--eal".into(), eal]
}

#[test]
fn perf_rr_against_echo_over_memif() {
    let socket = format!("/tmp/dps-test-memif-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&socket);
    let mut server = Command::new(env!("CARGO_BIN_EXE_dpstack-echo"));
    server
        .args(memif("server", 0, &socket))
        .args(["--ip", "10.66.0.2/24", "--tcp-port", "7-9"]);
    let mut server = App::spawn(server);
    server.wait_ready(Duration::from_secs(30));
    let summary = client(&socket, &["rr", "--connections", "8", "--seconds", "0.5"]);
    let with_idle = client(
        &socket,
        &[
            "rr",
            "--connections",
            "1",
            "--idle",
            "100",
            "--idle-ports",
            "3",
            "--seconds",
            "0.3",
        ],
    );
    let crr = client(&socket, &["crr", "--concurrency", "8", "--seconds", "0.3"]);
    let server_summary = server.terminate();
    let _ = std::fs::remove_file(&socket);
    println!("rr over memif: {summary}");
    assert_eq!(summary["connections"], 8);
    let requests = summary["requests"].as_u64().unwrap();
    assert!(requests > 1000, "requests completed: {requests}");
    let (p50, p99) = (
        summary["p50_us"].as_f64().unwrap(),
        summary["p99_us"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p99 >= p50, "latency p50 {p50} p99 {p99}");
    assert_eq!(
        (
            with_idle["connections"].as_u64(),
            with_idle["idle"].as_u64()
        ),
        (Some(1), Some(100))
    );
    assert!(with_idle["requests"].as_u64().unwrap() > 100, "{with_idle}");
    let opened = crr["connections"].as_u64().unwrap();
    assert!(opened > 100, "connections opened and closed: {crr}");
    assert_eq!(crr["failed"], 0, "{crr}");
    let accepted: u64 = server_summary
        .split(' ')
        .find_map(|kv| kv.strip_prefix("tcp_accepted="))
        .and_then(|v| v.parse().ok())
        .expect("tcp_accepted in the echo summary");
    assert!(
        accepted >= 8 + 101 + opened,
        "the echo server accepted every connection, on all three ports: {server_summary}"
    );
}

/// Runs `dpstack-perf` with `args` as the memif client; its JSON summary.
fn client(socket: &str, args: &[&str]) -> serde_json::Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dpstack-perf"));
    command
        .arg(args[0])
        .args(memif("client", 1, socket))
        .args(["--ip", "10.66.0.1/24", "--connect", "10.66.0.2:7", "--json"])
        .args(&args[1..]);
    let mut app = App::spawn(command);
    app.wait_ready(Duration::from_secs(30));
    let lines = app.wait_exit(Duration::from_secs(60));
    serde_json::from_str(lines.last().expect("a summary")).expect("JSON summary")
}
