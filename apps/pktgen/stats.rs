//! Receive-side accounting: loss and reordering from sequence numbers, and
//! a latency histogram with bounded memory.

use crate::builder::Received;

/// Latency histogram: exact below 64 units (nanoseconds, or ticks of the
/// generator's clock), then 64 linear steps per power of two (under 1.6%
/// error), in 3,776 counters whatever the sample count.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    /// Counts by bucket; a power of two long, so that a masked index needs
    /// no bounds check per sample (the last 320 are never used).
    buckets: Box<[u64; SLOTS]>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * SUB) as usize;
const SLOTS: usize = BUCKETS.next_power_of_two();

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: Box::new([0; SLOTS]),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl LatencyHistogram {
    fn index(value: u64) -> usize {
        if value < SUB {
            return value as usize;
        }
        let exponent = 63 - value.leading_zeros();
        let sub = (value >> (exponent - SUB_BITS)) & (SUB - 1);
        (SUB + u64::from(exponent - SUB_BITS) * SUB + sub) as usize
    }

    /// The smallest value that falls in bucket `index`.
    fn lower_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB {
            return index;
        }
        let exponent = (index - SUB) / SUB + u64::from(SUB_BITS);
        let sub = (index - SUB) % SUB;
        (1 << exponent) | (sub << (exponent - u64::from(SUB_BITS)))
    }

    /// Records one latency.
    pub fn record(&mut self, value: u64) {
        self.record_burst(std::slice::from_ref(&value));
    }

    /// Records a burst of latencies, with the running totals in locals
    /// (through memory, each sample would wait for the previous one's
    /// stores).
    pub fn record_burst(&mut self, values: &[u64]) {
        let (mut sum, mut min, mut max) = (0u128, self.min, self.max);
        for &value in values {
            self.buckets[Self::index(value) & (SLOTS - 1)] += 1;
            sum += u128::from(value);
            min = min.min(value);
            max = max.max(value);
        }
        self.count += values.len() as u64;
        self.sum += sum;
        (self.min, self.max) = (min, max);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1), as its bucket's lower bound,
    /// clamped to the exact min and max.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::lower_bound(index).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Smallest sample.
    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    /// Largest sample.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean sample.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }
}

/// The sequence numbers seen from one sending queue.
#[derive(Debug, Clone, Copy)]
struct SeenRange {
    /// Lowest seen (`u64::MAX`: none yet).
    low: u64,
    /// Highest seen (0 until one is).
    high: u64,
}

impl SeenRange {
    const NONE: SeenRange = SeenRange {
        low: u64::MAX,
        high: 0,
    };

    fn is_seen(&self) -> bool {
        self.low != u64::MAX
    }

    /// Takes in `seq` once the queue has been seen; true if it came after
    /// a higher one (reordered).
    #[inline]
    fn update_seen(&mut self, seq: u64) -> bool {
        if seq < self.high {
            self.low = self.low.min(seq);
            true
        } else {
            self.high = seq;
            false
        }
    }

    /// Takes in `seq`; true if it came after a higher one (reordered).
    #[inline]
    fn update(&mut self, seq: u64) -> bool {
        if !self.is_seen() {
            *self = SeenRange {
                low: seq,
                high: seq,
            };
            return false;
        }
        self.update_seen(seq)
    }
}

/// Records probes into an [`RxTracker`] (see [`RxTracker::cursor`]); what
/// it holds goes back into the tracker when it is dropped.
pub struct TrackerCursor<'a> {
    tracker: &'a mut RxTracker,
    /// The queue whose range is held (`None` before the first probe).
    queue: Option<u8>,
    /// Its range, always seen while held.
    range: SeenRange,
    matched: u64,
    reordered: u64,
}

