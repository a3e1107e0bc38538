//! Two dpstack processes over a DPDK `net_memif` vdev (shared memory, no
//! network): `dpstack-echo --tcp-port` serves; `dpstack-perf rr` runs
//! 64-byte request/response on 8 connections for half a second (every
//! connection comes up, requests complete, latency is reported), then on
//! one connection beside 100 idle ones spread over the echo's three ports
//! (`--tcp-port 7-9`, `--idle-ports 3`), then `dpstack-perf crr` opens,
//! uses and closes connections 8 at a time. `dpstack-perf kv` drives
//! `dpstack-kv` the same way (SET, then GET over a key space it fills),
//! and counts the error replies of a server out of memory.
#![cfg(feature = "dpdk")]

mod common;

use common::App;
use std::process::Command;
use std::time::Duration;

#[test]
fn perf_rr_against_echo_over_memif() {
    rr_against_echo("et");
}

/// The same against the echo written as async/await tasks.
#[test]
fn perf_rr_against_async_echo_over_memif() {
    rr_against_echo("async");
}

/// rr, rr beside idle connections, and crr against `dpstack-echo
/// --trigger <trigger>`.
fn rr_against_echo(trigger: &str) {
    let socket = format!("/tmp/dps-test-memif-{trigger}-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&socket);
    let mut server = Command::new(env!("CARGO_BIN_EXE_dpstack-echo"));
    server
        .args(common::memif_backend("server", "0", &socket))
        .args([
            "--ip",
            "10.66.0.2/24",
            "--tcp-port",
            "7-9",
            "--trigger",
            trigger,
        ]);
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

#[test]
fn perf_kv_against_kv_over_memif() {
    let socket = format!("/tmp/dps-test-memif-kv-{}.sock", std::process::id());
    let kv_server = |maxmemory: &str| {
        let _ = std::fs::remove_file(&socket);
        let mut server = Command::new(env!("CARGO_BIN_EXE_dpstack-kv"));
        server
            .args(common::memif_backend("server", "0", &socket))
            .args([
                "--ip",
                "10.66.0.2/24",
                "--listen-port",
                "7",
                "--maxmemory",
                maxmemory,
            ]);
        let mut server = App::spawn(server);
        server.wait_ready(Duration::from_secs(30));
        server
    };
    let load = |command: &str| {
        [
            "kv",
            "--command",
            command,
            "--connections",
            "10",
            "--pipeline",
            "8",
            "--keys",
            "1000",
            "--value-size",
            "32",
            "--seconds",
            "0.3",
        ]
        .map(String::from)
    };
    let server = kv_server("1000000");
    let set = client(&socket, &load("set").each_ref().map(String::as_str));
    let get = client(&socket, &load("get").each_ref().map(String::as_str));
    let summary = server.terminate();
    for (name, run) in [("SET", &set), ("GET", &get)] {
        println!("kv {name} over memif: {run}");
        assert_eq!(run["error_replies"], 0, "{run}");
        assert!(run["requests"].as_u64().unwrap() > 1000, "{run}");
        assert!(run["p99_us"].as_f64().unwrap() > 0.0, "{run}");
    }
    let figure = |name: &str| -> u64 {
        summary
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in the kv summary: {summary}"))
    };
    assert_eq!(figure("keys"), 1000, "the GET run set every key first");
    let answered = set["requests"].as_u64().unwrap() + get["requests"].as_u64().unwrap();
    assert!(figure("commands") >= answered + 1000, "{summary}");

    // A server with room for a few keys: SETs past it get OOM errors,
    // which the client counts and fails on.
    let server = kv_server("2000");
    let output = Command::new(env!("CARGO_BIN_EXE_dpstack-perf"))
        .arg("kv")
        .args(common::memif_backend("client", "1", &socket))
        .args(["--ip", "10.66.0.1/24", "--connect", "10.66.0.2:7", "--json"])
        .args(&load("set")[1..])
        .output()
        .expect("dpstack-perf runs");
    server.terminate();
    let _ = std::fs::remove_file(&socket);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let run: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary")).expect("JSON summary");
    assert!(
        !output.status.success(),
        "error replies fail the run: {run}"
    );
    assert!(run["error_replies"].as_u64().unwrap() > 0, "{run}");
}

/// Runs `dpstack-perf` with `args` as the memif client; its JSON summary.
fn client(socket: &str, args: &[&str]) -> serde_json::Value {
    client_on("1", socket, args)
}

/// As [`client`], on the EAL lcores `lcores`.
fn client_on(lcores: &str, socket: &str, args: &[&str]) -> serde_json::Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dpstack-perf"));
    command
        .arg(args[0])
        .args(common::memif_backend("client", lcores, socket))
        .args(["--ip", "10.66.0.1/24", "--connect", "10.66.0.2:7", "--json"])
        .args(&args[1..]);
    let mut app = App::spawn(command);
    app.wait_ready(Duration::from_secs(30));
    let lines = app.wait_exit(Duration::from_secs(60));
    serde_json::from_str(lines.last().expect("a summary")).expect("JSON summary")
}

/// Both processes on two lcores: rr and crr against `dpstack-echo`, then
/// four bulk transfers between `dpstack-perf server` and `client`, spread
/// over the cores, every byte checked against the pattern.
#[test]
fn perf_and_echo_on_two_lcores_over_memif() {
    let socket = format!("/tmp/dps-test-memif2-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&socket);
    let mut server = Command::new(env!("CARGO_BIN_EXE_dpstack-echo"));
    server
        .args(common::memif_backend("server", "0-1", &socket))
        .args(["--ip", "10.66.0.2/24", "--tcp-port", "7", "--json"]);
    let mut server = App::spawn(server);
    server.wait_ready(Duration::from_secs(30));
    let rr = client_on(
        "0-1",
        &socket,
        &["rr", "--connections", "8", "--seconds", "0.5"],
    );
    let crr = client_on(
        "0-1",
        &socket,
        &["crr", "--concurrency", "8", "--seconds", "0.5"],
    );
    let echo: serde_json::Value =
        serde_json::from_str(&server.terminate()).expect("echo's JSON summary");
    println!("rr on 2 lcores: {}", rr["requests_per_second"]);
    assert_eq!(rr["cores"].as_array().map(Vec::len), Some(2), "{rr}");
    assert!(rr["requests"].as_u64().unwrap() > 100, "{rr}");
    assert!(crr["connections"].as_u64().unwrap() > 50, "{crr}");
    assert_eq!(crr["failed"], 0, "{crr}");
    for core in rr["cores"].as_array().unwrap() {
        assert!(
            core["requests"].as_u64().unwrap() > 0,
            "each core's share: {rr}"
        );
    }
    for core in echo["cores"].as_array().expect("per-core echo summary") {
        assert!(core["tcp_accepted"].as_u64().unwrap() > 0, "{echo}");
    }

    let _ = std::fs::remove_file(&socket);
    let mut receiver = Command::new(env!("CARGO_BIN_EXE_dpstack-perf"));
    receiver
        .arg("server")
        .args(common::memif_backend("server", "0-1", &socket))
        .args(["--ip", "10.66.0.2/24", "--connections", "4", "--json"]);
    let mut receiver = App::spawn(receiver);
    receiver.wait_ready(Duration::from_secs(30));
    let mut sender = Command::new(env!("CARGO_BIN_EXE_dpstack-perf"));
    sender
        .arg("client")
        .args(common::memif_backend("client", "0-1", &socket))
        .args(["--ip", "10.66.0.1/24", "--connect", "10.66.0.2:5001"])
        .args(["--connections", "4", "--bytes", "20000000", "--json"]);
    let mut sender = App::spawn(sender);
    sender.wait_ready(Duration::from_secs(30));
    let sent = sender.wait_exit(Duration::from_secs(120));
    let received = receiver.wait_exit(Duration::from_secs(30));
    let _ = std::fs::remove_file(&socket);
    let transfers = |lines: &[String]| -> Vec<serde_json::Value> {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|j| j["bytes"].is_u64())
            .collect()
    };
    let (sent, received) = (transfers(&sent), transfers(&received));
    assert_eq!(
        (sent.len(), received.len()),
        (4, 4),
        "{sent:?} {received:?}"
    );
    for t in &received {
        assert_eq!(t["bytes"], 20_000_000, "{t}");
        assert_eq!(t["pattern"], "ok", "{t}");
    }
}
