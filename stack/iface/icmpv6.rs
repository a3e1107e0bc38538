//! ICMPv6 (RFC 4443) echo, errors and neighbour discovery (RFC 4861):
//! echo requests answered; errors about our TCP segments and UDP
//! datagrams passed to the connection or socket they concern (Packet Too
//! Big lowering a connection's path MTU, RFC 8201); neighbour solicitations for our addresses answered
//! with advertisements, their source link-layer address learnt;
//! advertisements update the neighbour cache; solicitations sent to
//! resolve a neighbour. Every neighbour discovery message is validated as
//! RFC 4861 7.1 asks (a hop limit of 255 proves it came from the link)
//! before it changes anything.

use super::dad::AddressState;
use super::ipv6::{DEFAULT_HOP_LIMIT, IPV6_MIN_MTU};
use super::{FrameSink, Interface, Sockets};
use crate::tcp::icmp::IcmpReport;
use crate::tcp::seq::SeqNumber;
use crate::tcp::TcpError;
use crate::time::Instant;
use crate::udp::UdpError;
use crate::wire::checksum;
use crate::wire::ipv6::{
    add_sums, next_header, solicited_node, Ipv6Repr, ALL_NODES, IPV6_HEADER_LEN,
};
use crate::wire::MacAddr;
use std::net::Ipv6Addr;

/// Error types (RFC 4443 3).
const DEST_UNREACHABLE: u8 = 1;
const PACKET_TOO_BIG: u8 = 2;
const TIME_EXCEEDED: u8 = 3;
const PARAMETER_PROBLEM: u8 = 4;
const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
const ROUTER_ADVERT: u8 = 134;
const NEIGHBOR_SOLICIT: u8 = 135;
const NEIGHBOR_ADVERT: u8 = 136;
/// Option types (RFC 4861 4.6.1).
const SOURCE_LINK_ADDR: u8 = 1;
const TARGET_LINK_ADDR: u8 = 2;
/// Bytes of a solicitation or advertisement before its options.
const ND_LEN: usize = 24;
/// Advertisement flags (RFC 4861 4.4).
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;
/// The hop limit every neighbour discovery message is sent with and must
/// arrive with.
const ND_HOP_LIMIT: u8 = 255;

/// Writes the ICMPv6 checksum of `message` (its checksum field zeroed
/// first) given the pseudo-header's sum.
pub(super) fn seal(message: &mut [u8], pseudo_header: u16) {
    message[2..4].fill(0);
    let sum = !add_sums(pseudo_header, checksum::data(message));
    message[2..4].copy_from_slice(&sum.to_be_bytes());
}

/// Writes a solicitation or advertisement (`kind` and its flags byte)
/// for `target` into `message` ([`ND_LEN`] bytes, 8 more with a
/// link-layer `option` of the given type), checksummed.
fn write_nd(
    message: &mut [u8],
    (kind, flags): (u8, u8),
    target: Ipv6Addr,
    option: Option<(u8, MacAddr)>,
    pseudo_header: u16,
) {
    message.fill(0);
    message[0] = kind;
    message[4] = flags;
    message[8..24].copy_from_slice(&target.octets());
    if let Some((option_kind, mac)) = option {
        message[24] = option_kind;
        message[25] = 1;
        message[26..32].copy_from_slice(&mac.0);
    }
    seal(message, pseudo_header);
}

/// RFC 4861 7.1's checks every neighbour discovery message shares: hop
/// limit 255 (proof it came from the link), code 0, at least `fixed_len`
/// bytes before the options, and no malformed option. `None` if they
/// fail; otherwise the link-layer address of the first `option` among
/// the options, if there is one.
fn nd_checked(
    ip: &Ipv6Repr,
    message: &[u8],
    fixed_len: usize,
    option: u8,
) -> Option<Option<MacAddr>> {
    if ip.hop_limit != ND_HOP_LIMIT || message[1] != 0 || message.len() < fixed_len {
        return None;
    }
    link_option(&message[fixed_len..], option).ok()
}

/// The target address of a solicitation or advertisement (at least
/// [`ND_LEN`] bytes).
fn target_of(message: &[u8]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&message[8..24]);
    Ipv6Addr::from(octets)
}

