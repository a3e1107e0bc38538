//! Timer expiry for one connection: retransmission with exponential
//! backoff until the retry limit (then ETIMEDOUT), zero-window probes,
//! delayed ACKs, and the end of TIME_WAIT or an orphaned FIN_WAIT_2. Also
//! keeps the retransmission and persist timers consistent with what is
//! outstanding after every change.

use super::config::TcpConfig;
use super::error::TcpError;
use super::state::State;
use super::tcb::{Owner, Tcb, Timer};
use crate::stats::TcpStats;
use crate::tcp::congestion::CongestionControl;
use crate::time::Instant;

impl Tcb {
    /// Runs every timer due at `now`.
    pub fn on_timers(&mut self, now: Instant, config: &TcpConfig, stats: &mut TcpStats) {
        let due = |at: Option<Instant>| at.is_some_and(|at| at <= now);
        if due(self.timer(Timer::Linger)) {
            self.set_timer(Timer::Linger, None);
            if matches!(self.state, State::TimeWait | State::FinWait2) {
                self.enter_closed();
                return;
            }
        }
        // Before the RTO: a probe armed for the RTO's own deadline goes
        // out instead of it.
        if due(self.timer(Timer::TailLossProbe)) {
            self.set_timer(Timer::TailLossProbe, None);
            if self.snd_una != self.snd_max && self.recover.is_none() && !self.tlp_outstanding {
                self.tlp_due = true;
                self.tlp_outstanding = true;
                stats.tail_loss_probes += 1;
                // RFC 8985 7.3: after a probe the RTO MUST be re-armed (a
                // full RTO from now), not left to its old deadline.
                let timeout = self.rtt.backed_off(self.backoff);
                self.set_timer(Timer::Retransmit, Some(now + timeout));
            }
        }
        if due(self.timer(Timer::RackReorder)) {
            self.set_timer(Timer::RackReorder, None);
            self.rack_check(now, stats);
        }
        if due(self.timer(Timer::Retransmit)) {
            self.set_timer(Timer::Retransmit, None);
            self.on_retransmit_timeout(now, config, stats);
            if self.state == State::Closed {
                return;
            }
        }
        if due(self.timer(Timer::Persist)) {
            self.set_timer(Timer::Persist, None);
            if self.unsent() > 0 {
                // A zero window gets a probe; a window too small for SWS
                // avoidance gets what fits, so a lost window update cannot
                // stall the connection.
                if self.snd_wnd == 0 {
                    self.probe_due = true;
                } else {
                    self.override_sws = true;
                }
                self.persist_backoff = self.persist_backoff.saturating_add(1);
            }
        }
        if due(self.timer(Timer::Keepalive)) {
            self.set_timer(Timer::Keepalive, None);
            self.on_keepalive_timeout(now, stats);
            if self.state == State::Closed {
                return;
            }
        }
        if due(self.timer(Timer::DelayedAck)) {
            self.set_timer(Timer::DelayedAck, None);
            if self.unacked_bytes > 0 {
                stats.delayed_acks += 1;
                self.ack_now = true;
            }
        }
    }

    /// RFC 1122 4.2.3.6: after `idle` of silence, probe every `interval`;
    /// `count` unanswered probes end the connection with ETIMEDOUT. While
    /// data is outstanding the retransmission timer watches the peer.
    fn on_keepalive_timeout(&mut self, now: Instant, stats: &mut TcpStats) {
        let Some(keepalive) = self.keepalive else {
            return;
        };
        if !matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait2
        ) {
            return;
        }
        if self.snd_una != self.snd_max || self.unsent() > 0 {
            self.set_timer(Timer::Keepalive, Some(now + keepalive.idle));
            return;
        }
        if self.keepalive_probes >= keepalive.count {
            stats.keepalive_timeouts += 1;
            stats.timeouts += 1;
            // As Linux's tcp_keepalive_timer: a RST goes out (should the
            // peer be alive behind a one-way path, it learns the end),
            // and the connection closes when it is sent.
            self.error = Some(TcpError::TimedOut);
            self.send_rst = true;
            return;
        }
        self.keepalive_probes += 1;
        self.keepalive_due = true;
        self.set_timer(Timer::Keepalive, Some(now + keepalive.interval));
    }

    /// RFC 6298 5.4-5.6: retransmit the earliest unacknowledged segment,
    /// back the timer off, and (RFC 5681 3.1) collapse the window.
    fn on_retransmit_timeout(&mut self, now: Instant, config: &TcpConfig, stats: &mut TcpStats) {
        let outstanding = self.snd_una != self.snd_max;
        if !outstanding && !matches!(self.state, State::SynSent | State::SynReceived) {
            return;
        }
        let limit = match self.state {
            State::SynSent => config.syn_retries,
            State::SynReceived => config.synack_retries,
            _ => config.max_retries,
        };
        if self.backoff >= limit {
            stats.timeouts += 1;
            if matches!(self.state, State::SynSent | State::SynReceived) {
                stats.attempt_fails += 1;
            }
            if matches!(self.owner, Owner::Listener(_)) && self.state == State::SynReceived {
                // A half-open connection nobody saw: dropped silently, as Linux does.
                self.enter_closed();
            } else {
                let error = self.soft_error.take().unwrap_or(TcpError::TimedOut);
                self.fail(error);
            }
            return;
        }
        self.backoff += 1;
        stats.rto_expirations += 1;
        match self.state {
            State::SynSent | State::SynReceived => self.send_syn = true,
            _ => {
                self.cc.on_timeout(self.flight().max(self.mss), self.mss);
                self.recover = None;
                self.high_recover = self.snd_max;
                self.dup_acks = 0;
                self.retransmit_head = false;
                self.hole_due = false;
                self.tlp_due = false;
                self.tlp_probe = None;
                self.rack_lost_to = None;
                self.rack.on_timeout();
                self.set_timer(Timer::RackReorder, None);
                self.set_timer(Timer::TailLossProbe, None);
                self.high_rxt = self.snd_una;
                self.snd_nxt = self.snd_una;
            }
        }
        self.rtt_probe = None;
        let timeout = self.rtt.backed_off(self.backoff);
        self.set_timer(Timer::Retransmit, Some(now + timeout));
    }

    /// Arms or stops the persist timer after a change: it runs while data
    /// waits, nothing is in flight, and the peer's window is zero (RFC 9293
    /// 3.8.6.1) or too small for SWS avoidance to send (RFC 1122 4.2.3.4's
    /// override timeout); otherwise the retransmission timer covers us.
    pub fn update_persist(&mut self, now: Instant) {
        let stalled = self.unsent() > 0
            && self.snd_una == self.snd_max
            && self.state.can_send()
            && self.sendable_len() == 0;
        if !stalled {
            self.set_timer(Timer::Persist, None);
            self.persist_backoff = 0;
            self.probe_due = false;
        } else if self.timer(Timer::Persist).is_none() && !self.probe_due && !self.override_sws {
            let timeout = self.rtt.backed_off(self.persist_backoff);
            self.set_timer(Timer::Persist, Some(now + timeout));
        }
    }
}
