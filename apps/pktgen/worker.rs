//! One generator per queue pair: paced bursts out, probes back in.

use crate::builder::{parse_probe, FlowSpec, Probe};
use crate::receiver::run_receiver;
use crate::spec::{Accounting, Mode, Sizes};
use crate::stats::{LatencyHistogram, RxTracker};
use crate::template::FrameWriter;
use dpstack::buf::PacketBuf;
use dpstack::device::pcap::PcapWriter;
use dpstack::device::Device;
use dpstack::runtime::RunControl;
use dpstack::time::Instant;
use std::io::BufWriter;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where time comes from: the TSC on DPDK, the monotonic clock elsewhere.
#[derive(Clone)]
pub enum Ticks {
    /// DPDK's TSC.
    #[cfg(feature = "dpdk")]
    Tsc(dpstack::dpdk::Eal, u64),
    /// The OS monotonic clock, in nanoseconds from `origin`.
    Monotonic(std::time::Instant),
}

impl Ticks {
    /// The current tick.
    pub fn now(&self) -> u64 {
        match self {
            #[cfg(feature = "dpdk")]
            Ticks::Tsc(eal, _) => eal.rdtsc(),
            Ticks::Monotonic(origin) => origin.elapsed().as_nanos() as u64,
        }
    }

    /// Ticks per second.
    pub fn hz(&self) -> u64 {
        match self {
            #[cfg(feature = "dpdk")]
            Ticks::Tsc(_, hz) => *hz,
            Ticks::Monotonic(_) => 1_000_000_000,
        }
    }

    /// `ticks` in nanoseconds.
    pub fn nanos(&self, ticks: u64) -> u64 {
        (u128::from(ticks) * 1_000_000_000 / u128::from(self.hz())) as u64
    }

    /// `secs` in ticks.
    pub fn secs_to_ticks(&self, secs: f64) -> u64 {
        (secs * self.hz() as f64) as u64
    }
}

/// Frames replayed from a capture, with their original timestamps.
pub struct Replay {
    /// (timestamp in ns, frame bytes), in file order.
    pub frames: Vec<(u64, Vec<u8>)>,
    /// Times through the file.
    pub loops: u64,
    /// Keep the file's inter-frame gaps (else pace at the rate).
    pub original_timing: bool,
}

/// Everything a worker needs to know about the run.
pub struct Plan {
    /// Traffic kind.
    pub mode: Mode,
    /// Frame sizes.
    pub sizes: Sizes,
    /// Frames per second per worker (`None`: unlimited).
    pub frames_per_sec: Option<f64>,
    /// Bits per second per worker, counted per `accounting` (`None`: by frames).
    pub bits_per_sec: Option<f64>,
    /// Bit accounting for rates and reports.
    pub accounting: Accounting,
    /// Frames to count in all (after warm-up); 0 for no limit.
    pub count: u64,
    /// Seconds to send after warm-up; `None` for no limit.
    pub duration: Option<f64>,
    /// Seconds of warm-up traffic excluded from every figure.
    pub warmup: f64,
    /// Frames per burst.
    pub burst: usize,
    /// Measure latency from returning probes.
    pub latency: bool,
    /// Seconds to keep receiving after the last frame is sent.
    pub rx_wait: f64,
    /// Poll for received frames (off with `--tx-only`).
    pub receive: bool,
    /// Send frames (off with `--rx-only`: figures are over the receive
    /// period, and loss is the gaps in each sender's sequence).
    pub transmit: bool,
    /// Flow ranges.
    pub flows: FlowSpec,
    /// Seed of the random flow mode (worker `i` uses `seed + i`).
    pub seed: u64,
    /// Frames to replay, in replay mode.
    pub replay: Option<Replay>,
}

/// One worker's counters shared with the live reporter, on cache lines of
/// their own: each worker stores to its slot every turn, and slots on a
/// shared line would bounce it between cores.
#[repr(align(128))]
pub struct LiveSlot {
    /// Frames sent.
    pub tx_packets: AtomicU64,
    /// Bytes sent.
    pub tx_bytes: AtomicU64,
    /// Frames received.
    pub rx_packets: AtomicU64,
    /// Frames not sent for lack of a buffer.
    pub alloc_failures: AtomicU64,
    /// First counted sequence number of this queue (`u64::MAX` until warm-up ends).
    pub first_counted: AtomicU64,
}

/// Counters shared with the live reporter, one slot per worker.
pub struct Live {
    /// The slots, by worker index.
    pub slots: Vec<LiveSlot>,
}

