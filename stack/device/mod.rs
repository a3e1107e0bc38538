//! Devices: where frames enter and leave the stack.
//!
//! Every backend implements [`Device`]: burst receive and burst transmit of
//! packet buffers, plus the capabilities the stack adapts to. Backends:
//! [`pipe`] (in-memory pair), [`fault`] (seeded fault injection around any
//! device), [`pcap`] (frames from and to capture files, and a recorder around
//! any device), [`tap`] (a Linux TAP interface, no DPDK) and, with the `dpdk`
//! feature, `dpdk` (any DPDK port).
//!
//! Devices do I/O but read no clock: the runtime passes `now` in, so wrappers
//! that work in time (fault delays, rate limits, capture timestamps) are
//! deterministic under a manual clock.

pub mod fault;
pub mod pcap;
pub mod pipe;
pub mod tap;

#[cfg(feature = "dpdk")]
pub mod dpdk;

use crate::buf::PacketBuf;
use crate::stats::{DeviceStats, SteeringStats};
use crate::time::Instant;
use crate::wire::MacAddr;

/// The most frames one `receive` or `transmit` call is expected to move; the
/// stack's bursts are this size.
pub const MAX_BURST: usize = 32;

/// Checksum and steering work the hardware does for the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offloads {
    /// Received IPv4 header checksums are verified by the device.
    pub rx_ipv4_checksum: bool,
    /// Received TCP checksums are verified by the device.
    pub rx_tcp_checksum: bool,
    /// Received UDP checksums are verified by the device.
    pub rx_udp_checksum: bool,
    /// The device fills in IPv4 header checksums on transmit.
    pub tx_ipv4_checksum: bool,
    /// The device fills in TCP checksums on transmit.
    pub tx_tcp_checksum: bool,
    /// The device fills in UDP checksums on transmit.
    pub tx_udp_checksum: bool,
    /// The device spreads flows over receive queues by RSS hash.
    pub rss: bool,
}

/// What a device is and can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The device's own MAC address.
    pub mac: MacAddr,
    /// Largest IP packet the link carries, in bytes (Ethernet header excluded).
    pub mtu: usize,
    /// Receive queues of the underlying port (1 for single-queue devices).
    pub rx_queues: u16,
    /// Transmit queues of the underlying port.
    pub tx_queues: u16,
    /// Hardware offloads in force.
    pub offloads: Offloads,
    /// A short human-readable name, e.g. `tap:dps0` or `dpdk:0(net_tap0)`.
    pub name: String,
}

/// A source and sink of Ethernet frames, used in bursts.
pub trait Device: 'static {
    /// The buffer type frames travel in.
    type Buf: PacketBuf;

    /// What the device is and can do.
    fn capabilities(&self) -> Capabilities;

    /// A buffer for a frame of `len` bytes to transmit on this device, with
    /// headroom in front; `None` when buffers are exhausted.
    fn alloc_tx(&mut self, len: usize) -> Option<Self::Buf>;

    /// Appends up to `count` buffers for frames of `len` bytes each to
    /// `out`, as `count` calls of [`alloc_tx`](Device::alloc_tx) would (in
    /// one step where the backend can); returns how many, fewer when
    /// buffers run out.
    fn alloc_tx_burst(&mut self, len: usize, count: usize, out: &mut Vec<Self::Buf>) -> usize {
        let before = out.len();
        for _ in 0..count {
            match self.alloc_tx(len) {
                Some(buf) => out.push(buf),
                None => break,
            }
        }
        out.len() - before
    }

    /// Appends up to `max` received frames to `batch` and returns how many.
    fn receive(&mut self, now: Instant, batch: &mut Vec<Self::Buf>, max: usize) -> usize;

    /// Gives back buffers the caller is done with (received frames once
    /// read), leaving `bufs` empty: the same as dropping them, in one step
    /// where the backend can.
    fn release(&mut self, bufs: &mut Vec<Self::Buf>) {
        bufs.clear();
    }

    /// Sends frames from the front of `batch` and removes them; returns how
    /// many were taken. Frames the device could not take now (queue full)
    /// stay in `batch`, in order, for the caller to retry or drop.
    fn transmit(&mut self, now: Instant, batch: &mut Vec<Self::Buf>) -> usize;

    /// The earliest time the device needs to be polled again to make
    /// progress on its own (a delayed frame due), if any.
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// A snapshot of the device's counters.
    fn stats(&self) -> DeviceStats;

    /// Frames the last `receive` took from the queue and passed to another
    /// core instead of returning them (the steering stage): work done, so
    /// the poll loop does not back off as if idle. Wrappers pass their inner
    /// device's through.
    fn passed_on(&self) -> usize {
        0
    }

    /// Counters of the steering stage between cores, for a device that is
    /// one core's share of a multi-queue port (zero otherwise); wrappers
    /// pass their inner device's through.
    fn steering_stats(&self) -> SteeringStats {
        SteeringStats::default()
    }

    /// Backend-specific counters (a DPDK port's hardware counters), as
    /// `(name, value)` pairs; empty for backends without any. Control path only.
    fn extended_stats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}
