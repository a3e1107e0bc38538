//! Packet buffers: the [`PacketBuf`] contract every device's buffers meet,
//! and [`BufPool`], the size-class pool behind non-DPDK devices.
//!
//! A packet buffer is a contiguous data region with headroom in front (so
//! transmit can prepend headers without copying) and tailroom behind, the
//! same shape as a DPDK mbuf.

mod byte_ring;
mod datagram_queue;
mod pool;

pub use byte_ring::ByteRing;
pub use datagram_queue::{DatagramQueue, QueueFull};
pub use pool::{BufPool, PoolBuf, PoolConfig, PoolStats, SizeClass};

/// What the device found of one of a received frame's checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumVerdict {
    /// Not checked (or not known): the stack verifies it.
    #[default]
    Unknown,
    /// Checked and correct: the stack trusts it.
    Good,
    /// Checked and wrong: the frame is dropped and counted.
    Bad,
}

/// The device's verdicts on a received frame's IPv4 header checksum and
/// TCP/UDP checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxChecksums {
    /// The IPv4 header checksum.
    pub ip: ChecksumVerdict,
    /// The TCP or UDP checksum (over the pseudo-header and the datagram).
    pub l4: ChecksumVerdict,
}

/// The checksums a frame to transmit asks the device to fill in. The frame
/// is Ethernet + IPv4 (`l3_len` bytes of header) + TCP or UDP; the IPv4
/// checksum field holds 0 and the TCP/UDP field the pseudo-header's sum
/// (not complemented), as NICs with checksum offload expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxChecksums {
    /// Fill in the IPv4 header checksum.
    pub ip: bool,
    /// Fill in the TCP checksum.
    pub tcp: bool,
    /// Fill in the UDP checksum.
    pub udp: bool,
    /// Bytes of the Ethernet header.
    pub l2_len: u16,
    /// Bytes of the IPv4 header.
    pub l3_len: u16,
}

/// A packet's bytes with room to grow at either end, like a DPDK mbuf.
///
/// Contract: `data().len() == len()`; `headroom() + len() + tailroom()` is
/// constant for the buffer's life; every method is safe to call with any
/// argument and reports failure instead of panicking.
pub trait PacketBuf {
    /// The packet's bytes.
    fn data(&self) -> &[u8];
    /// The packet's bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Bytes free in front of the data.
    fn headroom(&self) -> usize;
    /// Bytes free behind the data.
    fn tailroom(&self) -> usize;
    /// Grows the data by `len` bytes at the end and returns them (their
    /// contents are whatever the storage held); `None` if the tailroom is short.
    fn append(&mut self, len: usize) -> Option<&mut [u8]>;
    /// Grows the data by `len` bytes at the front and returns them; `None` if
    /// the headroom is short.
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]>;
    /// Removes `len` bytes from the front; false (and no change) if the data is shorter.
    fn adj(&mut self, len: usize) -> bool;
    /// Removes `len` bytes from the end; false (and no change) if the data is shorter.
    fn trim(&mut self, len: usize) -> bool;

    /// The packet's length in bytes.
    fn len(&self) -> usize {
        self.data().len()
    }

    /// True when the packet holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device's checksum verdicts on a received frame (unknown unless
    /// the device checks them, as a NIC with receive checksum offload does).
    fn rx_checksums(&self) -> RxChecksums {
        RxChecksums::default()
    }

    /// Asks the device to fill in `request`'s checksums when it sends this
    /// frame; false if this buffer cannot carry the request (the sender
    /// then computes them itself).
    fn request_tx_checksums(&mut self, request: TxChecksums) -> bool {
        let _ = request;
        false
    }

    /// Replaces the data with a copy of `bytes`, keeping the headroom; false
    /// (data emptied) if `bytes` does not fit.
    fn fill_from(&mut self, bytes: &[u8]) -> bool {
        let current = self.len();
        self.trim(current);
        match self.append(bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}
