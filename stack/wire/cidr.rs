//! An IPv4 address with its prefix length, as written `A.B.C.D/LEN`.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An interface address and the length of its subnet prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// Prefix length in bits, 0 to 32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// The subnet mask, e.g. 255.255.255.0 for /24.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        Ipv4Addr::from(bits)
    }

    /// True when `other` is in this address's subnet.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        let mask = u32::from(self.netmask());
        u32::from(self.addr) & mask == u32::from(other) & mask
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Error for a string that is not `A.B.C.D/LEN` with LEN at most 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseCidrError;

impl fmt::Display for ParseCidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected an address with prefix length like 10.0.0.2/24")
    }
}

impl std::error::Error for ParseCidrError {}

impl FromStr for Ipv4Cidr {
    type Err = ParseCidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(ParseCidrError)?;
        let addr = addr.parse().map_err(|_| ParseCidrError)?;
        let prefix_len: u8 = len.parse().map_err(|_| ParseCidrError)?;
        if prefix_len > 32 {
            return Err(ParseCidrError);
        }
        Ok(Ipv4Cidr { addr, prefix_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_subnet() {
        let cidr: Ipv4Cidr = "10.1.2.3/24".parse().unwrap();
        assert_eq!(cidr.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(cidr.contains(Ipv4Addr::new(10, 1, 2, 200)));
        assert!(!cidr.contains(Ipv4Addr::new(10, 1, 3, 1)));
        assert_eq!(cidr.to_string(), "10.1.2.3/24");
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(8, 8, 8, 8)));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["10.0.0.1", "10.0.0.1/33", "10.0.0/24", "x/1", "10.0.0.1/-1"] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }
}
