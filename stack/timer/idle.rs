//! Idle timeouts: closing what went silent (a client that connected and
//! stopped talking), as servers do with a keep-alive timeout. Each key's
//! deadline sits on a [`TimerWheel`]; activity only records its time, in
//! O(1), and a deadline that fires early for a key active since is filed
//! again for the rest, so busy keys cost no wheel work per message.

use super::{TimerHandle, TimerWheel};
use crate::hash::FastMap;
use crate::time::{Duration, Instant};
use std::hash::Hash;

struct Watched {
    last_active: Instant,
    deadline: TimerHandle,
}

/// Keys (descriptors, connections) that expire after `timeout` without
/// activity.
pub struct IdleTimeouts<K> {
    timeout: Duration,
    wheel: TimerWheel<K>,
    watched: FastMap<K, Watched>,
    fired: Vec<K>,
}

impl<K: Copy + Eq + Hash> IdleTimeouts<K> {
    /// Nothing watched yet; keys idle for `timeout` expire.
    pub fn new(timeout: Duration) -> Self {
        IdleTimeouts {
            timeout,
            wheel: TimerWheel::new(),
            watched: FastMap::default(),
            fired: Vec::new(),
        }
    }

    /// The idle time after which keys expire.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Starts watching `key`, active at `now` (again, if it was watched).
    pub fn insert(&mut self, key: K, now: Instant) {
        self.remove(key);
        let deadline = self.wheel.schedule(key, now + self.timeout);
        self.watched.insert(
            key,
            Watched {
                last_active: now,
                deadline,
            },
        );
    }

    /// `key` was active at `now`: its idle time starts over. O(1): one
    /// lookup and a store, no wheel work.
    pub fn touch(&mut self, key: K, now: Instant) {
        if let Some(watched) = self.watched.get_mut(&key) {
            watched.last_active = watched.last_active.max(now);
        }
    }

    /// Stops watching `key` (it was closed); false if it was not watched.
    pub fn remove(&mut self, key: K) -> bool {
        match self.watched.remove(&key) {
            Some(watched) => {
                self.wheel.cancel(watched.deadline);
                true
            }
            None => false,
        }
    }

    /// Appends to `expired` (and stops watching) every key idle for the
    /// timeout at `now`.
    pub fn expire(&mut self, now: Instant, expired: &mut Vec<K>) {
        self.fired.clear();
        self.wheel.advance(now, &mut self.fired);
        for &key in &self.fired {
            let Some(watched) = self.watched.get_mut(&key) else {
                continue;
            };
            let due = watched.last_active + self.timeout;
            if due <= now {
                self.watched.remove(&key);
                expired.push(key);
            } else {
                watched.deadline = self.wheel.schedule(key, due);
            }
        }
    }

    /// When [`expire`](Self::expire) next has something to look at.
    pub fn poll_at(&self) -> Option<Instant> {
        self.wheel.poll_at()
    }

    /// Keys watched.
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn expire(idle: &mut IdleTimeouts<u32>, ms: u64) -> Vec<u32> {
        let mut out = Vec::new();
        idle.expire(at(ms), &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn a_silent_key_expires_after_the_timeout_and_not_before() {
        let mut idle = IdleTimeouts::new(Duration::from_secs(10));
        idle.insert(1, at(0));
        idle.insert(2, at(5_000));
        assert_eq!(expire(&mut idle, 9_999), Vec::<u32>::new());
        assert_eq!(expire(&mut idle, 10_000), [1]);
        assert_eq!(expire(&mut idle, 14_999), Vec::<u32>::new());
        assert_eq!(expire(&mut idle, 15_000), [2]);
        assert!(idle.is_empty());
    }

    #[test]
    fn activity_moves_the_deadline_without_wheel_work() {
        let mut idle = IdleTimeouts::new(Duration::from_secs(10));
        idle.insert(7, at(0));
        for ms in (1_000..=9_000).step_by(1_000) {
            idle.touch(7, at(ms));
        }
        // Touches scheduled nothing: one wheel entry, filed again when it
        // fires early.
        assert_eq!(idle.wheel.len(), 1);
        assert_eq!(expire(&mut idle, 10_000), Vec::<u32>::new());
        assert_eq!(idle.wheel.len(), 1);
        assert_eq!(expire(&mut idle, 18_999), Vec::<u32>::new());
        assert_eq!(expire(&mut idle, 19_000), [7]);
    }

    #[test]
    fn a_removed_key_never_expires_and_a_reused_one_starts_afresh() {
        let mut idle = IdleTimeouts::new(Duration::from_secs(1));
        idle.insert(3, at(0));
        assert!(idle.remove(3));
        assert!(!idle.remove(3));
        assert_eq!(expire(&mut idle, 5_000), Vec::<u32>::new());
        // A descriptor number reused for a new connection.
        idle.insert(3, at(5_000));
        idle.insert(3, at(5_500));
        assert_eq!(expire(&mut idle, 6_000), Vec::<u32>::new());
        assert_eq!(expire(&mut idle, 6_500), [3]);
        assert_eq!(idle.wheel.len(), 0);
    }

    #[test]
    fn a_silent_key_goes_within_a_tick_of_its_deadline_while_ten_thousand_active_stay() {
        let timeout = Duration::from_secs(5);
        let mut idle = IdleTimeouts::new(timeout);
        for key in 0..10_001u32 {
            idle.insert(key, at(0));
        }
        let silent = 10_000;
        let mut expired = Vec::new();
        // Every active key is touched every 100 ms; time advances by 1 ms.
        for ms in 1..=6_000u64 {
            if ms % 100 == 0 {
                for key in 0..silent {
                    idle.touch(key, at(ms));
                }
            }
            idle.expire(at(ms), &mut expired);
            if !expired.is_empty() {
                assert_eq!(expired, [silent], "only the silent key, at {ms} ms");
                assert!(
                    (5_000..=5_001).contains(&ms),
                    "closed at {ms} ms, its deadline is 5,000 (one tick is 1 ms)"
                );
                expired.clear();
            }
        }
        assert_eq!(idle.len(), 10_000, "every active key is still watched");
    }

    #[test]
    fn many_keys_expire_in_one_call_after_a_long_gap() {
        let mut idle = IdleTimeouts::new(Duration::from_secs(30));
        for key in 0..10_000u32 {
            idle.insert(key, at(u64::from(key)));
        }
        for key in (0..10_000u32).step_by(2) {
            idle.touch(key, at(20_000));
        }
        let gone = expire(&mut idle, 3_600_000);
        assert_eq!(gone.len(), 10_000, "an hour later every key is idle");
        assert!(idle.is_empty());
    }
}
