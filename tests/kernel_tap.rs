//! The kernel exception path against the kernel: `dpstack-httpd
//! --kernel-tap` on DPDK `net_tap` in one namespace (the app's, where the
//! kernel also runs a Python HTTP server on port 8080 behind the exception
//! TAP), and clients in a second namespace, to which the test moves the
//! `net_tap` interface (the wire). Both namespaces are the test's own and
//! go with it.
#![cfg(feature = "dpdk")]

mod common;

use common::{eal_memory_args, App, Netns, STACK_MAC};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WIRE: &str = "dpsktwire";
const KERNEL_TAP: &str = "dpsktkern";
const STACK_IP: &str = "10.78.0.2";
const CLIENT_IP: &str = "10.78.0.1";

#[test]
fn the_kernel_behind_dpstack_serves_its_port_while_dpstack_serves_its_own() {
    let app_ns = Netns::create("ktapp");
    let client_ns = Netns::create("ktcli");
    let mut eal = format!("-l 0 --no-pci --vdev=net_tap0,iface={WIRE}");
    for arg in eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    let mut command = app_ns.command(env!("CARGO_BIN_EXE_dpstack-httpd"));
    command.args([
        "--backend",
        "dpdk",
        "--eal",
        &eal,
        "--ip",
        &format!("{STACK_IP}/24"),
        "--mac",
        STACK_MAC,
        "--listen-port",
        "80",
        "--kernel-tap",
        KERNEL_TAP,
        "--telemetry-socket",
        "none",
        "--json",
    ]);
    let mut httpd = App::spawn(command);
    httpd.wait_ready(Duration::from_secs(20));
    // The wire goes to the clients' namespace; the app's kernel keeps the
    // exception TAP, which holds the stack's own address.
    app_ns.run(&["ip", "link", "set", WIRE, "netns", &client_ns.name]);
    client_ns.run(&["ip", "addr", "add", &format!("{CLIENT_IP}/24"), "dev", WIRE]);
    client_ns.run(&["ip", "link", "set", WIRE, "up"]);
    let addresses = app_ns.run(&["ip", "-4", "addr", "show", "dev", KERNEL_TAP]);
    assert!(addresses.contains(STACK_IP), "{addresses}");

    let mut python = app_ns
        .command("python3")
        .args([
            "-m",
            "http.server",
            "8080",
            "--bind",
            STACK_IP,
            "--directory",
            "/",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 starts");
    let curl = |port: u16| {
        client_ns
            .command("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                &format!("http://{STACK_IP}:{port}/"),
            ])
            .output()
            .expect("curl runs")
    };
    // The kernel's server takes a moment to listen.
    let started = Instant::now();
    let kernel_page = loop {
        let out = curl(8080);
        if out.status.success() || started.elapsed() > Duration::from_secs(15) {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let dpstack_page = String::from_utf8_lossy(&curl(80).stdout).into_owned();
    let ping = client_ns
        .command("ping")
        .args(["-c", "5", "-i", "0.2", "-W", "2", STACK_IP])
        .output()
        .expect("ping runs");
    let ping_text = String::from_utf8_lossy(&ping.stdout).into_owned();
    let neigh = client_ns.run(&["ip", "neigh", "show", "dev", WIRE]);
    let _ = Command::new("kill").arg(python.id().to_string()).status();
    let _ = python.wait();
    let summary = httpd.terminate();
    println!("kernel behind dpstack: {ping_text}\n{summary}");

    assert!(
        kernel_page.contains("Directory listing"),
        "the kernel's server answered through the exception path: {kernel_page}"
    );
    assert!(
        dpstack_page.contains("<h1>dpstack-httpd</h1>"),
        "dpstack answered its own port: {dpstack_page}"
    );
    assert!(
        ping_text.contains("5 packets transmitted, 5 received") && !ping_text.contains("DUP!"),
        "each ping answered exactly once: {ping_text}"
    );
    assert!(neigh.contains(STACK_MAC), "one MAC for both: {neigh}");
    let json: serde_json::Value = serde_json::from_str(&summary).expect("JSON summary");
    let kernel = &json["kernel_tap"];
    assert!(kernel["to_kernel"].as_u64() > Some(0), "{summary}");
    assert!(kernel["from_kernel"].as_u64() > Some(0), "{summary}");
    assert_eq!(
        json["tcp"]["tx_resets"], 0,
        "no RST for the kernel's port: {summary}"
    );
}
