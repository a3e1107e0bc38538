//! IPv6 receive and send (RFC 8200), on with `InterfaceConfig::ip6`: the
//! packet checked and addressed to us (our link-local or configured
//! address, all-nodes, or one of our solicited-node groups), its
//! extension headers walked (hop-by-hop first only, destination options,
//! routing; options whose type says "discard if unknown" discard),
//! fragments reassembled (bounded like IPv4's), and ICMPv6 delivered. TCP
//! and UDP over IPv6 are counted and dropped (or left to the kernel on the
//! exception path) until they are implemented, and draw a Parameter
//! Problem otherwise. Sending hands off-link destinations to the default
//! router (`gateway6`, or one advertised), resolves the next hop through
//! the neighbour cache, and fragments what exceeds the MTU.

use super::ipv4::SendFailure;
use super::neighbor::NeighborLookup;
use super::reassembly::Fragment6Key;
use super::{FrameSink, Interface, Sockets};
use crate::time::Instant;
use crate::wire::ipv6::{
    multicast_mac, next_header, solicited_node, Ipv6Error, Ipv6Repr, ALL_NODES, IPV6_HEADER_LEN,
};
use crate::wire::MacAddr;
use smoltcp::wire::EthernetProtocol;
use std::net::Ipv6Addr;

/// Most extension headers walked in one packet; more is dropped (a long
/// chain is an attack, not a use).
const MAX_EXTENSION_HEADERS: usize = 8;

/// Hop limit of the packets we originate (Linux's default).
pub(super) const DEFAULT_HOP_LIMIT: u8 = 64;

/// Bytes of a fragment header.
const FRAGMENT_HEADER_LEN: usize = 8;

/// Why an extension header stops the walk. Pointers are offsets into
/// the packet as it arrived (what a Parameter Problem names).
enum Extension {
    Truncated,
    /// A routing header with segments left, at the routing type's offset:
    /// we route nothing (RFC 8200 4.4, RFC 5095).
    Routing {
        pointer: usize,
    },
    /// A fragment header at this offset of the payload walked.
    Fragment(usize),
    /// An unrecognised option (RFC 8200 4.2) at `pointer`, with the two
    /// high bits of its type: 1 discard, 2 discard and report, 3 report
    /// unless the destination is multicast.
    Option {
        pointer: usize,
        action: u8,
    },
    /// A chain past its bound, hop-by-hop options after the first header,
    /// or a malformed option area.
    Bad,
}

/// The walk's result: the upper-layer protocol, where its header starts
/// in the payload walked, and the offset in the packet of the
/// next-header field that named it.
struct Walked {
    upper: u8,
    offset: usize,
    field: usize,
}

/// Where the payload being delivered came from, for the errors it may
/// draw: the packet as received, the payload's offset in it, the offset
/// of the next-header field naming the payload's first header, and
/// whether the frame was link-layer multicast. Reassembled packets have
/// none (no error quotes them).
#[derive(Clone, Copy)]
pub(super) struct Origin<'a> {
    packet: &'a [u8],
    base: usize,
    first_field: usize,
    link_multicast: bool,
}

/// ICMPv6 error types and codes (RFC 4443 3).
const DEST_UNREACHABLE: u8 = 1;
/// Port unreachable (a code of destination unreachable).
const PORT_UNREACHABLE: u8 = 4;
/// Parameter problem.
const PARAMETER_PROBLEM: u8 = 4;
/// Erroneous header field.
const BAD_FIELD: u8 = 0;
/// Unrecognised next header.
const UNKNOWN_NEXT_HEADER: u8 = 1;
/// Unrecognised option.
const UNKNOWN_OPTION: u8 = 2;
/// The smallest MTU an IPv6 link may have (RFC 8200 5).
pub(super) const IPV6_MIN_MTU: usize = 1280;
/// An error message is at most the IPv6 minimum MTU (RFC 4443 2.4 (c)).
const MAX_ERROR_LEN: usize = IPV6_MIN_MTU;

impl Interface {
    /// True when `addr` is one of our unicast addresses and duplicate
    /// address detection has cleared it (a tentative address takes
    /// nothing but detection's own messages, RFC 4862 5.4).
    pub(super) fn is_our_ip6(&self, addr: Ipv6Addr) -> bool {
        self.dad.usable(addr)
    }

