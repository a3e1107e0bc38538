//! IPv6 on the wire (RFC 8200): the fixed header's parse/emit `Repr`, an
//! address with its prefix (`ADDR/LEN`), and the addresses derived from
//! others: the link-local address of a MAC (RFC 4291 2.5.1, modified
//! EUI-64), the solicited-node group of an address (RFC 4291 2.7.1) and
//! the Ethernet group a multicast address maps to (RFC 2464 7).

use super::MacAddr;
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// Bytes of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;

/// Next-header values this stack walks or delivers (IANA protocol numbers).
pub mod next_header {
    /// Hop-by-hop options (only right after the fixed header).
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// Routing header.
    pub const ROUTING: u8 = 43;
    /// Fragment header.
    pub const FRAGMENT: u8 = 44;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// No next header.
    pub const NONE: u8 = 59;
    /// Destination options.
    pub const DESTINATION_OPTIONS: u8 = 60;
}

/// Why bytes are not an IPv6 packet we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Error {
    /// Shorter than the fixed header, or than its payload length says.
    Truncated,
    /// The version field is not 6.
    BadVersion,
}

/// The fixed IPv6 header's fields (traffic class and flow label are
/// emitted as zero and ignored on receipt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// The header that follows (an extension header or the upper layer).
    pub next_header: u8,
    /// Hops left.
    pub hop_limit: u8,
    /// Bytes after the fixed header (extension headers and upper layer).
    pub payload_len: usize,
}

impl Ipv6Repr {
    /// Reads the fixed header of `packet`; returns it and the payload (as
    /// long as the header's payload length says: link-layer padding after
    /// it is left out).
    pub fn parse(packet: &[u8]) -> Result<(Ipv6Repr, &[u8]), Ipv6Error> {
        let repr = Self::parse_header(packet)?;
        let payload = packet
            .get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + repr.payload_len)
            .ok_or(Ipv6Error::Truncated)?;
        Ok((repr, payload))
    }

    /// Reads only the fixed header of `packet`, whatever follows it: for
    /// the packet an ICMPv6 error quotes, which is cut short.
    pub fn parse_header(packet: &[u8]) -> Result<Ipv6Repr, Ipv6Error> {
        let header = packet.get(..IPV6_HEADER_LEN).ok_or(Ipv6Error::Truncated)?;
        if header[0] >> 4 != 6 {
            return Err(Ipv6Error::BadVersion);
        }
        let address = |at: usize| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&header[at..at + 16]);
            Ipv6Addr::from(octets)
        };
        Ok(Ipv6Repr {
            src: address(8),
            dst: address(24),
            next_header: header[6],
            hop_limit: header[7],
            payload_len: usize::from(u16::from_be_bytes([header[4], header[5]])),
        })
    }

    /// Writes the fixed header into the first [`IPV6_HEADER_LEN`] bytes of
    /// `buf` (which must hold them). A payload length past 65,535 is not
    /// representable without a jumbogram and is written as 65,535.
    pub fn emit(&self, buf: &mut [u8]) {
        let header = &mut buf[..IPV6_HEADER_LEN];
        header[..4].copy_from_slice(&[0x60, 0, 0, 0]);
        let len = u16::try_from(self.payload_len).unwrap_or(u16::MAX);
        header[4..6].copy_from_slice(&len.to_be_bytes());
        header[6] = self.next_header;
        header[7] = self.hop_limit;
        header[8..24].copy_from_slice(&self.src.octets());
        header[24..40].copy_from_slice(&self.dst.octets());
    }

    /// The ones'-complement sum of the upper-layer pseudo-header (RFC 8200
    /// 8.1) for `upper_len` bytes of `next_header` between these
    /// addresses, not complemented: add the upper layer's own sum to it.
    pub fn pseudo_header_sum(&self, next_header: u8, upper_len: usize) -> u16 {
        super::checksum::pseudo_header(self.src.into(), self.dst.into(), next_header, upper_len)
    }
}

pub use super::checksum::add_sums;

/// The link-local address (fe80::/64) of an interface with MAC `mac`:
/// the interface identifier is the modified EUI-64 (RFC 4291 2.5.1,
/// appendix A): ff:fe in the middle, the universal/local bit inverted.
pub fn link_local_from_mac(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

/// The solicited-node multicast group of `addr`: ff02::1:ff00:0/104 with
/// the address's low 24 bits (RFC 4291 2.7.1).
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// The all-nodes link-local multicast group ff02::1.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The Ethernet group address an IPv6 multicast address is sent to:
/// 33:33 and the address's low 32 bits (RFC 2464 7).
pub fn multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// An interface's IPv6 address and the length of its on-link prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Cidr {
    /// The address.
    pub addr: Ipv6Addr,
    /// Prefix length in bits, 0 to 128.
    pub prefix_len: u8,
}

