//! Duplicate address detection for our IPv6 addresses (RFC 4862 5.4): an
//! address is TENTATIVE until `transmits` solicitations for it (from the
//! unspecified address) went unanswered for a retransmit interval each,
//! then PREFERRED. An advertisement for it, or another node's own
//! detection probe for it, while it is tentative makes it DUPLICATE: it is
//! never used. Sans-IO: the interface asks what is due at `now`.

use crate::time::{Duration, Instant};
use std::net::Ipv6Addr;

/// Where an address stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressState {
    /// Being checked: not used, packets to it are dropped.
    Tentative,
    /// Checked: ours to use.
    Preferred,
    /// Another node has it: never used.
    Duplicate,
}

#[derive(Debug, Clone)]
struct Address {
    addr: Ipv6Addr,
    state: AddressState,
    /// Solicitations sent so far.
    sent: u32,
    /// When the last one went out.
    last: Option<Instant>,
}

/// The detection state of each of our addresses.
#[derive(Debug, Clone)]
pub struct Dad {
    addresses: Vec<Address>,
    transmits: u32,
    retransmit: Duration,
}

impl Dad {
    /// `addrs` to check with `transmits` solicitations `retransmit` apart
    /// (0 transmits: usable at once, as RFC 4862's DupAddrDetectTransmits
    /// of 0 says).
    pub fn new(addrs: &[Ipv6Addr], transmits: u32, retransmit: Duration) -> Self {
        let state = if transmits == 0 {
            AddressState::Preferred
        } else {
            AddressState::Tentative
        };
        Dad {
            addresses: addrs
                .iter()
                .map(|&addr| Address {
                    addr,
                    state,
                    sent: 0,
                    last: None,
                })
                .collect(),
            transmits,
            retransmit,
        }
    }

    /// True while any address is still being checked.
    pub fn any_tentative(&self) -> bool {
        self.addresses
            .iter()
            .any(|a| a.state == AddressState::Tentative)
    }

    /// The state of `addr`, if it is one of ours.
    pub fn state(&self, addr: Ipv6Addr) -> Option<AddressState> {
        self.addresses
            .iter()
            .find(|a| a.addr == addr)
            .map(|a| a.state)
    }

    /// True when `addr` is ours and checked.
    pub fn usable(&self, addr: Ipv6Addr) -> bool {
        self.state(addr) == Some(AddressState::Preferred)
    }

    /// Moves the checks on to `now`: addresses whose last probe went
    /// unanswered for the interval become PREFERRED. Returns an address
    /// due a probe now, marking it sent (call until `None`).
    pub fn due(&mut self, now: Instant) -> Option<Ipv6Addr> {
        for a in &mut self.addresses {
            if a.state != AddressState::Tentative {
                continue;
            }
            let waited = a
                .last
                .is_none_or(|last| now.saturating_duration_since(last) >= self.retransmit);
            if !waited {
                continue;
            }
            if a.sent >= self.transmits {
                a.state = AddressState::Preferred;
                continue;
            }
            a.sent += 1;
            a.last = Some(now);
            return Some(a.addr);
        }
        None
    }

    /// When [`due`](Self::due) next has something to do.
    pub fn poll_at(&self) -> Option<Instant> {
        self.addresses
            .iter()
            .filter(|a| a.state == AddressState::Tentative)
            .map(|a| a.last.map_or(Instant::ZERO, |last| last + self.retransmit))
            .min()
    }

    /// Another node claims `addr` (its advertisement, or its own probe):
    /// true if `addr` was ours and tentative, and is now DUPLICATE.
    pub fn conflict(&mut self, addr: Ipv6Addr) -> bool {
        match self.addresses.iter_mut().find(|a| a.addr == addr) {
            Some(a) if a.state == AddressState::Tentative => {
                a.state = AddressState::Duplicate;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last)
    }

    #[test]
    fn addresses_are_probed_then_preferred() {
        let mut dad = Dad::new(&[addr(1), addr(2)], 1, Duration::from_secs(1));
        let t0 = Instant::ZERO + Duration::from_millis(5);
        assert_eq!(dad.poll_at(), Some(Instant::ZERO));
        assert_eq!(dad.due(t0), Some(addr(1)));
        assert_eq!(dad.due(t0), Some(addr(2)));
        assert_eq!(dad.due(t0), None);
        assert_eq!(dad.state(addr(1)), Some(AddressState::Tentative));
        assert!(!dad.usable(addr(1)));
        assert_eq!(dad.poll_at(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(dad.due(t0 + Duration::from_millis(999)), None);
        assert_eq!(dad.due(t0 + Duration::from_secs(1)), None);
        assert!(dad.usable(addr(1)) && dad.usable(addr(2)));
        assert_eq!(dad.poll_at(), None);
        assert!(
            !dad.conflict(addr(1)),
            "too late: a preferred address stays"
        );
        assert_eq!(dad.state(addr(3)), None);
    }

    #[test]
    fn a_conflict_while_tentative_makes_a_duplicate() {
        let mut dad = Dad::new(&[addr(1)], 2, Duration::from_secs(1));
        let t0 = Instant::ZERO;
        assert_eq!(dad.due(t0), Some(addr(1)));
        assert_eq!(dad.due(t0 + Duration::from_secs(1)), Some(addr(1)));
        assert!(dad.conflict(addr(1)));
        assert_eq!(dad.due(t0 + Duration::from_secs(5)), None);
        assert_eq!(dad.state(addr(1)), Some(AddressState::Duplicate));
        assert!(!dad.usable(addr(1)));
        assert_eq!(dad.poll_at(), None);
    }

    #[test]
    fn no_transmits_means_usable_at_once() {
        let mut dad = Dad::new(&[addr(1)], 0, Duration::from_secs(1));
        assert!(dad.usable(addr(1)));
        assert_eq!(dad.due(Instant::ZERO), None);
        assert_eq!(dad.poll_at(), None);
    }
}
