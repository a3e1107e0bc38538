//! Stateful load (`--mode http`, `--mode tcp-rr`): real TCP connections
//! from one dpstack stack per lcore to a server, the webbench/wrk model.
//! N clients each keep one request outstanding for the run's duration,
//! on a kept-alive connection or a new one per request; connections and
//! requests per second, bytes, errors by kind and latency are reported
//! live each second and in the summary.

use crate::http_response::{Progress, ResponseReader};
use crate::stats::LatencyHistogram;
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN, EPOLLOUT};
use dpstack::runtime::{Core, CoreUser, IdleBackoff, NetOptions, Stack};
use dpstack::socket::{Errno, Fd, SockOpt, SockType};
use dpstack::time::{Clock, Duration, MonotonicClock};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Most connections a core has opening at once: a burst of thousands of
/// SYNs overflows receive queues, and each lost one waits a full
/// retransmission timeout.
const MAX_CONNECTING: usize = 100;

/// How often clients are checked for a timeout and the live counters are
/// published.
const SCAN_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// What each client sends and how the reply ends.
#[derive(Debug, Clone)]
pub enum Request {
    /// An HTTP/1.1 request; the reply is a response read to its end.
    Http {
        /// The request bytes (`GET <path> HTTP/1.1`, `Host`, and
        /// `Connection: close` for a connection per request).
        bytes: Vec<u8>,
    },
    /// `size` bytes echoed back (any echo server).
    Echo {
        /// Request (and reply) size, bytes.
        size: usize,
    },
}

/// What the stateful run is asked to do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The server.
    pub server: SocketAddr,
    /// The request.
    pub request: Request,
    /// Concurrent clients over all cores.
    pub clients: usize,
    /// A new connection for every request (else kept alive).
    pub new_connection: bool,
    /// A request (its connect included, for a new connection) not answered
    /// within this counts as a timeout and its connection is dropped.
    pub timeout: std::time::Duration,
}

impl LoadOptions {
    /// The HTTP request for `path` on `server`.
    pub fn http_request(server: SocketAddr, path: &str, new_connection: bool) -> Vec<u8> {
        let close = if new_connection {
            "Connection: close\r\n"
        } else {
            ""
        };
        format!(
            "GET {path} HTTP/1.1\r\nHost: {server}\r\nUser-Agent: dpstack-pktgen\r\n{close}\r\n"
        )
        .into_bytes()
    }
}

/// Failed requests, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    /// The server refused the connection (RST to the SYN).
    pub refused: u64,
    /// The connection was reset (or the send side broke) mid-request.
    pub reset: u64,
    /// No answer within `--timeout` (connect or response).
    pub timeout: u64,
    /// No route or neighbour for the server.
    pub unreachable: u64,
    /// A response with a status other than 2xx or 3xx (counted as a
    /// completed request too, as wrk does).
    pub bad_status: u64,
    /// Bytes that are not a response this client reads.
    pub bad_response: u64,
    /// The server closed the connection before the whole response.
    pub closed: u64,
    /// Any other socket error.
    pub other: u64,
}

impl Errors {
    /// Every failed request.
    pub fn total(&self) -> u64 {
        self.refused
            + self.reset
            + self.timeout
            + self.unreachable
            + self.bad_status
            + self.bad_response
            + self.closed
            + self.other
    }

    fn add(&mut self, other: &Errors) {
        self.refused += other.refused;
        self.reset += other.reset;
        self.timeout += other.timeout;
        self.unreachable += other.unreachable;
        self.bad_status += other.bad_status;
        self.bad_response += other.bad_response;
        self.closed += other.closed;
        self.other += other.other;
    }

    fn count(&mut self, errno: Errno) {
        match errno {
            Errno::ECONNREFUSED => self.refused += 1,
            Errno::ECONNRESET | Errno::EPIPE => self.reset += 1,
            Errno::ETIMEDOUT => self.timeout += 1,
            Errno::EHOSTUNREACH | Errno::ENETUNREACH => self.unreachable += 1,
            _ => self.other += 1,
        }
    }

