//! Two sides of two cores each over the in-memory multi-queue pipe, each
//! core a whole stack on its own thread: 2,000 connections from each side
//! (1,000 per core), each echoing 10 messages of 1 KiB byte-exact.
//! - As a NIC with RSS (the pipe steers by the symmetric Toeplitz hash,
//!   the stacks trust it): no frame moves between cores, every outbound
//!   connection's flow hashes to the core that opened it, and each core
//!   holds 35-65% of the connections.
//! - With a peer that always picks the wrong queue: the steering stage
//!   hands every TCP frame to its core, and counts it.

mod common;

use common::multicore::{CoreResult, EchoBothWays};
use dpstack::buf::{BufPool, PoolConfig, SizeClass};
use dpstack::device::pipe::{multi_queue_pipe, PipeConfig, PipeSpread};
use dpstack::runtime::{run_on_threads, RunControl};
use dpstack::steer::{Steering, SteeringMode, DEFAULT_RETA_SIZE};
use dpstack::wire::Ipv4Cidr;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

const CORES: usize = 2;
const PER_CORE: usize = 1_000;

fn cidr(text: &str) -> Ipv4Cidr {
    text.parse().unwrap()
}

/// Runs both sides to the end; each side's per-core results.
fn run_both_sides(spread: PipeSpread, mode: SteeringMode) -> [Vec<CoreResult>; 2] {
    let pool = BufPool::new(&PoolConfig {
        classes: vec![SizeClass {
            size: 2048 + 128,
            count: 32_768,
        }],
        headroom: 128,
    })
    .unwrap();
    let (a, b) = multi_queue_pipe(&PipeConfig::default(), &pool, CORES, &spread);
    let steering = Steering::new(CORES, DEFAULT_RETA_SIZE, mode).unwrap();
    let listening = Arc::new(AtomicUsize::new(0));
    let expected = (CORES * PER_CORE) as u64;
    let side = |ip: &str, peer: &str| {
        EchoBothWays::new(
            cidr(ip),
            peer.parse::<SocketAddrV4>().unwrap().into(),
            PER_CORE,
            10,
            1024,
            expected,
            2 * CORES,
            Arc::clone(&listening),
        )
    };
    let (side_a, side_b) = (
        side("10.7.0.1/24", "10.7.0.2:7"),
        side("10.7.0.2/24", "10.7.0.1:7"),
    );
    let control = RunControl::without_signals(Arc::new(AtomicBool::new(false)), None);
    let (ra, rb) = std::thread::scope(|scope| {
        let other = scope.spawn(|| run_on_threads(b, &steering, &control, &side_b));
        let mine = run_on_threads(a, &steering, &control, &side_a);
        (mine, other.join().expect("side b"))
    });
    [ra.expect("side a"), rb.expect("side b")]
}

fn check_common(sides: &[Vec<CoreResult>; 2], steering: &Steering) {
    for (name, cores) in ["a", "b"].iter().zip(sides) {
        let accepted: u64 = cores.iter().map(|c| c.accepted).sum();
        assert_eq!(
            accepted,
            (CORES * PER_CORE) as u64,
            "side {name} accepted everything"
        );
        for core in cores {
            assert_eq!(
                core.verified, PER_CORE as u64,
                "side {name} core {}",
                core.core
            );
            let share = core.accepted as f64 / accepted as f64;
            assert!(
                (0.35..=0.65).contains(&share),
                "side {name} core {} holds {:.0}% of the connections",
                core.core,
                share * 100.0
            );
            // Every outbound flow hashes to the core that opened it.
            for &(local, remote) in &core.flows {
                assert_eq!(usize::from(steering.core_of_flow(local, remote)), core.core);
            }
            assert_eq!(core.flows.len(), PER_CORE);
            assert_eq!(core.stats.steering.handoff_drops, 0);
        }
    }
}

#[test]
fn two_cores_each_side_behind_rss_hand_nothing_over() {
    let steering = Steering::new(CORES, DEFAULT_RETA_SIZE, SteeringMode::Hardware).unwrap();
    let sides = run_both_sides(PipeSpread::Rss(steering.clone()), SteeringMode::Hardware);
    check_common(&sides, &steering);
    for cores in &sides {
        for core in cores {
            let s = core.stats.steering;
            println!(
                "rss: core {} accepted {} steering {s:?}",
                core.core, core.accepted
            );
            assert_eq!(s.handed_out, 0, "core {}", core.core);
            assert_eq!(
                core.stats.tcp.tx_resets, 0,
                "no segment reached a core without its connection"
            );
        }
        // Only ARP copies moved between cores.
        let copies: u64 = cores.iter().map(|c| c.stats.steering.arp_copies).sum();
        let handed_in: u64 = cores.iter().map(|c| c.stats.steering.handed_in).sum();
        assert_eq!(handed_in, copies);
    }
}

#[test]
fn two_cores_each_side_with_a_peer_on_the_wrong_queue_steer_in_software() {
    let steering = Steering::new(CORES, DEFAULT_RETA_SIZE, SteeringMode::Software).unwrap();
    let sides = run_both_sides(PipeSpread::NextQueue, SteeringMode::Software);
    check_common(&sides, &steering);
    for cores in &sides {
        let out: u64 = cores.iter().map(|c| c.stats.steering.handed_out).sum();
        let into: u64 = cores.iter().map(|c| c.stats.steering.handed_in).sum();
        let copies: u64 = cores.iter().map(|c| c.stats.steering.arp_copies).sum();
        let from_queues: u64 = cores.iter().map(|c| c.stats.device.rx_packets).sum();
        println!(
            "software: {from_queues} frames from the queues, handed out {out}, in {into}, ARP copies {copies}"
        );
        assert_eq!(out + copies, into);
        // Every frame arrived on the wrong queue: all but the few ARP
        // frames (kept where they land, copied to the other core) moved.
        assert!(from_queues - out <= 8, "{out} of {from_queues} handed over");
        assert!(copies >= 1, "ARP reached the other core");
    }
}
