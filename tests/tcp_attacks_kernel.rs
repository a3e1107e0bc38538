//! dpstack's TCP under attack and with a vanished peer, against the Linux
//! kernel over TAP in namespaces the tests create. Frames are crafted
//! from the kernel's side with a packet socket (spoofed addresses, chosen
//! sequence numbers):
//! - a blind in-window RST and an in-window SYN get challenge ACKs and
//!   leave the connection up; a RST at the exact sequence ends it (RFC 5961);
//! - 200,000 SYNs from spoofed sources while a real client connects and
//!   transfers, with dpstack's memory growth bounded (RFC 4987 SYN cookies);
//! - keepalive fails a connection whose peer's link went down with
//!   ETIMEDOUT within idle + interval × count.

mod common;

use common::raw::{flags, parse_mac, Craft, PacketSocket, Seen};
use common::tcp_kernel::{field, start, KERNEL_IP, STACK_IP};
use common::{in_netns, Netns, STACK_MAC};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ECHO: &str = env!("CARGO_BIN_EXE_dpstack-echo");
const PORT: u16 = 7;

fn tap_backend(ifname: &str) -> Vec<String> {
    ["--backend", "tap", "--tap", ifname]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn stack_ip() -> Ipv4Addr {
    STACK_IP.parse().unwrap()
}

fn kernel_ip() -> Ipv4Addr {
    KERNEL_IP.parse().unwrap()
}

/// Writes `message` and reads it back; the I/O error if one comes.
fn try_echo_round(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    stream.write_all(message)?;
    let mut back = vec![0u8; message.len()];
    stream.read_exact(&mut back)?;
    assert_eq!(back, message);
    Ok(())
}

/// Writes `message` and reads it back.
fn echo_round(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).expect("write to dpstack-echo");
    let mut back = vec![0u8; message.len()];
    stream.read_exact(&mut back).expect("echo comes back");
    assert_eq!(back, message);
}

/// A segment as the kernel's side of connection `port` would send it.
fn from_kernel(ns: &Netns, ifname: &str, port: u16) -> Craft {
    let kernel_mac = ns.run(&["cat", &format!("/sys/class/net/{ifname}/address")]);
    Craft {
        src_mac: parse_mac(&kernel_mac),
        dst_mac: parse_mac(STACK_MAC),
        src: kernel_ip(),
        dst: stack_ip(),
        src_port: port,
        dst_port: PORT,
        seq: 0,
        ack: 0,
        flags: 0,
        window: 1024,
    }
}

/// The sequence number dpstack expects next on connection `port`: the
/// acknowledgment number of its latest segment seen on the link.
fn expected_seq(raw: &PacketSocket, port: u16) -> u32 {
    let seen = raw.watch(Duration::from_millis(200), |s| {
        s.src == stack_ip() && s.src_port == PORT && s.dst_port == port
    });
    seen.last().expect("dpstack's segments were seen").ack
}

/// Bare ACKs from dpstack on connection `port` acknowledging `ack`,
/// within 300 ms: challenge ACKs.
fn challenge_acks(raw: &PacketSocket, port: u16, ack: u32) -> Vec<Seen> {
    raw.watch(Duration::from_millis(300), |s| {
        s.src == stack_ip()
            && s.src_port == PORT
            && s.dst_port == port
            && s.flags & (flags::ACK | flags::RST | flags::SYN) == flags::ACK
            && s.payload_len == 0
            && s.ack == ack
    })
}

