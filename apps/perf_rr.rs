//! `dpstack-perf rr`: request/response over N connections (beside any
//! number of idle ones), one request outstanding on each, for a set time;
//! reports requests per second and latency percentiles. `dpstack-perf crr`:
//! connect, request, response, close, N at a time. The server is any echo
//! (`dpstack-echo --tcp-port`). On several lcores each core runs its share
//! of the connections (connection `i` on core `i mod cores`).

use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN, EPOLLOUT};
use dpstack::runtime::{Core, IdleBackoff, Stack, SummaryValue};
use dpstack::socket::{Errno, Fd, SockOpt, SockType};
use dpstack::time::{Clock, Duration};
use std::net::SocketAddr;

/// What the run is asked to do.
pub struct RrOptions {
    /// The echo server.
    pub connect: SocketAddr,
    /// Connections, each with one request outstanding.
    pub connections: usize,
    /// Connections opened beside them that stay idle.
    pub idle: usize,
    /// Server ports the idle connections spread over, from `connect`'s
    /// port up (at least 1; the caller checks the last is a port).
    pub idle_ports: u16,
    /// Request (and reply) size, in bytes.
    pub size: usize,
    /// How long to send requests once every connection is up.
    pub duration: Duration,
}

/// Most connections `rr` has connecting at once.
const MAX_CONNECTING: usize = 1024;

/// One connection's progress.
pub struct Conn {
    /// Its descriptor.
    pub fd: Fd,
    /// The echo server port it connects to.
    server: SocketAddr,
    connected: bool,
    /// Reply bytes still expected for the request in flight.
    awaiting: usize,
    sent_at: std::time::Instant,
}

impl Conn {
    /// Connection `index` to `server`, connecting, watched by `epfd`.
    fn open<D: Device, C: Clock>(
        stack: &mut Stack<D, C>,
        epfd: Fd,
        server: SocketAddr,
        index: usize,
    ) -> Result<Conn, String> {
        Ok(Conn {
            fd: open(stack, epfd, server, EPOLLIN | EPOLLOUT, index as u64)?,
            server,
            connected: false,
            awaiting: 0,
            sent_at: std::time::Instant::now(),
        })
    }
}

/// What one core measured.
pub struct RrCore {
    /// Requests answered in the timed phase.
    pub requests: u64,
    /// Connections that failed (crr).
    pub failed: u64,
    /// Length of the timed phase, in seconds.
    pub seconds: f64,
    /// Round-trip time of each request, in nanoseconds.
    pub latencies: Vec<u32>,
}

/// This core's share of `total` items numbered from 0: those `i` with
/// `i % cores == core`.
pub fn share(total: usize, core: &Core) -> impl Iterator<Item = usize> {
    (core.index()..total).step_by(core.count())
}

