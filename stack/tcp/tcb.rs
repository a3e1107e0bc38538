//! The transmission control block: one connection's state, named as in
//! RFC 9293 3.3.1, plus the buffers, options, timers and congestion state
//! that input, output and the timers share.

use super::assembler::Assembler;
use super::config::{window_scale_for, TcpConfig};
use super::congestion::Algorithm;
use super::error::TcpError;
use super::rtt::RttEstimator;
use super::segment::Segment;
use super::seq::SeqNumber;
use super::state::State;
use crate::buf::ByteRing;
use crate::time::Instant;
use crate::timer::TimerHandle;
use std::net::SocketAddr;

/// MSS assumed when the peer's SYN carries none (RFC 9293 3.7.1).
pub const DEFAULT_MSS: u16 = 536;
/// Smallest send MSS accepted from a peer, so a tiny announced MSS cannot
/// make us send one-byte segments (Linux `tcp_min_snd_mss`: 48).
pub const MIN_MSS: usize = 64;
/// Bytes the timestamp option adds to every segment (with its padding).
pub const TIMESTAMP_OPTION_LEN: usize = 12;

/// Per-socket options, fixed when the connection is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    /// Send buffer, in bytes (`SO_SNDBUF`).
    pub send_buffer: usize,
    /// Receive buffer, in bytes (`SO_RCVBUF`).
    pub recv_buffer: usize,
    /// Nagle's algorithm off (`TCP_NODELAY`).
    pub nodelay: bool,
    /// Keepalive (`SO_KEEPALIVE` with `TCP_KEEPIDLE`/`INTVL`/`CNT`), if on.
    pub keepalive: Option<Keepalive>,
    /// Congestion control (`TCP_CONGESTION`).
    pub congestion: Algorithm,
}

impl TcpOptions {
    /// The stack-wide defaults.
    pub fn from_config(config: &TcpConfig) -> Self {
        TcpOptions {
            send_buffer: config.send_buffer,
            recv_buffer: config.recv_buffer,
            nodelay: config.nodelay,
            keepalive: None,
            congestion: config.congestion,
        }
    }
}

/// The largest MSS we announce and send towards `remote`: the
/// configured one (the MTU less IPv4's and TCP's 40 bytes) less what an
/// IPv6 header takes beyond IPv4's.
pub fn max_mss_to(config: &TcpConfig, remote: SocketAddr) -> u16 {
    let extra = crate::addr::ip_header_len(remote.ip()) - 20;
    config.max_mss.saturating_sub(extra as u16)
}

/// The ring a buffer option asks for: at least 1 KiB, at most 1 GiB.
pub fn ring_size(requested: usize) -> usize {
    requested.clamp(1024, 1 << 30)
}

/// Who holds a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The application, through its handle.
    User,
    /// A listener, until accepted (index of the listener's slot).
    Listener(u32),
    /// Nobody: the application closed it; it finishes on its own.
    Orphan,
}

/// The timers one connection runs; each has at most one deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Retransmission (RFC 6298), also of SYN and SYN-ACK.
    Retransmit = 0,
    /// Zero-window probes (RFC 9293 3.8.6.1).
    Persist = 1,
    /// Delayed acknowledgment (RFC 1122 4.2.3.2).
    DelayedAck = 2,
    /// End of TIME_WAIT, or of an orphaned FIN_WAIT_2.
    Linger = 3,
    /// Keepalive: idle time, then probe intervals (RFC 1122 4.2.3.6).
    Keepalive = 4,
    /// Tail loss probe (RFC 8985 7): a segment sent when ACKs stop coming
    /// well before the retransmission timeout.
    TailLossProbe = 5,
    /// RACK's reordering timer (RFC 8985 6.3): a segment not yet deemed
    /// lost will be, unless SACKed by then.
    RackReorder = 6,
}

/// Number of [`Timer`]s.
pub const TIMERS: usize = 7;

