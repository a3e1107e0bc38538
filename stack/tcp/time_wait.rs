//! TIME-WAIT of connections the application has closed, kept as a small
//! record per pair instead of a whole control block (Linux's
//! `inet_timewait_sock`).
//!
//! An orphan in TIME-WAIT will never send data or hold buffers again: all
//! it still does for 2 MSL is acknowledge a retransmitted FIN, answer stray
//! segments with an ACK, refuse old duplicates (PAWS) and let a newer
//! incarnation take the pair over (RFC 6191). That needs the sequence
//! numbers, the window last advertised and the timestamp state: a few
//! dozen bytes where the control block, its congestion state and its
//! allocations take kilobytes, and a client closing connections at a high
//! rate otherwise fills its table and the cache with them. Expiry is on a
//! timing wheel of its own (one per stack, like the connections').

pub use super::pair_map::FourTuple;
use super::pair_map::PairMap;
use super::segment::{flags, Segment};
use super::seq::SeqNumber;
use super::tcb::{Reply, Tcb, Timer, Timestamps};
use crate::stats::TcpStats;
use crate::time::{Duration, Instant};
use crate::timer::{TimerHandle, TimerWheel};

/// What is left of one connection in TIME-WAIT.
#[derive(Debug, Clone, Copy)]
pub struct TimeWait {
    /// Our next sequence number (our FIN is acknowledged: nothing is out).
    pub snd_nxt: SeqNumber,
    /// The peer's next sequence number (just past its FIN).
    pub rcv_nxt: SeqNumber,
    /// The receive window last advertised, in bytes (the acceptability
    /// test of RFC 9293 3.10.7.4 uses it).
    pub rcv_wnd: u32,
    /// The window field our ACKs carry (`rcv_wnd` scaled down).
    pub window_field: u16,
    /// TS.Recent and our TSval offset, if the connection used timestamps.
    pub timestamps: Option<Timestamps>,
    timer: TimerHandle,
}

impl TimeWait {
    /// The ACK that shows the peer where we stand: `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
    fn ack(&self, now: Instant, (local, remote): FourTuple) -> Reply {
        let timestamps = self.timestamps.map(|ts| {
            let val = ((now.as_nanos() / 1_000_000) as u32).wrapping_add(ts.offset);
            (val, ts.recent)
        });
        Reply {
            local,
            remote,
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags: flags::ACK,
            window: self.window_field,
            options: super::emit::OptionsOut {
                timestamps,
                ..Default::default()
            },
        }
    }

    /// RFC 6191: whether a SYN may open a new incarnation of the pair
    /// ([`newer_incarnation`]).
    pub fn reusable_by(&self, syn: &Segment<'_>) -> bool {
        newer_incarnation(self.timestamps, self.rcv_nxt, syn)
    }
}

/// RFC 6191: whether `syn` belongs to a newer incarnation of a pair whose
/// old one had `timestamps` and ended at `rcv_nxt`: a larger timestamp if
/// both used them, else a sequence number past the old one's end.
pub fn newer_incarnation(
    timestamps: Option<Timestamps>,
    rcv_nxt: SeqNumber,
    syn: &Segment<'_>,
) -> bool {
    match (timestamps, syn.options.timestamps) {
        (Some(ts), Some((val, _))) => (val.wrapping_sub(ts.recent) as i32) > 0,
        _ => syn.seq.after(rcv_nxt),
    }
}

/// What a segment for a pair in TIME-WAIT calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeWaitReply {
    /// Nothing.
    None,
    /// This ACK.
    Ack(Reply),
    /// This ACK, as a challenge (RFC 5961), if the rate limit allows.
    Challenge(Reply),
}

/// Every pair in TIME-WAIT whose connection the application had closed.
#[derive(Default)]
pub struct TimeWaits {
    entries: PairMap<TimeWait>,
    wheel: TimerWheel<FourTuple>,
    expired: Vec<FourTuple>,
}

