//! NewReno (RFC 5681 slow start and congestion avoidance; RFC 6582 fast
//! recovery with partial ACKs).

use super::{initial_window, CongestionControl};
use crate::time::{Duration, Instant};

/// NewReno's window state.
#[derive(Debug, Clone)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acknowledged towards the next congestion-avoidance increase.
    acked_in_avoidance: usize,
}

impl NewReno {
    /// Starts with the RFC 6928 initial window and an unbounded threshold
    /// (RFC 5681 3.1).
    pub fn new(mss: usize) -> Self {
        NewReno {
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            acked_in_avoidance: 0,
        }
    }

    /// RFC 5681 (4): half the flight, at least two segments.
    fn halve(flight: usize, mss: usize) -> usize {
        (flight / 2).max(2 * mss)
    }
}

impl CongestionControl for NewReno {
    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_ack(&mut self, acked: usize, mss: usize, _now: Instant, _srtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            // Slow start with appropriate byte counting, at most two MSS
            // per ACK (RFC 3465 L=2) so a stretch ACK cannot burst.
            self.cwnd += acked.min(2 * mss);
        } else {
            // Congestion avoidance: one MSS per window of data acknowledged.
            self.acked_in_avoidance += acked;
            if self.acked_in_avoidance >= self.cwnd {
                self.acked_in_avoidance -= self.cwnd;
                self.cwnd += mss;
            }
        }
    }

    fn on_enter_recovery(&mut self, flight: usize, mss: usize) {
        self.ssthresh = Self::halve(flight, mss);
        self.cwnd = self.ssthresh + 3 * mss;
        self.acked_in_avoidance = 0;
    }

    fn on_dup_ack_in_recovery(&mut self, mss: usize) {
        self.cwnd += mss;
    }

    fn on_partial_ack(&mut self, acked: usize, mss: usize) {
        // Deflate by what left, add back one MSS (RFC 6582 3.2 step 5).
        self.cwnd = self.cwnd.saturating_sub(acked) + mss.min(acked);
        self.cwnd = self.cwnd.max(mss);
    }

    fn on_exit_recovery(&mut self, flight: usize, mss: usize) {
        // RFC 6582 3.2 step 6, option 1.
        self.cwnd = self.ssthresh.min(flight.max(mss) + mss);
    }

    fn on_timeout(&mut self, flight: usize, mss: usize) {
        self.ssthresh = Self::halve(flight, mss);
        self.cwnd = mss;
        self.acked_in_avoidance = 0;
    }

    fn name(&self) -> &'static str {
        "reno"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(MSS);
        assert_eq!(cc.cwnd(), 10 * MSS);
        cc.on_ack(MSS, MSS, Instant::ZERO, None);
        assert_eq!(cc.cwnd(), 11 * MSS, "slow start: +1 MSS per MSS acked");
        cc.on_timeout(20 * MSS, MSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (MSS, 10 * MSS));
        for _ in 0..9 {
            cc.on_ack(MSS, MSS, Instant::ZERO, None);
        }
        assert_eq!(cc.cwnd(), 10 * MSS, "reached ssthresh");
        for _ in 0..10 {
            cc.on_ack(MSS, MSS, Instant::ZERO, None);
        }
        assert_eq!(cc.cwnd(), 11 * MSS, "one MSS per window in avoidance");
    }

    #[test]
    fn fast_recovery_inflates_and_deflates() {
        let mut cc = NewReno::new(MSS);
        cc.on_enter_recovery(20 * MSS, MSS);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10 * MSS, 13 * MSS));
        cc.on_dup_ack_in_recovery(MSS);
        assert_eq!(cc.cwnd(), 14 * MSS);
        cc.on_partial_ack(3 * MSS, MSS);
        assert_eq!(cc.cwnd(), 12 * MSS);
        cc.on_exit_recovery(15 * MSS, MSS);
        assert_eq!(cc.cwnd(), 10 * MSS, "back to ssthresh");
        cc.on_enter_recovery(MSS, MSS);
        assert_eq!(cc.ssthresh(), 2 * MSS, "never below two segments");
    }
}
