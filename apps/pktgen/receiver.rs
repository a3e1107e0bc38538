//! The receive-only worker (`--rx-only`): another generator's probes
//! counted at the rate the device delivers them.
//!
//! A loop of its own rather than the generator's with sending switched
//! off: at tens of millions of frames a second every per-frame instruction
//! shows, and this loop does per frame only what the figures need (the
//! probe's queue, sequence number and, with `--latency`, its timestamp).

use crate::builder::{parse_probe, Received};
use crate::worker::{report_live, WorkerContext, WorkerResult};
use dpstack::buf::PacketBuf;
use dpstack::device::{Device, MAX_BURST};
use dpstack::time::Instant;
use std::sync::atomic::Ordering;

/// Device bursts per turn: the turn's fixed costs (clock, stop flag, live
/// counters) spread over several bursts.
const BURSTS_PER_TURN: usize = 4;

/// Receives on `device` for the warm-up and then the counted period
/// (`--duration`, or until stopped); every frame received after warm-up
/// is counted, and every probe in them tracked by its sender's queue and
/// sequence number.
pub fn run_receiver<D: Device>(device: &mut D, ctx: &WorkerContext<'_>) -> WorkerResult {
    let plan = ctx.plan;
    let ticks = ctx.ticks;
    // Multiplied, not divided: this runs every turn.
    let ns_per_tick = 1e9 / ticks.hz() as f64;
    let start = ticks.now();
    let counting_from = start + ticks.secs_to_ticks(plan.warmup);
    let until = plan.duration.map_or(u64::MAX, |secs| {
        counting_from.saturating_add(ticks.secs_to_ticks(secs))
    });
    let slot = &ctx.live.slots[ctx.index];
    let mut result = WorkerResult::default();
    let mut rx: Vec<D::Buf> = Vec::with_capacity(MAX_BURST);
    let mut next_report = start + ticks.hz();
    let mut report_base = (0u64, 0u64, start);
    let mut now = start;
    while ctx.control.keep_running() {
        now = ticks.now();
        if now >= until {
            break;
        }
        let device_now = Instant::from_nanos(((now - start) as f64 * ns_per_tick) as u64);
        let counting = now >= counting_from;
        // Each burst counted and freed before the next is taken, while its
        // frames are still in the L1 cache.
        for _ in 0..BURSTS_PER_TURN {
            if device.receive(device_now, &mut rx, MAX_BURST) == 0 {
                break;
            }
            if counting {
                result.rx_packets += rx.len() as u64;
                if plan.latency {
                    // A fresh reading: `now` predates the receive.
                    count_with_latency(&rx, &mut result, ticks.now());
                } else {
                    count(&rx, &mut result);
                }
            }
            device.release(&mut rx);
        }
        slot.rx_packets.store(result.rx_packets, Ordering::Relaxed);
        if ctx.index == 0 && now >= next_report {
            report_base = report_live(ctx.live, ticks, report_base, now);
            next_report = now + ticks.hz();
        }
    }
    // Figures are per second of the counted receive period.
    result.send_nanos = ticks.nanos(now.max(counting_from) - counting_from);
    result
}

/// Counts the bytes of `frames` and tracks their probes.
fn count<B: PacketBuf>(frames: &[B], result: &mut WorkerResult) {
    track(frames, result, |_, _| {});
}

/// Counts the bytes of `frames`, tracks their probes, and shows each probe
/// with its frame's index to `also` (inlined: a no-op costs nothing).
#[inline(always)]
fn track<B: PacketBuf>(
    frames: &[B],
    result: &mut WorkerResult,
    mut also: impl FnMut(usize, &Received),
) {
    let mut bytes = 0;
    let mut tracker = result.tracker.cursor();
    for (index, frame) in frames.iter().enumerate() {
        let data = frame.data();
        bytes += data.len() as u64;
        if let Some(probe) = parse_probe(data) {
            tracker.record(probe.queue, probe.seq);
            also(index, &probe);
        }
    }
    drop(tracker);
    result.rx_bytes += bytes;
}

/// [`count`], and the latency (in ticks) of each probe whose timestamp
/// (on the TSC both generators read) is not after `now`.
fn count_with_latency<B: PacketBuf>(frames: &[B], result: &mut WorkerResult, now: u64) {
    for burst in frames.chunks(MAX_BURST) {
        // Two passes, so that each loop keeps its state in registers: the
        // probes tracked and their send times kept, then the latencies.
        let mut sent_at = [u64::MAX; MAX_BURST];
        track(burst, result, |index, probe| {
            sent_at[index] = probe.timestamp.unwrap_or(u64::MAX);
        });
        let mut latencies = [0u64; MAX_BURST];
        let mut measured = 0;
        for &sent_at in &sent_at[..burst.len()] {
            latencies[measured] = now.wrapping_sub(sent_at);
            measured += usize::from(sent_at <= now);
        }
        result.latency.record_burst(&latencies[..measured]);
    }
}
