//! SYN cookies (RFC 4987 3.6), used when a listener's SYN queue is full:
//! the SYN-ACK's sequence number carries everything needed to rebuild the
//! connection from the handshake's final ACK, so a flood of spoofed SYNs
//! holds no memory and a real client still gets in.
//!
//! The cookie (our ISN): 5 bits of a 64-second counter, 3 bits indexing an
//! MSS table, and 24 bits of SipHash over the 4-tuple, the peer's ISN and
//! the counter under a secret. As Linux does, the peer's window scale and
//! SACK-permitted ride in the low bits of our timestamp, which the peer
//! echoes; without timestamps they are lost (no scaling, no SACK).

use super::seq::SeqNumber;
use crate::rand::Rng;
use crate::siphash::siphash24;
use crate::time::Instant;
use std::net::SocketAddr;

/// MSS values a cookie can name; the largest not above the peer's is used.
const MSS_TABLE: [u16; 8] = [216, 536, 1024, 1200, 1360, 1440, 1460, 8960];
/// Seconds per counter step.
const PERIOD_SECS: u64 = 64;
/// Low timestamp bits used for options.
const TS_BITS: u32 = 5;

/// The secret behind a stack's cookies.
pub struct SynCookies {
    secret: [u8; 16],
}

impl std::fmt::Debug for SynCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SynCookies")
    }
}

fn counter(now: Instant) -> u32 {
    ((now.as_nanos() / 1_000_000_000 / PERIOD_SECS) & 0x1f) as u32
}

impl SynCookies {
    /// A secret drawn from `rng`.
    pub fn new(rng: &mut Rng) -> Self {
        let mut secret = [0u8; 16];
        secret[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        secret[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        SynCookies { secret }
    }

    fn hash(&self, local: SocketAddr, remote: SocketAddr, peer_isn: SeqNumber, t: u32) -> u32 {
        let mut data = [0u8; 44];
        let mut pair = [0u8; 36];
        let len = crate::addr::pair_bytes(local, remote, &mut pair);
        data[..len].copy_from_slice(&pair[..len]);
        data[len..len + 4].copy_from_slice(&peer_isn.0.to_be_bytes());
        data[len + 4..len + 8].copy_from_slice(&t.to_be_bytes());
        (siphash24(&self.secret, &data[..len + 8]) & 0x00ff_ffff) as u32
    }

    /// The cookie for a SYN from `remote` with ISN `peer_isn` offering
    /// `peer_mss`, and the MSS it encodes.
    pub fn make(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        peer_mss: u16,
    ) -> (SeqNumber, u16) {
        let index = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0);
        let t = counter(now);
        let cookie = (t << 27) | ((index as u32) << 24) | self.hash(local, remote, peer_isn, t);
        (SeqNumber(cookie), MSS_TABLE[index])
    }

    /// The MSS a returning cookie encodes, if it is ours and at most one
    /// period old.
    pub fn check(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        cookie: SeqNumber,
    ) -> Option<u16> {
        let t = cookie.0 >> 27;
        let age = counter(now).wrapping_sub(t) & 0x1f;
        if age > 1 || cookie.0 & 0x00ff_ffff != self.hash(local, remote, peer_isn, t) {
            return None;
        }
        Some(MSS_TABLE[((cookie.0 >> 24) & 0x7) as usize])
    }

    /// A TSval near `ts_val` (never above it) whose low bits carry the
    /// peer's window scale and SACK-permitted.
    pub fn encode_ts(ts_val: u32, window_scale: Option<u8>, sack: bool) -> u32 {
        let bits = window_scale.map_or(0, |s| u32::from(s.min(14)) + 1) | (u32::from(sack) << 4);
        let encoded = (ts_val & !((1 << TS_BITS) - 1)) | bits;
        if encoded > ts_val {
            encoded.wrapping_sub(1 << TS_BITS)
        } else {
            encoded
        }
    }

    /// The peer's window scale and SACK-permitted from our echoed TSval.
    pub fn decode_ts(ts_ecr: u32) -> (Option<u8>, bool) {
        let scale = (ts_ecr & 0xf) as u8;
        ((scale > 0).then(|| scale - 1), ts_ecr & 0x10 != 0)
    }

    /// A timestamp offset for a connection made from a cookie: fixed per
    /// 4-tuple, so the TSvals after the handshake continue the cookie's.
    pub fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        self.hash(local, remote, SeqNumber(0), 0xffff_ffff) << 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn tuple() -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 80),
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 40000),
        )
    }

    #[test]
    fn a_cookie_checks_out_for_two_periods_and_only_for_its_tuple() {
        let cookies = SynCookies::new(&mut Rng::new(1));
        let (local, remote) = tuple();
        let now = Instant::from_millis(1_000_000);
        let (cookie, mss) = cookies.make(now, local, remote, SeqNumber(77), 1460);
        assert_eq!(mss, 1460);
        assert_eq!(
            cookies.check(now, local, remote, SeqNumber(77), cookie),
            Some(1460)
        );
        let later = Instant::from_millis(1_000_000 + 64_000);
        assert_eq!(
            cookies.check(later, local, remote, SeqNumber(77), cookie),
            Some(1460)
        );
        let too_late = Instant::from_millis(1_000_000 + 200_000);
        assert_eq!(
            cookies.check(too_late, local, remote, SeqNumber(77), cookie),
            None
        );
        assert_eq!(
            cookies.check(now, local, remote, SeqNumber(78), cookie),
            None
        );
        assert_eq!(
            cookies.check(now, remote, local, SeqNumber(77), cookie),
            None
        );
        assert_eq!(
            cookies.check(now, local, remote, SeqNumber(77), cookie + 1),
            None
        );
    }

    #[test]
    fn mss_rounds_down_and_options_ride_in_the_timestamp() {
        let cookies = SynCookies::new(&mut Rng::new(2));
        let (local, remote) = tuple();
        let (_, mss) = cookies.make(Instant::ZERO, local, remote, SeqNumber(1), 1400);
        assert_eq!(mss, 1360);
        let ts = SynCookies::encode_ts(1_000_037, Some(7), true);
        assert!(ts <= 1_000_037 && 1_000_037 - ts < 64);
        assert_eq!(SynCookies::decode_ts(ts), (Some(7), true));
        assert_eq!(
            SynCookies::decode_ts(SynCookies::encode_ts(5_000, None, false)),
            (None, false)
        );
    }
}
