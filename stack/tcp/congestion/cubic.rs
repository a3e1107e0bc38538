//! CUBIC (RFC 9438): after a loss the window follows a cubic function of
//! the time since it, plateauing near the window where the loss happened
//! (`w_max`), with a Reno-friendly floor for short RTTs. Slow start is the
//! standard one (no HyStart): it ends at the first loss or at `ssthresh`.

use super::{initial_window, CongestionControl};
use crate::time::{Duration, Instant};

/// RFC 9438 4.6: the multiplicative decrease factor.
const BETA: f64 = 0.7;
/// RFC 9438 4.2: the scaling constant, in segments per second cubed.
const C: f64 = 0.4;

/// CUBIC's window state; windows in bytes, the cubic function in segments.
#[derive(Debug, Clone)]
pub struct Cubic {
    cwnd: usize,
    ssthresh: usize,
    /// Window just before the last reduction, in segments.
    w_max: f64,
    /// `w_max` of the reduction before, for fast convergence (RFC 9438 4.7).
    w_last_max: f64,
    /// Start of the current congestion-avoidance epoch.
    epoch_start: Option<Instant>,
    /// Time for the cubic function to climb back to `w_max`, in seconds.
    k: f64,
    /// The Reno-friendly estimate (RFC 9438 4.3), in segments.
    w_est: f64,
}

impl Cubic {
    /// Starts with the RFC 6928 initial window and no threshold.
    pub fn new(mss: usize) -> Self {
        Cubic {
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            w_max: 0.0,
            w_last_max: 0.0,
            epoch_start: None,
            k: 0.0,
            w_est: 0.0,
        }
    }

    /// A congestion event with the window at `cwnd` bytes: remember it,
    /// reduce by beta (RFC 9438 4.6, 4.7).
    fn reduce(&mut self, mss: usize) {
        let segments = self.cwnd as f64 / mss as f64;
        self.w_max = if segments < self.w_last_max {
            // Fast convergence: release bandwidth to a newcomer.
            segments * (1.0 + BETA) / 2.0
        } else {
            segments
        };
        self.w_last_max = segments;
        self.ssthresh = ((self.cwnd as f64 * BETA) as usize).max(2 * mss);
        self.epoch_start = None;
    }

    /// The cubic target for `t` seconds into the epoch, in segments.
    fn w_cubic(&self, t: f64) -> f64 {
        C * (t - self.k).powi(3) + self.w_max
    }

    /// The window's size in the algorithm, as seen from outside (tests).
    pub fn w_max_segments(&self) -> f64 {
        self.w_max
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_ack(&mut self, acked: usize, mss: usize, now: Instant, srtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            self.cwnd += acked.min(2 * mss);
            return;
        }
        let segments = self.cwnd as f64 / mss as f64;
        let start = *self.epoch_start.get_or_insert_with(|| {
            // A new epoch (RFC 9438 4.2): K from the remembered peak.
            self.k = if self.w_max > segments {
                ((self.w_max - segments) / C).cbrt()
            } else {
                self.w_max = segments;
                0.0
            };
            self.w_est = segments;
            now
        });
        let rtt = srtt.unwrap_or(Duration::from_millis(100)).as_secs_f64();
        let t = now.saturating_duration_since(start).as_secs_f64();
        let acked_segments = acked as f64 / mss as f64;
        // RFC 9438 4.3: Reno-friendly region, alpha = 3 (1 - beta) / (1 + beta).
        let alpha = 3.0 * (1.0 - BETA) / (1.0 + BETA);
        self.w_est += alpha * acked_segments / segments;
        let target = self.w_cubic(t + rtt).clamp(segments, 1.5 * segments);
        let next = if self.w_cubic(t) < self.w_est {
            self.w_est
        } else {
            // RFC 9438 4.4/4.5: approach the target by (target - cwnd) / cwnd per segment.
            segments + (target - segments) * acked_segments / segments
        };
        self.cwnd = ((next * mss as f64) as usize).max(self.cwnd);
    }

    fn on_enter_recovery(&mut self, _flight: usize, mss: usize) {
        self.reduce(mss);
        self.cwnd = self.ssthresh + 3 * mss;
    }

    fn on_dup_ack_in_recovery(&mut self, mss: usize) {
        self.cwnd += mss;
    }

    fn on_partial_ack(&mut self, acked: usize, mss: usize) {
        self.cwnd = (self.cwnd.saturating_sub(acked) + mss.min(acked)).max(mss);
    }

    fn on_exit_recovery(&mut self, flight: usize, mss: usize) {
        self.cwnd = self.ssthresh.min(flight.max(mss) + mss);
    }

    fn on_timeout(&mut self, _flight: usize, mss: usize) {
        self.reduce(mss);
        self.cwnd = mss;
    }

    fn name(&self) -> &'static str {
        "cubic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn loss_cuts_the_window_by_beta_and_remembers_the_peak() {
        let mut cc = Cubic::new(MSS);
        cc.on_timeout(0, MSS);
        assert_eq!(
            (cc.cwnd(), cc.ssthresh()),
            (MSS, 7 * MSS),
            "0.7 x 10 segments"
        );
        assert_eq!(cc.w_max_segments(), 10.0);
    }

    #[test]
    fn the_window_climbs_back_to_the_peak_in_k_seconds_then_probes_beyond() {
        let mut cc = Cubic::new(MSS);
        cc.cwnd = 100 * MSS;
        cc.on_enter_recovery(100 * MSS, MSS);
        cc.on_exit_recovery(100 * MSS, MSS);
        assert_eq!(cc.cwnd(), 70 * MSS);
        // K = cbrt(100 x 0.3 / 0.4) = cbrt(75) ~ 4.2 s. With a 100 ms RTT
        // the cubic curve is above the Reno-friendly estimate (with a short
        // RTT Reno's linear growth would win, as RFC 9438 4.3 intends).
        let rtt = Duration::from_millis(100);
        let mut now = 0;
        let mut at_k = 0;
        while now < 10_000 {
            // One window of ACKs per RTT.
            for _ in 0..cc.cwnd() / MSS {
                cc.on_ack(MSS, MSS, at(now), Some(rtt));
            }
            if now == 4_200 {
                at_k = cc.cwnd() / MSS;
            }
            now += 100;
        }
        assert!((95..=106).contains(&at_k), "near w_max at K: {at_k}");
        assert!(
            cc.cwnd() / MSS > 150,
            "convex growth past the peak: {}",
            cc.cwnd() / MSS
        );
    }

    #[test]
    fn short_rtts_follow_the_reno_friendly_estimate() {
        let mut cc = Cubic::new(MSS);
        cc.cwnd = 100 * MSS;
        cc.on_timeout(0, MSS);
        cc.cwnd = cc.ssthresh();
        // 1 ms RTT: 1,000 windows of ACKs in a second; cubic alone would
        // barely move (t << K), Reno-friendly growth takes over.
        let mut now = 0;
        while now < 1_000 {
            for _ in 0..cc.cwnd() / MSS {
                cc.on_ack(MSS, MSS, at(now), Some(Duration::from_millis(1)));
            }
            now += 1;
        }
        assert!(cc.cwnd() / MSS > 200, "{}", cc.cwnd() / MSS);
    }

    #[test]
    fn fast_convergence_lowers_a_falling_peak() {
        let mut cc = Cubic::new(MSS);
        cc.cwnd = 100 * MSS;
        cc.on_timeout(0, MSS);
        cc.cwnd = 80 * MSS;
        cc.on_timeout(0, MSS);
        assert!((cc.w_max_segments() - 68.0).abs() < 1e-9, "80 x 1.7 / 2");
    }
}
