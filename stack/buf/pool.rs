//! A pool of packet buffers in size classes, with lock-free free lists.
//!
//! Buffers are created lazily up to each class's limit and returned to their
//! class's free list (a `crossbeam_queue::ArrayQueue`) when dropped, so in
//! steady state taking and returning a buffer touches no heap allocator. The
//! pool is `Send + Sync`: a buffer may be freed on another thread than the
//! one that took it (the pipe device hands buffers between threads).

use super::PacketBuf;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// One size class: buffers of `size` bytes (headroom included), at most `count` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeClass {
    /// Bytes of storage per buffer, headroom included.
    pub size: usize,
    /// Most buffers of this class that may exist at once.
    pub count: usize,
}

/// How a [`BufPool`] is shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Size classes, smallest first.
    pub classes: Vec<SizeClass>,
    /// Bytes reserved in front of the data of every new buffer, for headers
    /// prepended on transmit.
    pub headroom: usize,
}

impl Default for PoolConfig {
    /// Standard frames, jumbo frames and full 64 KiB datagrams, with 128
    /// bytes of headroom as DPDK's `RTE_PKTMBUF_HEADROOM`.
    fn default() -> Self {
        PoolConfig {
            classes: vec![
                SizeClass {
                    size: 2048 + 128,
                    count: 8192,
                },
                SizeClass {
                    size: 9216 + 128,
                    count: 512,
                },
                SizeClass {
                    size: 65536 + 128,
                    count: 64,
                },
            ],
            headroom: 128,
        }
    }
}

/// Counters of a pool, as a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Buffers ever created with the heap allocator.
    pub created: u64,
    /// Requests refused: no class is large enough, or the class is exhausted.
    pub alloc_failures: u64,
    /// Buffers handed out and not yet returned.
    pub in_use: u64,
}

struct Class {
    size: usize,
    limit: usize,
    created: AtomicUsize,
    free: ArrayQueue<Box<[u8]>>,
}

struct PoolInner {
    classes: Box<[Class]>,
    headroom: usize,
    failures: AtomicU64,
}

/// A shared handle to a pool of packet buffers; clones share the pool.
#[derive(Clone)]
pub struct BufPool {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for BufPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufPool")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Error for a [`PoolConfig`] that cannot make a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolConfigError {
    /// No size classes were given.
    NoClasses,
    /// A class is no larger than the headroom, or smaller than the one before it.
    BadClassSize,
    /// A class allows no buffers.
    ZeroCount,
}

impl std::fmt::Display for PoolConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PoolConfigError::NoClasses => "a buffer pool needs at least one size class",
            PoolConfigError::BadClassSize => {
                "size classes must be larger than the headroom and in increasing order"
            }
            PoolConfigError::ZeroCount => "every size class must allow at least one buffer",
        })
    }
}

impl std::error::Error for PoolConfigError {}

impl BufPool {
    /// A pool shaped by `config`; nothing is allocated until buffers are taken.
    pub fn new(config: &PoolConfig) -> Result<Self, PoolConfigError> {
        if config.classes.is_empty() {
            return Err(PoolConfigError::NoClasses);
        }
        let mut previous = config.headroom;
        for class in &config.classes {
            if class.size <= previous {
                return Err(PoolConfigError::BadClassSize);
            }
            if class.count == 0 {
                return Err(PoolConfigError::ZeroCount);
            }
            previous = class.size;
        }
        let classes = config
            .classes
            .iter()
            .map(|c| Class {
                size: c.size,
                limit: c.count,
                created: AtomicUsize::new(0),
                free: ArrayQueue::new(c.count),
            })
            .collect();
        Ok(BufPool {
            inner: Arc::new(PoolInner {
                classes,
                headroom: config.headroom,
                failures: AtomicU64::new(0),
            }),
        })
    }

