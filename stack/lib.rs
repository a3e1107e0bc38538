//! dpstack: a userspace TCP/IP stack over DPDK.
//!
//! Poll-mode NIC queues feed a sans-IO protocol core; applications use it
//! through POSIX-like sockets and an epoll-like API. Everything below the
//! sockets can run offline over in-memory, TAP and pcap devices.
//!
//! The foundation in place: [`buf`] (packet buffers and their pool),
//! [`device`] (the [`device::Device`] trait and its backends), [`dpdk`] (safe
//! wrappers over our own DPDK bindings, feature `dpdk`), [`runtime`] (options
//! every app shares, signal handling, device selection) and [`time`].
//!
//! ```
//! use dpstack::buf::{BufPool, PacketBuf};
//! use dpstack::device::pipe::{pipe_pair, PipeConfig};
//! use dpstack::device::Device;
//! use dpstack::time::Instant;
//!
//! let pool = BufPool::with_defaults();
//! let (mut a, mut b) = pipe_pair(&PipeConfig::default(), &pool);
//! let mut frame = a.alloc_tx(60).expect("pool has buffers");
//! frame.data_mut().fill(0xab);
//! let mut burst = vec![frame];
//! assert_eq!(a.transmit(Instant::ZERO, &mut burst), 1);
//!
//! let mut received = Vec::new();
//! assert_eq!(b.receive(Instant::ZERO, &mut received, 32), 1);
//! assert_eq!(received[0].data(), &[0xab; 60][..]);
//! assert_eq!(b.stats().rx_packets, 1);
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod buf;
pub mod device;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod epoll;
pub mod hash;
pub mod iface;
pub mod rand;
pub mod rate;
pub mod runtime;
pub mod siphash;
pub mod socket;
pub mod stats;
pub mod steer;
pub mod tcp;
pub mod time;
pub mod timer;
pub mod udp;
pub mod wire;
