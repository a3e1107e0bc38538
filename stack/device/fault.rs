//! A device wrapper that injects seeded faults: loss (single or in runs),
//! corruption, duplication, reordering, delay with jitter, and a rate limit
//! with a bounded queue, separately for each direction, with counters.
//!
//! The kernel's netem is not available here, so this is how tests exercise
//! recovery. Faults apply in a fixed order per frame: loss, corruption,
//! duplication, reordering, then rate limit and delay. Everything random
//! comes from one [`Rng`] seeded by [`FaultConfig::seed`], and all timing from
//! the `now` the caller passes, so a run is reproducible.

use super::{Capabilities, Device};
use crate::buf::PacketBuf;
use crate::rand::Rng;
use crate::stats::DeviceStats;
use crate::time::{Duration, Instant};
use std::collections::VecDeque;

/// Faults for one direction of traffic. Probabilities are per frame, in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultProfile {
    /// Probability that a frame starts a loss run.
    pub loss: f64,
    /// Frames lost per loss run (1 for independent losses; 10 for bursts of ten).
    pub loss_run: u32,
    /// Probability that one random bit of a frame is flipped.
    pub corrupt: f64,
    /// Probability that a frame is sent twice.
    pub duplicate: f64,
    /// Probability that a frame is held back so later frames overtake it.
    pub reorder: f64,
    /// How many later frames overtake a held frame before it is released.
    pub reorder_distance: u32,
    /// Longest a held frame waits for overtakers before it is released anyway.
    pub reorder_timeout: Duration,
    /// Fixed one-way delay added to every frame.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter)`; frames keep their order.
    pub jitter: Duration,
    /// Link rate in bits per second (Ethernet frame bytes × 8); 0 for unlimited.
    pub rate_bps: u64,
    /// Frames that may wait in the delay line; more are dropped and counted.
    pub queue_limit: usize,
}

impl Default for FaultProfile {
    /// No faults: every frame passes at once, in order.
    fn default() -> Self {
        FaultProfile {
            loss: 0.0,
            loss_run: 1,
            corrupt: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_distance: 1,
            reorder_timeout: Duration::from_millis(10),
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_bps: 0,
            queue_limit: 4096,
        }
    }
}

impl FaultProfile {
    /// Checks that probabilities are in `[0, 1]` and counts are positive.
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        for p in [self.loss, self.corrupt, self.duplicate, self.reorder] {
            if !(0.0..=1.0).contains(&p) {
                return Err(FaultConfigError::ProbabilityOutOfRange);
            }
        }
        if self.loss_run == 0 || self.reorder_distance == 0 || self.queue_limit == 0 {
            return Err(FaultConfigError::ZeroCount);
        }
        Ok(())
    }
}

/// Faults for both directions and the seed that fixes them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Seed of the generator behind every random decision.
    pub seed: u64,
    /// Faults on frames the wrapped device receives.
    pub rx: FaultProfile,
    /// Faults on frames sent to the wrapped device.
    pub tx: FaultProfile,
}

/// Error for a fault configuration that makes no sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultConfigError {
    /// A probability is outside `[0, 1]` or not a number.
    ProbabilityOutOfRange,
    /// `loss_run`, `reorder_distance` or `queue_limit` is zero.
    ZeroCount,
}

impl std::fmt::Display for FaultConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FaultConfigError::ProbabilityOutOfRange => "fault probabilities must be within [0, 1]",
            FaultConfigError::ZeroCount => {
                "loss_run, reorder_distance and queue_limit must be at least 1"
            }
        })
    }
}

impl std::error::Error for FaultConfigError {}

/// What the injector did to one direction's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultStats {
    /// Frames that entered this direction.
    pub offered: u64,
    /// Frames that left it towards their destination (duplicates included).
    pub passed: u64,
    /// Frames dropped as loss.
    pub lost: u64,
    /// Frames with a bit flipped.
    pub corrupted: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Frames released after at least one later frame overtook them.
    pub reordered: u64,
    /// Frames that waited in the delay line (delay, jitter or rate limit).
    pub delayed: u64,
    /// Frames dropped because the delay line was full.
    pub queue_dropped: u64,
    /// Duplicates not made because no buffer was free.
    pub duplicate_alloc_failures: u64,
}

struct Held<B> {
    buf: B,
    overtakes_left: u32,
    overtaken: bool,
    deadline: Instant,
}

/// The state of one direction: the frames it holds and its counters.
struct Line<B> {
    profile: FaultProfile,
    stats: FaultStats,
    /// Frames on their way, release times non-decreasing.
    delay_line: VecDeque<(Instant, B)>,
    held: VecDeque<Held<B>>,
    link_free_at: Instant,
    last_release: Instant,
    loss_run_left: u32,
}