impl TimeWaits {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pairs in TIME-WAIT: (local, remote).
    pub fn pairs(&self) -> impl Iterator<Item = FourTuple> + '_ {
        self.entries.pairs()
    }

    /// Pairs in TIME-WAIT.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if no pair is in TIME-WAIT.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The record of `tuple`, if in TIME-WAIT.
    pub fn get(&self, tuple: &FourTuple) -> Option<&TimeWait> {
        self.entries.get(tuple)
    }

    /// Keeps what TIME-WAIT needs of `tcb` (an orphan in TIME-WAIT) until
    /// its linger timer (or `now + duration` if it has none) runs out.
    /// Returns the ACK the connection still owed the peer (for the FIN that
    /// brought it here), if it owed one.
    pub fn insert_from(&mut self, tcb: &Tcb, now: Instant, duration: Duration) -> Option<Reply> {
        let tuple = (tcb.local, tcb.remote);
        let expires = tcb.timer(Timer::Linger).unwrap_or(now + duration);
        let rcv_wnd = tcb.rcv_wnd();
        let record = TimeWait {
            snd_nxt: tcb.snd_nxt,
            rcv_nxt: tcb.rcv_nxt,
            rcv_wnd,
            window_field: (rcv_wnd >> tcb.rcv_wscale).min(u32::from(u16::MAX)) as u16,
            timestamps: tcb.timestamps,
            timer: self.wheel.schedule(tuple, expires),
        };
        let owed = (tcb.ack_now || tcb.dup_acks_owed > 0).then(|| record.ack(now, tuple));
        if let Some(old) = self.entries.insert(tuple, record) {
            self.wheel.cancel(old.timer);
        }
        owed
    }

    /// True if a pair in TIME-WAIT has local port `port`.
    pub fn uses_port(&self, port: u16) -> bool {
        self.entries.uses_local_port(port)
    }

    /// Forgets `tuple` (a new incarnation takes the pair over).
    pub fn remove(&mut self, tuple: &FourTuple) -> Option<TimeWait> {
        let record = self.entries.remove(tuple)?;
        self.wheel.cancel(record.timer);
        Some(record)
    }

    /// Forgets every pair whose 2 MSL ran out by `now`.
    pub fn expire(&mut self, now: Instant) {
        if !self.wheel.ticks_behind(now) {
            return;
        }
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.wheel.advance(now, &mut expired);
        for &tuple in &expired {
            self.entries.remove(&tuple);
        }
        self.expired = expired;
    }

    /// When [`expire`](Self::expire) next has work.
    pub fn poll_at(&self) -> Option<Instant> {
        self.wheel.poll_at()
    }

    /// RFC 9293 3.10.7.4 in TIME-WAIT, with PAWS (RFC 7323 5) and the RFC
    /// 5961 checks, as a full control block would do it (the caller has
    /// already let a newer SYN take the pair over).
    pub fn input(
        &mut self,
        now: Instant,
        tuple: FourTuple,
        seg: &Segment<'_>,
        restart: Duration,
        stats: &mut TcpStats,
    ) -> TimeWaitReply {
        let Some(record) = self.entries.get_mut(&tuple) else {
            return TimeWaitReply::None;
        };
        let rst = seg.has(flags::RST);
        if let (Some(ts), Some((val, _))) = (record.timestamps, seg.options.timestamps) {
            if !rst && (val.wrapping_sub(ts.recent) as i32) < 0 {
                stats.rx_paws_dropped += 1;
                return TimeWaitReply::Ack(record.ack(now, tuple));
            }
        }
        let (rcv_nxt, window) = (record.rcv_nxt, record.rcv_wnd);
        let acceptable = match (seg.len(), window) {
            (0, 0) => seg.seq == rcv_nxt,
            (0, w) => seg.seq.in_window(rcv_nxt, w),
            (_, 0) => false,
            (n, w) => seg.seq.in_window(rcv_nxt, w) || (seg.seq + (n - 1)).in_window(rcv_nxt, w),
        };
        if !acceptable {
            if rst {
                return TimeWaitReply::None;
            }
            if (seg.seq + seg.len()).before(rcv_nxt) || seg.seq + seg.len() == rcv_nxt {
                stats.rx_duplicate += 1;
            } else {
                stats.rx_outside_window += 1;
            }
            if seg.has(flags::FIN) {
                // A retransmitted FIN: our ACK was lost; 2 MSL starts again.
                let expires = now + restart;
                self.wheel.cancel(record.timer);
                record.timer = self.wheel.schedule(tuple, expires);
            }
            return TimeWaitReply::Ack(record.ack(now, tuple));
        }
        if let (Some(ts), Some((val, _))) = (record.timestamps.as_mut(), seg.options.timestamps) {
            if !seg.seq.after(rcv_nxt) {
                ts.recent = val;
            }
        }
        if rst {
            // RFC 1337: a reset must not cut TIME-WAIT short; RFC 5961 3.2:
            // one not exactly at RCV.NXT is challenged.
            if seg.seq != rcv_nxt {
                return TimeWaitReply::Challenge(record.ack(now, tuple));
            }
            return TimeWaitReply::None;
        }
        if seg.has(flags::SYN) {
            return TimeWaitReply::Challenge(record.ack(now, tuple));
        }
        // An ACK or text: nothing left to acknowledge or to read.
        TimeWaitReply::None
    }
}
