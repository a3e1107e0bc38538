//! dpstack-pktgen end to end: frames written to pcap are valid and walk the
//! flow ranges exactly; rate accuracy on net_null; frames into the kernel
//! through net_tap (in a namespace the test creates); loss and latency
//! through a net_ring loopback with 1% injected loss; bad flags refused.

mod common;

use dpstack::device::pcap::PcapReader;
use smoltcp::wire::{checksum, IpAddress, Ipv4Packet, TcpPacket, UdpPacket};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
#[cfg(feature = "dpdk")]
use std::time::Duration;

/// The flow most tests send: one fixed MAC and address pair.
const ONE_FLOW: [&str; 6] = [
    "--dst-mac",
    "02:00:00:00:00:02",
    "--src-ip",
    "10.0.0.1",
    "--dst-ip",
    "10.0.1.1",
];

fn pktgen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dpstack-pktgen"))
}

/// Runs pktgen to completion and returns its JSON summary.
fn run_json(command: &mut Command) -> serde_json::Value {
    let out = command.arg("--json").output().expect("pktgen runs");
    assert!(
        out.status.success(),
        "pktgen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}"))
}

fn temp_pcap(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dpstack-pktgen-{}-{name}.pcap", std::process::id()))
}

fn read_frames(path: &Path) -> Vec<Vec<u8>> {
    let mut reader = PcapReader::open(path).unwrap();
    let mut frames = Vec::new();
    let mut frame = Vec::new();
    while reader.next_into(&mut frame).unwrap().is_some() {
        frames.push(frame.clone());
    }
    frames
}

#[test]
fn pcap_frames_are_valid_and_walk_the_flow_ranges() {
    let path = temp_pcap("udp");
    let summary = run_json(pktgen().args([
        "--backend",
        "pcap",
        "--pcap-out",
        path.to_str().unwrap(),
        "--dst-mac",
        "02:00:00:00:00:02",
        "--src-mac",
        "02:00:00:00:00:01",
        "--src-ip",
        "10.0.0.1-10.0.0.2",
        "--dst-ip",
        "10.0.1.1-10.0.1.2",
        "--src-port",
        "1000-1002",
        "--dst-port",
        "7",
        "--size",
        "60,100,1514",
        "--count",
        "36",
        "--rx-wait-ms",
        "0",
    ]));
    assert_eq!(summary["tx_packets"], 36);
    assert_eq!(summary["flows"], 12);
    let frames = read_frames(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(frames.len(), 36);
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame.len(), [60, 100, 1514][i % 3], "frame {i} size");
        assert_eq!(&frame[0..12], &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
        let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
        assert!(ip.verify_checksum(), "frame {i} IPv4 checksum");
        assert_eq!(usize::from(ip.total_len()), frame.len() - 14);
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert!(udp.verify_checksum(
            &IpAddress::Ipv4(ip.src_addr()),
            &IpAddress::Ipv4(ip.dst_addr())
        ));
        // Odometer: source port fastest, then destination port (one value),
        // source IP, destination IP.
        let flow = i % 12;
        assert_eq!(udp.src_port(), 1000 + (flow % 3) as u16, "frame {i}");
        assert_eq!(udp.dst_port(), 7);
        assert_eq!(
            ip.src_addr(),
            Ipv4Addr::new(10, 0, 0, 1 + ((flow / 3) % 2) as u8),
            "frame {i}"
        );
        assert_eq!(
            ip.dst_addr(),
            Ipv4Addr::new(10, 0, 1, 1 + (flow / 6) as u8),
            "frame {i}"
        );
    }
}

/// Frames of `path` with their timestamps in ns.
fn read_stamped(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut reader = PcapReader::open(path).unwrap();
    let mut frames = Vec::new();
    let mut frame = Vec::new();
    while let Some(record) = reader.next_into(&mut frame).unwrap() {
        frames.push((record.timestamp_ns, frame.clone()));
    }
    frames
}

