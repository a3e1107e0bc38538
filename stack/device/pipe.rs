//! Two in-memory devices wired back to back, for tests and benchmarks.
//!
//! What one end transmits the other receives, through a bounded lock-free
//! queue per direction; the ends are `Send`, so the two stacks may run on one
//! thread or on two. A full queue refuses frames (they stay with the caller),
//! like a NIC's full transmit ring.
//!
//! [`multi_queue_pipe`] gives each side N queue pairs, one per core, and
//! decides which of the receiver's queues a frame lands on as a NIC or a
//! peer would ([`PipeSpread`]), so multi-core stacks are tested on threads
//! without DPDK.

use super::{Capabilities, Device, Offloads, MAX_BURST};
use crate::buf::{BufPool, PacketBuf, PoolBuf};
use crate::stats::DeviceStats;
use crate::steer::Steering;
use crate::time::Instant;
use crate::wire::MacAddr;
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// How a pipe is built.
#[derive(Debug, Clone)]
pub struct PipeConfig {
    /// Frames each direction holds before refusing more.
    pub queue_len: usize,
    /// MTU both ends report, in bytes.
    pub mtu: usize,
    /// MAC addresses of the two ends.
    pub macs: [MacAddr; 2],
}

impl Default for PipeConfig {
    fn default() -> Self {
        PipeConfig {
            queue_len: 1024,
            mtu: 1500,
            macs: [
                MacAddr([0x02, 0, 0, 0, 0, 0x01]),
                MacAddr([0x02, 0, 0, 0, 0, 0x02]),
            ],
        }
    }
}

/// How a multi-queue pipe picks the receiving queue of each frame.
#[derive(Debug, Clone)]
pub enum PipeSpread {
    /// As a NIC with RSS programmed like `Steering`'s port: TCP and UDP by
    /// the Toeplitz hash of their 4-tuple, other IPv4 by the address pair,
    /// everything else on queue 0.
    Rss(Steering),
    /// What queue `k` sends arrives on the peer's queue `k` (as memif
    /// pairs its rings): the receiver has to steer.
    SameQueue,
    /// What queue `k` sends arrives on the peer's queue `k + 1` (mod N): a
    /// peer whose own queue choice never matches ours, so every frame needs
    /// steering.
    NextQueue,
}

/// One end of an in-memory pipe (one queue pair of it, for a multi-queue pipe).
pub struct PipeDevice {
    pool: BufPool,
    rx: Arc<ArrayQueue<PoolBuf>>,
    /// The peer's receive queues, one per queue pair.
    tx: Vec<Arc<ArrayQueue<PoolBuf>>>,
    /// Which of `tx` a frame goes to.
    spread: Spread,
    mac: MacAddr,
    mtu: usize,
    name: String,
    stats: DeviceStats,
}

/// A pipe end's choice of the peer queue, resolved for its own queue index.
enum Spread {
    /// Always `tx[index]`.
    Fixed(usize),
    /// By the RSS rules.
    Rss(Box<Steering>),
}

/// Two pipe ends wired together; both allocate from `pool`.
pub fn pipe_pair(config: &PipeConfig, pool: &BufPool) -> (PipeDevice, PipeDevice) {
    let (mut a, mut b) = multi_queue_pipe(config, pool, 1, &PipeSpread::SameQueue);
    match (a.pop(), b.pop()) {
        (Some(mut a), Some(mut b)) => {
            a.name = "pipe:a".into();
            b.name = "pipe:b".into();
            (a, b)
        }
        _ => unreachable!("a pipe of one queue pair has one device per side"),
    }
}

/// Two sides of `queues` queue pairs each (1 to `steer::MAX_CORES`), side A's queue `k`
/// named `pipe:a/k`; frames reach the peer's queues as `spread` says.
/// Every queue pair of a side has that side's MAC, as one port's queues do.
pub fn multi_queue_pipe(
    config: &PipeConfig,
    pool: &BufPool,
    queues: usize,
    spread: &PipeSpread,
) -> (Vec<PipeDevice>, Vec<PipeDevice>) {
    let queues = queues.clamp(1, crate::steer::MAX_CORES);
    multi_queue_pipe_pools(config, &vec![pool.clone(); queues], spread)
}

/// As [`multi_queue_pipe`], with one queue pair per pool (a default pool
/// when none is given): queue `k` of both sides allocates from `pools[k]`,
/// as each lcore takes mbufs from its own cache of a DPDK mempool, so
/// cores share no free list.
pub fn multi_queue_pipe_pools(
    config: &PipeConfig,
    pools: &[BufPool],
    spread: &PipeSpread,
) -> (Vec<PipeDevice>, Vec<PipeDevice>) {
    let default;
    let pools = if pools.is_empty() {
        default = [BufPool::with_defaults()];
        &default[..]
    } else {
        pools
    };
    let queues = pools.len().min(crate::steer::MAX_CORES);
    let queue_len = config.queue_len.max(1);
    let new_queues = || -> Vec<Arc<ArrayQueue<PoolBuf>>> {
        (0..queues)
            .map(|_| Arc::new(ArrayQueue::new(queue_len)))
            .collect()
    };
    let (into_a, into_b) = (new_queues(), new_queues());
    let side = |rx: &[Arc<ArrayQueue<PoolBuf>>], tx: &[Arc<ArrayQueue<PoolBuf>>], mac, name| {
        (0..queues)
            .map(|k| PipeDevice {
                pool: pools[k].clone(),
                rx: Arc::clone(&rx[k]),
                tx: tx.to_vec(),
                spread: match spread {
                    PipeSpread::Rss(steering) => Spread::Rss(Box::new(steering.clone())),
                    PipeSpread::SameQueue => Spread::Fixed(k),
                    PipeSpread::NextQueue => Spread::Fixed((k + 1) % queues),
                },
                mac,
                mtu: config.mtu,
                name: format!("pipe:{name}/{k}"),
                stats: DeviceStats::default(),
            })
            .collect()
    };
    (
        side(&into_a, &into_b, config.macs[0], "a"),
        side(&into_b, &into_a, config.macs[1], "b"),
    )
}

