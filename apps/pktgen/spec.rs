//! What to generate, parsed and checked before anything is sent: frame
//! sizes, rates, address and port ranges. Every error says what is wrong.

use dpstack::wire::MacAddr;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Bytes of our payload header in UDP frames: magic, queue, sequence,
/// timestamp. With Ethernet, IPv4 and UDP headers (42 bytes) it fills
/// exactly the smallest frame, so every size carries a probe.
pub const PROBE_LEN: usize = 18;
/// Smallest IPv6 frame of each mode: Ethernet 14, IPv6 40, then UDP 8
/// with the probe, a TCP header (20), or an ICMPv6 echo header (8) with
/// sequence number and timestamp (16).
pub const MIN_FRAME6_UDP: usize = 14 + 40 + 8 + PROBE_LEN;
/// Smallest frame (without FCS).
pub const MIN_FRAME: usize = 60;
/// Largest frame (jumbo, without FCS).
pub const MAX_FRAME: usize = 9_018;
/// Ethernet per-frame overhead on the wire besides the frame: FCS, preamble + SFD, IFG.
pub const L1_OVERHEAD: usize = 4 + 8 + 12;

/// Traffic kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// UDP datagrams carrying a sequence number and timestamp.
    Udp,
    /// TCP SYN segments (sequence number in the TCP sequence field).
    TcpSyn,
    /// ICMP echo requests carrying a sequence number and timestamp.
    Icmp,
    /// Frames replayed from a pcap file (`--replay`).
    Replay,
    /// Stateful: HTTP/1.1 clients on real TCP connections (`--url`).
    Http,
    /// Stateful: request/response clients on real TCP connections to an
    /// echo server (`--dst-ip`, `--dst-port`, `--request-size`).
    TcpRr,
}

impl Mode {
    /// Real TCP connections through a dpstack stack, not raw frames.
    pub fn is_stateful(self) -> bool {
        matches!(self, Mode::Http | Mode::TcpRr)
    }
}

/// An inclusive range of values, walked by the flow generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range<T> {
    /// First value.
    pub first: T,
    /// Last value (inclusive).
    pub last: T,
}

impl<T: Copy + Into<u64>> Range<T> {
    /// How many values the range holds.
    pub fn len(&self) -> u64 {
        self.last.into() - self.first.into() + 1
    }
}

fn parse_range<T: Copy + PartialOrd + FromStr>(text: &str, what: &str) -> Result<Range<T>, String> {
    let parse = |s: &str| {
        s.trim()
            .parse::<T>()
            .map_err(|_| format!("bad {what} '{s}'"))
    };
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let v = parse(text)?;
            (v, v)
        }
    };
    if first > last {
        return Err(format!("{what} range '{text}' is empty (first after last)"));
    }
    Ok(Range { first, last })
}

/// An IPv6 range, `A` or `A-B`, whose addresses share their first 96
/// bits: those bits, and the range of the last 32 (walked like an IPv4
/// range).
pub fn ip6_range(text: &str) -> Result<([u8; 12], Range<u32>), String> {
    let r: Range<std::net::Ipv6Addr> = parse_range(text, "IPv6 address")?;
    let (first, last) = (r.first.octets(), r.last.octets());
    if first[..12] != last[..12] {
        return Err(format!(
            "IPv6 range '{text}' may vary only in its last 32 bits"
        ));
    }
    let low = |o: [u8; 16]| u32::from_be_bytes([o[12], o[13], o[14], o[15]]);
    let mut prefix = [0u8; 12];
    prefix.copy_from_slice(&first[..12]);
    Ok((
        prefix,
        Range {
            first: low(first),
            last: low(last),
        },
    ))
}

/// An IPv4 range, `A` or `A-B`.
pub fn ip_range(text: &str) -> Result<Range<u32>, String> {
    let r: Range<Ipv4Addr> = parse_range(text, "IPv4 address")?;
    Ok(Range {
        first: u32::from(r.first),
        last: u32::from(r.last),
    })
}

/// A port range, `P` or `P-Q`.
pub fn port_range(text: &str) -> Result<Range<u16>, String> {
    parse_range(text, "port")
}

/// A MAC range, `M` or `M-N` (walked as 48-bit numbers).
pub fn mac_range(text: &str) -> Result<Range<u64>, String> {
    let to_u64 = |m: MacAddr| m.0.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    let r: Range<MacAddr> = parse_range(text, "MAC address")?;
    Ok(Range {
        first: to_u64(r.first),
        last: to_u64(r.last),
    })
}

