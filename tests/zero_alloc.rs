//! Steady-state send and receive over `pipe` makes no heap allocation: a
//! counting global allocator watches this test's thread while a million
//! frames cross. (One test in this file, so no other test shares the count.)

use dpstack::buf::{BufPool, PacketBuf};
use dpstack::device::pipe::{pipe_pair, PipeConfig};
use dpstack::device::{Device, MAX_BURST};
use dpstack::time::Instant;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts, and the thread-local it reads is const-initialised (no allocation).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const FRAMES: u64 = 1_000_000;
/// Frames sent before counting starts; a whole number of bursts.
const WARMUP: u64 = 320 * MAX_BURST as u64;

#[test]
fn a_million_frames_over_pipe_allocate_nothing() {
    let pool = BufPool::with_defaults();
    let (mut a, mut b) = pipe_pair(&PipeConfig::default(), &pool);
    let mut outgoing = Vec::with_capacity(MAX_BURST);
    let mut incoming = Vec::with_capacity(MAX_BURST);
    assert_eq!(FRAMES % MAX_BURST as u64, 0, "rounds send whole bursts");
    let mut round = |count: u64, first: u64| -> u64 {
        let mut checksum = 0u64;
        let mut seq = first;
        while seq < first + count {
            for _ in 0..MAX_BURST {
                let mut frame = a
                    .alloc_tx(64 + (seq % 1400) as usize)
                    .expect("pool has buffers");
                frame.data_mut()[..8].copy_from_slice(&seq.to_le_bytes());
                outgoing.push(frame);
                seq += 1;
            }
            a.transmit(Instant::ZERO, &mut outgoing);
            assert!(outgoing.is_empty());
            incoming.clear();
            b.receive(Instant::ZERO, &mut incoming, MAX_BURST);
            for frame in &incoming {
                checksum = checksum
                    .wrapping_add(u64::from_le_bytes(frame.data()[..8].try_into().unwrap()));
            }
        }
        incoming.clear();
        checksum
    };

    // Warm-up: the pool creates its buffers lazily, up to the burst in flight.
    round(WARMUP, 0);
    let created_after_warmup = pool.stats().created;

    COUNTING.with(|c| c.set(true));
    let checksum = round(FRAMES, WARMUP);
    COUNTING.with(|c| c.set(false));

    let expected: u64 = (WARMUP..WARMUP + FRAMES).sum();
    assert_eq!(checksum, expected, "every frame arrived once");
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "heap allocations in steady state"
    );
    assert_eq!(
        pool.stats().created,
        created_after_warmup,
        "no new buffers after warm-up"
    );
    assert_eq!(b.stats().rx_packets, WARMUP + FRAMES);
}
