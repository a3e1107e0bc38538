//! dpstack-perf: bulk TCP transfer of the test pattern, as a server or a
//! client, sending or receiving; reports bytes, seconds, Gbit/s and the
//! stream's SHA-256, and checks received bytes against the pattern.

use clap::{Parser, Subcommand, ValueEnum};
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use dpstack::runtime::{
    fill_pattern, print_cores_summary, print_summary, run_cores_app, Core, CoreSummary, CoreUser,
    NetOptions, Stack, SummaryValue,
};
use dpstack::socket::{Errno, Fd, Shutdown, SockType};
use dpstack::time::{Clock, Duration, Instant, MonotonicClock};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

#[path = "perf_kv.rs"]
mod kv;
#[path = "perf_rr.rs"]
mod rr;

/// Bulk TCP transfer, or request/response, on dpstack.
#[derive(Parser, Debug)]
#[command(name = "dpstack-perf", version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Accept connections and transfer on each.
    Server {
        #[command(flatten)]
        net: NetOptions,
        /// TCP port to listen on.
        #[arg(long, default_value_t = 5001)]
        listen_port: u16,
        #[command(flatten)]
        transfer: TransferOptions,
        /// Exit after this many transfers (0: run until stopped).
        #[arg(long, default_value_t = 1)]
        connections: u64,
    },
    /// Connect to a server and transfer once on each of `--connections`
    /// connections (spread over the lcores).
    Client {
        #[command(flatten)]
        net: NetOptions,
        /// Server address and port.
        #[arg(long)]
        connect: SocketAddr,
        #[command(flatten)]
        transfer: TransferOptions,
        /// Transfers at once, each on its own connection.
        #[arg(long, default_value_t = 1)]
        connections: usize,
    },
    /// Request/response against an echo server: one request outstanding on
    /// each connection, for a set time (poll mode: the core spins).
    Rr {
        #[command(flatten)]
        net: NetOptions,
        /// Echo server address and port.
        #[arg(long)]
        connect: SocketAddr,
        /// Connections.
        #[arg(long, default_value_t = 1)]
        connections: usize,
        /// Request (and reply) size in bytes.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Seconds of requests once every connection is up.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Idle connections opened beside the active ones.
        #[arg(long, default_value_t = 0)]
        idle: usize,
        /// Server ports the idle connections spread over, from the
        /// `--connect` port up (each gives about 28,000 ephemeral ports):
        /// serve them with `dpstack-echo --tcp-port P-Q`.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
        idle_ports: u16,
    },
    /// Connection rate against an echo server: connect, one request, its
    /// reply, close (the client first), N at a time, for a set time.
    Crr {
        #[command(flatten)]
        net: NetOptions,
        /// Echo server address and port.
        #[arg(long)]
        connect: SocketAddr,
        /// Connections in progress at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Request (and reply) size in bytes.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Seconds to keep connecting.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
    },
    /// RESP2 load against a key-value server (dpstack-kv, redis-server):
    /// each connection sends a batch of `--pipeline` commands and waits
    /// for every reply, for a set time (redis-benchmark's model).
    Kv {
        #[command(flatten)]
        net: NetOptions,
        /// Server address and port.
        #[arg(long)]
        connect: SocketAddr,
        /// Connections (redis-benchmark's -c).
        #[arg(long, default_value_t = 50)]
        connections: usize,
        /// Commands per batch (redis-benchmark's -P).
        #[arg(long, default_value_t = 1)]
        pipeline: usize,
        /// The command sent.
        #[arg(long, value_enum, default_value_t = kv::KvCommand::Get)]
        command: kv::KvCommand,
        /// Keys drawn at random from this many (redis-benchmark's -r).
        #[arg(long, default_value_t = 100_000)]
        keys: u64,
        /// Bytes of each SET value (redis-benchmark's -d).
        #[arg(long, default_value_t = 3)]
        value_size: usize,
        /// Seconds of requests once every connection is up.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct TransferOptions {
    /// Send the pattern, or receive (and check) it. Default: the client
    /// sends, the server receives.
    #[arg(long, value_enum)]
    direction: Option<Direction>,
    /// Bytes to send (sending side).
    #[arg(long, default_value_t = 100_000_000)]
    bytes: u64,
    /// No pattern and no SHA-256, for benchmarks: the sender repeats one
    /// block, the receiver only counts (the summary's sha256 is "unchecked").
    #[arg(long)]
    no_check: bool,
    /// Zero-copy: the sender makes its bytes in the socket's send buffer
    /// (`send_in_place`), the receiver checks and counts them where they
    /// lie in the receive buffer (`recv_in_place`); no application buffer.
    #[arg(long)]
    zero_copy: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Send,
    Receive,
}