/// The MAC for a 48-bit number.
pub fn mac_from_u64(value: u64) -> MacAddr {
    let b = value.to_be_bytes();
    MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Frame sizes (without FCS): one, a list, a sweep, or IMIX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sizes {
    /// Every frame this size.
    Fixed(usize),
    /// Cycle through these.
    List(Vec<usize>),
    /// Sweep from first to last, one byte per frame, then again.
    Sweep(usize, usize),
    /// Simple IMIX, 7:4:1 of 60/590/1514 bytes (64/594/1518 with FCS).
    Imix,
}

const IMIX_PATTERN: [usize; 12] = [60, 60, 60, 60, 60, 60, 60, 590, 590, 590, 590, 1514];

impl Sizes {
    /// Parses `N`, `A,B,C`, `A-B` or `imix`, each size within 60..=9018.
    pub fn parse(text: &str) -> Result<Sizes, String> {
        let size = |s: &str| -> Result<usize, String> {
            let n: usize = s
                .trim()
                .parse()
                .map_err(|_| format!("bad frame size '{s}'"))?;
            if !(MIN_FRAME..=MAX_FRAME).contains(&n) {
                return Err(format!(
                    "frame size {n} is outside {MIN_FRAME}..={MAX_FRAME} (bytes, without FCS)"
                ));
            }
            Ok(n)
        };
        if text.eq_ignore_ascii_case("imix") {
            Ok(Sizes::Imix)
        } else if text.contains(',') {
            Ok(Sizes::List(
                text.split(',').map(size).collect::<Result<_, _>>()?,
            ))
        } else if let Some((a, b)) = text.split_once('-') {
            let (a, b) = (size(a)?, size(b)?);
            if a > b {
                return Err(format!("size sweep '{text}' is empty (first after last)"));
            }
            Ok(Sizes::Sweep(a, b))
        } else {
            Ok(Sizes::Fixed(size(text)?))
        }
    }

    /// Size of frame number `n`.
    pub fn nth(&self, n: u64) -> usize {
        match self {
            Sizes::Fixed(s) => *s,
            Sizes::List(list) => list[(n % list.len() as u64) as usize],
            Sizes::Sweep(a, b) => a + (n % (b - a + 1) as u64) as usize,
            Sizes::Imix => IMIX_PATTERN[(n % IMIX_PATTERN.len() as u64) as usize],
        }
    }

    /// Smallest size used.
    pub fn min(&self) -> usize {
        match self {
            Sizes::Fixed(s) | Sizes::Sweep(s, _) => *s,
            Sizes::List(list) => list.iter().copied().min().unwrap_or(MIN_FRAME),
            Sizes::Imix => 60,
        }
    }

    /// Largest size used.
    pub fn max(&self) -> usize {
        match self {
            Sizes::Fixed(s) => *s,
            Sizes::List(list) => list.iter().copied().max().unwrap_or(MIN_FRAME),
            Sizes::Sweep(_, b) => *b,
            Sizes::Imix => 1514,
        }
    }

    /// Mean size over one cycle, for rate conversions.
    pub fn mean(&self) -> f64 {
        match self {
            Sizes::Fixed(s) => *s as f64,
            Sizes::List(list) => list.iter().sum::<usize>() as f64 / list.len() as f64,
            Sizes::Sweep(a, b) => (a + b) as f64 / 2.0,
            Sizes::Imix => IMIX_PATTERN.iter().sum::<usize>() as f64 / IMIX_PATTERN.len() as f64,
        }
    }
}

/// How to count bits for a bit rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accounting {
    /// Frame + FCS + preamble + inter-frame gap (what a 10G link carries at 10 Gbps).
    L1,
    /// Frame + FCS only.
    L2,
}

impl Accounting {
    /// Bits a frame of `len` bytes (without FCS) costs.
    pub fn bits(self, len: usize) -> u64 {
        let bytes = match self {
            Accounting::L1 => len + L1_OVERHEAD,
            Accounting::L2 => len + 4,
        };
        bytes as u64 * 8
    }
}

/// The target rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as possible.
    Unlimited,
    /// Frames per second.
    Pps(f64),
    /// Bits per second, counted per [`Accounting`].
    Bps(f64),
}

