//! UDP on the wire (RFC 768) over IPv4 and IPv6: checksum,
//! demultiplexing to sockets, port unreachable for closed ports (sent by
//! the IP layer of the datagram's family), and sending what sockets queued. TCP on
//! the wire: validation with a counter per reason before the connections
//! see a segment, and their segments out through IP.

use super::ipv4::TransportChecksum;
use super::ipv4::{IpFields, SendFailure};
use super::ipv6::DEFAULT_HOP_LIMIT;
use super::{FrameSink, Interface};
use crate::buf::ChecksumVerdict;
use crate::tcp::segment::{self, SegmentError};
use crate::tcp::TcpSockets;
use crate::time::Instant;
use crate::udp::UdpSockets;
use crate::wire::checksum::{self, add_sums, pseudo_header};
use crate::wire::ipv6::next_header;
use smoltcp::wire::{IpProtocol, UdpPacket};
use std::net::{IpAddr, SocketAddr};

const UDP_HEADER_LEN: usize = 8;

impl Interface {
    /// Delivers a UDP datagram from `src` to `dst` (one of ours, or an
    /// IPv4 broadcast when `broadcast`). True when no socket took it and
    /// the caller should answer with its family's port unreachable.
    pub(super) fn udp_input(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        broadcast: bool,
        body: &[u8],
        udp: &mut UdpSockets,
    ) -> bool {
        let Ok(packet) = UdpPacket::new_checked(body) else {
            self.udp.rx_errors += 1;
            return false;
        };
        let datagram = &body[..usize::from(packet.len())];
        let checksum_ok = match self.rx_checksums.l4 {
            ChecksumVerdict::Good => true,
            ChecksumVerdict::Bad => false,
            // A zero checksum means the sender computed none (RFC 768),
            // which IPv6 does not allow (RFC 8200 8.1).
            ChecksumVerdict::Unknown if packet.checksum() == 0 => src.is_ipv4(),
            ChecksumVerdict::Unknown => {
                let pseudo = pseudo_header(src, dst, next_header::UDP, datagram.len());
                add_sums(pseudo, checksum::data(datagram)) == !0
            }
        };
        if !checksum_ok {
            self.udp.rx_errors += 1;
            return false;
        }
        if self.kernel_port(packet.dst_port()) {
            self.unclaimed();
            return false;
        }
        let local = SocketAddr::new(dst, packet.dst_port());
        let remote = SocketAddr::new(src, packet.src_port());
        match udp.deliver(local, remote, packet.payload()) {
            Ok(()) => self.udp.rx_datagrams += 1,
            Err(Some(())) => self.udp.rx_queue_full += 1,
            Err(None) => {
                self.udp.rx_no_port += 1;
                if self.config.exception_path {
                    self.unclaimed();
                } else {
                    return !broadcast;
                }
            }
        }
        false
    }

    /// Validates a TCP segment (each failure counted by reason) and hands
    /// it to the connections. TCP is unicast only: segments to a broadcast
    /// address are dropped.
    #[inline]
    pub(super) fn tcp_input(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        broadcast: bool,
        body: &[u8],
        tcp: &mut TcpSockets,
    ) {
        let stats = tcp.stats_mut();
        stats.rx_segments += 1;
        let seg = match segment::parse_checked(src, dst, body, self.rx_checksums.l4) {
            Ok(seg) => seg,
            Err(error) => {
                *match error {
                    SegmentError::Truncated => &mut stats.rx_truncated,
                    SegmentError::BadDataOffset => &mut stats.rx_bad_offset,
                    SegmentError::BadChecksum => &mut stats.rx_bad_checksum,
                    SegmentError::BadOptions => &mut stats.rx_bad_options,
                    SegmentError::BadFlags => &mut stats.rx_bad_flags,
                } += 1;
                return;
            }
        };
        if broadcast {
            stats.rx_closed_port += 1;
            return;
        }
        if self.kernel_port(seg.dst_port) || !tcp.input(now, src, dst, &seg) {
            self.unclaimed();
        }
    }

