//! One hashed hierarchical timing wheel per stack (Varghese & Lauck): O(1)
//! schedule and cancel, 1 ms ticks, three levels of 256 slots (256 ms,
//! 65.5 s and 4.66 h spans); later deadlines wait in the top level's
//! furthest slot and are re-filed when it comes round.
//!
//! The wheel only orders owners (connections); each owner keeps its own
//! small table of deadlines and re-schedules its earliest one. Entries live
//! in a slab and are linked into their slot by index, so cancelling unlinks
//! in O(1); per-level occupancy bitmaps let `advance` jump over empty slots
//! instead of visiting every tick, so a long idle gap costs little.

use crate::time::{Duration, Instant};

pub mod idle;
pub use idle::IdleTimeouts;

/// Length of one tick.
pub const TICK: Duration = Duration::from_millis(1);
const SLOT_BITS: u32 = 8;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 3;
const NONE: u32 = u32::MAX;

/// Names a scheduled timer, for cancelling it; stale handles are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerHandle {
    index: u32,
    generation: u32,
}

struct Entry<K> {
    key: Option<K>,
    /// Deadline in ticks (rounded up, so a timer never fires early).
    tick: u64,
    generation: u32,
    /// Where the entry is linked: (level, slot), or none when free.
    place: Option<(u8, u8)>,
    prev: u32,
    next: u32,
}

/// A hierarchical timing wheel whose timers carry keys of type `K`.
pub struct TimerWheel<K> {
    entries: Vec<Entry<K>>,
    free: Vec<u32>,
    /// Head entry index of each slot's list.
    heads: [[u32; SLOTS]; LEVELS],
    /// Bit `s` of word `s / 64` set when slot `s` of the level is non-empty.
    occupied: [[u64; SLOTS / 64]; LEVELS],
    /// Ticks processed so far: every timer due at or before it has fired.
    current: u64,
    len: usize,
    /// Reused list of entries moved by one step of `advance`.
    scratch: Vec<u32>,
}

impl<K: Copy> Default for TimerWheel<K> {
    fn default() -> Self {
        Self::new()
    }
}

fn ticks_of(instant: Instant) -> u64 {
    instant.as_nanos().div_ceil(TICK.as_nanos())
}

impl<K: Copy> TimerWheel<K> {
    /// An empty wheel at time zero.
    pub fn new() -> Self {
        TimerWheel {
            entries: Vec::new(),
            free: Vec::new(),
            heads: [[NONE; SLOTS]; LEVELS],
            occupied: [[0; SLOTS / 64]; LEVELS],
            current: 0,
            len: 0,
            scratch: Vec::new(),
        }
    }

