//! Two stacks wired together over an in-memory pipe, each knowing the
//! other's MAC: the fixture of whole-stack tests and benchmarks, and a way
//! to try the stack without any network.

use super::{Stack, StackConfig};
use crate::buf::BufPool;
use crate::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
use crate::device::Device;
use crate::time::Clock;
use crate::wire::Ipv4Cidr;
use std::net::Ipv4Addr;

impl StackConfig {
    /// Defaults for `addr`/`prefix_len`, with a fixed random seed.
    pub fn seeded(addr: Ipv4Addr, prefix_len: u8, seed: u64) -> Self {
        StackConfig {
            seed: Some(seed),
            ..StackConfig::new(Ipv4Cidr { addr, prefix_len })
        }
    }
}

/// Stacks `a` and `b` on the two ends of a pipe (`pipe`'s settings), on one
/// clock, with static ARP entries for each other and, with IPv6 on,
/// neighbour entries (so every frame on the pipe is IP).
pub fn pipe_stacks<C: Clock + Clone>(
    a: StackConfig,
    b: StackConfig,
    clock: C,
    pipe: &PipeConfig,
) -> (Stack<PipeDevice, C>, Stack<PipeDevice, C>) {
    let pool = BufPool::with_defaults();
    let (pa, pb) = pipe_pair(pipe, &pool);
    let (a_ip, b_ip) = (a.ip.addr, b.ip.addr);
    let mut a = Stack::new(pa, clock.clone(), a);
    let mut b = Stack::new(pb, clock, b);
    let (a_mac, b_mac) = (a.device().capabilities().mac, b.device().capabilities().mac);
    a.interface().arp_cache().insert_static(b_ip, b_mac);
    b.interface().arp_cache().insert_static(a_ip, a_mac);
    // IPv6 neighbours too, so that every frame on the pipe is data.
    let now = a.now();
    for addr in b.interface().ip6_addrs() {
        a.interface().learn_neighbor(now, addr, b_mac);
    }
    for addr in a.interface().ip6_addrs() {
        b.interface().learn_neighbor(now, addr, a_mac);
    }
    (a, b)
}