impl Live {
    /// Slots for `workers` workers.
    pub fn new(workers: usize) -> Self {
        Live {
            slots: (0..workers)
                .map(|_| LiveSlot {
                    tx_packets: AtomicU64::new(0),
                    tx_bytes: AtomicU64::new(0),
                    rx_packets: AtomicU64::new(0),
                    alloc_failures: AtomicU64::new(0),
                    first_counted: AtomicU64::new(u64::MAX),
                })
                .collect(),
        }
    }

    fn sum(&self, field: impl Fn(&LiveSlot) -> &AtomicU64) -> u64 {
        self.slots
            .iter()
            .map(|slot| field(slot).load(Ordering::Relaxed))
            .sum()
    }
}

/// The first frames sent, captured to a pcap file by worker 0.
pub struct Capture {
    /// Where they go.
    pub writer: PcapWriter<BufWriter<std::fs::File>>,
    /// How many more to write.
    pub remaining: u64,
}

/// What one worker did.
#[derive(Default)]
pub struct WorkerResult {
    /// Frames sent after warm-up.
    pub tx_packets: u64,
    /// Their bytes (without FCS).
    pub tx_bytes: u64,
    /// Their bits per the accounting.
    pub tx_bits: u64,
    /// Frames received after warm-up.
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Frames not built for lack of a buffer.
    pub alloc_failures: u64,
    /// Frames built but never taken by the device (dropped at the end).
    pub unsent: u64,
    /// Sending time after warm-up, in ns.
    pub send_nanos: u64,
    /// Loss and reordering of returning probes.
    pub tracker: RxTracker,
    /// Latency of returning probes, in ticks of the time source (turned
    /// into time once, in the summary).
    pub latency: LatencyHistogram,
}

/// Everything a worker is given besides its device.
pub struct WorkerContext<'a> {
    /// The run.
    pub plan: &'a Plan,
    /// This worker's index (its queue).
    pub index: usize,
    /// Workers in all.
    pub workers: usize,
    /// Time source.
    pub ticks: &'a Ticks,
    /// Stop flag.
    pub control: &'a RunControl,
    /// Shared live counters.
    pub live: &'a Live,
}

fn share(total: u64, index: usize, workers: usize) -> u64 {
    let workers = workers as u64;
    total / workers + u64::from((index as u64) < total % workers)
}

