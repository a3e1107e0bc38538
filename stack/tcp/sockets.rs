//! The stack's TCP endpoints: connections and listeners in one slab,
//! demultiplexed by 4-tuple (connections) and port (listeners) through
//! hash maps, so the cost per segment does not grow with their number;
//! one timing wheel orders every connection's earliest deadline.

use super::config::TcpConfig;
use super::emit::{OptionsOut, Payload, SegmentOut};
use super::error::TcpError;
use super::isn::IsnGenerator;
use super::listen::Listener;
use super::pair_map::{FourTuple, PairMap};
use super::segment::{flags, Segment};
use super::seq::SeqNumber;
use super::state::State;
use super::syncookie::SynCookies;
use super::tcb::{Owner, Reply, Tcb, TcpOptions, Timer};
use super::time_wait::{TimeWaitReply, TimeWaits};
use crate::addr::LocalAddrs;
use crate::hash::FastMap;
use crate::rand::Rng;
use crate::stats::TcpStats;
use crate::steer::CoreSteering;
use crate::time::Instant;
use crate::timer::TimerWheel;
use crate::udp::{EPHEMERAL_FIRST, EPHEMERAL_LAST};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

/// Names an open TCP socket (connection or listener); stale handles are
/// refused, not confused with a later socket in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpHandle {
    index: u32,
    generation: u32,
}

/// What a socket is ready for, as poll/epoll would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// Data to read, end of stream, an error, or (listeners) a connection to accept.
    pub readable: bool,
    /// Room in the send buffer on a connection that may send.
    pub writable: bool,
    /// The peer sent FIN (EPOLLRDHUP).
    pub read_closed: bool,
    /// Both directions are finished or the connection failed (EPOLLHUP).
    pub hung_up: bool,
    /// An error is pending (EPOLLERR).
    pub error: bool,
}

/// Both boxed: a slot is a pointer and its tag, not the size of the
/// larger (a listener's queues and options), so the slot table costs a
/// connection 24 bytes.
enum Entry {
    Conn(Box<Tcb>),
    Listener(Box<Listener>),
}

struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

/// Every TCP connection and listener of one stack.
pub struct TcpSockets {
    config: TcpConfig,
    slots: Vec<Slot>,
    free: Vec<u32>,
    demux: PairMap<u32>,
    /// The last connection `input` found, checked before the hash map: a
    /// burst of segments mostly belongs to a few connections. Cleared
    /// whenever an entry leaves `demux`.
    last_demux: Option<(FourTuple, u32)>,
    listeners: FastMap<u16, u32>,
    /// Pairs in TIME-WAIT whose application closed them, outside `slots`.
    time_waits: TimeWaits,
    wheel: TimerWheel<(u32, u32)>,
    expired: Vec<(u32, u32)>,
    /// Connections with something to send, each at most once.
    dirty: VecDeque<u32>,
    /// Resets that belong to no connection, bounded.
    replies: VecDeque<Reply>,
    /// Watched sockets whose readiness may have changed, each at most once.
    wakeups: Vec<u32>,
    /// Rate limit of challenge ACKs, all connections together.
    challenge_acks: crate::rate::TokenBucket,
    /// Buffer bytes every connection holds together.
    buffer_bytes: usize,
    /// The secret of SYN cookies.
    cookies: SynCookies,
    /// When the last cookie went out: returning ACKs are checked only
    /// within two cookie periods of it.
    cookie_sent_at: Option<Instant>,
    isn: IsnGenerator,
    rng: Rng,
    stats: TcpStats,
    /// On one core of several: active opens take only ephemeral ports
    /// whose flow lands on this core.
    core: Option<CoreSteering>,
    /// Segments for no connection or listener are left to the kernel's
    /// exception path instead of being reset.
    pass_unclaimed: bool,
}

impl TcpSockets {
    /// No sockets yet; ISNs, ports and timestamp offsets come from `rng`.
    pub fn new(mut rng: Rng, config: TcpConfig) -> Self {
        let cookies = SynCookies::new(&mut rng);
        let rate = config.challenge_acks_per_sec;
        let challenge_acks = crate::rate::TokenBucket::new(rate, rate.div_ceil(10).max(1));
        TcpSockets {
            isn: IsnGenerator::new(&mut rng),
            config,
            slots: Vec::new(),
            free: Vec::new(),
            demux: PairMap::default(),
            last_demux: None,
            listeners: FastMap::default(),
            time_waits: TimeWaits::new(),
            wheel: TimerWheel::new(),
            expired: Vec::new(),
            dirty: VecDeque::new(),
            replies: VecDeque::new(),
            wakeups: Vec::new(),
            challenge_acks,
            buffer_bytes: 0,
            cookies,
            cookie_sent_at: None,
            rng,
            stats: TcpStats::default(),
            core: None,
            pass_unclaimed: false,
        }
    }

    /// Leaves segments for no connection or listener to the kernel's
    /// exception path (`input` returns false) instead of resetting them.
    pub fn set_pass_unclaimed(&mut self, pass: bool) {
        self.pass_unclaimed = pass;
    }

    /// Makes this table one core's of several: `connect` picks ephemeral
    /// ports whose replies the NIC (or the steering stage) brings to this
    /// core, as mTCP and F-Stack do.
    pub fn set_core_steering(&mut self, core: Option<CoreSteering>) {
        self.core = core;
    }

    /// The settings in force.
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// Changes the largest MSS (the stack sets it from the device's MTU).
    pub fn set_max_mss(&mut self, mss: u16) {
        self.config.max_mss = mss;
    }

    /// Counters.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Counters, for the interface's validation counts.
    pub fn stats_mut(&mut self) -> &mut TcpStats {
        &mut self.stats
    }

    /// Buffer bytes all connections hold (send and receive rings).
    pub fn buffer_memory(&self) -> usize {
        self.buffer_bytes
    }

    /// Ring storage that may still be allocated under the buffer-memory cap, in bytes.
    fn memory_left(&self) -> usize {
        self.config
            .max_buffer_memory
            .saturating_sub(self.buffer_bytes)
    }

    /// True if a new connection fits the connection limit, and buffer
    /// memory is below its cap (rings grow with use, so a new connection
    /// needs none yet; at the cap new ones are refused, as Linux refuses
    /// under memory pressure).
    fn admits(&self) -> bool {
        self.connection_count() < self.config.max_connections
            && self.buffer_bytes < self.config.max_buffer_memory
    }

    /// Connections in the table (every state, TIME_WAIT included).
    pub fn connection_count(&self) -> usize {
        self.demux.len() + self.time_waits.len()
    }

