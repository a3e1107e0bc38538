//! Loss recovery with SACK (RFC 6675): the pipe estimate of what is still
//! in the network, the holes presumed lost, and the rescue retransmission.
//! During a SACK recovery the congestion window is the slow-start
//! threshold, not inflated by duplicate ACKs; the sender fills `ssthresh -
//! pipe` with lost holes first, then new data, then (once) a rescue
//! retransmission of the highest unSACKed segment, so a lost tail costs
//! no retransmission timeout. Without SACK, NewReno's inflation stays
//! (see `input.rs`).

use super::output::{Plan, PlanKind};
use super::segment::flags;
use super::seq::SeqNumber;
use super::tcb::{Tcb, Timer};
use crate::stats::TcpStats;
use crate::tcp::congestion::CongestionControl;
use crate::time::Instant;

/// A retransmission of the segment at `snd_una` being watched for loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadRetransmit {
    /// `snd_max` when it went: data above was sent after it.
    pub sent_before: SeqNumber,
    /// `high_rxt` when it went: holes resent above this went after it.
    pub resent_to: SeqNumber,
    /// Bytes of holes resent after it that were SACKed since.
    pub sacked_after: usize,
}

/// RFC 6675's DupThresh: segments SACKed above a hole before it counts as lost.
const DUP_THRESH: usize = 3;

impl Tcb {
    /// True during a fast recovery that SACK information drives.
    pub fn sack_recovery(&self) -> bool {
        self.sack_ok && self.recover.is_some()
    }

    /// Data below this point that is not SACKed is presumed lost (RFC 6675
    /// IsLost: more than `(DupThresh - 1) * SMSS` bytes SACKed above it).
    pub fn lost_edge(&self) -> SeqNumber {
        let sacked = self
            .scoreboard
            .lost_edge((DUP_THRESH - 1) * self.mss)
            .unwrap_or(self.snd_una);
        let probed = self.rack_lost_to.unwrap_or(self.snd_una);
        sacked.max(probed).max(self.snd_una)
    }

    /// RFC 6582 3.2 step 2 / RFC 6675 5: enter fast recovery now, the
    /// segment at `snd_una` first to go again.
    pub(super) fn enter_fast_recovery(&mut self, stats: &mut TcpStats) {
        self.recover = Some(self.snd_max);
        self.high_recover = self.snd_max;
        self.high_rxt = self.snd_una;
        self.set_timer(Timer::TailLossProbe, None);
        self.cc.on_enter_recovery(self.flight(), self.mss);
        self.retransmit_head = true;
        self.rtt_probe = None;
        stats.fast_retransmits += 1;
    }

    /// RACK's loss check (RFC 8985 6.2 step 5), after an ACK or when the
    /// reordering timer fires: raises the lost edge, resends a lost
    /// retransmission of the head, enters recovery on a new loss, and
    /// re-arms the timer for segments not lost yet.
    pub(super) fn rack_check(&mut self, now: Instant, stats: &mut TcpStats) {
        if !self.sack_ok || self.snd_una == self.snd_max || !self.rack.has_evidence() {
            self.set_timer(Timer::RackReorder, None);
            return;
        }
        let many_sacked = self.scoreboard.sacked_bytes() >= DUP_THRESH * self.mss;
        let board = &self.scoreboard;
        let verdict = self.rack.detect_loss(
            now,
            self.snd_una,
            self.recover.is_some(),
            many_sacked,
            self.rtt.srtt(),
            |start, end| board.unsacked_between(start, end) > 0,
        );
        let deadline = verdict.recheck_in.map(|wait| now + wait);
        self.set_timer(Timer::RackReorder, deadline);
        let newly_lost = verdict
            .lost_to
            .filter(|to| to.after(self.snd_una) && self.rack_lost_to.is_none_or(|at| to.after(at)));
        if let Some(to) = newly_lost {
            self.rack_lost_to = Some(to);
            stats.rack_losses += 1;
        }
        if verdict.head_retransmit_lost && !self.retransmit_head && self.recover.is_some() {
            stats.lost_retransmits += 1;
            self.retransmit_head = true;
            self.head_rxt = None;
        }
        // Past the last recovery point only: below it the losses belong to
        // a timeout's go-back-N, already being repaired.
        if newly_lost.is_some() && self.recover.is_none() && !self.snd_una.before(self.high_recover)
        {
            self.enter_fast_recovery(stats);
        }
    }

    /// RFC 8985 7.4 (what RACK concludes from a probe's ACK): the tail
    /// loss probe was SACKed while data sent before it, two RTTs earlier,
    /// is still missing, so that data is lost; returns true once when this
    /// is learnt.
    pub(super) fn probe_shows_loss(&mut self) -> bool {
        let Some(start) = self.tlp_probe else {
            return false;
        };
        if !self.sack_ok || !self.snd_una.before(start) || self.scoreboard.skip(start).is_none() {
            return false;
        }
        self.tlp_probe = None;
        self.rack_lost_to = Some(start);
        true
    }

