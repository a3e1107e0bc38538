//! IPv6 against the Linux kernel, each test inside a namespace it
//! creates and removes.
//!
//! - On the `tap` backend and on the `dpdk` backend (`net_tap`): the
//!   kernel resolves dpstack by neighbour solicitation, pings its
//!   configured and link-local addresses (8000-byte pings too: fragments
//!   both ways), and lists it in its neighbour table.
//! - On DPDK `net_tap`, TCP and UDP: 10,000 UDP echoes of random sizes
//!   (fragmented ones included), a TCP echo over both families to one
//!   dual-stack port, port unreachable from a closed UDP port, `curl -6`
//!   downloading 200 MB from `dpstack-httpd` byte-exact (and `curl -4`
//!   from the same listener), a kernel client sending 200 MB to
//!   `dpstack-perf server`, and `dpstack-perf client` sending 200 MB to a
//!   kernel listener.

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
    ns.add_ipv6(ifname, "fd00:79::1/64");
    // dpstack said ready once its duplicate address detection cleared its
    // addresses (its probes met a link still down): the ping counts below
    // are exact from the first.
    ns.run(&["ip", "link", "set", ifname, "up"]);

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
    ns.add_ipv6(ifname, "fd00:80::1/64");
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

/// TCP and UDP over IPv6, on DPDK `net_tap` (the acceptance).
#[cfg(feature = "dpdk")]
mod transports {
    use super::*;
    use common::in_netns;
    use common::tcp_kernel::{
        checked_report, curl_bulk, drain_checked, field, kernel_upload, start_dual, BULK,
    };
    use std::net::{TcpListener, UdpSocket};

    fn transports_over_ipv6(purpose: &str, ifname: &str, backend_args: &[String]) {
        let ns = Netns::create(purpose);

        // --- dpstack-echo: UDP and TCP, one dual-stack port 7 ----------------
        let echo = start_dual(
            &ns,
            ifname,
            backend_args,
            env!("CARGO_BIN_EXE_dpstack-echo"),
            &["--udp-port", "7", "--tcp-port", "7", "--json"],
        );
        let (echoed, tcp6, tcp4, refused) = in_netns(&ns, || {
            let socket = UdpSocket::bind("[fd00:79::1]:0").unwrap();
            socket.connect("[fd00:79::2]:7").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let echoed = common::udp_echoes(&socket, 10_000, 8);
            let tcp6 = common::tcp_echo_1mb("[fd00:79::2]:7");
            let tcp4 = common::tcp_echo_1mb("10.79.0.2:7");
            // Nothing on UDP port 9: ICMPv6 port unreachable refuses the next read.
            let closed = UdpSocket::bind("[fd00:79::1]:0").unwrap();
            closed.connect("[fd00:79::2]:9").unwrap();
            closed
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            closed.send(b"anyone there?").unwrap();
            let refused = closed.recv(&mut [0u8; 16]).map_err(|e| e.kind());
            (echoed, tcp6, tcp4, refused)
        });
        let summary = echo.terminate();
        assert_eq!(
            echoed, 10_000,
            "UDP echoes over IPv6 (one at a time: none may be lost): {summary}"
        );
        assert!(tcp6, "TCP echo over IPv6");
        assert!(tcp4, "TCP echo over IPv4 on the same dual-stack port");
        assert_eq!(refused, Err(std::io::ErrorKind::ConnectionRefused));
        let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
        assert_eq!(json["echoed"], 10_000, "{summary}");
        assert_eq!(json["tcp_echoed_bytes"], 2_000_000, "{summary}");
        assert!(
            json["ipv6"]["frag_reassembled"].as_u64().unwrap() >= 1_000,
            "{summary}"
        );
        assert_eq!(json["udp"]["rx_errors"], 0, "{summary}");
        assert_eq!(json["tcp"]["rx_bad_checksum"], 0, "{summary}");
        assert!(
            json["icmpv6"]["tx_errors"].as_u64().unwrap() >= 1,
            "{summary}"
        );

        // --- dpstack-httpd: curl -6 downloads 200 MB --------------------------
        let httpd = start_dual(
            &ns,
            ifname,
            backend_args,
            env!("CARGO_BIN_EXE_dpstack-httpd"),
            &["--listen-port", "80", "--json"],
        );
        let page4 = ns.run(&["curl", "-4", "-sS", "--max-time", "10", "http://10.79.0.2/"]);
        assert!(page4.contains("<h1>dpstack-httpd</h1>"), "{page4}");
        let url = format!("http://[fd00:79::2]/bytes/{BULK}");
        curl_bulk(&ns, &["-6", "-g"], &url, purpose);
        let summary = httpd.terminate();
        let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
        assert_eq!(json["accepted"], 2, "{summary}");

        // --- a kernel client sends 200 MB to dpstack-perf server --------------
        let server = start_dual(
            &ns,
            ifname,
            backend_args,
            env!("CARGO_BIN_EXE_dpstack-perf"),
            &["server", "--listen-port", "5001", "--connections", "1"],
        );
        let (sha, secs) = kernel_upload(&ns, "[fd00:79::2]:5001");
        let summary = checked_report(&server.wait_exit(Duration::from_secs(60)), &sha);
        println!(
            "{purpose}: a kernel client sent {} MB to dpstack-perf server over IPv6 in {secs:.2} s: {:.0} Mbit/s",
            BULK / 1_000_000,
            BULK as f64 * 8.0 / secs / 1e6,
        );
        assert!(summary.contains("sha256="), "{summary}");

        // --- dpstack-perf client sends 200 MB to a kernel listener ------------
        // Bound to the wildcard address, it exists before the TAP interface does.
        let listener = in_netns(&ns, || {
            TcpListener::bind("[::]:5002").expect("kernel listener")
        });
        let receiver = std::thread::spawn(move || {
            let (mut stream, peer) = listener.accept().expect("dpstack connects");
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            (drain_checked(&mut stream, "kernel listener"), peer)
        });
        let client = start_dual(
            &ns,
            ifname,
            backend_args,
            env!("CARGO_BIN_EXE_dpstack-perf"),
            &[
                "client",
                "--connect",
                "[fd00:79::1]:5002",
                "--bytes",
                &BULK.to_string(),
            ],
        );
        let lines = client.wait_exit(Duration::from_secs(180));
        let summary = lines.last().expect("a summary line");
        let ((bytes, kernel_sha), peer) = receiver.join().expect("receiver thread");
        assert_eq!(peer.ip().to_string(), "fd00:79::2", "came over IPv6");
        assert_eq!(bytes, BULK, "the kernel received every byte: {summary}");
        assert_eq!(field(summary, "sha256"), kernel_sha, "{summary}");
    }

    #[test]
    fn tcp_and_udp_over_ipv6_against_the_kernel_on_dpdk_net_tap() {
        transports_over_ipv6("ip6tcp", "dps6tcp", &common::net_tap_backend("dps6tcp"));
    }
}
