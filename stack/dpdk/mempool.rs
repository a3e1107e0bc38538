//! Mbuf pools on DPDK memory (hugepages unless EAL runs with `--no-huge`).

use super::eal::CLEANUP_UNSAFE;
use super::{sys, DpdkError, Eal, Mbuf};
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

static POOL_SEQUENCE: AtomicU32 = AtomicU32::new(0);

struct PoolHandle {
    raw: NonNull<sys::rte_mempool>,
    _eal: Eal,
}

// SAFETY: rte_mempool is designed for concurrent use from many threads.
unsafe impl Send for PoolHandle {}
// SAFETY: as above; all operations used are thread-safe in DPDK.
unsafe impl Sync for PoolHandle {}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        // SAFETY: the pool is valid until freed here; in_use_count only reads.
        unsafe {
            if sys::rte_mempool_in_use_count(self.raw.as_ptr()) == 0 {
                sys::rte_mempool_free(self.raw.as_ptr());
            } else {
                // Mbufs still point into this pool: keep it, and keep EAL's
                // memory mapped for the rest of the process.
                CLEANUP_UNSAFE.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// A pool of mbufs. Clones share the pool; it is freed with the last clone,
/// if no mbuf taken from it is still alive.
#[derive(Clone)]
pub struct Mempool {
    handle: Arc<PoolHandle>,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("available", &self.available())
            .finish()
    }
}

impl Mempool {
    /// Default data room per mbuf: 2048 bytes plus `RTE_PKTMBUF_HEADROOM`.
    pub const DEFAULT_DATA_ROOM: u16 = sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

    /// Creates a packet mbuf pool of `size` mbufs (best as 2^n - 1), a
    /// per-lcore cache of `cache` mbufs, and `data_room` bytes of buffer per
    /// mbuf (headroom included), on NUMA `socket` (-1 for any).
    pub fn new(
        eal: &Eal,
        size: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Self, DpdkError> {
        let name = format!(
            "dps_pool_{}_{}",
            std::process::id(),
            POOL_SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let name = CString::new(name).unwrap_or_default();
        // SAFETY: the name is a valid C string copied by DPDK; other
        // arguments are plain values DPDK validates.
        let raw = unsafe {
            sys::rte_pktmbuf_pool_create(name.as_ptr(), size, cache, 0, data_room, socket)
        };
        let raw =
            NonNull::new(raw).ok_or_else(|| DpdkError::from_errno("rte_pktmbuf_pool_create"))?;
        Ok(Mempool {
            handle: Arc::new(PoolHandle {
                raw,
                _eal: eal.clone(),
            }),
        })
    }

    /// An mbuf with empty data and the default headroom; `None` when the pool is exhausted.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is valid; a non-null result is a fresh mbuf we own.
        unsafe { Mbuf::from_raw(sys::dps_pktmbuf_alloc(self.as_ptr())) }
    }

    /// Takes `count` mbufs at once (cheaper than one by one) and appends
    /// them to `out`; false, and nothing taken, if the pool has too few.
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, count: usize) -> bool {
        // Fresh mbufs hold no data: length 0 is what a reset leaves.
        self.alloc_bulk_len(out, count, 0)
    }

    /// As [`alloc_bulk`](Self::alloc_bulk), each mbuf already holding
    /// `len` bytes of (unwritten) data; false, and nothing taken, if the
    /// pool has too few or `len` does not fit in one mbuf.
    pub fn alloc_bulk_len(&self, out: &mut Vec<Mbuf>, count: usize, len: usize) -> bool {
        let (Ok(count32), Ok(len16)) = (u32::try_from(count), u16::try_from(len)) else {
            return false;
        };
        out.reserve(count);
        let at = out.len();
        // SAFETY: `Mbuf` is a transparent non-null pointer, so the reserved
        // spare capacity is room for `count` `rte_mbuf *`; DPDK fills all of
        // them with fresh mbufs we then own, or none (and nonzero is
        // returned), and only then is the length extended over them.
        unsafe {
            let slots = out.as_mut_ptr().add(at) as *mut *mut sys::rte_mbuf;
            if sys::dps_pktmbuf_alloc_bulk_len(self.as_ptr(), slots, count32, len16) != 0 {
                return false;
            }
            out.set_len(at + count);
        }
        true
    }

    /// Mbufs currently free in the pool (caches included).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid; the call only reads counters.
        unsafe { sys::rte_mempool_avail_count(self.as_ptr()) }
    }

    /// Mbufs currently taken from the pool.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid; the call only reads counters.
        unsafe { sys::rte_mempool_in_use_count(self.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.handle.raw.as_ptr()
    }
}