/// Keepalive settings of a connection (`TCP_KEEPIDLE`, `TCP_KEEPINTVL`,
/// `TCP_KEEPCNT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe (Linux default 7,200 s).
    pub idle: crate::time::Duration,
    /// Between unanswered probes (Linux default 75 s).
    pub interval: crate::time::Duration,
    /// Unanswered probes before the connection fails with ETIMEDOUT (Linux default 9).
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: crate::time::Duration::from_secs(7200),
            interval: crate::time::Duration::from_secs(75),
            count: 9,
        }
    }
}

/// Timestamp state when both sides use them (RFC 7323 3, 4, 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamps {
    /// TS.Recent: the peer's TSval to echo, and PAWS's reference.
    pub recent: u32,
    /// Added to our millisecond clock to make TSval (random per connection).
    pub offset: u32,
}

/// A reply that belongs to no connection state: a reset for a segment
/// that cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// Sequence number.
    pub seq: SeqNumber,
    /// Acknowledgment number.
    pub ack: SeqNumber,
    /// Control bits.
    pub flags: u8,
    /// Window field (0 for resets).
    pub window: u16,
    /// Options (a SYN cookie's SYN-ACK carries them).
    pub options: super::emit::OptionsOut,
}

impl Reply {
    /// The reset answering `seg` when nothing may accept it (RFC 9293
    /// 3.10.7.1, also SYN-SENT's and SYN-RECEIVED's unacceptable ACKs):
    /// `<SEQ=SEG.ACK><CTL=RST>` if it carries an ACK, else
    /// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
    pub fn reset_for(local: SocketAddr, remote: SocketAddr, seg: &Segment<'_>) -> Reply {
        let (seq, ack, flags) = if seg.has(super::segment::flags::ACK) {
            (seg.ack, SeqNumber(0), super::segment::flags::RST)
        } else {
            (
                SeqNumber(0),
                seg.seq + seg.len(),
                super::segment::flags::RST | super::segment::flags::ACK,
            )
        };
        Reply {
            local,
            remote,
            seq,
            ack,
            flags,
            window: 0,
            options: Default::default(),
        }
    }
}

/// One connection.
#[derive(Debug)]
pub struct Tcb {
    /// Where in RFC 9293's state diagram the connection is.
    pub state: State,
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// Who holds it.
    pub owner: Owner,

    /// Initial send sequence number.
    pub iss: SeqNumber,
    /// Oldest unacknowledged sequence number.
    pub snd_una: SeqNumber,
    /// Next sequence number to send; `snd_una <= snd_nxt <= snd_max`
    /// (it falls back to `snd_una` after a timeout).
    pub snd_nxt: SeqNumber,
    /// Highest sequence number sent so far, plus one.
    pub snd_max: SeqNumber,
    /// Send window the peer offers, in bytes (scaled).
    pub snd_wnd: usize,
    /// Largest window the peer has offered, in bytes (RFC 1122 4.2.3.4).
    pub max_snd_wnd: usize,
    /// Sequence number of the segment that last updated `snd_wnd`.
    pub snd_wl1: SeqNumber,
    /// Acknowledgment number of the segment that last updated `snd_wnd`.
    pub snd_wl2: SeqNumber,
    /// Shift applied to windows the peer sends.
    pub snd_wscale: u8,
    /// Sequence number of the send buffer's first byte.
    pub tx_start: SeqNumber,
    /// Data written by the application and not yet acknowledged.
    pub tx: ByteRing,
    /// The application is done writing: a FIN follows the data.
    pub fin_queued: bool,

    /// Initial receive sequence number.
    pub irs: SeqNumber,
    /// Next sequence number expected.
    pub rcv_nxt: SeqNumber,
    /// Right edge of the window last advertised; never moves left.
    pub rcv_adv: SeqNumber,
    /// Shift applied to windows we send.
    pub rcv_wscale: u8,
    /// Shift we offer in our SYN (or would offer in a SYN-ACK).
    pub offered_wscale: u8,
    /// Both SYNs carried window scaling.
    pub wscale_ok: bool,
    /// Received data not yet read; out-of-order data sits past its end.
    pub rx: ByteRing,
    /// Which ranges past `rcv_nxt` have arrived.
    pub ooo: Assembler,
    /// Sequence number of the peer's FIN, once seen (perhaps ahead of a hole).
    pub peer_fin: Option<SeqNumber>,
    /// The peer's FIN has been received in order: no more data will come.
    pub fin_received: bool,
    /// Largest segment payload received, an estimate of the peer's MSS.
    pub rcv_mss: usize,

