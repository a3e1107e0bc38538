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

/// The rings between every ordered pair of distinct cores: `from` pushes
/// into `ring(from, to)` and only `to` pops from it, so each ring has one
/// producer and one consumer, and a core touches no other core's counters.
pub struct HandoffRings<B> {
    cores: usize,
    /// `cores * (cores - 1)` rings, `from`'s towards each other core in order.
    rings: Box<[ArrayQueue<B>]>,
}

impl<B> HandoffRings<B> {
    /// The ring from core `from` to core `to` (`from != to`).
    fn ring(&self, from: usize, to: usize) -> &ArrayQueue<B> {
        let skip_self = usize::from(to > from);
        &self.rings[from * (self.cores - 1) + to - skip_self]
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
        rings: (0..cores * cores.saturating_sub(1))
            .map(|_| ArrayQueue::new(capacity.max(1)))
            .collect(),
    })
}

/// Wraps device `k` of `devices` (core `k`'s queue pair) in core `k`'s
/// steering stage, all joined by fresh rings of `ring_frames` frames each.
///
/// # Panics
/// If `steering` is not for `devices.len()` cores (a setup error).
pub fn steer_all<D: Device>(
    devices: Vec<D>,
    steering: &Steering,
    ring_frames: usize,
) -> Vec<SteeredDevice<D>>
where
    D::Buf: Send,
{
    let rings = handoff_rings(devices.len(), ring_frames);
    devices
        .into_iter()
        .enumerate()
        .map(|(core, device)| {
            SteeredDevice::new(device, core, steering.clone(), Arc::clone(&rings))
        })
        .collect()
}

/// One core's device: its own queue pair, plus the rings to and from the
/// other cores. Transmit goes straight to the queue; receive returns frames
/// handed in by other cores first, then this core's share of its queue.
pub struct SteeredDevice<D: Device> {
    /// Declared before `inner` so it is dropped first: the last device
    /// dropped frees the frames left in the rings while its queue (and so
    /// the port's buffer pool) still exists.
    rings: Arc<HandoffRings<D::Buf>>,
    inner: D,
    core: usize,
    steering: Steering,
    /// Frames read from the queue before they are sorted.
    scratch: Vec<D::Buf>,
    /// Frames the last `receive` took from the queue for other cores.
    passed_on: usize,
    /// Whether the last `receive` took handed frames before its queue's.
    rings_first: bool,
    stats: SteeringStats,
}

impl<D: Device> SteeredDevice<D>
where
    D::Buf: Send,
{
    /// Core `core`'s device over its queue pair `inner`.
    ///
    /// # Panics
    /// If `core` is not below the rings' core count, or the rings and
    /// `steering` are for different numbers of cores (a setup error, not
    /// something the network can cause).
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
            passed_on: 0,
            rings_first: false,
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

    /// Appends up to `max` frames the other cores handed this one.
    fn take_handed(&mut self, batch: &mut Vec<D::Buf>, max: usize) -> usize {
        let mut taken = 0;
        for from in (0..self.steering.cores()).filter(|&c| c != self.core) {
            while taken < max {
                let Some(frame) = self.rings.ring(from, self.core).pop() else {
                    break;
                };
                batch.push(frame);
                taken += 1;
            }
        }
        self.stats.handed_in += taken as u64;
        taken
    }

    /// Reads up to `max` frames from this core's queue, appends those that
    /// stay here and hands the others on; returns how many it appended.
    fn read_queue(&mut self, now: Instant, batch: &mut Vec<D::Buf>, max: usize) -> usize {
        if max == 0 {
            return 0;
        }
        let mut kept = 0;
        let mut scratch = std::mem::take(&mut self.scratch);
        self.inner.receive(now, &mut scratch, max);
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
            kept += 1;
        }
        self.scratch = scratch;
        kept
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

    fn alloc_tx_burst(&mut self, len: usize, count: usize, out: &mut Vec<D::Buf>) -> usize {
        self.inner.alloc_tx_burst(len, count, out)
    }

    fn release(&mut self, bufs: &mut Vec<D::Buf>) {
        self.inner.release(bufs);
    }

    fn receive(&mut self, now: Instant, batch: &mut Vec<D::Buf>, max: usize) -> usize {
        // Alternate which source goes first, so a core handed much still
        // reads its own queue every other turn, and the reverse.
        self.rings_first = !self.rings_first;
        let moved_before = self.stats.handed_out + self.stats.arp_copies;
        let taken = if self.rings_first {
            let handed = self.take_handed(batch, max);
            handed + self.read_queue(now, batch, max - handed)
        } else {
            let own = self.read_queue(now, batch, max);
            own + self.take_handed(batch, max - own)
        };
        self.passed_on = (self.stats.handed_out + self.stats.arp_copies - moved_before) as usize;
        taken
    }

    fn passed_on(&self) -> usize {
        self.passed_on
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
