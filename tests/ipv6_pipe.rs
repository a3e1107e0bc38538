//! TCP and UDP over IPv6 between two dpstack stacks on an in-memory pipe,
//! with a manual clock: dual-stack listeners (one `[::]` socket takes both
//! families, as Linux's default), `IPV6_V6ONLY` and IPv4-only listeners
//! keeping to their family, the IPv6 MSS, UDP datagrams of random sizes
//! (fragmented ones too) byte-exact, ICMPv6 errors reaching sockets, and
//! the errors a wrong family gets.

use dpstack::device::pipe::{PipeConfig, PipeDevice};
use dpstack::rand::Rng;
use dpstack::runtime::{pipe_stacks, Stack, StackConfig};
use dpstack::socket::{Errno, SockOpt, SockOptName, SockType};
use dpstack::time::{Duration, ManualClock};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 60, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 60, 0, 2);
const A_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x60, 0, 0, 0, 0, 0, 1);
const B_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x60, 0, 0, 0, 0, 0, 2);

type PipeStack = Stack<PipeDevice, ManualClock>;

fn config(ip: Ipv4Addr, ip6: Option<Ipv6Addr>, seed: u64) -> StackConfig {
    StackConfig {
        ip6: ip6.map(|addr| dpstack::wire::Ipv6Cidr {
            addr,
            prefix_len: 64,
        }),
        dad_transmits: 0,
        ..StackConfig::seeded(ip, 24, seed)
    }
}

struct World {
    a: PipeStack,
    b: PipeStack,
    clock: ManualClock,
}

impl World {
    fn new(a_ip6: Option<Ipv6Addr>, b_ip6: Option<Ipv6Addr>) -> World {
        let clock = ManualClock::new();
        let pipe = PipeConfig {
            queue_len: 4096,
            ..PipeConfig::default()
        };
        let (a, b) = pipe_stacks(
            config(A_IP, a_ip6, 1),
            config(B_IP, b_ip6, 2),
            clock.clone(),
            &pipe,
        );
        World { a, b, clock }
    }

    fn dual() -> World {
        World::new(Some(A_IP6), Some(B_IP6))
    }

    fn pump(&mut self, turns: usize) {
        for _ in 0..turns {
            self.clock.advance(Duration::from_micros(50));
            self.a.poll();
            self.b.poll();
        }
    }

    /// A connection from `a` to `to`, and what `b`'s `listener` accepted.
    fn connect(&mut self, listener: i32, to: SocketAddr) -> (i32, i32, SocketAddr) {
        let client = self.a.socket(SockType::Stream).unwrap();
        assert_eq!(self.a.connect(client, to), Err(Errno::EINPROGRESS));
        for _ in 0..200 {
            self.pump(1);
            if let Ok((conn, peer)) = self.b.accept(listener) {
                return (client, conn, peer);
            }
        }
        panic!("no connection to {to}");
    }

    /// `data` from `a`'s `from` to `b`'s `to`, read back whole.
    fn carry(&mut self, from: i32, to: i32, data: &[u8]) -> Vec<u8> {
        let mut sent = 0;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        for _ in 0..10_000 {
            if sent < data.len() {
                sent += self.a.send(from, &data[sent..], 0).unwrap_or(0);
            }
            self.pump(1);
            while let Ok(n) = self.b.recv(to, &mut buf, 0) {
                got.extend_from_slice(&buf[..n]);
            }
            if got.len() == data.len() {
                break;
            }
        }
        got
    }

    /// The outcome of `a`'s connect to `to`: `Ok` once connected, or the
    /// error `SO_ERROR` reports.
    fn connect_outcome(&mut self, to: SocketAddr) -> Result<(), Errno> {
        let client = self.a.socket(SockType::Stream).unwrap();
        assert_eq!(self.a.connect(client, to), Err(Errno::EINPROGRESS));
        self.pump(50);
        match self.a.getsockopt(client, SockOptName::Error).unwrap() {
            0 => Ok(()),
            111 => Err(Errno::ECONNREFUSED),
            other => panic!("unexpected SO_ERROR {other}"),
        }
    }
}

