//! Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret),
//! where M is a timer ticking every 4 microseconds and F a keyed hash
//! (SipHash-2-4) of the connection's addresses and ports under a secret the
//! stack draws once from its random source. Numbers for one 4-tuple grow
//! with time (so old duplicates fall behind); numbers for different tuples
//! are unpredictable to anyone without the secret.

use crate::rand::Rng;
use crate::siphash::siphash24;
use crate::time::Instant;
use std::net::SocketAddr;

use super::seq::SeqNumber;

/// Generates initial sequence numbers for new connections.
#[derive(Clone)]
pub struct IsnGenerator {
    secret: [u8; 16],
}

impl std::fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.write_str("IsnGenerator")
    }
}

impl IsnGenerator {
    /// A generator whose secret is drawn from `rng` (seed it from the OS in
    /// production, fix it in tests).
    pub fn new(rng: &mut Rng) -> Self {
        let mut secret = [0u8; 16];
        secret[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        secret[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        IsnGenerator { secret }
    }

    /// The ISN for a connection from `local` to `remote` opened at `now`.
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> SeqNumber {
        let mut tuple = [0u8; 36];
        let len = crate::addr::pair_bytes(local, remote, &mut tuple);
        let offset = siphash24(&self.secret, &tuple[..len]) as u32;
        // M: a 4 microsecond clock, truncated to 32 bits (RFC 6528 section 3).
        let clock = (now.as_nanos() / 4_000) as u32;
        SeqNumber(clock.wrapping_add(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;
    use std::net::Ipv4Addr;

    fn tuple(port: u16) -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), port),
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 80),
        )
    }

    #[test]
    fn same_tuple_advances_with_the_clock() {
        let isn = IsnGenerator::new(&mut Rng::new(1));
        let (local, remote) = tuple(40_000);
        let first = isn.isn(Instant::from_millis(1), local, remote);
        let later = isn.isn(
            Instant::from_millis(1) + Duration::from_micros(400),
            local,
            remote,
        );
        assert_eq!(later - first, 100, "one step per 4 microseconds");
    }

    #[test]
    fn tuples_and_secrets_spread_the_numbers() {
        let isn = IsnGenerator::new(&mut Rng::new(1));
        let now = Instant::from_millis(5);
        let (a_local, remote) = tuple(40_000);
        let (b_local, _) = tuple(40_001);
        let a = isn.isn(now, a_local, remote);
        let b = isn.isn(now, b_local, remote);
        assert_ne!(a, b, "neighbouring ports are not neighbouring ISNs");
        assert!((a - b).min(b - a) > 1_000, "{a} vs {b}");
        let other = IsnGenerator::new(&mut Rng::new(2));
        assert_ne!(
            other.isn(now, a_local, remote),
            a,
            "another secret, another ISN"
        );
    }
}
