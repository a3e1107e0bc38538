//! Linux kernel clients against dpstack on two lcores through a DPDK
//! `net_tap` of two queue pairs, in a namespace the test creates and
//! removes. The kernel picks each frame's queue itself (the TAP has no RSS
//! of ours), so the stacks steer in software.
//! - `dpstack-echo` (the edge-triggered reactor, then async/await tasks):
//!   1,000 kernel clients at once, every one echoed, both
//!   cores holding 35-65% of them; pings answered; UDP from 200 source
//!   ports all echoed, by both cores; checksums offloaded to the TAP PMD
//!   both ways.
//! - `dpstack-httpd`: curl downloads 200 MB, checked against the pattern,
//!   then 16 downloads at once spread over both cores.
#![cfg(feature = "dpdk")]

mod common;

use common::tcp_kernel::{drain_checked, start, STACK_IP};
use std::process::Stdio;
use std::time::Instant;

const CLIENTS: usize = 1_000;

/// The `cores` array of a `--json` summary, checked to hold two cores.
fn cores(summary: &serde_json::Value) -> &Vec<serde_json::Value> {
    let cores = summary["cores"].as_array().expect("per-core summaries");
    assert_eq!(cores.len(), 2, "{summary}");
    cores
}

#[test]
fn a_thousand_kernel_clients_into_echo_on_two_lcores() {
    kernel_clients_into_echo("et", "mcecho");
}

/// The same against the echo written as async/await tasks (a task per
/// connection and one for UDP, on each lcore's own executor).
#[test]
fn a_thousand_kernel_clients_into_async_echo_on_two_lcores() {
    kernel_clients_into_echo("async", "mcechoa");
}

/// 1,000 kernel TCP clients, pings and UDP from 200 ports into
/// `dpstack-echo --trigger <trigger>` on two lcores, in namespace `tag`.
fn kernel_clients_into_echo(trigger: &str, tag: &str) {
    let ns = common::Netns::create(tag);
    let ifname = format!("dps{tag}");
    let app = start(
        &ns,
        &ifname,
        &common::net_tap_backend_on(&ifname, "0-1"),
        env!("CARGO_BIN_EXE_dpstack-echo"),
        &[
            "--tcp-port",
            "7",
            "--udp-port",
            "7",
            "--trigger",
            trigger,
            "--json",
        ],
    );
    let echoed = common::kernel_echo_clients(&ns, &format!("{STACK_IP}:7"), CLIENTS);
    // Pings are answered by whichever core receives them.
    let ping = ns.run(&["ping", "-c", "10", "-i", "0.2", "-W", "1", STACK_IP]);
    assert!(ping.contains(" 0% packet loss"), "{ping}");
    // UDP from 200 source ports: each core answers the flows hashed to it.
    let datagrams = common::in_netns(&ns, || {
        (0..200)
            .filter(|i| {
                let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
                socket
                    .set_read_timeout(Some(std::time::Duration::from_secs(2)))
                    .unwrap();
                let message = format!("datagram {i}");
                socket
                    .send_to(message.as_bytes(), format!("{STACK_IP}:7"))
                    .unwrap();
                let mut reply = [0u8; 64];
                matches!(socket.recv(&mut reply), Ok(n) if reply[..n] == *message.as_bytes())
            })
            .count()
    });
    let summary = app.terminate();
    assert_eq!(datagrams, 200, "every datagram echoed: {summary}");
    assert_eq!(
        echoed, CLIENTS,
        "every kernel client got its echo: {summary}"
    );
    let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
    assert_eq!(json["tcp_accepted"], CLIENTS as u64, "{summary}");
    for core in cores(&json) {
        assert!(
            core["echoed"].as_u64().unwrap() > 0,
            "both cores echo UDP: {summary}"
        );
        let accepted = core["tcp_accepted"].as_u64().unwrap();
        println!("core accepted {accepted}, steering {}", core["steering"]);
        let share = accepted as f64 / CLIENTS as f64;
        assert!((0.35..=0.65).contains(&share), "{summary}");
        assert_eq!(core["steering"]["handoff_drops"], 0);
    }
    // The kernel chose queues by its own hash: frames moved between cores.
    assert!(
        json["steering"]["handed_out"].as_u64().unwrap() > 0,
        "{summary}"
    );
}

#[test]
fn curl_downloads_from_httpd_on_two_lcores() {
    let ns = common::Netns::create("mchttp");
    let ifname = "dpsmchttp";
    let app = start(
        &ns,
        ifname,
        &common::net_tap_backend_on(ifname, "0-1"),
        env!("CARGO_BIN_EXE_dpstack-httpd"),
        &["--listen-port", "80", "--json"],
    );
    let bulk = 200_000_000u64;
    let started = Instant::now();
    let mut curl = ns
        .command("curl")
        .args(["-sS", "--max-time", "120"])
        .arg(format!("http://{STACK_IP}/bytes/{bulk}"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl starts");
    let (got, _) = drain_checked(curl.stdout.as_mut().expect("piped"), "curl download");
    assert!(curl.wait().expect("curl exits").success());
    assert_eq!(got, bulk, "curl got every byte");
    println!(
        "curl downloaded 200 MB from dpstack-httpd on 2 lcores at {:.0} Mbit/s",
        bulk as f64 * 8.0 / started.elapsed().as_secs_f64() / 1e6
    );
    // 16 downloads at once: each lands on the core its flow hashes to.
    let each = 5_000_000u64;
    let downloads: Vec<_> = (0..16)
        .map(|_| {
            ns.command("curl")
                .args(["-sS", "--max-time", "60"])
                .arg(format!("http://{STACK_IP}/bytes/{each}"))
                .stdout(Stdio::piped())
                .spawn()
                .expect("curl starts")
        })
        .collect();
    let readers: Vec<_> = downloads
        .into_iter()
        .map(|mut curl| {
            std::thread::spawn(move || {
                let (got, _) = drain_checked(curl.stdout.as_mut().expect("piped"), "download");
                (got, curl.wait().map(|s| s.success()).unwrap_or(false))
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.join().expect("reader"), (each, true));
    }
    let summary = app.terminate();
    let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
    assert_eq!(json["status_200"], 17, "{summary}");
    assert_eq!(json["body_bytes"], bulk + 16 * each, "{summary}");
    for core in cores(&json) {
        println!(
            "core: {} requests, {} body bytes",
            core["requests"], core["body_bytes"]
        );
        assert!(
            core["requests"].as_u64().unwrap() > 0,
            "both cores served: {summary}"
        );
    }
}
