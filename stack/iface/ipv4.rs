//! IPv4 in and out: header validation with a counter per reason (RFC 791,
//! RFC 1122 3.2.1), reassembly, routing to the subnet or the gateway,
//! next-hop resolution, and fragmentation of datagrams over the MTU.

use super::reassembly::FragmentKey;
use super::Sockets;
use super::{FrameSink, Interface};
use crate::time::Instant;
use crate::wire::MacAddr;
use smoltcp::wire::{EthernetProtocol, IpProtocol, Ipv4Packet};
use std::net::Ipv4Addr;

/// Bytes of an IPv4 header without options (we never send options).
pub(super) const IPV4_HEADER_LEN: usize = 20;
/// TTL of the datagrams we send (Linux's default).
const DEFAULT_TTL: u8 = 64;

/// The header fields of a datagram to send.
#[derive(Debug, Clone, Copy)]
pub(super) struct IpFields {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub dont_fragment: bool,
}

/// What a transport protocol writes in its checksum field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransportChecksum {
    /// The whole checksum, computed in software.
    Full,
    /// Only the pseudo-header's sum (not complemented): the device
    /// completes it over the segment (checksum offload).
    PseudoHeaderOnly,
}

/// Why a datagram was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SendFailure {
    /// No route: off-subnet and no gateway.
    NoRoute,
    /// Larger than the MTU with DF set, or larger than 64 KiB.
    TooBig,
    /// No transmit buffer (already counted).
    NoBuffer,
}

impl Interface {
    /// True for the limited broadcast and our subnet's broadcast address.
    pub(super) fn is_broadcast(&self, ip: Ipv4Addr) -> bool {
        let cidr = self.config.ip;
        ip.is_broadcast()
            || (cidr.prefix_len <= 30
                && cidr.contains(ip)
                && u32::from(ip) | u32::from(cidr.netmask()) == u32::MAX)
    }

    pub(super) fn ipv4_input<S: FrameSink>(
        &mut self,
        now: Instant,
        payload: &[u8],
        link_broadcast: bool,
        sockets: &mut Sockets,
        sink: &mut S,
    ) {
        let stats = &mut self.ipv4;
        stats.rx_packets += 1;
        if self.rx_checksums != crate::buf::RxChecksums::default() {
            stats.rx_checksums_from_device += 1;
        }
        if payload.len() < IPV4_HEADER_LEN {
            stats.rx_truncated += 1;
            return;
        }
        let packet = Ipv4Packet::new_unchecked(payload);
        let header_len = usize::from(packet.header_len());
        let total_len = usize::from(packet.total_len());
        let verdict = if packet.version() != 4 {
            Some(&mut stats.rx_bad_version)
        } else if header_len < IPV4_HEADER_LEN {
            Some(&mut stats.rx_bad_header_len)
        } else if header_len > payload.len() {
            Some(&mut stats.rx_truncated)
        } else if total_len < header_len || total_len > payload.len() {
            Some(&mut stats.rx_bad_length)
        } else if !header_checksum_ok(self.rx_checksums.ip, &packet) {
            Some(&mut stats.rx_bad_checksum)
        } else if packet.hop_limit() == 0 {
            Some(&mut stats.rx_ttl_zero)
        } else {
            None
        };
        if let Some(counter) = verdict {
            *counter += 1;
            return;
        }
        // Frames may carry Ethernet padding after the datagram.
        let datagram = &payload[..total_len];
        let packet = Ipv4Packet::new_unchecked(datagram);
        let (src, dst) = (packet.src_addr(), packet.dst_addr());
        if src.is_broadcast() || src.is_multicast() || self.is_broadcast(src) {
            self.ipv4.rx_bad_source += 1;
            return;
        }
        let to_broadcast = self.is_broadcast(dst);
        if dst != self.ip() && !to_broadcast {
            self.ipv4.rx_not_for_us += 1;
            return;
        }
        let header = &datagram[..header_len];
        let body = &datagram[header_len..];
        let protocol = packet.next_header();
        if packet.more_frags() || packet.frag_offset() != 0 {
            let key = FragmentKey {
                src,
                dst,
                protocol: protocol.into(),
                ident: packet.ident(),
            };
            let offset = usize::from(packet.frag_offset());
            let whole =
                self.reassembler
                    .add(now, key, offset, packet.more_frags(), body, &mut self.ipv4);
            if let Some(whole) = whole {
                // A NIC's verdict on a fragment says nothing of the whole
                // datagram's transport checksum: it is verified here.
                self.rx_checksums.l4 = crate::buf::ChecksumVerdict::Unknown;
                self.deliver(
                    now,
                    header,
                    &whole,
                    to_broadcast || link_broadcast,
                    sockets,
                    sink,
                );
            }
            return;
        }
        self.deliver(
            now,
            header,
            body,
            to_broadcast || link_broadcast,
            sockets,
            sink,
        );
    }

