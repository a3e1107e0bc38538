//! Segment arrival for an existing connection: RFC 9293 3.10.7.3
//! (SYN-SENT) and 3.10.7.4 (every other state), step by step, with PAWS
//! (RFC 7323 5) and the RFC 5961 checks on RSTs and SYNs.

use super::config::TcpConfig;
use super::error::TcpError;
use super::segment::{flags, Segment};
use super::state::State;
use super::tcb::{Owner, Reply, Tcb, Timer};
use crate::stats::TcpStats;
use crate::tcp::congestion::CongestionControl;
use crate::time::{Duration, Instant};

/// Most duplicate ACKs queued by one burst of out-of-order segments.
const MAX_DUP_ACKS_OWED: u32 = 64;

impl Tcb {
    /// Processes one segment addressed to this connection. A reply that
    /// is not part of the connection's own output (a reset for an
    /// unacceptable ACK) is returned for the caller to send.
    pub fn input(
        &mut self,
        now: Instant,
        seg: &Segment<'_>,
        config: &TcpConfig,
        stats: &mut TcpStats,
    ) -> Option<Reply> {
        match self.state {
            State::SynSent => return self.input_syn_sent(now, seg, config, stats),
            State::Closed | State::Listen => return None,
            _ => {}
        }
        self.heard_from_peer(now);
        // After a simultaneous open the peer's SYN-ACK acknowledges our SYN:
        // as Linux does, it completes the open like an ACK (RFC 9293 would
        // drop it as old and answer with the ACK that completes the peer's).
        let crossing_syn_ack = self.state == State::SynReceived
            && seg.has(flags::SYN)
            && seg.has(flags::ACK)
            && seg.seq == self.irs
            && seg.ack == self.snd_nxt;
        if crossing_syn_ack {
            self.ack_now = true;
        }
        // RFC 7323 5.3 R1: PAWS, before the sequence check; RSTs are exempt.
        if let (Some(ts), Some((val, _))) = (self.timestamps, seg.options.timestamps) {
            if !seg.has(flags::RST) && (val.wrapping_sub(ts.recent) as i32) < 0 {
                stats.rx_paws_dropped += 1;
                self.ack_now = true;
                return None;
            }
        }
        // First: is the segment acceptable (RFC 9293 3.10.7.4, the four cases)?
        let window = self.rcv_wnd();
        let acceptable = match (seg.len(), window) {
            (0, 0) => seg.seq == self.rcv_nxt,
            (0, w) => seg.seq.in_window(self.rcv_nxt, w),
            (_, 0) => false,
            (n, w) => {
                seg.seq.in_window(self.rcv_nxt, w) || (seg.seq + (n - 1)).in_window(self.rcv_nxt, w)
            }
        };
        // A zero window still takes ACKs and RSTs at exactly rcv_nxt.
        let ack_only = !acceptable && window == 0 && seg.seq == self.rcv_nxt;
        if !acceptable && !ack_only && !crossing_syn_ack {
            if !seg.has(flags::RST) {
                if (seg.seq + seg.len()).before(self.rcv_nxt) || seg.seq + seg.len() == self.rcv_nxt
                {
                    stats.rx_duplicate += 1;
                    if !seg.payload.is_empty() {
                        // RFC 2883: report what arrived twice.
                        self.dsack = Some((seg.seq, seg.seq + seg.payload.len() as u32));
                    }
                } else {
                    stats.rx_outside_window += 1;
                }
                self.ack_now = true;
                // A retransmitted FIN restarts TIME_WAIT (RFC 9293 3.10.7.4, eighth).
                if self.state == State::TimeWait && seg.has(flags::FIN) {
                    self.set_timer(Timer::Linger, Some(now + config.time_wait));
                }
            }
            return None;
        }
        if let (Some(ts), Some((val, _))) = (self.timestamps.as_mut(), seg.options.timestamps) {
            // RFC 7323 4.3: remember TSval of a segment covering rcv_nxt.
            if !seg.seq.after(self.rcv_nxt) {
                ts.recent = val;
            }
        }
        // Second: RST (RFC 5961 3.2: only the exact next sequence resets).
        if seg.has(flags::RST) {
            self.input_rst(seg, stats);
            return None;
        }
        // Fourth: a SYN here is answered with a challenge ACK (RFC 5961 4.2),
        // except the peer's retransmitted SYN in SYN-RECEIVED.
        if seg.has(flags::SYN) && !crossing_syn_ack {
            if self.state == State::SynReceived && seg.seq == self.irs {
                self.send_syn = true;
            } else {
                self.challenge_due = true;
            }
            return None;
        }
        // Fifth: the ACK field.
        if !seg.has(flags::ACK) {
            return None;
        }
        if self.state == State::SynReceived {
            if !seg.ack.after(self.snd_una) || seg.ack.after(self.snd_max) {
                return Some(Reply::reset_for(self.local, self.remote, seg));
            }
            self.state = State::Established;
            stats.established += 1;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.snd_wnd = usize::from(seg.window) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        }
        if !self.input_ack(now, seg, stats) {
            return None;
        }
        match self.state {
            State::FinWait1 if self.fin_acked() => {
                self.state = State::FinWait2;
                if self.owner == Owner::Orphan {
                    self.set_timer(Timer::Linger, Some(now + config.fin_wait2_timeout));
                }
            }
            State::Closing if self.fin_acked() => {
                self.enter_time_wait(now, config.time_wait);
                return None;
            }
            State::LastAck if self.fin_acked() => {
                self.enter_closed();
                return None;
            }
            _ => {}
        }
        if ack_only {
            // Data (or a FIN) past a zero window is dropped but answered
            // (RFC 9293 3.10.7.4: an unacceptable segment draws an ACK):
            // a peer probing with a byte of new data learns the window.
            if !seg.is_empty() {
                stats.rx_outside_window += 1;
                self.ack_now = true;
            }
            return None;
        }
        // Seventh: the segment text.
        if !seg.payload.is_empty() && self.state.can_receive() {
            if self.owner == Owner::Orphan {
                // Nobody will read it: tell the peer, as Linux does.
                stats.rx_after_close += 1;
                self.send_rst = true;
                return None;
            }
            self.input_data(now, seg, config, stats);
        }
        // Eighth: FIN, in sequence once every byte before it has arrived.
        if seg.has(flags::FIN) && self.peer_fin.is_none() && !self.fin_received {
            self.peer_fin = Some(seg.seq + seg.payload.len() as u32);
        }
        self.input_fin(now, config);
        None
    }

