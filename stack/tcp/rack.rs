//! RACK (RFC 8985 6): loss detection by time. Every range of data sent is
//! logged with its send time; when an ACK or SACK shows a segment sent
//! later was delivered, an earlier unSACKed one is lost once a round trip
//! plus a reordering window has passed since it was sent. Until then the
//! reordering timer waits for it. This finds losses that too few SACKs
//! follow for RFC 6675's DupThresh (one segment SACKed after a lost one),
//! and it tolerates reordering up to the window without a spurious
//! retransmission once reordering has been seen.
//!
//! What RACK concludes is kept as an edge (the connection's
//! `rack_lost_to`): unSACKed data below it is lost, which the SACK
//! recovery of `recovery.rs` repairs. A lost retransmission is acted on
//! when it is the first missing segment (the usual case: it is resent
//! again); one further up waits for the cumulative ACK to reach it.

use super::seq::SeqNumber;
use crate::time::{Duration, Instant};
use std::collections::VecDeque;

/// Ranges logged at most per connection: past it the oldest two are
/// merged under the later send time, which only delays a loss verdict.
const MAX_LOG: usize = 1024;

/// Recoveries after which a reordering window widened by D-SACKs goes
/// back to its base (RFC 8985 6.2 step 4's `RACK.reo_wnd_persist`).
const REO_WND_PERSIST: u32 = 16;

/// One segment's data, and when it was (last) sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SentRange {
    start: SeqNumber,
    end: SeqNumber,
    sent_at: Instant,
    /// The range was sent before: its ACK is ambiguous (Karn).
    retransmitted: bool,
}

/// What a loss check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RackVerdict {
    /// Original transmissions below this are lost.
    pub lost_to: Option<SeqNumber>,
    /// The retransmission of the first missing segment is lost too.
    pub head_retransmit_lost: bool,
    /// Some segment is not lost yet but will be, unless SACKed, this much
    /// later: the reordering timer's delay.
    pub recheck_in: Option<Duration>,
}

/// RACK's state for one connection.
#[derive(Debug, Clone, Default)]
pub struct Rack {
    log: VecDeque<SentRange>,
    /// Send time and end of the most recently sent segment known
    /// delivered (`RACK.xmit_ts`, `RACK.end_seq`).
    delivered: Option<(Instant, SeqNumber)>,
    /// Round-trip time of that segment (`RACK.rtt`).
    rtt: Duration,
    /// Smallest round trip measured (`RACK.min_RTT`).
    min_rtt: Option<Duration>,
    /// Highest end of data delivered (`RACK.fack`).
    fack: Option<SeqNumber>,
    /// A segment was delivered below `fack` without being resent:
    /// the path reorders (`RACK.reord`).
    reordering_seen: bool,
    /// D-SACK-driven multiple of the reordering window.
    reo_wnd_mult: u32,
    /// `snd_nxt` when the window last widened: one widening per round.
    dsack_round: Option<SeqNumber>,
    /// Recoveries left before `reo_wnd_mult` resets.
    reo_wnd_persist: u32,
}

/// True if a segment sent at `t1` ending at `end1` went after one sent at
/// `t2` ending at `end2` (RFC 8985 6.2 `RACK_sent_after`).
fn sent_after(t1: Instant, end1: SeqNumber, t2: Instant, end2: SeqNumber) -> bool {
    t1 > t2 || (t1 == t2 && end1.after(end2))
}

