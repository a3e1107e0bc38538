//! Frames to send: the flow walker (which addresses and ports each frame
//! carries) and the writers that fill a frame's headers and probe payload.

use crate::spec::{mac_from_u64, Mode, Range, PROBE_LEN};
use dpstack::rand::Rng;
use dpstack::wire::MacAddr;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// First byte of the probe payload in UDP frames.
pub const PROBE_MAGIC: u8 = 0xd5;

/// How flow fields change from frame to frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlowMode {
    /// Odometer over the ranges: source port fastest, then destination port,
    /// source IP, destination IP, source MAC, destination MAC; every
    /// combination once per cycle.
    Incr,
    /// Each field drawn uniformly from its range (seeded).
    Random,
}

/// Where destination MACs come from.
#[derive(Debug, Clone)]
pub enum DstMacs {
    /// A range given with `--dst-mac`, walked like the other fields.
    Range(Range<u64>),
    /// Resolved with ARP: the next hop's MAC for each destination IP.
    Resolved(HashMap<u32, MacAddr>),
}

/// The first 96 bits of the IPv6 source and destination addresses; the
/// last 32 are walked as the IPv4 ranges are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip6Prefixes {
    /// Source address, first 12 bytes.
    pub src: [u8; 12],
    /// Destination address, first 12 bytes.
    pub dst: [u8; 12],
}

/// The ranges every flow field is drawn from.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    /// Source MACs.
    pub src_mac: Range<u64>,
    /// Destination MACs.
    pub dst_mac: DstMacs,
    /// Source IPv4 addresses.
    pub src_ip: Range<u32>,
    /// Destination IPv4 addresses.
    pub dst_ip: Range<u32>,
    /// Source ports.
    pub src_port: Range<u16>,
    /// Destination ports.
    pub dst_port: Range<u16>,
    /// Walk or draw.
    pub mode: FlowMode,
    /// IPv6 frames: the addresses' fixed first 96 bits (the IP ranges are
    /// then their last 32). `None`: IPv4.
    pub ip6: Option<Ip6Prefixes>,
}

impl FlowSpec {
    /// Values in each range, in odometer order (fastest first): source
    /// port, destination port, source IP, destination IP, source MAC,
    /// destination MAC (one when resolved: it follows the destination IP).
    pub fn lens(&self) -> [u64; 6] {
        let dst_macs = match &self.dst_mac {
            DstMacs::Range(r) => r.len(),
            DstMacs::Resolved(_) => 1,
        };
        [
            self.src_port.len(),
            self.dst_port.len(),
            self.src_ip.len(),
            self.dst_ip.len(),
            self.src_mac.len(),
            dst_macs,
        ]
    }
}

/// One frame's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// IPv4 source.
    pub src_ip: Ipv4Addr,
    /// IPv4 destination.
    pub dst_ip: Ipv4Addr,
    /// Transport source port (ICMP: unused).
    pub src_port: u16,
    /// Transport destination port (ICMP: unused).
    pub dst_port: u16,
    /// IPv6: the addresses' first 96 bits (`src_ip` and `dst_ip` are then
    /// their last 32).
    pub ip6: Option<Ip6Prefixes>,
}

/// Produces the flow of each successive frame.
pub struct FlowWalker {
    spec: FlowSpec,
    /// Odometer digits: the position in each range, fastest first
    /// (source port, destination port, source IP, destination IP, source
    /// MAC, destination MAC). Incremented with carry: no division per frame.
    digits: [u64; 6],
    lens: [u64; 6],
    rng: Rng,
}

impl FlowWalker {
    /// A walker; `seed` fixes the random mode's draws.
    pub fn new(spec: FlowSpec, seed: u64) -> Self {
        let lens = spec.lens();
        FlowWalker {
            spec,
            digits: [0; 6],
            lens,
            rng: Rng::new(seed),
        }
    }

    /// Distinct flows in one cycle (saturating).
    pub fn flow_count(spec: &FlowSpec) -> u64 {
        spec.lens()
            .iter()
            .fold(1u64, |acc, n| acc.saturating_mul(*n))
    }