#[test]
fn blind_rst_and_syn_are_challenged_and_exact_rst_resets() {
    let ifname = "dpsblind0";
    let ns = Netns::create("blindrst");
    let echo = start(
        &ns,
        ifname,
        &tap_backend(ifname),
        ECHO,
        &["--tcp-port", &PORT.to_string()],
    );
    let base = from_kernel(&ns, ifname, 0);
    in_netns(&ns, || {
        let raw = PacketSocket::open(ifname).expect("packet socket");
        let mut stream = TcpStream::connect((STACK_IP, PORT)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let port = stream.local_addr().unwrap().port();
        echo_round(&mut stream, b"hello");
        let next = expected_seq(&raw, port);
        let craft = Craft {
            src_port: port,
            ..base.clone()
        };

        // A blind RST and a SYN inside the window, past the exact spot.
        for (offset, control, what) in [(10_000, flags::RST, "RST"), (20_000, flags::SYN, "SYN")] {
            raw.send(
                &Craft {
                    seq: next.wrapping_add(offset),
                    flags: control,
                    ..craft.clone()
                }
                .frame(),
            )
            .unwrap();
            let challenged = challenge_acks(&raw, port, next);
            assert!(
                !challenged.is_empty(),
                "an in-window {what} draws a challenge ACK"
            );
        }

        echo_round(&mut stream, b"still connected");

        // A RST at exactly the expected sequence number ends the connection:
        // the kernel's next data finds nothing and is answered by a RST.
        let next = expected_seq(&raw, port);
        raw.send(
            &Craft {
                seq: next,
                flags: flags::RST,
                ..craft
            }
            .frame(),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        stream
            .write_all(b"anyone?")
            .expect("the kernel still sends");
        let mut buf = [0u8; 16];
        let read = stream.read(&mut buf);
        assert!(
            matches!(&read, Err(e) if e.kind() == ErrorKind::ConnectionReset),
            "dpstack reset the connection: {read:?}"
        );
    });
    let summary = echo.terminate();
    let challenges: u64 = field(&summary, "tcp.tx_challenge_acks").parse().unwrap();
    assert!(challenges >= 2, "{summary}");
    assert_eq!(field(&summary, "tcp.resets_received"), "1", "{summary}");
    assert_eq!(field(&summary, "tcp_failed"), "1", "{summary}");
    println!("blind RST/SYN: {challenges} challenge ACKs, one exact RST obeyed: {summary}");
}

/// A process's memory figure from /proc (`VmRSS`, `VmHWM`), in KiB.
fn memory_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

const FLOOD: u32 = 200_000;
/// The flood lasts at least this long whatever the client does, so that
/// it spans the client's SYN and two of its retries (1 s and 3 s later;
/// the flood can crowd a SYN out of the TAP's queue): "connected during
/// the flood" then says something about dpstack, not about when the flood
/// chose to stop.
const FLOOD_DURATION: Duration = Duration::from_secs(5);
/// Frames the flood sends at most, however long it has to last.
const FLOOD_MAX: u32 = 5_000_000;
/// What dpstack may grow by during the flood, in KiB.
const FLOOD_GROWTH_BOUND_KIB: u64 = 16 * 1024;

#[test]
fn syn_flood_of_200000_spoofed_sources_while_a_client_connects() {
    let ifname = "dpsflood0";
    let ns = Netns::create("synflood");
    let echo = start(
        &ns,
        ifname,
        &tap_backend(ifname),
        ECHO,
        &["--tcp-port", &PORT.to_string(), "--backlog", "64"],
    );
    let pid = echo.pid();
    let rss_before = memory_kib(pid, "VmRSS");
    let base = from_kernel(&ns, ifname, 0);
    let flooding = AtomicBool::new(true);
    let (sent, flood_secs, connect_secs, connected_during) = in_netns(&ns, || {
        let raw = PacketSocket::open(ifname).expect("packet socket");
        std::thread::scope(|scope| {
            let flood = scope.spawn(|| {
                // Sources spread over the namespace's /24 (never the two real
                // hosts), random ports and sequence numbers; a cheap LCG.
                let mut state = 0x2545_f491_4f6c_dd1du64;
                let mut next = || {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (state >> 32) as u32
                };
                let started = Instant::now();
                let mut sent = 0u32;
                let mut tried = 0u32;
                while tried < FLOOD_MAX && (tried < FLOOD || started.elapsed() < FLOOD_DURATION) {
                    tried += 1;
                    let host = 3 + (next() % 252) as u8;
                    let syn = Craft {
                        src: Ipv4Addr::new(10, 79, 0, host),
                        src_port: 1024 + (next() % 60_000) as u16,
                        seq: next(),
                        flags: flags::SYN,
                        window: 65_535,
                        ..base.clone()
                    };
                    // A full transmit queue refuses the frame: offer it again
                    // a few times, then move on.
                    let frame = syn.frame();
                    for _ in 0..100 {
                        if raw.send(&frame).is_ok() {
                            sent += 1;
                            break;
                        }
                        std::thread::yield_now();
                    }
                }
                flooding.store(false, Ordering::SeqCst);
                (sent, started.elapsed().as_secs_f64())
            });
            std::thread::sleep(Duration::from_millis(100));
            let started = Instant::now();
            let address: SocketAddr = format!("{STACK_IP}:{PORT}").parse().unwrap();
            let connect = || {
                let stream = TcpStream::connect_timeout(&address, Duration::from_secs(30))
                    .expect("the real client connects during the flood");
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                stream
            };
            let mut stream = connect();
            let connect_secs = started.elapsed().as_secs_f64();
            let connected_during = flooding.load(Ordering::SeqCst);
            let block: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
            // The flood fills the TAP's queue and the kernel drops frames of
            // the real client too. Should its handshake ACK and first data
            // both be lost, its connection (answered with a cookie) cannot
            // be rebuilt from a later segment and is reset, as on Linux; the
            // client then connects again, once at most.
            let mut reconnects = 0;
            let mut round = 0;
            while round < 16 {
                match try_echo_round(&mut stream, &block) {
                    Ok(()) => round += 1,
                    Err(e)
                        if e.kind() == std::io::ErrorKind::ConnectionReset && reconnects == 0 =>
                    {
                        println!("SYN flood: the real client was reset ({e}); connecting again");
                        reconnects += 1;
                        stream = connect();
                    }
                    Err(e) => panic!("echo round {round}: {e}"),
                }
            }
            let (sent, flood_secs) = flood.join().expect("flood thread");
            echo_round(&mut stream, b"after the flood");
            (sent, flood_secs, connect_secs, connected_during)
        })
    });
    let peak = memory_kib(pid, "VmHWM");
    let growth = peak.saturating_sub(rss_before);
    let summary = echo.terminate();
    let received: u64 = field(&summary, "tcp.rx_segments").parse().unwrap();
    let cookies: u64 = field(&summary, "tcp.syn_cookies_sent").parse().unwrap();
    println!(
        "SYN flood: {sent} SYNs sent in {flood_secs:.2} s, {received} TCP segments reached dpstack, \
         {cookies} SYN cookies; the real client connected in {connect_secs:.3} s and echoed 1 MiB; \
         peak RSS {peak} KiB, {growth} KiB above the {rss_before} KiB before"
    );
    assert!(sent >= FLOOD / 2, "the flood went out: {sent}");
    assert!(connected_during, "the client connected while the flood ran");
    assert!(
        cookies > 1000,
        "the SYN queue overflowed into cookies: {summary}"
    );
    assert!(
        growth <= FLOOD_GROWTH_BOUND_KIB,
        "dpstack grew {growth} KiB during the flood (bound {FLOOD_GROWTH_BOUND_KIB} KiB)"
    );
}

#[test]
fn keepalive_fails_a_peer_whose_link_went_down() {
    let ifname = "dpskeep0";
    let ns = Netns::create("keepalive");
    let mut echo = start(
        &ns,
        ifname,
        &tap_backend(ifname),
        ECHO,
        &["--tcp-port", &PORT.to_string(), "--keepalive", "2:1:3"],
    );
    let stream = in_netns(&ns, || {
        let mut stream = TcpStream::connect((STACK_IP, PORT)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        echo_round(&mut stream, b"last words");
        stream
    });
    // The peer vanishes: its link goes down, so dpstack's probes go nowhere.
    ns.run(&["ip", "link", "set", ifname, "down"]);
    let down_at = Instant::now();
    let Some(line) = echo.wait_line(Duration::from_secs(15), |l| l.contains("failed: ETIMEDOUT"))
    else {
        let output = echo.output.clone();
        panic!("no ETIMEDOUT within 15 s: {output:?}; {}", echo.terminate());
    };
    let after = down_at.elapsed().as_secs_f64();
    drop(stream);
    let summary = echo.terminate();
    println!("keepalive 2:1:3: {line} {after:.2} s after the link went down; {summary}");
    let budget = 2.0 + 1.0 * 3.0;
    assert!(
        after <= budget + 0.5,
        "ETIMEDOUT after {after:.2} s, budget idle + interval x count = {budget} s"
    );
    assert!(
        after >= budget - 1.0,
        "not before the probes ran out: {after:.2} s"
    );
    assert_eq!(field(&summary, "tcp.keepalive_timeouts"), "1", "{summary}");
}