    /// The multicast groups we are in when IPv6 is on: all-nodes and the
    /// solicited-node groups of our two addresses.
    fn groups(&self) -> Option<[Ipv6Addr; 3]> {
        self.config.ip6.map(|cidr| {
            [
                ALL_NODES,
                solicited_node(self.link_local),
                solicited_node(cidr.addr),
            ]
        })
    }

    /// True when IPv6 is on and `group` is a multicast group we are in.
    fn in_group(&self, group: Ipv6Addr) -> bool {
        self.groups().is_some_and(|groups| groups.contains(&group))
    }

    /// True when IPv6 is on and `mac` is the Ethernet group of a multicast
    /// group we are in.
    pub(super) fn joined_mac(&self, mac: MacAddr) -> bool {
        self.groups()
            .is_some_and(|groups| groups.iter().any(|&g| multicast_mac(g) == mac))
    }

    pub(super) fn ipv6_input<S: FrameSink>(
        &mut self,
        now: Instant,
        (src_mac, link_multicast): (MacAddr, bool),
        packet: &[u8],
        sockets: &mut Sockets,
        sink: &mut S,
    ) {
        self.ipv6.rx_packets += 1;
        // Transport checksums over IPv6 are verified here, whatever the
        // device said: its verdict may not cover extension headers or
        // reassembled packets.
        self.rx_checksums.l4 = crate::buf::ChecksumVerdict::Unknown;
        let (ip, payload) = match Ipv6Repr::parse(packet) {
            Ok(parsed) => parsed,
            Err(Ipv6Error::Truncated) => {
                self.ipv6.rx_truncated += 1;
                return;
            }
            Err(Ipv6Error::BadVersion) => {
                self.ipv6.rx_bad_version += 1;
                return;
            }
        };
        if ip.src.is_multicast() {
            self.ipv6.rx_bad_source += 1;
            return;
        }
        if !self.is_our_ip6(ip.dst) && !self.in_group(ip.dst) {
            self.ipv6.rx_not_for_us += 1;
            self.unclaimed();
            return;
        }
        if ip.dst.is_multicast() && self.config.exception_path {
            // Neighbour discovery and the like concern the kernel too.
            self.disposition = super::Disposition::Both;
        }
        let origin = Origin {
            packet,
            base: IPV6_HEADER_LEN,
            first_field: 6,
            link_multicast,
        };
        let first = (ip.next_header, payload);
        self.ipv6_deliver(now, &ip, src_mac, first, Some(origin), sockets, sink);
    }

    /// Walks the headers of `payload` from `first` and hands the upper
    /// layer on; a fragment goes to reassembly. `origin` is `None` after
    /// reassembly, where a second fragment header is malformed and no
    /// error is sent.
    #[allow(clippy::too_many_arguments)]
    fn ipv6_deliver<S: FrameSink>(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        src_mac: MacAddr,
        (first, payload): (u8, &[u8]),
        origin: Option<Origin<'_>>,
        sockets: &mut Sockets,
        sink: &mut S,
    ) {
        let (base, first_field) = origin.map_or((0, 0), |o| (o.base, o.first_field));
        let walked = match walk_extensions(first, payload, base, first_field) {
            Ok(walked) => walked,
            Err(Extension::Truncated) => {
                self.ipv6.rx_truncated += 1;
                return;
            }
            Err(Extension::Routing { pointer }) => {
                self.ipv6.rx_routing_dropped += 1;
                let problem = (PARAMETER_PROBLEM, BAD_FIELD, pointer as u32);
                self.send_icmpv6_error(now, sink, ip, origin, problem, false);
                return;
            }
            Err(Extension::Fragment(at)) if origin.is_some() => {
                self.fragment_input(now, ip, src_mac, &payload[at..], sockets, sink);
                return;
            }
            Err(Extension::Option { pointer, action }) => {
                self.ipv6.rx_bad_extension += 1;
                if action >= 2 {
                    // 10: report even to a multicast destination; 11: not.
                    let problem = (PARAMETER_PROBLEM, UNKNOWN_OPTION, pointer as u32);
                    self.send_icmpv6_error(now, sink, ip, origin, problem, action == 2);
                }
                return;
            }
            Err(Extension::Fragment(_)) | Err(Extension::Bad) => {
                self.ipv6.rx_bad_extension += 1;
                return;
            }
        };
        let upper = &payload[walked.offset..];
        match walked.upper {
            next_header::ICMPV6 => {
                self.ipv6.rx_delivered += 1;
                self.icmpv6_input(now, ip, src_mac, upper, sockets, sink)
            }
            next_header::TCP => {
                self.ipv6.rx_delivered += 1;
                let (src, dst) = (ip.src.into(), ip.dst.into());
                // Segments to a multicast group are not TCP's (RFC 9293 3.9.1).
                let multicast = ip.dst.is_multicast();
                self.tcp_input(now, src, dst, multicast, upper, &mut sockets.tcp);
            }
            next_header::UDP => {
                self.ipv6.rx_delivered += 1;
                let (src, dst) = (ip.src.into(), ip.dst.into());
                // Our groups (all-nodes, solicited-node) serve no UDP port.
                if ip.dst.is_multicast() {
                    self.udp.rx_no_port += 1;
                } else if self.udp_input(src, dst, false, upper, &mut sockets.udp) {
                    let unreachable = (DEST_UNREACHABLE, PORT_UNREACHABLE, 0);
                    self.send_icmpv6_error(now, sink, ip, origin, unreachable, false);
                }
            }
            next_header::NONE => {}
            _ => {
                self.ipv6.rx_unsupported += 1;
                if self.config.exception_path {
                    self.unclaimed();
                } else {
                    // RFC 8200 4: an unrecognised next header is reported.
                    let problem = (PARAMETER_PROBLEM, UNKNOWN_NEXT_HEADER, walked.field as u32);
                    self.send_icmpv6_error(now, sink, ip, origin, problem, false);
                }
            }
        }
    }