    /// A pool with [`PoolConfig::default`].
    pub fn with_defaults() -> Self {
        Self::new(&PoolConfig::default()).expect("the default pool config is valid")
    }

    /// The headroom new buffers start with, in bytes.
    pub fn headroom(&self) -> usize {
        self.inner.headroom
    }

    /// The largest data length a buffer from this pool can hold after the headroom.
    pub fn max_len(&self) -> usize {
        self.inner.classes.last().map_or(0, |c| c.size) - self.inner.headroom
    }

    /// A buffer holding `len` data bytes (contents unspecified) after the
    /// pool's headroom, from the smallest class that fits; `None` when no
    /// class fits or the fitting classes are exhausted (counted).
    pub fn alloc(&self, len: usize) -> Option<PoolBuf> {
        let inner = &self.inner;
        let need = inner.headroom.checked_add(len)?;
        for (index, class) in inner.classes.iter().enumerate() {
            if class.size < need {
                continue;
            }
            if let Some(storage) = class.free.pop().or_else(|| Self::create(class)) {
                return Some(PoolBuf {
                    storage: Some(storage),
                    class: index as u8,
                    start: inner.headroom as u32,
                    end: need as u32,
                    pool: Arc::clone(inner),
                });
            }
        }
        inner.failures.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn create(class: &Class) -> Option<Box<[u8]>> {
        let mut created = class.created.load(Ordering::Relaxed);
        loop {
            if created >= class.limit {
                return None;
            }
            match class.created.compare_exchange_weak(
                created,
                created + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(vec![0u8; class.size].into_boxed_slice()),
                Err(now) => created = now,
            }
        }
    }

    /// A snapshot of the pool's counters. Derived from the free lists rather
    /// than counted per buffer, so the data path pays nothing for it; under
    /// concurrent use the figures are approximate.
    pub fn stats(&self) -> PoolStats {
        let inner = &self.inner;
        let (created, free) = inner.classes.iter().fold((0u64, 0u64), |(c, f), class| {
            (
                c + class.created.load(Ordering::Relaxed) as u64,
                f + class.free.len() as u64,
            )
        });
        PoolStats {
            created,
            alloc_failures: inner.failures.load(Ordering::Relaxed),
            in_use: created.saturating_sub(free),
        }
    }
}

/// A buffer taken from a [`BufPool`]; it goes back to its free list when dropped.
pub struct PoolBuf {
    /// Always `Some` until drop hands the storage back.
    storage: Option<Box<[u8]>>,
    class: u8,
    /// Offset of the first data byte; invariant `start <= end <= storage.len()`.
    start: u32,
    /// Offset one past the last data byte.
    end: u32,
    pool: Arc<PoolInner>,
}

impl std::fmt::Debug for PoolBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolBuf")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .finish()
    }
}

impl PoolBuf {
    fn storage(&self) -> &[u8] {
        self.storage.as_deref().unwrap_or(&[])
    }

    fn storage_mut(&mut self) -> &mut [u8] {
        self.storage.as_deref_mut().unwrap_or(&mut [])
    }

    /// A new buffer from the same pool holding a copy of this one's data,
    /// or `None` if the pool is exhausted.
    pub fn try_clone(&self) -> Option<PoolBuf> {
        let mut copy = BufPool {
            inner: Arc::clone(&self.pool),
        }
        .alloc(self.len())?;
        copy.data_mut().copy_from_slice(self.data());
        Some(copy)
    }
}

impl PacketBuf for PoolBuf {
    fn data(&self) -> &[u8] {
        let (start, end) = (self.start as usize, self.end as usize);
        &self.storage()[start..end]
    }