    /// `(name, count)` for each kind, in a fixed order.
    pub fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("refused", self.refused),
            ("reset", self.reset),
            ("timeout", self.timeout),
            ("unreachable", self.unreachable),
            ("bad_status", self.bad_status),
            ("bad_response", self.bad_response),
            ("closed", self.closed),
            ("other", self.other),
        ]
    }
}

/// What one core measured.
#[derive(Default)]
pub struct CoreLoad {
    /// Connections established.
    pub connections: u64,
    /// Requests answered (whatever their status).
    pub requests: u64,
    /// Reply bytes: HTTP bodies, or echoed bytes.
    pub bytes: u64,
    /// Failed requests by cause.
    pub errors: Errors,
    /// Request latency: from the request's send (from the connect, for a
    /// connection per request) to the reply's last byte.
    pub latency: LatencyHistogram,
    /// Length of the run on this core, seconds.
    pub seconds: f64,
}

/// One core's running totals for the live line, on cache lines of their own.
#[repr(align(128))]
#[derive(Default)]
struct LiveSlot {
    connections: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
}

/// The stateful load as a multi-core app: one stack and a share of the
/// clients on each core.
pub struct Load {
    net: NetOptions,
    options: LoadOptions,
    live: Vec<LiveSlot>,
}

impl Load {
    /// The load `options` over the device `net` names.
    pub fn new(net: NetOptions, options: LoadOptions) -> Self {
        Load {
            net,
            options,
            live: (0..MAX_CORES).map(|_| LiveSlot::default()).collect(),
        }
    }

    /// The summary over every core: `(json, failed requests)`.
    pub fn summary(&self, cores: &[CoreLoad]) -> (serde_json::Value, u64) {
        let mut errors = Errors::default();
        let mut latency = LatencyHistogram::default();
        let (mut connections, mut requests, mut bytes) = (0, 0, 0);
        let mut seconds: f64 = 0.0;
        for core in cores {
            errors.add(&core.errors);
            latency.merge(&core.latency);
            connections += core.connections;
            requests += core.requests;
            bytes += core.bytes;
            seconds = seconds.max(core.seconds);
        }
        let per_sec = |v: u64| v as f64 / seconds.max(1e-9);
        let us = |ns: u64| ns as f64 / 1e3;
        let errors_json: serde_json::Map<String, serde_json::Value> = errors
            .fields()
            .iter()
            .map(|(name, count)| (name.to_string(), (*count).into()))
            .collect();
        let mode = match self.options.request {
            Request::Http { .. } => "http",
            Request::Echo { .. } => "tcp-rr",
        };
        let summary = serde_json::json!({
            "mode": mode,
            "server": self.options.server.to_string(),
            "lcores": cores.len(),
            "clients": self.options.clients,
            "new_connection_per_request": self.options.new_connection,
            "seconds": seconds,
            "connections": connections,
            "requests": requests,
            "bytes": bytes,
            "connections_per_second": per_sec(connections),
            "requests_per_second": per_sec(requests),
            "errors": errors.total(),
            "errors_by_kind": errors_json,
            "latency_us": {
                "samples": latency.count(),
                "p50": us(latency.quantile(0.5)),
                "p99": us(latency.quantile(0.99)),
                "p999": us(latency.quantile(0.999)),
                "max": us(latency.max()),
                "avg": latency.mean() / 1e3,
            },
        });
        (summary, errors.total())
    }
}

/// Cores a run may have (live slots are made up front).
const MAX_CORES: usize = 128;

