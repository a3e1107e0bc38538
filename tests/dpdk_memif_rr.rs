//! Two dpstack processes over a DPDK `net_memif` vdev (shared memory, no
//! network): `dpstack-echo --tcp-port` serves and `dpstack-perf rr` runs
//! 64-byte request/response on 8 connections for half a second; every
//! connection comes up, requests complete and latency is reported.
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
        .args(["--ip", "10.66.0.2/24", "--tcp-port", "7"]);
    let mut server = App::spawn(server);
    server.wait_ready(Duration::from_secs(30));
    let mut client = Command::new(env!("CARGO_BIN_EXE_dpstack-perf"));
    client.arg("rr").args(memif("client", 1, &socket)).args([
        "--ip",
        "10.66.0.1/24",
        "--connect",
        "10.66.0.2:7",
        "--connections",
        "8",
        "--seconds",
        "0.5",
        "--json",
    ]);
    let mut client = App::spawn(client);
    client.wait_ready(Duration::from_secs(30));
    let lines = client.wait_exit(Duration::from_secs(60));
    let summary: serde_json::Value =
        serde_json::from_str(lines.last().expect("a summary")).expect("JSON summary");
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
    assert!(
        server_summary.contains("tcp_accepted=8"),
        "the echo server saw 8 connections: {server_summary}"
    );
}