/// One transfer on one connection.
struct Transfer {
    fd: Fd,
    /// The server a client is still connecting to.
    connecting: Option<SocketAddr>,
    direction: Direction,
    /// Bytes to send (sending) or bytes received so far (receiving).
    target: u64,
    done_bytes: u64,
    hash: Sha256,
    /// Pattern and SHA-256 in force (not `--no-check`).
    checked: bool,
    /// In place, no application buffer (`--zero-copy`).
    zero_copy: bool,
    pattern_ok: bool,
    started: Option<Instant>,
    finished: Option<Instant>,
    shut: bool,
    error: Option<Errno>,
}

impl Transfer {
    fn new(fd: Fd, direction: Direction, bytes: u64, transfer: &TransferOptions) -> Self {
        Transfer {
            fd,
            connecting: None,
            direction,
            target: bytes,
            done_bytes: 0,
            hash: Sha256::new(),
            checked: !transfer.no_check,
            zero_copy: transfer.zero_copy,
            pattern_ok: true,
            started: None,
            finished: None,
            shut: false,
            error: None,
        }
    }

    /// Moves data; true on progress. Sets `finished` when the peer has
    /// closed its side (receiving: the stream ended; sending: our FIN went
    /// out and the peer answered with its own after reading everything).
    fn turn<D: Device, C: Clock>(
        &mut self,
        stack: &mut Stack<D, C>,
        buf: &mut [u8],
        expected: &mut [u8],
    ) -> bool {
        if let Some(server) = self.connecting {
            // A non-blocking connect is polled with connect, as POSIX has it.
            match stack.connect(self.fd, server) {
                Err(Errno::EALREADY) => return false,
                Ok(()) | Err(Errno::EISCONN) => self.connecting = None,
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            }
        }
        let now = stack.now();
        self.started.get_or_insert(now);
        let mut progress = false;
        if self.direction == Direction::Send {
            while self.done_bytes < self.target {
                let n = (self.target - self.done_bytes).min(buf.len() as u64) as usize;
                let result = if self.zero_copy {
                    let (at, checked, hash) = (self.done_bytes, self.checked, &mut self.hash);
                    stack.send_in_place(self.fd, n, |first, second| {
                        // Unchecked, the bytes are whatever the buffer held.
                        if checked {
                            fill_pattern(at, first);
                            fill_pattern(at + first.len() as u64, second);
                            hash.update(&*first);
                            hash.update(&*second);
                        }
                        first.len() + second.len()
                    })
                } else {
                    if self.checked {
                        fill_pattern(self.done_bytes, &mut buf[..n]);
                    }
                    let result = stack.send(self.fd, &buf[..n], 0);
                    if let (Ok(sent), true) = (result, self.checked) {
                        self.hash.update(&buf[..sent]);
                    }
                    result
                };
                match result {
                    Ok(sent) => {
                        self.done_bytes += sent as u64;
                        progress = true;
                        if sent < n {
                            break;
                        }
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(e) => {
                        self.error = Some(e);
                        return true;
                    }
                }
            }
            if self.done_bytes == self.target && !self.shut {
                self.shut = true;
                if let Err(e) = stack.shutdown(self.fd, Shutdown::Write) {
                    self.error = Some(e);
                }
            }
        }
        loop {
            let checking = self.checked && self.direction == Direction::Receive;
            let result = if self.zero_copy {
                let (at, hash, ok) = (self.done_bytes, &mut self.hash, &mut self.pattern_ok);
                stack.recv_in_place(self.fd, |first, second| {
                    if checking {
                        hash.update(first);
                        hash.update(second);
                        *ok &= matches_pattern(at, first, expected);
                        *ok &= matches_pattern(at + first.len() as u64, second, expected);
                    }
                    first.len() + second.len()
                })
            } else {
                let result = stack.recv(self.fd, buf, 0);
                if let (Ok(n), true) = (result, checking) {
                    self.hash.update(&buf[..n]);
                    self.pattern_ok &= matches_pattern(self.done_bytes, &buf[..n], expected);
                }
                result
            };
            match result {
                Ok(0) => {
                    self.finished.get_or_insert(now);
                    break;
                }
                Ok(n) => {
                    progress = true;
                    if self.direction == Direction::Receive {
                        self.done_bytes += n as u64;
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
        progress
    }

    fn is_over(&self) -> bool {
        self.error.is_some() || self.finished.is_some()
    }

    fn report(self, net: &NetOptions, stats: &dpstack::stats::StackStats) -> bool {
        let seconds = match (self.started, self.finished) {
            (Some(s), Some(f)) => f.saturating_duration_since(s).as_secs_f64(),
            _ => 0.0,
        };
        let gbps = if seconds > 0.0 {
            self.done_bytes as f64 * 8.0 / seconds / 1e9
        } else {
            0.0
        };
        let sha: String = if self.checked {
            self.hash
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        } else {
            "unchecked".into()
        };
        let ok = self.error.is_none()
            && self.pattern_ok
            && (self.direction == Direction::Receive || self.done_bytes == self.target);
        let mut figures = vec![
            (
                "direction",
                SummaryValue::Text(format!("{:?}", self.direction).to_lowercase()),
            ),
            ("bytes", SummaryValue::Count(self.done_bytes)),
            ("seconds", SummaryValue::Real(seconds)),
            ("gbps", SummaryValue::Real(gbps)),
            ("sha256", SummaryValue::Text(sha)),
        ];
        if self.direction == Direction::Receive {
            let verdict = match (self.checked, self.pattern_ok) {
                (false, _) => "unchecked",
                (true, true) => "ok",
                (true, false) => "mismatch",
            };
            figures.push(("pattern", SummaryValue::Text(verdict.into())));
        }
        if let Some(e) = self.error {
            figures.push(("error", SummaryValue::Text(e.to_string())));
        }
        print_summary("dpstack-perf", net.json, stats, &figures);
        ok
    }
}

struct Perf<'a> {
    role: &'a Role,
    /// Transfers finished on every core (the server's `--connections`).
    completed: AtomicU64,
}

/// What one core did.
struct PerfCore {
    stats: dpstack::stats::StackStats,
    /// rr and crr measurements.
    rr: Option<rr::RrCore>,
    /// Transfers that failed.
    failures: u64,
}

impl Perf<'_> {
    fn net(&self) -> &NetOptions {
        match self.role {
            Role::Server { net, .. }
            | Role::Client { net, .. }
            | Role::Rr { net, .. }
            | Role::Crr { net, .. }
            | Role::Kv { net, .. } => net,
        }
    }
}

/// Checks what clap cannot, before any device is opened.
fn validate(role: &Role) -> Result<(), String> {
    match role {
        Role::Rr {
            connect,
            connections,
            size,
            seconds,
            idle_ports,
            ..
        } => {
            if *connections == 0 || *size == 0 || !seconds.is_finite() || *seconds <= 0.0 {
                return Err("rr needs --connections, --size and --seconds above 0".into());
            }
            if u32::from(connect.port()) + u32::from(*idle_ports) > 65_536 {
                return Err("--idle-ports runs past port 65535".into());
            }
        }
        Role::Crr {
            concurrency,
            size,
            seconds,
            ..
        } if *concurrency == 0 || *size == 0 || !seconds.is_finite() || *seconds <= 0.0 => {
            return Err("crr needs --concurrency, --size and --seconds above 0".into());
        }
        Role::Kv {
            connections,
            pipeline,
            keys,
            seconds,
            ..
        } if *connections == 0
            || *pipeline == 0
            || *keys == 0
            || !seconds.is_finite()
            || *seconds <= 0.0 =>
        {
            return Err("kv needs --connections, --pipeline, --keys and --seconds above 0".into());
        }
        Role::Client { connections, .. } if *connections == 0 => {
            return Err("client needs --connections above 0".into());
        }
        _ => {}
    }
    Ok(())
}

fn rr_options(role: &Role) -> Option<rr::RrOptions> {
    match role {
        Role::Rr {
            connect,
            connections,
            size,
            seconds,
            idle,
            idle_ports,
            ..
        } => Some(rr::RrOptions {
            connect: *connect,
            connections: *connections,
            idle: *idle,
            idle_ports: *idle_ports,
            size: *size,
            duration: Duration::from_micros((*seconds * 1e6) as u64),
        }),
        _ => None,
    }
}

fn crr_options(role: &Role) -> Option<rr::CrrOptions> {
    match role {
        Role::Crr {
            connect,
            concurrency,
            size,
            seconds,
            ..
        } => Some(rr::CrrOptions {
            connect: *connect,
            concurrency: *concurrency,
            size: *size,
            duration: Duration::from_micros((*seconds * 1e6) as u64),
        }),
        _ => None,
    }
}

fn kv_options(role: &Role) -> Option<kv::KvOptions> {
    match role {
        Role::Kv {
            connect,
            connections,
            pipeline,
            command,
            keys,
            value_size,
            seconds,
            ..
        } => Some(kv::KvOptions {
            connect: *connect,
            connections: *connections,
            pipeline: *pipeline,
            command: *command,
            keys: *keys,
            value_size: *value_size,
            duration: Duration::from_micros((*seconds * 1e6) as u64),
        }),
        _ => None,
    }
}

/// One reactor per core: servers listen on every core; clients, rr and
/// crr run their share of the connections on each core.
impl CoreUser for Perf<'_> {
    type Output = PerfCore;

    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<PerfCore, String> {
        let net = self.net();
        let config = core.stack_config(net.stack_config()?);
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        let mut measured = None;
        let mut failures = 0;
        match self.role {
            Role::Rr { .. } => {
                core.ready(net, &mut stack);
                let options = rr_options(self.role).expect("rr");
                measured = Some(rr::run(&mut stack, core, &options)?);
            }
            Role::Crr { .. } => {
                core.ready(net, &mut stack);
                let options = crr_options(self.role).expect("crr");
                measured = Some(rr::run_crr(&mut stack, core, &options)?);
            }
            Role::Kv { .. } => {
                core.ready(net, &mut stack);
                let options = kv_options(self.role).expect("kv");
                measured = Some(kv::run(&mut stack, core, &options)?);
            }
            Role::Server {
                listen_port,
                transfer,
                connections,
                ..
            } => {
                let mut transfers = Transfers::new(&mut stack, net)?;
                failures =
                    transfers.serve(core, *listen_port, transfer, *connections, &self.completed)?;
            }
            Role::Client {
                connect,
                transfer,
                connections,
                ..
            } => {
                let mut transfers = Transfers::new(&mut stack, net)?;
                failures = transfers.connect(core, *connect, transfer, *connections)?;
            }
        }
        // Let the last FINs and ACKs leave before the device goes away.
        linger(&mut stack);
        Ok(PerfCore {
            stats: stack.stats(),
            rr: measured,
            failures,
        })
    }
}

/// One core's bulk transfers, server or client side, on one epoll.
struct Transfers<'a, D: Device> {
    stack: &'a mut Stack<D, MonotonicClock>,
    net: &'a NetOptions,
    epfd: Fd,
    active: HashMap<Fd, Transfer>,
    buf: Vec<u8>,
    expected: Vec<u8>,
    events: Vec<EpollEvent>,
    /// Transfers that ended badly.
    failures: u64,
}

/// Edge-triggered interest in `events` on `fd`, with the fd as data.
fn watch(fd: Fd, events: u32) -> EpollEvent {
    EpollEvent {
        events: events | EPOLLET,
        data: fd as u64,
    }
}

/// A short timeout keeps the stop flag checked while idle.
const TICK: Option<Duration> = Some(Duration::from_millis(50));

impl<'a, D: Device> Transfers<'a, D> {
    fn new(stack: &'a mut Stack<D, MonotonicClock>, net: &'a NetOptions) -> Result<Self, String> {
        let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
        Ok(Transfers {
            stack,
            net,
            epfd,
            active: HashMap::new(),
            buf: vec![0u8; 64 * 1024],
            expected: vec![0u8; 64 * 1024],
            events: vec![EpollEvent::default(); 64],
            failures: 0,
        })
    }