impl Rack {
    /// Logs data `[start, end)` sent at `now`; `retransmission` when any
    /// of it was sent before.
    pub fn on_send(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        now: Instant,
        retransmission: bool,
    ) {
        if !start.before(end) {
            return;
        }
        if !retransmission {
            // One entry per segment, even within a burst: the order of a
            // burst's segments (by end) is what tells a lost one from a
            // delivered one sent at the same instant.
            self.push(SentRange {
                start,
                end,
                sent_at: now,
                retransmitted: false,
            });
            return;
        }
        // A resend takes its range out of the entries that cover it, in
        // place (no allocation on the repair path).
        let resent = SentRange {
            start,
            end,
            sent_at: now,
            retransmitted: true,
        };
        let mut at = self
            .log
            .iter()
            .position(|r| r.end.after(start))
            .unwrap_or(self.log.len());
        if let Some(first) = self.log.get_mut(at) {
            if first.start.before(start) {
                let tail = SentRange { start, ..*first };
                first.end = start;
                at += 1;
                self.log.insert(at, tail);
            }
        }
        while let Some(range) = self.log.get_mut(at) {
            if !range.start.before(end) {
                break;
            }
            if range.end.after(end) {
                range.start = end;
                break;
            }
            self.log.remove(at);
        }
        self.log.insert(at, resent);
        self.bound();
    }

    fn push(&mut self, range: SentRange) {
        self.log.push_back(range);
        self.bound();
    }

    fn bound(&mut self) {
        while self.log.len() > MAX_LOG {
            let (Some(first), Some(second)) = (self.log.pop_front(), self.log.pop_front()) else {
                return;
            };
            self.log.push_front(SentRange {
                start: first.start,
                end: second.end,
                sent_at: first.sent_at.max(second.sent_at),
                retransmitted: first.retransmitted || second.retransmitted,
            });
        }
    }

    /// Data below `ack` is delivered: the ranges it ends are taken out of
    /// the log (RFC 8985 6.2 step 2). Only the last of them is counted as
    /// delivered: it went last unless some were resent, so it carries the
    /// latest send time and the smallest RTT, and one delivery per ACK
    /// keeps this off the per-segment cost.
    pub fn on_cumulative_ack(&mut self, ack: SeqNumber, now: Instant) {
        let mut last = None;
        while let Some(front) = self.log.front_mut() {
            if !front.start.before(ack) {
                break;
            }
            if front.end.after(ack) {
                last = Some(SentRange { end: ack, ..*front });
                front.start = ack;
                break;
            }
            last = self.log.pop_front();
        }
        if let Some(range) = last {
            self.deliver(range, now);
        }
    }

    /// `[left, right)` was newly SACKed: the ranges it touches are
    /// delivered.
    pub fn on_sacked(&mut self, left: SeqNumber, right: SeqNumber, now: Instant) {
        for index in 0..self.log.len() {
            let range = self.log[index];
            if !range.start.before(right) {
                break;
            }
            if range.end.after(left) {
                self.deliver(range, now);
            }
        }
    }

