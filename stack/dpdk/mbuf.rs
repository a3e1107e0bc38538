//! An owned DPDK mbuf.

use super::sys;
use crate::buf::PacketBuf;
use std::ptr::NonNull;

/// One DPDK packet buffer, owned: dropping it returns it to its mempool.
///
/// Only single-segment mbufs are exposed as [`PacketBuf`]; the DPDK device
/// drops chained (multi-segment) receives and counts them.
///
/// Transparent over the pointer, so a `Vec<Mbuf>` is an array of
/// `rte_mbuf *` that bursts read and fill in place.
#[repr(transparent)]
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

    /// Frees every mbuf of `bufs` in one call (cheaper than dropping them
    /// one by one), leaving it empty.
    pub fn free_all(bufs: &mut Vec<Mbuf>) {
        let Ok(count) = u32::try_from(bufs.len()) else {
            bufs.clear();
            return;
        };
        // SAFETY: `Mbuf` is a transparent owned pointer, so the Vec is an
        // array of `count` valid mbufs we own; DPDK frees each once, and the
        // length drops to zero so none is dropped again.
        unsafe {
            sys::dps_pktmbuf_free_bulk(bufs.as_mut_ptr() as *mut *mut sys::rte_mbuf, count);
            bufs.set_len(0);
        }
    }

    /// The raw pointer, still owned by `self`.
    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }

    /// Number of segments in the chain (1 for a single buffer).
    pub fn segments(&self) -> u16 {
        self.raw().nb_segs
    }

    /// Total packet length over all segments, in bytes.
    pub fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    /// The mbuf's offload flags (`RTE_MBUF_F_*`), e.g. checksum verdicts.
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    /// Reference count (1 unless the mbuf is shared).
    pub fn refcnt(&self) -> u16 {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::dps_mbuf_refcnt_read(self.as_ptr()) }
    }
}

impl Mbuf {
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf for as long as the borrow lasts.
        unsafe { self.0.as_ref() }
    }

    fn raw_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: as raw(); &mut self makes the access exclusive.
        unsafe { self.0.as_mut() }
    }

    /// True for a single-segment mbuf, whose fields this module edits
    /// directly (inlined, no call into the shim); chains go through DPDK.
    fn single(&self) -> bool {
        self.raw().nb_segs == 1
    }

    /// Pointer to byte `offset` of the mbuf's buffer.
    fn buf_ptr(&self, offset: usize) -> *mut u8 {
        // SAFETY: callers keep `offset` within buf_len, inside the buffer.
        unsafe { (self.raw().buf_addr as *mut u8).add(offset) }
    }
}

/// The verdicts DPDK's receive checksum flags give (`RTE_MBUF_F_RX_*_CKSUM_*`):
/// GOOD and BAD are verdicts; UNKNOWN and NONE (both bits) leave it to the stack.
pub fn rx_checksums_of(ol_flags: u64) -> crate::buf::RxChecksums {
    use crate::buf::{ChecksumVerdict, RxChecksums};
    let verdict = |mask: u32, good: u32, bad: u32| match ol_flags & u64::from(mask) {
        f if f == u64::from(good) => ChecksumVerdict::Good,
        f if f == u64::from(bad) => ChecksumVerdict::Bad,
        _ => ChecksumVerdict::Unknown,
    };
    RxChecksums {
        ip: verdict(
            sys::dps_offload_flag_DPS_MBUF_RX_IP_CKSUM_MASK,
            sys::dps_offload_flag_DPS_MBUF_RX_IP_CKSUM_GOOD,
            sys::dps_offload_flag_DPS_MBUF_RX_IP_CKSUM_BAD,
        ),
        l4: verdict(
            sys::dps_offload_flag_DPS_MBUF_RX_L4_CKSUM_MASK,
            sys::dps_offload_flag_DPS_MBUF_RX_L4_CKSUM_GOOD,
            sys::dps_offload_flag_DPS_MBUF_RX_L4_CKSUM_BAD,
        ),
    }
}

impl Mbuf {
    /// The checksums this mbuf asks the NIC to fill in on transmit (its
    /// `RTE_MBUF_F_TX_*_CKSUM` flags), with its header lengths.
    pub fn tx_checksums(&self) -> crate::buf::TxChecksums {
        // SAFETY: self owns a valid mbuf; the shim only reads its flags.
        let what = unsafe { sys::dps_mbuf_tx_cksum(self.as_ptr()) };
        let m = self.raw();
        // SAFETY: reading the tx_offload bitfield word of a valid mbuf.
        let packed = unsafe { m.__bindgen_anon_3.tx_offload };
        crate::buf::TxChecksums {
            ip: what & sys::dps_tx_cksum_DPS_TX_CKSUM_IP != 0,
            tcp: what & sys::dps_tx_cksum_DPS_TX_CKSUM_TCP != 0,
            udp: what & sys::dps_tx_cksum_DPS_TX_CKSUM_UDP != 0,
            // rte_mbuf's tx_offload packs l2_len in bits 0-6, l3_len in 7-15.
            l2_len: (packed & 0x7f) as u16,
            l3_len: ((packed >> 7) & 0x1ff) as u16,
        }
    }
}

