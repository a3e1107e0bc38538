//! Fragment reassembly with bounded memory, count and time: IPv4's (RFC
//! 791, keyed by [`FragmentKey`]) and IPv6's (RFC 8200 4.5, keyed by
//! [`Fragment6Key`]), one reassembler each.
//!
//! Overlapping fragments drop the whole datagram, as RFC 5722 requires for
//! IPv6 and Linux does for IPv4; the key is remembered until its timeout so
//! late fragments of it are dropped too. Exact duplicates are ignored.

use crate::stats::{Ipv4Stats, Ipv6Stats};
use crate::time::{Duration, Instant};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Largest IPv4 payload: 65535 minus the smallest header.
pub const MAX_PAYLOAD: usize = 65_515;
/// Largest reassembled IPv6 payload: what the header's payload length holds.
pub const MAX_PAYLOAD_V6: usize = 65_535;

/// What happened to a fragment or a datagram in reassembly, for the
/// counters of the IP version concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentEvent {
    /// A fragment arrived.
    Received,
    /// A datagram was completed.
    Reassembled,
    /// An exact duplicate fragment was ignored.
    Duplicate,
    /// Overlapping fragments dropped their datagram.
    Overlap,
    /// A malformed fragment (misaligned, past the largest payload, an
    /// inconsistent end, too many fragments).
    Malformed,
    /// An incomplete datagram timed out.
    TimedOut,
    /// An incomplete datagram made room for others.
    Evicted,
}

/// Counters that take [`FragmentEvent`]s.
pub trait FragmentCounters {
    /// Counts `event`.
    fn count(&mut self, event: FragmentEvent);
}

macro_rules! fragment_counters {
    ($stats:ty) => {
        impl FragmentCounters for $stats {
            fn count(&mut self, event: FragmentEvent) {
                let counter = match event {
                    FragmentEvent::Received => &mut self.frag_received,
                    FragmentEvent::Reassembled => &mut self.frag_reassembled,
                    FragmentEvent::Duplicate => &mut self.frag_duplicates,
                    FragmentEvent::Overlap => &mut self.frag_overlaps,
                    FragmentEvent::Malformed => &mut self.frag_malformed,
                    FragmentEvent::TimedOut => &mut self.frag_timeouts,
                    FragmentEvent::Evicted => &mut self.frag_evicted,
                };
                *counter += 1;
            }
        }
    };
}

fragment_counters!(Ipv4Stats);
fragment_counters!(Ipv6Stats);
/// Bytes charged per fragment for its range record.
const RANGE_COST: usize = std::mem::size_of::<(usize, usize)>();

/// Reassembly bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Datagrams in reassembly at once; the oldest is evicted for a new one.
    pub max_datagrams: usize,
    /// Bytes held by all datagrams in reassembly; the oldest are evicted to fit.
    pub max_bytes: usize,
    /// Fragments per datagram; more drop the datagram.
    pub max_fragments: usize,
    /// How long an incomplete datagram is kept (Linux: 30 s).
    pub timeout: Duration,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_datagrams: 64,
            max_bytes: 4 << 20,
            max_fragments: 256,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Identifies the IPv6 packet a fragment belongs to (RFC 8200 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fragment6Key {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// The fragment header's identification.
    pub ident: u32,
}

/// Identifies the datagram a fragment belongs to (RFC 791).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol number.
    pub protocol: u8,
    /// Identification field.
    pub ident: u16,
}

struct Datagram {
    deadline: Instant,
    /// Payload bytes so far, indexed by fragment offset.
    data: Vec<u8>,
    /// Byte ranges received, one per fragment, sorted by start.
    ranges: Vec<(usize, usize)>,
    /// Payload length, known once the last fragment (MF clear) arrived.
    total: Option<usize>,
    /// Set after an overlap: everything for this key is dropped until the deadline.
    poisoned: bool,
    /// The tag the offset-0 fragment came with (IPv6: the header after
    /// the fragment header, which only that fragment's counts).
    first_tag: Option<u8>,
}

impl Datagram {
    fn memory(&self) -> usize {
        self.data.capacity() + self.ranges.capacity() * std::mem::size_of::<(usize, usize)>()
    }

    fn is_complete(&self) -> bool {
        let Some(total) = self.total else {
            return false;
        };
        let mut covered = 0;
        for &(start, end) in &self.ranges {
            if start > covered {
                return false;
            }
            covered = covered.max(end);
        }
        covered == total
    }
}

