//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 3.4).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A sequence number. Ordering is circular: `a < b` when `b` is less than
/// 2^31 ahead of `a`, which is meaningful only for numbers within half the
/// space of each other (as every window is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance from `other` to `self` (positive when `self` is later).
    pub fn distance_from(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// True if `self` is strictly before `other`.
    pub fn before(self, other: SeqNumber) -> bool {
        self.distance_from(other) < 0
    }

    /// True if `self` is strictly after `other`.
    pub fn after(self, other: SeqNumber) -> bool {
        self.distance_from(other) > 0
    }

    /// True if `start <= self < start + len` (RFC 9293's acceptability tests).
    pub fn in_window(self, start: SeqNumber, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }

    /// The later of two numbers.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self.after(other) {
            self
        } else {
            other
        }
    }

    /// The earlier of two numbers.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self.before(other) {
            self
        } else {
            other
        }
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, rhs: u32) {
        *self = *self + rhs;
    }
}

impl Sub<SeqNumber> for SeqNumber {
    type Output = u32;
    /// Bytes from `rhs` up to `self`, assuming `self` is not before `rhs`.
    fn sub(self, rhs: SeqNumber) -> u32 {
        self.0.wrapping_sub(rhs.0)
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    /// The number `rhs` before `self`.
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap_around() {
        let near_end = SeqNumber(u32::MAX - 5);
        let wrapped = near_end + 10;
        assert_eq!(wrapped, SeqNumber(4));
        assert!(near_end.before(wrapped));
        assert!(wrapped.after(near_end));
        assert_eq!(wrapped - near_end, 10);
        assert_eq!(near_end.distance_from(wrapped), -10);
        assert_eq!(near_end.max(wrapped), wrapped);
        assert_eq!(near_end.min(wrapped), near_end);
        assert!(!near_end.before(near_end));
    }

    #[test]
    fn window_membership_wraps_too() {
        let start = SeqNumber(u32::MAX - 1);
        assert!(start.in_window(start, 1));
        assert!((start + 3).in_window(start, 4));
        assert!(!(start + 4).in_window(start, 4));
        assert!(
            !(start + u32::MAX).in_window(start, 4),
            "just before the window"
        );
        assert!(!start.in_window(start, 0), "an empty window holds nothing");
    }
}
