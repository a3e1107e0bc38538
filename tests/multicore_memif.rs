//! Two dpstack processes of two lcores each over DPDK `net_memif` with two
//! queue pairs (shared memory, no network): every core listens on port 7,
//! and each side opens 2,000 connections to the other (1,000 per core),
//! each echoing 10 messages of 1 KiB byte-exact. memif has no RSS, so the
//! stacks steer in software; the handoff count is printed.
//!
//! Each side is this test binary run again as a child process (EAL can be
//! initialised once per process), selected by `DPSTACK_MEMIF_SIDE`.
#![cfg(feature = "dpdk")]

mod common;

use clap::Parser;
use common::multicore::EchoBothWays;
use common::App;
use dpstack::runtime::{open_cores, NetOptions, RunControl};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

const PER_CORE: usize = 1_000;
const CORES: usize = 2;

#[derive(Parser)]
struct Side {
    #[command(flatten)]
    net: NetOptions,
}

/// One side, run as a child: prints one JSON line per core, then exits.
#[test]
#[ignore = "a child process of two_processes_of_two_lcores_each_over_memif"]
fn memif_side() {
    let Ok(role) = std::env::var("DPSTACK_MEMIF_SIDE") else {
        return;
    };
    let socket = std::env::var("DPSTACK_MEMIF_SOCKET").expect("socket path");
    let (ip, peer) = if role == "server" {
        ("10.67.0.2/24", "10.67.0.1:7")
    } else {
        ("10.67.0.1/24", "10.67.0.2:7")
    };
    let mut eal = format!("-l 0-1 --no-pci --vdev=net_memif0,role={role},socket={socket}");
    for arg in common::eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg.replace("dpstest", &format!("dpstest{role}")));
    }
    let side = Side::parse_from(["side", "--eal", &eal, "--ip", ip]);
    let mut work = EchoBothWays::new(
        side.net.ip.expect("ip"),
        peer.parse().expect("peer"),
        PER_CORE,
        10,
        1024,
        (CORES * PER_CORE) as u64,
        0,
        Arc::new(AtomicUsize::new(0)),
    );
    // Once the port (and the memif socket) is up; a line of its own: the
    // harness has printed "test memif_side ... ".
    work.ready_line = Some(format!("\ndpstack: ready {ip} on memif ({role})"));
    // When one process closes its memif port, the other's PMD unmaps the
    // shared rings from its control thread, racing any lcore inside
    // rx_burst (a crash seen here once). So both stop polling first: each
    // parks its cores, says so, and closes its port only once the parent
    // has seen both parked.
    let go = std::env::var("DPSTACK_MEMIF_GO").expect("go file path");
    work.park = Some(Box::new(move |core| {
        core.meet(|| false);
        if core.index() == 0 {
            println!("parked");
            while !std::path::Path::new(&go).exists() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        core.meet(|| false);
    }));
    let control = RunControl::without_signals(Arc::new(AtomicBool::new(false)), None);
    let results = open_cores(&side.net, &control, &work).expect("both cores finish");
    for result in &results {
        println!("core {}", result.to_json());
    }
}

#[test]
fn two_processes_of_two_lcores_each_over_memif() {
    let socket = format!("/tmp/dps-test-memif-mc-{}.sock", std::process::id());
    let go = format!("/tmp/dps-test-memif-mc-{}.go", std::process::id());
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&go);
    let side = |role: &str| {
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args([
                "--exact",
                "memif_side",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("DPSTACK_MEMIF_SIDE", role)
            .env("DPSTACK_MEMIF_SOCKET", &socket)
            .env("DPSTACK_MEMIF_GO", &go);
        let mut app = App::spawn(command);
        app.wait_ready(Duration::from_secs(30));
        app
    };
    let mut server = side("server");
    let mut client = side("client");
    for (name, app) in [("server", &mut server), ("client", &mut client)] {
        let parked = app.wait_line(Duration::from_secs(240), |line| line == "parked");
        assert!(parked.is_some(), "{name} never finished: {:?}", app.output);
    }
    std::fs::write(&go, b"").expect("go file");
    let mut results = Vec::new();
    for (name, app) in [("server", server), ("client", client)] {
        let lines = app.wait_exit(Duration::from_secs(240));
        let cores: Vec<serde_json::Value> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("core "))
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(cores.len(), CORES, "{name}: {lines:?}");
        results.push((name, cores));
    }
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&go);
    for (name, cores) in &results {
        let accepted: u64 = cores.iter().map(|c| c["accepted"].as_u64().unwrap()).sum();
        assert_eq!(accepted, (CORES * PER_CORE) as u64, "{name} accepted all");
        for core in cores {
            println!("{name}: {core}");
            assert_eq!(core["verified"], PER_CORE as u64, "{name}: {core}");
            assert_eq!(core["flows"], PER_CORE as u64);
            assert_eq!(core["flows_elsewhere"], 0, "active opens land home");
            assert_eq!(core["handoff_drops"], 0);
            let share = core["accepted"].as_u64().unwrap() as f64 / accepted as f64;
            assert!((0.35..=0.65).contains(&share), "{name}: {core}");
        }
        let out: u64 = cores
            .iter()
            .map(|c| c["handed_out"].as_u64().unwrap())
            .sum();
        println!("{name}: {out} frames handed between cores (software steering)");
    }
}