/// Datagrams in reassembly, keyed by `K`.
pub struct Reassembler<K = FragmentKey> {
    config: ReassemblyConfig,
    datagrams: HashMap<K, Datagram>,
    bytes: usize,
    max_payload: usize,
}

impl Reassembler<FragmentKey> {
    /// An empty IPv4 reassembler.
    pub fn new(config: ReassemblyConfig) -> Self {
        Self::with_max_payload(config, MAX_PAYLOAD)
    }
}

impl Reassembler<Fragment6Key> {
    /// An empty IPv6 reassembler.
    pub fn new_v6(config: ReassemblyConfig) -> Self {
        Self::with_max_payload(config, MAX_PAYLOAD_V6)
    }
}

impl<K: Copy + Eq + Hash> Reassembler<K> {
    fn with_max_payload(config: ReassemblyConfig, max_payload: usize) -> Self {
        Reassembler {
            config,
            datagrams: HashMap::new(),
            bytes: 0,
            max_payload,
        }
    }

    /// Adds a fragment whose payload starts at byte `offset` of the datagram
    /// (`more` is the MF flag). Returns the whole payload when this fragment
    /// completes the datagram. Every drop is counted in `stats`.
    pub fn add(
        &mut self,
        now: Instant,
        key: K,
        offset: usize,
        more: bool,
        payload: &[u8],
        stats: &mut impl FragmentCounters,
    ) -> Option<Vec<u8>> {
        self.add_tagged(now, key, offset, more, payload, 0, stats)
            .map(|(data, _)| data)
    }

    /// As [`add`](Self::add), with a `tag` per fragment: the completed
    /// payload comes with the tag of its offset-0 fragment.
    #[allow(clippy::too_many_arguments)]
    pub fn add_tagged(
        &mut self,
        now: Instant,
        key: K,
        offset: usize,
        more: bool,
        payload: &[u8],
        tag: u8,
        stats: &mut impl FragmentCounters,
    ) -> Option<(Vec<u8>, u8)> {
        stats.count(FragmentEvent::Received);
        let end = offset + payload.len();
        if end > self.max_payload
            || (more && payload.len() % 8 != 0)
            || (more && payload.is_empty())
        {
            stats.count(FragmentEvent::Malformed);
            return None;
        }
        if !self.datagrams.contains_key(&key) {
            self.make_room(0, None, stats);
            self.datagrams.insert(
                key,
                Datagram {
                    deadline: now + self.config.timeout,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    poisoned: false,
                    first_tag: None,
                },
            );
        }
        // Growing this datagram must fit the byte bound too: older datagrams
        // make room, and if that is not enough this one is dropped.
        let growth = self
            .datagrams
            .get(&key)
            .map_or(0, |d| end.saturating_sub(d.data.len()));
        self.make_room(growth + RANGE_COST, Some(key), stats);
        if self.bytes + growth + RANGE_COST > self.config.max_bytes {
            if let Some(gone) = self.datagrams.remove(&key) {
                self.bytes -= gone.memory();
            }
            stats.count(FragmentEvent::Evicted);
            return None;
        }
        let datagram = self.datagrams.get_mut(&key)?;
        if datagram.poisoned {
            return None;
        }
        let before = datagram.memory();
        let verdict = Self::insert(
            datagram,
            offset,
            end,
            more,
            payload,
            self.config.max_fragments,
        );
        let after = datagram.memory();
        self.bytes = self.bytes + after - before.min(after);
        match verdict {
            Insert::Duplicate => {
                stats.count(FragmentEvent::Duplicate);
                None
            }
            Insert::Drop(overlap) => {
                stats.count(if overlap {
                    FragmentEvent::Overlap
                } else {
                    FragmentEvent::Malformed
                });
                self.bytes -= datagram.memory();
                datagram.data = Vec::new();
                datagram.ranges = Vec::new();
                datagram.poisoned = true;
                None
            }
            Insert::Added => {
                if offset == 0 {
                    datagram.first_tag = Some(tag);
                }
                if !datagram.is_complete() {
                    return None;
                }
                let mut done = self.datagrams.remove(&key)?;
                self.bytes -= done.memory();
                done.data.truncate(done.total.unwrap_or(0));
                stats.count(FragmentEvent::Reassembled);
                Some((done.data, done.first_tag.unwrap_or(tag)))
            }
        }
    }

