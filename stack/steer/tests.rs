//! Steering rules and the steering stage, with hand-built frames.

use super::*;
use crate::buf::{BufPool, PacketBuf};
use crate::device::pipe::{multi_queue_pipe, PipeConfig, PipeSpread};
use crate::device::Device;
use crate::rand::Rng;
use crate::time::Instant;
use std::net::{Ipv4Addr, SocketAddrV4};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);

fn software(cores: usize) -> Steering {
    Steering::new(cores, DEFAULT_RETA_SIZE, SteeringMode::Software).unwrap()
}

/// An Ethernet/IPv4 frame from `src` to `dst` with `protocol` and `payload`
/// (no checksums: steering reads none).
fn ipv4_frame(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    flags_offset: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = vec![0u8; 14];
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = vec![0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    ip[6..8].copy_from_slice(&flags_offset.to_be_bytes());
    ip[8] = 64;
    ip[9] = protocol;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(payload);
    frame
}

fn tcp_frame(src: SocketAddrV4, dst: SocketAddrV4) -> Vec<u8> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&src.port().to_be_bytes());
    tcp[2..4].copy_from_slice(&dst.port().to_be_bytes());
    tcp[12] = 5 << 4;
    ipv4_frame(*src.ip(), *dst.ip(), 6, 0, &tcp)
}

fn arp_frame(operation: u16) -> Vec<u8> {
    let mut frame = vec![0xffu8; 6];
    frame.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame.extend_from_slice(&0x0806u16.to_be_bytes());
    let mut arp = vec![0u8; 28];
    arp[0..2].copy_from_slice(&1u16.to_be_bytes());
    arp[2..4].copy_from_slice(&0x0800u16.to_be_bytes());
    arp[4] = 6;
    arp[5] = 4;
    arp[6..8].copy_from_slice(&operation.to_be_bytes());
    frame.extend_from_slice(&arp);
    frame
}

fn flows(count: usize, seed: u64) -> Vec<(SocketAddrV4, SocketAddrV4)> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let client = SocketAddrV4::new(CLIENT, 1024 + rng.below(60_000) as u16);
            (client, SocketAddrV4::new(SERVER, 80))
        })
        .collect()
}

/// `count` flows (client, server) that `steering` gives to `core`.
fn flows_of(
    steering: &Steering,
    core: u16,
    count: usize,
    seed: u64,
) -> Vec<(SocketAddrV4, SocketAddrV4)> {
    flows(count * steering.cores() * 4, seed)
        .into_iter()
        .filter(|&(client, server)| steering.core_of_flow(server.into(), client.into()) == core)
        .take(count)
        .collect()
}

/// Transmits `frames` from pipe end `a` in one burst; how many it took.
fn send(a: &mut crate::device::pipe::PipeDevice, frames: &[Vec<u8>]) -> usize {
    let mut burst: Vec<_> = frames
        .iter()
        .map(|f| {
            let mut buf = a.alloc_tx(f.len()).unwrap();
            buf.data_mut().copy_from_slice(f);
            buf
        })
        .collect();
    a.transmit(Instant::ZERO, &mut burst)
}

#[test]
fn a_flow_and_its_replies_belong_to_one_core() {
    let steering = software(4);
    for (client, server) in flows(2_000, 1) {
        let core = steering.core_of_flow(server.into(), client.into());
        assert_eq!(core, steering.core_of_flow(client.into(), server.into()));
        let request = tcp_frame(client, server);
        let reply = tcp_frame(server, client);
        assert_eq!(steering.destination(&request), Destination::Core(core));
        assert_eq!(steering.destination(&reply), Destination::Core(core));
        assert_eq!(steering.rss_queue(&request), core);
    }
}