impl Ipv6Cidr {
    /// True when `other` is inside this address's prefix.
    pub fn contains(&self, other: Ipv6Addr) -> bool {
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.prefix_len))
            .unwrap_or(0);
        u128::from(self.addr) & mask == u128::from(other) & mask
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Error for a string that is not `ADDR/LEN` with an IPv6 unicast ADDR and
/// LEN at most 128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseCidr6Error;

impl fmt::Display for ParseCidr6Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected an IPv6 unicast address with prefix length like fd00::2/64")
    }
}

impl std::error::Error for ParseCidr6Error {}

impl FromStr for Ipv6Cidr {
    type Err = ParseCidr6Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(ParseCidr6Error)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| ParseCidr6Error)?;
        let prefix_len: u8 = len.parse().map_err(|_| ParseCidr6Error)?;
        if prefix_len > 128 || addr.is_multicast() || addr.is_unspecified() || addr.is_loopback() {
            return Err(ParseCidr6Error);
        }
        Ok(Ipv6Cidr { addr, prefix_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_bad_input() {
        let repr = Ipv6Repr {
            src: "fe80::1".parse().unwrap(),
            dst: "ff02::1:ff00:2".parse().unwrap(),
            next_header: next_header::ICMPV6,
            hop_limit: 255,
            payload_len: 4,
        };
        let mut packet = vec![0u8; IPV6_HEADER_LEN + 4 + 2];
        repr.emit(&mut packet);
        packet[IPV6_HEADER_LEN..IPV6_HEADER_LEN + 4].copy_from_slice(b"ping");
        let (parsed, payload) = Ipv6Repr::parse(&packet).unwrap();
        assert_eq!(parsed, repr);
        assert_eq!(payload, b"ping", "padding after the payload is left out");
        assert_eq!(
            Ipv6Repr::parse(&packet[..IPV6_HEADER_LEN + 3]),
            Err(Ipv6Error::Truncated)
        );
        assert_eq!(Ipv6Repr::parse(&packet[..39]), Err(Ipv6Error::Truncated));
        packet[0] = 0x45;
        assert_eq!(Ipv6Repr::parse(&packet), Err(Ipv6Error::BadVersion));
    }

    #[test]
    fn derived_addresses_follow_the_rfcs() {
        let mac = MacAddr([0x02, 0xdd, 0, 0, 0, 0x02]);
        // RFC 4291 appendix A: the U/L bit inverted, ff:fe inserted.
        assert_eq!(
            link_local_from_mac(mac),
            "fe80::dd:ff:fe00:2".parse::<Ipv6Addr>().unwrap()
        );
        let addr: Ipv6Addr = "fd00:78::12:3456".parse().unwrap();
        assert_eq!(
            solicited_node(addr),
            "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            multicast_mac(solicited_node(addr)),
            MacAddr([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
    }

    #[test]
    fn pseudo_header_matches_a_known_checksum() {
        // An ICMPv6 echo request from fe80::1 to fe80::2 (id 1, seq 1,
        // no data): its checksum as computed by hand from RFC 8200 8.1.
        let repr = Ipv6Repr {
            src: "fe80::1".parse().unwrap(),
            dst: "fe80::2".parse().unwrap(),
            next_header: next_header::ICMPV6,
            hop_limit: 64,
            payload_len: 8,
        };
        let mut message = [128u8, 0, 0, 0, 0, 1, 0, 1];
        let sum = !add_sums(
            repr.pseudo_header_sum(next_header::ICMPV6, 8),
            crate::wire::checksum::data(&message),
        );
        message[2..4].copy_from_slice(&sum.to_be_bytes());
        // The words: fe80 + 1 + fe80 + 2 + 8 + 58 + 8000 + 1 + 1, folded.
        let words: u32 = 0xfe80 + 1 + 0xfe80 + 2 + 8 + 58 + 0x8000 + 1 + 1;
        let folded = (words & 0xffff) + (words >> 16);
        assert_eq!(sum, !(folded as u16));
        assert_eq!(
            add_sums(
                repr.pseudo_header_sum(next_header::ICMPV6, 8),
                crate::wire::checksum::data(&message)
            ),
            0xffff,
            "a message with its checksum sums to all ones"
        );
    }

    #[test]
    fn cidr_parses_and_contains() {
        let cidr: Ipv6Cidr = "fd00:78::2/64".parse().unwrap();
        assert!(cidr.contains("fd00:78::1".parse().unwrap()));
        assert!(!cidr.contains("fd00:79::1".parse().unwrap()));
        assert_eq!(cidr.to_string(), "fd00:78::2/64");
        for bad in [
            "fd00::2",
            "fd00::2/129",
            "ff02::1/64",
            "::/0",
            "10.0.0.1/24",
        ] {
            assert!(bad.parse::<Ipv6Cidr>().is_err(), "{bad}");
        }
        let all: Ipv6Cidr = "fd00::2/0".parse().unwrap();
        assert!(all.contains("2001:db8::1".parse().unwrap()));
    }
}