    /// Hands a whole datagram to its protocol. `header` is the (last
    /// received) IP header, used for ICMP errors quoting the datagram.
    fn deliver<S: FrameSink>(
        &mut self,
        now: Instant,
        header: &[u8],
        body: &[u8],
        broadcast: bool,
        sockets: &mut Sockets,
        sink: &mut S,
    ) {
        let packet = Ipv4Packet::new_unchecked(header);
        let (src, dst) = (packet.src_addr(), packet.dst_addr());
        match packet.next_header() {
            IpProtocol::Icmp => {
                self.ipv4.rx_delivered += 1;
                self.icmp_input(now, src, broadcast, body, sockets, sink);
            }
            IpProtocol::Udp => {
                self.ipv4.rx_delivered += 1;
                let (src, dst) = (src.into(), dst.into());
                if self.udp_input(src, dst, broadcast, body, &mut sockets.udp) {
                    self.send_unreachable(now, sink, super::icmp::PORT_UNREACHABLE, header, body);
                }
            }
            IpProtocol::Tcp => {
                self.ipv4.rx_delivered += 1;
                let (src, dst) = (src.into(), dst.into());
                self.tcp_input(now, src, dst, broadcast, body, &mut sockets.tcp);
            }
            _ => {
                self.ipv4.rx_unknown_protocol += 1;
                if self.config.exception_path {
                    self.unclaimed();
                } else if !broadcast {
                    self.send_unreachable(
                        now,
                        sink,
                        super::icmp::PROTOCOL_UNREACHABLE,
                        header,
                        body,
                    );
                }
            }
        }
    }

    /// The next hop for `dst`: itself on the subnet, else the gateway.
    /// The next hop towards `dst`: itself on our subnet, else the gateway.
    pub fn next_hop_of(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.next_hop(dst)
    }

