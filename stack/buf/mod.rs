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
