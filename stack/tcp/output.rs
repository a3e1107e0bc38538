//! What a connection sends next: SYN, retransmissions, new data under the
//! send and congestion windows (with Nagle and sender-side SWS avoidance),
//! FIN, zero-window probes and ACKs (with receiver-side SWS avoidance).
//! [`Tcb::next_segment`] plans one segment without changing state;
//! [`Tcb::commit`] records it once a transmit buffer took it, so a full
//! transmit ring loses nothing.

use super::config::TcpConfig;
use super::emit::{OptionsOut, Payload, SegmentOut};
use super::segment::flags;
use super::seq::SeqNumber;
use super::state::State;
use super::tcb::{Tcb, Timer};
use crate::stats::TcpStats;
use crate::time::Instant;

/// One planned segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Sequence number.
    pub seq: SeqNumber,
    /// Control bits.
    pub flags: u8,
    /// Data bytes, taken from the send buffer at `seq`.
    pub len: usize,
    /// The window field to send.
    pub window: u16,
    /// Right edge of the receive window this segment advertises.
    pub rcv_edge: SeqNumber,
    /// Options.
    pub options: OptionsOut,
    /// Why it is sent (decides what committing it changes).
    pub kind: PlanKind,
}

/// Why a segment is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// SYN or SYN-ACK.
    Syn,
    /// The segment at `snd_una` again (fast retransmit or partial ACK).
    RetransmitHead,
    /// Data and/or FIN at `snd_nxt`.
    Data,
    /// A zero-window probe (an old sequence number that elicits an ACK).
    Probe,
    /// A bare ACK or window update.
    Ack,
    /// A SACK hole, during recovery.
    RetransmitHole,
    /// RFC 6675's rescue retransmission: the highest unSACKed segment.
    Rescue,
    /// A reset ending the connection (abort).
    Reset,
}

/// Option bytes the SACK blocks of `options` take.
fn sack_bytes(options: &OptionsOut) -> usize {
    if options.sack_count == 0 {
        0
    } else {
        4 + 8 * usize::from(options.sack_count)
    }
}