    fn input_rst(&mut self, seg: &Segment<'_>, stats: &mut TcpStats) {
        if seg.seq != self.rcv_nxt {
            self.challenge_due = true;
            return;
        }
        match self.state {
            State::SynReceived => {
                stats.attempt_fails += 1;
                if matches!(self.owner, Owner::Listener(_)) {
                    // Passive open: back to LISTEN, which for us is forgetting it.
                    self.enter_closed();
                } else {
                    self.fail(TcpError::ConnectionRefused);
                }
            }
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                stats.resets_received += 1;
                self.fail(TcpError::ConnectionReset);
            }
            // RFC 1337: a reset must not cut TIME_WAIT short.
            State::TimeWait => {}
            _ => self.enter_closed(),
        }
    }

    /// RFC 9293 3.10.7.3: SYN-SENT.
    fn input_syn_sent(
        &mut self,
        now: Instant,
        seg: &Segment<'_>,
        config: &TcpConfig,
        stats: &mut TcpStats,
    ) -> Option<Reply> {
        let ack_ok = seg.has(flags::ACK);
        if ack_ok && (!seg.ack.after(self.iss) || seg.ack.after(self.snd_max)) {
            if seg.has(flags::RST) {
                return None;
            }
            return Some(Reply::reset_for(self.local, self.remote, seg));
        }
        if seg.has(flags::RST) {
            if ack_ok {
                stats.attempt_fails += 1;
                self.fail(TcpError::ConnectionRefused);
            }
            return None;
        }
        if !seg.has(flags::SYN) {
            return None;
        }
        self.negotiate(config, seg);
        if !ack_ok {
            // Simultaneous open: answer with SYN-ACK (RFC 9293 figure 8).
            self.state = State::SynReceived;
            self.send_syn = true;
            return None;
        }
        self.snd_una = seg.ack;
        self.snd_nxt = self.snd_nxt.max(seg.ack);
        self.snd_wl2 = seg.ack;
        self.state = State::Established;
        stats.established += 1;
        self.ack_now = true;
        self.backoff = 0;
        self.heard_from_peer(now);
        self.take_rtt_sample(now, seg);
        self.set_timer(Timer::Retransmit, None);
        if !seg.payload.is_empty() {
            self.input_data(now, seg, config, stats);
        }
        if seg.has(flags::FIN) {
            self.peer_fin = Some(seg.seq + 1 + seg.payload.len() as u32);
        }
        self.input_fin(now, config);
        None
    }

    /// RFC 9293 3.10.7.4 fifth, ESTABLISHED processing, with NewReno loss
    /// recovery (RFC 5681 3.2, RFC 6582). False when the segment must be
    /// dropped (it acknowledges data never sent).
    fn input_ack(&mut self, now: Instant, seg: &Segment<'_>, stats: &mut TcpStats) -> bool {
        let ack = seg.ack;
        if ack.after(self.snd_max) {
            stats.rx_ack_too_new += 1;
            self.ack_now = true;
            return false;
        }
        // RFC 5961 5.2: an ACK older than the largest window the peer ever
        // offered cannot be a late duplicate of ours: a blind injection.
        let oldest = self.snd_una - (self.max_snd_wnd as u32).min(1 << 30);
        if ack.before(oldest) {
            stats.rx_ack_too_old += 1;
            self.challenge_due = true;
            return false;
        }
        let sacked_before = self.scoreboard.sacked_bytes();
        // Blocks fill the option's slots from the first: most ACKs carry none.
        if self.sack_ok && seg.options.sack_blocks[0].is_some() {
            let resent_sacked = self.resent_after_head_sacked();
            for &(left, right) in seg.options.sack_blocks.iter().flatten() {
                if !right.after(ack.max(self.snd_una)) {
                    // A D-SACK (RFC 2883): the path duplicated or we resent
                    // needlessly; RACK widens its reordering window.
                    self.rack.on_dsack(self.snd_una, self.snd_nxt);
                    continue;
                }
                // RACK hears of the parts SACKed for the first time only: a
                // block repeated in every ACK is no new delivery.
                let to = right.min(self.snd_max);
                let mut cursor = left.max(ack.max(self.snd_una));
                while cursor.before(to) {
                    if let Some(end) = self.scoreboard.skip(cursor) {
                        cursor = end;
                        continue;
                    }
                    let end = self
                        .scoreboard
                        .next_hole(cursor)
                        .map_or(to, |(_, e)| e.min(to));
                    self.rack.on_sacked(cursor, end, now);
                    cursor = end;
                }
                self.scoreboard
                    .add(left, right, ack.max(self.snd_una), self.snd_max);
            }
            let newly = self
                .resent_after_head_sacked()
                .saturating_sub(resent_sacked);
            if let Some(head) = &mut self.head_rxt {
                head.sacked_after += newly;
            }
        }
        // After a timeout (or a recovery) and until an ACK passes the point
        // it had reached, no new recovery starts (RFC 6582 3.2, RFC 6675
        // 5.1); with SACK the holes below what the peer holds are still
        // known lost, and are repaired as ACKs arrive.
        if self.sack_ok
            && self.recover.is_none()
            && !ack.after(self.high_recover)
            && self.scoreboard.sacked_bytes() > 2 * self.mss
        {
            self.hole_due = true;
        }
        if !ack.after(self.snd_una) && self.head_retransmit_lost() {
            stats.lost_retransmits += 1;
            self.retransmit_head = true;
            self.head_rxt = None;
        }
        let window = usize::from(seg.window) << self.snd_wscale;
        let mut window_changed = false;
        if !ack.before(self.snd_una)
            && (self.snd_wl1.before(seg.seq)
                || (self.snd_wl1 == seg.seq && !self.snd_wl2.after(ack)))
        {
            window_changed = window != self.snd_wnd;
            self.snd_wnd = window;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = ack;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
        }
        let mss = self.mss;
        if ack.after(self.snd_una) {
            let acked = (ack - self.snd_una) as usize;
            self.last_ack_advance = acked;
            self.take_rtt_sample(now, seg);
            self.backoff = 0;
            self.persist_backoff = 0;
            let end = self.data_end();
            let data_acked = if ack.after(self.tx_start) {
                ((ack.min(end)) - self.tx_start) as usize
            } else {
                0
            };
            self.tx.consume(data_acked);
            self.tx_start += data_acked as u32;
            self.snd_una = ack;
            if self.snd_nxt.before(ack) {
                self.snd_nxt = ack;
            }
            self.scoreboard.acked(ack);
            if self.sack_ok {
                self.rack.on_cumulative_ack(ack, now);
            }
            self.head_rxt = None;
            let flight = self.flight();
            match self.recover {
                Some(recover) if !ack.before(recover) => {
                    self.cc.on_exit_recovery(flight, mss);
                    self.recover = None;
                    self.rack_lost_to = None;
                    self.rack.on_recovery_end();
                }
                // With SACK the pipe estimate paces the repair (recovery.rs);
                // a new head resent earlier in this recovery is watched.
                Some(_) if self.sack_ok => {
                    if self.snd_una.before(self.high_rxt) {
                        self.watch_head_retransmit();
                    }
                }
                Some(_) => {
                    self.cc.on_partial_ack(acked, mss);
                    self.retransmit_head = true;
                }
                None => self.cc.on_ack(acked, mss, now, self.rtt.srtt()),
            }
            self.dup_acks = 0;
            let next = (self.snd_una != self.snd_max).then(|| now + self.rtt.rto());
            self.set_timer(Timer::Retransmit, next);
            self.tlp_outstanding = false;
            if self.tlp_probe.is_some_and(|start| !ack.before(start)) {
                self.tlp_probe = None;
            }
            self.arm_tail_loss_probe(now);
        } else if ack == self.snd_una
            && self.snd_una != self.snd_max
            // RFC 6675 2: an ACK that SACKs new data is a duplicate whatever
            // else it carries (a receiver growing its window changes the
            // window field on every ACK).
            && (self.scoreboard.sacked_bytes() > sacked_before
                || (seg.payload.is_empty() && !seg.has(flags::FIN) && !window_changed))
        {
            stats.rx_dup_acks += 1;
            self.dup_acks += 1;
            if self.recover.is_some() {
                // With SACK the pipe estimate counts what left the network.
                if !self.sack_ok {
                    self.cc.on_dup_ack_in_recovery(mss);
                }
            } else if (self.dup_acks == 3
                || self.probe_shows_loss()
                // RFC 6675 5 (IsLost): more than two segments SACKed above
                // snd_una also means it is lost, however many duplicates
                // the path delivered.
                || (self.sack_ok && self.scoreboard.sacked_bytes() > 2 * mss))
                && (ack.after(self.high_recover)
                    // With SACK, once everything before the last recovery
                    // point is acknowledged, new SACKed data means a new loss.
                    || (self.sack_ok && ack == self.high_recover)
                    || (self.cc.cwnd() > mss && self.last_ack_advance <= 4 * mss))
            {
                // RFC 6582 3.2 step 2: enter fast recovery. Below the last
                // recovery point, the ACK heuristic of 4.2 tells a new loss
                // (ACKs advancing a few segments at a time) from duplicates
                // caused by our own go-back-N after a timeout (ACKs jumping).
                self.enter_fast_recovery(stats);
            }
        }
        if self.sack_ok && (!self.scoreboard.is_empty() || self.recover.is_some()) {
            self.rack_check(now, stats);
        }
        true
    }

    /// One RTT measurement from the echoed timestamp, or from the timed
    /// segment when timestamps are off (Karn: never from a retransmission;
    /// the probe is dropped when anything is retransmitted).
    fn take_rtt_sample(&mut self, now: Instant, seg: &Segment<'_>) {
        if let (Some(_), Some((_, ecr))) = (self.timestamps, seg.options.timestamps) {
            let elapsed = self.ts_val(now).wrapping_sub(ecr);
            if ecr != 0 && elapsed < 1 << 31 {
                self.rtt.sample(Duration::from_millis(u64::from(elapsed)));
                return;
            }
        }
        if let Some((seq, sent)) = self.rtt_probe {
            if seg.ack.after(seq) {
                self.rtt.sample(now.saturating_duration_since(sent));
                self.rtt_probe = None;
            }
        }
    }

    /// RFC 9293 3.10.7.4 seventh: in-order data goes to the receive
    /// buffer, data past a hole waits in it, recorded by the assembler.
    fn input_data(
        &mut self,
        now: Instant,
        seg: &Segment<'_>,
        config: &TcpConfig,
        stats: &mut TcpStats,
    ) {
        let mut data = seg.payload;
        let mut seq = seg.seq;
        if seg.has(flags::SYN) {
            seq += 1;
        }
        if seq.before(self.rcv_nxt) {
            let skip = (self.rcv_nxt - seq) as usize;
            // RFC 2883: tell the sender what arrived twice.
            self.dsack = Some((seq, seq + skip.min(data.len()) as u32));
            if skip >= data.len() {
                stats.rx_duplicate += 1;
                self.ack_now = true;
                return;
            }
            data = &data[skip..];
            seq = self.rcv_nxt;
        }
        self.rcv_mss = self.rcv_mss.max(data.len());
        let offset = (seq - self.rcv_nxt) as usize;
        if self.rx.growth_for(offset, data.len()) > self.rx_memory_budget {
            // No room under the stack's buffer-memory cap: the peer resends.
            stats.buffer_memory_drops += 1;
            self.ack_now = true;
            return;
        }
        let room = self.rx.free();
        if offset >= room {
            stats.rx_outside_window += 1;
            self.ack_now = true;
            return;
        }
        let data = &data[..data.len().min(room - offset)];
        if offset == 0 {
            let written = self.rx.write_ahead(0, data);
            let _ = self.ooo.add(0, written as u32);
            let ready = self.ooo.take_front() as usize;
            self.rx.commit(ready);
            self.rcv_nxt += ready as u32;
            stats.rx_data_bytes += ready as u64;
            self.unacked_bytes += ready;
            if ready > written || !self.ooo.is_empty() || self.unacked_bytes >= 2 * self.rcv_mss {
                // A hole filled or remains, or two full segments wait (RFC 1122 4.2.3.2).
                self.ack_now = true;
            } else if self.timer(Timer::DelayedAck).is_none() {
                self.set_timer(Timer::DelayedAck, Some(now + config.delayed_ack));
            }
        } else {
            if self.ooo.add(offset as u32, data.len() as u32).is_err() {
                stats.rx_reassembly_full += 1;
            } else {
                self.rx.write_ahead(offset, data);
                self.last_ooo = Some((seq, seq + data.len() as u32));
                stats.rx_out_of_order += 1;
            }
            // An immediate duplicate ACK per segment drives the sender's
            // fast retransmit (RFC 5681 4.2).
            self.ack_now = true;
            self.dup_acks_owed = (self.dup_acks_owed + 1).min(MAX_DUP_ACKS_OWED);
        }
    }

    /// RFC 9293 3.10.7.4 eighth: the FIN, once `rcv_nxt` reaches it.
    fn input_fin(&mut self, now: Instant, config: &TcpConfig) {
        if self.peer_fin != Some(self.rcv_nxt) || self.fin_received {
            return;
        }
        self.fin_received = true;
        self.rcv_nxt += 1;
        self.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(now, config.time_wait),
            State::FinWait1 => self.state = State::Closing,
            State::FinWait2 => self.enter_time_wait(now, config.time_wait),
            _ => {}
        }
    }
}