    /// Data bytes per segment we send (MSS less options carried on every segment).
    pub mss: usize,
    /// Timestamps, when negotiated.
    pub timestamps: Option<Timestamps>,
    /// Both SYNs carried SACK-permitted (RFC 2018): our ACKs carry SACK blocks.
    pub sack_ok: bool,
    /// The out-of-order segment received last (its block is reported first).
    pub last_ooo: Option<(SeqNumber, SeqNumber)>,
    /// A duplicate range to report as a D-SACK block (RFC 2883).
    pub dsack: Option<(SeqNumber, SeqNumber)>,
    /// Our timestamp offset (kept before negotiation, for the SYN).
    pub ts_offset: u32,

    /// RTO state.
    pub rtt: RttEstimator,
    /// A segment being timed without timestamps: (its sequence number, when sent).
    pub rtt_probe: Option<(SeqNumber, Instant)>,
    /// Consecutive retransmission timeouts (the RTO's backoff exponent).
    pub backoff: u32,
    /// Consecutive zero-window probes (their backoff exponent).
    pub persist_backoff: u32,
    /// The congestion-control algorithm.
    pub cc: super::congestion::Controller,
    /// Which algorithm `cc` is.
    pub congestion: Algorithm,
    /// Duplicate ACKs in a row.
    pub dup_acks: u32,
    /// During fast recovery: the recovery point (RFC 6582 `recover`).
    pub recover: Option<SeqNumber>,
    /// `snd_max` at the last recovery or timeout: no new recovery until
    /// an ACK passes it (RFC 6582 3.2 step 2).
    pub high_recover: SeqNumber,

    /// Bytes the latest new cumulative ACK advanced `snd_una` by (RFC 6582
    /// 4.2's `highest_ack - prev_highest_ack`).
    pub last_ack_advance: usize,
    /// What the peer has SACKed (when SACK was negotiated).
    pub scoreboard: super::sack::Scoreboard,
    /// Highest sequence number retransmitted in the current recovery.
    pub high_rxt: SeqNumber,
    /// End of the last data segment sent shorter than the MSS (Minshall's
    /// `snd_sml`): Nagle holds a small segment only while this is unacked.
    pub snd_sml: SeqNumber,
    /// Retransmit the next SACK hole (an ACK arrived while repairing
    /// after a timeout).
    pub hole_due: bool,
    /// The recovery point when the last rescue retransmission went (RFC
    /// 6675 `RescueRxt`): one per recovery.
    pub rescue_rxt: Option<SeqNumber>,
    /// The segment at `snd_una` was resent: what was sent after it, so
    /// SACKs for that show the retransmission itself was lost.
    pub head_rxt: Option<super::recovery::HeadRetransmit>,
    /// Send a tail loss probe.
    pub tlp_due: bool,
    /// A tail loss probe is out and unanswered.
    pub tlp_outstanding: bool,
    /// Where the last tail loss probe began, until an ACK covers it.
    pub tlp_probe: Option<SeqNumber>,
    /// UnSACKed data below this point is known lost although fewer than
    /// DupThresh segments were SACKed above it: the tail loss probe sent
    /// after it (two RTTs later) arrived first (RFC 8985 7.4).
    pub rack_lost_to: Option<SeqNumber>,
    /// Time-based loss detection (RFC 8985 6), with SACK.
    pub rack: super::rack::Rack,
    /// Tail loss probes are on (`TcpConfig::tail_loss_probes`).
    pub tlp_enabled: bool,
    /// `TcpConfig::tlp_delayed_ack_allowance`.
    pub tlp_ack_allowance: crate::time::Duration,
    /// Send the segment at `snd_una` again (fast retransmit, partial ACK).
    pub retransmit_head: bool,
    /// Send (or resend) our SYN (SYN-ACK in SYN-RECEIVED).
    pub send_syn: bool,
    /// Send a reset and close (abort).
    pub send_rst: bool,
    /// Send a zero-window probe.
    pub probe_due: bool,
    /// Send what the window allows even if SWS avoidance would wait (the
    /// override timeout of RFC 1122 4.2.3.4).
    pub override_sws: bool,
    /// Acknowledge now rather than delaying.
    pub ack_now: bool,
    /// A challenge ACK is called for (RFC 5961); the table's rate limit
    /// decides whether it goes.
    pub challenge_due: bool,
    /// Duplicate ACKs still to send: one per out-of-order segment, even
    /// when a burst brought several, so the sender can count them.
    pub dup_acks_owed: u32,
    /// Bytes received in order since our last ACK.
    pub unacked_bytes: usize,
    /// Nagle off.
    pub nodelay: bool,
    /// Keepalive, when enabled.
    pub keepalive: Option<Keepalive>,
    /// Keepalive probes sent without an answer.
    pub keepalive_probes: u32,
    /// Send a keepalive probe.
    pub keepalive_due: bool,
    /// Why the connection failed, until the application is told.
    pub error: Option<TcpError>,
    /// The last ICMP error about an established connection (a soft error,
    /// RFC 1122 4.2.3.9): reported instead of ETIMEDOUT if it times out.
    pub soft_error: Option<TcpError>,
    /// The application was told of `error` (later calls see EPIPE or EOF).
    pub error_reported: bool,