    /// Moves `fd`'s transfer on; a finished one is reported and closed.
    /// True if it finished.
    fn advance(&mut self, fd: Fd) -> bool {
        let Some(t) = self.active.get_mut(&fd) else {
            return false;
        };
        t.turn(self.stack, &mut self.buf, &mut self.expected);
        if !t.is_over() {
            return false;
        }
        let t = self.active.remove(&fd).expect("present");
        self.finish(fd, t);
        true
    }

    fn finish(&mut self, fd: Fd, t: Transfer) {
        let stats = self.stack.stats();
        self.failures += u64::from(!t.report(self.net, &stats));
        let _ = self.stack.close(fd);
    }

    /// Accepts on `port` (this core's listener) and runs a transfer on each
    /// connection until `connections` transfers are done on all cores
    /// together (0: until stopped); returns this core's failures.
    fn serve(
        &mut self,
        core: &Core,
        port: u16,
        transfer: &TransferOptions,
        connections: u64,
        completed: &AtomicU64,
    ) -> Result<u64, String> {
        let (stack, epfd) = (&mut *self.stack, self.epfd);
        let listener = stack
            .socket(SockType::Stream)
            .and_then(|fd| {
                stack.bind(fd, SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port))?;
                stack.listen(fd, 128)?;
                stack.epoll_ctl(epfd, CtlOp::Add, fd, watch(fd, EPOLLIN))?;
                Ok(fd)
            })
            .map_err(|e| format!("cannot listen on TCP port {port}: {e}"))?;
        core.ready(self.net, self.stack);
        let direction = transfer.direction.unwrap_or(Direction::Receive);
        let all_done = || connections > 0 && completed.load(Ordering::Acquire) >= connections;
        while core.control().keep_running() && !all_done() {
            let n = self
                .stack
                .epoll_wait(self.epfd, &mut self.events, TICK)
                .map_err(|e| e.to_string())?;
            for k in 0..n {
                let fd = self.events[k].data as Fd;
                if fd != listener {
                    if self.advance(fd) {
                        completed.fetch_add(1, Ordering::AcqRel);
                    }
                    continue;
                }
                while let Ok((conn, _)) = self.stack.accept(listener) {
                    let interest = watch(conn, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
                    self.stack
                        .epoll_ctl(self.epfd, CtlOp::Add, conn, interest)
                        .map_err(|e| e.to_string())?;
                    let t = Transfer::new(conn, direction, transfer.bytes, transfer);
                    self.active.insert(conn, t);
                }
            }
        }
        Ok(self.failures)
    }