    fn data_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.start as usize, self.end as usize);
        &mut self.storage_mut()[start..end]
    }

    fn headroom(&self) -> usize {
        self.start as usize
    }

    fn tailroom(&self) -> usize {
        self.storage().len() - self.end as usize
    }

    fn append(&mut self, len: usize) -> Option<&mut [u8]> {
        if len > self.tailroom() {
            return None;
        }
        let old_end = self.end as usize;
        self.end += len as u32;
        Some(&mut self.storage_mut()[old_end..old_end + len])
    }

    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        if len > self.headroom() {
            return None;
        }
        self.start -= len as u32;
        let start = self.start as usize;
        Some(&mut self.storage_mut()[start..start + len])
    }

    fn adj(&mut self, len: usize) -> bool {
        if len > self.len() {
            return false;
        }
        self.start += len as u32;
        true
    }

    fn trim(&mut self, len: usize) -> bool {
        if len > self.len() {
            return false;
        }
        self.end -= len as u32;
        true
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        if let Some(storage) = self.storage.take() {
            if let Some(class) = self.pool.classes.get(self.class as usize) {
                // The free list has room for every buffer the class may create,
                // so this push cannot fail; if it ever did, the storage is freed.
                let _ = class.free.push(storage);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_pool(count: usize) -> BufPool {
        BufPool::new(&PoolConfig {
            classes: vec![
                SizeClass { size: 256, count },
                SizeClass {
                    size: 1024,
                    count: 1,
                },
            ],
            headroom: 64,
        })
        .unwrap()
    }

    #[test]
    fn picks_smallest_fitting_class() {
        let pool = small_pool(4);
        let small = pool.alloc(100).unwrap();
        assert_eq!(small.len(), 100);
        assert_eq!(small.headroom(), 64);
        assert_eq!(small.tailroom(), 256 - 64 - 100);
        let large = pool.alloc(500).unwrap();
        assert_eq!(large.tailroom(), 1024 - 64 - 500);
        assert!(pool.alloc(1024).is_none(), "no class fits");
        assert_eq!(pool.stats().alloc_failures, 1);
    }

    #[test]
    fn exhausted_class_falls_through_then_fails() {
        let pool = small_pool(1);
        let a = pool.alloc(10).unwrap();
        let b = pool.alloc(10).unwrap();
        assert_eq!(b.tailroom(), 1024 - 64 - 10, "came from the larger class");
        assert!(pool.alloc(10).is_none());
        drop(a);
        assert!(pool.alloc(10).is_some(), "returned buffer is reused");
        assert_eq!(pool.stats().created, 2);
        drop(b);
    }

    #[test]
    fn prepend_append_adj_trim_respect_bounds() {
        let pool = small_pool(1);
        let mut buf = pool.alloc(0).unwrap();
        assert!(buf.prepend(65).is_none());
        buf.append(3).unwrap().copy_from_slice(b"def");
        buf.prepend(3).unwrap().copy_from_slice(b"abc");
        assert_eq!(buf.data(), b"abcdef");
        assert!(buf.adj(2));
        assert!(buf.trim(1));
        assert_eq!(buf.data(), b"cde");
        assert!(!buf.adj(4));
        assert!(!buf.trim(4));
        assert!(buf.append(buf.tailroom() + 1).is_none());
        assert_eq!(buf.data(), b"cde");
    }

    #[test]
    fn stats_track_in_use() {
        let pool = small_pool(4);
        let a = pool.alloc(1).unwrap();
        let b = a.try_clone().unwrap();
        assert_eq!(pool.stats().in_use, 2);
        drop(a);
        drop(b);
        assert_eq!(pool.stats().in_use, 0);
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = |classes, headroom| BufPool::new(&PoolConfig { classes, headroom }).err();
        assert_eq!(bad(vec![], 0), Some(PoolConfigError::NoClasses));
        assert_eq!(
            bad(vec![SizeClass { size: 64, count: 1 }], 64),
            Some(PoolConfigError::BadClassSize)
        );
        assert_eq!(
            bad(
                vec![SizeClass {
                    size: 128,
                    count: 0
                }],
                64
            ),
            Some(PoolConfigError::ZeroCount)
        );
    }
}
