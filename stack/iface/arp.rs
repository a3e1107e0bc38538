//! The ARP cache (RFC 826): learnt and static entries with reachable/stale
//! lifetimes and a size bound, and the queue of packets waiting for a next
//! hop to resolve, bounded per address and in addresses, with retries.
//!
//! Sans-IO: methods take `now` and return what to send; the interface emits.

use crate::hash::FastMap;
use crate::stats::ArpStats;
use crate::time::{Duration, Instant};
use crate::wire::MacAddr;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// ARP timing and bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpConfig {
    /// How long a learnt entry is trusted without being refreshed (Linux: about 30 s).
    pub reachable: Duration,
    /// How long a stale entry is still used (while a refresh is tried) before removal.
    pub stale: Duration,
    /// Most entries in the cache; the oldest learnt entry makes room.
    pub max_entries: usize,
    /// Packets held per unresolved address; the oldest is dropped on overflow.
    /// The default, 128, is about what Linux holds (`unres_qlen_bytes`,
    /// 212,992 bytes of small packets): a burst of connections opened
    /// before the first ARP reply keeps every SYN instead of waiting a
    /// retransmission timeout for most of them.
    pub max_queued_per_address: usize,
    /// Unresolved addresses held at once; packets to another one are dropped.
    pub max_pending_addresses: usize,
    /// Time between requests for one address.
    pub retry_interval: Duration,
    /// Requests sent before giving up and dropping its queue.
    pub max_requests: u32,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            reachable: Duration::from_secs(30),
            stale: Duration::from_secs(60),
            max_entries: 1024,
            max_queued_per_address: 128,
            max_pending_addresses: 64,
            retry_interval: Duration::from_secs(1),
            max_requests: 3,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: MacAddr,
    /// Time the entry was learnt or last confirmed.
    updated: Instant,
    is_static: bool,
    /// Last refresh request sent for this (stale) entry.
    refreshed_at: Option<Instant>,
}

struct Pending {
    /// Complete IPv4 datagrams waiting for the MAC of the next hop.
    packets: VecDeque<Vec<u8>>,
    last_request: Instant,
    requests: u32,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Send to this MAC.
    Found(MacAddr),
    /// Send to this MAC, and also send a unicast refresh request to it.
    FoundStale(MacAddr),
    /// Unknown: queue the packet and resolve.
    Missing,
}

/// A neighbour's state, as `ip neigh` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighbourState {
    /// Configured, never expires.
    Permanent,
    /// Confirmed within the reachable time.
    Reachable,
    /// Older: still used, refreshed with a unicast request.
    Stale,
    /// Being resolved: requests out, packets waiting.
    Incomplete,
}

impl NeighbourState {
    /// The name `ip neigh` prints.
    pub fn name(self) -> &'static str {
        match self {
            NeighbourState::Permanent => "PERMANENT",
            NeighbourState::Reachable => "REACHABLE",
            NeighbourState::Stale => "STALE",
            NeighbourState::Incomplete => "INCOMPLETE",
        }
    }
}

/// One line of the neighbour listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    /// The neighbour's address.
    pub ip: Ipv4Addr,
    /// Its MAC, once known.
    pub mac: Option<MacAddr>,
    /// Where it stands.
    pub state: NeighbourState,
}

/// The ARP cache and the resolution queue.
pub struct ArpCache {
    config: ArpConfig,
    entries: FastMap<Ipv4Addr, Entry>,
    pending: FastMap<Ipv4Addr, Pending>,
    /// Counters, updated by the cache and by the interface's ARP input.
    pub stats: ArpStats,
}

impl ArpCache {
    /// An empty cache.
    pub fn new(config: ArpConfig) -> Self {
        ArpCache {
            config,
            entries: FastMap::default(),
            pending: FastMap::default(),
            stats: ArpStats::default(),
        }
    }

    /// Every entry and unresolved address at `now`, as `ip neigh` lists
    /// them (expired entries not yet dropped are left out).
    pub fn neighbours(&self, now: Instant) -> Vec<Neighbour> {
        let config = &self.config;
        let mut out: Vec<Neighbour> = self
            .entries
            .iter()
            .filter_map(|(&ip, entry)| {
                let age = now - entry.updated;
                let state = if entry.is_static {
                    NeighbourState::Permanent
                } else if age < config.reachable {
                    NeighbourState::Reachable
                } else if age < config.reachable + config.stale {
                    NeighbourState::Stale
                } else {
                    return None;
                };
                Some(Neighbour {
                    ip,
                    mac: Some(entry.mac),
                    state,
                })
            })
            .collect();
        out.extend(self.pending.keys().map(|&ip| Neighbour {
            ip,
            mac: None,
            state: NeighbourState::Incomplete,
        }));
        out.sort_by_key(|n| n.ip);
        out
    }