    /// Timers scheduled and not yet fired or cancelled.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no timer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `key` to fire at `deadline` (or at the next advance, if
    /// that is already past).
    pub fn schedule(&mut self, key: K, deadline: Instant) -> TimerHandle {
        let tick = ticks_of(deadline).max(self.current + 1);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.entries.push(Entry {
                    key: None,
                    tick: 0,
                    generation: 0,
                    place: None,
                    prev: NONE,
                    next: NONE,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let entry = &mut self.entries[index as usize];
        entry.key = Some(key);
        entry.tick = tick;
        entry.generation = entry.generation.wrapping_add(1);
        let handle = TimerHandle {
            index,
            generation: entry.generation,
        };
        self.file(index);
        self.len += 1;
        handle
    }

    /// Cancels a timer; false if it already fired or was cancelled.
    pub fn cancel(&mut self, handle: TimerHandle) -> bool {
        let Some(entry) = self.entries.get(handle.index as usize) else {
            return false;
        };
        if entry.generation != handle.generation || entry.place.is_none() {
            return false;
        }
        self.unlink(handle.index);
        self.release(handle.index);
        true
    }

    /// Level and slot for an entry due at `tick`, seen from `self.current`.
    fn place_for(&self, tick: u64) -> (usize, usize) {
        let delta = tick - self.current;
        for level in 0..LEVELS {
            let span = 1u64 << (SLOT_BITS * (level as u32 + 1));
            if delta < span || level == LEVELS - 1 {
                let shift = SLOT_BITS * level as u32;
                // Beyond the top level's span: park in its furthest slot.
                let tick = if delta < span {
                    tick
                } else {
                    self.current + span - (1 << shift)
                };
                return (level, ((tick >> shift) as usize) & (SLOTS - 1));
            }
        }
        unreachable!("the top level takes every delta")
    }

    fn file(&mut self, index: u32) {
        let (level, slot) = self.place_for(self.entries[index as usize].tick);
        let head = self.heads[level][slot];
        {
            let entry = &mut self.entries[index as usize];
            entry.place = Some((level as u8, slot as u8));
            entry.prev = NONE;
            entry.next = head;
        }
        if head != NONE {
            self.entries[head as usize].prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level][slot / 64] |= 1 << (slot % 64);
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, place) = {
            let entry = &self.entries[index as usize];
            (entry.prev, entry.next, entry.place)
        };
        let Some((level, slot)) = place else { return };
        let (level, slot) = (usize::from(level), usize::from(slot));
        if prev == NONE {
            self.heads[level][slot] = next;
            if next == NONE {
                self.occupied[level][slot / 64] &= !(1 << (slot % 64));
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NONE {
            self.entries[next as usize].prev = prev;
        }
        let entry = &mut self.entries[index as usize];
        entry.place = None;
        entry.prev = NONE;
        entry.next = NONE;
    }

    fn release(&mut self, index: u32) -> Option<K> {
        let key = self.entries[index as usize].key.take();
        self.free.push(index);
        self.len -= 1;
        key
    }

    /// Takes every entry out of a slot's list.
    fn drain_slot(&mut self, level: usize, slot: usize, out: &mut Vec<u32>) {
        let mut index = self.heads[level][slot];
        while index != NONE {
            let next = self.entries[index as usize].next;
            self.unlink(index);
            out.push(index);
            index = next;
        }
    }

    /// First occupied slot of `level` at or after `from`, without wrapping.
    fn next_occupied(&self, level: usize, from: usize) -> Option<usize> {
        let bits = &self.occupied[level];
        let mut word = from / 64;
        let mut mask = !0u64 << (from % 64);
        while word < bits.len() {
            let hits = bits[word] & mask;
            if hits != 0 {
                return Some(word * 64 + hits.trailing_zeros() as usize);
            }
            word += 1;
            mask = !0;
        }
        None
    }

    /// Fires every timer due at or before `now`, appending their keys to
    /// `expired` in deadline order (ties in no particular order). Jumps from
    /// event to event (an occupied slot to expire or cascade), so a long gap
    /// costs only the events inside it.
    pub fn advance(&mut self, now: Instant, expired: &mut Vec<K>) {
        let target = now.as_nanos() / TICK.as_nanos();
        if target <= self.current {
            // Still within the current tick: nothing can be due.
            return;
        }
        let mut batch = std::mem::take(&mut self.scratch);
        while self.current < target {
            let Some(event) = self.next_event_tick().filter(|tick| *tick <= target) else {
                self.current = target;
                break;
            };
            self.current = event;
            if event & (SLOTS as u64 - 1) == 0 {
                self.cascade(event, &mut batch);
            }
            self.expire_slot((event & (SLOTS as u64 - 1)) as usize, expired, &mut batch);
        }
        self.scratch = batch;
    }

    fn expire_slot(&mut self, slot: usize, expired: &mut Vec<K>, batch: &mut Vec<u32>) {
        batch.clear();
        self.drain_slot(0, slot, batch);
        for &index in batch.iter() {
            if let Some(key) = self.release(index) {
                expired.push(key);
            }
        }
    }

    /// At tick `at` (a multiple of 256), re-files the entries of the level-1
    /// slot now due (and of level 2 at multiples of 65,536) by their
    /// remaining time.
    fn cascade(&mut self, at: u64, batch: &mut Vec<u32>) {
        for level in (1..LEVELS).rev() {
            let shift = SLOT_BITS * level as u32;
            if at & ((1 << shift) - 1) != 0 {
                continue;
            }
            let slot = ((at >> shift) as usize) & (SLOTS - 1);
            batch.clear();
            self.drain_slot(level, slot, batch);
            for &index in batch.iter() {
                self.file(index);
            }
        }
    }

    /// The first tick after `current` at which something happens: a
    /// level-0 slot to expire, or the start of a higher slot to cascade.
    /// Every level is consulted: a timer filed high long ago may now be due
    /// before one filed lower more recently.
    fn next_event_tick(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        (0..LEVELS)
            .filter_map(|level| {
                let shift = SLOT_BITS * level as u32;
                let cursor = ((self.current >> shift) as usize + 1) & (SLOTS - 1);
                let offset = self
                    .next_occupied(level, cursor)
                    .map(|slot| slot - cursor)
                    .or_else(|| {
                        self.next_occupied(level, 0)
                            .map(|slot| slot + SLOTS - cursor)
                    })?;
                Some(((self.current >> shift) + 1 + offset as u64) << shift)
            })
            .min()
    }

    /// True if `now` is past the tick the wheel last advanced to, so
    /// [`advance`](Self::advance) has something to do (expire or move on).
    pub fn ticks_behind(&self, now: Instant) -> bool {
        now.as_nanos() / TICK.as_nanos() > self.current
    }

    /// A time no later than the earliest scheduled deadline (exact to the
    /// tick for timers within 256 ms, the start of their slot beyond).
    pub fn poll_at(&self) -> Option<Instant> {
        self.next_event_tick()
            .map(|tick| Instant::from_nanos(tick.saturating_mul(TICK.as_nanos())))
    }
}

#[cfg(test)]
mod tests;