impl Tcb {
    /// The next segment to send at `now`, if any.
    pub fn next_segment(&mut self, now: Instant, config: &TcpConfig) -> Option<Plan> {
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived => {
                if self.send_syn {
                    return Some(self.plan_syn(now, config));
                }
                if self.send_rst && self.state == State::SynReceived {
                    return Some(self.plan_control(
                        now,
                        self.control_seq(),
                        flags::RST | flags::ACK,
                        PlanKind::Reset,
                    ));
                }
                if self.state == State::SynSent || !self.ack_now {
                    return None;
                }
            }
            _ => {}
        }
        if self.send_rst {
            return Some(self.plan_control(
                now,
                self.control_seq(),
                flags::RST | flags::ACK,
                PlanKind::Reset,
            ));
        }
        if self.state.is_synchronized() && self.state != State::TimeWait {
            // Repairs come first; with nothing lost (the usual case) none
            // is looked at.
            let repairing = self.repair_pending();
            if repairing {
                if let Some(plan) = self.plan_retransmit_head(now) {
                    return Some(plan);
                }
                if let Some(plan) = self.plan_sack_hole(now) {
                    return Some(plan);
                }
                if let Some(plan) = self.plan_tail_loss_probe(now) {
                    return Some(plan);
                }
                // Resending after a timeout: what the peer SACKed is skipped.
                while let Some(end) = self.scoreboard.skip(self.snd_nxt) {
                    self.snd_nxt = end.min(self.snd_max);
                }
            }
            if let Some(plan) = self.plan_data(now) {
                return Some(plan);
            }
            if repairing {
                if let Some(plan) = self.plan_rescue(now) {
                    return Some(plan);
                }
            }
            if self.probe_due || self.keepalive_due {
                // Both probes carry an old sequence number: the peer must
                // answer with an ACK showing its state and window.
                return Some(self.plan_control(now, self.snd_una - 1, flags::ACK, PlanKind::Probe));
            }
        }
        if self.ack_now || self.dup_acks_owed > 0 {
            return Some(self.plan_control(now, self.control_seq(), flags::ACK, PlanKind::Ack));
        }
        None
    }

    /// True if a loss repair may be due: a retransmission of the head, a
    /// SACK hole or rescue (RFC 6675), a tail loss probe, or SACKed data to
    /// skip when resending. Each planner checks its own rule; this only
    /// spares the common case from asking all of them.
    fn repair_pending(&self) -> bool {
        self.retransmit_head
            || self.tlp_due
            || self.hole_due
            || self.sack_recovery()
            || !self.scoreboard.is_empty()
    }

    fn plan_syn(&mut self, now: Instant, config: &TcpConfig) -> Plan {
        let passive = self.state == State::SynReceived;
        let timestamps = if passive {
            self.timestamps.map(|ts| (self.ts_val(now), ts.recent))
        } else {
            config.timestamps.then(|| (self.ts_val(now), 0))
        };
        // A SYN-ACK offers scaling only if the SYN did (RFC 7323 1.3).
        let window_scale =
            (config.window_scaling && (!passive || self.wscale_ok)).then_some(self.offered_wscale);
        let (ack_flag, rcv_edge) = if passive {
            (flags::ACK, self.rcv_nxt + self.rx.free().min(65_535) as u32)
        } else {
            (0, self.rcv_adv)
        };
        Plan {
            seq: self.iss,
            flags: flags::SYN | ack_flag,
            len: 0,
            // The window of a SYN is never scaled (RFC 7323 2.2).
            window: self.rx.free().min(65_535) as u16,
            rcv_edge,
            options: OptionsOut {
                mss: Some(super::tcb::max_mss_to(config, self.remote)),
                window_scale,
                timestamps,
                // A SYN-ACK offers SACK only if the SYN did.
                sack_permitted: if passive { self.sack_ok } else { config.sack },
                ..OptionsOut::default()
            },
            kind: PlanKind::Syn,
        }
    }

    fn plan_retransmit_head(&mut self, now: Instant) -> Option<Plan> {
        if !self.retransmit_head || self.snd_una == self.snd_max {
            self.retransmit_head = false;
            return None;
        }
        let end = self.data_end();
        let data = if self.snd_una.before(end) {
            ((end - self.snd_una) as usize).min(self.mss)
        } else {
            0
        };
        let fin = self.fin_sent() && self.snd_una + data as u32 == end;
        if data == 0 && !fin {
            self.retransmit_head = false;
            return None;
        }
        let mut plan = self.plan_control(now, self.snd_una, flags::ACK, PlanKind::RetransmitHead);
        let room = self.data_room(&plan);
        let fin = fin && data <= room;
        let data = data.min(room);
        plan.len = data;
        if fin {
            plan.flags |= flags::FIN;
        }
        Some(plan)
    }

    /// The tail loss probe (RFC 8985 7.3): a new segment if the peer's
    /// window has room (whatever the congestion window), else the last
    /// segment sent again; either draws an ACK that shows what was lost.
    fn plan_tail_loss_probe(&mut self, now: Instant) -> Option<Plan> {
        if !std::mem::take(&mut self.tlp_due) || self.snd_una == self.snd_max {
            return None;
        }
        let unsent = self.unsent();
        let window_room = self.snd_wnd.saturating_sub(self.flight());
        let probe_len = unsent.min(self.mss);
        // New data only when a whole segment of it fits the peer's window
        // (as Linux's tcp_snd_wnd_test): a sliver would be the silly
        // window RFC 1122 4.2.3.4 forbids; the last segment goes again
        // instead.
        if probe_len > 0 && window_room >= probe_len {
            let mut plan = self.plan_control(now, self.snd_nxt, flags::ACK, PlanKind::Data);
            plan.len = probe_len;
            self.tlp_probe = Some(plan.seq);
            return Some(plan);
        }
        let data_end = self.data_end().min(self.snd_max);
        if !self.snd_una.before(data_end) {
            // Only a FIN is out: resend it the usual way.
            self.retransmit_head = true;
            return self.plan_retransmit_head(now);
        }
        let len = ((data_end - self.snd_una) as usize).min(self.mss);
        let mut plan = self.plan_control(
            now,
            data_end - len as u32,
            flags::ACK,
            PlanKind::RetransmitHole,
        );
        plan.len = len;
        self.tlp_probe = Some(plan.seq);
        Some(plan)
    }

    /// New data at `snd_nxt` (or the same data again after a timeout),
    /// within both windows, when Nagle and SWS avoidance allow it
    /// (RFC 1122 4.2.3.4; RFC 9293 3.7.4); then the FIN.
    fn plan_data(&mut self, now: Instant) -> Option<Plan> {
        if !self.state.can_send() {
            return None;
        }
        let unsent = self.unsent();
        if unsent > 0 {
            let len = self.sendable_len();
            if len == 0 {
                return None;
            }
            let mut plan = self.plan_control(now, self.snd_nxt, flags::ACK, PlanKind::Data);
            // SACK blocks ride in the option space: the data makes room.
            let len = len.min(self.data_room(&plan));
            plan.len = len;
            if len == unsent && self.fin_queued {
                plan.flags |= flags::FIN;
            }
            return Some(plan);
        }
        let end = self.data_end();
        if self.fin_queued && self.snd_nxt == end {
            return Some(self.plan_control(now, end, flags::ACK | flags::FIN, PlanKind::Data));
        }
        None
    }

    /// Bytes of data that may leave at `snd_nxt` now: within both windows
    /// and one MSS, and (for new data) allowed by Nagle and sender-side SWS
    /// avoidance (RFC 1122 4.2.3.4: a full segment, or everything queued
    /// when nothing is in flight, Nagle is off or no short segment is
    /// unacknowledged, or half the peer's largest window). Data sent before (after a timeout) and the SWS override
    /// timer's segment go regardless. Zero when nothing may go.
    pub fn sendable_len(&self) -> usize {
        let unsent = self.unsent();
        let flight = self.flight();
        let peer_room = self.snd_wnd.saturating_sub(flight);
        let len = unsent
            .min(peer_room)
            .min(self.congestion_room())
            .min(self.mss);
        if len == 0 {
            return 0;
        }
        let idle = flight == 0;
        let resend = self.snd_nxt.before(self.snd_max);
        // Minshall's Nagle (as Linux): a short segment waits only while an
        // earlier short one is unacknowledged, so the tail of a write
        // longer than the MSS is not held for a round trip.
        let small_unacked = self.snd_sml.after(self.snd_una);
        let allowed = resend
            || self.override_sws
            || len == self.mss
            || (len == unsent && (self.nodelay || idle || !small_unacked || self.fin_queued))
            || (idle && len >= self.max_snd_wnd / 2);
        if allowed {
            len
        } else {
            0
        }
    }

    /// Data bytes a segment with `plan`'s options may carry: SACK blocks
    /// ride in the option space, so the data makes room.
    pub(super) fn data_room(&self, plan: &Plan) -> usize {
        self.mss.saturating_sub(sack_bytes(&plan.options)).max(1)
    }

    /// A segment without data: header fields, window and timestamps.
    pub(super) fn plan_control(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        control: u8,
        kind: PlanKind,
    ) -> Plan {
        let (window, rcv_edge) = self.window_to_advertise();
        Plan {
            seq,
            flags: control,
            len: 0,
            window,
            rcv_edge,
            options: OptionsOut {
                timestamps: self.timestamps.map(|ts| (self.ts_val(now), ts.recent)),
                ..self.sack_option()
            },
            kind,
        }
    }

    /// SACK blocks for our next ACK (RFC 2018 4; RFC 2883): a D-SACK block
    /// first if a duplicate arrived, then the block holding the latest
    /// out-of-order segment, then the others; at most 3 beside timestamps,
    /// 4 without.
    pub fn sack_option(&self) -> OptionsOut {
        let mut options = OptionsOut::default();
        // The usual case, on every segment: nothing to report.
        if !self.sack_ok || (self.dsack.is_none() && self.ooo.is_empty()) {
            return options;
        }
        let max = if self.timestamps.is_some() { 3 } else { 4 };
        let push = |block: (SeqNumber, SeqNumber), options: &mut OptionsOut| {
            let count = usize::from(options.sack_count);
            if count < max && !options.sack_blocks[..count].contains(&block) {
                options.sack_blocks[count] = block;
                options.sack_count += 1;
            }
        };
        if let Some(dup) = self.dsack {
            push(dup, &mut options);
        }
        let blocks = self
            .ooo
            .ranges()
            .iter()
            .map(|&(start, end)| (self.rcv_nxt + start, self.rcv_nxt + end));
        let latest = self.last_ooo.and_then(|(seq, _)| {
            blocks
                .clone()
                .find(|&(left, right)| !seq.before(left) && seq.before(right))
        });
        if let Some(block) = latest {
            push(block, &mut options);
        }
        for block in blocks {
            push(block, &mut options);
        }
        options
    }

    /// The window to advertise, scaled, and the right edge it stands for.
    /// The edge moves right only by at least min(buffer / 2, MSS) (RFC
    /// 1122 4.2.3.3) and never left.
    fn window_to_advertise(&self) -> (u16, SeqNumber) {
        let edge = self.candidate_edge();
        let current = self.rcv_adv.max(self.rcv_nxt);
        let threshold = (self.rx.capacity() / 2).min(self.rcv_mss) as u32;
        let edge = if edge.after(current) && edge - current >= threshold {
            edge
        } else {
            current
        };
        let window = (edge - self.rcv_nxt) >> self.rcv_wscale;
        (window.min(u32::from(u16::MAX)) as u16, edge)
    }

    /// The right edge the free receive space would allow.
    fn candidate_edge(&self) -> SeqNumber {
        let max = u32::from(u16::MAX) << self.rcv_wscale;
        self.rcv_nxt + (self.rx.free() as u32).min(max)
    }

    /// Whether reading has opened the window enough to announce it: the
    /// new window at least doubles the advertised one, as Linux decides.
    pub fn window_update_due(&self) -> bool {
        if !self.state.can_receive() {
            return false;
        }
        let current = self.rcv_wnd();
        let candidate = self.candidate_edge() - self.rcv_nxt;
        let threshold = (self.rx.capacity() / 2).min(self.rcv_mss) as u32;
        candidate >= current.saturating_mul(2) && candidate - current >= threshold
    }

    /// The segment `plan` describes, borrowing the send buffer.
    pub fn segment(&self, plan: &Plan) -> SegmentOut<'_> {
        let payload = if plan.len > 0 {
            Payload::Ring {
                ring: &self.tx,
                offset: (plan.seq - self.tx_start) as usize,
                len: plan.len,
            }
        } else {
            Payload::None
        };
        SegmentOut {
            local: self.local,
            remote: self.remote,
            seq: plan.seq,
            ack: if plan.flags & flags::ACK != 0 {
                self.rcv_nxt
            } else {
                SeqNumber(0)
            },
            flags: plan.flags | self.push_flag(plan),
            window: plan.window,
            options: plan.options,
            payload,
        }
    }

    /// The sequence number of a segment without data (an ACK, a RST):
    /// the highest sent rather than RFC 9293's SND.NXT, as Linux's
    /// tcp_acceptable_seq. After a timeout SND.NXT goes back to resend,
    /// below what the peer may already hold; an ACK numbered there is
    /// old to the peer and dropped unread, and two ends that both timed
    /// out would then never hear each other's ACKs. Kept inside the
    /// peer's window should it have shrunk.
    pub(super) fn control_seq(&self) -> SeqNumber {
        let window_end = self.snd_una + self.snd_wnd.min(1 << 30) as u32;
        if self.snd_max.after(window_end) {
            window_end.max(self.snd_nxt)
        } else {
            self.snd_max
        }
    }

    /// PSH on every data segment that reaches the end of what the
    /// application wrote: first sends, retransmissions and probes alike
    /// (RFC 9293 3.9.1's push, as Linux keeps it on resent segments).
    fn push_flag(&self, plan: &Plan) -> u8 {
        if plan.len > 0 && plan.seq + plan.len as u32 == self.data_end() {
            flags::PSH
        } else {
            0
        }
    }

    /// Records that `plan` was sent at `now`.
    pub fn commit(&mut self, now: Instant, plan: &Plan, stats: &mut TcpStats) {
        stats.tx_segments += 1;
        stats.tx_data_bytes += plan.len as u64;
        if plan.flags & flags::ACK != 0 {
            self.ack_now = false;
            self.dsack = None;
            self.dup_acks_owed = self.dup_acks_owed.saturating_sub(1);
            self.unacked_bytes = 0;
            self.set_timer(Timer::DelayedAck, None);
            if plan.rcv_edge.after(self.rcv_adv) {
                self.rcv_adv = plan.rcv_edge;
            }
        }
        let occupied = plan.len as u32
            + u32::from(plan.flags & flags::SYN != 0)
            + u32::from(plan.flags & flags::FIN != 0);
        let end = plan.seq + occupied;
        match plan.kind {
            PlanKind::Syn => self.send_syn = false,
            PlanKind::RetransmitHead => {
                self.retransmit_head = false;
                self.high_rxt = self.high_rxt.max(end);
                self.watch_head_retransmit();
            }
            PlanKind::RetransmitHole => {
                self.hole_due = false;
                self.high_rxt = self.high_rxt.max(end);
                if plan.seq == self.snd_una {
                    self.watch_head_retransmit();
                }
            }
            PlanKind::Rescue => {
                stats.rescue_retransmits += 1;
                self.rescue_rxt = self.recover;
            }
            PlanKind::Probe => {
                if std::mem::take(&mut self.keepalive_due) {
                    stats.keepalive_probes += 1;
                } else {
                    self.probe_due = false;
                    stats.window_probes += 1;
                }
            }
            PlanKind::Reset => {
                stats.tx_resets += 1;
                self.enter_closed();
                return;
            }
            PlanKind::Data => {
                self.override_sws = false;
                if plan.len < self.mss && (plan.seq + plan.len as u32).after(self.snd_sml) {
                    self.snd_sml = plan.seq + plan.len as u32;
                }
            }
            PlanKind::Ack => {}
        }
        if occupied == 0 {
            return;
        }
        if self.sack_ok && plan.len > 0 {
            let retransmission = plan.seq.before(self.snd_max);
            self.rack
                .on_send(plan.seq, plan.seq + plan.len as u32, now, retransmission);
        }
        if plan.seq.before(self.snd_max) {
            stats.tx_retransmits += 1;
            // Karn: a retransmitted range cannot be timed.
            self.rtt_probe = None;
        } else if self.rtt_probe.is_none() && self.timestamps.is_none() {
            self.rtt_probe = Some((plan.seq, now));
        }
        let resend = matches!(
            plan.kind,
            PlanKind::RetransmitHead | PlanKind::RetransmitHole | PlanKind::Rescue
        );
        if end.after(self.snd_nxt) && !resend {
            self.snd_nxt = end;
        }
        let new_data = end.after(self.snd_max);
        if new_data {
            self.snd_max = end;
        }
        if self.timer(Timer::Retransmit).is_none() {
            let timeout = self.rtt.backed_off(self.backoff);
            self.set_timer(Timer::Retransmit, Some(now + timeout));
        }
        // RFC 8985 7.2: the probe timer (re)starts after new data is sent,
        // so it sees the whole flight of a burst, not its first segment.
        if new_data || self.timer(Timer::TailLossProbe).is_none() {
            self.arm_tail_loss_probe(now);
        }
    }
}
