//! The sender's SACK scoreboard (RFC 2018, RFC 6675 3): which ranges
//! above `snd_una` the peer holds, so recovery resends only the holes and
//! a retransmission after a timeout skips what already arrived.

use super::seq::SeqNumber;

/// Most separate SACKed ranges remembered; past it the highest is dropped
/// (the peer reports it again).
const MAX_RANGES: usize = 32;

/// SACKed ranges `[left, right)`, sorted, disjoint and not touching.
#[derive(Debug, Clone, Default)]
pub struct Scoreboard {
    ranges: Vec<(SeqNumber, SeqNumber)>,
}

impl Scoreboard {
    /// Records a SACK block, clipped to `(snd_una, snd_max]`; D-SACK and
    /// stale blocks (at or below `snd_una`) and impossible ones are ignored.
    pub fn add(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        snd_una: SeqNumber,
        snd_max: SeqNumber,
    ) {
        let left = left.max(snd_una);
        let right = right.min(snd_max);
        if !left.before(right) {
            return;
        }
        let first = self.ranges.partition_point(|&(_, r)| r.before(left));
        let last = self.ranges.partition_point(|&(l, _)| !l.after(right));
        if first == last {
            self.ranges.insert(first, (left, right));
        } else {
            let merged = (
                left.min(self.ranges[first].0),
                right.max(self.ranges[last - 1].1),
            );
            self.ranges.splice(first..last, [merged]);
        }
        self.ranges.truncate(MAX_RANGES);
    }

    /// Forgets everything at or below the cumulative ACK.
    pub fn acked(&mut self, snd_una: SeqNumber) {
        self.ranges.retain_mut(|range| {
            range.0 = range.0.max(snd_una);
            range.0.before(range.1)
        });
    }

    /// Forgets everything (the peer may have reneged).
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Bytes SACKed.
    pub fn sacked_bytes(&self) -> usize {
        self.ranges.iter().map(|&(l, r)| (r - l) as usize).sum()
    }

    /// The first hole at or after `from` that lies below a SACKed range
    /// (so presumed lost): `(start, end)`.
    pub fn next_hole(&self, from: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let mut start = from;
        for &(left, right) in &self.ranges {
            if start.before(left) {
                return Some((start, left));
            }
            start = start.max(right);
        }
        None
    }

    /// If `seq` is SACKed, the end of its range.
    pub fn skip(&self, seq: SeqNumber) -> Option<SeqNumber> {
        self.ranges
            .iter()
            .find(|&&(l, r)| !seq.before(l) && seq.before(r))
            .map(|&(_, r)| r)
    }

    /// Bytes SACKed within `[from, to)`.
    pub fn sacked_between(&self, from: SeqNumber, to: SeqNumber) -> usize {
        self.ranges
            .iter()
            .map(|&(l, r)| {
                let (l, r) = (l.max(from), r.min(to));
                if l.before(r) {
                    (r - l) as usize
                } else {
                    0
                }
            })
            .sum()
    }

    /// Bytes not SACKed within `[from, to)` (zero when `to` is not after `from`).
    pub fn unsacked_between(&self, from: SeqNumber, to: SeqNumber) -> usize {
        if !from.before(to) {
            return 0;
        }
        (to - from) as usize - self.sacked_between(from, to)
    }

    /// RFC 6675 IsLost for whole holes: unSACKed data below the returned
    /// point has more than `threshold` bytes SACKed above it, so is
    /// presumed lost. None when too little is SACKed.
    pub fn lost_edge(&self, threshold: usize) -> Option<SeqNumber> {
        let mut above = 0;
        for &(left, right) in self.ranges.iter().rev() {
            above += (right - left) as usize;
            if above > threshold {
                return Some(left);
            }
        }
        None
    }

    /// The highest run of unSACKed data below `end` and at or above
    /// `from`: `(start, end)`.
    pub fn last_unsacked(&self, from: SeqNumber, end: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let mut top = end;
        for &(left, right) in self.ranges.iter().rev() {
            if !left.before(top) {
                continue;
            }
            if right.before(top) {
                break;
            }
            top = left;
        }
        if !from.before(top) {
            return None;
        }
        let start = self
            .ranges
            .iter()
            .rev()
            .find(|&&(_, r)| !r.after(top))
            .map_or(from, |&(_, r)| r.max(from));
        Some((start, top))
    }

    /// The end of the highest SACKed range.
    pub fn highest(&self) -> Option<SeqNumber> {
        self.ranges.last().map(|&(_, right)| right)
    }

    /// True when nothing is SACKed.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    #[test]
    fn blocks_merge_clip_and_leave_holes() {
        let mut board = Scoreboard::default();
        board.add(s(300), s(400), s(100), s(1000));
        board.add(s(500), s(600), s(100), s(1000));
        board.add(s(390), s(510), s(100), s(1000));
        assert_eq!(board.sacked_bytes(), 300, "300-600 merged");
        board.add(s(50), s(90), s(100), s(1000));
        board.add(s(900), s(2000), s(100), s(1000));
        assert_eq!(
            board.sacked_bytes(),
            400,
            "clipped to snd_max, stale ignored"
        );
        assert_eq!(board.next_hole(s(100)), Some((s(100), s(300))));
        assert_eq!(board.next_hole(s(250)), Some((s(250), s(300))));
        assert_eq!(board.next_hole(s(300)), Some((s(600), s(900))));
        assert_eq!(board.next_hole(s(950)), None, "nothing SACKed above");
        assert_eq!(board.skip(s(320)), Some(s(600)));
        assert_eq!(board.skip(s(650)), None);
        board.acked(s(550));
        assert_eq!(board.sacked_bytes(), 150, "550-600 and 900-1000");
    }

    #[test]
    fn pipe_helpers_count_sacked_and_lost() {
        let mut board = Scoreboard::default();
        // SACKed: 300-400, 500-600, 900-1000 of 100-1000.
        board.add(s(300), s(400), s(100), s(1000));
        board.add(s(500), s(600), s(100), s(1000));
        board.add(s(900), s(1000), s(100), s(1000));
        assert_eq!(board.sacked_between(s(350), s(950)), 200);
        assert_eq!(board.unsacked_between(s(100), s(1000)), 600);
        assert_eq!(board.unsacked_between(s(500), s(500)), 0);
        assert_eq!(board.lost_edge(99), Some(s(900)), "100 SACKed above 900");
        assert_eq!(board.lost_edge(150), Some(s(500)));
        assert_eq!(board.lost_edge(300), None);
        assert_eq!(board.last_unsacked(s(100), s(1000)), Some((s(600), s(900))));
        assert_eq!(
            board.last_unsacked(s(100), s(1100)),
            Some((s(1000), s(1100)))
        );
        assert_eq!(board.last_unsacked(s(100), s(550)), Some((s(400), s(500))));
        assert_eq!(board.last_unsacked(s(450), s(550)), Some((s(450), s(500))));
        assert_eq!(board.last_unsacked(s(500), s(600)), None);
    }

    #[test]
    fn wraps_around_the_sequence_space() {
        let mut board = Scoreboard::default();
        let una = s(u32::MAX - 100);
        board.add(s(u32::MAX - 50), s(20), una, s(1000));
        assert_eq!(board.sacked_bytes(), 71);
        assert_eq!(board.next_hole(una), Some((una, s(u32::MAX - 50))));
    }
}
