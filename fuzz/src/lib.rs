//! What the fuzz targets share: a host (an interface and its sockets) with
//! bounded tables, frame builders that let the fuzzer's bytes reach a
//! given parser, and the bounds every target checks after each input.

use dpstack::buf::{ChecksumVerdict, RxChecksums};
use dpstack::iface::reassembly::ReassemblyConfig;
use dpstack::iface::{Interface, InterfaceConfig, Sockets};
use dpstack::rand::Rng;
use dpstack::tcp::{TcpConfig, TcpOptions, TcpSockets};
use dpstack::time::{Duration, Instant};
use dpstack::udp::{UdpBuffers, UdpHandle, UdpSockets};
use dpstack::wire::ipv6::{add_sums, next_header, solicited_node, Ipv6Repr};
use dpstack::wire::{Ipv4Cidr, Ipv6Cidr, MacAddr};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The fuzzed host's addresses.
pub const OUR_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
/// The fuzzed host's IPv4 address.
pub const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
/// The peer the frames claim to come from.
pub const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
/// The peer's IPv4 address.
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
/// The fuzzed host's IPv6 address (its link-local one comes from `OUR_MAC`).
pub const OUR_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 2);
/// The peer's IPv6 address.
pub const PEER_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 1);
/// Neighbour cache entries the fuzzed host holds at most.
pub const MAX_NEIGHBORS: usize = 16;
/// UDP port with a bound socket.
pub const UDP_PORT: u16 = 7;
/// TCP port with a listener.
pub const TCP_PORT: u16 = 80;
/// Reassembly bound of the fuzzed host, in bytes.
pub const REASSEMBLY_BYTES: usize = 256 * 1024;
/// Connections the fuzzed host holds at most.
pub const MAX_CONNECTIONS: usize = 256;
/// Listen backlog of the TCP listener.
pub const BACKLOG: usize = 16;

/// An interface with a dual-stack UDP socket on [`UDP_PORT`] and TCP listener on
/// [`TCP_PORT`], every table bounded small so that a bound overrun shows
/// within one input.
pub struct Host {
    /// The interface under test.
    pub iface: Interface,
    /// Its sockets.
    pub sockets: Sockets,
    /// The bound UDP socket.
    pub udp: UdpHandle,
    /// Frames the host sent.
    pub out: Vec<Vec<u8>>,
    /// The host's clock.
    pub now: Instant,
}

/// Small socket buffers: what a fuzzed connection may hold.
pub fn small_options() -> TcpOptions {
    TcpOptions {
        recv_buffer: 4096,
        send_buffer: 4096,
        ..TcpOptions::from_config(&TcpConfig::default())
    }
}

/// An interface at `mac`/`ip` with small bounds.
pub fn interface(mac: MacAddr, ip: Ipv4Addr, seed: u64) -> Interface {
    let mut config = InterfaceConfig::new(
        mac,
        Ipv4Cidr {
            addr: ip,
            prefix_len: 24,
        },
        None,
        1500,
    );
    config.reassembly = ReassemblyConfig {
        max_bytes: REASSEMBLY_BYTES,
        ..ReassemblyConfig::default()
    };
    config.arp.max_entries = 64;
    config.arp.max_pending_addresses = 16;
    config.ip6 = Some(Ipv6Cidr {
        addr: OUR_IP6,
        prefix_len: 64,
    });
    config.neighbor.max_entries = MAX_NEIGHBORS;
    // The addresses answer at once (duplicate address detection has its
    // own unit tests), so every input reaches the answering paths.
    config.dad_transmits = 0;
    Interface::new(config, Rng::new(seed))
}

/// Sockets with small connection and memory bounds.
pub fn sockets(seed: u64) -> Sockets {
    let tcp = TcpConfig {
        max_connections: MAX_CONNECTIONS,
        max_buffer_memory: 1 << 20,
        time_wait: Duration::from_secs(2),
        ..TcpConfig::default()
    };
    Sockets {
        udp: UdpSockets::new(Rng::new(seed), UdpBuffers::default()),
        tcp: TcpSockets::new(Rng::new(seed + 1), tcp),
    }
}