/// Connects this core's share of the connections, waits for every core to
/// be connected (`dpstack: rr connected` is printed then), then
/// ping-pongs until `options.duration` has passed (or the run is stopped).
pub fn run<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    core: &Core,
    options: &RrOptions,
) -> Result<RrCore, String> {
    let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
    let server_of = |i: usize| {
        if i < options.connections {
            options.connect
        } else {
            let k = ((i - options.connections) % usize::from(options.idle_ports.max(1))) as u16;
            SocketAddr::new(options.connect.ip(), options.connect.port() + k)
        }
    };
    let total = options.connections + options.idle;
    let (mine, mut conns) = connect_share(stack, core, epfd, total, server_of)?;
    announce_connected(core);
    let active = mine.iter().filter(|&&i| i < options.connections).count();
    let mut events = vec![EpollEvent::default(); 1024];
    let request = vec![0x42u8; options.size];
    let mut buf = vec![0u8; 64 * 1024];
    let mut latencies: Vec<u32> = Vec::new();
    let mut requests = 0u64;
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_nanos(options.duration.as_nanos());
    for conn in conns.iter_mut().take(active) {
        conn.sent_at = std::time::Instant::now();
        conn.awaiting = request.len();
        send_all(stack, conn.fd, &request)?;
    }
    let mut backoff = IdleBackoff::default();
    while core.control().keep_running() && started.elapsed() < limit {
        let n = poll_turn(stack, epfd, &mut events, &mut backoff)?;
        for event in &events[..n] {
            let j = event.data as usize;
            let conn = &mut conns[j];
            loop {
                match stack.recv(conn.fd, &mut buf, 0) {
                    Ok(0) => return Err(format!("connection {}: the server closed", mine[j])),
                    Ok(got) => {
                        conn.awaiting = conn.awaiting.saturating_sub(got);
                        if conn.awaiting == 0 {
                            requests += 1;
                            let ns = conn.sent_at.elapsed().as_nanos().min(u128::from(u32::MAX));
                            latencies.push(ns as u32);
                            conn.sent_at = std::time::Instant::now();
                            conn.awaiting = request.len();
                            send_all(stack, conn.fd, &request)?;
                        }
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(e) => return Err(format!("connection {}: {e}", mine[j])),
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // Every core keeps its queue turning until all are done.
    core.meet(|| stack.poll());
    for conn in &conns {
        let _ = stack.close(conn.fd);
    }
    Ok(RrCore {
        requests,
        failed: 0,
        seconds,
        latencies,
    })
}

/// Opens this core's share of `total` connections (connection `i` to
/// `server_of(i)`), a window at a time, each watched by `epfd` for input
/// with its index in the returned list as data; waits for every core to
/// be connected. Returns the
/// run-wide numbers of this core's connections and their states.
pub fn connect_share<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    core: &Core,
    epfd: Fd,
    total: usize,
    server_of: impl Fn(usize) -> SocketAddr,
) -> Result<(Vec<usize>, Vec<Conn>), String> {
    let mine: Vec<usize> = share(total, core).collect();
    // Connections open a window at a time: a burst of 100,000 SYNs would
    // overflow the receive queues, and each one lost waits a full
    // retransmission timeout.
    let mut conns = Vec::with_capacity(mine.len());
    for (j, &i) in mine.iter().enumerate().take(MAX_CONNECTING) {
        conns.push(Conn::open(stack, epfd, server_of(i), j)?);
    }
    let mut events = vec![EpollEvent::default(); 1024];
    let mut up = 0;
    let mut backoff = IdleBackoff::default();
    while up < mine.len() && core.control().keep_running() {
        let n = poll_turn(stack, epfd, &mut events, &mut backoff)?;
        for event in &events[..n] {
            let j = event.data as usize;
            let conn = &mut conns[j];
            if conn.connected {
                continue;
            }
            match stack.connect(conn.fd, conn.server) {
                Ok(()) | Err(Errno::EISCONN) => {}
                Err(Errno::EALREADY) => continue,
                Err(e) => return Err(format!("connection {}: {e}", mine[j])),
            }
            conn.connected = true;
            let readable = EpollEvent {
                events: EPOLLIN,
                data: j as u64,
            };
            stack
                .epoll_ctl(epfd, CtlOp::Mod, conn.fd, readable)
                .map_err(|e| e.to_string())?;
            up += 1;
            if conns.len() < mine.len() {
                let next = conns.len();
                conns.push(Conn::open(stack, epfd, server_of(mine[next]), next)?);
            }
        }
    }
    if up < mine.len() {
        return Err(format!("only {up} of {} connections came up", mine.len()));
    }
    if !core.meet(|| stack.poll()) {
        return Err("stopped before every core had its connections up".into());
    }
    Ok((mine, conns))
}

/// Says, once for every core, that the timed phase starts now: harnesses
/// start their clocks at this line.
pub fn announce_connected(core: &Core) {
    if core.index() == 0 {
        println!("dpstack: rr connected");
    }
}

/// Says, once for every core, that the timed phase is over: what follows
/// (closing, lingering, the summary) is not part of the measurement.
pub fn announce_done(core: &Core) {
    if core.index() == 0 {
        println!("dpstack: rr done");
    }
}

/// The summary figures of rr over every core: connections, idle,
/// requests, seconds (the longest core's), requests per second and the
/// latency percentiles of all requests together.
pub fn rr_figures(options: &RrOptions, cores: &mut [RrCore]) -> Vec<(&'static str, SummaryValue)> {
    let requests: u64 = cores.iter().map(|c| c.requests).sum();
    let seconds = cores.iter().map(|c| c.seconds).fold(0.0, f64::max);
    let mut latencies: Vec<u32> = cores
        .iter_mut()
        .flat_map(|c| std::mem::take(&mut c.latencies))
        .collect();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |&ns| f64::from(ns) / 1e3)
    };
    vec![
        (
            "connections",
            SummaryValue::Count(options.connections as u64),
        ),
        ("idle", SummaryValue::Count(options.idle as u64)),
        ("requests", SummaryValue::Count(requests)),
        ("seconds", SummaryValue::Real(seconds)),
        (
            "requests_per_second",
            SummaryValue::Real(requests as f64 / seconds.max(1e-9)),
        ),
        ("p50_us", SummaryValue::Real(percentile(0.50))),
        ("p99_us", SummaryValue::Real(percentile(0.99))),
    ]
}

/// One turn of the stack in poll mode (never waiting); the ready events
/// go to `events`. The CPU is yielded only when turns stay idle.
pub fn poll_turn<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    epfd: Fd,
    events: &mut [EpollEvent],
    backoff: &mut IdleBackoff,
) -> Result<usize, String> {
    let n = stack
        .epoll_wait(epfd, events, Some(Duration::ZERO))
        .map_err(|e| e.to_string())?;
    backoff.turn(n > 0);
    Ok(n)
}

/// A new socket, with Nagle off, connecting to `server` and watched by
/// `epfd` for `events` with `data`.
fn open<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    epfd: Fd,
    server: SocketAddr,
    events: u32,
    data: u64,
) -> Result<Fd, String> {
    let fd = stack.socket(SockType::Stream).map_err(|e| e.to_string())?;
    connect_watched(stack, epfd, fd, server, events, data)?;
    Ok(fd)
}

