//! The fault injector over an in-memory pipe, checked against what arrives:
//! every counter must match what the receiver sees.

use dpstack::buf::{BufPool, PacketBuf, PoolBuf};
use dpstack::device::fault::{FaultConfig, FaultDevice, FaultProfile, FaultStats};
use dpstack::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
use dpstack::device::Device;
use dpstack::time::{Duration, Instant};
use std::collections::HashSet;

const FRAMES: u32 = 100_000;

/// What the receiver saw, judged from sequence numbers and a checksum.
#[derive(Debug, Default)]
struct Arrivals {
    total: u64,
    late: u64,
    duplicates: u64,
    corrupt: u64,
}

fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

fn run(profile: FaultProfile, seed: u64) -> (FaultStats, Arrivals) {
    let pool = BufPool::with_defaults();
    let (a, mut b) = pipe_pair(&PipeConfig::default(), &pool);
    let config = FaultConfig {
        seed,
        tx: profile,
        rx: FaultProfile::default(),
    };
    let mut a = FaultDevice::new(a, config).unwrap();
    let mut arrivals = Arrivals::default();
    let mut seen = HashSet::new();
    let mut highest: Option<u32> = None;
    let mut outgoing: Vec<PoolBuf> = Vec::new();
    let mut incoming: Vec<PoolBuf> = Vec::new();
    let mut now = Instant::ZERO;
    let mut next = 0u32;
    let mut judge = |now: Instant, incoming: &mut Vec<PoolBuf>, b: &mut PipeDevice| {
        incoming.clear();
        b.receive(now, incoming, usize::MAX);
        for frame in incoming.iter() {
            arrivals.total += 1;
            let data = frame.data();
            if checksum(&data[..60]) != u32::from_be_bytes(data[60..64].try_into().unwrap()) {
                arrivals.corrupt += 1;
                continue;
            }
            let seq = u32::from_be_bytes(data[..4].try_into().unwrap());
            if !seen.insert(seq) {
                arrivals.duplicates += 1;
            } else if highest.is_some_and(|h| seq < h) {
                arrivals.late += 1;
            }
            highest = highest.max(Some(seq));
        }
    };
    while next < FRAMES {
        for _ in 0..32.min(FRAMES - next) {
            let mut frame = a.alloc_tx(64).unwrap();
            let data = frame.data_mut();
            data[..60].fill((next % 251) as u8);
            data[..4].copy_from_slice(&next.to_be_bytes());
            let sum = checksum(&data[..60]);
            data[60..64].copy_from_slice(&sum.to_be_bytes());
            outgoing.push(frame);
            next += 1;
        }
        a.transmit(now, &mut outgoing);
        assert!(outgoing.is_empty(), "the injector takes every frame");
        now += Duration::from_micros(100);
        judge(now, &mut incoming, &mut b);
    }
    // Let held and delayed frames out.
    now += Duration::from_secs(1);
    let mut nothing = Vec::new();
    a.receive(now, &mut nothing, 32);
    judge(now, &mut incoming, &mut b);
    (a.tx_fault_stats(), arrivals)
}

#[test]
fn five_percent_loss_loses_five_percent() {
    let (stats, arrivals) = run(
        FaultProfile {
            loss: 0.05,
            ..FaultProfile::default()
        },
        11,
    );
    let rate = stats.lost as f64 / f64::from(FRAMES);
    assert!((0.045..=0.055).contains(&rate), "loss rate {rate}");
    assert_eq!(arrivals.total + stats.lost, u64::from(FRAMES));
    assert_eq!(
        (arrivals.late, arrivals.duplicates, arrivals.corrupt),
        (0, 0, 0)
    );
}

#[test]
fn reorder_counter_matches_late_arrivals() {
    let (stats, arrivals) = run(
        FaultProfile {
            reorder: 0.02,
            reorder_distance: 3,
            ..FaultProfile::default()
        },
        12,
    );
    assert!(stats.reordered > 1_000, "{stats:?}");
    assert_eq!(arrivals.late, stats.reordered);
    assert_eq!(arrivals.total, u64::from(FRAMES));
}

#[test]
fn duplicate_counter_matches_repeated_arrivals() {
    let (stats, arrivals) = run(
        FaultProfile {
            duplicate: 0.03,
            ..FaultProfile::default()
        },
        13,
    );
    assert!(stats.duplicated > 1_000, "{stats:?}");
    assert_eq!(arrivals.duplicates, stats.duplicated);
    assert_eq!(arrivals.total, u64::from(FRAMES) + stats.duplicated);
}

#[test]
fn corrupt_counter_matches_checksum_failures() {
    let (stats, arrivals) = run(
        FaultProfile {
            corrupt: 0.02,
            ..FaultProfile::default()
        },
        14,
    );
    assert!(stats.corrupted > 1_000, "{stats:?}");
    assert_eq!(arrivals.corrupt, stats.corrupted);
}

#[test]
fn combined_faults_account_for_every_frame() {
    let (stats, arrivals) = run(
        FaultProfile {
            loss: 0.02,
            loss_run: 3,
            duplicate: 0.01,
            reorder: 0.01,
            corrupt: 0.01,
            delay: Duration::from_millis(1),
            jitter: Duration::from_micros(300),
            ..FaultProfile::default()
        },
        15,
    );
    assert_eq!(stats.queue_dropped, 0);
    assert_eq!(stats.offered, u64::from(FRAMES));
    assert_eq!(
        arrivals.total,
        stats.offered - stats.lost + stats.duplicated
    );
    assert_eq!(stats.passed, arrivals.total);
    assert!(stats.delayed > 0);
}

#[test]
fn same_seed_same_faults() {
    let profile = FaultProfile {
        loss: 0.05,
        reorder: 0.01,
        ..FaultProfile::default()
    };
    let (first, _) = run(profile.clone(), 99);
    let (second, _) = run(profile, 99);
    assert_eq!(first, second);
}
