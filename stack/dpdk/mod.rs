//! Safe wrappers over dpstack's own DPDK binding (bindgen over the system's
//! DPDK 22.11 headers, plus `ffi/shim.c` for DPDK's inline functions).
//!
//! [`Eal`] initialises DPDK once per process; [`Mempool`] holds mbufs;
//! [`Port`] configures and runs an ethdev port; [`Mbuf`] owns one packet
//! buffer. Errors carry `rte_errno` and its text ([`DpdkError`]).
//!
//! This module and `device::dpdk` are where dpstack's `unsafe` lives; every
//! block says why it is sound.
#![allow(unsafe_code)]

mod eal;
mod error;
mod mbuf;
mod mempool;
mod port;
mod ring;
pub(crate) mod sys;
pub mod telemetry;

pub use eal::Eal;
pub use error::DpdkError;
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{LinkStatus, Port, PortConfig, PortInfo, PortStats, QueueClaim};
pub use ring::ring_port_pair;