    /// Runs this core's share of `connections` transfers to `server`
    /// (transfer `i` on core `i mod cores`), then keeps the queue turning
    /// until every core is done; returns this core's failures.
    fn connect(
        &mut self,
        core: &Core,
        server: SocketAddr,
        transfer: &TransferOptions,
        connections: usize,
    ) -> Result<u64, String> {
        core.ready(self.net, self.stack);
        let direction = transfer.direction.unwrap_or(Direction::Send);
        for _ in rr::share(connections, core) {
            let fd = self
                .stack
                .socket(SockType::Stream)
                .map_err(|e| e.to_string())?;
            match self.stack.connect(fd, server) {
                Err(Errno::EINPROGRESS) | Ok(()) => {}
                Err(e) => return Err(format!("cannot connect to {server}: {e}")),
            }
            let interest = watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
            self.stack
                .epoll_ctl(self.epfd, CtlOp::Add, fd, interest)
                .map_err(|e| e.to_string())?;
            let mut t = Transfer::new(fd, direction, transfer.bytes, transfer);
            t.connecting = Some(server);
            self.active.insert(fd, t);
        }
        while core.control().keep_running() && !self.active.is_empty() {
            let n = self
                .stack
                .epoll_wait(self.epfd, &mut self.events, TICK)
                .map_err(|e| e.to_string())?;
            for k in 0..n {
                let fd = self.events[k].data as Fd;
                self.advance(fd);
            }
        }
        // Unfinished transfers (stopped early) are reported too.
        let unfinished: Vec<(Fd, Transfer)> = self.active.drain().collect();
        for (fd, t) in unfinished {
            self.finish(fd, t);
        }
        // Every core keeps its queue turning until all are done.
        core.meet(|| self.stack.poll());
        Ok(self.failures)
    }
}

/// True if `data` is the pattern from stream offset `at`; `scratch` holds
/// the expected bytes a piece at a time.
fn matches_pattern(at: u64, data: &[u8], scratch: &mut [u8]) -> bool {
    let mut offset = 0;
    while offset < data.len() {
        let n = (data.len() - offset).min(scratch.len());
        fill_pattern(at + offset as u64, &mut scratch[..n]);
        if data[offset..offset + n] != scratch[..n] {
            return false;
        }
        offset += n;
    }
    true
}

/// Polls for a moment so the final segments (our FIN, the last ACK) leave.
fn linger<D: Device, C: Clock>(stack: &mut Stack<D, C>) {
    let until = std::time::Instant::now() + std::time::Duration::from_millis(200);
    while std::time::Instant::now() < until {
        if !stack.poll() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = validate(&args.role) {
        eprintln!("dpstack-perf: {message}");
        return ExitCode::FAILURE;
    }
    let perf = Perf {
        role: &args.role,
        completed: AtomicU64::new(0),
    };
    let net = perf.net().clone();
    run_cores_app("dpstack-perf", &net, |_| perf, finish)
}

/// Prints the rr or crr summary (per core and total) and turns failed
/// transfers into an error.
fn finish(perf: &Perf<'_>, cores: Vec<PerfCore>) -> Result<(), String> {
    let json = perf.net().json;
    let failures: u64 = cores.iter().map(|c| c.failures).sum();
    let mut measured: Vec<rr::RrCore> = Vec::new();
    let mut summaries = Vec::with_capacity(cores.len());
    for core in cores {
        let mut figures = Vec::new();
        if let Some(rr) = core.rr {
            figures = vec![
                ("requests", SummaryValue::Count(rr.requests)),
                ("failed", SummaryValue::Count(rr.failed)),
                ("seconds", SummaryValue::Real(rr.seconds)),
            ];
            measured.push(rr);
        }
        summaries.push(CoreSummary {
            stats: core.stats,
            figures,
        });
    }
    if let Some(options) = rr_options(perf.role) {
        let totals = rr::rr_figures(&options, &mut measured);
        print_cores_summary("dpstack-perf", json, &totals, &summaries);
    } else if let Some(options) = crr_options(perf.role) {
        let totals = rr::crr_figures(&options, &measured);
        print_cores_summary("dpstack-perf", json, &totals, &summaries);
    } else if let Some(options) = kv_options(perf.role) {
        let totals = kv::kv_figures(&options, &mut measured);
        print_cores_summary("dpstack-perf", json, &totals, &summaries);
        let errors: u64 = measured.iter().map(|c| c.failed).sum();
        if errors > 0 {
            return Err(format!("{errors} error replies"));
        }
    }
    if failures > 0 {
        return Err(format!("{failures} transfer(s) failed"));
    }
    Ok(())
}