    /// Looks `ip` up at `now`; a stale entry is still returned, flagged for refresh.
    pub fn lookup(&mut self, now: Instant, ip: Ipv4Addr) -> Lookup {
        let config = &self.config;
        let Some(entry) = self.entries.get_mut(&ip) else {
            return Lookup::Missing;
        };
        if entry.is_static {
            return Lookup::Found(entry.mac);
        }
        let age = now - entry.updated;
        if age < config.reachable {
            Lookup::Found(entry.mac)
        } else if age < config.reachable + config.stale {
            let due = entry
                .refreshed_at
                .is_none_or(|at| now - at >= config.retry_interval);
            if due {
                entry.refreshed_at = Some(now);
                Lookup::FoundStale(entry.mac)
            } else {
                Lookup::Found(entry.mac)
            }
        } else {
            self.entries.remove(&ip);
            Lookup::Missing
        }
    }

    /// Learns or refreshes `ip` at `mac` (static entries are not overwritten).
    /// Returns the packets that were waiting for it, to send now.
    pub fn learn(&mut self, now: Instant, ip: Ipv4Addr, mac: MacAddr) -> VecDeque<Vec<u8>> {
        match self.entries.get_mut(&ip) {
            Some(entry) if entry.is_static => {}
            Some(entry) => {
                entry.mac = mac;
                entry.updated = now;
                entry.refreshed_at = None;
                self.stats.entries_updated += 1;
            }
            None => {
                self.make_room();
                self.entries.insert(
                    ip,
                    Entry {
                        mac,
                        updated: now,
                        is_static: false,
                        refreshed_at: None,
                    },
                );
                self.stats.entries_updated += 1;
            }
        }
        self.pending
            .remove(&ip)
            .map(|p| p.packets)
            .unwrap_or_default()
    }

