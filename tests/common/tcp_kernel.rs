//! The TCP acceptance against the Linux kernel on one backend, in a fresh
//! namespace: curl downloads from dpstack-httpd (a page, and 200 MB of the
//! pattern checked byte by byte), 100 sequential and 100 concurrent short
//! connections, dpstack-perf sending 200 MB to a kernel listener and
//! receiving 200 MB from a kernel client (SHA-256 compared), window
//! scaling and timestamps negotiated in the captured handshakes, and no
//! checksum errors counted by the kernel.

use super::{in_netns, App, Netns, STACK_MAC};
use dpstack::runtime::fill_pattern;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// dpstack's address in the kernel-interop namespaces.
pub const STACK_IP: &str = "10.79.0.2";
/// The kernel's address there.
pub const KERNEL_IP: &str = "10.79.0.1";
/// Bytes of each bulk transfer.
pub const BULK: u64 = 200_000_000;

/// Reads `reader` to its end, checking the pattern; returns (bytes, SHA-256 hex).
pub fn drain_checked(reader: &mut impl Read, what: &str) -> (u64, String) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut expected = vec![0u8; 256 * 1024];
    let mut offset = 0u64;
    let mut hash = Sha256::new();
    loop {
        let n = reader
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{what}: read: {e}"));
        if n == 0 {
            break;
        }
        fill_pattern(offset, &mut expected[..n]);
        assert!(
            buf[..n] == expected[..n],
            "{what}: pattern differs near offset {offset}"
        );
        hash.update(&buf[..n]);
        offset += n as u64;
    }
    (offset, hex(&hash.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of `key=value` in a summary line.
pub fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

/// Starts `app` (a dpstack binary) with `args` on the backend, addresses
/// the kernel side once it is ready.
pub fn start(
    ns: &Netns,
    ifname: &str,
    backend_args: &[String],
    binary: &str,
    args: &[&str],
) -> App {
    start_on(ns, ifname, backend_args, binary, args, false)
}

/// [`start`] with IPv6 on both sides too: dpstack `fd00:79::2/64` (usable
/// once it says ready, duplicate address detection done), the kernel
/// `fd00:79::1/64`.
pub fn start_dual(
    ns: &Netns,
    ifname: &str,
    backend_args: &[String],
    binary: &str,
    args: &[&str],
) -> App {
    start_on(ns, ifname, backend_args, binary, args, true)
}

fn start_on(
    ns: &Netns,
    ifname: &str,
    backend_args: &[String],
    binary: &str,
    args: &[&str],
    ipv6: bool,
) -> App {
    let mut command = ns.command(binary);
    command.args(args).args(backend_args).args([
        "--ip",
        &format!("{STACK_IP}/24"),
        "--mac",
        STACK_MAC,
    ]);
    if ipv6 {
        command.args(["--ip6", "fd00:79::2/64"]);
    }
    let mut app = App::spawn(command);
    app.wait_ready(Duration::from_secs(20));
    if ipv6 {
        ns.add_ipv6(ifname, "fd00:79::1/64");
    }
    ns.run(&[
        "ip",
        "addr",
        "add",
        &format!("{KERNEL_IP}/24"),
        "dev",
        ifname,
    ]);
    ns.run(&["ip", "link", "set", ifname, "up"]);
    app
}

/// `curl` (with `flags`) downloading `BULK` bytes of the pattern from
/// `url` inside `ns`, checked byte by byte; prints the rate.
pub fn curl_bulk(ns: &Netns, flags: &[&str], url: &str, purpose: &str) {
    let started = Instant::now();
    let mut curl = ns
        .command("curl")
        .args(flags)
        .args(["-sS", "--max-time", "120", url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl starts");
    let (got, _) = drain_checked(curl.stdout.as_mut().expect("piped"), url);
    let secs = started.elapsed().as_secs_f64();
    assert!(curl.wait().expect("curl exits").success());
    assert_eq!(got, BULK, "curl {flags:?} got every byte of {url}");
    println!(
        "{purpose}: curl {} downloaded {} MB from dpstack-httpd in {secs:.2} s: {:.0} Mbit/s",
        flags.join(" "),
        BULK / 1_000_000,
        BULK as f64 * 8.0 / secs / 1e6
    );
}

/// A request for `/` on a new connection; true when it got a 200 and the page.
fn fetch_index(stream: &mut TcpStream) -> bool {
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).is_ok()
        && reply.starts_with(b"HTTP/1.1 200 OK\r\n")
        && reply.ends_with(b"</p>\n")
}

pub fn tcp_against_kernel(purpose: &str, ifname: &str, backend_args: &[String]) {
    let ns = Netns::create(purpose);

    // --- dpstack-httpd: curl, short connections, handshake capture --------
    let httpd = start(
        &ns,
        ifname,
        backend_args,
        env!("CARGO_BIN_EXE_dpstack-httpd"),
        &["--listen-port", "80", "--json"],
    );
    let tcpdump = Capture::start(&ns, ifname, "syn", 128, "tcp[tcpflags] & tcp-syn != 0");

    let page = ns.run(&[
        "curl",
        "-sS",
        "--max-time",
        "10",
        &format!("http://{STACK_IP}/"),
    ]);
    assert!(page.contains("<h1>dpstack-httpd</h1>"), "{page}");

    curl_bulk(
        &ns,
        &[],
        &format!("http://{STACK_IP}/bytes/{BULK}"),
        purpose,
    );

    let (sequential_ok, concurrent_ok) = in_netns(&ns, || {
        let address = format!("{STACK_IP}:80");
        let request = b"GET / HTTP/1.1\r\nHost: dpstack\r\nConnection: close\r\n\r\n";
        let mut sequential_ok = 0;
        for _ in 0..100 {
            let mut stream = TcpStream::connect(&address).expect("sequential connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(request).unwrap();
            sequential_ok += usize::from(fetch_index(&mut stream));
        }
        // 100 connections open at once, then every request, then every reply.
        let mut streams: Vec<TcpStream> = (0..100)
            .map(|_| TcpStream::connect(&address).expect("concurrent connect"))
            .collect();
        for stream in &mut streams {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(request).unwrap();
        }
        let concurrent_ok = streams.iter_mut().map(fetch_index).filter(|ok| *ok).count();
        (sequential_ok, concurrent_ok)
    });
    assert_eq!(sequential_ok, 100, "sequential short connections");
    assert_eq!(concurrent_ok, 100, "concurrent short connections");

    let capture = tcpdump.finish(Duration::from_secs(1));
    check_handshakes(&capture, purpose);
    let _ = std::fs::remove_file(&capture);
    let summary = httpd.terminate();
    let json: serde_json::Value = serde_json::from_str(&summary).expect("--json summary");
    assert_eq!(json["accepted"], 202, "{summary}");
    assert_eq!(json["tcp"]["rx_bad_checksum"], 0, "{summary}");

    upload_from_dpstack(&ns, ifname, backend_args, purpose);
    download_to_dpstack(&ns, ifname, backend_args, purpose);

    let csum_errors = ns.run(&["nstat", "-az", "TcpInCsumErrors"]);
    let errors: u64 = csum_errors
        .lines()
        .find(|l| l.starts_with("TcpInCsumErrors"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        errors, 0,
        "the kernel counted bad TCP checksums: {csum_errors}"
    );
}

/// dpstack-perf client sends 200 MB to a kernel listener; the hashes match.
fn upload_from_dpstack(ns: &Netns, ifname: &str, backend_args: &[String], purpose: &str) {
    // Bound to the wildcard address, it exists before the TAP interface does.
    let listener = in_netns(ns, || {
        TcpListener::bind("0.0.0.0:5001").expect("kernel listener")
    });
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("dpstack connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let started = Instant::now();
        let result = drain_checked(&mut stream, "kernel listener");
        (result, started.elapsed().as_secs_f64())
    });
    let client = start(
        ns,
        ifname,
        backend_args,
        env!("CARGO_BIN_EXE_dpstack-perf"),
        &[
            "client",
            "--connect",
            "10.79.0.1:5001",
            "--bytes",
            &BULK.to_string(),
        ],
    );
    let lines = client.wait_exit(Duration::from_secs(180));
    let summary = lines.last().expect("a summary line");
    let ((bytes, kernel_sha), secs) = receiver.join().expect("receiver thread");
    assert_eq!(bytes, BULK, "the kernel received every byte: {summary}");
    assert_eq!(field(summary, "sha256"), kernel_sha, "{summary}");
    println!(
        "{purpose}: dpstack-perf client sent {} MB to a kernel listener in {secs:.2} s: {:.0} Mbit/s (dpstack says {} Gbit/s)",
        BULK / 1_000_000,
        BULK as f64 * 8.0 / secs / 1e6,
        field(summary, "gbps"),
    );
}

/// A kernel client sends 200 MB to dpstack-perf server; the hashes match.
fn download_to_dpstack(ns: &Netns, ifname: &str, backend_args: &[String], purpose: &str) {
    let server = start(
        ns,
        ifname,
        backend_args,
        env!("CARGO_BIN_EXE_dpstack-perf"),
        &["server", "--listen-port", "5001", "--connections", "1"],
    );
    let (sha, secs) = kernel_upload(ns, &format!("{STACK_IP}:5001"));
    let summary = checked_report(&server.wait_exit(Duration::from_secs(60)), &sha);
    let summary = summary.as_str();
    println!(
        "{purpose}: a kernel client sent {} MB to dpstack-perf server in {secs:.2} s: {:.0} Mbit/s (dpstack says {} Gbit/s)",
        BULK / 1_000_000,
        BULK as f64 * 8.0 / secs / 1e6,
        field(summary, "gbps"),
    );
}

/// In the captured handshakes: the kernel offered window scaling and
/// timestamps, and dpstack's SYN-ACKs carry both, with valid checksums.
fn check_handshakes(capture: &std::path::Path, purpose: &str) {
    use dpstack::device::pcap::PcapReader;
    use dpstack::tcp::segment::{self, flags};
    let mut reader = PcapReader::open(capture).expect("tcpdump wrote a capture");
    let mut frame = Vec::new();
    let stack_ip: std::net::Ipv4Addr = STACK_IP.parse().unwrap();
    let kernel_ip: std::net::Ipv4Addr = KERNEL_IP.parse().unwrap();
    let (mut syns, mut syn_acks, mut records) = (0, 0, 0);
    while reader
        .next_into(&mut frame)
        .expect("readable capture")
        .is_some()
    {
        records += 1;
        if frame.len() < 34 || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        let src = std::net::Ipv4Addr::new(frame[26], frame[27], frame[28], frame[29]);
        let tcp = &frame[14 + ihl..14 + total];
        if src == stack_ip {
            let seg = segment::parse(stack_ip, kernel_ip, tcp)
                .unwrap_or_else(|e| panic!("{purpose}: dpstack sent a bad segment: {e:?}"));
            assert_eq!(
                seg.flags & (flags::SYN | flags::ACK),
                flags::SYN | flags::ACK
            );
            assert!(
                seg.options.window_scale.is_some(),
                "SYN-ACK without window scale"
            );
            assert!(
                seg.options.timestamps.is_some(),
                "SYN-ACK without timestamps"
            );
            assert!(seg.options.mss.is_some(), "SYN-ACK without MSS");
            syn_acks += 1;
        } else if tcp.len() >= 20 && tcp[13] & flags::ACK == 0 {
            // The kernel's SYN: parse without the checksum (offloads may leave it partial).
            syns += 1;
        }
    }
    assert!(
        syns >= 200,
        "{purpose}: captured {syns} kernel SYNs in {records} records"
    );
    assert!(
        syn_acks >= 200,
        "{purpose}: captured {syn_acks} SYN-ACKs from dpstack"
    );
}

/// With 2% of frames dropped by dpstack's fault layer: a kernel client
/// uploads 200 MB to `dpstack-perf server` (losses on dpstack's receive
/// side: the capture must show dpstack's SACK blocks), then downloads
/// 200 MB from it (losses on dpstack's send side: its SACK recovery);
/// both byte-identical.
pub fn tcp_with_loss_against_kernel(purpose: &str, ifname: &str, backend_args: &[String]) {
    let ns = Netns::create(purpose);
    // Upload, 2% loss on what dpstack receives.
    let server = start(
        &ns,
        ifname,
        backend_args,
        env!("CARGO_BIN_EXE_dpstack-perf"),
        &[
            "server",
            "--listen-port",
            "5001",
            "--connections",
            "1",
            "--fault-rx-loss",
            "0.02",
        ],
    );
    let filter = format!("tcp and src host {STACK_IP}");
    let tcpdump = Capture::start(&ns, ifname, "acks", 96, &filter);
    let (sha, secs) = kernel_upload(&ns, &format!("{STACK_IP}:5001"));
    let lines = server.wait_exit(Duration::from_secs(120));
    let capture = tcpdump.finish(Duration::from_millis(500));
    checked_report(&lines, &sha);
    let (acks, with_sack, syn_ack_sack) = count_sack(&capture);
    let _ = std::fs::remove_file(&capture);
    assert!(syn_ack_sack, "{purpose}: dpstack's SYN-ACK offers SACK");
    assert!(
        with_sack > 100,
        "{purpose}: {with_sack} of {acks} dpstack segments carry SACK blocks"
    );
    println!(
        "{purpose}: kernel upload of {} MB with 2% loss at dpstack's receive side in {secs:.2} s ({:.0} Mbit/s); {with_sack} of {acks} dpstack segments carried SACK blocks",
        BULK / 1_000_000,
        BULK as f64 * 8.0 / secs / 1e6
    );

    // Download, 2% loss on what dpstack sends.
    let server = start(
        &ns,
        ifname,
        backend_args,
        env!("CARGO_BIN_EXE_dpstack-perf"),
        &[
            "server",
            "--listen-port",
            "5002",
            "--connections",
            "1",
            "--direction",
            "send",
            "--bytes",
            &BULK.to_string(),
            "--fault-tx-loss",
            "0.02",
        ],
    );
    let ((bytes, sha), secs) = in_netns(&ns, || {
        let mut stream =
            TcpStream::connect(format!("{STACK_IP}:5002")).expect("connect to dpstack");
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let started = Instant::now();
        let result = drain_checked(&mut stream, "kernel download");
        drop(stream);
        (result, started.elapsed().as_secs_f64())
    });
    // A few seconds here; generous room for slower machines.
    let lines = server.wait_exit(Duration::from_secs(300));
    let summary = lines
        .iter()
        .find(|l| l.starts_with("dpstack-perf:"))
        .expect("a transfer report");
    assert_eq!(bytes, BULK, "the kernel got every byte: {summary}");
    assert_eq!(field(summary, "sha256"), sha, "{summary}");
    let counter = |name: &str| {
        summary
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap_or("0")
            .to_string()
    };
    println!(
        "{purpose}: kernel download of {} MB with 2% loss at dpstack's send side in {secs:.2} s ({:.0} Mbit/s); dpstack retransmitted {} segments ({} timeouts, {} fast retransmits, {} tail loss probes)",
        BULK / 1_000_000,
        BULK as f64 * 8.0 / secs / 1e6,
        counter("tcp.tx_retransmits"),
        counter("tcp.rto_expirations"),
        counter("tcp.fast_retransmits"),
        counter("tcp.tail_loss_probes"),
    );
}

/// (dpstack segments, those with SACK blocks, whether a SYN-ACK offered SACK).
fn count_sack(capture: &std::path::Path) -> (usize, usize, bool) {
    use dpstack::device::pcap::PcapReader;
    use dpstack::tcp::segment::flags;
    let mut reader = PcapReader::open(capture).expect("tcpdump wrote a capture");
    let mut frame = Vec::new();
    let (mut segments, mut with_sack, mut syn_ack_sack) = (0, 0, false);
    while reader
        .next_into(&mut frame)
        .expect("readable capture")
        .is_some()
    {
        if frame.len() < 54 || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let tcp = &frame[14 + ihl..];
        if tcp.len() < 20 {
            continue;
        }
        let offset = usize::from(tcp[12] >> 4) * 4;
        let options = &tcp[20..offset.min(tcp.len())];
        segments += 1;
        // Walk the options: kind 5 is SACK, kind 4 SACK-permitted.
        let mut at = 0;
        while at < options.len() {
            match options[at] {
                0 => break,
                1 => at += 1,
                kind => {
                    let len = usize::from(*options.get(at + 1).unwrap_or(&0)).max(2);
                    if kind == 5 {
                        with_sack += 1;
                    }
                    if kind == 4 && tcp[13] & (flags::SYN | flags::ACK) == flags::SYN | flags::ACK {
                        syn_ack_sack = true;
                    }
                    at += len;
                }
            }
        }
    }
    (segments, with_sack, syn_ack_sack)
}

/// A kernel client (in `ns`) sends BULK bytes of the pattern to dpstack at
/// `address`, shuts writing, waits for the close: (SHA-256 hex, seconds).
pub fn kernel_upload(ns: &Netns, address: &str) -> (String, f64) {
    in_netns(ns, || {
        let mut stream = TcpStream::connect(address).expect("connect to dpstack");
        let mut chunk = vec![0u8; 256 * 1024];
        let mut hash = Sha256::new();
        let started = Instant::now();
        let mut offset = 0u64;
        while offset < BULK {
            let n = (BULK - offset).min(chunk.len() as u64) as usize;
            fill_pattern(offset, &mut chunk[..n]);
            stream.write_all(&chunk[..n]).expect("upload");
            hash.update(&chunk[..n]);
            offset += n as u64;
        }
        stream.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let _ = stream.read_to_end(&mut rest);
        (hex(&hash.finalize()), started.elapsed().as_secs_f64())
    })
}

/// The report line a `dpstack-perf server` printed for its transfer,
/// checked: every byte, the pattern, and `sha`.
pub fn checked_report(lines: &[String], sha: &str) -> String {
    let summary = lines
        .iter()
        .find(|l| l.starts_with("dpstack-perf:"))
        .expect("a transfer report")
        .clone();
    assert_eq!(field(&summary, "bytes"), BULK.to_string(), "{summary}");
    assert_eq!(field(&summary, "pattern"), "ok", "{summary}");
    assert_eq!(field(&summary, "sha256"), sha, "{summary}");
    summary
}

/// tcpdump writing a capture inside the namespace.
struct Capture {
    child: std::process::Child,
    path: std::path::PathBuf,
}

impl Capture {
    /// Starts capturing `filter` on `ifname` (`snaplen` bytes a frame) and
    /// gives it half a second to be listening.
    fn start(ns: &Netns, ifname: &str, name: &str, snaplen: u32, filter: &str) -> Capture {
        let path = std::env::temp_dir().join(format!("dpstack-{}-{name}.pcap", ns.name));
        let child = ns
            .command("tcpdump")
            .args(["-i", ifname, "--immediate-mode", "-U", "-n", "-s"])
            .arg(snaplen.to_string())
            .arg("-w")
            .arg(&path)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump starts");
        std::thread::sleep(Duration::from_millis(500));
        Capture { child, path }
    }

    /// After `settle` for the last packets, stops tcpdump (SIGINT, by PID)
    /// and returns the capture's path.
    fn finish(mut self, settle: Duration) -> std::path::PathBuf {
        std::thread::sleep(settle);
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        self.path
    }
}
