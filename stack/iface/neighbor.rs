//! The IPv6 neighbour cache (RFC 4861 7.3): link-layer addresses of
//! on-link neighbours with the RFC's reachability states, bounded in size.
//!
//! States kept: INCOMPLETE (a solicitation is out), REACHABLE (confirmed
//! by a solicited advertisement within `reachable`), STALE (learnt from
//! an unsolicited message, or REACHABLE grown old). A STALE entry is used
//! as it stands; the DELAY/PROBE unicast probing of RFC 4861 7.3.3 is not
//! done, so a stale entry is refreshed only by the neighbour's own
//! solicitations and advertisements. Packets to an address being
//! resolved wait in a small bounded queue (RFC 4861 7.2.2) and are
//! dropped if it stays unresolved. Sans-IO: every call takes `now`.

use crate::hash::FastMap;
use crate::time::{Duration, Instant};
use crate::wire::MacAddr;
use std::collections::VecDeque;
use std::net::Ipv6Addr;

/// Bounds and timing of the neighbour cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborConfig {
    /// How long a confirmed entry stays REACHABLE (RFC 4861 10:
    /// REACHABLE_TIME, 30 s).
    pub reachable: Duration,
    /// Time between solicitations for an unresolved address
    /// (RETRANS_TIMER, 1 s).
    pub retransmit: Duration,
    /// Most entries; the least recently updated makes room.
    pub max_entries: usize,
    /// Packets held per address while it is resolved (RFC 4861 7.2.2:
    /// at least one); the oldest makes room.
    pub max_queued_per_address: usize,
    /// Most addresses with packets held.
    pub max_queued_addresses: usize,
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig {
            reachable: Duration::from_secs(30),
            retransmit: Duration::from_secs(1),
            max_entries: 1024,
            max_queued_per_address: 4,
            max_queued_addresses: 64,
        }
    }
}

/// An entry's reachability state (RFC 4861 7.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborState {
    /// Resolution in progress: no link-layer address yet.
    Incomplete,
    /// Confirmed reachable recently.
    Reachable,
    /// Not confirmed recently; still used.
    Stale,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: Option<MacAddr>,
    state: NeighborState,
    /// When the entry was last created, confirmed or solicited for.
    updated: Instant,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborLookup {
    /// The neighbour's link-layer address.
    Found(MacAddr),
    /// Unknown, or being resolved and due another solicitation: send one.
    Solicit,
    /// Being resolved, a solicitation went out recently: wait.
    Pending,
}

/// Packets waiting for one address to be resolved.
#[derive(Debug)]
struct Queued {
    /// When the first of them was queued.
    since: Instant,
    packets: VecDeque<Vec<u8>>,
}

/// The cache.
#[derive(Debug)]
pub struct NeighborCache {
    config: NeighborConfig,
    entries: FastMap<Ipv6Addr, Entry>,
    queued: FastMap<Ipv6Addr, Queued>,
    /// Entries evicted to make room, for the counters.
    pub evictions: u64,
}