    /// Sends the segments connections have ready, until transmit buffers run out.
    pub(super) fn tcp_output<S: FrameSink>(
        &mut self,
        now: Instant,
        tcp: &mut TcpSockets,
        sink: &mut S,
    ) {
        tcp.drain_output(now, |out| {
            let sent = match (&out.local, &out.remote) {
                (SocketAddr::V4(local), SocketAddr::V4(remote)) => {
                    let fields = IpFields {
                        src: *local.ip(),
                        dst: *remote.ip(),
                        protocol: IpProtocol::Tcp,
                        dont_fragment: true,
                    };
                    self.send_ip(now, sink, fields, out.len(), &mut |segment, checksum| {
                        out.write(segment, checksum == TransportChecksum::PseudoHeaderOnly)
                    })
                }
                (SocketAddr::V6(local), SocketAddr::V6(remote)) => {
                    let header = (
                        *local.ip(),
                        *remote.ip(),
                        next_header::TCP,
                        DEFAULT_HOP_LIMIT,
                    );
                    self.send_ip6(now, sink, header, out.len(), |segment, _| {
                        out.write(segment, false)
                    })
                }
                _ => Err(SendFailure::NoRoute),
            };
            match sent {
                Ok(()) => true,
                Err(SendFailure::NoBuffer) => false,
                // Counted by IP; the connection's timers recover or give up.
                Err(SendFailure::NoRoute | SendFailure::TooBig) => true,
            }
        });
    }

    /// Sends the datagrams sockets queued, until transmit buffers run out.
    pub(super) fn udp_output<S: FrameSink>(
        &mut self,
        now: Instant,
        udp: &mut UdpSockets,
        sink: &mut S,
    ) {
        if !udp.has_outgoing() {
            return;
        }
        let own = self.own;
        udp.drain_outgoing(own, |out| {
            let (head, tail) = out.payload;
            let len = UDP_HEADER_LEN + head.len() + tail.len();
            let (src, dst) = (out.local.ip(), out.remote.ip());
            let mut fill = |datagram: &mut [u8], transport: TransportChecksum| {
                datagram[0..2].copy_from_slice(&out.local.port().to_be_bytes());
                datagram[2..4].copy_from_slice(&out.remote.port().to_be_bytes());
                datagram[4..6].copy_from_slice(&(len as u16).to_be_bytes());
                datagram[6..8].fill(0);
                datagram[UDP_HEADER_LEN..UDP_HEADER_LEN + head.len()].copy_from_slice(head);
                datagram[UDP_HEADER_LEN + head.len()..].copy_from_slice(tail);
                let pseudo = pseudo_header(src, dst, next_header::UDP, len);
                let sum = match transport {
                    // The device adds the datagram to the pseudo-header's sum.
                    TransportChecksum::PseudoHeaderOnly => pseudo,
                    TransportChecksum::Full => {
                        let sum = !add_sums(pseudo, checksum::data(datagram));
                        // An all-zero result is sent as all ones (RFC 768).
                        if sum == 0 {
                            0xffff
                        } else {
                            sum
                        }
                    }
                };
                datagram[6..8].copy_from_slice(&sum.to_be_bytes());
            };
            let sent = match (src, dst) {
                (IpAddr::V4(src), IpAddr::V4(dst)) => {
                    let fields = IpFields {
                        src,
                        dst,
                        protocol: IpProtocol::Udp,
                        dont_fragment: out.dont_fragment,
                    };
                    self.send_ip(now, sink, fields, len, &mut fill)
                }
                (IpAddr::V6(src), IpAddr::V6(dst)) if !src.is_unspecified() => {
                    let header = (src, dst, next_header::UDP, DEFAULT_HOP_LIMIT);
                    self.send_ip6(now, sink, header, len, |datagram, _| {
                        fill(datagram, TransportChecksum::Full)
                    })
                }
                _ => Err(SendFailure::NoRoute),
            };
            match sent {
                Ok(()) => {
                    self.udp.tx_datagrams += 1;
                    true
                }
                Err(SendFailure::NoBuffer) => false,
                Err(SendFailure::NoRoute | SendFailure::TooBig) => {
                    self.udp.tx_dropped += 1;
                    true
                }
            }
        });
    }
}