/// The link-layer address in the first option of `kind` among `options`;
/// `Err` if an option is malformed (zero length, or past the end).
fn link_option(mut options: &[u8], kind: u8) -> Result<Option<MacAddr>, ()> {
    let mut found = None;
    while !options.is_empty() {
        let len = usize::from(*options.get(1).ok_or(())?) * 8;
        if len == 0 {
            return Err(());
        }
        let option = options.get(..len).ok_or(())?;
        if option[0] == kind && found.is_none() && len >= 8 {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&option[2..8]);
            found = Some(MacAddr(mac));
        }
        options = &options[len..];
    }
    Ok(found)
}

impl Interface {
    pub(super) fn icmpv6_input<S: FrameSink>(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        src_mac: MacAddr,
        message: &[u8],
        sockets: &mut Sockets,
        sink: &mut S,
    ) {
        self.icmpv6.rx_messages += 1;
        let sum = add_sums(
            ip.pseudo_header_sum(next_header::ICMPV6, message.len()),
            checksum::data(message),
        );
        if message.len() < 4 || sum != 0xffff {
            self.icmpv6.rx_errors += 1;
            return;
        }
        match message[0] {
            ECHO_REQUEST if message.len() >= 8 && message[1] == 0 => {
                self.echo_request(now, ip, message, sink)
            }
            DEST_UNREACHABLE | PACKET_TOO_BIG | TIME_EXCEEDED | PARAMETER_PROBLEM
                if message.len() >= 8 =>
            {
                self.icmpv6_error_input(now, message, sockets)
            }
            NEIGHBOR_SOLICIT => self.neighbor_solicit(now, ip, src_mac, message, sink),
            NEIGHBOR_ADVERT => self.neighbor_advert(now, ip, message, sink),
            ROUTER_ADVERT => self.router_advert(now, ip, message, sink),
            _ => {
                self.icmpv6.rx_other += 1;
                self.unclaimed();
            }
        }
    }

    /// An ICMPv6 error quoting a packet we sent (RFC 4443 2.4 (b)): passed
    /// to the UDP socket or TCP connection it concerns. The quote must
    /// start with our TCP or UDP header right after the IPv6 header (a
    /// packet of ours carries no extension headers); anything else is
    /// counted and left.
    fn icmpv6_error_input(&mut self, now: Instant, message: &[u8], sockets: &mut Sockets) {
        let (kind, code) = (message[0], message[1]);
        let quote = &message[8..];
        let Ok(inner) = Ipv6Repr::parse_header(quote) else {
            self.icmpv6.rx_errors += 1;
            return;
        };
        let upper = &quote[IPV6_HEADER_LEN..];
        let transport = matches!(inner.next_header, next_header::TCP | next_header::UDP);
        if !self.is_our_ip6(inner.src) || !transport || upper.len() < 8 {
            self.icmpv6.rx_errors_ignored += 1;
            return;
        }
        self.icmpv6.rx_errors_received += 1;
        let local_port = u16::from_be_bytes([upper[0], upper[1]]);
        let remote_port = u16::from_be_bytes([upper[2], upper[3]]);
        let remote = std::net::SocketAddr::new(inner.dst.into(), remote_port);
        if inner.next_header == next_header::UDP {
            let error = match (kind, code) {
                (DEST_UNREACHABLE, 0) => UdpError::NetworkUnreachable,
                (DEST_UNREACHABLE, 4) => UdpError::ConnectionRefused,
                // The stack fragments datagrams over the MTU itself.
                (PACKET_TOO_BIG, _) => return,
                _ => UdpError::HostUnreachable,
            };
            sockets.udp.report_error(local_port, remote, error);
            return;
        }
        let seq = SeqNumber(u32::from_be_bytes([upper[4], upper[5], upper[6], upper[7]]));
        let report = match (kind, code) {
            (PACKET_TOO_BIG, _) => {
                let mtu = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
                IcmpReport::FragmentationNeeded {
                    // Less than the minimum MTU is taken as it (RFC 8201 4).
                    next_hop_mtu: mtu.clamp(IPV6_MIN_MTU as u32, u32::from(u16::MAX)) as u16,
                    quoted_len: (IPV6_HEADER_LEN + inner.payload_len).min(65_535) as u16,
                }
            }
            (DEST_UNREACHABLE, 0) => IcmpReport::Unreachable(TcpError::NetworkUnreachable),
            (DEST_UNREACHABLE, 4) => IcmpReport::Unreachable(TcpError::ConnectionRefused),
            _ => IcmpReport::Unreachable(TcpError::HostUnreachable),
        };
        let local = std::net::SocketAddr::new(inner.src.into(), local_port);
        sockets.tcp.icmp_error(now, local, remote, seq, report);
    }

