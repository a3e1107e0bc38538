//! A hash map keyed by connection pair (our address and port, the
//! peer's). IPv4 pairs, the bulk of any table, are kept under a 12-byte
//! key (both addresses, both ports) instead of two `SocketAddr`s (64
//! bytes with their enum tags and IPv6 room), which is most of the
//! demultiplexing table's memory per connection and of its hashing and
//! comparing per lookup; other pairs keep the full key.

use crate::hash::FastMap;
use std::net::{SocketAddr, SocketAddrV4};

/// Our address and port, the peer's.
pub type FourTuple = (SocketAddr, SocketAddr);

/// An IPv4 pair: our address, the peer's, then our port and the peer's,
/// as three words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V4Pair([u32; 3]);

impl std::hash::Hash for V4Pair {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [local, remote, ports] = self.0;
        state.write_u64(u64::from(local) << 32 | u64::from(remote));
        state.write_u32(ports);
    }
}

impl V4Pair {
    fn of((local, remote): &FourTuple) -> Option<V4Pair> {
        match (local, remote) {
            (SocketAddr::V4(local), SocketAddr::V4(remote)) => Some(V4Pair([
                local.ip().to_bits(),
                remote.ip().to_bits(),
                u32::from(local.port()) << 16 | u32::from(remote.port()),
            ])),
            _ => None,
        }
    }

    fn tuple(self) -> FourTuple {
        let [local, remote, ports] = self.0;
        (
            SocketAddrV4::new(local.into(), (ports >> 16) as u16).into(),
            SocketAddrV4::new(remote.into(), ports as u16).into(),
        )
    }
}

/// A map from connection pair to `V`.
#[derive(Debug)]
pub struct PairMap<V> {
    v4: FastMap<V4Pair, V>,
    other: FastMap<FourTuple, V>,
}

impl<V> Default for PairMap<V> {
    fn default() -> Self {
        PairMap {
            v4: FastMap::default(),
            other: FastMap::default(),
        }
    }
}

impl<V> PairMap<V> {
    /// Pairs held.
    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    /// True if no pair is held.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.other.is_empty()
    }

    /// The value of `tuple`.
    pub fn get(&self, tuple: &FourTuple) -> Option<&V> {
        match V4Pair::of(tuple) {
            Some(key) => self.v4.get(&key),
            None => self.other.get(tuple),
        }
    }

    /// The value of `tuple`, to change.
    pub fn get_mut(&mut self, tuple: &FourTuple) -> Option<&mut V> {
        match V4Pair::of(tuple) {
            Some(key) => self.v4.get_mut(&key),
            None => self.other.get_mut(tuple),
        }
    }

    /// True if `tuple` is held.
    pub fn contains_key(&self, tuple: &FourTuple) -> bool {
        self.get(tuple).is_some()
    }

    /// Holds `value` for `tuple`; the value it replaces, if any.
    pub fn insert(&mut self, tuple: FourTuple, value: V) -> Option<V> {
        match V4Pair::of(&tuple) {
            Some(key) => self.v4.insert(key, value),
            None => self.other.insert(tuple, value),
        }
    }

    /// Forgets `tuple`; its value, if it was held.
    pub fn remove(&mut self, tuple: &FourTuple) -> Option<V> {
        match V4Pair::of(tuple) {
            Some(key) => self.v4.remove(&key),
            None => self.other.remove(tuple),
        }
    }

    /// Every pair held, in no order.
    pub fn pairs(&self) -> impl Iterator<Item = FourTuple> + '_ {
        self.v4
            .keys()
            .map(|key| key.tuple())
            .chain(self.other.keys().copied())
    }

    /// True if some pair held has our port `port`.
    pub fn uses_local_port(&self, port: u16) -> bool {
        self.v4.keys().any(|key| (key.0[2] >> 16) as u16 == port)
            || self.other.keys().any(|(local, _)| local.port() == port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};

    fn v4(a: u8, pa: u16, b: u8, pb: u16) -> FourTuple {
        (
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, a), pa).into(),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, b), pb).into(),
        )
    }

    #[test]
    fn both_families_map_and_come_back_whole() {
        let mut map = PairMap::default();
        let six: FourTuple = (
            SocketAddrV6::new(Ipv6Addr::LOCALHOST, 80, 0, 0).into(),
            SocketAddrV6::new(Ipv6Addr::LOCALHOST, 4000, 0, 0).into(),
        );
        assert_eq!(map.insert(v4(1, 80, 2, 4000), 1), None);
        assert_eq!(map.insert(v4(1, 80, 2, 4001), 2), None);
        assert_eq!(map.insert(six, 3), None);
        assert_eq!(map.insert(v4(1, 80, 2, 4000), 4), Some(1), "replaced");
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&v4(1, 80, 2, 4000)), Some(&4));
        assert_eq!(map.get(&v4(2, 4000, 1, 80)), None, "the other way round");
        assert_eq!(map.get(&v4(1, 81, 2, 4000)), None);
        assert_eq!(map.get(&six), Some(&3));
        let mut pairs: Vec<FourTuple> = map.pairs().collect();
        pairs.sort();
        let mut expected = vec![v4(1, 80, 2, 4000), v4(1, 80, 2, 4001), six];
        expected.sort();
        assert_eq!(pairs, expected);
        assert!(map.uses_local_port(80) && !map.uses_local_port(4000));
        assert_eq!(map.remove(&v4(1, 80, 2, 4001)), Some(2));
        assert_eq!(map.remove(&six), Some(3));
        assert!(!map.contains_key(&six));
        assert_eq!(map.len(), 1);
        assert!(!map.is_empty());
    }

    #[test]
    fn an_ipv4_key_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<V4Pair>(), 12);
    }
}