fn listen(stack: &mut PipeStack, addr: SocketAddr, v6_only: bool) -> i32 {
    let fd = stack.socket(SockType::Stream).unwrap();
    stack.setsockopt(fd, SockOpt::V6Only(v6_only)).unwrap();
    stack.bind(fd, addr).unwrap();
    stack.listen(fd, 16).unwrap();
    fd
}

fn any6(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port)
}

#[test]
fn a_dual_stack_listener_takes_both_families() {
    let mut w = World::dual();
    let listener = listen(&mut w.b, any6(80), false);
    assert_eq!(w.b.getsockname(listener), Ok(any6(80)));

    let (v4_client, v4_conn, v4_peer) = w.connect(listener, SocketAddr::new(B_IP.into(), 80));
    let (v6_client, v6_conn, v6_peer) = w.connect(listener, SocketAddr::new(B_IP6.into(), 80));
    // An IPv4 peer is named as IPv4 (not `::ffff:a.b.c.d`).
    assert_eq!(v4_peer.ip(), A_IP);
    assert_eq!(v6_peer.ip(), A_IP6);
    assert_eq!(w.b.getsockname(v4_conn).unwrap(), (B_IP, 80).into());
    assert_eq!(w.b.getsockname(v6_conn).unwrap(), (B_IP6, 80).into());
    assert_eq!(w.a.getpeername(v6_client).unwrap(), (B_IP6, 80).into());

    // An IPv6 segment has 20 bytes less room: 1500 - 40 - 20 - 12
    // (timestamps) against IPv4's 1448.
    assert_eq!(w.a.tcp_info(v4_client).unwrap().snd_mss, 1448);
    assert_eq!(w.a.tcp_info(v6_client).unwrap().snd_mss, 1428);

    let mut rng = Rng::new(7);
    let data: Vec<u8> = (0..300_000).map(|_| rng.next_u64() as u8).collect();
    assert_eq!(w.carry(v6_client, v6_conn, &data), data, "over IPv6");
    assert_eq!(w.carry(v4_client, v4_conn, &data), data, "over IPv4");
    let stats = w.b.stats();
    assert!(stats.ipv6.rx_delivered > 200, "{:?}", stats.ipv6);
    assert_eq!(stats.ipv6.rx_unsupported, 0);
    assert_eq!(stats.tcp.rx_bad_checksum, 0);
}

#[test]
fn ipv4_and_v6_only_listeners_keep_to_their_family() {
    let mut w = World::dual();
    let v4_only = listen(&mut w.b, (Ipv4Addr::UNSPECIFIED, 81).into(), false);
    let v6_only = listen(&mut w.b, any6(82), true);
    assert_eq!(w.b.getsockopt(v6_only, SockOptName::V6Only), Ok(1));
    assert_eq!(
        w.connect_outcome((B_IP6, 81).into()),
        Err(Errno::ECONNREFUSED),
        "0.0.0.0 takes no IPv6"
    );
    assert_eq!(
        w.connect_outcome((B_IP, 82).into()),
        Err(Errno::ECONNREFUSED),
        "IPV6_V6ONLY takes no IPv4"
    );
    w.connect(v4_only, (B_IP, 81).into());
    w.connect(v6_only, (B_IP6, 82).into());
    // A listener bound to one address takes only it.
    let specific = listen(&mut w.b, (B_IP6, 83).into(), false);
    assert_eq!(
        w.connect_outcome((B_IP, 83).into()),
        Err(Errno::ECONNREFUSED)
    );
    w.connect(specific, (B_IP6, 83).into());
}

#[test]
fn an_ipv4_mapped_address_is_ipv4() {
    let mut w = World::dual();
    let listener = listen(&mut w.b, any6(80), false);
    let mapped: SocketAddr = format!("[::ffff:{B_IP}]:80").parse().unwrap();
    let (client, _, peer) = w.connect(listener, mapped);
    assert_eq!(peer.ip(), A_IP);
    assert_eq!(w.a.getpeername(client).unwrap(), (B_IP, 80).into());
}

