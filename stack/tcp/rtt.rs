//! The retransmission timeout per RFC 6298: smoothed RTT and its variation
//! from samples, bounded, doubled per expiry.

use crate::time::Duration;

/// RTT state of one connection.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    /// Smoothed round-trip time (SRTT), in nanoseconds; `None` before the first sample.
    srtt: Option<u64>,
    /// Round-trip variation (RTTVAR), in nanoseconds.
    rttvar: u64,
    /// The timeout before backoff.
    rto: Duration,
    min_rto: Duration,
    max_rto: Duration,
}

/// Clock granularity G of RFC 6298 (our timer wheel's tick).
const GRANULARITY: u64 = 1_000_000;

impl RttEstimator {
    /// No samples yet: the RTO is `initial` (RFC 6298 2.1).
    pub fn new(initial: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: 0,
            rto: initial.max(min_rto).min(max_rto),
            min_rto,
            max_rto,
        }
    }

    /// Takes one RTT measurement (RFC 6298 2.2, 2.3; alpha 1/8, beta 1/4).
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_nanos();
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                self.rttvar = (3 * self.rttvar + srtt.abs_diff(r)) / 4;
                self.srtt = Some((7 * srtt + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        let rto = srtt + (4 * self.rttvar).max(GRANULARITY);
        self.rto = Duration::from_nanos(rto)
            .max(self.min_rto)
            .min(self.max_rto);
    }

    /// The current timeout, before backoff.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// The timeout after `backoff` expirations: doubled each time, at most
    /// the maximum (RFC 6298 5.5).
    pub fn backed_off(&self, backoff: u32) -> Duration {
        let factor = 1u64 << backoff.min(16);
        Duration::from_nanos(self.rto.as_nanos().saturating_mul(factor)).min(self.max_rto)
    }

    /// The smoothed RTT, if measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimator() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn first_sample_sets_srtt_and_half_variation() {
        let mut rtt = estimator();
        assert_eq!(rtt.rto(), Duration::from_secs(1));
        rtt.sample(Duration::from_millis(100));
        // RTO = 100 + 4 * 50 = 300 ms.
        assert_eq!(rtt.rto(), Duration::from_millis(300));
        assert_eq!(rtt.srtt(), Some(Duration::from_millis(100)));
    }

    #[test]
    fn later_samples_smooth_and_the_floor_holds() {
        let mut rtt = estimator();
        for _ in 0..50 {
            rtt.sample(Duration::from_millis(1));
        }
        assert_eq!(rtt.rto(), Duration::from_millis(200), "Linux's floor");
        rtt.sample(Duration::from_millis(1000));
        assert!(rtt.rto() > Duration::from_millis(200));
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling() {
        let rtt = estimator();
        assert_eq!(rtt.backed_off(1), Duration::from_secs(2));
        assert_eq!(rtt.backed_off(3), Duration::from_secs(8));
        assert_eq!(rtt.backed_off(10), Duration::from_secs(120));
        assert_eq!(rtt.backed_off(u32::MAX), Duration::from_secs(120));
    }
}