/// Replays `input` with `flags` into a pcap file; returns the frames sent.
fn replay(input: &Path, tag: &str, flags: &[&str]) -> Vec<(u64, Vec<u8>)> {
    let out = temp_pcap(tag);
    let summary = run_json(
        pktgen()
            .args(["--backend", "pcap", "--pcap-out", out.to_str().unwrap()])
            .args(["--mode", "replay", "--replay", input.to_str().unwrap()])
            .args(["--rx-wait-ms", "0"])
            .args(flags),
    );
    let frames = read_stamped(&out);
    std::fs::remove_file(&out).unwrap();
    assert_eq!(summary["tx_packets"].as_u64(), Some(frames.len() as u64));
    frames
}

#[test]
fn replay_is_frame_exact_at_original_and_rate_timing_and_loops() {
    // 40 frames of different sizes and contents, 3 ms apart.
    let input = temp_pcap("replay-in");
    let mut writer = dpstack::device::pcap::PcapWriter::create(&input).unwrap();
    let frames: Vec<Vec<u8>> = (0..40usize)
        .map(|i| {
            let len = 60 + (i * 137) % 1455;
            (0..len).map(|j| (i * 7 + j * 13) as u8).collect()
        })
        .collect();
    const GAP_NS: u64 = 3_000_000;
    for (i, frame) in frames.iter().enumerate() {
        writer
            .write_frame(1_700_000_000_000_000_000 + i as u64 * GAP_NS, frame)
            .unwrap();
    }
    writer.flush().unwrap();
    drop(writer);

    // Original timing, twice through: every frame byte for byte, in
    // order, and none before its time in the file (pacing may only be
    // late; the second pass starts after the first ends).
    let sent = replay(&input, "replay-orig", &["--loop", "2"]);
    assert_eq!(sent.len(), 80);
    let first = sent[0].0;
    for (i, (stamp, frame)) in sent.iter().enumerate() {
        assert_eq!(frame, &frames[i % 40], "frame {i}");
        let due = (i % 40) as u64 * GAP_NS + (i / 40) as u64 * 39 * GAP_NS;
        assert!(
            stamp - first + 100_000 >= due,
            "frame {i} left {} ns after the first, due at {due}",
            stamp - first
        );
    }

    // At a rate of 1,000 frames per second, three times through.
    let sent = replay(
        &input,
        "replay-rate",
        &[
            "--loop",
            "3",
            "--replay-timing",
            "rate",
            "--rate",
            "1000pps",
        ],
    );
    assert_eq!(sent.len(), 120);
    let first = sent[0].0;
    for (i, (stamp, frame)) in sent.iter().enumerate() {
        assert_eq!(frame, &frames[i % 40], "frame {i}");
        let due = i as u64 * 1_000_000;
        assert!(stamp - first + 100_000 >= due, "frame {i} early");
    }
    std::fs::remove_file(&input).unwrap();
}

#[test]
fn syn_icmp_and_random_flows_are_valid() {
    let path = temp_pcap("syn");
    let seeded_syn = [
        "--backend",
        "pcap",
        "--pcap-out",
        path.to_str().unwrap(),
        "--mode",
        "tcp-syn",
        "--src-port",
        "2000-2999",
        "--flow-mode",
        "random",
        "--seed",
        "7",
        "--count",
        "50",
        "--rx-wait-ms",
        "0",
    ];
    run_json(pktgen().args(ONE_FLOW).args(seeded_syn));
    let frames = read_frames(&path);
    let ports: Vec<u16> = frames
        .iter()
        .map(|frame| {
            let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
            assert!(ip.verify_checksum());
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.syn() && !tcp.ack());
            assert!(tcp.verify_checksum(
                &IpAddress::Ipv4(ip.src_addr()),
                &IpAddress::Ipv4(ip.dst_addr())
            ));
            tcp.src_port()
        })
        .collect();
    assert!(ports.iter().all(|p| (2000..=2999).contains(p)));
    assert!(
        ports.windows(2).any(|w| w[1] != w[0] + 1),
        "random, not incrementing"
    );

    run_json(pktgen().args(ONE_FLOW).args(seeded_syn));
    let again: Vec<u16> = read_frames(&path)
        .iter()
        .map(|f| u16::from_be_bytes([f[34], f[35]]))
        .collect();
    assert_eq!(again, ports, "same seed, same flows");

    run_json(pktgen().args(ONE_FLOW).args([
        "--backend",
        "pcap",
        "--pcap-out",
        path.to_str().unwrap(),
        "--mode",
        "icmp",
        "--size",
        "imix",
        "--count",
        "12",
        "--rx-wait-ms",
        "0",
    ]));
    let frames = read_frames(&path);
    std::fs::remove_file(&path).unwrap();
    let mut sizes: Vec<usize> = frames.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(
        sizes,
        [[60; 7].as_slice(), &[590; 4], &[1514]].concat(),
        "IMIX 7:4:1"
    );
    for frame in &frames {
        let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.payload()[0], 8, "echo request");
        assert_eq!(checksum::data(ip.payload()), !0, "ICMP checksum");
    }
}

