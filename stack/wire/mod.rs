//! Packet views and addresses on the wire.
//!
//! Grows into zero-copy views (Ethernet, ARP, IPv4, ICMP, UDP, TCP) with a
//! parse/emit `Repr` each; for now it holds the addresses every device and
//! app option uses.

pub mod checksum;
mod cidr;
pub mod ipv6;
mod mac;

pub use cidr::{Ipv4Cidr, ParseCidrError};
pub use ipv6::{Ipv6Cidr, ParseCidr6Error};
pub use mac::{MacAddr, ParseMacError};