impl PacketBuf for Mbuf {
    fn rx_checksums(&self) -> crate::buf::RxChecksums {
        rx_checksums_of(self.raw().ol_flags)
    }

    fn request_tx_checksums(&mut self, request: crate::buf::TxChecksums) -> bool {
        let mut what = 0;
        if request.ip {
            what |= sys::dps_tx_cksum_DPS_TX_CKSUM_IP;
        }
        if request.tcp {
            what |= sys::dps_tx_cksum_DPS_TX_CKSUM_TCP;
        } else if request.udp {
            what |= sys::dps_tx_cksum_DPS_TX_CKSUM_UDP;
        }
        // SAFETY: self owns a valid mbuf exclusively (&mut self); the shim
        // sets its flags and header lengths only.
        unsafe {
            sys::dps_mbuf_request_tx_cksum(self.as_ptr(), what, request.l2_len, request.l3_len);
        }
        true
    }

    fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: data_off + data_len <= buf_len for a valid mbuf; those
        // bytes live while self owns the mbuf, and the borrow ties them.
        unsafe {
            std::slice::from_raw_parts(
                self.buf_ptr(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        let (off, len) = (
            usize::from(self.raw().data_off),
            usize::from(self.raw().data_len),
        );
        // SAFETY: as data(); &mut self guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.buf_ptr(off), len) }
    }

    fn headroom(&self) -> usize {
        usize::from(self.raw().data_off)
    }

    fn tailroom(&self) -> usize {
        if !self.single() {
            // SAFETY: self owns a valid mbuf.
            return unsafe { sys::dps_pktmbuf_tailroom(self.as_ptr()) as usize };
        }
        let m = self.raw();
        usize::from(m.buf_len) - usize::from(m.data_off) - usize::from(m.data_len)
    }

    fn append(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        if !self.single() {
            // SAFETY: DPDK checks the tailroom of the last segment and
            // returns null when short; on success the bytes are ours.
            return unsafe {
                let ptr = sys::dps_pktmbuf_append(self.as_ptr(), len16) as *mut u8;
                (!ptr.is_null()).then(|| std::slice::from_raw_parts_mut(ptr, len))
            };
        }
        if len > self.tailroom() {
            return None;
        }
        let m = self.raw_mut();
        let at = usize::from(m.data_off) + usize::from(m.data_len);
        m.data_len += len16;
        m.pkt_len += u32::from(len16);
        // SAFETY: the tailroom check keeps [at, at + len) inside the buffer.
        Some(unsafe { std::slice::from_raw_parts_mut(self.buf_ptr(at), len) })
    }

    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        if len > self.headroom() {
            return None;
        }
        let m = self.raw_mut();
        m.data_off -= len16;
        m.data_len += len16;
        m.pkt_len += u32::from(len16);
        let at = usize::from(m.data_off);
        // SAFETY: the headroom check keeps [at, at + len) inside the buffer.
        Some(unsafe { std::slice::from_raw_parts_mut(self.buf_ptr(at), len) })
    }

    fn adj(&mut self, len: usize) -> bool {
        let Ok(len16) = u16::try_from(len) else {
            return false;
        };
        let m = self.raw_mut();
        if len16 > m.data_len {
            return false;
        }
        m.data_off += len16;
        m.data_len -= len16;
        m.pkt_len -= u32::from(len16);
        true
    }

    fn trim(&mut self, len: usize) -> bool {
        let Ok(len16) = u16::try_from(len) else {
            return false;
        };
        if !self.single() {
            // SAFETY: DPDK checks the length and returns -1 when short.
            return unsafe { sys::dps_pktmbuf_trim(self.as_ptr(), len16) == 0 };
        }
        let m = self.raw_mut();
        if len16 > m.data_len {
            return false;
        }
        m.data_len -= len16;
        m.pkt_len -= u32::from(len16);
        true
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf and it is freed exactly once, here.
        unsafe { sys::dps_pktmbuf_free(self.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{ChecksumVerdict, RxChecksums};

    #[test]
    fn receive_checksum_flags_become_verdicts() {
        let flag = |f: u32| u64::from(f);
        let ip_good = flag(sys::dps_offload_flag_DPS_MBUF_RX_IP_CKSUM_GOOD);
        let ip_bad = flag(sys::dps_offload_flag_DPS_MBUF_RX_IP_CKSUM_BAD);
        let l4_good = flag(sys::dps_offload_flag_DPS_MBUF_RX_L4_CKSUM_GOOD);
        let l4_bad = flag(sys::dps_offload_flag_DPS_MBUF_RX_L4_CKSUM_BAD);
        let (good, bad, unknown) = (
            ChecksumVerdict::Good,
            ChecksumVerdict::Bad,
            ChecksumVerdict::Unknown,
        );
        for (flags, ip, l4) in [
            (0, unknown, unknown),
            (ip_good | l4_good, good, good),
            (ip_bad | l4_good, bad, good),
            (ip_good | l4_bad, good, bad),
            // GOOD and BAD together mean NONE: not checked.
            (ip_good | ip_bad | l4_good | l4_bad, unknown, unknown),
            // Other flags are ignored.
            (1 << 60 | l4_good, unknown, good),
        ] {
            assert_eq!(rx_checksums_of(flags), RxChecksums { ip, l4 }, "{flags:#x}");
        }
    }
}