    fn echo_request<S: FrameSink>(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        message: &[u8],
        sink: &mut S,
    ) {
        // RFC 4443 4.2: a reply to a multicast request comes from one of
        // our unicast addresses.
        let src = if ip.dst.is_multicast() {
            self.source_for(ip.src)
        } else {
            ip.dst
        };
        let header = (src, ip.src, next_header::ICMPV6, DEFAULT_HOP_LIMIT);
        let sent = self.send_ip6(now, sink, header, message.len(), |reply, pseudo| {
            reply.copy_from_slice(message);
            reply[0] = ECHO_REPLY;
            seal(reply, pseudo);
        });
        if sent.is_ok() {
            self.icmpv6.echo_replies_sent += 1;
        }
    }

    /// RFC 4861 7.1.1 validation, then 7.2.3: answer a solicitation for
    /// one of our addresses.
    fn neighbor_solicit<S: FrameSink>(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        src_mac: MacAddr,
        message: &[u8],
        sink: &mut S,
    ) {
        let Some(source_link) = nd_checked(ip, message, ND_LEN, SOURCE_LINK_ADDR) else {
            self.icmpv6.rx_nd_invalid += 1;
            return;
        };
        let target = target_of(message);
        let from_unspecified = ip.src.is_unspecified();
        if target.is_multicast()
            || (from_unspecified && (ip.dst != solicited_node(target) || source_link.is_some()))
        {
            self.icmpv6.rx_nd_invalid += 1;
            return;
        }
        self.icmpv6.rx_neighbor_solicits += 1;
        match self.dad.state(target) {
            None => {
                // For another host (or the kernel's own address): not ours.
                self.unclaimed();
                return;
            }
            Some(AddressState::Tentative) => {
                // RFC 4862 5.4.3: another node probing the address we are
                // probing has it too; any other solicitation is ignored.
                if from_unspecified && self.dad.conflict(target) {
                    self.icmpv6.dad_duplicates += 1;
                    self.refresh_own();
                }
                return;
            }
            Some(AddressState::Duplicate) => return,
            Some(AddressState::Preferred) => {}
        }
        // A neighbour checking the address is free (duplicate address
        // detection) gets the answer on all-nodes; anyone else directly.
        let (dst, flags) = if from_unspecified {
            (ALL_NODES, FLAG_OVERRIDE)
        } else {
            if let Some(mac) = source_link {
                self.neighbors.learn_unconfirmed(now, ip.src, mac);
            } else if ip.dst == target {
                // A unicast solicitation (reachability probe) needs no
                // option: the frame's source is the neighbour's address.
                self.neighbors.learn_unconfirmed(now, ip.src, src_mac);
            }
            self.flush_queued6(sink, ip.src);
            (ip.src, FLAG_SOLICITED | FLAG_OVERRIDE)
        };
        let option = Some((TARGET_LINK_ADDR, self.config.mac));
        let header = (target, dst, next_header::ICMPV6, ND_HOP_LIMIT);
        if self
            .send_ip6(now, sink, header, ND_LEN + 8, |advert, pseudo| {
                write_nd(advert, (NEIGHBOR_ADVERT, flags), target, option, pseudo)
            })
            .is_ok()
        {
            self.icmpv6.tx_neighbor_adverts += 1;
        }
    }

    /// RFC 4861 7.1.2 validation, then 7.2.5: update the cache.
    fn neighbor_advert<S: FrameSink>(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        message: &[u8],
        sink: &mut S,
    ) {
        let Some(target_link) = nd_checked(ip, message, ND_LEN, TARGET_LINK_ADDR) else {
            self.icmpv6.rx_nd_invalid += 1;
            return;
        };
        let target = target_of(message);
        let solicited = message[4] & FLAG_SOLICITED != 0;
        if target.is_multicast() || (ip.dst.is_multicast() && solicited) {
            self.icmpv6.rx_nd_invalid += 1;
            return;
        }
        self.icmpv6.rx_neighbor_adverts += 1;
        if self.dad.state(target).is_some() {
            // Someone else claims our address: while we probe it, it is
            // theirs (RFC 4862 5.4.4); after, it is only counted.
            if self.dad.conflict(target) {
                self.icmpv6.dad_duplicates += 1;
                self.refresh_own();
            } else {
                self.icmpv6.rx_address_conflicts += 1;
            }
            return;
        }
        let override_flag = message[4] & FLAG_OVERRIDE != 0;
        self.neighbors
            .advertised(now, target, target_link, solicited, override_flag);
        self.flush_queued6(sink, target);
        self.unclaimed();
    }

