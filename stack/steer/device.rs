//! The software steering stage: a [`Device`] wrapper around one core's
//! queue pair that keeps the frames of this core's flows, hands the others
//! to their cores over bounded lock-free rings, and copies ARP to every core.

use super::{Destination, Steering};
use crate::buf::PacketBuf;
use crate::device::{Capabilities, Device};
use crate::stats::{DeviceStats, SteeringStats};
use crate::time::Instant;
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// Byte offset of the ARP operation field in an Ethernet frame (14 + 6).
const ARP_OPERATION: usize = 20;
/// ARP operation codes (RFC 826).
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

/// The rings between every ordered pair of cores: `from` pushes into
/// `ring(from, to)` and only `to` pops from it, so each ring has one
/// producer and one consumer, and a core touches no other core's counters.
pub struct HandoffRings<B> {
    cores: usize,
    rings: Box<[ArrayQueue<B>]>,
}

impl<B> HandoffRings<B> {
    fn ring(&self, from: usize, to: usize) -> &ArrayQueue<B> {
        &self.rings[from * self.cores + to]
    }

    /// Number of cores the rings connect.
    pub fn cores(&self) -> usize {
        self.cores
    }
}

/// Rings for `cores` cores, each holding up to `capacity` frames.
pub fn handoff_rings<B>(cores: usize, capacity: usize) -> Arc<HandoffRings<B>> {
    Arc::new(HandoffRings {
        cores,
        rings: (0..cores * cores)
            .map(|_| ArrayQueue::new(capacity.max(1)))
            .collect(),
    })
}

/// One core's device: its own queue pair, plus the rings to and from the
/// other cores. Transmit goes straight to the queue; receive returns frames
/// handed in by other cores first, then this core's share of its queue.
pub struct SteeredDevice<D: Device> {
    inner: D,
    core: usize,
    steering: Steering,
    rings: Arc<HandoffRings<D::Buf>>,
    /// Frames read from the queue before they are sorted.
    scratch: Vec<D::Buf>,
    stats: SteeringStats,
}

impl<D: Device> SteeredDevice<D>
where
    D::Buf: Send,
{
    /// Core `core`'s device over its queue pair `inner`.
    ///
    /// # Panics
    /// If `core` is not below the rings' core count or `steering`'s.
    pub fn new(
        inner: D,
        core: usize,
        steering: Steering,
        rings: Arc<HandoffRings<D::Buf>>,
    ) -> Self {
        assert!(core < rings.cores() && rings.cores() == steering.cores());
        SteeredDevice {
            inner,
            core,
            steering,
            rings,
            scratch: Vec::with_capacity(crate::device::MAX_BURST),
            stats: SteeringStats::default(),
        }
    }

    /// The wrapped queue pair.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn hand_to(&mut self, core: usize, frame: D::Buf) {
        match self.rings.ring(self.core, core).push(frame) {
            Ok(()) => self.stats.handed_out += 1,
            // The owner is behind: drop as a full NIC ring would, counted.
            Err(_) => self.stats.handoff_drops += 1,
        }
    }

    /// Copies an ARP frame to every other core, as a reply so that a copy
    /// of a request for our address teaches the sender without being
    /// answered once per core.
    fn copy_to_others(&mut self, frame: &D::Buf) {
        for core in (0..self.steering.cores()).filter(|&c| c != self.core) {
            let data = frame.data();
            let Some(mut copy) = self.inner.alloc_tx(data.len()) else {
                self.stats.handoff_drops += 1;
                continue;
            };
            copy.data_mut().copy_from_slice(data);
            if let Some(op) = copy.data_mut().get_mut(ARP_OPERATION..ARP_OPERATION + 2) {
                if u16::from_be_bytes([op[0], op[1]]) == ARP_REQUEST {
                    op.copy_from_slice(&ARP_REPLY.to_be_bytes());
                }
            }
            match self.rings.ring(self.core, core).push(copy) {
                Ok(()) => self.stats.arp_copies += 1,
                Err(_) => self.stats.handoff_drops += 1,
            }
        }
    }
}

impl<D: Device> Device for SteeredDevice<D>
where
    D::Buf: Send,
{
    type Buf = D::Buf;

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn alloc_tx(&mut self, len: usize) -> Option<D::Buf> {
        self.inner.alloc_tx(len)
    }

    fn receive(&mut self, now: Instant, batch: &mut Vec<D::Buf>, max: usize) -> usize {
        let mut taken = 0;
        for from in (0..self.steering.cores()).filter(|&c| c != self.core) {
            while taken < max {
                let Some(frame) = self.rings.ring(from, self.core).pop() else {
                    break;
                };
                batch.push(frame);
                self.stats.handed_in += 1;
                taken += 1;
            }
        }
        if taken >= max {
            return taken;
        }
        self.scratch.clear();
        self.inner.receive(now, &mut self.scratch, max - taken);
        let mut scratch = std::mem::take(&mut self.scratch);
        for frame in scratch.drain(..) {
            match self.steering.destination(frame.data()) {
                Destination::Core(core) if usize::from(core) != self.core => {
                    self.hand_to(usize::from(core), frame);
                    continue;
                }
                Destination::Everyone => self.copy_to_others(&frame),
                Destination::Here | Destination::Core(_) => {}
            }
            batch.push(frame);
            taken += 1;
        }
        self.scratch = scratch;
        taken
    }

    fn transmit(&mut self, now: Instant, batch: &mut Vec<D::Buf>) -> usize {
        self.inner.transmit(now, batch)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }

    fn stats(&self) -> DeviceStats {
        self.inner.stats()
    }

    fn steering_stats(&self) -> SteeringStats {
        self.stats
    }

    fn extended_stats(&self) -> Vec<(String, u64)> {
        self.inner.extended_stats()
    }
}