impl NeighborCache {
    /// An empty cache.
    pub fn new(config: NeighborConfig) -> Self {
        NeighborCache {
            config,
            entries: FastMap::default(),
            queued: FastMap::default(),
            evictions: 0,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state of `addr`'s entry at `now`, if there is one.
    pub fn state(&self, now: Instant, addr: Ipv6Addr) -> Option<NeighborState> {
        self.entries.get(&addr).map(|e| self.aged(now, e))
    }

    fn aged(&self, now: Instant, entry: &Entry) -> NeighborState {
        match entry.state {
            NeighborState::Reachable
                if now.saturating_duration_since(entry.updated) >= self.config.reachable =>
            {
                NeighborState::Stale
            }
            state => state,
        }
    }

    /// Where to send to `addr`; records a solicitation as sent when the
    /// answer is [`NeighborLookup::Solicit`] (the caller sends it).
    pub fn lookup(&mut self, now: Instant, addr: Ipv6Addr) -> NeighborLookup {
        if let Some(entry) = self.entries.get_mut(&addr) {
            if let Some(mac) = entry.mac {
                return NeighborLookup::Found(mac);
            }
            if now.saturating_duration_since(entry.updated) < self.config.retransmit {
                return NeighborLookup::Pending;
            }
            entry.updated = now;
            return NeighborLookup::Solicit;
        }
        self.insert(
            addr,
            Entry {
                mac: None,
                state: NeighborState::Incomplete,
                updated: now,
            },
        );
        NeighborLookup::Solicit
    }

    /// A neighbour told us its link-layer address without confirming it
    /// can hear us (a solicitation's source link-layer option, RFC 4861
    /// 7.2.3): a new or changed entry becomes STALE, a same one is kept.
    pub fn learn_unconfirmed(&mut self, now: Instant, addr: Ipv6Addr, mac: MacAddr) {
        match self.entries.get_mut(&addr) {
            Some(entry) if entry.mac == Some(mac) => {}
            Some(entry) => {
                *entry = Entry {
                    mac: Some(mac),
                    state: NeighborState::Stale,
                    updated: now,
                };
            }
            None => self.insert(
                addr,
                Entry {
                    mac: Some(mac),
                    state: NeighborState::Stale,
                    updated: now,
                },
            ),
        }
    }

    /// An advertisement for `addr` arrived (RFC 4861 7.2.5): only an
    /// existing entry is updated. `solicited` confirms reachability;
    /// `override_flag` lets a different link-layer address replace a
    /// known one (without it, a REACHABLE entry only turns STALE).
    pub fn advertised(
        &mut self,
        now: Instant,
        addr: Ipv6Addr,
        mac: Option<MacAddr>,
        solicited: bool,
        override_flag: bool,
    ) {
        let Some(entry) = self.entries.get_mut(&addr) else {
            return;
        };
        let confirmed = if solicited {
            NeighborState::Reachable
        } else {
            NeighborState::Stale
        };
        match (entry.mac, mac) {
            // Still resolving, and the advertisement has no address: nothing to learn.
            (None, None) => {}
            (None, Some(new)) => {
                *entry = Entry {
                    mac: Some(new),
                    state: confirmed,
                    updated: now,
                };
            }
            (Some(old), new) => {
                let different = new.is_some_and(|n| n != old);
                if different && !override_flag {
                    // Not replaced, but no longer known to be right.
                    if entry.state == NeighborState::Reachable {
                        entry.state = NeighborState::Stale;
                    }
                    return;
                }
                if let Some(new) = new {
                    entry.mac = Some(new);
                }
                if solicited {
                    entry.state = NeighborState::Reachable;
                    entry.updated = now;
                } else if different {
                    entry.state = NeighborState::Stale;
                    entry.updated = now;
                }
            }
        }
    }

    /// Holds `packet` (a whole IPv6 packet) until `addr` is resolved;
    /// returns how many packets were dropped to bound the queues (0 or 1).
    pub fn queue(&mut self, now: Instant, addr: Ipv6Addr, packet: Vec<u8>) -> usize {
        let config = &self.config;
        if !self.queued.contains_key(&addr) && self.queued.len() >= config.max_queued_addresses {
            return 1;
        }
        let queued = self.queued.entry(addr).or_insert_with(|| Queued {
            since: now,
            packets: VecDeque::new(),
        });
        let mut dropped = 0;
        if queued.packets.len() >= config.max_queued_per_address.max(1) {
            queued.packets.pop_front();
            dropped = 1;
        }
        queued.packets.push_back(packet);
        dropped
    }

    /// The packets held for `addr` and its link-layer address, once it
    /// has one.
    pub fn take_queued(&mut self, addr: Ipv6Addr) -> Option<(MacAddr, VecDeque<Vec<u8>>)> {
        let mac = self.entries.get(&addr)?.mac?;
        let queued = self.queued.remove(&addr)?;
        Some((mac, queued.packets))
    }

    /// Drops packets held longer than three solicitation intervals
    /// (RFC 4861 7.2.2 gives up after MAX_MULTICAST_SOLICIT = 3); returns
    /// how many.
    pub fn expire_queued(&mut self, now: Instant) -> usize {
        if self.queued.is_empty() {
            return 0;
        }
        let limit = self.config.retransmit + self.config.retransmit + self.config.retransmit;
        let mut dropped = 0;
        self.queued.retain(|_, queued| {
            let keep = now.saturating_duration_since(queued.since) < limit;
            if !keep {
                dropped += queued.packets.len();
            }
            keep
        });
        dropped
    }

    fn insert(&mut self, addr: Ipv6Addr, entry: Entry) {
        if self.entries.len() >= self.config.max_entries.max(1) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.updated)
                .map(|(a, _)| *a);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
                self.evictions += 1;
            }
        }
        self.entries.insert(addr, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last)
    }

    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const OTHER: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    #[test]
    fn resolution_solicits_once_per_retransmit_interval() {
        let mut cache = NeighborCache::new(NeighborConfig::default());
        let t0 = Instant::ZERO + Duration::from_secs(1);
        assert_eq!(cache.lookup(t0, addr(1)), NeighborLookup::Solicit);
        assert_eq!(cache.state(t0, addr(1)), Some(NeighborState::Incomplete));
        let soon = t0 + Duration::from_millis(500);
        assert_eq!(cache.lookup(soon, addr(1)), NeighborLookup::Pending);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(cache.lookup(later, addr(1)), NeighborLookup::Solicit);
        cache.advertised(later, addr(1), Some(MAC), true, true);
        assert_eq!(cache.lookup(later, addr(1)), NeighborLookup::Found(MAC));
        assert_eq!(cache.state(later, addr(1)), Some(NeighborState::Reachable));
        let old = later + Duration::from_secs(30);
        assert_eq!(cache.state(old, addr(1)), Some(NeighborState::Stale));
        assert_eq!(cache.lookup(old, addr(1)), NeighborLookup::Found(MAC));
    }

    #[test]
    fn unsolicited_information_follows_rfc_4861() {
        let mut cache = NeighborCache::new(NeighborConfig::default());
        let now = Instant::ZERO;
        // An advertisement for an address without an entry is ignored.
        cache.advertised(now, addr(2), Some(MAC), false, true);
        assert_eq!(cache.state(now, addr(2)), None);
        // A solicitation's source address creates a STALE entry.
        cache.learn_unconfirmed(now, addr(2), MAC);
        assert_eq!(cache.state(now, addr(2)), Some(NeighborState::Stale));
        cache.advertised(now, addr(2), None, true, false);
        assert_eq!(cache.state(now, addr(2)), Some(NeighborState::Reachable));
        // A different address without the override flag does not replace it.
        cache.advertised(now, addr(2), Some(OTHER), false, false);
        assert_eq!(cache.lookup(now, addr(2)), NeighborLookup::Found(MAC));
        assert_eq!(cache.state(now, addr(2)), Some(NeighborState::Stale));
        // With it, it does.
        cache.advertised(now, addr(2), Some(OTHER), false, true);
        assert_eq!(cache.lookup(now, addr(2)), NeighborLookup::Found(OTHER));
    }

    #[test]
    fn packets_wait_for_resolution_within_bounds() {
        let mut cache = NeighborCache::new(NeighborConfig {
            max_queued_per_address: 2,
            max_queued_addresses: 1,
            ..NeighborConfig::default()
        });
        let t0 = Instant::ZERO;
        assert_eq!(cache.lookup(t0, addr(1)), NeighborLookup::Solicit);
        assert_eq!(cache.queue(t0, addr(1), vec![1]), 0);
        assert_eq!(cache.queue(t0, addr(1), vec![2]), 0);
        assert_eq!(cache.queue(t0, addr(1), vec![3]), 1, "the oldest made room");
        assert_eq!(cache.queue(t0, addr(2), vec![4]), 1, "one address at most");
        assert!(cache.take_queued(addr(1)).is_none(), "not resolved yet");
        cache.advertised(t0, addr(1), Some(MAC), true, true);
        let (mac, packets) = cache.take_queued(addr(1)).unwrap();
        assert_eq!((mac, Vec::from(packets)), (MAC, vec![vec![2], vec![3]]));
        // Never resolved: dropped after three solicitation intervals.
        assert_eq!(cache.queue(t0, addr(3), vec![5]), 0);
        assert_eq!(cache.expire_queued(t0 + Duration::from_secs(2)), 0);
        assert_eq!(cache.expire_queued(t0 + Duration::from_secs(3)), 1);
        assert!(cache.take_queued(addr(3)).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut cache = NeighborCache::new(NeighborConfig {
            max_entries: 4,
            ..NeighborConfig::default()
        });
        for i in 0..100u16 {
            let now = Instant::ZERO + Duration::from_millis(u64::from(i));
            cache.learn_unconfirmed(now, addr(i), MAC);
        }
        assert_eq!(cache.len(), 4);
        assert_eq!(cache.evictions, 96);
        let now = Instant::ZERO + Duration::from_secs(1);
        assert_eq!(cache.state(now, addr(99)), Some(NeighborState::Stale));
        assert_eq!(cache.state(now, addr(0)), None, "the oldest made room");
    }
}
