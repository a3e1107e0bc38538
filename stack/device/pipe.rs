//! Two in-memory devices wired back to back, for tests and benchmarks.
//!
//! What one end transmits the other receives, through a bounded lock-free
//! queue per direction; the ends are `Send`, so the two stacks may run on one
//! thread or on two. A full queue refuses frames (they stay with the caller),
//! like a NIC's full transmit ring.

use super::{Capabilities, Device, Offloads};
use crate::buf::{BufPool, PacketBuf, PoolBuf};
use crate::stats::DeviceStats;
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

/// One end of an in-memory pipe.
pub struct PipeDevice {
    pool: BufPool,
    rx: Arc<ArrayQueue<PoolBuf>>,
    tx: Arc<ArrayQueue<PoolBuf>>,
    mac: MacAddr,
    mtu: usize,
    name: &'static str,
    stats: DeviceStats,
}

/// Two pipe ends wired together; both allocate from `pool`.
pub fn pipe_pair(config: &PipeConfig, pool: &BufPool) -> (PipeDevice, PipeDevice) {
    let queue_len = config.queue_len.max(1);
    let a_to_b = Arc::new(ArrayQueue::new(queue_len));
    let b_to_a = Arc::new(ArrayQueue::new(queue_len));
    let end = |rx, tx, mac, name| PipeDevice {
        pool: pool.clone(),
        rx,
        tx,
        mac,
        mtu: config.mtu,
        name,
        stats: DeviceStats::default(),
    };
    (
        end(
            Arc::clone(&b_to_a),
            Arc::clone(&a_to_b),
            config.macs[0],
            "pipe:a",
        ),
        end(a_to_b, b_to_a, config.macs[1], "pipe:b"),
    )
}

impl Device for PipeDevice {
    type Buf = PoolBuf;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            mac: self.mac,
            mtu: self.mtu,
            rx_queues: 1,
            tx_queues: 1,
            offloads: Offloads::default(),
            name: self.name.to_string(),
        }
    }

    fn alloc_tx(&mut self, len: usize) -> Option<PoolBuf> {
        self.pool.alloc(len)
    }

    fn receive(&mut self, _now: Instant, batch: &mut Vec<PoolBuf>, max: usize) -> usize {
        let mut taken = 0;
        while taken < max {
            let Some(buf) = self.rx.pop() else { break };
            self.stats.count_rx(buf.len());
            batch.push(buf);
            taken += 1;
        }
        taken
    }

    fn transmit(&mut self, _now: Instant, batch: &mut Vec<PoolBuf>) -> usize {
        // This end is the only producer on its queue, so room can only grow
        // between this check and the pushes below.
        let room = self.tx.capacity() - self.tx.len();
        let n = room.min(batch.len());
        for buf in batch.drain(..n) {
            let len = buf.len();
            match self.tx.push(buf) {
                Ok(()) => self.stats.count_tx(len),
                Err(_) => self.stats.tx_dropped += 1,
            }
        }
        n
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