/// DPDK tests spawn busy-polling generators; on a 2-core machine two at
/// once would starve each other's pacing, so they take turns.
#[cfg(feature = "dpdk")]
static ONE_GENERATOR_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(feature = "dpdk")]
fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_GENERATOR_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(feature = "dpdk")]
fn eal(vdevs: &str, cores: &str) -> String {
    let mut eal = format!("-l {cores} --no-pci {vdevs}");
    for arg in common::eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    eal
}

#[cfg(feature = "dpdk")]
#[test]
fn rate_on_net_null_is_within_five_percent() {
    let _turn = take_turn();
    let summary = run_json(pktgen().args(ONE_FLOW).args([
        "--eal",
        &eal("--vdev=net_null0", "0"),
        "--tx-only",
        "--rate",
        "100000pps",
        "--duration",
        "2",
    ]));
    let pps = summary["tx_pps"].as_f64().unwrap();
    assert!(
        (95_000.0..=105_000.0).contains(&pps),
        "achieved {pps} pps: {summary}"
    );
    let sent = summary["tx_packets"].as_u64().unwrap();
    assert!((190_000..=210_000).contains(&sent), "{summary}");
    assert!(summary["lost"].is_null(), "not measured with --tx-only");
}

#[cfg(feature = "dpdk")]
#[test]
fn loopback_with_one_percent_loss_reports_loss_and_latency() {
    let _turn = take_turn();
    let summary = run_json(pktgen().args(ONE_FLOW).args([
        "--eal",
        &eal("--vdev=net_ring0", "0"),
        "--inject-rx-loss",
        "0.01",
        "--latency",
        "--rate",
        "200000pps",
        "--count",
        "100000",
    ]));
    assert_eq!(summary["tx_packets"], 100_000);
    let lost = summary["lost"].as_u64().unwrap();
    assert!((700..=1_300).contains(&lost), "about 1% lost: {summary}");
    assert_eq!(summary["reordered"], 0);
    let latency = &summary["latency_us"];
    assert_eq!(latency["samples"].as_u64().unwrap(), 100_000 - lost);
    let (min, p50, p99, max) = (
        latency["min"].as_f64().unwrap(),
        latency["p50"].as_f64().unwrap(),
        latency["p99"].as_f64().unwrap(),
        latency["max"].as_f64().unwrap(),
    );
    assert!(
        min > 0.0 && min <= p50 && p50 <= p99 && p99 <= max,
        "{latency}"
    );
}