impl PipeDevice {
    /// Pushes the leading frames of `batch` that fit into peer queue `k`.
    /// A queue with one producer can only gain room between the check and
    /// the pushes; with several, a frame that loses the race for the last
    /// slot is dropped and counted, as a full NIC ring drops.
    fn push_leading(&mut self, k: usize, batch: &mut Vec<PoolBuf>) -> usize {
        let queue = &self.tx[k];
        let n = (queue.capacity() - queue.len()).min(batch.len());
        for buf in batch.drain(..n) {
            let len = buf.len();
            match queue.push(buf) {
                Ok(()) => self.stats.count_tx(len),
                Err(_) => self.stats.tx_dropped += 1,
            }
        }
        n
    }
}

impl Device for PipeDevice {
    type Buf = PoolBuf;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            mac: self.mac,
            mtu: self.mtu,
            rx_queues: self.tx.len() as u16,
            tx_queues: self.tx.len() as u16,
            offloads: Offloads {
                rss: matches!(self.spread, Spread::Rss(_)),
                ..Offloads::default()
            },
            name: self.name.clone(),
        }
    }

    fn alloc_tx(&mut self, len: usize) -> Option<PoolBuf> {
        self.pool.alloc(len)
    }

    fn receive(&mut self, _now: Instant, batch: &mut Vec<PoolBuf>, max: usize) -> usize {
        // Only what is there is popped: a pop that finds the queue empty
        // pays a sequentially consistent fence, and an idle poll would pay
        // it every turn. This end is the queue's only consumer, so frames
        // counted here stay until popped.
        let ready = self.rx.len().min(max);
        let mut taken = 0;
        while taken < ready {
            let Some(buf) = self.rx.pop() else { break };
            self.stats.count_rx(buf.len());
            batch.push(buf);
            taken += 1;
        }
        taken
    }

    fn transmit(&mut self, _now: Instant, batch: &mut Vec<PoolBuf>) -> usize {
        let steering = match &self.spread {
            Spread::Fixed(k) => return self.push_leading(*k, batch),
            Spread::Rss(steering) => steering,
        };
        // Each frame to the queue its hash picks; take the leading frames
        // whose queue has room now, a burst at a time.
        let mut queues = [0usize; MAX_BURST];
        let mut taken = 0;
        while !batch.is_empty() {
            let n = batch.len().min(MAX_BURST);
            let mut fits = 0;
            for i in 0..n {
                let k = usize::from(steering.rss_queue(batch[i].data())) % self.tx.len();
                let queue = &self.tx[k];
                let ahead = queues[..i].iter().filter(|&&q| q == k).count();
                if queue.len() + ahead >= queue.capacity() {
                    break;
                }
                queues[i] = k;
                fits += 1;
            }
            for (buf, &k) in batch.drain(..fits).zip(&queues) {
                let len = buf.len();
                match self.tx[k].push(buf) {
                    Ok(()) => self.stats.count_tx(len),
                    // Another side's queue took the last slot first: a
                    // full NIC ring drops, counted.
                    Err(_) => self.stats.tx_dropped += 1,
                }
            }
            taken += fits;
            if fits < n {
                break;
            }
        }
        taken
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(dev: &mut PipeDevice, byte: u8) -> PoolBuf {
        let mut buf = dev.alloc_tx(60).unwrap();
        buf.data_mut().fill(byte);
        buf
    }

    #[test]
    fn frames_cross_in_order() {
        let pool = BufPool::with_defaults();
        let (mut a, mut b) = pipe_pair(&PipeConfig::default(), &pool);
        let mut out: Vec<_> = (0..5).map(|i| frame(&mut a, i)).collect();
        assert_eq!(a.transmit(Instant::ZERO, &mut out), 5);
        assert!(out.is_empty());
        let mut got = Vec::new();
        assert_eq!(b.receive(Instant::ZERO, &mut got, 3), 3);
        assert_eq!(b.receive(Instant::ZERO, &mut got, 32), 2);
        let firsts: Vec<u8> = got.iter().map(|f| f.data()[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4]);
        assert_eq!(a.stats().tx_packets, 5);
        assert_eq!(b.stats().rx_bytes, 300);
    }

    #[test]
    fn full_queue_leaves_frames_with_caller() {
        let pool = BufPool::with_defaults();
        let config = PipeConfig {
            queue_len: 2,
            ..PipeConfig::default()
        };
        let (mut a, mut b) = pipe_pair(&config, &pool);
        let mut out: Vec<_> = (0..3).map(|i| frame(&mut a, i)).collect();
        assert_eq!(a.transmit(Instant::ZERO, &mut out), 2);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data()[0], 2, "the unsent frame is the last one");
        let mut got = Vec::new();
        b.receive(Instant::ZERO, &mut got, 32);
        assert_eq!(a.transmit(Instant::ZERO, &mut out), 1);
    }
}
