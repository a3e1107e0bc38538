//! Multi-core setups that cannot work are refused with a clear message
//! and a failing exit code before anything starts: an lcore list EAL
//! rejects, more lcores than the port has queue pairs, and `--steering
//! hardware` on a port without programmable RSS.
#![cfg(feature = "dpdk")]

mod common;

use std::process::Command;

/// Runs `dpstack-echo` on `eal` with `extra` flags; its exit status and stderr.
fn echo(eal: &str, extra: &[&str]) -> (bool, String) {
    let mut eal = eal.to_string();
    for arg in common::eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_dpstack-echo"))
        .args(["--backend", "dpdk", "--eal", &eal, "--ip", "10.9.9.2/24"])
        .args(["--tcp-port", "7", "--duration", "5"])
        .args(extra)
        .output()
        .expect("dpstack-echo runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("dpstack: ready"),
        "nothing starts: {stdout}"
    );
    (out.status.success(), stderr)
}

#[test]
fn impossible_multi_core_setups_are_refused_before_starting() {
    let dir = std::env::temp_dir().join(format!("dps-mcerr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // An empty capture: the pcap vdev has one queue pair.
    let input = dir.join("in.pcap");
    let header: Vec<u8> = [
        0xa1b2_c3d4u32.to_le_bytes().as_slice(),
        &[2, 0, 4, 0],
        &[0; 8],
        &65_535u32.to_le_bytes(),
        &1u32.to_le_bytes(),
    ]
    .concat();
    std::fs::write(&input, header).unwrap();
    let pcap = format!(
        "-l 0-1 --no-pci --vdev=net_pcap0,rx_pcap={},tx_pcap={}",
        input.display(),
        dir.join("out.pcap").display()
    );
    let (ok, stderr) = echo(&pcap, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("gives at most 1 queue pair(s), and -l asks for 2 lcores"),
        "{stderr}"
    );

    let (ok, stderr) = echo("-l 500 --no-pci --vdev=net_null0", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("dpstack-echo: dpdk backend: rte_eal_init"),
        "{stderr}"
    );

    let (ok, stderr) = echo(
        "-l 0-1 --no-pci --vdev=net_null0",
        &["--steering", "hardware"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("cannot take the symmetric RSS key and redirection table"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
