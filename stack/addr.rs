//! Socket addresses of both families as the transports hold them: the
//! stack's own addresses, and users' addresses brought to one form so
//! that a pair of them names one connection.
//!
//! Inside the stack an IPv4 peer is always `SocketAddr::V4`: an
//! IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 2.5.5.2) from a
//! user is turned into the IPv4 address it maps, and an IPv6 address
//! keeps neither flow label nor scope (one interface per stack), so equal
//! endpoints compare and hash equal.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// The addresses a stack's sockets may use, as the interface has them
/// at the time of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddrs {
    /// The IPv4 address.
    pub ipv4: Ipv4Addr,
    /// The configured global (or unique local) IPv6 address, once
    /// duplicate address detection let it be used.
    pub ipv6: Option<Ipv6Addr>,
    /// The link-local IPv6 address, once usable; `None` without IPv6.
    pub link_local6: Option<Ipv6Addr>,
}

impl LocalAddrs {
    /// The address to use towards `remote`: ours of its family (for IPv6,
    /// the link-local one for a link-local peer); `None` if we have none.
    pub fn source_for(&self, remote: IpAddr) -> Option<IpAddr> {
        match remote {
            IpAddr::V4(_) => Some(IpAddr::V4(self.ipv4)),
            IpAddr::V6(peer) if peer.is_unicast_link_local() => self.link_local6.map(IpAddr::V6),
            IpAddr::V6(_) => self.ipv6.or(self.link_local6).map(IpAddr::V6),
        }
    }

    /// True if `ip` is one of our unicast addresses.
    pub fn is_ours(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => v4 == self.ipv4,
            IpAddr::V6(v6) => Some(v6) == self.ipv6 || Some(v6) == self.link_local6,
        }
    }
}

impl From<Ipv4Addr> for LocalAddrs {
    /// An IPv4-only stack.
    fn from(ipv4: Ipv4Addr) -> Self {
        LocalAddrs {
            ipv4,
            ipv6: None,
            link_local6: None,
        }
    }
}

/// `ip` as the stack holds it: an IPv4-mapped IPv6 address as IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// `addr` as the stack holds it: IPv4-mapped IPv6 as IPv4, an IPv6
/// address without flow label or scope.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match canonical_ip(addr.ip()) {
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, addr.port(), 0, 0)),
        v4 => SocketAddr::new(v4, addr.port()),
    }
}

/// The unspecified address of `ip`'s family.
pub fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Bytes of the IP header a packet of `ip`'s family has (no options or
/// extension headers): what the transports' MSS and largest datagram lose.
pub fn ip_header_len(ip: IpAddr) -> usize {
    match ip {
        IpAddr::V4(_) => 20,
        IpAddr::V6(_) => 40,
    }
}

/// True if a socket bound to `bound` (with `IPV6_V6ONLY` as `v6_only`)
/// takes traffic to or from `ip`'s family and address: `0.0.0.0` takes
/// IPv4, `[::]` both families (IPv6 only when `v6_only`, as on Linux
/// where dual stack is the default), a specific address only itself.
pub fn bound_accepts(bound: IpAddr, v6_only: bool, ip: IpAddr) -> bool {
    match (bound, ip) {
        (IpAddr::V4(b), IpAddr::V4(_)) if b.is_unspecified() => true,
        (IpAddr::V6(b), IpAddr::V6(_)) if b.is_unspecified() => true,
        (IpAddr::V6(b), IpAddr::V4(_)) if b.is_unspecified() => !v6_only,
        (bound, ip) => bound == ip,
    }
}

/// True if a socket bound to `bound` may talk to `peer`'s family: an
/// unspecified address as [`bound_accepts`] says, a specific one only its
/// own family.
pub fn reaches(bound: IpAddr, v6_only: bool, peer: IpAddr) -> bool {
    if bound.is_unspecified() {
        bound_accepts(bound, v6_only, peer)
    } else {
        bound.is_ipv4() == peer.is_ipv4()
    }
}

/// Writes the connection `(local, remote)` as bytes into `out` (address
/// then port, network order, each side in turn: 12 bytes for IPv4, 36 for
/// IPv6) and returns how many: the input of keyed hashes such as ISNs and
/// SYN cookies.
pub fn pair_bytes(local: SocketAddr, remote: SocketAddr, out: &mut [u8; 36]) -> usize {
    let mut at = 0;
    for end in [local, remote] {
        match end.ip() {
            IpAddr::V4(v4) => {
                out[at..at + 4].copy_from_slice(&v4.octets());
                at += 4;
            }
            IpAddr::V6(v6) => {
                out[at..at + 16].copy_from_slice(&v6.octets());
                at += 16;
            }
        }
        out[at..at + 2].copy_from_slice(&end.port().to_be_bytes());
        at += 2;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_become_ipv4_and_scopes_go() {
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:80".parse().unwrap();
        assert_eq!(canonical(mapped), "10.0.0.1:80".parse().unwrap());
        let scoped = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 7, 5, 3));
        assert_eq!(canonical(scoped), "[fe80::1]:7".parse().unwrap());
        let plain: SocketAddr = "[fd00::1]:9".parse().unwrap();
        assert_eq!(canonical(plain), plain);
    }

    #[test]
    fn a_bound_socket_reaches_its_families() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert!(reaches(ip("::"), false, ip("10.0.0.1")), "dual stack");
        assert!(!reaches(ip("::"), true, ip("10.0.0.1")), "IPV6_V6ONLY");
        assert!(!reaches(ip("0.0.0.0"), false, ip("fd00::1")));
        assert!(
            !reaches(ip("fd00::2"), false, ip("10.0.0.1")),
            "a specific address"
        );
        assert!(reaches(ip("10.0.0.2"), false, ip("10.0.0.1")));
    }

    #[test]
    fn pairs_are_written_address_then_port() {
        let mut out = [0u8; 36];
        let v4 = pair_bytes(
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:4000".parse().unwrap(),
            &mut out,
        );
        assert_eq!(&out[..v4], &[10, 0, 0, 1, 0, 80, 10, 0, 0, 2, 0x0f, 0xa0]);
        let v6 = pair_bytes(
            "[fd00::1]:80".parse().unwrap(),
            "[fd00::2]:4000".parse().unwrap(),
            &mut out,
        );
        assert_eq!(v6, 36);
        assert_eq!((out[15], out[17], out[33], out[35]), (1, 80, 2, 0xa0));
    }

    #[test]
    fn the_source_follows_the_peer() {
        let own = LocalAddrs {
            ipv4: Ipv4Addr::new(10, 0, 0, 2),
            ipv6: Some("fd00::2".parse().unwrap()),
            link_local6: Some("fe80::2".parse().unwrap()),
        };
        let source = |peer: &str| own.source_for(peer.parse().unwrap());
        assert_eq!(source("10.0.0.1"), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(source("fd00::1"), Some("fd00::2".parse().unwrap()));
        assert_eq!(source("fe80::1"), Some("fe80::2".parse().unwrap()));
        let v4_only = LocalAddrs::from(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(v4_only.source_for("fd00::1".parse().unwrap()), None);
        assert!(own.is_ours("fe80::2".parse().unwrap()));
        assert!(!own.is_ours("fd00::1".parse().unwrap()));
    }
}