    fn insert(
        datagram: &mut Datagram,
        offset: usize,
        end: usize,
        more: bool,
        payload: &[u8],
        max_fragments: usize,
    ) -> Insert {
        if !more {
            if datagram.total.is_some_and(|t| t != end)
                || datagram.ranges.iter().any(|&(_, e)| e > end)
            {
                return Insert::Drop(false);
            }
            datagram.total = Some(end);
        } else if datagram.total.is_some_and(|t| end > t) {
            return Insert::Drop(false);
        }
        let position = datagram.ranges.partition_point(|&(s, _)| s < offset);
        if datagram.ranges.get(position) == Some(&(offset, end)) {
            return Insert::Duplicate;
        }
        let overlaps_previous = position > 0 && datagram.ranges[position - 1].1 > offset;
        let overlaps_next = datagram.ranges.get(position).is_some_and(|&(s, _)| s < end);
        if overlaps_previous || overlaps_next {
            return Insert::Drop(true);
        }
        if datagram.ranges.len() >= max_fragments {
            return Insert::Drop(false);
        }
        if datagram.data.len() < end {
            datagram.data.reserve_exact(end - datagram.data.len());
            datagram.data.resize(end, 0);
        }
        datagram.ranges.reserve_exact(1);
        datagram.data[offset..end].copy_from_slice(payload);
        datagram.ranges.insert(position, (offset, end));
        Insert::Added
    }

    /// Evicts the oldest datagrams (never `keep`) until there is room for
    /// one more datagram and for `need` more bytes.
    fn make_room(&mut self, need: usize, keep: Option<K>, stats: &mut impl FragmentCounters) {
        loop {
            let count_full = keep.is_none() && self.datagrams.len() >= self.config.max_datagrams;
            if !count_full && self.bytes + need <= self.config.max_bytes {
                return;
            }
            let oldest = self
                .datagrams
                .iter()
                .filter(|(k, _)| Some(**k) != keep)
                .min_by_key(|(_, d)| d.deadline)
                .map(|(k, _)| *k);
            let Some(oldest) = oldest else { return };
            if let Some(gone) = self.datagrams.remove(&oldest) {
                self.bytes -= gone.memory();
                if !gone.poisoned {
                    stats.count(FragmentEvent::Evicted);
                }
            }
        }
    }

    /// Drops datagrams whose time is up (counting incomplete ones as timeouts).
    pub fn expire(&mut self, now: Instant, stats: &mut impl FragmentCounters) {
        if self.datagrams.is_empty() {
            // The usual case, and a retain would still walk the buckets.
            return;
        }
        let bytes = &mut self.bytes;
        self.datagrams.retain(|_, d| {
            if d.deadline > now {
                return true;
            }
            *bytes -= d.memory();
            if !d.poisoned {
                stats.count(FragmentEvent::TimedOut);
            }
            false
        });
    }

    /// The next deadline, if any datagram is in reassembly.
    pub fn poll_at(&self) -> Option<Instant> {
        self.datagrams.values().map(|d| d.deadline).min()
    }

    /// Datagrams in reassembly (poisoned keys included).
    pub fn in_progress(&self) -> usize {
        self.datagrams.len()
    }

    /// Bytes held by datagrams in reassembly; never above `max_bytes`.
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }
}

enum Insert {
    Added,
    Duplicate,
    /// Drop the datagram; true if because of an overlap.
    Drop(bool),
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: FragmentKey = FragmentKey {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: 17,
        ident: 7,
    };

    fn payload() -> Vec<u8> {
        (0..100u8).collect()
    }

    /// Fragments of `payload()`: (offset, more, bytes), 24 bytes each.
    fn fragments() -> Vec<(usize, bool, Vec<u8>)> {
        let data = payload();
        data.chunks(24)
            .enumerate()
            .map(|(i, c)| (i * 24, i * 24 + c.len() < data.len(), c.to_vec()))
            .collect()
    }

    fn feed(
        r: &mut Reassembler,
        frags: &[(usize, bool, Vec<u8>)],
        stats: &mut Ipv4Stats,
    ) -> Option<Vec<u8>> {
        let mut done = None;
        for (offset, more, bytes) in frags {
            if let Some(d) = r.add(Instant::ZERO, KEY, *offset, *more, bytes, stats) {
                done = Some(d);
            }
        }
        done
    }

