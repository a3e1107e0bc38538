//! A multi-core workload both ways: every core of a side listens on one
//! port (per-core listeners), echoes what its accepted connections send,
//! and opens its share of connections to the other side, each sending
//! messages and checking every byte that comes back. Shared by the
//! in-memory multi-queue pipe test and the DPDK memif test.

use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use dpstack::runtime::{Core, CoreUser, Stack, StackConfig};
use dpstack::socket::{Errno, Fd, SockType};
use dpstack::stats::StackStats;
use dpstack::time::{Duration, MonotonicClock};
use dpstack::wire::Ipv4Cidr;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What one side does.
pub struct EchoBothWays {
    /// This side's address.
    pub ip: Ipv4Cidr,
    /// The other side's listening address.
    pub peer: SocketAddr,
    /// The port every core listens on.
    pub listen_port: u16,
    /// Connections each core opens to the peer.
    pub connections_per_core: usize,
    /// Messages each connection sends, one at a time, each echoed back.
    pub messages: usize,
    /// Bytes per message.
    pub message_size: usize,
    /// Connections each core keeps open at once.
    pub window: usize,
    /// Connections the peer opens to this side (all cores together): a
    /// side stops once they are all served and closed.
    pub expected_inbound: u64,
    /// Cores of both sides that must be listening before anyone connects,
    /// and finished before anyone stops (0: nobody waits; refused
    /// connections are retried instead).
    pub start_gate: usize,
    /// How long a core may take.
    pub deadline: std::time::Duration,
    /// Inbound connections this side finished (shared by its cores).
    pub inbound_done: AtomicU64,
    /// Arrivals of the cores of both sides at the gates, listening and
    /// finished (shared when `start_gate` is set).
    pub listening: std::sync::Arc<AtomicUsize>,
    /// Core 0 prints this line once its port is started (for a parent
    /// process to wait for).
    pub ready_line: Option<String>,
    /// Run by every core once its work is done, before its device (and so
    /// the port) goes away: where two processes agree on when to stop.
    pub park: Option<Park>,
}

/// What every core runs once its work is done (see [`EchoBothWays::park`]).
pub type Park = Box<dyn Fn(&Core) + Sync>;

/// What one core did.
#[derive(Debug)]
pub struct CoreResult {
    /// The core's index.
    pub core: usize,
    /// Connections its listener accepted.
    pub accepted: u64,
    /// Its outbound connections whose every echoed byte matched.
    pub verified: u64,
    /// Outbound connections refused (the peer not listening yet) and retried.
    pub retried: u64,
    /// (local, remote) of each outbound connection.
    pub flows: Vec<(SocketAddr, SocketAddr)>,
    /// Outbound connections whose flow the core's steering places on
    /// another core (each should be 0: active opens pick ports that land home).
    pub flows_elsewhere: u64,
    /// The core's stack counters.
    pub stats: StackStats,
}

/// An outbound connection's progress.
struct Outbound {
    id: u64,
    connected: bool,
    message: usize,
    /// Bytes of the current message's echo received so far.
    received: usize,
}

/// An accepted connection: bytes read and not yet echoed.
#[derive(Default)]
struct Inbound {
    pending: Vec<u8>,
}

/// The byte at `offset` of message `message` of connection `id`.
fn content(id: u64, message: usize, offset: usize) -> u8 {
    let x = id
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((message as u64) << 20 | offset as u64);
    (x ^ (x >> 29))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9)
        .to_be_bytes()[0]
}

impl EchoBothWays {
    /// A side with the counters zeroed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ip: Ipv4Cidr,
        peer: SocketAddr,
        connections_per_core: usize,
        messages: usize,
        message_size: usize,
        expected_inbound: u64,
        start_gate: usize,
        listening: std::sync::Arc<AtomicUsize>,
    ) -> Self {
        EchoBothWays {
            ip,
            peer,
            listen_port: peer.port(),
            connections_per_core,
            messages,
            message_size,
            window: 100,
            expected_inbound,
            start_gate,
            deadline: std::time::Duration::from_secs(120),
            inbound_done: AtomicU64::new(0),
            listening,
            ready_line: None,
            park: None,
        }
    }
}

struct CoreRun<'a, D: Device> {
    side: &'a EchoBothWays,
    stack: Stack<D, MonotonicClock>,
    epfd: Fd,
    listener: Fd,
    outbound: HashMap<Fd, Outbound>,
    inbound: HashMap<Fd, Inbound>,
    next_id: u64,
    opened: usize,
    result: CoreResult,
    buf: Vec<u8>,
    core_index: usize,
    steering: Option<dpstack::steer::CoreSteering>,
}