impl Rate {
    /// Parses `0`, `<N>pps`, `<N>kpps`, `<N>Mpps`, `<N>Mbps`, `<N>Gbps` (N may be fractional).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let text = text.trim();
        if text == "0" {
            return Ok(Rate::Unlimited);
        }
        let lower = text.to_ascii_lowercase();
        let units: [(&str, f64, bool); 7] = [
            ("mpps", 1e6, true),
            ("kpps", 1e3, true),
            ("pps", 1.0, true),
            ("gbps", 1e9, false),
            ("mbps", 1e6, false),
            ("kbps", 1e3, false),
            ("bps", 1.0, false),
        ];
        for (suffix, scale, frames) in units {
            if let Some(number) = lower.strip_suffix(suffix) {
                let value: f64 = number.trim().parse().map_err(|_| {
                    format!("bad rate '{text}': expected a number before '{suffix}'")
                })?;
                if !value.is_finite() || value <= 0.0 {
                    return Err(format!(
                        "rate '{text}' must be positive (use 0 for unlimited)"
                    ));
                }
                let value = value * scale;
                if !value.is_finite() {
                    // Found by fuzzing: "1e305mpps" overflowed to infinity.
                    return Err(format!("rate '{text}' is too large"));
                }
                return Ok(if frames {
                    Rate::Pps(value)
                } else {
                    Rate::Bps(value)
                });
            }
        }
        Err(format!(
            "bad rate '{text}': use 0, <N>pps, <N>kpps, <N>Mpps, <N>Mbps or <N>Gbps"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_reject_empty() {
        assert_eq!(port_range("1000-1003").unwrap().len(), 4);
        assert_eq!(port_range("53").unwrap().len(), 1);
        assert!(port_range("9-1").is_err());
        assert!(port_range("70000").is_err());
        let ips = ip_range("10.0.0.1-10.0.1.0").unwrap();
        assert_eq!(ips.len(), 256);
        assert!(ip_range("10.0.0.9-10.0.0.1").is_err());
        let macs = mac_range("02:00:00:00:00:fe-02:00:00:00:01:01").unwrap();
        assert_eq!(macs.len(), 4);
        assert_eq!(
            mac_from_u64(macs.first + 2).to_string(),
            "02:00:00:00:01:00"
        );
    }

    #[test]
    fn sizes_parse_and_cycle() {
        assert_eq!(Sizes::parse("64").unwrap().nth(5), 64);
        assert_eq!(Sizes::parse("imix").unwrap().max(), 1514);
        let list = Sizes::parse("60,100,1514").unwrap();
        assert_eq!(
            (0..4).map(|n| list.nth(n)).collect::<Vec<_>>(),
            [60, 100, 1514, 60]
        );
        let sweep = Sizes::parse("60-62").unwrap();
        assert_eq!(
            (0..4).map(|n| sweep.nth(n)).collect::<Vec<_>>(),
            [60, 61, 62, 60]
        );
        let imix = Sizes::parse("imix").unwrap();
        let cycle: Vec<usize> = (0..12).map(|n| imix.nth(n)).collect();
        assert_eq!(cycle.iter().filter(|s| **s == 60).count(), 7);
        assert_eq!(cycle.iter().filter(|s| **s == 590).count(), 4);
        assert_eq!(cycle.iter().filter(|s| **s == 1514).count(), 1);
        for bad in ["59", "9019", "70-60", "x", "60,"] {
            assert!(Sizes::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(Rate::parse("0"), Ok(Rate::Unlimited));
        assert_eq!(Rate::parse("100000pps"), Ok(Rate::Pps(100_000.0)));
        assert_eq!(Rate::parse("1.5Mpps"), Ok(Rate::Pps(1_500_000.0)));
        assert_eq!(Rate::parse("10kpps"), Ok(Rate::Pps(10_000.0)));
        assert_eq!(Rate::parse("2Gbps"), Ok(Rate::Bps(2e9)));
        // "1e305mpps": found by the pktgen_spec fuzz target, once infinite.
        for bad in [
            "",
            "-1pps",
            "fastpps",
            "10",
            "5 parsecs",
            "0pps",
            "1e305mpps",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bit_accounting_counts_overheads() {
        assert_eq!(Accounting::L1.bits(60), 84 * 8);
        assert_eq!(Accounting::L2.bits(60), 64 * 8);
    }
}