    #[test]
    fn in_order_and_reversed() {
        for reverse in [false, true] {
            let mut r = Reassembler::new(ReassemblyConfig::default());
            let mut stats = Ipv4Stats::default();
            let mut frags = fragments();
            if reverse {
                frags.reverse();
            }
            assert_eq!(feed(&mut r, &frags, &mut stats), Some(payload()));
            assert_eq!(stats.frag_reassembled, 1);
            assert_eq!((r.in_progress(), r.bytes_held()), (0, 0));
        }
    }

    #[test]
    fn duplicates_are_ignored() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut stats = Ipv4Stats::default();
        let mut frags = fragments();
        frags.insert(1, frags[0].clone());
        frags.insert(3, frags[2].clone());
        assert_eq!(feed(&mut r, &frags, &mut stats), Some(payload()));
        assert_eq!(stats.frag_duplicates, 2);
    }

    #[test]
    fn overlap_drops_the_datagram_and_later_fragments() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut stats = Ipv4Stats::default();
        let frags = fragments();
        feed(&mut r, &frags[..1], &mut stats);
        assert!(r
            .add(Instant::ZERO, KEY, 16, true, &[0; 16], &mut stats)
            .is_none());
        assert_eq!(stats.frag_overlaps, 1);
        assert_eq!(
            feed(&mut r, &frags[1..], &mut stats),
            None,
            "the rest cannot complete it"
        );
        assert_eq!(r.bytes_held(), 0);
        r.expire(Instant::ZERO + Duration::from_secs(30), &mut stats);
        assert_eq!(r.in_progress(), 0);
        assert_eq!(
            stats.frag_timeouts, 0,
            "a poisoned datagram is not a timeout"
        );
    }

    #[test]
    fn missing_fragment_times_out_and_frees_memory() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut stats = Ipv4Stats::default();
        let frags = fragments();
        feed(
            &mut r,
            &[frags[0].clone(), frags[2].clone(), frags[4].clone()],
            &mut stats,
        );
        assert!(r.bytes_held() > 0);
        assert_eq!(r.poll_at(), Some(Instant::ZERO + Duration::from_secs(30)));
        r.expire(Instant::from_millis(29_999), &mut stats);
        assert_eq!(r.in_progress(), 1);
        r.expire(Instant::from_millis(30_000), &mut stats);
        assert_eq!(
            (r.in_progress(), r.bytes_held(), stats.frag_timeouts),
            (0, 0, 1)
        );
    }

    #[test]
    fn malformed_fragments_are_counted() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut stats = Ipv4Stats::default();
        assert!(
            r.add(Instant::ZERO, KEY, 0, true, &[0; 7], &mut stats)
                .is_none(),
            "not a multiple of 8"
        );
        assert!(
            r.add(Instant::ZERO, KEY, 65_512, false, &[0; 8], &mut stats)
                .is_none(),
            "beyond 64 KiB"
        );
        assert_eq!(stats.frag_malformed, 2);
        // A last fragment ending before data already received is inconsistent.
        r.add(Instant::ZERO, KEY, 40, true, &[0; 8], &mut stats);
        r.add(Instant::ZERO, KEY, 0, false, &[0; 8], &mut stats);
        assert_eq!(stats.frag_malformed, 3);
    }

    #[test]
    fn count_and_memory_bounds_evict_the_oldest() {
        let config = ReassemblyConfig {
            max_datagrams: 2,
            max_bytes: 1 << 20,
            ..ReassemblyConfig::default()
        };
        let mut r = Reassembler::new(config);
        let mut stats = Ipv4Stats::default();
        for ident in 0..5 {
            let key = FragmentKey { ident, ..KEY };
            r.add(
                Instant::from_millis(u64::from(ident)),
                key,
                0,
                true,
                &[1; 8],
                &mut stats,
            );
        }
        assert_eq!(r.in_progress(), 2);
        assert_eq!(stats.frag_evicted, 3);

        let tight = ReassemblyConfig {
            max_bytes: 70_000,
            ..ReassemblyConfig::default()
        };
        let mut r = Reassembler::new(tight);
        for ident in 0..4 {
            let key = FragmentKey { ident, ..KEY };
            r.add(Instant::ZERO, key, 60_000, true, &[1; 8], &mut stats);
            assert!(r.bytes_held() <= 70_000, "{}", r.bytes_held());
            // Growing the newest datagram cannot pass the bound either.
            r.add(Instant::ZERO, key, 0, true, &[1; 8], &mut stats);
            assert!(r.bytes_held() <= 70_000, "{}", r.bytes_held());
        }
    }
}
