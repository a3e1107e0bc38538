//! An owned DPDK mbuf.

use super::sys;
use crate::buf::PacketBuf;
use std::ptr::NonNull;

/// One DPDK packet buffer, owned: dropping it returns it to its mempool.
///
/// Only single-segment mbufs are exposed as [`PacketBuf`]; the DPDK device
/// drops chained (multi-segment) receives and counts them.
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an mbuf is plain memory owned by whoever holds the pointer; DPDK
// allows freeing it from any thread (non-EAL threads bypass the lcore cache).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf; `None` for a null pointer.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nothing else owns or will free.
    pub unsafe fn from_raw(raw: *mut sys::rte_mbuf) -> Option<Mbuf> {
        NonNull::new(raw).map(Mbuf)
    }

    /// Gives up ownership, returning the raw pointer (the caller must free it
    /// or hand it to DPDK).
    pub fn into_raw(self) -> *mut sys::rte_mbuf {
        let raw = self.0.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// The raw pointer, still owned by `self`.
    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }

    /// Number of segments in the chain (1 for a single buffer).
    pub fn segments(&self) -> u16 {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::dps_pktmbuf_nb_segs(self.as_ptr()) }
    }

    /// Total packet length over all segments, in bytes.
    pub fn pkt_len(&self) -> u32 {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::dps_pktmbuf_pkt_len(self.as_ptr()) }
    }

    /// The mbuf's offload flags (`RTE_MBUF_F_*`), e.g. checksum verdicts.
    pub fn ol_flags(&self) -> u64 {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::dps_mbuf_ol_flags(self.as_ptr()) }
    }

    /// Reference count (1 unless the mbuf is shared).
    pub fn refcnt(&self) -> u16 {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::dps_mbuf_refcnt_read(self.as_ptr()) }
    }
}

impl PacketBuf for Mbuf {
    fn data(&self) -> &[u8] {
        // SAFETY: mtod points at data_len initialised bytes of the first
        // segment, valid while self owns the mbuf; the borrow ties them.
        unsafe {
            let len = sys::dps_pktmbuf_data_len(self.as_ptr()) as usize;
            let ptr = sys::dps_pktmbuf_mtod(self.as_ptr()) as *const u8;
            std::slice::from_raw_parts(ptr, len)
        }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in data(); &mut self guarantees exclusive access.
        unsafe {
            let len = sys::dps_pktmbuf_data_len(self.as_ptr()) as usize;
            let ptr = sys::dps_pktmbuf_mtod(self.as_ptr()) as *mut u8;
            std::slice::from_raw_parts_mut(ptr, len)
        }
    }

    fn headroom(&self) -> usize {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::dps_pktmbuf_headroom(self.as_ptr()) as usize }
    }

    fn tailroom(&self) -> usize {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::dps_pktmbuf_tailroom(self.as_ptr()) as usize }
    }

    fn append(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        // SAFETY: DPDK checks the tailroom and returns null when short; on
        // success the pointer addresses `len` bytes inside this mbuf's buffer.
        unsafe {
            let ptr = sys::dps_pktmbuf_append(self.as_ptr(), len16) as *mut u8;
            (!ptr.is_null()).then(|| std::slice::from_raw_parts_mut(ptr, len))
        }
    }

    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        // SAFETY: DPDK checks the headroom and returns null when short.
        unsafe {
            let ptr = sys::dps_pktmbuf_prepend(self.as_ptr(), len16) as *mut u8;
            (!ptr.is_null()).then(|| std::slice::from_raw_parts_mut(ptr, len))
        }
    }

    fn adj(&mut self, len: usize) -> bool {
        let Ok(len16) = u16::try_from(len) else {
            return false;
        };
        // SAFETY: DPDK checks the data length and returns null when short.
        unsafe { !sys::dps_pktmbuf_adj(self.as_ptr(), len16).is_null() }
    }

    fn trim(&mut self, len: usize) -> bool {
        let Ok(len16) = u16::try_from(len) else {
            return false;
        };
        // SAFETY: DPDK checks the data length and returns -1 when short.
        unsafe { sys::dps_pktmbuf_trim(self.as_ptr(), len16) == 0 }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf and it is freed exactly once, here.
        unsafe { sys::dps_pktmbuf_free(self.as_ptr()) }
    }
}