impl TrackerCursor<'_> {
    /// Accounts one probe from sending queue `queue`.
    #[inline]
    pub fn record(&mut self, queue: u8, seq: u64) {
        self.matched += 1;
        if self.queue == Some(queue) {
            if self.range.update_seen(seq) {
                self.reordered += 1;
            }
        } else {
            self.switch_to(queue, seq);
        }
    }

    /// Puts the held range back and takes `queue`'s, with `seq` in it.
    #[cold]
    fn switch_to(&mut self, queue: u8, seq: u64) {
        self.put_back();
        self.queue = Some(queue);
        self.range = self.tracker.seen[usize::from(queue)];
        if self.range.update(seq) {
            self.reordered += 1;
        }
    }

    fn put_back(&mut self) {
        if let Some(queue) = self.queue {
            self.tracker.seen[usize::from(queue)] = self.range;
        }
    }
}

impl Drop for TrackerCursor<'_> {
    fn drop(&mut self) {
        self.put_back();
        self.tracker.matched += self.matched;
        self.tracker.reordered += self.reordered;
    }
}

/// What came back, per sending queue.
#[derive(Debug, Clone)]
pub struct RxTracker {
    /// Sequence range seen per sending queue, indexed by the probe's queue
    /// byte: a fixed table, so the per-frame lookup has no bounds check or
    /// growth.
    seen: Box<[SeenRange; 256]>,
    /// Our frames received (after warm-up).
    pub matched: u64,
    /// Frames that arrived after a later-sent one from the same queue.
    pub reordered: u64,
}

impl Default for RxTracker {
    fn default() -> Self {
        RxTracker {
            seen: Box::new([SeenRange::NONE; 256]),
            matched: 0,
            reordered: 0,
        }
    }
}

impl RxTracker {
    /// Accounts one received probe; frames with a sequence below
    /// `first_counted[queue]` (sent during warm-up) are ignored (a queue
    /// not in the slice counts from 0).
    #[inline]
    pub fn record(&mut self, probe: &Received, first_counted: &[u64]) -> bool {
        let queue = usize::from(probe.queue);
        if probe.seq < first_counted.get(queue).copied().unwrap_or(0) {
            return false;
        }
        self.record_all(probe.queue, probe.seq);
        true
    }

    /// Accounts one received probe with no warm-up filter (another
    /// generator's probes, where every sequence number counts).
    #[inline]
    pub fn record_all(&mut self, queue: u8, seq: u64) {
        let range = &mut self.seen[usize::from(queue)];
        if range.update(seq) {
            self.reordered += 1;
        }
        self.matched += 1;
    }