impl<B: PacketBuf> Line<B> {
    fn new(profile: FaultProfile) -> Self {
        Line {
            profile,
            stats: FaultStats::default(),
            delay_line: VecDeque::new(),
            held: VecDeque::new(),
            link_free_at: Instant::ZERO,
            last_release: Instant::ZERO,
            loss_run_left: 0,
        }
    }

    fn admit(
        &mut self,
        now: Instant,
        mut buf: B,
        rng: &mut Rng,
        alloc: &mut dyn FnMut(usize) -> Option<B>,
    ) {
        self.stats.offered += 1;
        if self.loss_run_left > 0 {
            self.loss_run_left -= 1;
            self.stats.lost += 1;
            return;
        }
        if rng.chance(self.profile.loss) {
            self.loss_run_left = self.profile.loss_run - 1;
            self.stats.lost += 1;
            return;
        }
        if !buf.is_empty() && rng.chance(self.profile.corrupt) {
            let bit = rng.below(buf.len() as u64 * 8) as usize;
            buf.data_mut()[bit / 8] ^= 1 << (bit % 8);
            self.stats.corrupted += 1;
        }
        let copy = if rng.chance(self.profile.duplicate) {
            let copy = alloc(buf.len()).and_then(|mut c| c.fill_from(buf.data()).then_some(c));
            match copy {
                Some(_) => self.stats.duplicated += 1,
                None => self.stats.duplicate_alloc_failures += 1,
            }
            copy
        } else {
            None
        };
        self.pass_or_hold(now, buf, rng);
        if let Some(copy) = copy {
            self.pass_or_hold(now, copy, rng);
        }
    }

    fn pass_or_hold(&mut self, now: Instant, buf: B, rng: &mut Rng) {
        if rng.chance(self.profile.reorder) {
            self.held.push_back(Held {
                buf,
                overtakes_left: self.profile.reorder_distance,
                overtaken: false,
                deadline: now + self.profile.reorder_timeout,
            });
            return;
        }
        self.schedule(now, buf, rng);
        for held in &mut self.held {
            held.overtakes_left = held.overtakes_left.saturating_sub(1);
            held.overtaken = true;
        }
        self.release_held(now, rng, |h| h.overtakes_left == 0);
    }

    fn release_held(&mut self, now: Instant, rng: &mut Rng, due: impl Fn(&Held<B>) -> bool) {
        let mut index = 0;
        while index < self.held.len() {
            if !due(&self.held[index]) {
                index += 1;
                continue;
            }
            let Some(held) = self.held.remove(index) else {
                break;
            };
            if held.overtaken {
                self.stats.reordered += 1;
            }
            self.schedule(now, held.buf, rng);
        }
    }

    /// Puts a frame on the delay line behind the rate limit and delay.
    fn schedule(&mut self, now: Instant, buf: B, rng: &mut Rng) {
        if self.delay_line.len() >= self.profile.queue_limit {
            self.stats.queue_dropped += 1;
            return;
        }
        let profile = &self.profile;
        let departure = if profile.rate_bps > 0 {
            let bits = buf.len() as u128 * 8;
            let serialisation = (bits * 1_000_000_000 / u128::from(profile.rate_bps)) as u64;
            self.link_free_at.max(now) + Duration::from_nanos(serialisation)
        } else {
            now
        };
        self.link_free_at = departure;
        let jitter = Duration::from_nanos(rng.below(profile.jitter.as_nanos()));
        let release = (departure + profile.delay + jitter).max(self.last_release);
        self.last_release = release;
        if release > now {
            self.stats.delayed += 1;
        }
        self.delay_line.push_back((release, buf));
    }

    /// Moves frames due by `now` to `out`, at most `max`.
    fn take_due(&mut self, now: Instant, rng: &mut Rng, out: &mut Vec<B>, max: usize) -> usize {
        self.release_held(now, rng, |h| h.deadline <= now);
        let mut moved = 0;
        while moved < max {
            match self.delay_line.front() {
                Some((release, _)) if *release <= now => {}
                _ => break,
            }
            let Some((_, buf)) = self.delay_line.pop_front() else {
                break;
            };
            out.push(buf);
            moved += 1;
        }
        moved
    }