impl Host {
    /// A host ready for frames.
    pub fn new() -> Host {
        let iface = interface(OUR_MAC, OUR_IP, 3);
        let own = *iface.local_addrs();
        let mut sockets = sockets(4);
        let udp = sockets.udp.open();
        sockets
            .udp
            .bind(
                udp,
                SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), UDP_PORT),
                own,
            )
            .expect("a fresh port binds");
        sockets
            .tcp
            .listen(
                SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), TCP_PORT),
                BACKLOG,
                small_options(),
                own,
                false,
            )
            .expect("a fresh port listens");
        Host {
            iface,
            sockets,
            udp,
            out: Vec::new(),
            now: Instant::ZERO,
        }
    }

    /// Receives `frame`; with `trusted` its checksums count as verified by
    /// the device, so that bytes the fuzzer could not checksum still reach
    /// the parsers behind.
    pub fn receive(&mut self, frame: &[u8], trusted: bool) {
        let verdict = if trusted {
            ChecksumVerdict::Good
        } else {
            ChecksumVerdict::Unknown
        };
        let checksums = RxChecksums {
            ip: verdict,
            l4: verdict,
        };
        self.iface
            .receive_checked(self.now, frame, checksums, &mut self.sockets, &mut self.out);
    }

    /// Moves the clock on by `ms` milliseconds and runs the timers; the
    /// host's own frames are dropped, its sockets drained.
    pub fn tick(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.iface.poll(self.now, &mut self.sockets, &mut self.out);
        self.out.clear();
        let mut buf = [0u8; 2048];
        while self.sockets.udp.recv_from(self.udp, &mut buf).is_ok() {}
    }

    /// The bounds that hold whatever arrived.
    pub fn check_bounds(&self) {
        // IPv4 and IPv6 reassemble apart, each within the bound.
        let (_, bytes) = self.iface.reassembly_load();
        assert!(
            bytes <= 2 * REASSEMBLY_BYTES,
            "reassembly holds {bytes} bytes"
        );
        assert!(
            self.sockets.tcp.connection_count() <= MAX_CONNECTIONS,
            "{} connections",
            self.sockets.tcp.connection_count()
        );
        assert!(self.sockets.tcp.buffer_memory() <= 1 << 20);
        assert!(self.iface.neighbor_cache().len() <= MAX_NEIGHBORS);
    }
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

/// An Ethernet frame from the peer to us.
pub fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&OUR_MAC.0);
    frame.extend_from_slice(&PEER_MAC.0);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An IPv4 packet from the peer to us carrying `protocol` and `payload`,
/// with a correct header (checksum included).
pub fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()).min(usize::from(u16::MAX));
    let mut packet = vec![0u8; 20];
    packet[0] = 0x45;
    packet[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    packet[8] = 64;
    packet[9] = protocol;
    packet[12..16].copy_from_slice(&PEER_IP.octets());
    packet[16..20].copy_from_slice(&OUR_IP.octets());
    let sum = dpstack::wire::checksum::data(&packet);
    packet[10..12].copy_from_slice(&(!sum).to_be_bytes());
    packet.extend_from_slice(&payload[..total - 20]);
    packet
}

/// An Ethernet frame from the peer to `dst`.
pub fn ethernet_to(dst: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = ethernet(ethertype, payload);
    frame[..6].copy_from_slice(&dst.0);
    frame
}

/// An IPv6 packet from the peer to `dst` (hop limit `hop_limit`) carrying
/// `upper` after a chain starting with `first`; when `first` is ICMPv6
/// the message's checksum is filled in, so the fuzzer's bytes reach the
/// ICMPv6 and neighbour discovery parsers.
pub fn ipv6(dst: Ipv6Addr, first: u8, hop_limit: u8, upper: &[u8]) -> Vec<u8> {
    let upper = &upper[..upper.len().min(usize::from(u16::MAX))];
    let repr = Ipv6Repr {
        src: PEER_IP6,
        dst,
        next_header: first,
        hop_limit,
        payload_len: upper.len(),
    };
    let mut packet = vec![0u8; 40];
    repr.emit(&mut packet);
    packet.extend_from_slice(upper);
    // The upper layers that carry a checksum get a right one, so that
    // the fuzzer's bytes reach past it.
    let field = match first {
        next_header::ICMPV6 => 2,
        next_header::UDP => 6,
        next_header::TCP => 16,
        _ => return packet,
    };
    if upper.len() >= field + 2 {
        let message = &mut packet[40..];
        message[field..field + 2].fill(0);
        let sum = !add_sums(
            repr.pseudo_header_sum(first, message.len()),
            dpstack::wire::checksum::data(message),
        );
        message[field..field + 2].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The solicited-node group of our IPv6 address and its Ethernet address.
pub fn our_solicited_node() -> (Ipv6Addr, MacAddr) {
    let group = solicited_node(OUR_IP6);
    (group, dpstack::wire::ipv6::multicast_mac(group))
}

/// Splits fuzz input into pieces, each prefixed by its length (one byte,
/// or two when the first is 0xff), for targets that take several frames.
pub fn pieces(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&first, rest)) = data.split_first() {
        let (len, rest) = if first == 0xff && rest.len() >= 2 {
            (
                usize::from(u16::from_be_bytes([rest[0], rest[1]])),
                &rest[2..],
            )
        } else {
            (usize::from(first), rest)
        };
        let len = len.min(rest.len());
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    out
}