    /// A cursor that records a burst of probes with no warm-up filter,
    /// keeping the current sending queue's range and the counts in locals:
    /// read and written back through memory per probe, they made a chain
    /// of store-to-load forwarding from one probe to the next that bounded
    /// the receive rate.
    #[inline]
    pub fn cursor(&mut self) -> TrackerCursor<'_> {
        TrackerCursor {
            queue: None,
            range: SeenRange::NONE,
            matched: 0,
            reordered: 0,
            tracker: self,
        }
    }

    /// Adds another tracker's counts (another lcore's receive queue); the
    /// sequence ranges of each sending queue join.
    pub fn merge(&mut self, other: &RxTracker) {
        self.matched += other.matched;
        self.reordered += other.reordered;
        for (mine, theirs) in self.seen.iter_mut().zip(other.seen.iter()) {
            mine.low = mine.low.min(theirs.low);
            mine.high = mine.high.max(theirs.high);
        }
    }

    /// Probes missing between the first and the last seen of each sending
    /// queue: the loss a receiver can tell without knowing what was sent.
    pub fn gaps(&self) -> u64 {
        let spanned: u64 = self
            .seen
            .iter()
            .filter(|range| range.is_seen())
            .map(|range| range.high - range.low + 1)
            .sum();
        spanned.saturating_sub(self.matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_close() {
        let mut h = LatencyHistogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        for (q, exact) in [(0.5, 500_000.0), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - exact).abs() / exact < 0.02, "q{q}: {got} vs {exact}");
        }
        assert_eq!((h.min(), h.max()), (10, 1_000_000));
        assert!((h.mean() - 500_005.0).abs() < 1.0);
        let mut other = LatencyHistogram::default();
        other.record(5);
        h.merge(&other);
        assert_eq!((h.min(), h.count()), (5, 100_001));
        let mut burst = LatencyHistogram::default();
        let values: Vec<u64> = (1..=100_000u64).map(|v| v * 10).chain([5]).collect();
        for chunk in values.chunks(32) {
            burst.record_burst(chunk);
        }
        assert_eq!(
            burst.buckets, h.buckets,
            "a burst at a time or one at a time"
        );
        assert_eq!(
            (burst.count(), burst.min(), burst.max(), burst.mean()),
            (h.count(), h.min(), h.max(), h.mean())
        );
        assert_eq!(LatencyHistogram::index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn tracker_counts_reordering_and_skips_warmup() {
        let mut t = RxTracker::default();
        let at = |seq| Received {
            queue: 1,
            seq,
            timestamp: None,
        };
        for seq in [3, 5, 4, 6, 1] {
            t.record(&at(seq), &[0, 2]);
        }
        assert_eq!(
            (t.matched, t.reordered),
            (4, 1),
            "seq 1 was warm-up; 4 came after 5"
        );
        assert_eq!(t.gaps(), 0, "3 to 6 all came");
    }

    #[test]
    fn gaps_join_over_receive_queues() {
        let at = |queue, seq| Received {
            queue,
            seq,
            timestamp: None,
        };
        let (mut a, mut b) = (RxTracker::default(), RxTracker::default());
        for seq in [10, 12, 14] {
            a.record(&at(0, seq), &[]);
        }
        for seq in [11, 15, 19] {
            b.record(&at(0, seq), &[]);
        }
        b.record(&at(2, 7), &[]);
        assert_eq!(a.gaps(), 2, "11 and 13 are missing here");
        a.merge(&b);
        assert_eq!(a.matched, 7);
        assert_eq!(
            a.gaps(),
            10 - 6,
            "10..=19 spanned, 6 seen; queue 2 complete"
        );
    }

    #[test]
    fn cursor_counts_as_one_probe_at_a_time() {
        // Three sending queues interleaved in runs, with reordering, a
        // duplicate and a queue that starts high: the cursor (a burst at a
        // time) and `record_all` (a probe at a time) agree on everything.
        let mut rng = dpstack::rand::Rng::new(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next_u64();
        let mut probes = Vec::new();
        let mut seq = [0u64, 0, 1_000_000];
        for _ in 0..2_000 {
            let queue = (next() % 3) as usize;
            for _ in 0..(next() % 5) {
                seq[queue] += 1 + next() % 2;
                let jitter = next() % 4;
                probes.push((queue as u8 * 100, seq[queue].saturating_sub(jitter)));
            }
        }
        let mut one_by_one = RxTracker::default();
        for &(queue, seq) in &probes {
            one_by_one.record_all(queue, seq);
        }
        let mut by_burst = RxTracker::default();
        for burst in probes.chunks(32) {
            let mut cursor = by_burst.cursor();
            for &(queue, seq) in burst {
                cursor.record(queue, seq);
            }
        }
        assert_eq!(by_burst.matched, probes.len() as u64);
        assert_eq!(
            (by_burst.matched, by_burst.reordered, by_burst.gaps()),
            (one_by_one.matched, one_by_one.reordered, one_by_one.gaps())
        );
        assert!(by_burst.reordered > 0);
        for (a, b) in by_burst.seen.iter().zip(one_by_one.seen.iter()) {
            assert_eq!((a.low, a.high), (b.low, b.high));
        }
        let lowest = probes.iter().filter(|p| p.0 == 200).map(|p| p.1).min();
        assert_eq!(Some(by_burst.seen[200].low), lowest);
    }
}
