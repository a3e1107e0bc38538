//! ICMP (RFC 792, RFC 1122 3.2.2): echo replies, destination-unreachable
//! errors we send (rate-limited) and receive (destination unreachable and
//! time exceeded, passed to the UDP socket or TCP connection they concern).

use super::ipv4::TransportChecksum;
use super::ipv4::{IpFields, IPV4_HEADER_LEN};
use super::Sockets;
use super::{FrameSink, Interface};
use crate::tcp::icmp::IcmpReport;
use crate::tcp::seq::SeqNumber;
use crate::tcp::TcpError;
use crate::time::Instant;
use crate::udp::UdpError;
use smoltcp::wire::{checksum, IpProtocol, Ipv4Packet};
use std::net::{Ipv4Addr, SocketAddr};

const ECHO_REPLY: u8 = 0;
const DEST_UNREACHABLE: u8 = 3;
const ECHO_REQUEST: u8 = 8;
const TIME_EXCEEDED: u8 = 11;
/// Destination unreachable, code 4: fragmentation needed and DF set.
const FRAGMENTATION_NEEDED: u8 = 4;
/// Destination unreachable, code 2.
pub(super) const PROTOCOL_UNREACHABLE: u8 = 2;
/// Destination unreachable, code 3.
pub(super) const PORT_UNREACHABLE: u8 = 3;
const ICMP_HEADER_LEN: usize = 8;
/// An error quotes the offending datagram up to a 576-byte message (RFC 1812 4.3.2.3).
const MAX_QUOTE: usize = 576 - IPV4_HEADER_LEN - ICMP_HEADER_LEN;

/// Maps an unreachable code to the error a TCP connection reports (as
/// Linux's icmp_err_convert).
fn tcp_error(code: u8) -> TcpError {
    match code {
        0 | 6 | 9 | 11 => TcpError::NetworkUnreachable,
        2 | 3 => TcpError::ConnectionRefused,
        _ => TcpError::HostUnreachable,
    }
}

/// Maps an unreachable code to the error a socket reports (as Linux's icmp_err_convert).
fn unreachable_error(code: u8) -> UdpError {
    match code {
        0 | 6 | 9 | 11 => UdpError::NetworkUnreachable,
        2 | 3 => UdpError::ConnectionRefused,
        4 => UdpError::MessageTooLong,
        _ => UdpError::HostUnreachable,
    }
}

impl Interface {
    /// Header fields of an ICMP message from us to `dst`.
    fn icmp_fields(&self, dst: Ipv4Addr) -> IpFields {
        IpFields {
            src: self.ip(),
            dst,
            protocol: IpProtocol::Icmp,
            dont_fragment: false,
        }
    }

    pub(super) fn icmp_input<S: FrameSink>(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        broadcast: bool,
        message: &[u8],
        sockets: &mut Sockets,
        sink: &mut S,
    ) {
        self.icmp.rx_messages += 1;
        if message.len() < ICMP_HEADER_LEN || checksum::data(message) != !0 {
            self.icmp.rx_errors += 1;
            return;
        }
        match message[0] {
            ECHO_REQUEST if broadcast => self.icmp.echo_broadcast_ignored += 1,
            ECHO_REQUEST => {
                let fields = self.icmp_fields(src);
                let mut fill = |reply: &mut [u8], _: TransportChecksum| {
                    reply.copy_from_slice(message);
                    reply[0] = ECHO_REPLY;
                    reply[1] = 0;
                    reply[2..4].fill(0);
                    let sum = !checksum::data(reply);
                    reply[2..4].copy_from_slice(&sum.to_be_bytes());
                };
                if self
                    .send_ip(now, sink, fields, message.len(), &mut fill)
                    .is_ok()
                {
                    self.icmp.echo_replies_sent += 1;
                }
            }
            DEST_UNREACHABLE | TIME_EXCEEDED => {
                if message[0] == DEST_UNREACHABLE {
                    self.icmp.rx_dest_unreachable += 1;
                }
                let rest = [message[4], message[5], message[6], message[7]];
                let quote = &message[ICMP_HEADER_LEN..];
                self.error_input(now, (message[0], message[1], rest), quote, sockets);
                // It may be about a connection of the kernel's instead: both
                // look, and neither answers an error.
                if self.config.exception_path {
                    self.disposition = super::Disposition::Both;
                }
            }
            // Echo replies (the kernel's pings) and the rest.
            _ => {
                self.unclaimed();
            }
        }
    }