    /// RFC 6675 SetPipe, in bytes: unSACKed data not presumed lost, plus
    /// what was retransmitted in this recovery and not SACKed since.
    pub fn pipe(&self) -> usize {
        let board = &self.scoreboard;
        let retransmitted_to = if self.high_rxt.after(self.snd_max) {
            self.snd_max
        } else {
            self.high_rxt
        };
        board.unsacked_between(self.lost_edge(), self.snd_max)
            + board.unsacked_between(self.snd_una, retransmitted_to)
    }

    /// Bytes the congestion window lets leave now: `ssthresh - pipe`
    /// during a SACK recovery (RFC 6675 5 step 4), else `cwnd` plus the
    /// limited-transmit allowance minus the flight.
    pub fn congestion_room(&self) -> usize {
        if self.sack_recovery() {
            return self.cc.ssthresh().saturating_sub(self.pipe());
        }
        // Limited transmit (RFC 3042): each of the first two duplicate ACKs
        // lets one new segment past the congestion window, so a small
        // window still produces the three duplicates fast retransmit needs.
        let limited = if self.recover.is_none() && self.dup_acks <= 2 {
            self.dup_acks as usize * self.mss
        } else {
            0
        };
        (self.cc.cwnd() + limited).saturating_sub(self.flight())
    }

    /// Starts watching the segment at `snd_una`, just resent (or resent
    /// earlier in this recovery and now the first missing).
    pub(super) fn watch_head_retransmit(&mut self) {
        self.head_rxt = Some(HeadRetransmit {
            sent_before: self.snd_max,
            resent_to: self.high_rxt,
            sacked_after: 0,
        });
    }

    /// SACKed bytes among the holes resent after the watched head.
    pub(super) fn resent_after_head_sacked(&self) -> usize {
        self.head_rxt.map_or(0, |head| {
            self.scoreboard
                .sacked_between(head.resent_to, self.high_rxt)
        })
    }

    /// The watched retransmission of the head was lost too (what RACK
    /// concludes from sending order, RFC 8985 6.2; Linux's lost-retransmit
    /// check): more than DupThresh - 1 segments sent after it, new data
    /// or resent holes, were SACKed while it is still missing.
    pub(super) fn head_retransmit_lost(&self) -> bool {
        let Some(head) = self.head_rxt else {
            return false;
        };
        let threshold = (DUP_THRESH - 1) * self.mss;
        let new_data_sacked = self
            .scoreboard
            .sacked_between(head.sent_before, self.snd_max);
        new_data_sacked > threshold || head.sacked_after > threshold
    }

    /// The next hole to resend (RFC 6675 NextSeg rule 1): the first one
    /// above what was already resent. In a fast recovery only holes
    /// presumed lost go, as the pipe allows; while repairing after a
    /// timeout (until the point it had reached is acknowledged) one goes
    /// per ACK that arrives.
    pub(super) fn plan_sack_hole(&mut self, now: Instant) -> Option<Plan> {
        let (allowed, below) = if self.sack_recovery() {
            (self.congestion_room() >= self.mss, self.lost_edge())
        } else {
            let repairing = self.sack_ok && self.snd_una.before(self.high_recover);
            (self.hole_due && repairing, self.snd_max)
        };
        if !allowed {
            self.hole_due = false;
            return None;
        }
        let from = self.high_rxt.max(self.snd_una);
        let end = below.min(self.data_end());
        let Some((start, hole_end)) = self.scoreboard.next_hole(from) else {
            self.hole_due = false;
            return None;
        };
        if !start.before(end) {
            self.hole_due = false;
            return None;
        }
        let mut plan = self.plan_control(now, start, flags::ACK, PlanKind::RetransmitHole);
        let room = self.data_room(&plan);
        plan.len = ((hole_end.min(end) - start) as usize).min(room);
        Some(plan)
    }

    /// RFC 6675 NextSeg rule 4, once per recovery when nothing else may
    /// go: the highest unSACKed segment again, so a tail lost whole (with
    /// nothing after it to SACK) is repaired without a timeout.
    pub(super) fn plan_rescue(&mut self, now: Instant) -> Option<Plan> {
        if !self.sack_recovery()
            || self.rescue_rxt.is_some_and(|at| !at.before(self.snd_una))
            || self.congestion_room() < self.mss
        {
            return None;
        }
        let data_end = self.data_end().min(self.snd_max);
        let from = self.high_rxt.max(self.snd_una);
        let (start, end) = self.scoreboard.last_unsacked(from, data_end)?;
        let mut plan = self.plan_control(now, start, flags::ACK, PlanKind::Rescue);
        let len = ((end - start) as usize).min(self.data_room(&plan));
        plan.seq = end - len as u32;
        plan.len = len;
        Some(plan)
    }
}