    /// RFC 4861 6.1.2 validation, then 6.3.4 for the default router: with
    /// `accept_ra`, a router advertising a lifetime becomes the default
    /// router until it ends (a configured `gateway6` still wins), one
    /// advertising 0 stops being it; its link-layer address is learnt.
    /// Prefixes, MTU and SLAAC are not taken.
    fn router_advert<S: FrameSink>(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        message: &[u8],
        sink: &mut S,
    ) {
        const RA_LEN: usize = 16;
        let checked = nd_checked(ip, message, RA_LEN, SOURCE_LINK_ADDR);
        let Some(source_link) = checked.filter(|_| ip.src.is_unicast_link_local()) else {
            self.icmpv6.rx_nd_invalid += 1;
            return;
        };
        self.icmpv6.rx_router_adverts += 1;
        // The kernel may want it too (its own router list).
        self.unclaimed();
        if !self.config.accept_ra {
            return;
        }
        if let Some(mac) = source_link {
            self.neighbors.learn_unconfirmed(now, ip.src, mac);
            self.flush_queued6(sink, ip.src);
        }
        let lifetime = u16::from_be_bytes([message[6], message[7]]);
        if lifetime > 0 {
            let until = now + crate::time::Duration::from_secs(u64::from(lifetime));
            self.learnt_router6 = Some((ip.src, until));
        } else if self
            .learnt_router6
            .is_some_and(|(router, _)| router == ip.src)
        {
            self.learnt_router6 = None;
        }
    }

    /// Sends a duplicate address detection probe for our tentative
    /// address `target` (RFC 4862 5.4.2): from the unspecified address,
    /// to its solicited-node group, without a link-layer option.
    pub(super) fn send_dad_probe<S: FrameSink>(
        &mut self,
        now: Instant,
        sink: &mut S,
        target: Ipv6Addr,
    ) {
        let header = (
            Ipv6Addr::UNSPECIFIED,
            solicited_node(target),
            next_header::ICMPV6,
            ND_HOP_LIMIT,
        );
        if self
            .send_ip6(now, sink, header, ND_LEN, |solicit, pseudo| {
                write_nd(solicit, (NEIGHBOR_SOLICIT, 0), target, None, pseudo)
            })
            .is_ok()
        {
            self.icmpv6.dad_probes_sent += 1;
        }
    }

    /// Sends a solicitation for `target` to its solicited-node group
    /// (RFC 4861 7.2.2), with our link-layer address.
    pub(super) fn send_neighbor_solicit<S: FrameSink>(
        &mut self,
        now: Instant,
        sink: &mut S,
        target: Ipv6Addr,
    ) {
        let src = self.source_for(target);
        let header = (
            src,
            solicited_node(target),
            next_header::ICMPV6,
            ND_HOP_LIMIT,
        );
        let option = Some((SOURCE_LINK_ADDR, self.config.mac));
        if self
            .send_ip6(now, sink, header, ND_LEN + 8, |solicit, pseudo| {
                write_nd(solicit, (NEIGHBOR_SOLICIT, 0), target, option, pseudo)
            })
            .is_ok()
        {
            self.icmpv6.tx_neighbor_solicits += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_options_are_found_and_checked() {
        let slla = [1u8, 1, 2, 0, 0, 0, 0, 7];
        assert_eq!(
            link_option(&slla, SOURCE_LINK_ADDR),
            Ok(Some(MacAddr([2, 0, 0, 0, 0, 7])))
        );
        assert_eq!(link_option(&slla, TARGET_LINK_ADDR), Ok(None));
        assert_eq!(link_option(&[1, 0, 0, 0], SOURCE_LINK_ADDR), Err(()));
        assert_eq!(link_option(&[1, 2, 0, 0, 0, 0, 0, 0], 1), Err(()));
        assert_eq!(link_option(&[1], 1), Err(()));
        assert_eq!(link_option(&[], 1), Ok(None));
    }
}
