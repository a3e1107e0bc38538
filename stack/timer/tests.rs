//! The wheel against a reference model: every timer fires exactly once, in
//! the first advance at or after its deadline (never before), unless cancelled.

use super::*;
use crate::rand::Rng;
use std::collections::BTreeMap;

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

#[test]
fn fires_at_deadline_not_before() {
    let mut wheel = TimerWheel::new();
    wheel.schedule('a', ms(5));
    wheel.schedule('b', ms(3));
    let mut out = Vec::new();
    wheel.advance(ms(2), &mut out);
    assert!(out.is_empty());
    assert_eq!(wheel.poll_at(), Some(ms(3)));
    wheel.advance(ms(3), &mut out);
    assert_eq!(out, ['b']);
    wheel.advance(ms(10), &mut out);
    assert_eq!(out, ['b', 'a']);
    assert!(wheel.is_empty());
    assert_eq!(wheel.poll_at(), None);
}

#[test]
fn sub_tick_deadlines_round_up() {
    let mut wheel = TimerWheel::new();
    wheel.schedule(1, Instant::from_nanos(1_000_001));
    let mut out = Vec::new();
    wheel.advance(ms(1), &mut out);
    assert!(out.is_empty(), "1.000001 ms is not due at 1 ms");
    wheel.advance(ms(2), &mut out);
    assert_eq!(out, [1]);
}

#[test]
fn cancel_is_exact_and_stale_handles_are_ignored() {
    let mut wheel = TimerWheel::new();
    let a = wheel.schedule(1, ms(10));
    let b = wheel.schedule(2, ms(10));
    assert!(wheel.cancel(a));
    assert!(!wheel.cancel(a), "twice");
    let c = wheel.schedule(3, ms(20));
    assert_eq!(c.index, a.index, "slot reused");
    assert!(
        !wheel.cancel(a),
        "stale handle does not cancel the new timer"
    );
    let mut out = Vec::new();
    wheel.advance(ms(30), &mut out);
    assert_eq!(out, [2, 3]);
    assert!(!wheel.cancel(b), "already fired");
}

#[test]
fn long_timers_cascade_down_and_fire_on_time() {
    let mut wheel = TimerWheel::new();
    for (key, at) in [
        (1, 300),
        (2, 65_536),
        (3, 70_000),
        (4, 60_000_000),
        (5, 20_000_000_000),
    ] {
        wheel.schedule(key, ms(at));
    }
    let mut out = Vec::new();
    for (until, expect) in [
        (299, &[][..]),
        (300, &[1][..]),
        (65_535, &[1][..]),
        (65_536, &[1, 2][..]),
        (69_999, &[1, 2][..]),
        (70_000, &[1, 2, 3][..]),
        (59_999_999, &[1, 2, 3][..]),
        (60_000_000, &[1, 2, 3, 4][..]),
        (19_999_999_999, &[1, 2, 3, 4][..]),
        (20_000_000_000, &[1, 2, 3, 4, 5][..]),
    ] {
        wheel.advance(ms(until), &mut out);
        assert_eq!(out, expect, "at {until} ms");
    }
}

#[test]
fn poll_at_never_later_than_the_earliest_deadline() {
    let mut wheel = TimerWheel::new();
    wheel.schedule(1, ms(100_000));
    let at = wheel.poll_at().unwrap();
    assert!(at <= ms(100_000) && at > ms(0), "{at:?}");
    wheel.schedule(2, ms(7));
    assert_eq!(wheel.poll_at(), Some(ms(7)));
}

#[test]
fn matches_a_reference_model_under_random_load() {
    let mut rng = Rng::new(11);
    let mut wheel = TimerWheel::new();
    let mut model: BTreeMap<u32, (u64, TimerHandle)> = BTreeMap::new();
    let mut now = 0u64;
    let mut out = Vec::new();
    for key in 0..50_000u32 {
        match rng.below(10) {
            0..=5 => {
                let horizon = [10, 1_000, 100_000, 20_000_000][rng.below(4) as usize];
                let deadline = now + 1 + rng.below(horizon);
                let handle = wheel.schedule(key, ms(deadline));
                model.insert(key, (deadline, handle));
            }
            6 | 7 => {
                if let Some((&victim, &(_, handle))) =
                    model.iter().nth(rng.below(model.len() as u64 + 1) as usize)
                {
                    assert!(wheel.cancel(handle));
                    model.remove(&victim);
                }
            }
            _ => {
                if let Some(at) = wheel.poll_at() {
                    let earliest = model.values().map(|(d, _)| *d).min().unwrap();
                    assert!(
                        at <= ms(earliest),
                        "poll_at {at:?} after the earliest deadline {earliest}"
                    );
                }
                now += rng.below(5_000);
                out.clear();
                wheel.advance(ms(now), &mut out);
                let mut due: Vec<u32> = model
                    .iter()
                    .filter(|(_, (d, _))| *d <= now)
                    .map(|(k, _)| *k)
                    .collect();
                let mut fired = out.clone();
                fired.sort_unstable();
                due.sort_unstable();
                assert_eq!(fired, due, "at {now} ms");
                for key in &due {
                    model.remove(key);
                }
            }
        }
        assert_eq!(wheel.len(), model.len());
    }
}