    pub(super) fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.config.ip.contains(dst) || dst.is_broadcast() {
            Some(dst)
        } else {
            self.config.gateway
        }
    }

    /// Sends a datagram of `payload_len` bytes of payload written by `fill`:
    /// routes it, resolves the next hop (queueing while ARP runs), and
    /// fragments it if it exceeds the MTU.
    pub(super) fn send_ip<S: FrameSink>(
        &mut self,
        now: Instant,
        sink: &mut S,
        fields: IpFields,
        payload_len: usize,
        fill: &mut dyn FnMut(&mut [u8], TransportChecksum),
    ) -> Result<(), SendFailure> {
        let total = IPV4_HEADER_LEN + payload_len;
        if total > usize::from(u16::MAX) || (fields.dont_fragment && total > self.config.mtu) {
            return Err(SendFailure::TooBig);
        }
        let Some(next_hop) = self.next_hop(fields.dst) else {
            self.ipv4.tx_no_route += 1;
            return Err(SendFailure::NoRoute);
        };
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        let mac = if self.is_broadcast(fields.dst) {
            Some(MacAddr::BROADCAST)
        } else {
            match self.arp.lookup(now, next_hop) {
                super::arp::Lookup::Found(mac) => Some(mac),
                super::arp::Lookup::FoundStale(mac) => {
                    self.send_arp_request(sink, next_hop, mac);
                    Some(mac)
                }
                super::arp::Lookup::Missing => None,
            }
        };
        match mac {
            Some(mac) if total <= self.config.mtu => {
                let offload = self.tx_checksums(fields.protocol);
                let datagram = self
                    .frame(sink, total, mac, EthernetProtocol::Ipv4)
                    .ok_or(SendFailure::NoBuffer)?;
                write_header(datagram, &fields, total, ident, false, 0, !offload.ip);
                let transport = if offload.tcp || offload.udp {
                    TransportChecksum::PseudoHeaderOnly
                } else {
                    TransportChecksum::Full
                };
                fill(&mut datagram[IPV4_HEADER_LEN..], transport);
                if offload != crate::buf::TxChecksums::default() {
                    sink.request_tx_checksums(offload);
                    self.ipv4.tx_checksums_to_device += 1;
                }
                self.ipv4.tx_packets += 1;
                Ok(())
            }
            _ => {
                // Built whole here (fragmented, or queued for ARP): every
                // checksum in software.
                let mut packet = std::mem::take(&mut self.scratch);
                packet.clear();
                packet.resize(total, 0);
                write_header(&mut packet, &fields, total, ident, false, 0, true);
                fill(&mut packet[IPV4_HEADER_LEN..], TransportChecksum::Full);
                let result = match mac {
                    Some(mac) => {
                        self.emit_ip_packet(sink, mac, &packet);
                        Ok(())
                    }
                    None => {
                        if self.arp.enqueue(now, next_hop, packet.clone()) {
                            self.send_arp_request(sink, next_hop, MacAddr::BROADCAST);
                        }
                        Ok(())
                    }
                };
                self.scratch = packet;
                result
            }
        }
    }

    /// The checksums the device fills in for a datagram of `protocol` in
    /// one frame (none when it offloads nothing).
    fn tx_checksums(&self, protocol: IpProtocol) -> crate::buf::TxChecksums {
        let offload = self.config.tx_offload;
        let tcp = offload.tx_tcp_checksum && protocol == IpProtocol::Tcp;
        let udp = offload.tx_udp_checksum && protocol == IpProtocol::Udp;
        if !(offload.tx_ipv4_checksum || tcp || udp) {
            return crate::buf::TxChecksums::default();
        }
        crate::buf::TxChecksums {
            ip: offload.tx_ipv4_checksum,
            tcp,
            udp,
            l2_len: super::ETHERNET_HEADER_LEN as u16,
            l3_len: IPV4_HEADER_LEN as u16,
        }
    }

    /// Emits a complete datagram we built (header without options), split
    /// into fragments if it exceeds the MTU.
    pub(super) fn emit_ip_packet<S: FrameSink>(
        &mut self,
        sink: &mut S,
        mac: MacAddr,
        packet: &[u8],
    ) {
        let mtu = self.config.mtu;
        if packet.len() <= mtu {
            if let Some(datagram) = self.frame(sink, packet.len(), mac, EthernetProtocol::Ipv4) {
                datagram.copy_from_slice(packet);
                self.ipv4.tx_packets += 1;
            }
            return;
        }
        let view = Ipv4Packet::new_unchecked(packet);
        let fields = IpFields {
            src: view.src_addr(),
            dst: view.dst_addr(),
            protocol: view.next_header(),
            dont_fragment: false,
        };
        let ident = view.ident();
        let payload = &packet[IPV4_HEADER_LEN..];
        // Every fragment but the last carries a multiple of 8 bytes (RFC 791).
        let per_fragment = (mtu - IPV4_HEADER_LEN) & !7;
        let mut offset = 0;
        while offset < payload.len() {
            let chunk = per_fragment.min(payload.len() - offset);
            let more = offset + chunk < payload.len();
            let total = IPV4_HEADER_LEN + chunk;
            let Some(datagram) = self.frame(sink, total, mac, EthernetProtocol::Ipv4) else {
                return;
            };
            write_header(datagram, &fields, total, ident, more, offset, true);
            datagram[IPV4_HEADER_LEN..].copy_from_slice(&payload[offset..offset + chunk]);
            self.ipv4.tx_fragments += 1;
            offset += chunk;
        }
        self.ipv4.tx_packets += 1;
        self.ipv4.tx_fragmented += 1;
    }
}

/// The header's checksum is right: the device's verdict when it gave one,
/// else computed here.
fn header_checksum_ok(verdict: crate::buf::ChecksumVerdict, packet: &Ipv4Packet<&[u8]>) -> bool {
    match verdict {
        crate::buf::ChecksumVerdict::Good => true,
        crate::buf::ChecksumVerdict::Bad => false,
        crate::buf::ChecksumVerdict::Unknown => packet.verify_checksum(),
    }
}

