//! IPv6 neighbour discovery and ICMPv6 echo against the Linux kernel, on
//! the `tap` backend and on the `dpdk` backend (`net_tap`), each inside a
//! namespace the test creates and removes: the kernel resolves dpstack
//! by neighbour solicitation, pings its configured and link-local
//! addresses (8000-byte pings too: fragments both ways), and lists it in
//! its neighbour table.

mod common;

use common::{App, Netns, STACK_MAC};
use std::time::Duration;

/// dpstack's link-local address: the modified EUI-64 of `STACK_MAC`
/// (02:dd:00:00:00:02).
const STACK_LINK_LOCAL: &str = "fe80::dd:ff:fe00:2";

fn ipv6_against_kernel(purpose: &str, ifname: &str, backend_args: &[String]) {
    let ns = Netns::create(purpose);
    let mut command = ns.command(env!("CARGO_BIN_EXE_dpstack-echo"));
    command.args(backend_args).args([
        "--ip",
        "10.79.0.2/24",
        "--ip6",
        "fd00:79::2/64",
        "--gateway6",
        "fd00:79::1",
        "--mac",
        STACK_MAC,
        "--udp-port",
        "7",
        "--json",
    ]);
    let mut app = App::spawn(command);
    let ready = app.wait_ready(Duration::from_secs(20));
    assert!(
        ready.starts_with("dpstack: ready 10.79.0.2/24 on "),
        "{ready}"
    );
    // No duplicate address detection on the kernel's side, so its
    // addresses (link-local included) are usable at once.
    ns.run(&[
        "sysctl",
        "-q",
        "-w",
        &format!("net.ipv6.conf.{ifname}.accept_dad=0"),
    ]);
    ns.run(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd00:79::1/64",
        "dev",
        ifname,
        "nodad",
    ]);
    ns.run(&["ip", "link", "set", ifname, "up"]);
    // dpstack's own duplicate address detection holds its addresses for a
    // second from its start (its probe meets a link still down, so
    // nothing answers it); the kernel's neighbour queue would hide that,
    // but the ping counts below are exact.
    std::thread::sleep(Duration::from_millis(1200));

    let ping = ns.run(&[
        "ping",
        "-6",
        "-c",
        "20",
        "-i",
        "0.05",
        "-W",
        "2",
        "fd00:79::2",
    ]);
    assert!(
        ping.contains("20 packets transmitted, 20 received"),
        "{ping}"
    );
    // 8000 bytes: the kernel fragments the request, dpstack reassembles
    // it and fragments the reply.
    let big = ns.run(&[
        "ping",
        "-6",
        "-c",
        "3",
        "-i",
        "0.2",
        "-s",
        "8000",
        "-W",
        "2",
        "fd00:79::2",
    ]);
    assert!(big.contains("3 packets transmitted, 3 received"), "{big}");
    // From an address outside dpstack's prefix: the replies go through
    // its --gateway6, the kernel.
    ns.run(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd00:80::1/64",
        "dev",
        ifname,
        "nodad",
    ]);
    let routed = ns.run(&[
        "ping",
        "-6",
        "-c",
        "3",
        "-i",
        "0.05",
        "-W",
        "2",
        "-I",
        "fd00:80::1",
        "fd00:79::2",
    ]);
    assert!(
        routed.contains("3 packets transmitted, 3 received"),
        "{routed}"
    );
    let scoped = format!("{STACK_LINK_LOCAL}%{ifname}");
    let link_local = ns.run(&["ping", "-6", "-c", "5", "-i", "0.05", "-W", "2", &scoped]);
    assert!(
        link_local.contains("5 packets transmitted, 5 received"),
        "{link_local}"
    );
    let neigh = ns.run(&["ip", "-6", "neigh", "show", "fd00:79::2", "dev", ifname]);
    assert!(neigh.contains(STACK_MAC), "kernel neighbour table: {neigh}");
    // IPv4 goes on beside it.
    ns.run(&["ip", "addr", "add", "10.79.0.1/24", "dev", ifname]);
    let ping4 = ns.run(&["ping", "-c", "3", "-i", "0.05", "-W", "2", "10.79.0.2"]);
    assert!(
        ping4.contains("3 packets transmitted, 3 received"),
        "{ping4}"
    );

    let summary = app.terminate();
    let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
    let icmpv6 = &json["icmpv6"];
    assert!(
        icmpv6["echo_replies_sent"].as_u64().unwrap() >= 31,
        "{summary}"
    );
    assert!(
        icmpv6["rx_neighbor_solicits"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(
        icmpv6["tx_neighbor_adverts"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert_eq!(icmpv6["rx_errors"], 0, "{summary}");
    assert_eq!(icmpv6["rx_nd_invalid"], 0, "{summary}");
    assert_eq!(icmpv6["dad_probes_sent"], 2, "{summary}");
    assert_eq!(icmpv6["dad_duplicates"], 0, "{summary}");
    assert!(
        json["ipv6"]["frag_reassembled"].as_u64().unwrap() >= 3,
        "{summary}"
    );
    assert!(
        json["ipv6"]["tx_fragmented"].as_u64().unwrap() >= 3,
        "{summary}"
    );
}

#[test]
fn kernel_resolves_and_pings_dpstack_over_ipv6_on_tap() {
    ipv6_against_kernel(
        "ip6tap",
        "dps6tap",
        &[
            "--backend".into(),
            "tap".into(),
            "--tap".into(),
            "dps6tap".into(),
        ],
    );
}

#[cfg(feature = "dpdk")]
#[test]
fn kernel_resolves_and_pings_dpstack_over_ipv6_on_dpdk_net_tap() {
    ipv6_against_kernel("ip6dpdk", "dps6dpdk", &common::net_tap_backend("dps6dpdk"));
}