    /// Sends an ICMPv6 error `(type, code, parameter)` about the packet
    /// `origin` holds, unless RFC 4443 2.4 (e) forbids it (the packet is
    /// itself an error, came from the unspecified or a multicast address,
    /// or went to a multicast address or link-layer group, where
    /// `to_multicast_too` does not allow it), and within the rate limit
    /// the ICMP errors share. Quotes as much of the packet as keeps the
    /// message within 1,280 bytes.
    pub(super) fn send_icmpv6_error<S: FrameSink>(
        &mut self,
        now: Instant,
        sink: &mut S,
        ip: &Ipv6Repr,
        origin: Option<Origin<'_>>,
        error: (u8, u8, u32),
        to_multicast_too: bool,
    ) {
        let Some(origin) = origin else { return };
        if ip.src.is_unspecified() || ip.src.is_multicast() {
            return;
        }
        if (ip.dst.is_multicast() || origin.link_multicast) && !to_multicast_too {
            return;
        }
        let packet = origin.packet;
        let is_error = ip.next_header == next_header::ICMPV6
            && packet.get(IPV6_HEADER_LEN).is_some_and(|&kind| kind < 128);
        if is_error {
            return;
        }
        if !self.icmp_errors.take(now) {
            self.icmpv6.rate_limited += 1;
            return;
        }
        let quote = &packet[..packet.len().min(MAX_ERROR_LEN - IPV6_HEADER_LEN - 8)];
        let src = if self.is_our_ip6(ip.dst) {
            ip.dst
        } else {
            self.source_for(ip.src)
        };
        let (kind, code, parameter) = error;
        let header = (src, ip.src, next_header::ICMPV6, DEFAULT_HOP_LIMIT);
        let sent = self.send_ip6(now, sink, header, 8 + quote.len(), |message, pseudo| {
            message[0] = kind;
            message[1] = code;
            message[4..8].copy_from_slice(&parameter.to_be_bytes());
            message[8..].copy_from_slice(quote);
            super::icmpv6::seal(message, pseudo);
        });
        if sent.is_ok() {
            self.icmpv6.tx_errors += 1;
        }
    }

    /// A fragment header and what follows it (RFC 8200 4.5): an atomic
    /// fragment (offset 0, no more) is delivered as it is (RFC 6946), any
    /// other goes to reassembly and the completed packet on.
    fn fragment_input<S: FrameSink>(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        src_mac: MacAddr,
        header_on: &[u8],
        sockets: &mut Sockets,
        sink: &mut S,
    ) {
        let Some(header) = header_on.get(..FRAGMENT_HEADER_LEN) else {
            self.ipv6.rx_truncated += 1;
            return;
        };
        let next = header[0];
        let field = u16::from_be_bytes([header[2], header[3]]);
        let offset = usize::from(field >> 3) * 8;
        let more = field & 1 != 0;
        let ident = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let data = &header_on[FRAGMENT_HEADER_LEN..];
        if offset == 0 && !more {
            self.ipv6_deliver(now, ip, src_mac, (next, data), None, sockets, sink);
            return;
        }
        let key = Fragment6Key {
            src: ip.src,
            dst: ip.dst,
            ident,
        };
        let Some((packet, first)) =
            self.reassembler6
                .add_tagged(now, key, offset, more, data, next, &mut self.ipv6)
        else {
            return;
        };
        self.ipv6_deliver(now, ip, src_mac, (first, &packet), None, sockets, sink);
    }

