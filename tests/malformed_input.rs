//! Bad input never crashes the stack and never grows memory without bound:
//! valid frames from a peer (ARP, UDP of many sizes, fragments, a TCP SYN
//! to a listener) are mutated at random (seeded) and fed to an interface,
//! 200,000 times.

use dpstack::iface::reassembly::ReassemblyConfig;
use dpstack::iface::{Interface, InterfaceConfig, Sockets};
use dpstack::rand::Rng;
use dpstack::tcp::{TcpConfig, TcpOptions, TcpSockets};
use dpstack::time::{Duration, Instant};
use dpstack::udp::{UdpBuffers, UdpSockets};
use dpstack::wire::{Ipv4Cidr, MacAddr};
use std::net::{Ipv4Addr, SocketAddrV4};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const A_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);
const B_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 2]);

fn interface(mac: MacAddr, ip: Ipv4Addr, reassembly: ReassemblyConfig) -> Interface {
    let mut config = InterfaceConfig::new(
        mac,
        Ipv4Cidr {
            addr: ip,
            prefix_len: 24,
        },
        None,
        1500,
    );
    config.reassembly = reassembly;
    Interface::new(config, Rng::new(7))
}

fn sockets(seed: u64) -> Sockets {
    Sockets {
        udp: UdpSockets::new(Rng::new(seed), UdpBuffers::default()),
        tcp: TcpSockets::new(Rng::new(seed + 100), TcpConfig::default()),
    }
}

/// Valid frames a peer at A sends to B: a gratuitous ARP, UDP datagrams
/// of assorted sizes (fragmented above 1472 bytes) to open and closed
/// ports, and a TCP SYN with every option to a listening port.
fn seed_frames() -> Vec<Vec<u8>> {
    let mut peer = interface(A_MAC, A_IP, ReassemblyConfig::default());
    let mut sockets = sockets(1);
    peer.arp_cache().insert_static(B_IP, B_MAC);
    let mut frames = Vec::new();
    peer.announce(&mut frames);
    let socket = sockets.udp.open();
    for (len, port) in [(0, 7), (1, 7), (100, 9), (1472, 7), (3000, 7), (9000, 9)] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        sockets
            .udp
            .send_to(
                socket,
                &data,
                Some(SocketAddrV4::new(B_IP, port).into()),
                A_IP,
                1472,
            )
            .unwrap();
        peer.poll(Instant::ZERO, &mut sockets, &mut frames);
    }
    let options = TcpOptions::from_config(&TcpConfig::default());
    sockets
        .tcp
        .connect(Instant::ZERO, SocketAddrV4::new(B_IP, 80), 0, options, A_IP)
        .unwrap();
    peer.poll(Instant::ZERO, &mut sockets, &mut frames);
    frames
}

fn mutate(rng: &mut Rng, frame: &mut Vec<u8>) {
    match rng.below(6) {
        0 => {
            for _ in 0..=rng.below(4) {
                let bit = rng.below(frame.len() as u64 * 8) as usize;
                frame[bit / 8] ^= 1 << (bit % 8);
            }
        }
        1 => {
            let at = rng.below(frame.len() as u64) as usize;
            frame[at] = rng.next_u64() as u8;
        }
        2 => frame.truncate(rng.below(frame.len() as u64 + 1) as usize),
        3 => frame.extend((0..rng.below(64)).map(|_| rng.next_u64() as u8)),
        4 => {
            // A header byte set to an extreme: IHL, lengths, offsets, flags, ports.
            let at =
                [14, 16, 17, 20, 21, 22, 23, 24, 34, 35, 36, 37, 38, 39][rng.below(14) as usize];
            if at < frame.len() {
                frame[at] = [0x00, 0xff, 0x45, 0x4f, 0x20, 0x3f][rng.below(6) as usize];
            }
        }
        _ => {
            for byte in frame.iter_mut().skip(14) {
                if rng.chance(0.05) {
                    *byte = rng.next_u64() as u8;
                }
            }
        }
    }
}

#[test]
fn two_hundred_thousand_mutated_frames_neither_crash_nor_leak() {
    let seeds = seed_frames();
    assert!(seeds.len() > 10);
    let bound = ReassemblyConfig {
        max_bytes: 512 * 1024,
        ..ReassemblyConfig::default()
    };
    let mut target = interface(B_MAC, B_IP, bound.clone());
    let mut sockets = sockets(2);
    let socket = sockets.udp.open();
    sockets
        .udp
        .bind(socket, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7), B_IP)
        .unwrap();
    let options = TcpOptions {
        recv_buffer: 4096,
        send_buffer: 4096,
        nodelay: false,
        keepalive: None,
        congestion: Default::default(),
    };
    sockets
        .tcp
        .listen(SocketAddrV4::new(B_IP, 80), 64, options, B_IP, false)
        .unwrap();
    let mut rng = Rng::new(2026);
    let mut out = Vec::new();
    let mut now = Instant::ZERO;
    let mut drain = vec![0u8; 70_000];
    for i in 0..200_000u32 {
        let mut frame = seeds[rng.below(seeds.len() as u64) as usize].clone();
        if !frame.is_empty() {
            mutate(&mut rng, &mut frame);
        }
        target.receive(now, &frame, &mut sockets, &mut out);
        if i % 64 == 0 {
            now += Duration::from_millis(50);
            target.poll(now, &mut sockets, &mut out);
            out.clear();
            while sockets.udp.recv_from(socket, &mut drain).is_ok() {}
        }
        assert!(
            sockets.tcp.connection_count() <= 64,
            "half-open connections stay within the backlog"
        );
        let (_, bytes) = target.reassembly_load();
        assert!(bytes <= bound.max_bytes, "reassembly holds {bytes} bytes");
    }
    let stats = target.stats();
    assert_eq!(stats.ethernet.rx_frames, 200_000);
    let dropped = stats.ipv4.rx_truncated
        + stats.ipv4.rx_bad_version
        + stats.ipv4.rx_bad_header_len
        + stats.ipv4.rx_bad_length
        + stats.ipv4.rx_bad_checksum;
    assert!(
        dropped > 10_000,
        "mutations were mostly caught by validation: {stats:?}"
    );
    assert!(
        stats.udp.rx_datagrams > 0,
        "unharmed frames still get through"
    );
    let tcp = sockets.tcp.stats();
    assert!(
        tcp.rx_bad_checksum + tcp.rx_bad_offset + tcp.rx_bad_options + tcp.rx_truncated > 1_000,
        "mutated segments were counted and dropped: {tcp:?}"
    );
    assert!(tcp.passive_opens > 0, "unharmed SYNs reached the listener");
}