    fn deliver(&mut self, range: SentRange, now: Instant) {
        let rtt = now.saturating_duration_since(range.sent_at);
        // A resent range answered faster than any round trip was answered
        // for its first transmission: it tells nothing (RFC 8985 6.2
        // step 2, without timestamps to tell them apart).
        if range.retransmitted && self.min_rtt.is_some_and(|min| rtt < min) {
            return;
        }
        if !range.retransmitted {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |min| min.min(rtt)));
            if self.fack.is_some_and(|fack| range.end.before(fack)) {
                self.reordering_seen = true;
            }
        }
        if self.fack.is_none_or(|fack| range.end.after(fack)) {
            self.fack = Some(range.end);
        }
        let newer = self
            .delivered
            .is_none_or(|(at, end)| sent_after(range.sent_at, range.end, at, end));
        if newer {
            self.delivered = Some((range.sent_at, range.end));
            self.rtt = rtt;
        }
    }

    /// A D-SACK arrived: the reordering window widens by one step, at most
    /// once per round trip (RFC 8985 6.2 step 4).
    pub fn on_dsack(&mut self, snd_una: SeqNumber, snd_nxt: SeqNumber) {
        if self.dsack_round.is_some_and(|round| !snd_una.before(round)) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() {
            self.dsack_round = Some(snd_nxt);
            self.reo_wnd_mult = self.reo_wnd_mult.max(1).saturating_add(1).min(16);
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// A loss recovery ended: a widened window shrinks back after enough.
    pub fn on_recovery_end(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
        }
    }

    /// The reordering window (RFC 8985 6.2 step 4): none while no
    /// reordering was seen and the connection is in recovery or has
    /// DupThresh segments SACKed; else a quarter of the minimum RTT (times
    /// the D-SACK multiple), at most the smoothed RTT.
    fn reordering_window(
        &self,
        in_recovery: bool,
        many_sacked: bool,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || many_sacked) {
            return Duration::ZERO;
        }
        let Some(min_rtt) = self.min_rtt else {
            return Duration::ZERO;
        };
        let window =
            Duration::from_nanos(min_rtt.as_nanos() / 4 * u64::from(self.reo_wnd_mult.max(1)));
        srtt.map_or(window, |srtt| window.min(srtt))
    }

    /// True when a check could find something: data was delivered after
    /// being sent later than some logged range.
    pub fn has_evidence(&self) -> bool {
        self.delivered.is_some() && !self.log.is_empty()
    }

    /// RFC 8985 6.2 step 5: which logged ranges above `snd_una` are lost
    /// at `now`. `unsacked(start, end)` says whether any of a range is
    /// still unSACKed.
    pub fn detect_loss(
        &self,
        now: Instant,
        snd_una: SeqNumber,
        in_recovery: bool,
        many_sacked: bool,
        srtt: Option<Duration>,
        unsacked: impl Fn(SeqNumber, SeqNumber) -> bool,
    ) -> RackVerdict {
        let mut verdict = RackVerdict::default();
        let Some((delivered_at, delivered_end)) = self.delivered else {
            return verdict;
        };
        let reo_wnd = self.reordering_window(in_recovery, many_sacked, srtt);
        for range in &self.log {
            if !range.end.after(snd_una)
                || !sent_after(delivered_at, delivered_end, range.sent_at, range.end)
                || !unsacked(range.start.max(snd_una), range.end)
            {
                continue;
            }
            let deadline = range.sent_at + self.rtt + reo_wnd;
            if deadline <= now {
                if !range.retransmitted {
                    verdict.lost_to =
                        Some(verdict.lost_to.map_or(range.end, |to| to.max(range.end)));
                } else if !range.start.after(snd_una) {
                    verdict.head_retransmit_lost = true;
                }
            } else {
                let wait = deadline.saturating_duration_since(now);
                verdict.recheck_in = Some(verdict.recheck_in.map_or(wait, |w| w.max(wait)));
            }
        }
        verdict
    }

    /// Forgets the log after a retransmission timeout: everything goes
    /// again, and the next transmissions are logged afresh.
    pub fn on_timeout(&mut self) {
        self.log.clear();
        self.delivered = None;
    }

    /// Ranges held in the log (at most 1,024: memory stays bounded).
    pub fn logged_ranges(&self) -> usize {
        self.log.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn seq(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    #[test]
    fn a_resend_takes_its_range_out_of_the_segments_it_covers() {
        let mut rack = Rack::default();
        rack.on_send(seq(0), seq(1000), at(0), false);
        rack.on_send(seq(1000), seq(2000), at(0), false);
        rack.on_send(seq(2000), seq(3000), at(5), false);
        assert_eq!(rack.logged_ranges(), 3);
        rack.on_send(seq(500), seq(1500), at(10), true);
        let ranges: Vec<(u32, u32, bool)> = rack
            .log
            .iter()
            .map(|r| (r.start.0, r.end.0, r.retransmitted))
            .collect();
        assert_eq!(
            ranges,
            [
                (0, 500, false),
                (500, 1500, true),
                (1500, 2000, false),
                (2000, 3000, false)
            ]
        );
    }

    #[test]
    fn within_a_burst_the_segment_before_a_delivered_one_is_the_lost_one() {
        let mut rack = Rack::default();
        rack.on_send(seq(0), seq(1000), at(0), false);
        rack.on_send(seq(1000), seq(2000), at(0), false);
        rack.on_sacked(seq(1000), seq(2000), at(100));
        let unsacked = |s: SeqNumber, _e: SeqNumber| s.before(seq(1000));
        let verdict = rack.detect_loss(at(125), seq(0), false, false, None, unsacked);
        assert_eq!(verdict.lost_to, Some(seq(1000)));
    }

    #[test]
    fn a_segment_sent_before_a_delivered_one_is_lost_after_rtt_plus_window() {
        let mut rack = Rack::default();
        rack.on_send(seq(0), seq(1000), at(0), false);
        rack.on_send(seq(1000), seq(2000), at(1), false);
        // The second is SACKed 100 ms after it went: RTT 100 ms, window 25 ms.
        rack.on_sacked(seq(1000), seq(2000), at(101));
        let unsacked = |s: SeqNumber, _e: SeqNumber| s.before(seq(1000));
        let early = rack.detect_loss(at(101), seq(0), false, false, None, unsacked);
        assert_eq!(early.lost_to, None);
        assert_eq!(early.recheck_in, Some(Duration::from_millis(24)));
        let late = rack.detect_loss(at(125), seq(0), false, false, None, unsacked);
        assert_eq!(late.lost_to, Some(seq(1000)));
    }

    #[test]
    fn without_reordering_seen_recovery_needs_no_window() {
        let mut rack = Rack::default();
        rack.on_send(seq(0), seq(1000), at(0), false);
        rack.on_send(seq(1000), seq(2000), at(1), false);
        rack.on_sacked(seq(1000), seq(2000), at(101));
        let unsacked = |s: SeqNumber, _e: SeqNumber| s.before(seq(1000));
        let verdict = rack.detect_loss(at(101), seq(0), true, false, None, unsacked);
        assert_eq!(verdict.lost_to, Some(seq(1000)));
    }

    #[test]
    fn reordering_seen_keeps_the_window_even_in_recovery() {
        let mut rack = Rack::default();
        rack.on_send(seq(0), seq(1000), at(0), false);
        rack.on_send(seq(1000), seq(2000), at(1), false);
        rack.on_send(seq(2000), seq(3000), at(2), false);
        rack.on_sacked(seq(2000), seq(3000), at(102));
        // The first range arrives after the third: reordering.
        rack.on_cumulative_ack(seq(1000), at(103));
        assert!(rack.reordering_seen);
        let unsacked = |s: SeqNumber, _e: SeqNumber| s.before(seq(2000));
        let verdict = rack.detect_loss(at(103), seq(1000), true, false, None, unsacked);
        assert_eq!(verdict.lost_to, None, "within the reordering window");
        assert!(verdict.recheck_in.is_some());
    }

    #[test]
    fn a_lost_retransmission_of_the_head_is_found() {
        let mut rack = Rack::default();
        rack.on_send(seq(0), seq(1000), at(0), false);
        rack.on_send(seq(1000), seq(2000), at(1), false);
        rack.on_sacked(seq(1000), seq(2000), at(100));
        rack.on_send(seq(0), seq(1000), at(100), true);
        rack.on_send(seq(2000), seq(3000), at(110), false);
        rack.on_sacked(seq(2000), seq(3000), at(210));
        let unsacked = |s: SeqNumber, _e: SeqNumber| s.before(seq(1000));
        let verdict = rack.detect_loss(at(300), seq(0), true, false, None, unsacked);
        assert!(verdict.head_retransmit_lost);
    }

    #[test]
    fn the_log_stays_bounded() {
        let mut rack = Rack::default();
        for i in 0..5_000u32 {
            rack.on_send(seq(i * 10), seq(i * 10 + 10), at(u64::from(i)), false);
        }
        assert_eq!(rack.logged_ranges(), MAX_LOG);
        rack.on_cumulative_ack(seq(50_000), at(6_000));
        assert_eq!(rack.logged_ranges(), 0);
    }
}
