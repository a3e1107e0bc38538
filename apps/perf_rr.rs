//! `dpstack-perf rr`: request/response over N connections (beside any
//! number of idle ones), one request outstanding on each, for a set time;
//! reports requests per second and latency percentiles. `dpstack-perf crr`:
//! connect, request, response, close, N at a time. The server is any echo
//! (`dpstack-echo --tcp-port`).

use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN, EPOLLOUT};
use dpstack::runtime::{print_summary, NetOptions, RunControl, Stack, SummaryValue};
use dpstack::socket::{Errno, Fd, SockOpt, SockType};
use dpstack::time::{Clock, Duration};
use std::net::SocketAddrV4;

/// What the run is asked to do.
pub struct RrOptions {
    /// The echo server.
    pub connect: SocketAddrV4,
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
struct Conn {
    fd: Fd,
    /// The echo server port it connects to.
    server: SocketAddrV4,
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
        server: SocketAddrV4,
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

/// Connects, then ping-pongs until `options.duration` has passed (or the
/// run is stopped); prints `dpstack: rr connected` once every connection
/// is up, and a summary line at the end.
pub fn run<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    net: &NetOptions,
    options: &RrOptions,
    control: &RunControl,
) -> Result<(), String> {
    let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
    let total = options.connections + options.idle;
    let server_of = |i: usize| {
        if i < options.connections {
            options.connect
        } else {
            let k = ((i - options.connections) % usize::from(options.idle_ports.max(1))) as u16;
            SocketAddrV4::new(*options.connect.ip(), options.connect.port() + k)
        }
    };
    // Connections open a window at a time: a burst of 100,000 SYNs would
    // overflow the receive queues, and each one lost waits a full
    // retransmission timeout.
    let mut conns = Vec::with_capacity(total);
    for i in 0..total.min(MAX_CONNECTING) {
        conns.push(Conn::open(stack, epfd, server_of(i), i)?);
    }
    let request = vec![0x42u8; options.size];
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = vec![EpollEvent::default(); 1024];
    let mut latencies: Vec<u32> = Vec::new();
    let mut up = 0;
    let mut started: Option<std::time::Instant> = None;
    let mut requests = 0u64;
    let limit = std::time::Duration::from_nanos(options.duration.as_nanos());
    while control.keep_running() && started.is_none_or(|s| s.elapsed() < limit) {
        // Poll mode: one turn per call, never sleeping.
        let n = stack
            .epoll_wait(epfd, &mut events, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
        for event in &events[..n] {
            let i = event.data as usize;
            let conn = &mut conns[i];
            if !conn.connected {
                match stack.connect(conn.fd, conn.server) {
                    Ok(()) | Err(Errno::EISCONN) => {}
                    Err(Errno::EALREADY) => continue,
                    Err(e) => return Err(format!("connection {i}: {e}")),
                }
                conn.connected = true;
                let readable = EpollEvent {
                    events: EPOLLIN,
                    data: i as u64,
                };
                stack
                    .epoll_ctl(epfd, CtlOp::Mod, conn.fd, readable)
                    .map_err(|e| e.to_string())?;
                up += 1;
                if conns.len() < total {
                    let next = conns.len();
                    conns.push(Conn::open(stack, epfd, server_of(next), next)?);
                }
                if up == total {
                    println!("dpstack: rr connected");
                    started = Some(std::time::Instant::now());
                    for conn in conns.iter_mut().take(options.connections) {
                        conn.sent_at = std::time::Instant::now();
                        conn.awaiting = request.len();
                        send_all(stack, conn.fd, &request)?;
                    }
                }
                continue;
            }
            loop {
                match stack.recv(conn.fd, &mut buf, 0) {
                    Ok(0) => return Err(format!("connection {i}: the server closed")),
                    Ok(got) => {
                        conn.awaiting = conn.awaiting.saturating_sub(got);
                        if conn.awaiting == 0 && started.is_some() {
                            requests += 1;
                            let ns = conn.sent_at.elapsed().as_nanos().min(u128::from(u32::MAX));
                            latencies.push(ns as u32);
                            conn.sent_at = std::time::Instant::now();
                            conn.awaiting = request.len();
                            send_all(stack, conn.fd, &request)?;
                        }
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(e) => return Err(format!("connection {i}: {e}")),
                }
            }
        }
    }
    let seconds = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |&ns| f64::from(ns) / 1e3)
    };
    let figures = [
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
    ];
    print_summary("dpstack-perf", net.json, &stack.stats(), &figures);
    for conn in &conns {
        let _ = stack.close(conn.fd);
    }
    if started.is_none() {
        return Err(format!("only {up} of {} connections came up", conns.len()));
    }
    Ok(())
}

/// A new socket, with Nagle off, connecting to `server` and watched by
/// `epfd` for `events` with `data`.
fn open<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    epfd: Fd,
    server: SocketAddrV4,
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
    server: SocketAddrV4,
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
fn send_all<D: Device, C: Clock>(
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
    pub connect: SocketAddrV4,
    /// Connections in progress at once.
    pub concurrency: usize,
    /// Request (and reply) size, in bytes.
    pub size: usize,
    /// How long to keep opening connections.
    pub duration: Duration,
}

/// Connect, send a request, read the reply, close (the client first),
/// `concurrency` at a time, until `duration` has passed; prints
/// `dpstack: rr connected` when it starts and a summary at the end.
pub fn run_crr<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    net: &NetOptions,
    options: &CrrOptions,
    control: &RunControl,
) -> Result<(), String> {
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
    println!("dpstack: rr connected");
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_nanos(options.duration.as_nanos());
    for _ in 0..options.concurrency {
        start_one(stack, &mut conns)?;
    }
    let (mut completed, mut failed) = (0u64, 0u64);
    while control.keep_running() && started.elapsed() < limit {
        let n = stack
            .epoll_wait(epfd, &mut events, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
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
    let figures = [
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
    ];
    print_summary("dpstack-perf", net.json, &stack.stats(), &figures);
    for &fd in conns.keys() {
        let _ = stack.close(fd);
    }
    Ok(())
}