    /// Passes an error (`icmp_type`, `code`, the header's last four bytes
    /// `rest`) about a datagram we sent (quoted in `quote`) to the UDP
    /// socket or TCP connection that sent it.
    fn error_input(
        &mut self,
        now: Instant,
        (icmp_type, code, rest): (u8, u8, [u8; 4]),
        quote: &[u8],
        sockets: &mut Sockets,
    ) {
        // Quotes are usually cut after 8 bytes of payload, so only the
        // header is checked, not the total length.
        let inner = Ipv4Packet::new_unchecked(quote);
        if quote.len() < IPV4_HEADER_LEN || usize::from(inner.header_len()) < IPV4_HEADER_LEN {
            self.icmp.rx_errors += 1;
            return;
        }
        let header_len = usize::from(inner.header_len());
        let Some(ports) = quote.get(header_len..header_len + 4) else {
            self.icmp.rx_errors += 1;
            return;
        };
        if inner.src_addr() != self.ip() {
            return;
        }
        let local_port = u16::from_be_bytes([ports[0], ports[1]]);
        let remote = SocketAddr::new(
            inner.dst_addr().into(),
            u16::from_be_bytes([ports[2], ports[3]]),
        );
        match inner.next_header() {
            IpProtocol::Udp if icmp_type == DEST_UNREACHABLE => {
                sockets
                    .udp
                    .report_error(local_port, remote, unreachable_error(code));
            }
            IpProtocol::Tcp => {
                // RFC 792 quotes at least 8 bytes: the ports and our
                // sequence number, which RFC 5927 checks.
                let Some(seq) = quote.get(header_len + 4..header_len + 8) else {
                    self.icmp.rx_errors += 1;
                    return;
                };
                let seq = SeqNumber(u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]]));
                let report = match (icmp_type, code) {
                    (DEST_UNREACHABLE, FRAGMENTATION_NEEDED) => IcmpReport::FragmentationNeeded {
                        next_hop_mtu: u16::from_be_bytes([rest[2], rest[3]]),
                        quoted_len: inner.total_len(),
                    },
                    (DEST_UNREACHABLE, code) => IcmpReport::Unreachable(tcp_error(code)),
                    _ => IcmpReport::Unreachable(TcpError::HostUnreachable),
                };
                let local = SocketAddr::new(self.ip().into(), local_port);
                sockets.tcp.icmp_error(now, local, remote, seq, report);
            }
            _ => {}
        }
    }

    /// Sends destination unreachable (`code`) about the datagram with IP
    /// header `header` and payload `body`, unless RFC 1122 3.2.2 forbids it
    /// or the rate limit is spent.
    pub(super) fn send_unreachable<S: FrameSink>(
        &mut self,
        now: Instant,
        sink: &mut S,
        code: u8,
        header: &[u8],
        body: &[u8],
    ) {
        let original = Ipv4Packet::new_unchecked(header);
        let src = original.src_addr();
        if src.is_unspecified() || original.frag_offset() != 0 {
            return;
        }
        if original.next_header() == IpProtocol::Icmp
            && body
                .first()
                .is_some_and(|t| ![ECHO_REQUEST, ECHO_REPLY].contains(t))
        {
            return;
        }
        if !self.icmp_errors.take(now) {
            self.icmp.rate_limited += 1;
            return;
        }
        let quoted_body = body.len().min(MAX_QUOTE.saturating_sub(header.len()));
        let len = ICMP_HEADER_LEN + header.len() + quoted_body;
        let fields = self.icmp_fields(src);
        let mut fill = |message: &mut [u8], _: TransportChecksum| {
            message[..ICMP_HEADER_LEN].fill(0);
            message[0] = DEST_UNREACHABLE;
            message[1] = code;
            let quote = &mut message[ICMP_HEADER_LEN..];
            quote[..header.len()].copy_from_slice(header);
            quote[header.len()..].copy_from_slice(&body[..quoted_body]);
            // A reassembled datagram is quoted whole, not as its last fragment.
            let mut quoted = Ipv4Packet::new_unchecked(&mut quote[..header.len()]);
            quoted.set_total_len((header.len() + body.len()).min(usize::from(u16::MAX)) as u16);
            quoted.clear_flags();
            quoted.set_frag_offset(0);
            quoted.fill_checksum();
            let sum = !checksum::data(message);
            message[2..4].copy_from_slice(&sum.to_be_bytes());
        };
        if self.send_ip(now, sink, fields, len, &mut fill).is_ok() {
            self.icmp.tx_dest_unreachable += 1;
        }
    }
}
