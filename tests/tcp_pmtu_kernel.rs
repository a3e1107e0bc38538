//! Path MTU discovery against the Linux kernel (RFC 1191): dpstack-httpd
//! on a TAP in one namespace, whose kernel routes to a second namespace
//! over a link of MTU 1,000 bytes; curl there downloads 20 MB. curl's SYN
//! offers an MSS of 1,460 (its own link is 1,500), so dpstack's first
//! full-sized segments (DF set) meet the narrow link; the kernel router
//! answers "fragmentation needed, MTU 1000", and the transfer must
//! complete, every byte checked, with the segment size lowered once.

mod common;

use common::tcp_kernel::{drain_checked, field, start, KERNEL_IP, STACK_IP};
use common::Netns;
use std::process::Stdio;

const HTTPD: &str = env!("CARGO_BIN_EXE_dpstack-httpd");
const FAR_IP: &str = "10.80.0.2";
const ROUTER_FAR_IP: &str = "10.80.0.1";
const NARROW_MTU: &str = "1000";

#[test]
fn a_download_through_a_narrower_hop_lowers_the_segment_size_and_completes() {
    let ifname = "dpspmtu0";
    let router = Netns::create("pmtu");
    let far = Netns::create("pmtufar");
    let app = start(
        &router,
        ifname,
        &["--backend", "tap", "--tap", ifname].map(String::from),
        HTTPD,
        &["--listen-port", "80", "--gateway", KERNEL_IP],
    );
    // The router: forwards, and reaches the far namespace over a veth
    // whose router end has the narrow MTU (the far end keeps 1,500, so
    // curl offers a full MSS).
    router.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    router.run(&[
        "ip", "link", "add", "dpspmtuA", "type", "veth", "peer", "name", "dpspmtuB",
    ]);
    router.run(&["ip", "link", "set", "dpspmtuB", "netns", &far.name]);
    router.run(&["ip", "link", "set", "dpspmtuA", "mtu", NARROW_MTU]);
    router.run(&[
        "ip",
        "addr",
        "add",
        &format!("{ROUTER_FAR_IP}/24"),
        "dev",
        "dpspmtuA",
    ]);
    router.run(&["ip", "link", "set", "dpspmtuA", "up"]);
    far.run(&[
        "ip",
        "addr",
        "add",
        &format!("{FAR_IP}/24"),
        "dev",
        "dpspmtuB",
    ]);
    far.run(&["ip", "link", "set", "dpspmtuB", "up"]);
    far.run(&["ip", "link", "set", "lo", "up"]);
    far.run(&["ip", "route", "add", "default", "via", ROUTER_FAR_IP]);

    let bytes = 20_000_000u64;
    let mut curl = far
        .command("curl")
        .args(["-sS", "--max-time", "60"])
        .arg(format!("http://{STACK_IP}/bytes/{bytes}"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl starts");
    let (got, _) = drain_checked(curl.stdout.as_mut().expect("piped"), "curl download");
    assert!(curl.wait().expect("curl exits").success());
    assert_eq!(got, bytes, "every byte through the narrow hop");
    let summary = app.terminate();
    // The summary leaves out counters that stayed zero.
    let counter = |key: &str| -> u64 {
        if summary.contains(&format!(" {key}=")) {
            field(&summary, key).parse().unwrap()
        } else {
            0
        }
    };
    let lowered = counter("tcp.pmtu_lowered");
    let icmp = counter("tcp.rx_icmp_errors");
    let timeouts = counter("tcp.rto_expirations");
    println!(
        "20 MB through a {NARROW_MTU}-byte hop: {icmp} ICMP errors taken, \
         segment size lowered {lowered} time(s), {timeouts} timeouts"
    );
    assert_eq!(lowered, 1, "lowered once: {summary}");
    assert!(icmp >= 1);
    assert_eq!(
        timeouts, 0,
        "resent at the new size at once, not after a timeout"
    );
}
