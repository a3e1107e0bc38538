//! The IPv6 neighbour cache (RFC 4861 7.3): link-layer addresses of
//! on-link neighbours with the RFC's reachability states, bounded in size.
//!
//! States kept: INCOMPLETE (a solicitation is out), REACHABLE (confirmed
//! by a solicited advertisement within `reachable`), STALE (learnt from
//! an unsolicited message, or REACHABLE grown old). A STALE entry is used
//! as it stands; the DELAY/PROBE unicast probing of RFC 4861 7.3.3 is not
//! done, so a stale entry is refreshed only by the neighbour's own
//! solicitations and advertisements. Sans-IO: every call takes `now`.

use crate::hash::FastMap;
use crate::time::{Duration, Instant};
use crate::wire::MacAddr;
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
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig {
            reachable: Duration::from_secs(30),
            retransmit: Duration::from_secs(1),
            max_entries: 1024,
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

/// The cache.
#[derive(Debug)]
pub struct NeighborCache {
    config: NeighborConfig,
    entries: FastMap<Ipv6Addr, Entry>,
    /// Entries evicted to make room, for the counters.
    pub evictions: u64,
}

impl NeighborCache {
    /// An empty cache.
    pub fn new(config: NeighborConfig) -> Self {
        NeighborCache {
            config,
            entries: FastMap::default(),
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