    /// Deadline of each [`Timer`].
    pub timers: [Option<Instant>; TIMERS],
    /// The wheel entry ordering this connection, and its deadline.
    pub wheel: Option<(TimerHandle, Instant)>,
    /// Queued for output.
    pub dirty: bool,
    /// Buffer bytes the table has counted for this connection (its
    /// allocated rings).
    pub reserved_bytes: usize,
    /// Bytes the receive ring may grow by under the table's buffer-memory
    /// cap (set by the table before each segment).
    pub rx_memory_budget: usize,
    /// When an epoll watches it, the token its readiness changes are
    /// reported with ([`TcpSockets::take_wakeups`](super::TcpSockets::take_wakeups)).
    pub watcher: Option<u32>,
    /// Already in the table's list of readiness changes.
    pub wake_queued: bool,
}

impl Tcb {
    /// A connection from `local` to `remote` with initial sequence number `iss`.
    pub fn new(
        config: &TcpConfig,
        options: TcpOptions,
        local: SocketAddr,
        remote: SocketAddr,
        iss: SeqNumber,
        ts_offset: u32,
        owner: Owner,
    ) -> Self {
        let recv_buffer = ring_size(options.recv_buffer);
        let send_buffer = ring_size(options.send_buffer);
        let offered_wscale = if config.window_scaling {
            window_scale_for(recv_buffer)
        } else {
            0
        };
        let mss = usize::from(DEFAULT_MSS);
        Tcb {
            state: State::Closed,
            local,
            remote,
            owner,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            snd_wscale: 0,
            tx_start: iss + 1,
            tx: ByteRing::new(send_buffer),
            fin_queued: false,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_wscale: 0,
            offered_wscale,
            wscale_ok: false,
            rx: ByteRing::new(recv_buffer),
            ooo: Assembler::new(config.max_ooo_ranges),
            peer_fin: None,
            fin_received: false,
            rcv_mss: mss,
            mss,
            timestamps: None,
            sack_ok: false,
            last_ooo: None,
            dsack: None,
            ts_offset,
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            rtt_probe: None,
            backoff: 0,
            persist_backoff: 0,
            cc: options.congestion.build(mss),
            congestion: options.congestion,
            dup_acks: 0,
            recover: None,
            high_recover: iss,
            last_ack_advance: 0,
            scoreboard: Default::default(),
            high_rxt: iss,
            snd_sml: iss,
            hole_due: false,
            rescue_rxt: None,
            head_rxt: None,
            tlp_due: false,
            tlp_outstanding: false,
            tlp_probe: None,
            rack_lost_to: None,
            rack: super::rack::Rack::default(),
            tlp_enabled: config.tail_loss_probes,
            tlp_ack_allowance: config.tlp_delayed_ack_allowance,
            retransmit_head: false,
            send_syn: false,
            send_rst: false,
            probe_due: false,
            override_sws: false,
            ack_now: false,
            challenge_due: false,
            dup_acks_owed: 0,
            unacked_bytes: 0,
            nodelay: options.nodelay,
            keepalive: options.keepalive,
            keepalive_probes: 0,
            keepalive_due: false,
            error: None,
            error_reported: false,
            soft_error: None,
            timers: [None; TIMERS],
            wheel: None,
            dirty: false,
            reserved_bytes: 0,
            rx_memory_budget: usize::MAX,
            watcher: None,
            wake_queued: false,
        }
    }

