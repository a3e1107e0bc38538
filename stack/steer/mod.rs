//! Steering frames to cores: one share-nothing stack per core, each owning
//! one receive/transmit queue pair, and the rules that decide which core a
//! frame belongs to.
//!
//! A flow belongs to the core that the NIC's RSS would pick for it: the
//! symmetric Toeplitz hash ([`toeplitz`]) of its IPv4 4-tuple, looked up in
//! a redirection table (RETA) that spreads hash values over the cores. With
//! the symmetric key both directions of a flow hash alike, so the core that
//! sends a flow's segments also receives its replies.
//!
//! - On a port with RSS ([`SteeringMode::Hardware`]) the NIC already puts
//!   each TCP/UDP frame on its owner's queue: the stack never looks at
//!   their hash, and only ARP (which the NIC sends to queue 0) and ICMP
//!   errors (hashed on the outer addresses only) move between cores.
//! - On a port without RSS ([`SteeringMode::Software`]) each core hashes the
//!   frames it receives and hands those of other cores over bounded
//!   lock-free rings ([`SteeredDevice`]).
//!
//! Outgoing connections pick an ephemeral port whose flow hashes to their
//! own core ([`CoreSteering::owns`]), so their replies come home in both modes.

mod device;
pub mod toeplitz;

pub use device::{handoff_rings, steer_all, HandoffRings, SteeredDevice};
pub use toeplitz::{Toeplitz, SYMMETRIC_KEY};

use crate::iface::ETHERNET_HEADER_LEN;
use std::net::{IpAddr, SocketAddr};

/// Entries of the software redirection table when the port gives none
/// (128, as ixgbe's; a power of two, so the lookup is a mask).
pub const DEFAULT_RETA_SIZE: usize = 128;

/// Most cores one port's steering spreads over.
pub const MAX_CORES: usize = 128;

/// Who steers frames to the cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteeringMode {
    /// The NIC's RSS, programmed with the symmetric key and this RETA.
    Hardware,
    /// The stack: each core hashes what its queue received.
    Software,
}

/// Where a received frame belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The core that received it processes it.
    Here,
    /// This core's flow.
    Core(u16),
    /// Every core should see it (ARP): the receiving core processes it and
    /// the others get a copy to learn from.
    Everyone,
}

/// The steering rules of one port: hash key, redirection table, cores.
/// Each core keeps its own copy, so lookups touch no shared memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Steering {
    hasher: Toeplitz,
    /// `reta[hash & (len - 1)]` is the owning core; a power of two long.
    reta: Box<[u16]>,
    cores: u16,
    mode: SteeringMode,
}

/// Why a steering setup is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteeringError {
    /// No cores, or more than [`MAX_CORES`].
    BadCoreCount,
    /// The redirection table is not a power of two, or smaller than the cores.
    BadRetaSize,
}

impl std::fmt::Display for SteeringError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SteeringError::BadCoreCount => write!(f, "between 1 and {MAX_CORES} cores are needed"),
            SteeringError::BadRetaSize => f.write_str(
                "the redirection table must be a power of two with at least one entry per core",
            ),
        }
    }
}

impl std::error::Error for SteeringError {}

impl Steering {
    /// Steering over `cores` with the symmetric key and a redirection table
    /// of `reta_size` entries filled round robin (entry `i` to core `i % cores`),
    /// as the port will be programmed.
    pub fn new(cores: usize, reta_size: usize, mode: SteeringMode) -> Result<Self, SteeringError> {
        if cores == 0 || cores > MAX_CORES {
            return Err(SteeringError::BadCoreCount);
        }
        if !reta_size.is_power_of_two() || reta_size < cores {
            return Err(SteeringError::BadRetaSize);
        }
        Ok(Steering {
            hasher: Toeplitz::new(&SYMMETRIC_KEY),
            reta: (0..reta_size).map(|i| (i % cores) as u16).collect(),
            cores: cores as u16,
            mode,
        })
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        usize::from(self.cores)
    }

    /// Who steers.
    pub fn mode(&self) -> SteeringMode {
        self.mode
    }

    /// The redirection table: entry `i` is the core of hashes with `i` in their low bits.
    pub fn reta(&self) -> &[u16] {
        &self.reta
    }

    /// The hasher (its key is what the port is programmed with).
    pub fn hasher(&self) -> &Toeplitz {
        &self.hasher
    }

    /// The core of a hash value.
    pub fn core_of_hash(&self, hash: u32) -> u16 {
        self.reta[hash as usize & (self.reta.len() - 1)]
    }

    /// The core that owns the TCP or UDP flow between `local` and `remote`
    /// (either direction: the key is symmetric). IPv6 flows are core 0's:
    /// RSS is programmed for IPv4 types only, so a NIC leaves IPv6 frames
    /// on queue 0, and software steering does the same.
    pub fn core_of_flow(&self, local: SocketAddr, remote: SocketAddr) -> u16 {
        match (local.ip(), remote.ip()) {
            (IpAddr::V4(local_ip), IpAddr::V4(remote_ip)) => self.core_of_hash(
                self.hasher
                    .hash_ports(remote_ip, local_ip, remote.port(), local.port()),
            ),
            _ => 0,
        }
    }

    /// The queue a NIC with RSS puts `frame` on: TCP and UDP by their
    /// 4-tuple, other IPv4 (fragments, ICMP) by the address pair, anything
    /// else on queue 0. The in-memory multi-queue pipe uses it to play the NIC.
    pub fn rss_queue(&self, frame: &[u8]) -> u16 {
        match parse(frame) {
            Some(
                Parsed::Flow(input)
                | Parsed::Addresses { input, .. }
                | Parsed::IcmpError { outer: input, .. },
            ) => self.core_of_input(&input),
            _ => 0,
        }
    }