    /// True when the walker's frames are IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.spec.ip6.is_some()
    }

    /// Distinct flows in one cycle of this walker (saturating).
    pub fn cycle_len(&self) -> u64 {
        Self::flow_count(&self.spec)
    }

    /// The next flow in odometer order, whatever the mode: walks every
    /// flow of a cycle once.
    pub fn next_in_order(&mut self) -> Flow {
        let current = self.advance();
        self.flow_at(current)
    }

    /// Steps the odometer; returns the digits before the step.
    fn advance(&mut self) -> [u64; 6] {
        let current = self.digits;
        for (digit, len) in self.digits.iter_mut().zip(self.lens) {
            *digit += 1;
            if *digit < len {
                break;
            }
            *digit = 0;
        }
        current
    }

    /// The next frame's flow.
    pub fn next_flow(&mut self) -> Flow {
        let digits = match self.spec.mode {
            FlowMode::Incr => self.advance(),
            FlowMode::Random => {
                let mut drawn = [0; 6];
                for (digit, len) in drawn.iter_mut().zip(self.lens) {
                    // A single-value range needs no draw.
                    *digit = if len == 1 { 0 } else { self.rng.below(len) };
                }
                drawn
            }
        };
        self.flow_at(digits)
    }

    /// The flow at odometer position `digits`.
    fn flow_at(&self, digits: [u64; 6]) -> Flow {
        let spec = &self.spec;
        let dst_ip = spec.dst_ip.first + digits[3] as u32;
        let dst_mac = match &spec.dst_mac {
            DstMacs::Range(r) => mac_from_u64(r.first + digits[5]),
            DstMacs::Resolved(table) => table.get(&dst_ip).copied().unwrap_or(MacAddr::BROADCAST),
        };
        Flow {
            src_mac: mac_from_u64(spec.src_mac.first + digits[4]),
            dst_mac,
            src_ip: Ipv4Addr::from(spec.src_ip.first + digits[2] as u32),
            dst_ip: Ipv4Addr::from(dst_ip),
            src_port: spec.src_port.first + digits[0] as u16,
            dst_port: spec.dst_port.first + digits[1] as u16,
            ip6: spec.ip6,
        }
    }
}

/// What a probe frame carries besides its flow.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Queue (lcore index) that sent it.
    pub queue: u8,
    /// Per-queue sequence number.
    pub seq: u64,
    /// Send time in the generator's clock ticks.
    pub timestamp: u64,
    /// IPv4 identification.
    pub ident: u16,
}

/// Sum of the four 16-bit words of `x`, for ones' complement arithmetic.
#[inline(always)]
pub(crate) fn words64(x: u64) -> u64 {
    (x >> 48) + ((x >> 32) & 0xffff) + ((x >> 16) & 0xffff) + (x & 0xffff)
}

/// Sum of the two 16-bit words of `x`.
#[inline(always)]
pub(crate) fn words32(x: u32) -> u64 {
    u64::from(x >> 16) + u64::from(x & 0xffff)
}

/// The checksum of a ones' complement sum of big-endian words, as wire bytes.
#[inline]
fn checksum_of(mut acc: u64) -> [u8; 2] {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    (!(acc as u16)).to_be_bytes()
}

