//! ICMP errors about our segments: path MTU discovery (RFC 1191, and
//! RFC 8201 for IPv6) and
//! unreachable destinations (RFC 1122 4.2.3.9), each accepted only if it
//! quotes a sequence number we have in flight (RFC 5927 4.1), so that a
//! forged or stale error cannot shrink or kill a connection blind.

use super::error::TcpError;
use super::seq::SeqNumber;
use super::state::State;
use super::tcb::{Tcb, MIN_MSS, TIMESTAMP_OPTION_LEN};
use crate::stats::TcpStats;

/// The smallest path MTU believed, in bytes (Linux's `min_pmtu`): an error
/// claiming less is taken as this much, so that a forged one cannot cut
/// segments to a few bytes each.
pub const MIN_PATH_MTU: u16 = 552;

/// RFC 1191 7: MTU plateaus, for routers that do not say the next hop's
/// MTU (an older "fragmentation needed" with the field zero).
const PLATEAUS: [u16; 10] = [
    32_000, 17_914, 8_166, 4_352, 2_002, 1_492, 1_006, 508, 296, 68,
];

/// What an ICMP error says about a segment we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpReport {
    /// Destination unreachable, fragmentation needed and DF set (type 3
    /// code 4), or ICMPv6 Packet Too Big (RFC 8201, its MTU raised to
    /// 1,280 if less): the next hop's MTU (0 if the router did not say)
    /// and the total length of the datagram it refused, both in bytes.
    FragmentationNeeded {
        /// The next hop's MTU, in bytes (0: not given).
        next_hop_mtu: u16,
        /// The quoted datagram's total length, in bytes.
        quoted_len: u16,
    },
    /// Any other destination unreachable, or time exceeded: the error a
    /// socket reports for it.
    Unreachable(TcpError),
}

/// The path MTU an error implies, in bytes: the one it names, else the
/// plateau below the datagram refused; never under [`MIN_PATH_MTU`].
pub fn path_mtu(next_hop_mtu: u16, quoted_len: u16) -> u16 {
    let mtu = if next_hop_mtu >= 68 {
        next_hop_mtu
    } else {
        PLATEAUS
            .iter()
            .copied()
            .find(|&plateau| plateau < quoted_len)
            .unwrap_or(68)
    };
    mtu.max(MIN_PATH_MTU)
}

impl Tcb {
    /// Takes an ICMP error quoting our segment that began at `seq`.
    /// Returns false (and does nothing) if `seq` is not in flight.
    pub fn icmp_error(&mut self, seq: SeqNumber, report: IcmpReport, stats: &mut TcpStats) -> bool {
        let in_flight = !seq.before(self.snd_una) && seq.before(self.snd_max);
        if !in_flight {
            stats.rx_icmp_ignored += 1;
            return false;
        }
        stats.rx_icmp_errors += 1;
        match report {
            IcmpReport::FragmentationNeeded {
                next_hop_mtu,
                quoted_len,
            } => {
                let options = if self.timestamps.is_some() {
                    TIMESTAMP_OPTION_LEN
                } else {
                    0
                };
                let mtu = usize::from(path_mtu(next_hop_mtu, quoted_len));
                // IP (20 or 40 bytes) and TCP headers without options.
                let headers = crate::addr::ip_header_len(self.remote.ip()) + 20;
                let mss = (mtu - headers).saturating_sub(options).max(MIN_MSS);
                if mss < self.mss {
                    self.mss = mss;
                    stats.pmtu_lowered += 1;
                    // What is in flight was cut to the old size and will
                    // not pass: send it again at the new size at once,
                    // without a timeout's backoff or window collapse (the
                    // path did not lose it to congestion; Linux's
                    // tcp_simple_retransmit).
                    self.snd_nxt = self.snd_una;
                    self.high_rxt = self.snd_una;
                    self.rtt_probe = None;
                    self.retransmit_head = false;
                }
            }
            IcmpReport::Unreachable(error) => match self.state {
                // A connect in progress fails at once, as in Linux.
                State::SynSent => self.fail(error),
                // Otherwise a soft error: routes come back, and the
                // retransmission timer decides (RFC 1122 4.2.3.9).
                _ => self.soft_error = Some(error),
            },
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_mtu_is_the_hops_or_a_plateau_never_below_the_floor() {
        assert_eq!(path_mtu(1400, 1500), 1400);
        assert_eq!(path_mtu(0, 1500), 1492, "the plateau below 1500");
        assert_eq!(path_mtu(0, 1492), 1006);
        assert_eq!(
            path_mtu(100, 1500),
            MIN_PATH_MTU,
            "a tiny MTU is not believed"
        );
        assert_eq!(path_mtu(0, 0), MIN_PATH_MTU);
    }
}
