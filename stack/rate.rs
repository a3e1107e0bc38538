//! Rate limiting for replies the stack sends on its own (ICMP errors, TCP
//! challenge ACKs), so a flood of bad input cannot make it flood back.

use crate::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second, at most `burst` saved.
pub struct TokenBucket {
    rate: u32,
    burst: u32,
    tokens: u32,
    last_refill: Instant,
}

impl TokenBucket {
    /// A full bucket: `rate` tokens per second, `burst` at most.
    pub fn new(rate: u32, burst: u32) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last_refill: Instant::ZERO,
        }
    }

    /// Takes a token if one is left at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate > 0 {
            let per_token = Duration::from_nanos(1_000_000_000 / u64::from(self.rate));
            let earned = (now - self.last_refill).as_nanos() / per_token.as_nanos().max(1);
            if earned > 0 {
                self.tokens = (u64::from(self.tokens) + earned).min(u64::from(self.burst)) as u32;
                self.last_refill += Duration::from_nanos(earned * per_token.as_nanos());
            }
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_burst_then_rate() {
        let mut bucket = TokenBucket::new(1000, 3);
        let t0 = Instant::from_millis(5);
        assert!((0..3).all(|_| bucket.take(t0)));
        assert!(!bucket.take(t0));
        assert!(bucket.take(t0 + Duration::from_millis(1)));
        assert!(!bucket.take(t0 + Duration::from_millis(1)));
        assert!(
            (0..3).all(|_| bucket.take(t0 + Duration::from_secs(10))),
            "refills to the burst"
        );
        assert!(!bucket.take(t0 + Duration::from_secs(10)));
    }
}