    /// Adopts what the peer's SYN offers (RFC 9293 3.7.1; RFC 7323 2.2,
    /// 3.2): options are used only when both sides sent them.
    pub fn negotiate(&mut self, config: &TcpConfig, syn: &Segment<'_>) {
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1;
        self.rcv_adv = self.rcv_nxt;
        match syn.options.window_scale {
            Some(shift) if config.window_scaling => {
                self.snd_wscale = shift.min(super::config::MAX_WINDOW_SCALE);
                self.rcv_wscale = self.offered_wscale;
                self.wscale_ok = true;
            }
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
                self.offered_wscale = 0;
                self.wscale_ok = false;
            }
        }
        self.timestamps = match syn.options.timestamps {
            Some((val, _)) if config.timestamps => Some(Timestamps {
                recent: val,
                offset: self.ts_offset,
            }),
            _ => None,
        };
        self.sack_ok = config.sack && syn.options.sack_permitted;
        let peer_mss = usize::from(syn.options.mss.unwrap_or(DEFAULT_MSS));
        let option_space = if self.timestamps.is_some() {
            TIMESTAMP_OPTION_LEN
        } else {
            0
        };
        self.mss = (peer_mss.min(usize::from(max_mss_to(config, self.remote))))
            .saturating_sub(option_space)
            .max(MIN_MSS);
        self.rcv_mss = self.mss;
        self.cc = self.congestion.build(self.mss);
        // The SYN's window is never scaled (RFC 7323 2.2).
        self.snd_wnd = usize::from(syn.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = syn.seq;
    }

    /// Sequence number just past the data in the send buffer.
    pub fn data_end(&self) -> SeqNumber {
        self.tx_start + self.tx.len() as u32
    }

    /// True once our FIN has been sent (perhaps not yet acknowledged).
    pub fn fin_sent(&self) -> bool {
        self.fin_queued && self.snd_max == self.data_end() + 1
    }