impl CoreUser for Load {
    type Output = CoreLoad;

    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<CoreLoad, String> {
        if core.count() > MAX_CORES {
            return Err(format!("at most {MAX_CORES} lcores"));
        }
        let config = core.stack_config(self.net.stack_config()?);
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        if !core.ready(&self.net, &mut stack) {
            return Ok(CoreLoad::default());
        }
        let mut run = CoreRun::new(&mut stack, core, &self.options, &self.live)?;
        let result = run.run();
        // Let the last FINs and ACKs leave before the device goes away.
        let until = Instant::now() + std::time::Duration::from_millis(200);
        while Instant::now() < until {
            if !stack.poll() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        result
    }
}

/// Where a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a connection slot.
    Queued,
    /// Connecting.
    Connecting,
    /// A request sent, its reply not complete.
    Waiting,
}

/// One client.
struct Client {
    fd: Option<Fd>,
    phase: Phase,
    /// When the current request (or its connect) started.
    started: Instant,
    reader: ResponseReader,
    /// Echo bytes still expected.
    awaiting: usize,
}

/// One core's run.
struct CoreRun<'a, D: Device, C: Clock> {
    stack: &'a mut Stack<D, C>,
    core: &'a Core,
    options: &'a LoadOptions,
    live: &'a [LiveSlot],
    epfd: Fd,
    clients: Vec<Client>,
    queued: VecDeque<usize>,
    connecting: usize,
    request: Vec<u8>,
    buf: Vec<u8>,
    out: CoreLoad,
}

impl<'a, D: Device, C: Clock> CoreRun<'a, D, C> {
    fn new(
        stack: &'a mut Stack<D, C>,
        core: &'a Core,
        options: &'a LoadOptions,
        live: &'a [LiveSlot],
    ) -> Result<Self, String> {
        let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
        let mine = (core.index()..options.clients)
            .step_by(core.count())
            .count();
        let now = Instant::now();
        let clients = (0..mine)
            .map(|_| Client {
                fd: None,
                phase: Phase::Queued,
                started: now,
                reader: ResponseReader::new(false),
                awaiting: 0,
            })
            .collect();
        let request = match &options.request {
            Request::Http { bytes } => bytes.clone(),
            Request::Echo { size } => vec![0x42; *size],
        };
        Ok(CoreRun {
            stack,
            core,
            options,
            live,
            epfd,
            clients,
            queued: (0..mine).collect(),
            connecting: 0,
            request,
            buf: vec![0; 64 * 1024],
            out: CoreLoad::default(),
        })
    }