    /// Sends an IPv6 packet from `src` to `dst` whose `upper_len` bytes of
    /// `upper` (an upper-layer protocol number) `fill` writes; `fill` gets
    /// the pseudo-header's sum for its checksum. An on-link neighbour not
    /// resolved yet is solicited and the packet waits for it in the
    /// neighbour cache's bounded queue (counted as sent here).
    pub(super) fn send_ip6<S: FrameSink>(
        &mut self,
        now: Instant,
        sink: &mut S,
        header: (Ipv6Addr, Ipv6Addr, u8, u8),
        upper_len: usize,
        fill: impl FnOnce(&mut [u8], u16),
    ) -> Result<(), SendFailure> {
        let (src, dst, upper, hop_limit) = header;
        let total = IPV6_HEADER_LEN + upper_len;
        if upper_len > usize::from(u16::MAX) - FRAGMENT_HEADER_LEN
            || (total > self.config.mtu
                && self.config.mtu < IPV6_HEADER_LEN + FRAGMENT_HEADER_LEN + 8)
        {
            self.ipv6.tx_too_big += 1;
            return Err(SendFailure::TooBig);
        }
        let repr = Ipv6Repr {
            src,
            dst,
            next_header: upper,
            hop_limit,
            payload_len: upper_len,
        };
        let pseudo = repr.pseudo_header_sum(upper, upper_len);
        let mac = if dst.is_multicast() {
            multicast_mac(dst)
        } else {
            let Some(next_hop) = self.next_hop6(now, dst) else {
                self.ipv6.tx_no_route += 1;
                return Err(SendFailure::NoRoute);
            };
            match self.neighbors.lookup(now, next_hop) {
                NeighborLookup::Found(mac) => mac,
                lookup => {
                    let mut packet = vec![0u8; total];
                    repr.emit(&mut packet);
                    fill(&mut packet[IPV6_HEADER_LEN..], pseudo);
                    self.ipv6.tx_unresolved += self.neighbors.queue(now, next_hop, packet) as u64;
                    if lookup == NeighborLookup::Solicit {
                        self.send_neighbor_solicit(now, sink, next_hop);
                    }
                    return Ok(());
                }
            }
        };
        if total > self.config.mtu {
            return self.send_fragmented(sink, mac, repr, fill, pseudo);
        }
        let packet = self
            .frame(sink, total, mac, EthernetProtocol::Ipv6)
            .ok_or(SendFailure::NoBuffer)?;
        repr.emit(packet);
        fill(&mut packet[IPV6_HEADER_LEN..], pseudo);
        self.ipv6.tx_packets += 1;
        Ok(())
    }

    /// Sends the packets that waited for `addr`, now resolved.
    pub(super) fn flush_queued6<S: FrameSink>(&mut self, sink: &mut S, addr: Ipv6Addr) {
        let Some((mac, packets)) = self.neighbors.take_queued(addr) else {
            return;
        };
        for packet in packets {
            let Ok((repr, _)) = Ipv6Repr::parse(&packet) else {
                continue;
            };
            let upper = &packet[IPV6_HEADER_LEN..];
            let copy = |out: &mut [u8], _| out.copy_from_slice(upper);
            if packet.len() > self.config.mtu {
                let _ = self.send_fragmented(sink, mac, repr, copy, 0);
            } else if let Some(frame) = self.frame(sink, packet.len(), mac, EthernetProtocol::Ipv6)
            {
                frame.copy_from_slice(&packet);
                self.ipv6.tx_packets += 1;
            }
        }
    }