impl<D: Device> CoreRun<'_, D> {
    fn open_one(&mut self) -> Result<(), String> {
        let fd = self
            .stack
            .socket(SockType::Stream)
            .map_err(|e| e.to_string())?;
        match self.stack.connect(fd, self.side.peer) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(format!("connect: {e}")),
        }
        let event = EpollEvent {
            events: EPOLLIN | EPOLLOUT | EPOLLRDHUP,
            data: fd as u64,
        };
        self.stack
            .epoll_ctl(self.epfd, CtlOp::Add, fd, event)
            .map_err(|e| e.to_string())?;
        let id = (self.core_index as u64) << 32 | self.next_id;
        self.next_id += 1;
        self.outbound.insert(
            fd,
            Outbound {
                id,
                connected: false,
                message: 0,
                received: 0,
            },
        );
        Ok(())
    }

    fn send_message(&mut self, fd: Fd) -> Result<(), String> {
        let conn = &self.outbound[&fd];
        let message: Vec<u8> = (0..self.side.message_size)
            .map(|i| content(conn.id, conn.message, i))
            .collect();
        let mut sent = 0;
        while sent < message.len() {
            match self.stack.send(fd, &message[sent..], 0) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => {
                    self.stack.poll();
                }
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        Ok(())
    }

    /// One poll turn and whatever it made ready.
    fn turn(&mut self) -> Result<(), String> {
        let mut events = [EpollEvent::default(); 256];
        let n = self
            .stack
            .epoll_wait(self.epfd, &mut events, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
        for event in &events[..n] {
            let fd = event.data as Fd;
            if fd == self.listener {
                while let Ok((conn, _)) = self.stack.accept(self.listener) {
                    let interest = EpollEvent {
                        events: EPOLLIN | EPOLLRDHUP,
                        data: conn as u64,
                    };
                    self.stack
                        .epoll_ctl(self.epfd, CtlOp::Add, conn, interest)
                        .map_err(|e| e.to_string())?;
                    self.inbound.insert(conn, Inbound::default());
                    self.result.accepted += 1;
                }
            } else if self.inbound.contains_key(&fd) {
                self.echo(fd)?;
            } else if self.outbound.contains_key(&fd) {
                self.advance(fd)?;
            }
        }
        Ok(())
    }

    fn echo(&mut self, fd: Fd) -> Result<(), String> {
        let mut closed = false;
        loop {
            match self.stack.recv(fd, &mut self.buf, 0) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    let read = self.buf[..n].to_vec();
                    self.inbound
                        .get_mut(&fd)
                        .expect("inbound")
                        .pending
                        .extend(read);
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(format!("echo recv: {e}")),
            }
        }
        let conn = self.inbound.get_mut(&fd).expect("inbound");
        while !conn.pending.is_empty() {
            match self.stack.send(fd, &conn.pending, 0) {
                Ok(n) => {
                    conn.pending.drain(..n);
                }
                Err(Errno::EAGAIN) => {
                    self.stack.poll();
                }
                Err(e) => return Err(format!("echo send: {e}")),
            }
        }
        if closed {
            self.inbound.remove(&fd);
            let _ = self.stack.close(fd);
            self.side.inbound_done.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    fn advance(&mut self, fd: Fd) -> Result<(), String> {
        if !self.outbound[&fd].connected {
            match self.stack.connect(fd, self.side.peer) {
                Ok(()) | Err(Errno::EISCONN) => {}
                Err(Errno::EALREADY) => return Ok(()),
                Err(Errno::ECONNREFUSED) if self.side.start_gate == 0 => {
                    // The peer is not listening yet: try again.
                    self.outbound.remove(&fd);
                    let _ = self.stack.close(fd);
                    self.result.retried += 1;
                    return self.open_one();
                }
                Err(e) => return Err(format!("connecting: {e}")),
            }
            let local = self.stack.getsockname(fd).map_err(|e| e.to_string())?;
            self.result.flows.push((local, self.side.peer));
            if self
                .steering
                .as_ref()
                .is_some_and(|s| !s.owns(local, self.side.peer))
            {
                self.result.flows_elsewhere += 1;
            }
            self.outbound.get_mut(&fd).expect("outbound").connected = true;
            let readable = EpollEvent {
                events: EPOLLIN | EPOLLRDHUP,
                data: fd as u64,
            };
            self.stack
                .epoll_ctl(self.epfd, CtlOp::Mod, fd, readable)
                .map_err(|e| e.to_string())?;
            return self.send_message(fd);
        }
        loop {
            let got = match self.stack.recv(fd, &mut self.buf, 0) {
                Ok(0) => return Err("the peer closed before echoing everything".into()),
                Ok(n) => n,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(format!("recv: {e}")),
            };
            let size = self.side.message_size;
            let conn = self.outbound.get_mut(&fd).expect("outbound");
            for (k, &byte) in self.buf[..got].iter().enumerate() {
                if conn.received == size {
                    return Err("more bytes came back than were sent".into());
                }
                if byte != content(conn.id, conn.message, conn.received) {
                    return Err(format!(
                        "connection {:#x} message {} byte {}: echoed wrong (at {k} of a read of {got})",
                        conn.id, conn.message, conn.received
                    ));
                }
                conn.received += 1;
            }
            if conn.received < size {
                continue;
            }
            conn.message += 1;
            conn.received = 0;
            if conn.message < self.side.messages {
                self.send_message(fd)?;
                continue;
            }
            self.outbound.remove(&fd);
            let _ = self.stack.close(fd);
            self.result.verified += 1;
            if self.opened < self.side.connections_per_core {
                self.opened += 1;
                self.open_one()?;
            }
            return Ok(());
        }
    }
}

impl CoreUser for EchoBothWays {
    type Output = CoreResult;

    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<CoreResult, String> {
        let config = core.stack_config(StackConfig::new(self.ip));
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
        let listener = stack.socket(SockType::Stream).map_err(|e| e.to_string())?;
        stack
            .bind(
                listener,
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), self.listen_port),
            )
            .and_then(|()| stack.listen(listener, 1024))
            .map_err(|e| format!("listen: {e}"))?;
        let interest = EpollEvent {
            events: EPOLLIN,
            data: listener as u64,
        };
        stack
            .epoll_ctl(epfd, CtlOp::Add, listener, interest)
            .map_err(|e| e.to_string())?;
        let mut run = CoreRun {
            side: self,
            stack,
            epfd,
            listener,
            outbound: HashMap::new(),
            inbound: HashMap::new(),
            next_id: 0,
            opened: 0,
            result: CoreResult {
                core: core.index(),
                accepted: 0,
                verified: 0,
                retried: 0,
                flows: Vec::new(),
                flows_elsewhere: 0,
                stats: StackStats::default(),
            },
            buf: vec![0u8; 64 * 1024],
            core_index: core.index(),
            steering: core.steering().cloned(),
        };
        if let (Some(line), 0) = (&self.ready_line, core.index()) {
            println!("{line}");
        }
        let started = std::time::Instant::now();
        self.listening.fetch_add(1, Ordering::AcqRel);
        while self.listening.load(Ordering::Acquire) < self.start_gate {
            run.turn()?;
            if started.elapsed() > self.deadline {
                return Err("the other side never listened".into());
            }
        }
        while run.opened < self.connections_per_core.min(self.window) {
            run.opened += 1;
            run.open_one()?;
        }
        loop {
            run.turn()?;
            let outbound_done = run.result.verified as usize == self.connections_per_core;
            let inbound_done = self.inbound_done.load(Ordering::Acquire) >= self.expected_inbound;
            if outbound_done && inbound_done && run.inbound.is_empty() {
                break;
            }
            if started.elapsed() > self.deadline || !core.control().keep_running() {
                return Err(format!(
                    "unfinished: {} of {} verified, {} open, inbound {} of {} (side), {} accepted here",
                    run.result.verified,
                    self.connections_per_core,
                    run.outbound.len(),
                    self.inbound_done.load(Ordering::Acquire),
                    self.expected_inbound,
                    run.result.accepted
                ));
            }
        }
        // Keep answering until the other side is done too: its last FINs
        // may still need a retransmission.
        self.listening.fetch_add(1, Ordering::AcqRel);
        while self.listening.load(Ordering::Acquire) < 2 * self.start_gate {
            run.turn()?;
            if started.elapsed() > self.deadline {
                return Err("the other side never finished".into());
            }
        }
        // Let the last FINs and ACKs leave.
        let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
        while std::time::Instant::now() < until {
            run.turn()?;
        }
        run.result.stats = run.stack.stats();
        if let Some(park) = &self.park {
            park(core);
        }
        Ok(run.result)
    }
}

impl CoreResult {
    /// The figures as one JSON object, for a child process to print.
    pub fn to_json(&self) -> serde_json::Value {
        let s = self.stats.steering;
        serde_json::json!({
            "core": self.core,
            "accepted": self.accepted,
            "verified": self.verified,
            "retried": self.retried,
            "flows": self.flows.len(),
            "flows_elsewhere": self.flows_elsewhere,
            "handed_out": s.handed_out,
            "handed_in": s.handed_in,
            "handoff_drops": s.handoff_drops,
            "arp_copies": s.arp_copies,
        })
    }
}