    /// True once our FIN has been acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_sent() && self.snd_una == self.snd_max
    }

    /// The receive window last advertised, from `rcv_nxt` to `rcv_adv`, in bytes.
    pub fn rcv_wnd(&self) -> u32 {
        if self.rcv_adv.after(self.rcv_nxt) {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        }
    }

    /// Bytes sent and not acknowledged.
    pub fn flight(&self) -> usize {
        (self.snd_nxt - self.snd_una) as usize
    }

    /// Bytes written and not sent yet.
    pub fn unsent(&self) -> usize {
        let end = self.data_end();
        if self.snd_nxt.before(end) {
            (end - self.snd_nxt) as usize
        } else {
            0
        }
    }

    /// Our TSval at `now`: a millisecond clock plus the connection's offset.
    pub fn ts_val(&self, now: Instant) -> u32 {
        ((now.as_nanos() / 1_000_000) as u32).wrapping_add(self.ts_offset)
    }

    /// Something arrived from the peer at `now`: the keepalive clock
    /// restarts and unanswered probes are forgiven.
    pub fn heard_from_peer(&mut self, now: Instant) {
        self.keepalive_probes = 0;
        if let Some(keepalive) = self.keepalive {
            if self.state.is_synchronized() && self.state != State::TimeWait {
                self.set_timer(Timer::Keepalive, Some(now + keepalive.idle));
            }
        }
    }

    /// The probe timeout of RFC 8985 7.2: two smoothed RTTs, plus the
    /// peer's worst delayed ACK (`tlp_ack_allowance`, 200 ms) when one
    /// segment is out, at least 10 ms; the RTO before any RTT sample.
    /// [`arm_tail_loss_probe`](Self::arm_tail_loss_probe) then fires it no
    /// later than the retransmission timer would.
    pub fn probe_timeout(&self) -> crate::time::Duration {
        use crate::time::Duration;
        let Some(srtt) = self.rtt.srtt() else {
            return self.rtt.backed_off(self.backoff);
        };
        let mut pto = 2 * srtt.as_nanos();
        if self.flight() <= self.mss {
            pto += self.tlp_ack_allowance.as_nanos();
        }
        Duration::from_nanos(pto.max(Duration::from_millis(10).as_nanos()))
    }

    /// Arms the tail loss probe while data is out and no recovery or probe
    /// is under way, at the probe timeout or the retransmission timer's
    /// deadline, whichever is first: as in Linux, a probe due no sooner
    /// than the RTO goes out instead of it (RFC 8985 7.2, PTO = min(PTO,
    /// RTO)), and the RTO is re-armed behind it (7.3).
    pub fn arm_tail_loss_probe(&mut self, now: Instant) {
        // Not during a recovery or after a timeout (RFC 8985 7.2).
        let armed = self.tlp_enabled
            && self.snd_una != self.snd_max
            && self.recover.is_none()
            && self.backoff == 0
            && !self.tlp_outstanding
            && self.state.is_synchronized();
        let probe = now + self.probe_timeout();
        let at = match self.timer(Timer::Retransmit) {
            Some(rto) => probe.min(rto),
            None => probe,
        };
        self.set_timer(Timer::TailLossProbe, armed.then_some(at));
    }

    /// Sets (or clears) the deadline of `timer`.
    pub fn set_timer(&mut self, timer: Timer, at: Option<Instant>) {
        self.timers[timer as usize] = at;
    }

    /// The deadline of `timer`.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers[timer as usize]
    }

    /// The earliest deadline of any timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        // A plain loop over the table: this runs after every segment.
        let earliest = self.timers.iter().fold(u64::MAX, |earliest, timer| {
            timer.map_or(earliest, |at| earliest.min(at.as_nanos()))
        });
        (earliest != u64::MAX).then(|| Instant::from_nanos(earliest))
    }

    /// Ends the connection with `error`: no more segments, buffered data
    /// to send is dropped (received data stays readable).
    pub fn fail(&mut self, error: TcpError) {
        self.error = Some(error);
        self.enter_closed();
    }

    /// Moves to CLOSED, stopping every timer and pending send.
    pub fn enter_closed(&mut self) {
        self.state = State::Closed;
        self.timers = [None; TIMERS];
        self.send_syn = false;
        self.retransmit_head = false;
        self.probe_due = false;
        self.keepalive_due = false;
        self.ack_now = false;
        self.tx.consume(self.tx.len());
    }

    /// Moves to TIME_WAIT for `duration`, releasing the buffers' memory:
    /// nothing more will be sent or received.
    pub fn enter_time_wait(&mut self, now: Instant, duration: crate::time::Duration) {
        self.state = State::TimeWait;
        self.timers = [None; TIMERS];
        self.set_timer(Timer::Linger, Some(now + duration));
        self.tx = ByteRing::new(0);
        if self.rx.is_empty() {
            self.rx = ByteRing::new(0);
        }
    }
}