    /// Pairs in TIME-WAIT that the application has closed (kept as small
    /// records, not connections).
    pub fn time_wait_count(&self) -> usize {
        self.time_waits.len()
    }

    fn alloc(&mut self, entry: Entry) -> TcpHandle {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                generation: 0,
                entry: None,
            });
            (self.slots.len() - 1) as u32
        });
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.entry = Some(entry);
        TcpHandle {
            index,
            generation: slot.generation,
        }
    }

    /// The connection of `tuple`, if any: the last one found, else the map's.
    #[inline(always)]
    fn find_conn(&mut self, tuple: FourTuple) -> Option<u32> {
        if let Some((last, index)) = &self.last_demux {
            if *last == tuple {
                return Some(*index);
            }
        }
        let index = *self.demux.get(&tuple)?;
        self.last_demux = Some((tuple, index));
        Some(index)
    }

    /// Puts a new connection in the slab and the demultiplexing map.
    fn insert_conn(&mut self, tcb: Tcb) -> TcpHandle {
        let tuple = (tcb.local, tcb.remote);
        let handle = self.alloc(Entry::Conn(Box::new(tcb)));
        self.demux.insert(tuple, handle.index);
        handle
    }

    fn release(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        if let Some(Entry::Conn(tcb)) = slot.entry.take() {
            self.buffer_bytes -= tcb.reserved_bytes;
            if let Some((handle, _)) = tcb.wheel {
                self.wheel.cancel(handle);
            }
            let key = (tcb.local, tcb.remote);
            if self.demux.get(&key) == Some(&index) {
                self.demux.remove(&key);
                self.last_demux = None;
            }
        }
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
    }

    fn tcb(&mut self, index: u32) -> Option<&mut Tcb> {
        conn_in(&mut self.slots, index)
    }

    fn listener(&mut self, index: u32) -> Option<&mut Listener> {
        match self.slots.get_mut(index as usize)?.entry.as_mut()? {
            Entry::Listener(listener) => Some(listener),
            Entry::Conn(_) => None,
        }
    }

    fn check(&self, handle: TcpHandle) -> Result<&Entry, TcpError> {
        let slot = self
            .slots
            .get(handle.index as usize)
            .filter(|slot| slot.generation == handle.generation)
            .ok_or(TcpError::BadHandle)?;
        match slot.entry.as_ref() {
            Some(Entry::Conn(tcb)) if tcb.owner != Owner::User => Err(TcpError::BadHandle),
            Some(entry) => Ok(entry),
            None => Err(TcpError::BadHandle),
        }
    }

    /// The connection a handle names (not a listener).
    fn user_tcb(&mut self, handle: TcpHandle) -> Result<&mut Tcb, TcpError> {
        match self.check(handle)? {
            Entry::Conn(_) => Ok(self.tcb(handle.index).expect("checked")),
            Entry::Listener(_) => Err(TcpError::NotConnected),
        }
    }

    // ---- input ------------------------------------------------------------

    /// Handles a validated segment from `src` to `dst` (our address);
    /// false when no connection or listener took it and unclaimed segments
    /// go to the kernel ([`set_pass_unclaimed`](Self::set_pass_unclaimed)).
    pub fn input(&mut self, now: Instant, src: IpAddr, dst: IpAddr, seg: &Segment<'_>) -> bool {
        let local = SocketAddr::new(dst, seg.dst_port);
        let remote = SocketAddr::new(src, seg.src_port);
        let is_syn = seg.has(flags::SYN) && !seg.has(flags::ACK);
        if let Some(index) = self.find_conn((local, remote)) {
            let tcb = conn_in(&mut self.slots, index).expect("demux names connections");
            // Only an orphan may be taken over: a connection in TIME-WAIT that
            // an application still holds (or a listener, unaccepted) keeps its slot.
            let reusable = tcb.state == State::TimeWait
                && tcb.owner == Owner::Orphan
                && is_syn
                && time_wait_reusable(tcb, seg);
            let (state, owner) = (tcb.state, tcb.owner);
            if reusable && self.listener_for(local).is_some() {
                // RFC 6191: a new incarnation may take over the pair.
                self.stats.time_wait_reused += 1;
                self.release(index);
            } else {
                if state == State::SynReceived && seg.has(flags::ACK) && !seg.has(flags::RST) {
                    if let Owner::Listener(l) = owner {
                        if self.listener(l).is_some_and(|l| l.accept_queue_full()) {
                            // Linux drops the final ACK; the SYN-ACK will be retransmitted.
                            self.stats.accept_queue_overflow += 1;
                            return true;
                        }
                    }
                }
                let memory_left = self.memory_left();
                let tcb = conn_in(&mut self.slots, index).expect("still there");
                tcb.rx_memory_budget = memory_left;
                let before = tcb.state;
                let reply = tcb.input(now, seg, &self.config, &mut self.stats);
                if std::mem::take(&mut tcb.challenge_due) {
                    if self.challenge_acks.take(now) {
                        tcb.ack_now = true;
                        self.stats.tx_challenge_acks += 1;
                    } else {
                        self.stats.challenge_acks_limited += 1;
                    }
                }
                if let Some(reply) = reply {
                    self.queue_reply(reply);
                }
                self.settle(index, before, now);
                return true;
            }
        }
        if let Some(tw) = self.time_waits.get(&(local, remote)) {
            let reusable = is_syn && self.listener_for(local).is_some() && tw.reusable_by(seg);
            if reusable {
                // RFC 6191: a new incarnation may take over the pair.
                self.stats.time_wait_reused += 1;
                self.time_waits.remove(&(local, remote));
            } else {
                let restart = self.config.time_wait;
                match self
                    .time_waits
                    .input(now, (local, remote), seg, restart, &mut self.stats)
                {
                    TimeWaitReply::None => {}
                    TimeWaitReply::Ack(reply) => self.queue_reply(reply),
                    TimeWaitReply::Challenge(reply) => {
                        if self.challenge_acks.take(now) {
                            self.stats.tx_challenge_acks += 1;
                            self.queue_reply(reply);
                        } else {
                            self.stats.challenge_acks_limited += 1;
                        }
                    }
                }
                return true;
            }
        }
        if let Some(l) = self.listener_for(local) {
            if is_syn {
                self.passive_open(now, l, local, remote, seg);
                return true;
            }
            let handshake_ack = seg.has(flags::ACK) && !seg.has(flags::SYN | flags::RST);
            if handshake_ack && self.accept_cookie(now, l, local, remote, seg) {
                return true;
            }
        }
        // RFC 9293 3.10.7.1: CLOSED. A RST is never answered; anything else gets one.
        self.stats.rx_closed_port += 1;
        if self.pass_unclaimed {
            // The kernel behind the exception path may own the pair.
            return false;
        }
        if !seg.has(flags::RST) {
            let reply = Reply::reset_for(local, remote, seg);
            self.queue_reply(reply);
        }
        true
    }

    /// The listener taking connections to `local`, one of our addresses.
    fn listener_for(&self, local: SocketAddr) -> Option<u32> {
        let &index = self.listeners.get(&local.port())?;
        match &self.slots[index as usize].entry {
            Some(Entry::Listener(listener)) if listener.accepts(local.ip()) => Some(index),
            _ => None,
        }
    }

    /// An ICMP error about our segment from `local` to `remote` that began
    /// at `seq` (RFC 5927: ignored unless that is in flight).
    pub fn icmp_error(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        seq: SeqNumber,
        report: super::icmp::IcmpReport,
    ) {
        let Some(index) = self.find_conn((local, remote)) else {
            self.stats.rx_icmp_ignored += 1;
            return;
        };
        let tcb = conn_in(&mut self.slots, index).expect("demux names connections");
        let before = tcb.state;
        if tcb.icmp_error(seq, report, &mut self.stats) {
            self.settle(index, before, now);
        }
    }

    fn queue_reply(&mut self, reply: Reply) {
        if self.replies.len() >= self.config.max_pending_replies {
            self.stats.tx_replies_dropped += 1;
        } else {
            self.replies.push_back(reply);
        }
    }

    /// RFC 9293 3.10.7.2: a SYN for a listener makes a SYN-RECEIVED connection.
    fn passive_open(
        &mut self,
        now: Instant,
        listener_index: u32,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
    ) {
        let listener = self
            .listener(listener_index)
            .expect("listeners map names listeners");
        if listener.refuses_syn() {
            let cookie_room = !listener.accept_queue_full();
            let options = listener.options;
            if self.config.syn_cookies && cookie_room {
                self.send_cookie(now, local, remote, seg, options);
            } else {
                self.stats.syn_queue_overflow += 1;
            }
            return;
        }
        let options = listener.options;
        if !self.admits() {
            self.stats.connection_limit_drops += 1;
            return;
        }
        let listener = self.listener(listener_index).expect("checked above");
        listener.syn_queue += 1;
        let iss = self.isn.isn(now, local, remote);
        // Fixed per 4-tuple under a secret (RFC 7323 7.1), so that a new
        // incarnation's TSvals continue the old one's and RFC 6191 lets it
        // take over a pair still in TIME-WAIT on either side; the same
        // offset a SYN cookie's connection gets.
        let ts_offset = self.cookies.ts_offset(local, remote);
        let mut tcb = Tcb::new(
            &self.config,
            options,
            local,
            remote,
            iss,
            ts_offset,
            Owner::Listener(listener_index),
        );
        tcb.negotiate(&self.config, seg);
        tcb.state = State::SynReceived;
        tcb.send_syn = true;
        self.stats.passive_opens += 1;
        let handle = self.insert_conn(tcb);
        self.settle(handle.index, State::SynReceived, now);
    }

    /// Answers a SYN statelessly with a SYN cookie (RFC 4987 3.6).
    fn send_cookie(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &Segment<'_>,
        options: TcpOptions,
    ) {
        let peer_mss = syn.options.mss.unwrap_or(super::tcb::DEFAULT_MSS);
        let (cookie, _) = self.cookies.make(now, local, remote, syn.seq, peer_mss);
        let config = &self.config;
        // Scaling is offered only when timestamps can carry the peer's shift back.
        let remembered = config.timestamps && syn.options.timestamps.is_some();
        let window_scale = syn
            .options
            .window_scale
            .filter(|_| config.window_scaling && remembered)
            .map(|_| super::config::window_scale_for(super::tcb::ring_size(options.recv_buffer)));
        let sack = config.sack && syn.options.sack_permitted;
        let timestamps = syn
            .options
            .timestamps
            .filter(|_| config.timestamps)
            .map(|(val, _)| {
                let offset = self.cookies.ts_offset(local, remote);
                let ts_now = ((now.as_nanos() / 1_000_000) as u32).wrapping_add(offset);
                (
                    SynCookies::encode_ts(ts_now, syn.options.window_scale, sack),
                    val,
                )
            });
        let reply = Reply {
            local,
            remote,
            seq: cookie,
            ack: syn.seq + 1,
            flags: flags::SYN | flags::ACK,
            window: super::tcb::ring_size(options.recv_buffer).min(65_535) as u16,
            options: OptionsOut {
                mss: Some(super::tcb::max_mss_to(config, remote)),
                window_scale,
                timestamps,
                // Without timestamps to carry it, SACK cannot be remembered.
                sack_permitted: sack && timestamps.is_some(),
                ..OptionsOut::default()
            },
        };
        self.stats.syn_cookies_sent += 1;
        self.cookie_sent_at = Some(now);
        self.queue_reply(reply);
    }

    /// The handshake's last ACK for a listener with no connection: if it
    /// returns a valid cookie, the connection is made from it.
    fn accept_cookie(
        &mut self,
        now: Instant,
        listener_index: u32,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
    ) -> bool {
        let recent = self.cookie_sent_at.is_some_and(|at| {
            now.saturating_duration_since(at) < crate::time::Duration::from_secs(128)
        });
        if !recent {
            return false;
        }
        let peer_isn = seg.seq - 1;
        let Some(mss) = self
            .cookies
            .check(now, local, remote, peer_isn, seg.ack - 1)
        else {
            self.stats.syn_cookies_invalid += 1;
            return false;
        };
        let listener = self
            .listener(listener_index)
            .expect("listeners map names listeners");
        let options = listener.options;
        if listener.accept_queue_full() {
            self.stats.accept_queue_overflow += 1;
            return true;
        }
        if !self.admits() {
            self.stats.connection_limit_drops += 1;
            return true;
        }
        let (window_scale, sack) = seg
            .options
            .timestamps
            .map_or((None, false), |(_, ecr)| SynCookies::decode_ts(ecr));
        // The SYN as the cookie remembers it.
        let syn = Segment {
            src_port: seg.src_port,
            dst_port: seg.dst_port,
            seq: peer_isn,
            ack: SeqNumber(0),
            flags: flags::SYN,
            window: seg.window,
            options: super::segment::Options {
                mss: Some(mss),
                window_scale,
                sack_permitted: sack,
                timestamps: seg.options.timestamps.map(|(val, _)| (val, 0)),
                sack_blocks: [None; 4],
            },
            payload: &[],
        };
        let iss = seg.ack - 1;
        let ts_offset = self.cookies.ts_offset(local, remote);
        let mut tcb = Tcb::new(
            &self.config,
            options,
            local,
            remote,
            iss,
            ts_offset,
            Owner::Listener(listener_index),
        );
        tcb.negotiate(&self.config, &syn);
        tcb.state = State::SynReceived;
        tcb.snd_nxt = iss + 1;
        tcb.snd_max = iss + 1;
        // The window the cookie's SYN-ACK advertised.
        tcb.rcv_adv = tcb.rcv_nxt + tcb.rx.free().min(65_535) as u32;
        self.listener(listener_index).expect("checked").syn_queue += 1;
        self.stats.passive_opens += 1;
        self.stats.syn_cookies_accepted += 1;
        let handle = self.insert_conn(tcb);
        let memory_left = self.memory_left();
        let tcb = conn_in(&mut self.slots, handle.index).expect("just made");
        tcb.rx_memory_budget = memory_left;
        let reply = tcb.input(now, seg, &self.config, &mut self.stats);
        if let Some(reply) = reply {
            self.queue_reply(reply);
        }
        self.settle(handle.index, State::SynReceived, now);
        true
    }

    /// After anything changed a connection: moves it between listener
    /// queues, removes it when closed, queues it for output and files its
    /// next deadline on the wheel.
    fn settle(&mut self, index: u32, before: State, now: Instant) {
        let Some(tcb) = conn_in(&mut self.slots, index) else {
            return;
        };
        // Rings grow with use and go in TIME-WAIT: keep the stack-wide
        // count exact.
        let held = tcb.tx.allocated() + tcb.rx.allocated();
        self.buffer_bytes = self.buffer_bytes + held - tcb.reserved_bytes;
        tcb.reserved_bytes = held;
        // A FIN the application asked for before the handshake completed.
        if tcb.fin_queued {
            match tcb.state {
                State::Established => tcb.state = State::FinWait1,
                State::CloseWait => tcb.state = State::LastAck,
                _ => {}
            }
        }
        tcb.update_persist(now);
        let (state, owner) = (tcb.state, tcb.owner);
        if before == State::SynReceived && state != State::SynReceived {
            if let Owner::Listener(l) = owner {
                let listener = self.listener(l).expect("owner is a listener");
                listener.syn_queue -= 1;
                if state != State::Closed {
                    listener.accept_queue.push_back(index);
                    self.wake(l);
                }
            }
        }
        if state == State::TimeWait && owner == Owner::Orphan {
            // Nobody will read or write it again: keep only what
            // TIME-WAIT needs, and free the connection.
            let tcb = conn_in(&mut self.slots, index).expect("present");
            let owed = self.time_waits.insert_from(tcb, now, self.config.time_wait);
            self.release(index);
            if let Some(ack) = owed {
                self.queue_reply(ack);
            }
            return;
        }
        if state == State::Closed {
            let tcb = self.tcb(index).expect("present");
            let tuple = (tcb.local, tcb.remote);
            if self.demux.get(&tuple) == Some(&index) {
                self.demux.remove(&tuple);
                self.last_demux = None;
            }
            let gone = owner == Owner::Orphan
                || (before == State::SynReceived && matches!(owner, Owner::Listener(_)));
            if gone {
                self.release(index);
                return;
            }
        }
        self.wake(index);
        let tcb = self.tcb(index).expect("present");
        if !tcb.dirty && state != State::Closed {
            tcb.dirty = true;
            self.dirty.push_back(index);
        }
        self.reschedule(index);
    }

    /// Notes that a watched socket's readiness may have changed.
    fn wake(&mut self, index: u32) {
        let flags = match self
            .slots
            .get_mut(index as usize)
            .and_then(|s| s.entry.as_mut())
        {
            Some(Entry::Conn(tcb)) => (tcb.watcher, &mut tcb.wake_queued),
            Some(Entry::Listener(l)) => (l.watcher, &mut l.wake_queued),
            None => return,
        };
        if flags.0.is_some() && !*flags.1 {
            *flags.1 = true;
            self.wakeups.push(index);
        }
    }

    /// Marks a socket as watched by an epoll, its readiness changes
    /// reported through [`take_wakeups`](Self::take_wakeups) as `watcher`
    /// (the caller's token: the fd table gives the descriptor), or as not
    /// watched (`None`): only watched sockets report.
    pub fn set_watched(&mut self, handle: TcpHandle, watcher: Option<u32>) -> Result<(), TcpError> {
        self.check(handle)?;
        match self.slots[handle.index as usize].entry.as_mut() {
            Some(Entry::Conn(tcb)) => tcb.watcher = watcher,
            Some(Entry::Listener(l)) => l.watcher = watcher,
            None => {}
        }
        Ok(())
    }

    /// True when some watched socket's readiness may have changed since the
    /// last [`take_wakeups`](Self::take_wakeups): an epoll wait that finds
    /// none skips the dispatch.
    #[inline]
    pub fn has_wakeups(&self) -> bool {
        !self.wakeups.is_empty()
    }

    /// Appends the watcher token (see [`set_watched`](Self::set_watched))
    /// of every watched socket whose readiness may have changed since the
    /// last call (each once) to `out`.
    pub fn take_wakeups(&mut self, out: &mut Vec<u32>) {
        for index in self.wakeups.drain(..) {
            let (queued, watcher) = match self.slots[index as usize].entry.as_mut() {
                Some(Entry::Conn(tcb)) => (std::mem::take(&mut tcb.wake_queued), tcb.watcher),
                Some(Entry::Listener(l)) => (std::mem::take(&mut l.wake_queued), l.watcher),
                None => (false, None),
            };
            if let (true, Some(token)) = (queued, watcher) {
                out.push(token);
            }
        }
    }

    /// Files the connection's earliest deadline on the wheel. A wheel
    /// entry earlier than needed is kept: it fires, finds nothing due, and
    /// refiles, which is cheaper than cancelling on every ACK.
    fn reschedule(&mut self, index: u32) {
        let generation = self.slots[index as usize].generation;
        let Some(Entry::Conn(tcb)) = self.slots[index as usize].entry.as_mut() else {
            return;
        };
        let next = tcb.next_deadline();
        match (tcb.wheel, next) {
            (Some((_, at)), Some(next)) if at <= next => {}
            (None, None) => {}
            (current, next) => {
                if let Some((handle, _)) = current {
                    self.wheel.cancel(handle);
                }
                tcb.wheel = next.map(|at| (self.wheel.schedule((index, generation), at), at));
            }
        }
    }

    // ---- timers and output --------------------------------------------------

    /// Runs every connection timer due at `now`.
    pub fn on_timers(&mut self, now: Instant) {
        self.time_waits.expire(now);
        if !self.wheel.ticks_behind(now) {
            // Polls come far more often than ticks (1 ms).
            return;
        }
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.wheel.advance(now, &mut expired);
        for &(index, generation) in &expired {
            if self.slots[index as usize].generation != generation {
                continue;
            }
            let Some(tcb) = conn_in(&mut self.slots, index) else {
                continue;
            };
            tcb.wheel = None;
            let before = tcb.state;
            tcb.on_timers(now, &self.config, &mut self.stats);
            self.settle(index, before, now);
        }
        self.expired = expired;
    }

    /// When [`on_timers`](Self::on_timers) or output next has work.
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.dirty.is_empty() || !self.replies.is_empty() {
            return Some(Instant::ZERO);
        }
        match (self.wheel.poll_at(), self.time_waits.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when segments wait to be sent.
    pub fn has_outgoing(&self) -> bool {
        !self.dirty.is_empty() || !self.replies.is_empty()
    }

    /// Hands every segment ready at `now` to `emit`, which returns false
    /// when it has no transmit buffer: sending stops there and resumes
    /// with the same segment on the next call.
    pub fn drain_output(&mut self, now: Instant, mut emit: impl FnMut(&SegmentOut<'_>) -> bool) {
        while let Some(reply) = self.replies.front() {
            let out = SegmentOut {
                local: reply.local,
                remote: reply.remote,
                seq: reply.seq,
                ack: reply.ack,
                flags: reply.flags,
                window: reply.window,
                options: reply.options,
                payload: Payload::None,
            };
            if !emit(&out) {
                return;
            }
            self.stats.tx_segments += 1;
            if reply.flags & flags::RST != 0 {
                self.stats.tx_resets += 1;
            }
            self.replies.pop_front();
        }
        while let Some(&index) = self.dirty.front() {
            let Some(Entry::Conn(tcb)) = self.slots[index as usize].entry.as_mut() else {
                self.dirty.pop_front();
                continue;
            };
            let before = tcb.state;
            while let Some(plan) = tcb.next_segment(now, &self.config) {
                if !emit(&tcb.segment(&plan)) {
                    return;
                }
                tcb.commit(now, &plan, &mut self.stats);
            }
            tcb.dirty = false;
            self.dirty.pop_front();
            let tcb = self.tcb(index).expect("present");
            tcb.update_persist(now);
            if tcb.state == State::Closed {
                self.settle(index, before, now);
            } else {
                self.reschedule(index);
            }
        }
    }

    fn mark_dirty(&mut self, index: u32) {
        if let Some(tcb) = self.tcb(index) {
            if !tcb.dirty {
                tcb.dirty = true;
                self.dirty.push_back(index);
            }
        }
    }

    // ---- calls --------------------------------------------------------------

    /// Listens on `local` (port 0: an ephemeral port; an unspecified
    /// address: all of ours, `[::]` both families unless `v6_only`) with
    /// room for `backlog` connections in each queue (at most the
    /// configured maximum). `own` are the addresses we have.
    pub fn listen(
        &mut self,
        local: impl Into<SocketAddr>,
        backlog: usize,
        options: TcpOptions,
        own: impl Into<LocalAddrs>,
        v6_only: bool,
    ) -> Result<TcpHandle, TcpError> {
        let local = crate::addr::canonical(local.into());
        let own = own.into();
        if !local.ip().is_unspecified() && !own.is_ours(local.ip()) {
            return Err(TcpError::AddrNotAvailable);
        }
        let port = if local.port() == 0 {
            self.ephemeral_port(None, local.ip())?
        } else {
            local.port()
        };
        if self.listeners.contains_key(&port) {
            return Err(TcpError::AddrInUse);
        }
        let backlog = backlog.clamp(1, self.config.max_backlog.max(1));
        let mut listener = Listener::new(SocketAddr::new(local.ip(), port), backlog, options);
        listener.v6_only = v6_only && local.is_ipv6();
        let handle = self.alloc(Entry::Listener(Box::new(listener)));
        self.listeners.insert(port, handle.index);
        Ok(handle)
    }

    /// Opens a connection to `remote` from our address of its family
    /// (`own`) and `local_port` (0: a random ephemeral port, RFC 6056);
    /// the SYN leaves on the next poll.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: impl Into<SocketAddr>,
        local_port: u16,
        options: TcpOptions,
        own: impl Into<LocalAddrs>,
    ) -> Result<TcpHandle, TcpError> {
        let remote = crate::addr::canonical(remote.into());
        let unusable = match remote.ip() {
            IpAddr::V4(ip) => ip.is_broadcast() || ip.is_multicast(),
            IpAddr::V6(ip) => ip.is_multicast(),
        };
        if remote.port() == 0 || remote.ip().is_unspecified() || unusable {
            return Err(TcpError::AddrNotAvailable);
        }
        let own_ip = own
            .into()
            .source_for(remote.ip())
            .ok_or(TcpError::NetworkUnreachable)?;
        let local = if local_port == 0 {
            // A pair this core owns, free or taken over from TIME-WAIT.
            SocketAddr::new(own_ip, self.ephemeral_port(Some(remote), own_ip)?)
        } else {
            let local = SocketAddr::new(own_ip, local_port);
            if self
                .core
                .as_ref()
                .is_some_and(|core| !core.owns(local, remote))
            {
                // The replies would be steered to another core, which has no
                // such connection and would reset it.
                return Err(TcpError::AddrNotAvailable);
            }
            if self.demux.contains_key(&(local, remote))
                || self.time_waits.get(&(local, remote)).is_some()
            {
                return Err(TcpError::AddrInUse);
            }
            local
        };
        if !self.admits() {
            self.stats.connection_limit_drops += 1;
            return Err(TcpError::NoBuffers);
        }
        let iss = self.isn.isn(now, local, remote);
        // Fixed per 4-tuple under a secret (RFC 7323 7.1), so that a new
        // incarnation's TSvals continue the old one's and RFC 6191 lets it
        // take over a pair still in TIME-WAIT on either side; the same
        // offset a SYN cookie's connection gets.
        let ts_offset = self.cookies.ts_offset(local, remote);
        let mut tcb = Tcb::new(
            &self.config,
            options,
            local,
            remote,
            iss,
            ts_offset,
            Owner::User,
        );
        tcb.state = State::SynSent;
        tcb.send_syn = true;
        tcb.rcv_adv = SeqNumber(0);
        self.stats.active_opens += 1;
        let handle = self.insert_conn(tcb);
        self.settle(handle.index, State::SynSent, now);
        Ok(handle)
    }

    /// A random free port: unused towards `remote` (any use, for a listener).
    fn ephemeral_port(
        &mut self,
        remote: Option<SocketAddr>,
        own_ip: IpAddr,
    ) -> Result<u16, TcpError> {
        let span = u32::from(EPHEMERAL_LAST - EPHEMERAL_FIRST) + 1;
        let start = self.rng.below(u64::from(span)) as u32;
        for step in 0..span {
            let port = EPHEMERAL_FIRST + ((start + step) % span) as u16;
            if self.listeners.contains_key(&port) {
                continue;
            }
            let free = match remote {
                Some(remote)
                    if self
                        .core
                        .as_ref()
                        .is_some_and(|core| !core.owns(SocketAddr::new(own_ip, port), remote)) =>
                {
                    false
                }
                Some(remote) => {
                    let pair = (SocketAddr::new(own_ip, port), remote);
                    match self.demux.get(&pair) {
                        None => match self.time_waits.get(&pair) {
                            None => true,
                            // Linux's `tcp_tw_reuse` (see
                            // `time_wait_reusable_by_connect`).
                            Some(tw) if tw.timestamps.is_some() => {
                                self.stats.time_wait_reused += 1;
                                self.time_waits.remove(&pair);
                                true
                            }
                            Some(_) => false,
                        },
                        Some(&index) if self.time_wait_reusable_by_connect(index) => {
                            self.stats.time_wait_reused += 1;
                            self.release(index);
                            true
                        }
                        Some(_) => false,
                    }
                }
                None => !self.demux.uses_local_port(port) && !self.time_waits.uses_port(port),
            };
            if free {
                return Ok(port);
            }
        }
        Err(TcpError::AddrNotAvailable)
    }

    /// Whether an active open may take over connection `index`'s pair: an
    /// orphan in TIME-WAIT that used timestamps. Our new SYN's timestamp is
    /// newer and its ISN (RFC 6528) lies past the old sequence space, so
    /// the peer and PAWS tell the incarnations apart (Linux's
    /// `tcp_tw_reuse`, without its one-second wait, which would cap a
    /// client at one connection per port per second).
    fn time_wait_reusable_by_connect(&self, index: u32) -> bool {
        match &self.slots[index as usize].entry {
            Some(Entry::Conn(tcb)) => {
                tcb.state == State::TimeWait
                    && tcb.owner == Owner::Orphan
                    && tcb.timestamps.is_some()
            }
            _ => false,
        }
    }

    /// Takes the oldest established connection from a listener, with the
    /// peer's address.
    pub fn accept(&mut self, listener: TcpHandle) -> Result<(TcpHandle, SocketAddr), TcpError> {
        match self.check(listener)? {
            Entry::Listener(_) => {}
            Entry::Conn(_) => return Err(TcpError::InvalidState),
        }
        let l = self.listener(listener.index).expect("checked");
        let index = l.accept_queue.pop_front().ok_or(TcpError::WouldBlock)?;
        let generation = self.slots[index as usize].generation;
        let tcb = self.tcb(index).expect("accept queue holds connections");
        tcb.owner = Owner::User;
        let remote = tcb.remote;
        Ok((TcpHandle { index, generation }, remote))
    }

    /// Queues as much of `data` as the send buffer takes; returns how many bytes.
    pub fn send(&mut self, handle: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        let max = self.send_admit(handle, data.len())?;
        if max == 0 {
            return Ok(0);
        }
        let tcb = self.tcb(handle.index).expect("admitted");
        let n = tcb.tx.write(&data[..max]);
        self.queued(handle, n)
    }

    /// Queues up to `max` bytes written in place: `fill` gets the send
    /// buffer's free space as two slices (the second where it wraps),
    /// writes into them from the start, and returns how many bytes it
    /// wrote; those are queued (zero-copy send: no intermediate buffer).
    /// The same admission as [`send`](Self::send): errors, state, memory.
    pub fn send_in_place(
        &mut self,
        handle: TcpHandle,
        max: usize,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> usize,
    ) -> Result<usize, TcpError> {
        let max = self.send_admit(handle, max)?;
        if max == 0 {
            return Ok(0);
        }
        let tcb = self.tcb(handle.index).expect("admitted");
        let (first, second) = tcb.tx.space_mut(max);
        let room = first.len() + second.len();
        if room == 0 {
            return Err(TcpError::WouldBlock);
        }
        let n = fill(first, second).min(room);
        tcb.tx.commit(n);
        // The storage may have grown for the space even if nothing was written.
        self.queued(handle, n).or(Ok(0))
    }

    /// How many of `wanted` bytes a send may queue now (0 only when
    /// `wanted` is), or why none: a pending error, the state, or memory.
    fn send_admit(&mut self, handle: TcpHandle, wanted: usize) -> Result<usize, TcpError> {
        let memory_left = self.memory_left();
        let tcb = self.user_tcb(handle)?;
        if let Some(error) = tcb.error.filter(|_| !tcb.error_reported) {
            tcb.error_reported = true;
            return Err(error);
        }
        match tcb.state {
            State::SynSent | State::SynReceived => return Err(TcpError::WouldBlock),
            State::Established | State::CloseWait if !tcb.fin_queued => {}
            _ => return Err(TcpError::BrokenPipe),
        }
        if wanted == 0 {
            return Ok(0);
        }
        // Past the cap, only what the ring's storage already holds room for.
        if tcb.tx.growth_for(0, wanted) > memory_left {
            let room = tcb.tx.allocated().saturating_sub(tcb.tx.len());
            if room == 0 {
                self.stats.buffer_memory_drops += 1;
                return Err(TcpError::NoBuffers);
            }
            return Ok(room.min(wanted));
        }
        Ok(wanted)
    }

    /// After `n` bytes went into the send buffer: the buffer memory
    /// counted (a ring the write just allocated, before anything else is
    /// admitted), then `WouldBlock` if none went in, else the connection
    /// marked for output.
    fn queued(&mut self, handle: TcpHandle, n: usize) -> Result<usize, TcpError> {
        let tcb = self.tcb(handle.index).expect("admitted");
        let held = tcb.tx.allocated() + tcb.rx.allocated();
        let before = std::mem::replace(&mut tcb.reserved_bytes, held);
        self.buffer_bytes = self.buffer_bytes + held - before;
        if n == 0 {
            return Err(TcpError::WouldBlock);
        }
        self.mark_dirty(handle.index);
        Ok(n)
    }

    /// Reads received data into `buf`; `Ok(0)` at end of stream.
    pub fn recv(&mut self, handle: TcpHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
        if buf.is_empty() {
            let tcb = self.user_tcb(handle)?;
            if let Some(error) = tcb.error.filter(|_| !tcb.error_reported) {
                tcb.error_reported = true;
                return Err(error);
            }
            return Ok(0);
        }
        self.recv_in_place(handle, |first, second| {
            let a = first.len().min(buf.len());
            buf[..a].copy_from_slice(&first[..a]);
            let b = second.len().min(buf.len() - a);
            buf[a..a + b].copy_from_slice(&second[..b]);
            a + b
        })
    }

    /// Reads received data in place: `use_data` gets what is held, in
    /// order, as two slices (the second where the buffer wraps), and
    /// returns how many bytes from the start it is done with; those are
    /// consumed (zero-copy receive: no copy into an application buffer).
    /// `Ok(0)` at end of stream, without calling `use_data`; otherwise
    /// the errors of [`recv`](Self::recv).
    pub fn recv_in_place(
        &mut self,
        handle: TcpHandle,
        use_data: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<usize, TcpError> {
        let tcb = self.user_tcb(handle)?;
        if !tcb.rx.is_empty() {
            let (first, second) = tcb.rx.data_slices();
            let used = use_data(first, second).min(tcb.rx.len());
            let n = tcb.rx.consume(used);
            // Only a read opens the window worth announcing (as Linux's
            // tcp_cleanup_rbuf): the handshake's unscaled window growing
            // into the scaled one is announced with the next data ACK.
            if n > 0 && tcb.window_update_due() {
                tcb.ack_now = true;
                self.mark_dirty(handle.index);
            }
            return Ok(n);
        }
        if let Some(error) = tcb.error.filter(|_| !tcb.error_reported) {
            tcb.error_reported = true;
            return Err(error);
        }
        if tcb.fin_received || tcb.state == State::Closed {
            return Ok(0);
        }
        Err(TcpError::WouldBlock)
    }

    /// Copies received data into `buf` without consuming it (`MSG_PEEK`).
    pub fn peek(&self, handle: TcpHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
        match self.check(handle)? {
            Entry::Conn(tcb) => Ok(tcb.rx.read_at(0, buf)),
            Entry::Listener(_) => Err(TcpError::NotConnected),
        }
    }

    /// Takes the connection's pending error, as `SO_ERROR` does: it is
    /// reported once, here or by the next `send`/`recv`.
    pub fn take_error(&mut self, handle: TcpHandle) -> Result<Option<TcpError>, TcpError> {
        let tcb = self.user_tcb(handle)?;
        if tcb.error_reported {
            return Ok(None);
        }
        tcb.error_reported = tcb.error.is_some();
        Ok(tcb.error)
    }

    /// Shuts the sending direction: a FIN follows the queued data.
    pub fn shutdown(&mut self, now: Instant, handle: TcpHandle) -> Result<(), TcpError> {
        let tcb = self.user_tcb(handle)?;
        match tcb.state {
            State::SynReceived | State::Established | State::CloseWait => tcb.fin_queued = true,
            State::SynSent | State::Closed => return Err(TcpError::NotConnected),
            _ => return Ok(()),
        }
        let before = tcb.state;
        self.settle(handle.index, before, now);
        Ok(())
    }

    /// Closes the socket: a listener stops (its pending connections are
    /// reset); a connection finishes gracefully on its own (FIN after the
    /// queued data), or is reset if received data was left unread (RFC
    /// 2525 2.17, as Linux does). The handle is invalid afterwards.
    pub fn close(&mut self, now: Instant, handle: TcpHandle) -> Result<(), TcpError> {
        let fin_wait2_timeout = self.config.fin_wait2_timeout;
        let Some(tcb) = self.disown(now, handle)? else {
            return Ok(());
        };
        let unread = !tcb.rx.is_empty() || !tcb.ooo.is_empty();
        let before = tcb.state;
        match tcb.state {
            State::SynSent | State::Closed => tcb.enter_closed(),
            State::Established
            | State::CloseWait
            | State::SynReceived
            | State::FinWait1
            | State::FinWait2
            | State::Closing
                if unread =>
            {
                tcb.send_rst = true
            }
            State::Established | State::CloseWait | State::SynReceived => tcb.fin_queued = true,
            State::FinWait2 => tcb.set_timer(Timer::Linger, Some(now + fin_wait2_timeout)),
            _ => {}
        }
        self.finish_orphan(handle.index, before, now);
        Ok(())
    }

    /// Aborts: a reset to the peer (in states where it knows us), and the
    /// connection is gone. The handle is invalid afterwards.
    pub fn abort(&mut self, now: Instant, handle: TcpHandle) -> Result<(), TcpError> {
        let Some(tcb) = self.disown(now, handle)? else {
            return Ok(());
        };
        let before = tcb.state;
        match tcb.state {
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => tcb.send_rst = true,
            _ => tcb.enter_closed(),
        }
        self.finish_orphan(handle.index, before, now);
        Ok(())
    }

    /// The application lets go of `handle`: a listener is closed at once
    /// (`None`); a connection is orphaned and returned for the caller to
    /// wind down.
    fn disown(&mut self, now: Instant, handle: TcpHandle) -> Result<Option<&mut Tcb>, TcpError> {
        if let Entry::Listener(_) = self.check(handle)? {
            self.close_listener(now, handle.index);
            return Ok(None);
        }
        let tcb = self.tcb(handle.index).expect("checked");
        tcb.owner = Owner::Orphan;
        // Nobody watches an orphan, and the token its watcher gave (a
        // descriptor number) may go to the next socket.
        tcb.watcher = None;
        Ok(Some(tcb))
    }

    /// An orphaned connection already CLOSED is released; otherwise it
    /// carries on (FIN or RST to send, timers) until it is.
    fn finish_orphan(&mut self, index: u32, before: State, now: Instant) {
        if self
            .tcb(index)
            .is_some_and(|tcb| tcb.state == State::Closed)
        {
            self.release(index);
        } else {
            self.settle(index, before, now);
        }
    }

    fn close_listener(&mut self, now: Instant, index: u32) {
        let Some(Entry::Listener(listener)) = self.slots[index as usize].entry.take() else {
            return;
        };
        self.slots[index as usize].entry = Some(Entry::Listener(Box::new(Listener::new(
            listener.local,
            0,
            listener.options,
        ))));
        self.listeners.remove(&listener.local.port());
        // Every connection it still holds, half-open or unaccepted, is reset.
        let children: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&i| {
                matches!(&self.slots[i as usize].entry,
                    Some(Entry::Conn(tcb)) if tcb.owner == Owner::Listener(index))
            })
            .collect();
        for child in children {
            let tcb = self.tcb(child).expect("filtered");
            tcb.owner = Owner::Orphan;
            let before = tcb.state;
            if tcb.state == State::Closed || tcb.state == State::TimeWait {
                self.release(child);
            } else {
                tcb.send_rst = true;
                self.settle(child, before, now);
            }
        }
        self.release(index);
    }

    /// The connection's state.
    pub fn state(&self, handle: TcpHandle) -> Result<State, TcpError> {
        Ok(match self.check(handle)? {
            Entry::Conn(tcb) => tcb.state,
            Entry::Listener(_) => State::Listen,
        })
    }

    /// Our address and port.
    pub fn local_addr(&self, handle: TcpHandle) -> Result<SocketAddr, TcpError> {
        Ok(match self.check(handle)? {
            Entry::Conn(tcb) => tcb.local,
            Entry::Listener(listener) => listener.local,
        })
    }

    /// The peer's address and port.
    pub fn peer_addr(&self, handle: TcpHandle) -> Result<SocketAddr, TcpError> {
        match self.check(handle)? {
            Entry::Conn(tcb) => Ok(tcb.remote),
            Entry::Listener(_) => Err(TcpError::NotConnected),
        }
    }

    /// Turns keepalive on with `settings`, or off (`None`).
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        handle: TcpHandle,
        settings: Option<super::tcb::Keepalive>,
    ) -> Result<(), TcpError> {
        let tcb = self.user_tcb(handle)?;
        tcb.keepalive = settings;
        match settings {
            Some(_) => tcb.heard_from_peer(now),
            None => tcb.set_timer(Timer::Keepalive, None),
        }
        let state = tcb.state;
        self.settle(handle.index, state, now);
        Ok(())
    }

    /// Switches the congestion-control algorithm (`TCP_CONGESTION`). A
    /// connection in progress restarts from the initial window (Linux keeps
    /// the window it had).
    pub fn set_congestion(
        &mut self,
        handle: TcpHandle,
        algorithm: super::congestion::Algorithm,
    ) -> Result<(), TcpError> {
        let tcb = self.user_tcb(handle)?;
        if tcb.congestion != algorithm {
            tcb.congestion = algorithm;
            tcb.cc = algorithm.build(tcb.mss);
        }
        Ok(())
    }

    /// Turns Nagle's algorithm off (`true`, TCP_NODELAY) or on.
    pub fn set_nodelay(&mut self, handle: TcpHandle, nodelay: bool) -> Result<(), TcpError> {
        self.user_tcb(handle)?.nodelay = nodelay;
        self.mark_dirty(handle.index);
        Ok(())
    }

    /// Bytes waiting to be read.
    pub fn recv_queued(&self, handle: TcpHandle) -> Result<usize, TcpError> {
        match self.check(handle)? {
            Entry::Conn(tcb) => Ok(tcb.rx.len()),
            Entry::Listener(_) => Err(TcpError::NotConnected),
        }
    }

    /// Bytes written and not yet acknowledged.
    pub fn send_queued(&self, handle: TcpHandle) -> Result<usize, TcpError> {
        match self.check(handle)? {
            Entry::Conn(tcb) => Ok(tcb.tx.len()),
            Entry::Listener(_) => Err(TcpError::NotConnected),
        }
    }

    /// What the socket is ready for.
    pub fn readiness(&self, handle: TcpHandle) -> Result<Readiness, TcpError> {
        Ok(match self.check(handle)? {
            Entry::Listener(listener) => Readiness {
                readable: !listener.accept_queue.is_empty(),
                ..Readiness::default()
            },
            Entry::Conn(tcb) => {
                let error = tcb.error.is_some() && !tcb.error_reported;
                let closed = tcb.state == State::Closed;
                let may_send =
                    matches!(tcb.state, State::Established | State::CloseWait) && !tcb.fin_queued;
                Readiness {
                    readable: !tcb.rx.is_empty() || tcb.fin_received || error || closed,
                    writable: (may_send && tcb.tx.free() > 0) || error || closed,
                    read_closed: tcb.fin_received,
                    hung_up: closed || (tcb.fin_received && tcb.fin_queued),
                    error,
                }
            }
        })
    }

    /// Round-trip time estimate of a connection (smoothed), if measured.
    pub fn srtt(&self, handle: TcpHandle) -> Result<Option<crate::time::Duration>, TcpError> {
        match self.check(handle)? {
            Entry::Conn(tcb) => Ok(tcb.rtt.srtt()),
            Entry::Listener(_) => Err(TcpError::NotConnected),
        }
    }

    /// Read access to a connection's control block (tests, diagnostics).
    pub fn tcb_of(&self, handle: TcpHandle) -> Result<&Tcb, TcpError> {
        match self.check(handle)? {
            Entry::Conn(tcb) => Ok(tcb),
            Entry::Listener(_) => Err(TcpError::NotConnected),
        }
    }
}

impl TcpSockets {
    /// Calls `f` with each listener or connection in the table.
    pub(super) fn for_each_entry(&self, mut f: impl FnMut(Option<&Listener>, Option<&Tcb>)) {
        for slot in &self.slots {
            match &slot.entry {
                Some(Entry::Conn(tcb)) => f(None, Some(tcb)),
                Some(Entry::Listener(listener)) => f(Some(listener), None),
                None => {}
            }
        }
    }

    /// The pairs held as TIME-WAIT records.
    pub(super) fn time_wait_pairs(&self) -> impl Iterator<Item = FourTuple> + '_ {
        self.time_waits.pairs()
    }
}

/// The connection in slot `index`, if it holds one.
fn conn_in(slots: &mut [Slot], index: u32) -> Option<&mut Tcb> {
    match slots.get_mut(index as usize)?.entry.as_mut()? {
        Entry::Conn(tcb) => Some(tcb),
        Entry::Listener(_) => None,
    }
}

/// RFC 6191 for a connection still held in TIME-WAIT as a control block.
fn time_wait_reusable(tcb: &Tcb, seg: &Segment<'_>) -> bool {
    super::time_wait::newer_incarnation(tcb.timestamps, tcb.rcv_nxt, seg)
}
