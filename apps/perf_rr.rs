//! `dpstack-perf rr`: request/response over N connections, one request
//! outstanding on each, for a set time; reports requests per second and
//! latency percentiles. The server is any echo (`dpstack-echo --tcp-port`).

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
    /// Request (and reply) size, in bytes.
    pub size: usize,
    /// How long to send requests once every connection is up.
    pub duration: Duration,
}

/// One connection's progress.
struct Conn {
    fd: Fd,
    connected: bool,
    /// Reply bytes still expected for the request in flight.
    awaiting: usize,
    sent_at: std::time::Instant,
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
    let mut conns = Vec::with_capacity(options.connections);
    for i in 0..options.connections {
        let fd = stack.socket(SockType::Stream).map_err(|e| e.to_string())?;
        stack
            .setsockopt(fd, SockOpt::NoDelay(true))
            .map_err(|e| e.to_string())?;
        match stack.connect(fd, options.connect) {
            Err(Errno::EINPROGRESS) | Ok(()) => {}
            Err(e) => return Err(format!("cannot connect to {}: {e}", options.connect)),
        }
        let event = EpollEvent {
            events: EPOLLIN | EPOLLOUT,
            data: i as u64,
        };
        stack
            .epoll_ctl(epfd, CtlOp::Add, fd, event)
            .map_err(|e| e.to_string())?;
        conns.push(Conn {
            fd,
            connected: false,
            awaiting: 0,
            sent_at: std::time::Instant::now(),
        });
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
                match stack.connect(conn.fd, options.connect) {
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
                if up == conns.len() {
                    println!("dpstack: rr connected");
                    started = Some(std::time::Instant::now());
                    for conn in conns.iter_mut() {
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
        ("connections", SummaryValue::Count(conns.len() as u64)),
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