    /// Builds the upper layer whole (its checksum covers all of it), then
    /// sends it in fragments of the largest multiple of 8 bytes that fits
    /// the MTU behind a fragment header (RFC 8200 4.5).
    fn send_fragmented<S: FrameSink>(
        &mut self,
        sink: &mut S,
        mac: MacAddr,
        repr: Ipv6Repr,
        fill: impl FnOnce(&mut [u8], u16),
        pseudo: u16,
    ) -> Result<(), SendFailure> {
        let mut upper = std::mem::take(&mut self.scratch);
        upper.clear();
        upper.resize(repr.payload_len, 0);
        fill(&mut upper, pseudo);
        let ident = self.next_ident6;
        self.next_ident6 = self.next_ident6.wrapping_add(1);
        let chunk = (self.config.mtu - IPV6_HEADER_LEN - FRAGMENT_HEADER_LEN) / 8 * 8;
        let mut sent_all = true;
        for (i, piece) in upper.chunks(chunk).enumerate() {
            let offset = i * chunk;
            let more = offset + piece.len() < upper.len();
            let len = FRAGMENT_HEADER_LEN + piece.len();
            let Some(packet) = self.frame(sink, IPV6_HEADER_LEN + len, mac, EthernetProtocol::Ipv6)
            else {
                sent_all = false;
                break;
            };
            Ipv6Repr {
                next_header: next_header::FRAGMENT,
                payload_len: len,
                ..repr
            }
            .emit(packet);
            let header = &mut packet[IPV6_HEADER_LEN..IPV6_HEADER_LEN + FRAGMENT_HEADER_LEN];
            header[0] = repr.next_header;
            header[1] = 0;
            let field = ((offset / 8) as u16) << 3 | u16::from(more);
            header[2..4].copy_from_slice(&field.to_be_bytes());
            header[4..8].copy_from_slice(&ident.to_be_bytes());
            packet[IPV6_HEADER_LEN + FRAGMENT_HEADER_LEN..].copy_from_slice(piece);
            self.ipv6.tx_fragments += 1;
        }
        self.scratch = upper;
        if !sent_all {
            return Err(SendFailure::NoBuffer);
        }
        self.ipv6.tx_packets += 1;
        self.ipv6.tx_fragmented += 1;
        Ok(())
    }

    /// The neighbour to hand a packet for unicast `dst` to: `dst` itself
    /// when it is on-link (link-local, or inside our prefix), else the
    /// default router (`gateway6`, or one advertised and not expired).
    pub(super) fn next_hop6(&self, now: Instant, dst: Ipv6Addr) -> Option<Ipv6Addr> {
        let on_link =
            dst.is_unicast_link_local() || self.config.ip6.is_some_and(|cidr| cidr.contains(dst));
        if on_link {
            return Some(dst);
        }
        self.default_router6(now)
    }

    /// The default router in use at `now`, if any.
    pub fn default_router6(&self, now: Instant) -> Option<Ipv6Addr> {
        self.config.gateway6.or(self
            .learnt_router6
            .filter(|&(_, until)| now < until)
            .map(|(router, _)| router))
    }

    /// Our address to answer `peer` from: the link-local one for a
    /// link-local peer, the configured one otherwise.
    pub(super) fn source_for(&self, peer: Ipv6Addr) -> Ipv6Addr {
        match self.own.source_for(peer.into()) {
            Some(std::net::IpAddr::V6(source)) => source,
            // Nothing usable yet (detection still running): the link-local
            // address, as before it.
            _ => self.link_local,
        }
    }
}

/// Walks the extension headers from `first` over `payload`, which starts
/// `base` bytes into the packet whose next-header field at `first_field`
/// named `first`.
fn walk_extensions(
    first: u8,
    payload: &[u8],
    base: usize,
    first_field: usize,
) -> Result<Walked, Extension> {
    let (mut next, mut at, mut field) = (first, 0usize, first_field);
    for walked in 0..=MAX_EXTENSION_HEADERS {
        match next {
            next_header::HOP_BY_HOP | next_header::DESTINATION_OPTIONS | next_header::ROUTING => {
                if walked == MAX_EXTENSION_HEADERS
                    || (next == next_header::HOP_BY_HOP && walked > 0)
                {
                    return Err(Extension::Bad);
                }
                let header = payload.get(at..at + 2).ok_or(Extension::Truncated)?;
                let len = (usize::from(header[1]) + 1) * 8;
                let body = payload.get(at..at + len).ok_or(Extension::Truncated)?;
                if next == next_header::ROUTING {
                    // We know no routing type (RFC 5095 makes type 0 one
                    // of those): with no segments left the header is
                    // skipped, with some the packet is refused.
                    if body[3] > 0 {
                        return Err(Extension::Routing {
                            pointer: base + at + 2,
                        });
                    }
                } else {
                    check_options(&body[2..], base + at + 2)?;
                }
                next = header[0];
                field = base + at;
                at += len;
            }
            next_header::FRAGMENT => return Err(Extension::Fragment(at)),
            upper => {
                return Ok(Walked {
                    upper,
                    offset: at,
                    field,
                })
            }
        }
    }
    Err(Extension::Bad)
}