/// Writes a 20-byte IPv4 header at the start of `datagram`, with its
/// checksum (or 0 there, for the device to fill in). `offset` is the
/// fragment's offset in bytes (a multiple of 8). Built as ten 16-bit words
/// whose checksum is summed in registers as they are made: this runs for
/// every datagram, and field-by-field setters re-read each byte they
/// change and the checksum re-reads the header.
fn write_header(
    datagram: &mut [u8],
    fields: &IpFields,
    total: usize,
    ident: u16,
    more: bool,
    offset: usize,
    checksum: bool,
) {
    const VERSION_AND_LENGTH: u16 = 0x4500; // version 4, 5 words, DSCP and ECN 0
    let flags_and_offset = (u16::from(fields.dont_fragment) << 14)
        | (u16::from(more) << 13)
        | ((offset >> 3) as u16 & 0x1fff);
    let ttl_and_protocol = u16::from_be_bytes([DEFAULT_TTL, u8::from(fields.protocol)]);
    let (src, dst) = (u32::from(fields.src), u32::from(fields.dst));
    let words = [
        VERSION_AND_LENGTH,
        total as u16,
        ident,
        flags_and_offset,
        ttl_and_protocol,
    ];
    let sum = words.iter().map(|&word| u32::from(word)).sum::<u32>()
        + (src >> 16)
        + (src & 0xffff)
        + (dst >> 16)
        + (dst & 0xffff);
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    let field = if checksum { !(folded as u16) } else { 0 };
    let header: &mut [u8; IPV4_HEADER_LEN] = (&mut datagram[..IPV4_HEADER_LEN])
        .try_into()
        .expect("20 bytes");
    for (at, word) in words.into_iter().enumerate() {
        header[2 * at..2 * at + 2].copy_from_slice(&word.to_be_bytes());
    }
    header[10..12].copy_from_slice(&field.to_be_bytes());
    header[12..16].copy_from_slice(&src.to_be_bytes());
    header[16..20].copy_from_slice(&dst.to_be_bytes());
}

#[cfg(test)]
mod header_tests {
    use super::*;

    /// The header as smoltcp's field setters and checksum write it.
    fn by_setters(
        fields: &IpFields,
        total: usize,
        ident: u16,
        more: bool,
        offset: usize,
    ) -> Vec<u8> {
        let mut bytes = vec![0u8; IPV4_HEADER_LEN];
        let mut packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(4);
        packet.set_header_len(IPV4_HEADER_LEN as u8);
        packet.set_total_len(total as u16);
        packet.set_ident(ident);
        packet.set_dont_frag(fields.dont_fragment);
        packet.set_more_frags(more);
        packet.set_frag_offset(offset as u16);
        packet.set_hop_limit(DEFAULT_TTL);
        packet.set_next_header(fields.protocol);
        packet.set_src_addr(fields.src);
        packet.set_dst_addr(fields.dst);
        packet.fill_checksum();
        bytes
    }

    #[test]
    fn the_header_matches_smoltcps_setters_and_checksum() {
        let cases = [
            (
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 2),
                IpProtocol::Tcp,
                true,
                40,
                0,
                false,
                0,
            ),
            (
                Ipv4Addr::new(255, 255, 255, 255),
                Ipv4Addr::new(192, 168, 1, 200),
                IpProtocol::Udp,
                false,
                1500,
                0xffff,
                true,
                1480,
            ),
            (
                Ipv4Addr::new(0, 0, 0, 0),
                Ipv4Addr::new(224, 0, 0, 1),
                IpProtocol::Icmp,
                false,
                65_535,
                7,
                false,
                65_528,
            ),
            (
                Ipv4Addr::new(172, 16, 254, 3),
                Ipv4Addr::new(8, 8, 4, 4),
                IpProtocol::Tcp,
                true,
                20,
                0x8000,
                true,
                8,
            ),
        ];
        for (src, dst, protocol, dont_fragment, total, ident, more, offset) in cases {
            let fields = IpFields {
                src,
                dst,
                protocol,
                dont_fragment,
            };
            let mut written = vec![0xaau8; IPV4_HEADER_LEN + 4];
            write_header(&mut written, &fields, total, ident, more, offset, true);
            assert_eq!(
                written[..IPV4_HEADER_LEN],
                by_setters(&fields, total, ident, more, offset)[..]
            );
            assert_eq!(
                written[IPV4_HEADER_LEN..],
                [0xaa; 4],
                "nothing past the header"
            );
            assert!(Ipv4Packet::new_unchecked(&written[..IPV4_HEADER_LEN]).verify_checksum());
            write_header(&mut written, &fields, total, ident, more, offset, false);
            assert_eq!(written[10..12], [0, 0], "left for the device");
        }
    }
}
