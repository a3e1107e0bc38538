//! A [`Device`] over one queue pair of a DPDK port: any PMD, a real NIC or a
//! vdev (`net_tap`, `net_ring`, `net_memif`, `net_af_packet`, `net_null`, ...).

use super::{Capabilities, Device};
use crate::buf::PacketBuf;
use crate::dpdk::{DpdkError, Mbuf, Port, QueueClaim};
use crate::stats::DeviceStats;
use crate::time::Instant;
use crate::wire::MacAddr;
use std::sync::Arc;

/// One queue pair of a started DPDK port.
pub struct DpdkDevice {
    claim: QueueClaim,
    mac: MacAddr,
    stats: DeviceStats,
    /// Mbufs taken from the pool in bulk, handed out by `alloc_tx`.
    spare: Vec<Mbuf>,
}

/// Mbufs `alloc_tx` takes from the pool at a time.
const ALLOC_BULK: usize = 32;
/// Most mbufs one bulk allocation takes (the pool wrapper's limit).
const ALLOC_BULK_MAX: usize = 64;

impl DpdkDevice {
    /// Claims queue pair `queue` of `port` for this device.
    pub fn new(port: &Arc<Port>, queue: u16) -> Result<Self, DpdkError> {
        let claim = port.claim_queue(queue)?;
        let mac = port.mac()?;
        Ok(DpdkDevice {
            claim,
            mac,
            stats: DeviceStats::default(),
            spare: Vec::with_capacity(ALLOC_BULK),
        })
    }

    /// The port this device's queues belong to.
    pub fn port(&self) -> &Arc<Port> {
        self.claim.port()
    }
}

impl Device for DpdkDevice {
    type Buf = Mbuf;

    fn capabilities(&self) -> Capabilities {
        let port = self.claim.port();
        Capabilities {
            mac: self.mac,
            mtu: port.mtu().map_or(1500, usize::from),
            rx_queues: port.rx_queues(),
            tx_queues: port.tx_queues(),
            offloads: port.offloads(),
            name: format!("dpdk:{}({})", port.id(), port.port_info().name),
        }
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Mbuf> {
        if self.spare.is_empty() {
            let pool = self.claim.port().mempool();
            if !pool.alloc_bulk(&mut self.spare, ALLOC_BULK) {
                // Nearly empty: what is left may still come one at a time.
                self.spare.push(pool.alloc()?);
            }
        }
        let mut mbuf = self.spare.pop()?;
        if mbuf.append(len).is_none() {
            // Too long for one mbuf: keep the buffer for the next request.
            self.spare.push(mbuf);
            return None;
        }
        Some(mbuf)
    }

    fn alloc_tx_burst(&mut self, len: usize, count: usize, out: &mut Vec<Mbuf>) -> usize {
        let before = out.len();
        let pool = self.claim.port().mempool();
        let mut left = count;
        while left > 0 {
            let chunk = left.min(ALLOC_BULK_MAX);
            if !pool.alloc_bulk_len(out, chunk, len) {
                break;
            }
            left -= chunk;
        }
        // Nearly empty (or too long): what is left may still come one at a time.
        while out.len() - before < count {
            match self.alloc_tx(len) {
                Some(mbuf) => out.push(mbuf),
                None => break,
            }
        }
        out.len() - before
    }

    fn receive(&mut self, _now: Instant, batch: &mut Vec<Mbuf>, max: usize) -> usize {
        let before = batch.len();
        let got = self.claim.rx_burst(batch, max);
        let mut bytes = 0u64;
        let mut chained = false;
        for mbuf in &batch[before..] {
            bytes += u64::from(mbuf.pkt_len());
            chained |= mbuf.segments() != 1;
        }
        let mut kept = got;
        if chained {
            // Chained mbufs are not exposed as one slice; scatter is not
            // enabled, so only a misbehaving PMD sends them: dropped and counted.
            for mbuf in batch.split_off(before) {
                if mbuf.segments() == 1 {
                    batch.push(mbuf);
                } else {
                    bytes -= u64::from(mbuf.pkt_len());
                    kept -= 1;
                    self.stats.rx_dropped += 1;
                }
            }
        }
        self.stats.rx_packets += kept as u64;
        self.stats.rx_bytes += bytes;
        kept
    }

    fn release(&mut self, bufs: &mut Vec<Mbuf>) {
        Mbuf::free_all(bufs);
    }

    fn transmit(&mut self, _now: Instant, batch: &mut Vec<Mbuf>) -> usize {
        let (sent, bytes) = self.claim.tx_burst(batch);
        self.stats.tx_packets += sent as u64;
        self.stats.tx_bytes += bytes;
        sent
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }

    /// The whole port's `rte_eth_stats` (all queues), prefixed `port_`.
    fn extended_stats(&self) -> Vec<(String, u64)> {
        let Ok(stats) = self.claim.port().stats() else {
            return Vec::new();
        };
        stats
            .fields()
            .iter()
            .map(|(name, value)| (format!("port_{name}"), *value))
            .collect()
    }
}