/// RFC 8200 4.2: the options of a hop-by-hop or destination options
/// header, which start at `pointer` in the packet. Pad1 and PadN are
/// skipped, and so is any other option whose two high type bits are 00;
/// another unknown option (we know none) stops the packet with its
/// action bits, and one running past the header is malformed.
fn check_options(mut options: &[u8], mut pointer: usize) -> Result<(), Extension> {
    while let Some((&kind, rest)) = options.split_first() {
        if kind == 0 {
            options = rest;
            pointer += 1;
            continue;
        }
        let (&len, data) = rest.split_first().ok_or(Extension::Bad)?;
        let after = data.get(usize::from(len)..).ok_or(Extension::Bad)?;
        if kind != 1 && kind >> 6 != 0 {
            return Err(Extension::Option {
                pointer,
                action: kind >> 6,
            });
        }
        pointer += 2 + usize::from(len);
        options = after;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(first: u8, payload: &[u8]) -> Result<Walked, Extension> {
        walk_extensions(first, payload, 40, 6)
    }

    #[test]
    fn extension_headers_are_walked_and_bounded() {
        // Destination options (PadN of 4) then ICMPv6, named at offset 40.
        let dest = [58u8, 0, 1, 4, 0, 0, 0, 0];
        assert!(matches!(
            walk(60, &dest),
            Ok(Walked {
                upper: 58,
                offset: 8,
                field: 40
            })
        ));
        assert!(matches!(
            walk(58, &[]),
            Ok(Walked {
                upper: 58,
                offset: 0,
                field: 6
            })
        ));
        // Hop-by-hop after another header is refused.
        let twice = [0u8, 0, 1, 4, 0, 0, 0, 0, 58, 0, 1, 4, 0, 0, 0, 0];
        assert!(matches!(walk(60, &twice), Err(Extension::Bad)));
        // A header longer than the packet.
        assert!(matches!(
            walk(60, &[58, 1, 1, 4, 0, 0, 0, 0]),
            Err(Extension::Truncated)
        ));
        assert!(matches!(walk(60, &[58]), Err(Extension::Truncated)));
        // Routing with segments left (type 0 or any): refused, pointing
        // at the routing type.
        for routing_type in [0u8, 4] {
            assert!(matches!(
                walk(43, &[58, 0, routing_type, 1, 0, 0, 0, 0]),
                Err(Extension::Routing { pointer: 42 })
            ));
            // ... and with none left, skipped (RFC 5095 included).
            assert!(matches!(
                walk(43, &[58, 0, routing_type, 0, 0, 0, 0, 0]),
                Ok(Walked { upper: 58, .. })
            ));
        }
        assert!(matches!(
            walk(44, &[58, 0, 0, 1, 0, 0, 0, 1]),
            Err(Extension::Fragment(0))
        ));
        assert!(matches!(
            walk(60, &[44, 0, 1, 4, 0, 0, 0, 0, 58, 0, 0, 1]),
            Err(Extension::Fragment(8))
        ));
        // A chain past the bound: nine destination-options headers.
        let mut chain = Vec::new();
        for _ in 0..9 {
            chain.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        assert!(matches!(walk(60, &chain), Err(Extension::Bad)));
    }

    #[test]
    fn unknown_options_follow_their_action_bits() {
        assert!(check_options(&[0, 0, 1, 2, 0, 0], 42).is_ok());
        // Type 0x1e (action 00): skipped.
        assert!(check_options(&[0x1e, 2, 9, 9, 0, 0], 42).is_ok());
        // After a Pad1, type 0x5e (action 01): discarded silently.
        assert!(matches!(
            check_options(&[0, 0x5e, 2, 9, 9, 0], 42),
            Err(Extension::Option {
                pointer: 43,
                action: 1
            })
        ));
        assert!(matches!(
            check_options(&[1, 0, 0xc2, 0, 0, 0], 42),
            Err(Extension::Option {
                pointer: 44,
                action: 3
            })
        ));
        // An option running past the header.
        assert!(matches!(check_options(&[1, 9, 0], 42), Err(Extension::Bad)));
        assert!(matches!(check_options(&[1], 42), Err(Extension::Bad)));
    }
}