/// Writes a complete frame of `frame.len()` bytes for `mode` (not replay):
/// Ethernet, IPv4 (total length = frame - 14), the transport header with a
/// correct checksum, and the probe; the rest of the payload is zero.
///
/// Checksums are summed from the field values, never read back from the
/// frame: reading just-written bytes in other widths stalls store
/// forwarding, which cost more than building the frame. Zero padding adds
/// nothing to a ones' complement sum.
pub fn write_frame(frame: &mut [u8], mode: Mode, flow: &Flow, probe: &Probe) {
    if let Some(prefixes) = flow.ip6 {
        write_frame6(frame, mode, flow, probe, prefixes);
        return;
    }
    let len = frame.len();
    let (protocol, header_len, probe_len) = match mode {
        Mode::TcpSyn => (6u8, 20, 0),
        Mode::Icmp => (1, 8, 16),
        _ => (17, 8, PROBE_LEN),
    };
    let ip_len = (len - 14) as u16;
    let segment_len = len - 34;
    let src = u32::from(flow.src_ip);
    let dst = u32::from(flow.dst_ip);

    frame[0..6].copy_from_slice(&flow.dst_mac.0);
    frame[6..12].copy_from_slice(&flow.src_mac.0);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_sum = 0x4500
        + u64::from(ip_len)
        + u64::from(probe.ident)
        + (64 << 8 | u64::from(protocol))
        + words32(src)
        + words32(dst);
    let ip = &mut frame[14..34];
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&probe.ident.to_be_bytes());
    ip[6..8].fill(0);
    ip[8] = 64;
    ip[9] = protocol;
    ip[10..12].copy_from_slice(&checksum_of(ip_sum));
    ip[12..16].copy_from_slice(&src.to_be_bytes());
    ip[16..20].copy_from_slice(&dst.to_be_bytes());

    // Most frames are minimal, with a few bytes of tail: stored directly
    // rather than by a memset call (a byte loop becomes one).
    let tail = &mut frame[34 + header_len + probe_len..];
    match tail.len() {
        0 => {}
        4 => tail.copy_from_slice(&[0; 4]),
        _ => tail.fill(0),
    }
    let segment = &mut frame[34..];
    let pseudo = words32(src) + words32(dst) + u64::from(protocol) + segment_len as u64;
    match mode {
        Mode::TcpSyn => {
            let seq = probe.seq as u32;
            let (offset_flags, window) = (5u16 << 12 | 0x02, 65_535u16);
            let sum = pseudo
                + u64::from(flow.src_port)
                + u64::from(flow.dst_port)
                + words32(seq)
                + u64::from(offset_flags)
                + u64::from(window);
            segment[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
            segment[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
            segment[4..8].copy_from_slice(&seq.to_be_bytes());
            segment[8..12].fill(0);
            segment[12..14].copy_from_slice(&offset_flags.to_be_bytes());
            segment[14..16].copy_from_slice(&window.to_be_bytes());
            segment[16..18].copy_from_slice(&checksum_of(sum));
            segment[18..20].fill(0);
        }
        Mode::Icmp => {
            let (ident, seq16) = (u16::from(probe.queue), probe.seq as u16);
            let sum = 0x0800
                + u64::from(ident)
                + u64::from(seq16)
                + words64(probe.seq)
                + words64(probe.timestamp);
            segment[0] = 8;
            segment[1] = 0;
            segment[2..4].copy_from_slice(&checksum_of(sum));
            segment[4..6].copy_from_slice(&ident.to_be_bytes());
            segment[6..8].copy_from_slice(&seq16.to_be_bytes());
            segment[8..16].copy_from_slice(&probe.seq.to_be_bytes());
            segment[16..24].copy_from_slice(&probe.timestamp.to_be_bytes());
        }
        _ => {
            let magic_queue = u16::from(PROBE_MAGIC) << 8 | u16::from(probe.queue);
            let sum = pseudo
                + u64::from(flow.src_port)
                + u64::from(flow.dst_port)
                + segment_len as u64
                + u64::from(magic_queue)
                + words64(probe.seq)
                + words64(probe.timestamp);
            let mut checksum = checksum_of(sum);
            // UDP sends a computed zero as all ones (RFC 768).
            if checksum == [0, 0] {
                checksum = [0xff, 0xff];
            }
            segment[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
            segment[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
            segment[4..6].copy_from_slice(&(segment_len as u16).to_be_bytes());
            segment[6..8].copy_from_slice(&checksum);
            segment[8..10].copy_from_slice(&magic_queue.to_be_bytes());
            segment[10..18].copy_from_slice(&probe.seq.to_be_bytes());
            segment[18..26].copy_from_slice(&probe.timestamp.to_be_bytes());
        }
    }
}

/// The IPv6 address of `prefix` (96 bits) and `low` (the last 32).
pub fn ip6_address(prefix: [u8; 12], low: Ipv4Addr) -> std::net::Ipv6Addr {
    let mut octets = [0u8; 16];
    octets[..12].copy_from_slice(&prefix);
    octets[12..].copy_from_slice(&low.octets());
    std::net::Ipv6Addr::from(octets)
}

/// [`write_frame`] for IPv6 (RFC 8200): Ethernet, the fixed header (hop
/// limit 64, payload length = frame - 54), then UDP with the probe, a
/// TCP SYN, or an ICMPv6 echo request carrying sequence number and
/// timestamp, each with its checksum over the pseudo-header (mandatory
/// for UDP over IPv6). Written field by field and summed over the
/// segment: IPv6 frames take no templates.
fn write_frame6(frame: &mut [u8], mode: Mode, flow: &Flow, probe: &Probe, prefixes: Ip6Prefixes) {
    let (next_header, header_len, data_len) = match mode {
        Mode::TcpSyn => (6u8, 20, 0),
        Mode::Icmp => (58, 8, 16),
        _ => (17, 8, PROBE_LEN),
    };
    let src = ip6_address(prefixes.src, flow.src_ip);
    let dst = ip6_address(prefixes.dst, flow.dst_ip);
    let payload_len = frame.len() - 54;
    frame[0..6].copy_from_slice(&flow.dst_mac.0);
    frame[6..12].copy_from_slice(&flow.src_mac.0);
    frame[12..14].copy_from_slice(&[0x86, 0xdd]);
    dpstack::wire::ipv6::Ipv6Repr {
        src,
        dst,
        next_header,
        hop_limit: 64,
        payload_len,
    }
    .emit(&mut frame[14..54]);
    let segment = &mut frame[54..];
    segment[header_len + data_len..].fill(0);
    let checksum_at = match mode {
        Mode::TcpSyn => {
            segment[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
            segment[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
            segment[4..8].copy_from_slice(&(probe.seq as u32).to_be_bytes());
            segment[8..12].fill(0);
            segment[12..14].copy_from_slice(&(5u16 << 12 | 0x02).to_be_bytes());
            segment[14..16].copy_from_slice(&65_535u16.to_be_bytes());
            segment[16..20].fill(0);
            16
        }
        Mode::Icmp => {
            segment[0] = 128;
            segment[1] = 0;
            segment[2..4].fill(0);
            segment[4..6].copy_from_slice(&u16::from(probe.queue).to_be_bytes());
            segment[6..8].copy_from_slice(&(probe.seq as u16).to_be_bytes());
            segment[8..16].copy_from_slice(&probe.seq.to_be_bytes());
            segment[16..24].copy_from_slice(&probe.timestamp.to_be_bytes());
            2
        }
        _ => {
            segment[0..2].copy_from_slice(&flow.src_port.to_be_bytes());
            segment[2..4].copy_from_slice(&flow.dst_port.to_be_bytes());
            segment[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
            segment[6..8].fill(0);
            segment[8] = PROBE_MAGIC;
            segment[9] = probe.queue;
            segment[10..18].copy_from_slice(&probe.seq.to_be_bytes());
            segment[18..26].copy_from_slice(&probe.timestamp.to_be_bytes());
            6
        }
    };
    let pseudo =
        dpstack::wire::checksum::pseudo_header(src.into(), dst.into(), next_header, payload_len);
    let mut sum =
        !dpstack::wire::checksum::add_sums(pseudo, dpstack::wire::checksum::data(segment));
    if sum == 0 && next_header == 17 {
        // UDP sends a computed zero as all ones (RFC 768; zero is invalid over IPv6).
        sum = 0xffff;
    }
    segment[checksum_at..checksum_at + 2].copy_from_slice(&sum.to_be_bytes());
}

/// Where a UDP probe ends in a frame with a 20-byte IPv4 header: Ethernet
/// 14, IPv4 20, UDP 8, probe 18.
const UDP_PROBE_END: usize = 14 + 20 + 8 + PROBE_LEN;

/// A probe found in a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Sending queue.
    pub queue: u8,
    /// Sequence number.
    pub seq: u64,
    /// Send timestamp, when the mode carries one.
    pub timestamp: Option<u64>,
}

/// Finds our probe in a received frame (UDP probe, ICMP or ICMPv6 echo
/// request or reply with our data, or a TCP SYN/SYN-ACK), over IPv4 or
/// IPv6; `None` for anything else.
#[inline]
pub fn parse_probe(frame: &[u8]) -> Option<Received> {
    // The receive side's common case, checked with three loads at fixed
    // offsets: a UDP probe in IPv4 without options (EtherType 0x0800,
    // version 4 and IHL 5, protocol 17, our magic byte at offset 42).
    if let Some(head) = frame.get(..UDP_PROBE_END) {
        let ethertype_version =
            u32::from_le_bytes([head[12], head[13], head[14], head[15]]) & 0x00ff_ffff;
        if ethertype_version == 0x45_00_08 && head[23] == 17 && head[42] == PROBE_MAGIC {
            return Some(Received {
                queue: head[43],
                seq: u64::from_be_bytes(head[44..52].try_into().unwrap_or_default()),
                timestamp: Some(u64::from_be_bytes(
                    head[52..60].try_into().unwrap_or_default(),
                )),
            });
        }
    }
    let (protocol, segment) = match frame.get(12..14)? {
        [0x08, 0x00] => {
            let ihl = usize::from(frame.get(14)? & 0x0f) * 4;
            (*frame.get(23)?, frame.get(14 + ihl..)?)
        }
        // IPv6 without extension headers, as we send it.
        [0x86, 0xdd] => (*frame.get(20)?, frame.get(54..)?),
        _ => return None,
    };
    match protocol {
        17 => {
            let probe = segment.get(8..8 + PROBE_LEN)?;
            (probe[0] == PROBE_MAGIC).then(|| Received {
                queue: probe[1],
                seq: u64::from_be_bytes(probe[2..10].try_into().unwrap_or_default()),
                timestamp: Some(u64::from_be_bytes(
                    probe[10..18].try_into().unwrap_or_default(),
                )),
            })
        }
        // ICMP echo request or reply; ICMPv6's (128, 129).
        1 | 58 => {
            let message = segment.get(..24)?;
            if !matches!((protocol, message[0]), (1, 8 | 0) | (58, 128 | 129)) {
                return None;
            }
            Some(Received {
                queue: u16::from_be_bytes([message[4], message[5]]) as u8,
                seq: u64::from_be_bytes(message[8..16].try_into().unwrap_or_default()),
                timestamp: Some(u64::from_be_bytes(
                    message[16..24].try_into().unwrap_or_default(),
                )),
            })
        }
        6 => {
            let header = segment.get(..20)?;
            (header[13] & 0x02 != 0).then(|| Received {
                queue: 0,
                seq: u64::from(u32::from_be_bytes(
                    header[4..8].try_into().unwrap_or_default(),
                )),
                timestamp: None,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use smoltcp::wire::{checksum, IpAddress, Ipv4Packet, TcpPacket, UdpPacket};

    /// Six flows: two source IPs by three source ports.
    pub(crate) fn spec(mode: FlowMode) -> FlowSpec {
        FlowSpec {
            src_mac: Range {
                first: 0x0200_0000_0001,
                last: 0x0200_0000_0001,
            },
            dst_mac: DstMacs::Range(Range {
                first: 0x0200_0000_0002,
                last: 0x0200_0000_0002,
            }),
            src_ip: Range {
                first: u32::from(Ipv4Addr::new(10, 0, 0, 1)),
                last: u32::from(Ipv4Addr::new(10, 0, 0, 2)),
            },
            dst_ip: Range {
                first: u32::from(Ipv4Addr::new(10, 0, 1, 1)),
                last: u32::from(Ipv4Addr::new(10, 0, 1, 1)),
            },
            src_port: Range {
                first: 1000,
                last: 1002,
            },
            dst_port: Range { first: 7, last: 7 },
            mode,
            ip6: None,
        }
    }

    #[test]
    fn carry_odometer_matches_positional_digits() {
        let mut wide = spec(FlowMode::Incr);
        wide.dst_port = Range { first: 7, last: 8 };
        wide.dst_mac = DstMacs::Range(Range {
            first: 0x0200_0000_0002,
            last: 0x0200_0000_0004,
        });
        let mut walker = FlowWalker::new(wide.clone(), 1);
        let reference = FlowWalker::new(wide, 1);
        let mut digits = [0u64; 6];
        for _ in 0..200 {
            assert_eq!(walker.next_flow(), reference.flow_at(digits));
            for (digit, len) in digits.iter_mut().zip(reference.lens) {
                *digit += 1;
                if *digit < len {
                    break;
                }
                *digit = 0;
            }
        }
    }

    #[test]
    fn incr_walks_an_odometer() {
        let mut walker = FlowWalker::new(spec(FlowMode::Incr), 1);
        assert_eq!(FlowWalker::flow_count(&spec(FlowMode::Incr)), 6);
        let flows: Vec<(u16, u8)> = (0..7)
            .map(|_| walker.next_flow())
            .map(|f| (f.src_port, f.src_ip.octets()[3]))
            .collect();
        assert_eq!(
            flows,
            [
                (1000, 1),
                (1001, 1),
                (1002, 1),
                (1000, 2),
                (1001, 2),
                (1002, 2),
                (1000, 1)
            ]
        );
    }

    #[test]
    fn random_stays_in_range_and_is_seeded() {
        let draw = |seed| {
            let mut w = FlowWalker::new(spec(FlowMode::Random), seed);
            (0..100).map(|_| w.next_flow()).collect::<Vec<_>>()
        };
        let flows = draw(5);
        assert_eq!(flows, draw(5));
        assert!(flows.iter().all(|f| (1000..=1002).contains(&f.src_port)));
        assert!(flows.iter().any(|f| f.src_port == 1002));
    }

    fn flow() -> Flow {
        FlowWalker::new(spec(FlowMode::Incr), 1).next_flow()
    }

    #[test]
    fn ipv6_frames_are_valid_and_carry_the_probe() {
        use dpstack::wire::ipv6::{add_sums, Ipv6Repr};
        let mut v6 = spec(FlowMode::Incr);
        let prefix = |text: &str| {
            let mut p = [0u8; 12];
            p.copy_from_slice(&text.parse::<std::net::Ipv6Addr>().unwrap().octets()[..12]);
            p
        };
        v6.ip6 = Some(Ip6Prefixes {
            src: prefix("fd00:1::"),
            dst: prefix("fd00:2::"),
        });
        let mut walker = FlowWalker::new(v6, 1);
        assert!(walker.is_ipv6());
        let probe = Probe {
            queue: 2,
            seq: 0x1_0000_0009,
            timestamp: 777,
            ident: 0,
        };
        for (mode, len, next, checksum_at) in [
            (Mode::Udp, 80, 17u8, 6),
            (Mode::Udp, 1514, 17, 6),
            (Mode::TcpSyn, 74, 6, 16),
            (Mode::Icmp, 78, 58, 2),
        ] {
            let flow = walker.next_flow();
            let mut frame = vec![0xaa; len];
            write_frame(&mut frame, mode, &flow, &probe);
            assert_eq!(&frame[12..14], &[0x86, 0xdd]);
            let (ip, upper) = Ipv6Repr::parse(&frame[14..]).unwrap();
            assert_eq!(ip.next_header, next);
            assert_eq!(ip.payload_len, len - 54);
            assert_eq!(ip.src, ip6_address(prefix("fd00:1::"), flow.src_ip));
            assert_eq!(
                ip.dst,
                "fd00:2::a00:101".parse::<std::net::Ipv6Addr>().unwrap()
            );
            let sum = add_sums(
                ip.pseudo_header_sum(next, upper.len()),
                dpstack::wire::checksum::data(upper),
            );
            assert_eq!(sum, 0xffff, "{mode:?}: checksum over the pseudo-header");
            assert_ne!(&upper[checksum_at..checksum_at + 2], &[0, 0]);
            let received = parse_probe(&frame).expect("our probe");
            match mode {
                Mode::TcpSyn => assert_eq!(received.seq, 9, "32-bit sequence field"),
                _ => assert_eq!(
                    received,
                    Received {
                        queue: 2,
                        seq: 0x1_0000_0009,
                        timestamp: Some(777)
                    }
                ),
            }
        }
        // Not ours: another next header, or too short.
        let mut other = vec![0u8; 80];
        write_frame(&mut other, Mode::Udp, &walker.next_flow(), &probe);
        other[20] = 253;
        assert_eq!(parse_probe(&other), None);
        assert_eq!(parse_probe(&other[..60]), None);
    }

    #[test]
    fn udp_frames_are_valid_and_carry_the_probe() {
        for len in [60, 61, 1514, 9018] {
            let mut frame = vec![0xaa; len];
            let probe = Probe {
                queue: 3,
                seq: 77,
                timestamp: 123_456,
                ident: 9,
            };
            write_frame(&mut frame, Mode::Udp, &flow(), &probe);
            let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(usize::from(ip.total_len()), len - 14);
            let udp = UdpPacket::new_checked(ip.payload()).unwrap();
            assert!(udp.verify_checksum(
                &IpAddress::Ipv4(ip.src_addr()),
                &IpAddress::Ipv4(ip.dst_addr())
            ));
            assert_eq!(
                parse_probe(&frame),
                Some(Received {
                    queue: 3,
                    seq: 77,
                    timestamp: Some(123_456)
                })
            );
        }
    }

    #[test]
    fn syn_and_icmp_frames_are_valid() {
        let probe = Probe {
            queue: 1,
            seq: 0x1_0000_0005,
            timestamp: 42,
            ident: 1,
        };
        let mut syn = vec![0xeeu8; 60];
        write_frame(&mut syn, Mode::TcpSyn, &flow(), &probe);
        let ip = Ipv4Packet::new_checked(&syn[14..]).unwrap();
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(tcp.syn() && !tcp.ack());
        assert!(tcp.verify_checksum(
            &IpAddress::Ipv4(ip.src_addr()),
            &IpAddress::Ipv4(ip.dst_addr())
        ));
        assert_eq!(parse_probe(&syn).unwrap().seq, 5, "32-bit sequence field");

        let mut echo = vec![0xeeu8; 100];
        write_frame(&mut echo, Mode::Icmp, &flow(), &probe);
        let ip = Ipv4Packet::new_checked(&echo[14..]).unwrap();
        assert_eq!(checksum::data(ip.payload()), !0);
        assert_eq!(
            parse_probe(&echo),
            Some(Received {
                queue: 1,
                seq: 0x1_0000_0005,
                timestamp: Some(42)
            })
        );
    }

    #[test]
    fn udp_probe_found_with_and_without_ip_options() {
        let probe = Probe {
            queue: 7,
            seq: 0x0102_0304_0506_0708,
            timestamp: 99,
            ident: 1,
        };
        let expected = Some(Received {
            queue: 7,
            seq: 0x0102_0304_0506_0708,
            timestamp: Some(99),
        });
        let mut plain = vec![0u8; 60];
        write_frame(&mut plain, Mode::Udp, &flow(), &probe);
        assert_eq!(parse_probe(&plain), expected, "the fixed-offset path");

        // The same datagram behind four bytes of IPv4 options (NOPs) takes
        // the general path and gives the same probe.
        let mut options = plain[..34].to_vec();
        options[14] = 0x46;
        options.extend_from_slice(&[1, 1, 1, 1]);
        options.extend_from_slice(&plain[34..]);
        assert_eq!(parse_probe(&options), expected, "the general path");

        // Cut short, a wrong magic byte, or another protocol: no probe.
        assert_eq!(parse_probe(&plain[..59]), None);
        assert_eq!(parse_probe(&options[..63]), None);
        let mut wrong_magic = plain.clone();
        wrong_magic[42] ^= 0xff;
        assert_eq!(parse_probe(&wrong_magic), None);
        let mut not_udp = plain.clone();
        not_udp[23] = 47;
        assert_eq!(parse_probe(&not_udp), None);
        let mut not_ipv4 = plain;
        not_ipv4[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(parse_probe(&not_ipv4), None);
    }
}