    fn poll_at(&self) -> Option<Instant> {
        let next_release = self.delay_line.front().map(|(at, _)| *at);
        let next_held = self.held.iter().map(|h| h.deadline).min();
        match (next_release, next_held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A device that passes frames to and from `inner` through a fault injector.
pub struct FaultDevice<D: Device> {
    inner: D,
    rng: Rng,
    rx: Line<D::Buf>,
    tx: Line<D::Buf>,
    scratch: Vec<D::Buf>,
    stats: DeviceStats,
}

impl<D: Device> FaultDevice<D> {
    /// Wraps `inner`; fails if the configuration is out of range.
    pub fn new(inner: D, config: FaultConfig) -> Result<Self, FaultConfigError> {
        config.rx.validate()?;
        config.tx.validate()?;
        Ok(FaultDevice {
            inner,
            rng: Rng::new(config.seed),
            rx: Line::new(config.rx),
            tx: Line::new(config.tx),
            scratch: Vec::with_capacity(super::MAX_BURST),
            stats: DeviceStats::default(),
        })
    }

    /// What was done to received frames.
    pub fn rx_fault_stats(&self) -> FaultStats {
        self.rx.stats
    }

    /// What was done to transmitted frames.
    pub fn tx_fault_stats(&self) -> FaultStats {
        self.tx.stats
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Sends transmit frames that are due to the wrapped device; frames it
    /// refuses go back to the head of the line.
    fn flush_tx(&mut self, now: Instant) {
        loop {
            self.scratch.clear();
            let due = self
                .tx
                .take_due(now, &mut self.rng, &mut self.scratch, super::MAX_BURST);
            if due == 0 {
                return;
            }
            let sent = self.inner.transmit(now, &mut self.scratch);
            self.tx.stats.passed += sent as u64;
            if sent < due {
                // The device's queue is full: keep the rest, in order, for later.
                for buf in self.scratch.drain(..).rev() {
                    self.tx.delay_line.push_front((now, buf));
                }
                return;
            }
        }
    }
}

impl<D: Device> Device for FaultDevice<D> {
    type Buf = D::Buf;

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.inner.capabilities();
        caps.name = format!("fault({})", caps.name);
        caps
    }

    fn alloc_tx(&mut self, len: usize) -> Option<D::Buf> {
        self.inner.alloc_tx(len)
    }

    fn alloc_tx_burst(&mut self, len: usize, count: usize, out: &mut Vec<D::Buf>) -> usize {
        self.inner.alloc_tx_burst(len, count, out)
    }

    fn release(&mut self, bufs: &mut Vec<D::Buf>) {
        self.inner.release(bufs);
    }

    fn receive(&mut self, now: Instant, batch: &mut Vec<D::Buf>, max: usize) -> usize {
        self.flush_tx(now);
        self.scratch.clear();
        self.inner.receive(now, &mut self.scratch, max);
        let inner = &mut self.inner;
        for buf in self.scratch.drain(..) {
            self.rx
                .admit(now, buf, &mut self.rng, &mut |len| inner.alloc_tx(len));
        }
        let before = batch.len();
        let moved = self.rx.take_due(now, &mut self.rng, batch, max);
        self.rx.stats.passed += moved as u64;
        for buf in &batch[before..] {
            self.stats.count_rx(buf.len());
        }
        moved
    }

    fn transmit(&mut self, now: Instant, batch: &mut Vec<D::Buf>) -> usize {
        let taken = batch.len();
        // A burst at a time, so frames due at once leave before the next
        // burst arrives and only frames really waiting count against the
        // delay line's bound.
        while !batch.is_empty() {
            let burst = batch.len().min(super::MAX_BURST);
            let inner = &mut self.inner;
            for buf in batch.drain(..burst) {
                self.stats.count_tx(buf.len());
                self.tx
                    .admit(now, buf, &mut self.rng, &mut |len| inner.alloc_tx(len));
            }
            self.flush_tx(now);
        }
        taken
    }

    fn poll_at(&self) -> Option<Instant> {
        [self.rx.poll_at(), self.tx.poll_at(), self.inner.poll_at()]
            .into_iter()
            .flatten()
            .min()
    }

    fn extended_stats(&self) -> Vec<(String, u64)> {
        self.inner.extended_stats()
    }

    fn steering_stats(&self) -> crate::stats::SteeringStats {
        self.inner.steering_stats()
    }

    fn passed_on(&self) -> usize {
        self.inner.passed_on()
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{BufPool, PoolBuf};
    use crate::device::pipe::{pipe_pair, PipeConfig, PipeDevice};

    fn setup(tx: FaultProfile) -> (FaultDevice<PipeDevice>, PipeDevice) {
        let pool = BufPool::with_defaults();
        let config = PipeConfig {
            queue_len: 8192,
            ..PipeConfig::default()
        };
        let (a, b) = pipe_pair(&config, &pool);
        let config = FaultConfig {
            seed: 1,
            tx,
            rx: FaultProfile::default(),
        };
        (FaultDevice::new(a, config).unwrap(), b)
    }

    fn send(dev: &mut FaultDevice<PipeDevice>, now: Instant, seqs: std::ops::Range<u32>) {
        let mut batch: Vec<PoolBuf> = Vec::new();
        for seq in seqs {
            let mut buf = dev.alloc_tx(64).unwrap();
            buf.data_mut()[..4].copy_from_slice(&seq.to_be_bytes());
            batch.push(buf);
        }
        dev.transmit(now, &mut batch);
    }

    fn drain(dev: &mut PipeDevice) -> Vec<u32> {
        let mut got = Vec::new();
        dev.receive(Instant::ZERO, &mut got, usize::MAX);
        got.iter()
            .map(|b| u32::from_be_bytes(b.data()[..4].try_into().unwrap()))
            .collect()
    }

    #[test]
    fn no_faults_passes_everything_in_order() {
        let (mut a, mut b) = setup(FaultProfile::default());
        send(&mut a, Instant::ZERO, 0..100);
        assert_eq!(drain(&mut b), (0..100).collect::<Vec<_>>());
        assert_eq!(a.tx_fault_stats().passed, 100);
    }

    #[test]
    fn delay_holds_frames_until_due() {
        let (mut a, mut b) = setup(FaultProfile {
            delay: Duration::from_millis(5),
            ..FaultProfile::default()
        });
        send(&mut a, Instant::ZERO, 0..3);
        assert!(drain(&mut b).is_empty());
        assert_eq!(a.poll_at(), Some(Instant::from_millis(5)));
        let mut none = Vec::new();
        a.receive(Instant::from_millis(5), &mut none, 32);
        assert_eq!(drain(&mut b), [0, 1, 2]);
        assert_eq!(a.tx_fault_stats().delayed, 3);
    }

    #[test]
    fn rate_limit_spaces_frames_and_bounds_queue() {
        // 64-byte frames at 512 kbit/s: one per millisecond.
        let (mut a, mut b) = setup(FaultProfile {
            rate_bps: 512_000,
            queue_limit: 10,
            ..FaultProfile::default()
        });
        send(&mut a, Instant::ZERO, 0..20);
        assert_eq!(a.tx_fault_stats().queue_dropped, 10);
        let mut none = Vec::new();
        a.receive(Instant::from_millis(3), &mut none, 32);
        assert_eq!(drain(&mut b), [0, 1, 2]);
    }

    #[test]
    fn reorder_lets_later_frames_overtake() {
        let (mut a, mut b) = setup(FaultProfile {
            reorder: 1.0,
            reorder_distance: 2,
            ..FaultProfile::default()
        });
        // Every frame is held, so nothing overtakes; the timeout releases them in order.
        send(&mut a, Instant::ZERO, 0..3);
        assert!(drain(&mut b).is_empty());
        let mut none = Vec::new();
        a.receive(Instant::from_millis(10), &mut none, 32);
        assert_eq!(drain(&mut b), [0, 1, 2]);
        assert_eq!(a.tx_fault_stats().reordered, 0);
    }

    #[test]
    fn loss_runs_drop_consecutive_frames() {
        let (mut a, mut b) = setup(FaultProfile {
            loss: 0.01,
            loss_run: 10,
            ..FaultProfile::default()
        });
        send(&mut a, Instant::ZERO, 0..5000);
        let got = drain(&mut b);
        let stats = a.tx_fault_stats();
        assert_eq!(
            got.len() as u64 + stats.lost,
            5000,
            "{stats:?} {:?}",
            b.stats()
        );
        assert!(stats.lost > 0 && stats.lost % 10 <= 10);
        let gaps: Vec<u32> = got
            .windows(2)
            .map(|w| w[1] - w[0] - 1)
            .filter(|g| *g > 0)
            .collect();
        assert!(
            gaps.iter().all(|g| g % 10 == 0),
            "losses come in runs of ten: {gaps:?}"
        );
    }

    #[test]
    fn rejects_out_of_range_config() {
        let pool = BufPool::with_defaults();
        let (a, _b) = pipe_pair(&PipeConfig::default(), &pool);
        let config = FaultConfig {
            tx: FaultProfile {
                loss: 1.5,
                ..FaultProfile::default()
            },
            ..FaultConfig::default()
        };
        assert_eq!(
            FaultDevice::new(a, config).err(),
            Some(FaultConfigError::ProbabilityOutOfRange)
        );
    }
}