#[test]
fn the_redirection_table_spreads_flows_evenly() {
    for cores in [2usize, 3, 4, 8] {
        let steering = software(cores);
        let mut per_core = vec![0usize; cores];
        let all = flows(40_000, cores as u64);
        for &(client, server) in &all {
            per_core[usize::from(steering.core_of_flow(server.into(), client.into()))] += 1;
        }
        let fair = all.len() / cores;
        for (core, &n) in per_core.iter().enumerate() {
            assert!(
                n > fair * 85 / 100 && n < fair * 115 / 100,
                "{cores} cores: core {core} has {n} of {} flows",
                all.len()
            );
        }
    }
}

#[test]
fn hardware_mode_leaves_tcp_and_udp_to_the_nic() {
    let steering = Steering::new(2, 512, SteeringMode::Hardware).unwrap();
    for (client, server) in flows(100, 2) {
        assert_eq!(
            steering.destination(&tcp_frame(client, server)),
            Destination::Here
        );
    }
    assert_eq!(steering.destination(&arp_frame(1)), Destination::Everyone);
}

#[test]
fn arp_goes_to_everyone_and_unknown_or_short_frames_stay() {
    let steering = software(2);
    assert_eq!(steering.destination(&arp_frame(1)), Destination::Everyone);
    assert_eq!(steering.destination(&arp_frame(2)), Destination::Everyone);
    let mut ipv6 = tcp_frame(SocketAddrV4::new(CLIENT, 1), SocketAddrV4::new(SERVER, 2));
    ipv6[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    assert_eq!(steering.destination(&ipv6), Destination::Here);
    // Every prefix of a valid frame, and random bytes: a verdict, never a panic.
    let frame = tcp_frame(SocketAddrV4::new(CLIENT, 5), SocketAddrV4::new(SERVER, 6));
    for len in 0..frame.len() {
        let _ = steering.destination(&frame[..len]);
        let _ = steering.rss_queue(&frame[..len]);
    }
    assert_eq!(
        steering.destination(&frame[..36]),
        Destination::Here,
        "ports cut off"
    );
    let mut rng = Rng::new(3);
    for _ in 0..20_000 {
        let len = rng.below(80) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if len > 14 && rng.chance(0.5) {
            bytes[12] = 0x08;
            bytes[13] = 0x00;
            bytes[14] = 0x45;
        }
        let _ = steering.destination(&bytes);
    }
}

#[test]
fn fragments_follow_their_address_pair_and_icmp_echo_stays() {
    let steering = software(8);
    let first = ipv4_frame(CLIENT, SERVER, 17, 0x2000, &[0, 7, 0, 9, 0, 0, 0, 0]);
    let later = ipv4_frame(CLIENT, SERVER, 17, 0x00b9, &[1, 2, 3, 4]);
    let pair = steering.core_of_hash(steering.hasher().hash_addresses(CLIENT, SERVER));
    assert_eq!(steering.destination(&first), Destination::Core(pair));
    assert_eq!(steering.destination(&later), Destination::Core(pair));
    let echo = ipv4_frame(CLIENT, SERVER, 1, 0, &[8, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(
        steering.destination(&echo),
        Destination::Here,
        "pings are answered where they land"
    );
    assert_eq!(
        steering.rss_queue(&echo),
        pair,
        "a NIC hashes ICMP on the addresses"
    );
}

#[test]
fn icmp_errors_go_to_the_core_of_the_flow_they_quote() {
    let ours = SocketAddrV4::new(SERVER, 40_000);
    let peer = SocketAddrV4::new(CLIENT, 53);
    for mode in [SteeringMode::Software, SteeringMode::Hardware] {
        let steering = Steering::new(4, 128, mode).unwrap();
        // Port unreachable from the peer, quoting our UDP datagram to it.
        let quoted = ipv4_frame(SERVER, CLIENT, 17, 0, &[0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
        let mut icmp = vec![3u8, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&quoted[14..]);
        let error = ipv4_frame(CLIENT, SERVER, 1, 0, &icmp);
        assert_eq!(
            steering.destination(&error),
            Destination::Core(steering.core_of_flow(ours.into(), peer.into())),
            "{mode:?}"
        );
    }
}

#[test]
fn bad_setups_are_refused() {
    assert_eq!(
        Steering::new(0, 128, SteeringMode::Software),
        Err(SteeringError::BadCoreCount)
    );
    assert_eq!(
        Steering::new(MAX_CORES + 1, 256, SteeringMode::Software),
        Err(SteeringError::BadCoreCount)
    );
    assert_eq!(
        Steering::new(2, 100, SteeringMode::Software),
        Err(SteeringError::BadRetaSize)
    );
    assert_eq!(
        Steering::new(8, 4, SteeringMode::Software),
        Err(SteeringError::BadRetaSize)
    );
}

#[test]
fn active_opens_take_only_ports_that_land_on_their_core() {
    let steering = software(2);
    let remote = SocketAddrV4::new(SERVER, 7);
    for core in 0..2u16 {
        let mut tcp = crate::tcp::TcpSockets::new(Rng::new(9), crate::tcp::TcpConfig::default());
        let mut udp = crate::udp::UdpSockets::new(Rng::new(9), crate::udp::UdpBuffers::default());
        let mine = CoreSteering {
            steering: steering.clone(),
            core,
        };
        tcp.set_core_steering(Some(mine.clone()));
        udp.set_core_steering(Some(mine.clone()));
        let options = crate::tcp::TcpOptions::from_config(tcp.config());
        for _ in 0..1_000 {
            let handle = tcp
                .connect(Instant::ZERO, remote, 0, options, CLIENT)
                .unwrap();
            let local = tcp.local_addr(handle).unwrap();
            assert!(mine.owns(local, remote.into()), "core {core}: {local}");
            let socket = udp.open();
            udp.connect(socket, remote, CLIENT).unwrap();
            let local = udp.local_addr(socket).unwrap();
            assert!(mine.owns(
                SocketAddrV4::new(CLIENT, local.port()).into(),
                remote.into()
            ));
        }
    }
}

/// Frames of flows owned by core 0, sent from side A's queue 0 of a pipe
/// whose peer picks the next queue, so they arrive on side B's queue 1.
#[test]
fn the_steering_stage_hands_frames_to_their_core_and_copies_arp() {
    let steering = software(2);
    let pool = BufPool::with_defaults();
    let (mut a, b) = multi_queue_pipe(&PipeConfig::default(), &pool, 2, &PipeSpread::NextQueue);
    let mut b = steer_all(b, &steering, 64);
    let owned_by_0 = flows_of(&steering, 0, 20, 4);
    let request = arp_frame(1);
    let mut frames: Vec<Vec<u8>> = owned_by_0
        .iter()
        .map(|&(client, server)| tcp_frame(client, server))
        .collect();
    frames.push(request.clone());
    assert_eq!(send(&mut a[0], &frames), 21);

    let mut got = Vec::new();
    assert_eq!(
        b[1].receive(Instant::ZERO, &mut got, 32),
        1,
        "only the ARP stays on core 1"
    );
    assert_eq!(got[0].data(), &request[..]);
    let stats = b[1].steering_stats();
    assert_eq!((stats.handed_out, stats.arp_copies), (20, 1));

    got.clear();
    assert_eq!(b[0].receive(Instant::ZERO, &mut got, 32), 21);
    assert_eq!(b[0].steering_stats().handed_in, 21);
    let copy = got.last().unwrap().data();
    assert_eq!(
        &copy[20..22],
        &[0, 2],
        "the copy of a request is a reply, never answered twice"
    );
    assert_eq!(&copy[22..], &request[22..]);
    for (frame, &(client, server)) in got.iter().zip(&owned_by_0) {
        assert_eq!(frame.data(), &tcp_frame(client, server)[..]);
    }
}

#[test]
fn a_full_ring_drops_and_counts() {
    let steering = software(2);
    let pool = BufPool::with_defaults();
    let (mut a, b) = multi_queue_pipe(&PipeConfig::default(), &pool, 2, &PipeSpread::NextQueue);
    let rings = handoff_rings(2, 4);
    let mut b1 = SteeredDevice::new(b.into_iter().nth(1).unwrap(), 1, steering.clone(), rings);
    let frames: Vec<Vec<u8>> = flows_of(&steering, 0, 10, 5)
        .iter()
        .map(|&(client, server)| tcp_frame(client, server))
        .collect();
    send(&mut a[0], &frames);
    let mut got = Vec::new();
    b1.receive(Instant::ZERO, &mut got, 32);
    let stats = b1.steering_stats();
    assert_eq!((stats.handed_out, stats.handoff_drops), (4, 6));
    drop(got);
    assert_eq!(
        pool.stats().in_use,
        4,
        "dropped frames went back to the pool; 4 wait in the ring"
    );
}

#[test]
fn a_connect_from_a_fixed_port_that_lands_elsewhere_is_refused() {
    let steering = software(2);
    let remote = SocketAddrV4::new(SERVER, 7);
    let mut tcp = crate::tcp::TcpSockets::new(Rng::new(9), crate::tcp::TcpConfig::default());
    let mine = CoreSteering {
        steering: steering.clone(),
        core: 0,
    };
    tcp.set_core_steering(Some(mine.clone()));
    let options = crate::tcp::TcpOptions::from_config(tcp.config());
    let port_on = |core: u16| {
        (40_000..41_000u16)
            .find(|&p| {
                steering.core_of_flow(SocketAddrV4::new(CLIENT, p).into(), remote.into()) == core
            })
            .unwrap()
    };
    assert_eq!(
        tcp.connect(Instant::ZERO, remote, port_on(1), options, CLIENT),
        Err(crate::tcp::TcpError::AddrNotAvailable)
    );
    assert!(tcp
        .connect(Instant::ZERO, remote, port_on(0), options, CLIENT)
        .is_ok());
}

/// A core keeps reading its own queue even when the rings hand it a full
/// burst, and a burst it only passed on counts as work done.
#[test]
fn own_queue_is_read_beside_full_rings_and_passing_on_is_work() {
    let steering = software(2);
    let pool = BufPool::with_defaults();
    let (mut a, b) = multi_queue_pipe(&PipeConfig::default(), &pool, 2, &PipeSpread::SameQueue);
    let mut b = steer_all(b, &steering, 256);
    let on = |core: u16| -> Vec<Vec<u8>> {
        flows_of(&steering, core, 64, 6)
            .into_iter()
            .map(|(client, server)| tcp_frame(client, server))
            .collect()
    };
    // 64 frames of core 0's flows arrive on core 1's queue: passed on.
    send(&mut a[1], &on(0));
    let mut got = Vec::new();
    assert_eq!(b[1].receive(Instant::ZERO, &mut got, 32), 0);
    assert_eq!(b[1].passed_on(), 32, "a burst passed on is work");
    assert_eq!(b[1].receive(Instant::ZERO, &mut got, 32), 0);
    // Core 0's own queue has 40 frames; the rings hold 64 for it. The two
    // sources go first in turn, so neither waits for the other to empty.
    send(&mut a[0], &on(0)[..40]);
    let handed_in = |b: &SteeredDevice<_>| b.steering_stats().handed_in;
    for (round, expected_handed) in [(1, 32), (2, 32), (3, 64)] {
        assert_eq!(
            b[0].receive(Instant::ZERO, &mut got, 32),
            32,
            "round {round}"
        );
        assert_eq!(handed_in(&b[0]), expected_handed, "round {round}");
    }
    assert_eq!(
        b[0].receive(Instant::ZERO, &mut got, 32),
        8,
        "the queue's last 8"
    );
    assert_eq!(b[0].passed_on(), 0);
}