    /// Where a frame that arrived on some core's queue belongs. Malformed
    /// and unknown frames stay where they are, for that core's stack to
    /// count and drop.
    pub fn destination(&self, frame: &[u8]) -> Destination {
        match parse(frame) {
            Some(Parsed::Arp) => Destination::Everyone,
            Some(Parsed::IcmpError { quoted, .. }) => {
                Destination::Core(self.core_of_input(&quoted))
            }
            Some(Parsed::Flow(input) | Parsed::Addresses { input, icmp: false })
                if self.mode == SteeringMode::Software =>
            {
                Destination::Core(self.core_of_input(&input))
            }
            _ => Destination::Here,
        }
    }

    fn core_of_input(&self, input: &HashInput) -> u16 {
        self.core_of_hash(self.hasher.hash_bytes(input.bytes()))
    }
}

/// One core's share of a port's steering: the rules and which core this is.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreSteering {
    /// The port's rules.
    pub steering: Steering,
    /// This core's index, below `steering.cores()`.
    pub core: u16,
}

impl CoreSteering {
    /// True if the flow between `local` and `remote` lands on this core: an
    /// active open takes only such ephemeral ports.
    pub fn owns(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.steering.core_of_flow(local, remote) == self.core
    }
}

/// The bytes a NIC hashes: source and destination address, then (for
/// TCP and UDP) source and destination port.
struct HashInput {
    bytes: [u8; 12],
    len: usize,
}

impl HashInput {
    fn new(addresses: &[u8], ports: Option<&[u8]>) -> Self {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&addresses[..8]);
        let len = match ports {
            Some(ports) => {
                bytes[8..].copy_from_slice(&ports[..4]);
                12
            }
            None => 8,
        };
        HashInput { bytes, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What steering needs of a frame.
enum Parsed {
    Arp,
    /// A TCP or UDP datagram, not fragmented: its 4-tuple.
    Flow(HashInput),
    /// Other IPv4 (fragments, ICMP, other protocols): the address pair.
    Addresses {
        input: HashInput,
        icmp: bool,
    },
    /// An ICMP error quoting one of our TCP/UDP datagrams: the quoted
    /// flow, so the error reaches the socket's core; `outer` is what a NIC hashes.
    IcmpError {
        quoted: HashInput,
        outer: HashInput,
    },
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const PROTOCOL_ICMP: u8 = 1;
const PROTOCOL_TCP: u8 = 6;
const PROTOCOL_UDP: u8 = 17;
/// ICMP types that quote the datagram they are about (RFC 792):
/// unreachable, source quench, redirect, time exceeded, parameter problem.
const ICMP_ERROR_TYPES: [u8; 5] = [3, 4, 5, 11, 12];

/// Reads only the bytes steering needs, each behind a bounds check; `None`
/// for anything not IPv4 or ARP, or too short to tell.
fn parse(frame: &[u8]) -> Option<Parsed> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match ethertype {
        ETHERTYPE_ARP => Some(Parsed::Arp),
        ETHERTYPE_IPV4 => parse_ipv4(frame.get(ETHERNET_HEADER_LEN..)?),
        _ => None,
    }
}

fn parse_ipv4(ip: &[u8]) -> Option<Parsed> {
    let header = Ipv4Fields::parse(ip)?;
    let addresses = ip.get(12..20)?;
    if header.fragment {
        let input = HashInput::new(addresses, None);
        return Some(Parsed::Addresses { input, icmp: false });
    }
    match header.protocol {
        PROTOCOL_TCP | PROTOCOL_UDP => {
            let ports = ip.get(header.len..header.len + 4)?;
            Some(Parsed::Flow(HashInput::new(addresses, Some(ports))))
        }
        PROTOCOL_ICMP => {
            let quoted = ip.get(header.len..).and_then(quoted_flow);
            let outer = HashInput::new(addresses, None);
            Some(match quoted {
                Some(quoted) => Parsed::IcmpError { quoted, outer },
                None => Parsed::Addresses {
                    input: outer,
                    icmp: true,
                },
            })
        }
        _ => Some(Parsed::Addresses {
            input: HashInput::new(addresses, None),
            icmp: false,
        }),
    }
}

/// The TCP/UDP flow an ICMP error quotes (its type, then 4 unused bytes,
/// then the offending datagram's header and first 8 bytes).
fn quoted_flow(icmp: &[u8]) -> Option<HashInput> {
    if !ICMP_ERROR_TYPES.contains(icmp.first()?) {
        return None;
    }
    let inner = icmp.get(8..)?;
    let header = Ipv4Fields::parse(inner)?;
    if header.fragment || !matches!(header.protocol, PROTOCOL_TCP | PROTOCOL_UDP) {
        return None;
    }
    let ports = inner.get(header.len..header.len + 4)?;
    Some(HashInput::new(inner.get(12..20)?, Some(ports)))
}

/// The IPv4 header fields steering reads.
struct Ipv4Fields {
    /// Header length in bytes.
    len: usize,
    protocol: u8,
    /// More fragments follow, or this one is not the first.
    fragment: bool,
}

impl Ipv4Fields {
    fn parse(ip: &[u8]) -> Option<Self> {
        let version_ihl = *ip.first()?;
        let len = usize::from(version_ihl & 0x0f) * 4;
        if version_ihl >> 4 != 4 || len < 20 {
            return None;
        }
        let flags_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
        Some(Ipv4Fields {
            len,
            protocol: *ip.get(9)?,
            // MF set, or a non-zero fragment offset.
            fragment: flags_offset & 0x3fff != 0,
        })
    }
}

#[cfg(test)]
mod tests;