    /// True if `ip` has an entry (of any age): RFC 826 updates those from
    /// any ARP packet, not only from ones addressed to us.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.entries.contains_key(&ip)
    }

    /// Adds a permanent entry (never expires, never evicted).
    pub fn insert_static(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        if !self.entries.contains_key(&ip) {
            self.make_room();
        }
        self.entries.insert(
            ip,
            Entry {
                mac,
                updated: Instant::ZERO,
                is_static: true,
                refreshed_at: None,
            },
        );
    }

    /// Removes the entry for `ip`, static or not; true if there was one.
    pub fn remove(&mut self, ip: Ipv4Addr) -> bool {
        self.entries.remove(&ip).is_some()
    }

    /// The MAC cached for `ip`, whatever its age (for inspection).
    pub fn peek(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries.get(&ip).map(|e| e.mac)
    }

    /// Entries cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn make_room(&mut self) {
        if self.entries.len() < self.config.max_entries {
            return;
        }
        // Eviction scans the table, but runs only when the cache is full.
        let oldest = self
            .entries
            .iter()
            .filter(|(_, e)| !e.is_static)
            .min_by_key(|(_, e)| e.updated)
            .map(|(ip, _)| *ip);
        if let Some(ip) = oldest {
            self.entries.remove(&ip);
            self.stats.entries_evicted += 1;
        }
    }

    /// Queues `packet` until `next_hop` resolves. Returns true if a request
    /// should be sent now (first packet for this address).
    pub fn enqueue(&mut self, now: Instant, next_hop: Ipv4Addr, packet: Vec<u8>) -> bool {
        let limit = self.config.max_queued_per_address;
        if !self.pending.contains_key(&next_hop)
            && self.pending.len() >= self.config.max_pending_addresses
        {
            self.stats.queue_overflow += 1;
            return false;
        }
        let mut first = false;
        let pending = self.pending.entry(next_hop).or_insert_with(|| {
            first = true;
            Pending {
                packets: VecDeque::new(),
                last_request: now,
                requests: 1,
            }
        });
        if pending.packets.len() >= limit {
            pending.packets.pop_front();
            self.stats.queue_overflow += 1;
        }
        pending.packets.push_back(packet);
        self.stats.queued += 1;
        first
    }

    /// Starts resolving `next_hop` with nothing queued (an explicit lookup).
    /// Returns true if a request should be sent now (not already resolving).
    pub fn start_resolving(&mut self, now: Instant, next_hop: Ipv4Addr) -> bool {
        if self.pending.contains_key(&next_hop)
            || self.pending.len() >= self.config.max_pending_addresses
        {
            return false;
        }
        self.pending.insert(
            next_hop,
            Pending {
                packets: VecDeque::new(),
                last_request: now,
                requests: 1,
            },
        );
        true
    }

    /// Advances the resolution queue to `now`: returns the addresses to send
    /// another request for, and drops (counting) the queues of addresses
    /// that used up their requests.
    pub fn poll_retries(&mut self, now: Instant, retry: &mut Vec<Ipv4Addr>) {
        if self.pending.is_empty() {
            // The usual case, and a retain would still walk the buckets.
            return;
        }
        let config = &self.config;
        let stats = &mut self.stats;
        self.pending.retain(|ip, pending| {
            if now - pending.last_request < config.retry_interval {
                return true;
            }
            if pending.requests >= config.max_requests {
                stats.resolve_timeouts += pending.packets.len() as u64;
                return false;
            }
            pending.requests += 1;
            pending.last_request = now;
            retry.push(*ip);
            true
        });
    }

    /// The next time the resolution queue needs [`poll_retries`](Self::poll_retries).
    pub fn poll_at(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|p| p.last_request + self.config.retry_interval)
            .min()
    }

    /// Packets waiting for resolution, in all queues.
    pub fn queued_packets(&self) -> usize {
        self.pending.values().map(|p| p.packets.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn entry_goes_reachable_then_stale_then_away() {
        let mut cache = ArpCache::new(ArpConfig::default());
        assert_eq!(cache.lookup(at(0), IP), Lookup::Missing);
        cache.learn(at(0), IP, MAC);
        assert_eq!(cache.lookup(at(29_999), IP), Lookup::Found(MAC));
        assert_eq!(cache.lookup(at(30_000), IP), Lookup::FoundStale(MAC));
        assert_eq!(
            cache.lookup(at(30_500), IP),
            Lookup::Found(MAC),
            "refresh is rate-limited"
        );
        assert_eq!(cache.lookup(at(31_000), IP), Lookup::FoundStale(MAC));
        assert_eq!(cache.lookup(at(90_000), IP), Lookup::Missing);
        assert!(cache.is_empty());
    }

    #[test]
    fn static_entries_never_expire_nor_get_overwritten() {
        let mut cache = ArpCache::new(ArpConfig::default());
        cache.insert_static(IP, MAC);
        cache.learn(at(0), IP, MacAddr([2, 9, 9, 9, 9, 9]));
        assert_eq!(cache.lookup(at(10_000_000), IP), Lookup::Found(MAC));
    }

    #[test]
    fn resolution_retries_then_times_out_and_drops_queue() {
        let mut cache = ArpCache::new(ArpConfig::default());
        assert!(cache.enqueue(at(0), IP, vec![1]));
        assert!(
            !cache.enqueue(at(10), IP, vec![2]),
            "one request per address"
        );
        let mut retry = Vec::new();
        cache.poll_retries(at(999), &mut retry);
        assert!(retry.is_empty());
        cache.poll_retries(at(1_000), &mut retry);
        cache.poll_retries(at(2_000), &mut retry);
        assert_eq!(retry, [IP, IP], "three requests in all");
        cache.poll_retries(at(3_000), &mut retry);
        assert_eq!(cache.queued_packets(), 0);
        assert_eq!(cache.stats.resolve_timeouts, 2);
        assert_eq!(cache.poll_at(), None);
    }

    #[test]
    fn resolution_releases_queued_packets_in_order() {
        let mut cache = ArpCache::new(ArpConfig::default());
        cache.enqueue(at(0), IP, vec![1]);
        cache.enqueue(at(0), IP, vec![2]);
        let released = cache.learn(at(5), IP, MAC);
        assert_eq!(released, [vec![1], vec![2]]);
        assert_eq!(cache.queued_packets(), 0);
    }

    #[test]
    fn queues_are_bounded() {
        let config = ArpConfig {
            max_queued_per_address: 2,
            max_pending_addresses: 1,
            ..ArpConfig::default()
        };
        let mut cache = ArpCache::new(config);
        for i in 0..5u8 {
            cache.enqueue(at(0), IP, vec![i]);
        }
        assert_eq!(cache.queued_packets(), 2);
        assert!(!cache.enqueue(at(0), Ipv4Addr::new(10, 0, 0, 10), vec![9]));
        assert_eq!(cache.stats.queue_overflow, 4);
        assert_eq!(
            cache.learn(at(1), IP, MAC),
            [vec![3], vec![4]],
            "newest kept"
        );
    }

    #[test]
    fn cache_is_bounded_by_evicting_the_oldest() {
        let config = ArpConfig {
            max_entries: 2,
            ..ArpConfig::default()
        };
        let mut cache = ArpCache::new(config);
        for i in 1..=3u8 {
            cache.learn(at(u64::from(i)), Ipv4Addr::new(10, 0, 0, i), MAC);
        }
        assert_eq!(cache.len(), 2);
        assert!(!cache.contains(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(cache.stats.entries_evicted, 1);
    }
}
