//! Live telemetry against the kernel: `dpstack-echo` on DPDK `net_tap` in
//! a namespace the test creates and removes, 100 kernel connections held
//! open to it, read from outside the process by Debian's
//! `dpdk-telemetry.py` (DPDK's telemetry socket) and by `dpstack-stat`
//! (dpstack's own Unix socket).
#![cfg(feature = "dpdk")]

mod common;

use common::tcp_kernel::{start, KERNEL_IP, STACK_IP};
use common::{eal_memory_args, in_netns, Netns};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const IFNAME: &str = "dpstlmtap";
const CONNECTIONS: usize = 100;

/// Runs `dpdk-telemetry.py -f prefix` with `command` on stdin; its JSON.
fn dpdk_telemetry(prefix: &str, command: &str) -> Value {
    let mut child = Command::new("dpdk-telemetry.py")
        .args(["-f", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpdk-telemetry.py runs (Debian package dpdk)");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(format!("{command}\n").as_bytes())
        .expect("command written");
    let output = child.wait_with_output().expect("dpdk-telemetry.py exits");
    let text = String::from_utf8_lossy(&output.stdout);
    // The script prints the connection banner's JSON first when run on a
    // pipe; the reply is the line that names the command.
    let line = text
        .lines()
        .find(|l| l.contains(command))
        .unwrap_or_else(|| {
            panic!(
                "no reply to {command}: {text} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(line).expect("JSON reply")
}

fn dpstack_stat(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_dpstack-stat"))
        .args(args)
        .output()
        .expect("dpstack-stat runs");
    assert!(
        output.status.success(),
        "dpstack-stat {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("text")
}

#[test]
fn dpdk_telemetry_and_dpstack_stat_read_a_running_echo() {
    let ns = Netns::create("tlm");
    let memory = eal_memory_args();
    let prefix = memory
        .iter()
        .position(|a| a == "--file-prefix")
        .map(|i| memory[i + 1].clone())
        .unwrap_or_else(|| format!("dpstlm{}", std::process::id()));
    let mut eal = format!("-l 0 --no-pci --vdev=net_tap0,iface={IFNAME}");
    for arg in &memory {
        eal.push(' ');
        eal.push_str(arg);
    }
    if !memory.iter().any(|a| a == "--file-prefix") {
        eal.push_str(&format!(" --file-prefix {prefix}"));
    }
    let socket = format!("/run/dpstack/test-telemetry-{}.sock", std::process::id());
    let backend = ["--backend".to_string(), "dpdk".into(), "--eal".into(), eal];
    let echo = start(
        &ns,
        IFNAME,
        &backend,
        env!("CARGO_BIN_EXE_dpstack-echo"),
        &["--tcp-port", "7", "--telemetry-socket", &socket],
    );

    let stop = AtomicBool::new(false);
    let (connections, stats, stat_lines, ss_text, moved) = in_netns(&ns, || {
        let mut streams: Vec<TcpStream> = (0..CONNECTIONS)
            .map(|i| {
                let mut s = TcpStream::connect(format!("{STACK_IP}:7")).expect("connects");
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let line = format!("hello {i}\n");
                s.write_all(line.as_bytes()).unwrap();
                let mut echoed = vec![0u8; line.len()];
                s.read_exact(&mut echoed).expect("echoed");
                s
            })
            .collect();
        let connections = dpdk_telemetry(&prefix, "/dpstack/tcp/connections");
        let stats = dpdk_telemetry(&prefix, "/dpstack/stats");
        let ss_text = dpstack_stat(&["--socket", &socket, "--connections"]);
        // Traffic while dpstack-stat watches: the counters must move.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    for s in streams.iter_mut().take(10) {
                        let mut echoed = [0u8; 5];
                        if s.write_all(b"tick\n").is_err() || s.read_exact(&mut echoed).is_err() {
                            return;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            // Stops the traffic however this closure ends (a failed
            // assertion included), so the scope can join the thread.
            struct Stop<'a>(&'a AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let _stop = Stop(&stop);
            let watched = dpstack_stat(&[
                "--socket", &socket, "--json", "--watch", "0.5", "--count", "2",
            ]);
            let text = dpstack_stat(&["--socket", &socket]);
            let lines: Vec<Value> = watched
                .lines()
                .map(|l| serde_json::from_str(l).expect("JSON per line"))
                .collect();
            let moved = lines.len() == 2
                && lines[1]["tcp"]["rx_segments"].as_u64()
                    > lines[0]["tcp"]["rx_segments"].as_u64();
            (connections, stats, text, ss_text, moved)
        })
    });
    let summary = echo.terminate();
    assert!(
        !std::path::Path::new(&socket).exists(),
        "the socket file goes with the app"
    );

    let rows = connections["/dpstack/tcp/connections"]
        .as_array()
        .expect("an array of connections");
    let established = rows
        .iter()
        .filter(|r| {
            r[2] == "ESTAB"
                && r[1]
                    .as_str()
                    .is_some_and(|peer| peer.starts_with(&format!("{KERNEL_IP}:")))
        })
        .count();
    println!(
        "dpdk-telemetry.py listed {} TCP sockets, {established} established from the kernel",
        rows.len()
    );
    assert_eq!(established, CONNECTIONS, "{connections}");
    // The echo server listens on both families: `[::]:7`, as `ss` shows
    // a dual-stack listener.
    assert!(rows.iter().any(|r| r[2] == "LISTEN" && r[0] == "[::]:7"));
    let stats = &stats["/dpstack/stats"];
    assert_eq!(
        stats["connections"].as_u64(),
        Some(CONNECTIONS as u64),
        "{stats}"
    );
    assert!(
        stats["tcp/passive_opens"].as_u64() >= Some(CONNECTIONS as u64),
        "{stats}"
    );
    assert_eq!(
        ss_text.lines().filter(|l| l.starts_with("ESTAB")).count(),
        CONNECTIONS,
        "{ss_text}"
    );
    assert!(
        stat_lines.contains("tcp:") && stat_lines.contains("rx_segments"),
        "{stat_lines}"
    );
    assert!(moved, "dpstack-stat --watch saw tcp.rx_segments grow");
    assert!(summary.contains("tcp_accepted=100"), "{summary}");
}
