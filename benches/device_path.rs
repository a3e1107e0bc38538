//! Cost per frame of the device layer's hot path, next to a baseline in the
//! same run: a pooled frame allocated, written, sent over `pipe`, received
//! and freed, against two baselines: a fresh `Vec<u8>` per frame through a
//! `VecDeque` (single-threaded, no device), and through the same lock-free
//! `ArrayQueue` the pipe uses. Median and range of 7 interleaved runs of
//! 2,000,000 64-byte frames each.
//!
//! Run: `cargo bench --bench device_path`

use dpstack::buf::{BufPool, PacketBuf};
use dpstack::device::pipe::{pipe_pair, PipeConfig};
use dpstack::device::{Device, MAX_BURST};
use dpstack::time::Instant;
use std::collections::VecDeque;
use std::hint::black_box;

const FRAMES: u64 = 2_000_000;
const RUNS: usize = 7;
const FRAME_LEN: usize = 64;

fn pipe_path() -> f64 {
    let pool = BufPool::with_defaults();
    let (mut a, mut b) = pipe_pair(&PipeConfig::default(), &pool);
    let mut outgoing = Vec::with_capacity(MAX_BURST);
    let mut incoming = Vec::with_capacity(MAX_BURST);
    let start = std::time::Instant::now();
    let mut seq = 0u64;
    while seq < FRAMES {
        for _ in 0..MAX_BURST {
            let mut frame = a.alloc_tx(FRAME_LEN).expect("buffers");
            frame.data_mut()[..8].copy_from_slice(&seq.to_le_bytes());
            outgoing.push(frame);
            seq += 1;
        }
        a.transmit(Instant::ZERO, &mut outgoing);
        incoming.clear();
        b.receive(Instant::ZERO, &mut incoming, MAX_BURST);
        for frame in &incoming {
            black_box(frame.data()[0]);
        }
    }
    start.elapsed().as_nanos() as f64 / FRAMES as f64
}

/// The baseline: a fresh `Vec` per frame, pushed and popped through a queue.
fn vec_per_frame(mut push: impl FnMut(Vec<u8>), mut pop: impl FnMut() -> Option<Vec<u8>>) -> f64 {
    let start = std::time::Instant::now();
    let mut seq = 0u64;
    while seq < FRAMES {
        for _ in 0..MAX_BURST {
            let mut frame = vec![0u8; FRAME_LEN];
            frame[..8].copy_from_slice(&seq.to_le_bytes());
            push(black_box(frame));
            seq += 1;
        }
        while let Some(frame) = pop() {
            black_box(frame[0]);
        }
    }
    start.elapsed().as_nanos() as f64 / FRAMES as f64
}

fn vec_through_vecdeque() -> f64 {
    let queue = std::cell::RefCell::new(VecDeque::with_capacity(1024));
    vec_per_frame(
        |f| queue.borrow_mut().push_back(f),
        || queue.borrow_mut().pop_front(),
    )
}

fn vec_through_array_queue() -> f64 {
    let queue = crossbeam_queue::ArrayQueue::new(1024);
    vec_per_frame(
        |f| {
            let _ = queue.push(f);
        },
        || queue.pop(),
    )
}

fn summarise(name: &str, mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    println!(
        "{name:<28} median {median:6.1} ns/frame  (min {:.1}, max {:.1}, {RUNS} runs x {FRAMES} frames)",
        samples[0],
        samples[samples.len() - 1]
    );
    median
}

fn main() {
    // Interleave the two so drift on a shared machine hits both alike.
    let (mut pooled, mut naive, mut queued) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        pooled.push(pipe_path());
        naive.push(vec_through_vecdeque());
        queued.push(vec_through_array_queue());
    }
    let pooled = summarise("pool + pipe device", pooled);
    let naive = summarise("Vec per frame, VecDeque", naive);
    let queued = summarise("Vec per frame, ArrayQueue", queued);
    println!("ratio pool+pipe / Vec+VecDeque: {:.2}", pooled / naive);
    println!("ratio pool+pipe / Vec+ArrayQueue: {:.2}", pooled / queued);
}
