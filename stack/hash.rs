//! The hash maps on the packet path. Keys such as the 4-tuple come from
//! the network, so the hash must be keyed per process (an attacker cannot
//! aim collisions at one bucket); aHash with random keys is, and hashes a
//! 4-tuple several times faster than the standard library's SipHash-1-3,
//! which showed in profiles of every packet's demultiplexing.

use std::collections::HashMap;

/// A `HashMap` with random-keyed aHash.
pub type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;
