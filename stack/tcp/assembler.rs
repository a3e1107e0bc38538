//! Out-of-order receive bookkeeping: which byte ranges past `rcv_nxt` have
//! arrived, merged as they touch, bounded in count so a peer sending many
//! small scattered segments cannot grow it (the excess is refused and the
//! peer retransmits, as with a full receive window).

/// A hole-tracking record of received ranges, relative to `rcv_nxt`.
#[derive(Debug, Clone)]
pub struct Assembler {
    /// Disjoint, non-touching ranges `[start, end)`, sorted.
    ranges: Vec<(u32, u32)>,
    max_ranges: usize,
}

/// The range could not be recorded: it would need more than the allowed ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyHoles;

impl Assembler {
    /// An empty record holding at most `max_ranges` separate ranges.
    pub fn new(max_ranges: usize) -> Self {
        Assembler {
            ranges: Vec::with_capacity(max_ranges),
            max_ranges,
        }
    }

    /// Records bytes `[start, start + len)` as received, merging with
    /// touching or overlapping ranges.
    pub fn add(&mut self, start: u32, len: u32) -> Result<(), TooManyHoles> {
        if len == 0 {
            return Ok(());
        }
        let end = start.saturating_add(len);
        // First range that ends at or after `start` (could merge), and the
        // first that starts after `end` (cannot).
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let last = self.ranges.partition_point(|&(s, _)| s <= end);
        if first == last {
            if self.ranges.len() >= self.max_ranges {
                return Err(TooManyHoles);
            }
            self.ranges.insert(first, (start, end));
            return Ok(());
        }
        let merged = (
            start.min(self.ranges[first].0),
            end.max(self.ranges[last - 1].1),
        );
        self.ranges.splice(first..last, [merged]);
        Ok(())
    }

    /// Bytes contiguous from offset 0 (ready to deliver); removes them and
    /// shifts the remaining ranges down by that much.
    pub fn take_front(&mut self) -> u32 {
        match self.ranges.first() {
            Some(&(0, end)) => {
                self.ranges.remove(0);
                for range in &mut self.ranges {
                    range.0 -= end;
                    range.1 -= end;
                }
                end
            }
            _ => 0,
        }
    }

    /// Shifts every range down by `n` bytes delivered in order from elsewhere.
    pub fn advance(&mut self, n: u32) {
        self.ranges.retain_mut(|range| {
            range.0 = range.0.saturating_sub(n);
            range.1 = range.1.saturating_sub(n);
            range.1 > 0
        });
    }

    /// The ranges held, for SACK blocks.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// True when no out-of-order data is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_delivers_when_the_hole_fills() {
        let mut a = Assembler::new(8);
        a.add(10, 5).unwrap();
        a.add(20, 5).unwrap();
        assert_eq!(a.ranges(), [(10, 15), (20, 25)]);
        assert_eq!(a.take_front(), 0, "a hole at the front");
        a.add(15, 5).unwrap();
        assert_eq!(a.ranges(), [(10, 25)], "touching ranges merge");
        a.add(0, 12).unwrap();
        assert_eq!(a.take_front(), 25);
        assert!(a.is_empty());
    }

    #[test]
    fn overlaps_and_duplicates_merge() {
        let mut a = Assembler::new(8);
        a.add(5, 10).unwrap();
        a.add(5, 10).unwrap();
        a.add(0, 7).unwrap();
        a.add(12, 10).unwrap();
        assert_eq!(a.ranges(), [(0, 22)]);
        a.add(30, 1).unwrap();
        a.add(25, 10).unwrap();
        assert_eq!(a.ranges(), [(0, 22), (25, 35)]);
    }

    #[test]
    fn bounded_in_ranges() {
        let mut a = Assembler::new(2);
        a.add(10, 1).unwrap();
        a.add(20, 1).unwrap();
        assert_eq!(a.add(30, 1), Err(TooManyHoles));
        assert_eq!(
            a.add(21, 4),
            Ok(()),
            "extending an existing range needs no new one"
        );
        assert_eq!(a.ranges(), [(10, 11), (20, 25)]);
    }

    #[test]
    fn matches_a_bitmap_under_random_segments() {
        let mut rng = crate::rand::Rng::new(8);
        for _ in 0..200 {
            let mut a = Assembler::new(64);
            let mut have = [false; 12_000];
            let mut delivered = 0usize;
            for _ in 0..40 {
                let start = rng.below(250) as u32;
                let len = rng.below(20) as u32;
                a.add(start, len).unwrap();
                for b in start..start + len {
                    have[delivered + b as usize] = true;
                }
                delivered += a.take_front() as usize;
                let expected = have[delivered..].iter().take_while(|b| **b).count();
                assert_eq!(expected, 0, "take_front left contiguous bytes behind");
                // The ranges are exactly the runs of received bytes past the front.
                let mut runs = Vec::new();
                let mut i = 0;
                while i < have.len() - delivered {
                    if have[delivered + i] {
                        let s = i;
                        while i < have.len() - delivered && have[delivered + i] {
                            i += 1;
                        }
                        runs.push((s as u32, i as u32));
                    } else {
                        i += 1;
                    }
                }
                assert_eq!(a.ranges(), runs.as_slice());
            }
        }
    }

    #[test]
    fn advance_shifts_and_drops_delivered_ranges() {
        let mut a = Assembler::new(4);
        a.add(5, 5).unwrap();
        a.add(20, 5).unwrap();
        a.advance(12);
        assert_eq!(a.ranges(), [(8, 13)]);
    }
}