#[cfg(feature = "dpdk")]
#[test]
fn frames_into_the_kernel_through_net_tap_are_counted_there() {
    let _turn = take_turn();
    let ns = common::Netns::create("pktgen");
    let mut command = ns.command(env!("CARGO_BIN_EXE_dpstack-pktgen"));
    command.args([
        "--eal",
        &eal("--vdev=net_tap0,iface=dpspg0", "0"),
        "--ip",
        "10.79.0.2/24",
        "--dst-ip",
        "10.79.0.1",
        "--dst-port",
        "9",
        "--rate",
        "20000pps",
        "--count",
        "5000",
        "--rx-wait-ms",
        "4000",
        "--json",
    ]);
    let mut app = common::App::spawn(command);
    app.wait_ready(Duration::from_secs(20));
    // pktgen resolves the kernel's MAC with ARP once the kernel side is up.
    ns.run(&["ip", "addr", "add", "10.79.0.1/24", "dev", "dpspg0"]);
    ns.run(&["ip", "link", "set", "dpspg0", "up"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let kernel_rx = loop {
        let (rx, _) = ns.link_packets("dpspg0");
        if rx >= 5_000 || std::time::Instant::now() > deadline {
            break rx;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let summary: serde_json::Value = serde_json::from_str(&app.terminate()).unwrap();
    assert_eq!(summary["tx_packets"], 5_000, "{summary}");
    // The kernel also counts pktgen's ARP request(s): at most three.
    assert!(
        (5_000..=5_003).contains(&kernel_rx),
        "kernel counted {kernel_rx}: {summary}"
    );
}

/// IPv6 UDP frames into the kernel through net_tap: its UDP layer finds
/// them for a closed port (`Udp6NoPorts`) with no header or checksum
/// error, so each frame was right.
#[cfg(feature = "dpdk")]
#[test]
fn ipv6_frames_into_the_kernel_through_net_tap_are_counted_there() {
    let _turn = take_turn();
    let ns = common::Netns::create("pktgen6");
    const KERNEL_MAC: &str = "02:dd:00:00:00:61";
    let mut command = ns.command(env!("CARGO_BIN_EXE_dpstack-pktgen"));
    command.args([
        "--eal",
        &eal("--vdev=net_tap0,iface=dpspg6", "0"),
        "--ip",
        "10.79.0.2/24",
        "--ip6",
        "fd00:79::2/64",
        "--dst-ip",
        "fd00:79::1",
        "--dst-mac",
        KERNEL_MAC,
        "--dst-port",
        "9",
        "--size",
        "80,1514",
        "--rate",
        "2000pps",
        "--count",
        "6000",
        "--rx-wait-ms",
        "1000",
        "--json",
    ]);
    let mut app = common::App::spawn(command);
    app.wait_ready(Duration::from_secs(20));
    ns.run(&["ip", "link", "set", "dpspg6", "address", KERNEL_MAC]);
    ns.add_ipv6("dpspg6", "fd00:79::1/64");
    ns.run(&["ip", "link", "set", "dpspg6", "up"]);
    let counter = |name: &str| -> u64 {
        let out = ns.run(&["nstat", "-az", name]);
        out.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let lines = app.wait_exit(Duration::from_secs(30));
    let summary: serde_json::Value =
        serde_json::from_str(lines.last().expect("a summary")).unwrap();
    assert_eq!(summary["tx_packets"], 6_000, "{summary}");
    // No neighbour resolution holds the frames back (IPv6 takes
    // --dst-mac), so those sent before the kernel's link came up (the
    // first few hundred at 2,000 a second) are lost; none may be refused
    // as malformed.
    let no_ports = counter("Udp6NoPorts");
    assert!(
        no_ports >= 5_000,
        "kernel Udp6NoPorts {no_ports}: {summary}"
    );
    assert_eq!(counter("Udp6InCsumErrors"), 0);
    assert_eq!(counter("Ip6InHdrErrors"), 0);
}

#[test]
fn bad_flags_fail_before_anything_is_sent() {
    let path = temp_pcap("bad");
    let refused = |args: &[&str], extra: &[&str], expect: &str| {
        let out = pktgen()
            .args(["--backend", "pcap", "--pcap-out", path.to_str().unwrap()])
            .args(args)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} was accepted");
        assert!(stderr.contains(expect), "{extra:?}: {stderr}");
        assert!(!path.exists(), "{extra:?}: nothing may be written");
    };
    for (extra, expect) in [
        (&["--size", "59"][..], "outside 60..=9018"),
        (&["--size", "100-60"], "empty"),
        (&["--src-port", "9-1"], "empty"),
        (&["--dst-port", "9-1"], "empty"),
        (&["--rate", "1bps"], "below one frame per second"),
        (&["--rate", "5Gpps"], "bad rate"),
        (&["--rate", "2000Mpps"], "above what can be generated"),
        (&["--mode", "tcp-syn", "--latency"], "--latency needs"),
        (&["--mode", "replay"], "--replay FILE"),
        (&["--burst", "0"], "--burst"),
        (&["--kernel-tap", "dpsk0"], "needs a stack app"),
    ] {
        refused(&ONE_FLOW, extra, expect);
    }
    // Stateful and receive-only modes, which take no flow ranges.
    let stateful = ["--ip", "10.0.0.1/24", "--duration", "1"];
    for (extra, expect) in [
        (&["--mode", "http"][..], "needs --url"),
        (
            &["--mode", "http", "--url", "ftp://10.0.0.2/"],
            "only http://",
        ),
        (
            &["--mode", "http", "--url", "http://example.com/"],
            "IPv4 or [IPv6] address",
        ),
        (
            &["--mode", "http", "--url", "http://[fd00::2/"],
            "'[' without ']'",
        ),
        (
            &["--dst-ip", "fd00::1", "--src-ip", "fd00::2", "--size", "80"],
            "need --dst-mac",
        ),
        (
            &[
                "--dst-ip",
                "fd00::1",
                "--dst-mac",
                "02:00:00:00:00:02",
                "--size",
                "80",
            ],
            "need --src-ip or --ip6",
        ),
        (
            &[
                "--dst-ip",
                "fd00::1-fd01::1",
                "--src-ip",
                "fd00::2",
                "--dst-mac",
                "02:00:00:00:00:02",
            ],
            "only in its last 32 bits",
        ),
        (
            &[
                "--dst-ip",
                "fd00::1",
                "--src-ip",
                "fd00::2",
                "--dst-mac",
                "02:00:00:00:00:02",
                "--size",
                "60",
            ],
            "at least 80 bytes",
        ),
        (
            &["--mode", "http", "--url", "http://10.0.0.2:99999/"],
            "bad port",
        ),
        (
            &["--mode", "http", "--url", "http://10.0.0.2/a b"],
            "spaces",
        ),
        (
            &[
                "--mode",
                "http",
                "--url",
                "http://10.0.0.2/",
                "--rate",
                "1Mpps",
            ],
            "--rate does not apply",
        ),
        (
            &[
                "--mode",
                "http",
                "--url",
                "http://10.0.0.2/",
                "--clients",
                "0",
            ],
            "--clients 0",
        ),
        (
            &[
                "--mode",
                "tcp-rr",
                "--dst-ip",
                "10.0.0.2",
                "--dst-port",
                "1-5",
            ],
            "one port",
        ),
        (&["--mode", "tcp-rr", "--dst-port", "7"], "needs --dst-ip"),
    ] {
        refused(&stateful, extra, expect);
    }
    for (extra, expect) in [
        (
            &[
                "--mode",
                "http",
                "--url",
                "http://10.0.0.2/",
                "--duration",
                "1",
            ][..],
            "need --ip",
        ),
        (
            &[
                "--mode",
                "http",
                "--url",
                "http://10.0.0.2/",
                "--ip",
                "10.0.0.1/24",
            ],
            "need --duration",
        ),
        (&["--rx-only", "--dst-ip", "10.0.0.2"], "sends nothing"),
        (&["--rx-only", "--latency"], "needs the dpdk backend"),
    ] {
        refused(&[], extra, expect);
    }
}

/// A device that stops taking frames (here a `net_ring` loopback nobody
/// drains: its ring fills) does not keep the generator waiting: a second
/// after sending ends it gives up on the frames it holds and counts them.
/// (A memif peer leaving mid-run is the case met in practice, but DPDK
/// 22.11's memif PMD can crash on a disconnect under traffic.)
#[cfg(feature = "dpdk")]
#[test]
fn frames_the_device_never_takes_are_given_up() {
    let _turn = take_turn();
    let mut sender = pktgen();
    sender.args(ONE_FLOW).args([
        "--eal",
        &eal("--vdev=net_ring0", "0"),
        "--tx-only",
        "--duration",
        "1",
        "--json",
    ]);
    // Bounded: before the fix this run never ended.
    let lines = common::App::spawn(sender).wait_exit(Duration::from_secs(30));
    let summary: serde_json::Value =
        serde_json::from_str(lines.last().expect("a summary")).unwrap();
    println!("sender on a full ring: {summary}");
    let sent = summary["tx_packets"].as_u64().unwrap();
    let unsent = summary["tx_unsent"].as_u64().unwrap();
    assert!(
        sent > 0,
        "the ring took frames until it was full: {summary}"
    );
    assert!(unsent > 0, "the last burst was given up: {summary}");
}

#[cfg(feature = "dpdk")]
#[test]
fn two_lcores_each_drive_a_queue_and_totals_add_up() {
    let _turn = take_turn();
    let summary = run_json(pktgen().args(ONE_FLOW).args([
        "--eal",
        &eal("--vdev=net_null0", "0-1"),
        "--tx-only",
        "--rate",
        "100000pps",
        "--count",
        "100001",
    ]));
    assert_eq!(summary["lcores"], 2, "{summary}");
    assert_eq!(
        summary["tx_packets"], 100_001,
        "shares of the count add up: {summary}"
    );
    let shares: Vec<u64> = summary["cores"]
        .as_array()
        .expect("per-lcore figures")
        .iter()
        .map(|core| core["tx_packets"].as_u64().unwrap())
        .collect();
    assert_eq!(shares.len(), 2, "{summary}");
    assert_eq!(shares.iter().sum::<u64>(), 100_001, "{summary}");
    assert!(
        shares.iter().all(|&n| n >= 50_000),
        "each lcore sent its half: {summary}"
    );
    let pps = summary["tx_pps"].as_f64().unwrap();
    assert!(
        (95_000.0..=105_000.0).contains(&pps),
        "the rate is for both lcores together: {summary}"
    );
}

/// One generator sends over memif, another only receives: the receiver
/// counts every probe, finds no gap, no reordering, and measures latency
/// on the TSC both read; with 1% dropped on its receive side it reports
/// the gaps as loss.
#[cfg(feature = "dpdk")]
#[test]
fn a_receive_only_generator_counts_another_ones_probes() {
    let _turn = take_turn();
    let socket = format!("/tmp/dps-test-memif-rx-{}.sock", std::process::id());
    let receive = |extra: &[&str]| {
        let _ = std::fs::remove_file(&socket);
        let mut receiver = pktgen();
        receiver
            .args(["--eal", &common::memif_eal("server", "1", &socket)])
            // Long enough that a sender slow to start (its EAL, the memif
            // connection) still ends well inside the receive period: a
            // stream cut at its end loses the last frames uncounted.
            .args(["--rx-only", "--latency", "--duration", "6", "--json"])
            .args(extra);
        let mut receiver = common::App::spawn(receiver);
        receiver.wait_ready(Duration::from_secs(30));
        let sent = run_json(pktgen().args(ONE_FLOW).args([
            "--eal",
            &common::memif_eal("client", "0", &socket),
            "--tx-only",
            "--rate",
            "1Mpps",
            "--count",
            "200000",
        ]));
        assert_eq!(sent["tx_packets"], 200_000, "{sent}");
        let lines = receiver.wait_exit(Duration::from_secs(30));
        let summary: serde_json::Value =
            serde_json::from_str(lines.last().expect("a summary")).unwrap();
        summary
    };
    let clean = receive(&[]);
    println!("receive only: {clean}");
    assert_eq!(clean["rx_probes"], 200_000, "{clean}");
    assert_eq!(clean["lost"], 0, "{clean}");
    assert_eq!(clean["reordered"], 0, "{clean}");
    assert_eq!(clean["tx_packets"], 0);
    assert_eq!(clean["latency_us"]["samples"], 200_000, "{clean}");

    let lossy = receive(&["--inject-rx-loss", "0.01"]);
    println!("receive only, 1% dropped: {lossy}");
    let lost = lossy["lost"].as_u64().unwrap();
    let seen = lossy["rx_probes"].as_u64().unwrap();
    assert!((1_400..=2_600).contains(&lost), "about 1% lost: {lossy}");
    // Gaps inside the received range only: probes dropped before the
    // first or after the last one seen are beyond what a receiver can see.
    assert!((199_000..=200_000).contains(&(seen + lost)), "{lossy}");

    let _ = std::fs::remove_file(&socket);
}