/// Runs one worker on `device` until its share is sent (and the receive
/// wait is over) or the run is stopped; with `--rx-only`, the receiver.
pub fn run_worker<D: Device>(
    device: &mut D,
    ctx: &WorkerContext<'_>,
    mut capture: Option<&mut Capture>,
) -> WorkerResult {
    let plan = ctx.plan;
    if !plan.transmit {
        return run_receiver(device, ctx);
    }
    let ticks = ctx.ticks;
    let hz = ticks.hz() as f64;
    let my_count = (plan.count > 0).then(|| share(plan.count, ctx.index, ctx.workers));
    let replaying = plan.replay.as_ref().filter(|_| ctx.index == 0);
    let generating = plan.mode != Mode::Replay || replaying.is_some();
    let start = ticks.now();
    let counting_from = start + ticks.secs_to_ticks(plan.warmup);
    let send_until = plan
        .duration
        .map(|d| counting_from + ticks.secs_to_ticks(d));
    let rx_wait = ticks.secs_to_ticks(plan.rx_wait);
    // Lag up to 10 ms (an OS time slice or two) is caught up, in bursts, so
    // the average rate holds on a shared core; longer stalls are not.
    let lag_limit = hz / 100.0;
    let ns_per_tick = 1e9 / hz;
    let drain_limit = ticks.hz().max(rx_wait);
    // Frames taken per receive turn: the turn's fixed costs spread over
    // up to two device bursts.
    let rx_burst = 2 * dpstack::device::MAX_BURST;

    let mut result = WorkerResult::default();
    let mut batch: Vec<D::Buf> = Vec::with_capacity(plan.burst);
    // Frame lengths of the batch when sizes vary (replay, lists, sweeps);
    // the first `lens_sent` are sent.
    let mut lens: Vec<usize> = Vec::with_capacity(plan.burst);
    let mut lens_sent = 0;
    let fixed_len = match plan.sizes {
        Sizes::Fixed(len) => Some(len),
        _ => None,
    };
    // Ticks between frames of `len` bytes at the configured rate.
    let interval = |len: usize| match (plan.frames_per_sec, plan.bits_per_sec) {
        (_, Some(bps)) => plan.accounting.bits(len) as f64 * hz / bps,
        (Some(pps), None) => hz / pps,
        (None, None) => 0.0,
    };
    let fixed_interval = fixed_len.map_or(0.0, interval);
    let fixed_bits = fixed_len.map_or(0, |len| plan.accounting.bits(len));
    let mut frames = FrameWriter::new(
        plan.mode,
        plan.flows.clone(),
        ctx.index as u8,
        plan.seed.wrapping_add(ctx.index as u64),
    );
    let probe_at = |seq: u64, now: u64| Probe {
        queue: ctx.index as u8,
        seq,
        // Read per frame when measuring, so the burst's build time is
        // not counted as latency.
        timestamp: if plan.latency { ticks.now() } else { now },
        ident: seq as u16,
    };
    let mut rx: Vec<D::Buf> = Vec::with_capacity(rx_burst);
    let mut next_tx = start as f64;
    let mut seq = 0u64;
    let mut replay_index = 0usize;
    let mut replay_pass = 0u64;
    let mut replay_base = start as f64;
    let mut sending = generating;
    let mut send_done_at = start;
    let mut counting = false;
    let mut first_counted = vec![u64::MAX; ctx.workers];
    let mut next_report = start + ticks.hz();
    let mut report_base = (0u64, 0u64, start);

    loop {
        if !ctx.control.keep_running() {
            break;
        }
        let now = ticks.now();
        // Multiplied, not divided: this runs every turn.
        let device_now = Instant::from_nanos(((now - start) as f64 * ns_per_tick) as u64);
        if !counting && now >= counting_from {
            counting = true;
            ctx.live.slots[ctx.index]
                .first_counted
                .store(seq, Ordering::Relaxed);
        }
        if sending {
            let count_done =
                my_count.is_some_and(|c| result.tx_packets + batch.len() as u64 >= c && counting);
            if count_done || send_until.is_some_and(|end| now >= end) {
                sending = false;
                send_done_at = now;
            }
        }
        if sending && batch.is_empty() && now as f64 >= next_tx {
            let mut quota = plan.burst;
            if let Some(count) = my_count.filter(|_| counting) {
                quota = quota.min(count.saturating_sub(result.tx_packets) as usize);
            }
            match (replaying, fixed_len) {
                (Some(replay), _) => {
                    let origin = replay.frames[0].0;
                    for _ in 0..quota {
                        let (stamp, frame_bytes) = &replay.frames[replay_index];
                        // Only frames already due leave in this burst.
                        if replay.original_timing {
                            // Timestamps out of order in the file count as no gap.
                            let offset = stamp.saturating_sub(origin) as f64 * hz / 1e9;
                            next_tx = next_tx.max(replay_base + offset);
                        }
                        if next_tx > now as f64 {
                            break;
                        }
                        let Some(mut frame) = device.alloc_tx(frame_bytes.len()) else {
                            result.alloc_failures += 1;
                            break;
                        };
                        frame.data_mut().copy_from_slice(frame_bytes);
                        if !replay.original_timing {
                            next_tx += interval(frame_bytes.len());
                        }
                        lens.push(frame_bytes.len());
                        batch.push(frame);
                        seq += 1;
                        replay_index += 1;
                        if replay_index == replay.frames.len() {
                            replay_index = 0;
                            replay_pass += 1;
                            // The next pass starts where this one ended.
                            replay_base = next_tx.max(now as f64);
                            if replay.loops > 0 && replay_pass >= replay.loops {
                                sending = false;
                                send_done_at = now;
                                break;
                            }
                        }
                    }
                }
                (None, Some(len)) => {
                    // One size: the buffers come in one bulk allocation,
                    // and pacing and counting need no per-frame lengths.
                    // Only frames already due leave in this burst.
                    if fixed_interval > 0.0 {
                        let due = ((now as f64 - next_tx) / fixed_interval) as usize + 1;
                        quota = quota.min(due);
                    }
                    if device.alloc_tx_burst(len, quota, &mut batch) < quota {
                        result.alloc_failures += 1;
                    }
                    let clock = || ticks.now();
                    frames.write_burst(
                        &mut batch,
                        plan.mode,
                        &probe_at(seq, now),
                        plan.latency.then_some(&clock as &dyn Fn() -> u64),
                    );
                    seq += batch.len() as u64;
                    next_tx += batch.len() as f64 * fixed_interval;
                }
                (None, None) => {
                    for _ in 0..quota {
                        if next_tx > now as f64 {
                            break;
                        }
                        let len = plan.sizes.nth(seq);
                        let Some(mut frame) = device.alloc_tx(len) else {
                            result.alloc_failures += 1;
                            break;
                        };
                        let probe = probe_at(seq, now);
                        frames.write(frame.data_mut(), plan.mode, &probe);
                        next_tx += interval(len);
                        lens.push(len);
                        batch.push(frame);
                        seq += 1;
                    }
                }
            }
            if let Some(capture) = capture.as_deref_mut().filter(|c| c.remaining > 0) {
                for frame in &batch {
                    if capture.remaining == 0 {
                        break;
                    }
                    if capture
                        .writer
                        .write_frame(ticks.nanos(now), frame.data())
                        .is_ok()
                    {
                        capture.remaining -= 1;
                    }
                }
            }
            next_tx = next_tx.max(now as f64 - lag_limit);
        }
        if !batch.is_empty() {
            let sent = device.transmit(device_now, &mut batch);
            if counting {
                match fixed_len.filter(|_| replaying.is_none()) {
                    Some(len) => {
                        result.tx_packets += sent as u64;
                        result.tx_bytes += (sent * len) as u64;
                        result.tx_bits += sent as u64 * fixed_bits;
                    }
                    None => {
                        for &len in &lens[lens_sent..lens_sent + sent] {
                            result.tx_packets += 1;
                            result.tx_bytes += len as u64;
                            result.tx_bits += plan.accounting.bits(len);
                        }
                    }
                }
            }
            lens_sent += sent;
            if batch.is_empty() {
                lens.clear();
                lens_sent = 0;
            }
        }
        device.release(&mut rx);
        if plan.receive && device.receive(device_now, &mut rx, rx_burst) > 0 {
            // The loop's `now` predates this turn's transmit: take a fresh
            // reading so a frame that loops back at once is not measured as 0.
            let now = if plan.latency { ticks.now() } else { now };
            for (slot, live) in first_counted.iter_mut().zip(&ctx.live.slots) {
                *slot = live.first_counted.load(Ordering::Relaxed);
            }
            if counting {
                result.rx_packets += rx.len() as u64;
                for frame in &rx {
                    let data = frame.data();
                    result.rx_bytes += data.len() as u64;
                    let Some(probe) = parse_probe(data) else {
                        continue;
                    };
                    if result.tracker.record(&probe, &first_counted) && plan.latency {
                        if let Some(sent_at) = probe.timestamp.filter(|t| *t <= now) {
                            result.latency.record(now - sent_at);
                        }
                    }
                }
            }
        }
        let live = ctx.live;
        let slot = &live.slots[ctx.index];
        slot.tx_packets.store(result.tx_packets, Ordering::Relaxed);
        slot.tx_bytes.store(result.tx_bytes, Ordering::Relaxed);
        slot.rx_packets.store(result.rx_packets, Ordering::Relaxed);
        slot.alloc_failures
            .store(result.alloc_failures, Ordering::Relaxed);
        if ctx.index == 0 && now >= next_report {
            report_base = report_live(live, ticks, report_base, now);
            next_report = now + ticks.hz();
        }
        if !sending && batch.is_empty() && now - send_done_at >= rx_wait {
            break;
        }
        if !sending && !batch.is_empty() && now - send_done_at >= drain_limit {
            // The device has not taken these for a second after sending
            // ended (a peer gone, a link down): give up on them rather than hang.
            result.unsent += batch.len() as u64;
            batch.clear();
            lens.clear();
            lens_sent = 0;
        }
    }
    if !counting {
        send_done_at = counting_from;
    }
    result.send_nanos = ticks.nanos(send_done_at.saturating_sub(counting_from.max(start)));
    result
}

/// Prints one live line (all workers) to stderr; returns the new base.
pub(crate) fn report_live(
    live: &Live,
    ticks: &Ticks,
    (tx0, rx0, t0): (u64, u64, u64),
    now: u64,
) -> (u64, u64, u64) {
    let tx = live.sum(|s| &s.tx_packets);
    let rx = live.sum(|s| &s.rx_packets);
    let secs = ticks.nanos(now - t0) as f64 / 1e9;
    let bytes = live.sum(|s| &s.tx_bytes);
    eprintln!(
        "pktgen: tx {:.0} pps ({} frames, {:.3} GB) | rx {:.0} pps ({} frames) | no-buffer {}",
        (tx - tx0) as f64 / secs,
        tx,
        bytes as f64 / 1e9,
        (rx - rx0) as f64 / secs,
        rx,
        live.sum(|s| &s.alloc_failures)
    );
    (tx, rx, now)
}
