//! Scaling with cores: the request/response and connection workloads on
//! one core and on two, wall-clock rate and work per CPU-second.
//!
//! - **pipe, a client and a server stack per thread**: one multi-queue
//!   pipe whose sides each have a queue pair per thread, spreading flows
//!   as a NIC with RSS would; thread `k` runs side A's core `k` (the
//!   client) and side B's core `k` (the server), so with two threads the
//!   machine's two vCPUs each run one core of each side and nothing is
//!   shared between them. This is the share-nothing design's own scaling.
//! - **memif, two processes**: `dpstack-echo` on one lcore or two, and
//!   `dpstack-perf` on as many (memif pairs queue `k` with queue `k`, so
//!   both sides need the same count). With two lcores each, four spinning
//!   threads share two vCPUs: every request crosses a context switch, so
//!   this figure shows the machine's limit, not the stack's.

use crate::dpdk::DpdkMemif;
use crate::dpstack_pipe::{connection_rate, request_response, A_IP, B_IP};
use crate::measure::{Sample, Stopwatch};
use crate::Contender;
use dpstack::buf::BufPool;
use dpstack::device::pipe::{multi_queue_pipe_pools, PipeConfig, PipeSpread};
use dpstack::device::Device;
use dpstack::runtime::{Stack, StackConfig};
use dpstack::steer::{CoreSteering, Steering, SteeringMode, DEFAULT_RETA_SIZE};
use dpstack::time::MonotonicClock;
use std::time::Duration;

/// A workload of the scaling rows.
#[derive(Debug, Clone, Copy)]
pub enum Workload {
    /// 64-byte request/response on this many connections in all.
    RequestResponse(usize),
    /// Connection rate with this many in progress in all.
    ConnectionRate(usize),
}

/// The workload on `threads` threads, each running one client and one
/// server core of a multi-queue pipe; work and CPU summed over the
/// threads, wall clock the longest thread's.
pub fn pipe_pairs(threads: usize, workload: Workload, duration: Duration) -> Option<Sample> {
    let steering = Steering::new(threads, DEFAULT_RETA_SIZE, SteeringMode::Hardware).ok()?;
    let pools: Vec<BufPool> = (0..threads).map(|_| BufPool::with_defaults()).collect();
    let config = PipeConfig {
        queue_len: 16_384,
        ..PipeConfig::default()
    };
    let (a, b) = multi_queue_pipe_pools(&config, &pools, &PipeSpread::Rss(steering.clone()));
    let samples: Vec<Sample> = std::thread::scope(|scope| {
        let workers: Vec<_> = a
            .into_iter()
            .zip(b)
            .enumerate()
            .map(|(k, (a, b))| {
                let steering = steering.clone();
                scope.spawn(move || {
                    let core = |ip, seed| StackConfig {
                        core: Some(CoreSteering {
                            steering: steering.clone(),
                            core: k as u16,
                        }),
                        ..StackConfig::seeded(ip, 24, seed)
                    };
                    let mut a = Stack::new(a, MonotonicClock::new(), core(A_IP, 1 + k as u64));
                    let mut b = Stack::new(b, MonotonicClock::new(), core(B_IP, 100 + k as u64));
                    let (a_mac, b_mac) =
                        (a.device().capabilities().mac, b.device().capabilities().mac);
                    a.interface().arp_cache().insert_static(B_IP, b_mac);
                    b.interface().arp_cache().insert_static(A_IP, a_mac);
                    match workload {
                        Workload::RequestResponse(n) => request_response(
                            &mut a,
                            &mut b,
                            (n / threads).max(1),
                            duration,
                            Stopwatch::start_thread,
                        ),
                        Workload::ConnectionRate(n) => connection_rate(
                            &mut a,
                            &mut b,
                            (n / threads).max(1),
                            duration,
                            Stopwatch::start_thread,
                        ),
                    }
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    (samples.len() == threads).then(|| Sample {
        work: samples.iter().map(|s| s.work).sum(),
        wall: samples.iter().map(|s| s.wall).fold(0.0, f64::max),
        cpu: samples.iter().map(|s| s.cpu).sum(),
        latency_us: samples.first().and_then(|s| s.latency_us),
    })
}

/// The workload over memif with the server on the EAL lcores `server`
/// (`-l`) and the client on `client`.
pub fn memif(server: &str, client: &str, workload: Workload, duration: Duration) -> Option<Sample> {
    let mut memif = DpdkMemif::on_lcores(server, client);
    match workload {
        Workload::RequestResponse(n) => memif.request_response(n, duration),
        Workload::ConnectionRate(n) => memif.connection_rate(n, duration),
    }
}