#[test]
fn udp_over_ipv6_random_sizes_arrive_byte_exact() {
    let mut w = World::dual();
    let server = w.b.socket(SockType::Dgram).unwrap();
    w.b.bind(server, any6(7)).unwrap();
    let client = w.a.socket(SockType::Dgram).unwrap();
    let to = SocketAddr::new(B_IP6.into(), 7);
    let mut rng = Rng::new(11);
    let mut buf = vec![0u8; 70_000];
    for i in 0..1_000 {
        // Mostly small, some past one frame (IPv6 fragments them).
        let len = if i % 10 == 0 {
            rng.below(9_000) as usize
        } else {
            rng.below(1_400) as usize
        };
        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        assert_eq!(w.a.send_to(client, &data, Some(to)), Ok(len));
        w.pump(2);
        let (n, from) = w.b.recv_from(server, &mut buf, 0).expect("arrived");
        assert_eq!(&buf[..n], &data[..], "datagram {i}");
        let from = from.unwrap();
        assert_eq!(from.ip(), A_IP6);
        w.b.send_to(server, &buf[..n], Some(from)).unwrap();
        w.pump(2);
        let (n, back) = w.a.recv_from(client, &mut buf, 0).expect("echoed");
        assert_eq!(&buf[..n], &data[..], "echo {i}");
        assert_eq!(back, Some(to));
    }
    let stats = w.b.stats();
    assert!(stats.ipv6.frag_reassembled > 0, "{:?}", stats.ipv6);
    assert_eq!(stats.udp.rx_errors, 0);
    // The dual-stack socket also takes IPv4.
    w.a.send_to(client, b"v4", Some((B_IP, 7).into())).unwrap();
    w.pump(2);
    let (n, from) = w.b.recv_from(server, &mut buf, 0).unwrap();
    assert_eq!((&buf[..n], from.unwrap().ip()), (&b"v4"[..], A_IP.into()));
}

#[test]
fn icmpv6_port_unreachable_reaches_a_connected_socket() {
    let mut w = World::dual();
    let client = w.a.socket(SockType::Dgram).unwrap();
    w.a.connect(client, SocketAddr::new(B_IP6.into(), 9_999))
        .unwrap();
    w.a.send(client, b"anyone?", 0).unwrap();
    w.pump(4);
    let mut buf = [0u8; 16];
    assert_eq!(w.a.recv(client, &mut buf, 0), Err(Errno::ECONNREFUSED));
    assert_eq!(w.a.stats().icmpv6.rx_errors_received, 1);
    assert_eq!(w.b.stats().icmpv6.tx_errors, 1);
    // TCP to a closed port is reset, as over IPv4.
    assert_eq!(
        w.connect_outcome((B_IP6, 9_999).into()),
        Err(Errno::ECONNREFUSED)
    );
}

#[test]
fn a_wrong_family_is_refused_with_posix_errors() {
    let mut w = World::new(None, Some(B_IP6));
    // `a` has no IPv6: nothing routes there.
    let tcp = w.a.socket(SockType::Stream).unwrap();
    assert_eq!(
        w.a.connect(tcp, SocketAddr::new(B_IP6.into(), 80)),
        Err(Errno::ENETUNREACH)
    );
    let udp = w.a.socket(SockType::Dgram).unwrap();
    assert_eq!(
        w.a.send_to(udp, b"x", Some((B_IP6, 7).into())),
        Err(Errno::ENETUNREACH)
    );
    assert_eq!(
        w.a.bind(udp, SocketAddr::new(A_IP6.into(), 7)),
        Err(Errno::EADDRNOTAVAIL),
        "not our address"
    );
    // On `b`, a socket bound to an IPv4 address cannot reach IPv6.
    let bound = w.b.socket(SockType::Dgram).unwrap();
    w.b.bind(bound, (Ipv4Addr::UNSPECIFIED, 5_000)).unwrap();
    assert_eq!(
        w.b.send_to(bound, b"x", Some((A_IP6, 7).into())),
        Err(Errno::EADDRNOTAVAIL)
    );
    let stream = w.b.socket(SockType::Stream).unwrap();
    w.b.bind(stream, (B_IP, 0)).unwrap();
    assert_eq!(
        w.b.connect(stream, SocketAddr::new(A_IP6.into(), 80)),
        Err(Errno::EADDRNOTAVAIL)
    );
}