/// Nagle off, a non-blocking connect of `fd` to `server`, and `fd` added
/// to `epfd` for `events` with `data`.
fn connect_watched<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    epfd: Fd,
    fd: Fd,
    server: SocketAddr,
    events: u32,
    data: u64,
) -> Result<(), String> {
    stack
        .setsockopt(fd, SockOpt::NoDelay(true))
        .map_err(|e| e.to_string())?;
    match stack.connect(fd, server) {
        Err(Errno::EINPROGRESS) | Ok(()) => {}
        Err(e) => return Err(format!("cannot connect to {server}: {e}")),
    }
    stack
        .epoll_ctl(epfd, CtlOp::Add, fd, EpollEvent { events, data })
        .map_err(|e| e.to_string())
}

/// Sends a whole request (a few bytes: it fits an empty send buffer).
pub fn send_all<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    fd: Fd,
    data: &[u8],
) -> Result<(), String> {
    let mut sent = 0;
    while sent < data.len() {
        match stack.send(fd, &data[sent..], 0) {
            Ok(n) => sent += n,
            Err(Errno::EAGAIN) => {
                stack.poll();
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// What `dpstack-perf crr` is asked to do.
pub struct CrrOptions {
    /// The echo server.
    pub connect: SocketAddr,
    /// Connections in progress at once.
    pub concurrency: usize,
    /// Request (and reply) size, in bytes.
    pub size: usize,
    /// How long to keep opening connections.
    pub duration: Duration,
}

/// Connect, send a request, read the reply, close (the client first),
/// this core's share of `concurrency` at a time, until `duration` has
/// passed; `dpstack: rr connected` is printed once every core has started.
pub fn run_crr<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    core: &Core,
    options: &CrrOptions,
) -> Result<RrCore, String> {
    let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
    let request = vec![0x42u8; options.size];
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = vec![EpollEvent::default(); 1024];
    // fd -> reply bytes still expected (None while connecting).
    let mut conns: std::collections::HashMap<Fd, Option<usize>> = Default::default();
    let start_one = |stack: &mut Stack<D, C>,
                     conns: &mut std::collections::HashMap<Fd, Option<usize>>|
     -> Result<(), String> {
        let fd = stack.socket(SockType::Stream).map_err(|e| e.to_string())?;
        connect_watched(stack, epfd, fd, options.connect, EPOLLOUT, fd as u64)?;
        conns.insert(fd, None);
        Ok(())
    };
    if !core.meet(|| stack.poll()) {
        return Err("stopped before starting".into());
    }
    announce_connected(core);
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_nanos(options.duration.as_nanos());
    for _ in share(options.concurrency, core) {
        start_one(stack, &mut conns)?;
    }
    let (mut completed, mut failed) = (0u64, 0u64);
    let mut backoff = IdleBackoff::default();
    while core.control().keep_running() && started.elapsed() < limit {
        let n = poll_turn(stack, epfd, &mut events, &mut backoff)?;
        for event in &events[..n] {
            let fd = event.data as Fd;
            let finished = match conns.get_mut(&fd) {
                None => continue,
                Some(state @ None) => match stack.connect(fd, options.connect) {
                    Ok(()) | Err(Errno::EISCONN) => {
                        send_all(stack, fd, &request)?;
                        *state = Some(request.len());
                        let readable = EpollEvent {
                            events: EPOLLIN,
                            data: fd as u64,
                        };
                        stack
                            .epoll_ctl(epfd, CtlOp::Mod, fd, readable)
                            .map_err(|e| e.to_string())?;
                        false
                    }
                    Err(Errno::EALREADY) => false,
                    Err(_) => {
                        failed += 1;
                        true
                    }
                },
                Some(Some(awaiting)) => loop {
                    match stack.recv(fd, &mut buf, 0) {
                        Ok(0) => {
                            failed += 1;
                            break true;
                        }
                        Ok(got) => {
                            *awaiting = awaiting.saturating_sub(got);
                            if *awaiting == 0 {
                                completed += 1;
                                break true;
                            }
                        }
                        Err(Errno::EAGAIN) => break false,
                        Err(_) => {
                            failed += 1;
                            break true;
                        }
                    }
                },
            };
            if finished {
                conns.remove(&fd);
                let _ = stack.close(fd);
                start_one(stack, &mut conns)?;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    core.meet(|| stack.poll());
    for &fd in conns.keys() {
        let _ = stack.close(fd);
    }
    Ok(RrCore {
        requests: completed,
        failed,
        seconds,
        latencies: Vec::new(),
    })
}

/// The summary figures of crr over every core.
pub fn crr_figures(options: &CrrOptions, cores: &[RrCore]) -> Vec<(&'static str, SummaryValue)> {
    let completed: u64 = cores.iter().map(|c| c.requests).sum();
    let failed: u64 = cores.iter().map(|c| c.failed).sum();
    let seconds = cores.iter().map(|c| c.seconds).fold(0.0, f64::max);
    vec![
        (
            "concurrency",
            SummaryValue::Count(options.concurrency as u64),
        ),
        ("connections", SummaryValue::Count(completed)),
        ("failed", SummaryValue::Count(failed)),
        ("seconds", SummaryValue::Real(seconds)),
        (
            "connections_per_second",
            SummaryValue::Real(completed as f64 / seconds.max(1e-9)),
        ),
    ]
}