    fn run(&mut self) -> Result<CoreLoad, String> {
        let started = Instant::now();
        let mut events = vec![EpollEvent::default(); 1024];
        let mut backoff = IdleBackoff::default();
        let mut next_scan = started + SCAN_EVERY;
        let mut next_report = started + std::time::Duration::from_secs(1);
        let mut reported = (0u64, 0u64, 0u64, started);
        while self.core.control().keep_running() {
            self.open_queued()?;
            let n = self
                .stack
                .epoll_wait(self.epfd, &mut events, Some(Duration::ZERO))
                .map_err(|e| e.to_string())?;
            backoff.turn(n > 0);
            for event in &events[..n] {
                self.on_ready(event.data as usize)?;
            }
            let now = Instant::now();
            if now >= next_scan {
                next_scan = now + SCAN_EVERY;
                self.expire(now)?;
                self.publish();
                if self.core.index() == 0 && now >= next_report {
                    next_report = now + std::time::Duration::from_secs(1);
                    reported = self.report(reported, now);
                }
            }
        }
        self.out.seconds = started.elapsed().as_secs_f64();
        self.publish();
        for j in 0..self.clients.len() {
            if let Some(fd) = self.clients[j].fd.take() {
                let _ = self.stack.close(fd);
            }
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// Opens connections for queued clients, up to the connecting limit.
    /// Until a first connect has completed (or failed) only one is opened:
    /// it resolves the next hop, where a burst of SYNs would overflow the
    /// neighbour queue and cost the dropped ones a retransmission timeout.
    fn open_queued(&mut self) -> Result<(), String> {
        let path_known = self.out.connections > 0 || self.out.errors.total() > 0;
        let limit = if path_known { MAX_CONNECTING } else { 1 };
        while self.connecting < limit {
            let Some(j) = self.queued.pop_front() else {
                break;
            };
            let fd = self
                .stack
                .socket(SockType::Stream)
                .map_err(|e| format!("socket: {e}"))?;
            self.stack
                .setsockopt(fd, SockOpt::NoDelay(true))
                .map_err(|e| e.to_string())?;
            let client = &mut self.clients[j];
            client.fd = Some(fd);
            client.started = Instant::now();
            match self.stack.connect(fd, self.options.server) {
                Ok(()) | Err(Errno::EINPROGRESS) => {}
                Err(e) => {
                    self.fail(j, |errors| errors.count(e));
                    continue;
                }
            }
            let watch = EpollEvent {
                events: EPOLLIN | EPOLLOUT,
                data: j as u64,
            };
            self.stack
                .epoll_ctl(self.epfd, CtlOp::Add, fd, watch)
                .map_err(|e| e.to_string())?;
            self.clients[j].phase = Phase::Connecting;
            self.connecting += 1;
        }
        Ok(())
    }

    fn on_ready(&mut self, j: usize) -> Result<(), String> {
        let Some(fd) = self.clients.get(j).and_then(|c| c.fd) else {
            return Ok(());
        };
        match self.clients[j].phase {
            Phase::Queued => Ok(()),
            Phase::Connecting => match self.stack.connect(fd, self.options.server) {
                Ok(()) | Err(Errno::EISCONN) => {
                    self.connecting -= 1;
                    self.out.connections += 1;
                    let readable = EpollEvent {
                        events: EPOLLIN,
                        data: j as u64,
                    };
                    self.stack
                        .epoll_ctl(self.epfd, CtlOp::Mod, fd, readable)
                        .map_err(|e| e.to_string())?;
                    // For a connection per request the request's clock
                    // started at the connect.
                    let keep_clock = self.options.new_connection;
                    self.send_request(j, keep_clock);
                    Ok(())
                }
                Err(Errno::EALREADY) | Err(Errno::EINPROGRESS) => Ok(()),
                Err(e) => {
                    self.fail(j, |errors| errors.count(e));
                    Ok(())
                }
            },
            Phase::Waiting => {
                self.read_reply(j, fd);
                Ok(())
            }
        }
    }

    /// Sends the request on client `j`'s connection (it fits an empty send
    /// buffer: one request is outstanding at a time).
    fn send_request(&mut self, j: usize, keep_clock: bool) {
        let Some(fd) = self.clients[j].fd else {
            return;
        };
        let client = &mut self.clients[j];
        client.phase = Phase::Waiting;
        if !keep_clock {
            client.started = Instant::now();
        }
        client.reader.reset();
        client.awaiting = self.request.len();
        let mut sent = 0;
        while sent < self.request.len() {
            match self.stack.send(fd, &self.request[sent..], 0) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => {
                    // The send buffer holds far more than a request; it
                    // is full only while the stack drains it.
                    self.stack.poll();
                }
                Err(e) => {
                    self.fail(j, |errors| errors.count(e));
                    return;
                }
            }
        }
    }

    fn read_reply(&mut self, j: usize, fd: Fd) {
        loop {
            match self.stack.recv(fd, &mut self.buf, 0) {
                Ok(0) => {
                    let progress = match self.options.request {
                        Request::Http { .. } => self.clients[j].reader.eof(),
                        Request::Echo { .. } => Progress::Bad("closed in the middle of a response"),
                    };
                    match progress {
                        Progress::Done(response) => {
                            self.complete(j, response.status, response.body, true)
                        }
                        _ => self.fail(j, |errors| errors.closed += 1),
                    }
                    return;
                }
                Ok(got) => {
                    let progress = match self.options.request {
                        Request::Http { .. } => self.clients[j].reader.feed(&self.buf[..got]),
                        Request::Echo { .. } => {
                            let client = &mut self.clients[j];
                            client.awaiting = client.awaiting.saturating_sub(got);
                            if client.awaiting == 0 {
                                Progress::Done(crate::http_response::Response {
                                    status: 200,
                                    close: false,
                                    body: self.request.len() as u64,
                                })
                            } else {
                                Progress::More
                            }
                        }
                    };
                    match progress {
                        Progress::More => {}
                        Progress::Done(response) => {
                            self.complete(j, response.status, response.body, response.close);
                            return;
                        }
                        Progress::Bad(_) => {
                            self.fail(j, |errors| errors.bad_response += 1);
                            return;
                        }
                    }
                }
                Err(Errno::EAGAIN) => return,
                Err(e) => {
                    self.fail(j, |errors| errors.count(e));
                    return;
                }
            }
        }
    }

    /// A whole reply arrived on client `j`.
    fn complete(&mut self, j: usize, status: u16, bytes: u64, close: bool) {
        let client = &self.clients[j];
        self.out
            .latency
            .record(client.started.elapsed().as_nanos() as u64);
        self.out.requests += 1;
        self.out.bytes += bytes;
        if !(200..400).contains(&status) {
            self.out.errors.bad_status += 1;
        }
        if self.options.new_connection || close {
            self.drop_connection(j);
            self.queued.push_back(j);
        } else {
            self.send_request(j, false);
        }
    }

    /// Counts a failed request on client `j`, drops its connection and
    /// queues it for a new one.
    fn fail(&mut self, j: usize, count: impl FnOnce(&mut Errors)) {
        count(&mut self.out.errors);
        if self.clients[j].phase == Phase::Connecting {
            self.connecting -= 1;
        }
        self.drop_connection(j);
        self.queued.push_back(j);
    }

    fn drop_connection(&mut self, j: usize) {
        let client = &mut self.clients[j];
        client.phase = Phase::Queued;
        if let Some(fd) = client.fd.take() {
            let _ = self.stack.close(fd);
        }
    }

    /// Fails every request (or connect) older than the timeout.
    fn expire(&mut self, now: Instant) -> Result<(), String> {
        for j in 0..self.clients.len() {
            let client = &self.clients[j];
            let expired = client.phase != Phase::Queued
                && now.duration_since(client.started) > self.options.timeout;
            if !expired {
                continue;
            }
            if let Some(fd) = client.fd {
                // Reset rather than a FIN exchange with a server that
                // does not answer.
                let _ = self.stack.setsockopt(fd, SockOpt::Linger(Some(0)));
            }
            self.fail(j, |errors| errors.timeout += 1);
        }
        Ok(())
    }

    fn publish(&self) {
        let slot = &self.live[self.core.index()];
        slot.connections
            .store(self.out.connections, Ordering::Relaxed);
        slot.requests.store(self.out.requests, Ordering::Relaxed);
        slot.errors
            .store(self.out.errors.total(), Ordering::Relaxed);
    }

    /// Prints one live line for every core; returns the new base.
    fn report(
        &self,
        (connections0, requests0, errors0, at): (u64, u64, u64, Instant),
        now: Instant,
    ) -> (u64, u64, u64, Instant) {
        let sum = |field: fn(&LiveSlot) -> &AtomicU64| -> u64 {
            self.live[..self.core.count()]
                .iter()
                .map(|slot| field(slot).load(Ordering::Relaxed))
                .sum()
        };
        let connections = sum(|s| &s.connections);
        let requests = sum(|s| &s.requests);
        let errors = sum(|s| &s.errors);
        let secs = now.duration_since(at).as_secs_f64().max(1e-9);
        eprintln!(
            "pktgen: {:.0} conn/s, {:.0} req/s, {:.0} errors/s | {connections} connections, {requests} requests, {errors} errors",
            (connections - connections0) as f64 / secs,
            (requests - requests0) as f64 / secs,
            (errors - errors0) as f64 / secs,
        );
        (connections, requests, errors, now)
    }
}
