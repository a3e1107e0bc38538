//! dpstack's own cost: two stacks over an in-memory `pipe` in one thread,
//! driven through the socket and epoll API an application uses.

use crate::measure::{rss_bytes, Latencies, Sample, Stopwatch, MESSAGE};
use crate::Contender;
use dpstack::device::pipe::{PipeConfig, PipeDevice};
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN, EPOLLOUT};
use dpstack::runtime::{pipe_stacks, Stack, StackConfig};
use dpstack::socket::{Errno, Fd, SockOpt, SockType};
use dpstack::tcp::TcpConfig;
use dpstack::time::MonotonicClock;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

type Host<D = PipeDevice> = Stack<D, MonotonicClock>;

pub const A_IP: Ipv4Addr = Ipv4Addr::new(10, 61, 0, 1);
pub const B_IP: Ipv4Addr = Ipv4Addr::new(10, 61, 0, 2);
const PORT: u16 = 5001;

/// The contender.
pub struct DpstackPipe;

fn hosts() -> (Host, Host) {
    hosts_holding(TcpConfig::default().max_connections)
}

/// Two stacks whose tables (connections and descriptors) hold up to
/// `max_connections` each.
fn hosts_holding(max_connections: usize) -> (Host, Host) {
    let mut a = StackConfig::seeded(A_IP, 24, 1);
    let mut b = StackConfig::seeded(B_IP, 24, 2);
    for config in [&mut a, &mut b] {
        config.tcp.max_backlog = 65_536;
        config.tcp.max_connections = max_connections;
        config.max_fds = config.max_fds.max(max_connections + 1024);
    }
    pipe_stacks(
        a,
        b,
        MonotonicClock::new(),
        &PipeConfig {
            queue_len: 16_384,
            ..PipeConfig::default()
        },
    )
}

/// Listening ports: connections spread over them, so 100,000 fit in the
/// ephemeral port range towards one address.
const PORTS: u16 = 8;

fn listen_on<D: Device>(b: &mut Host<D>, port: u16, backlog: usize) -> Fd {
    let fd = b.socket(SockType::Stream).unwrap();
    b.bind(fd, SocketAddrV4::new(B_IP, port)).unwrap();
    b.listen(fd, backlog).unwrap();
    fd
}

/// Listeners on every port (the first is `PORT`).
fn listen<D: Device>(b: &mut Host<D>, backlog: usize) -> Vec<Fd> {
    (0..PORTS)
        .map(|i| listen_on(b, PORT + i, backlog))
        .collect()
}

fn turn<D: Device>(a: &mut Host<D>, b: &mut Host<D>) {
    a.poll();
    b.poll();
}

/// Opens `n` connections A to B, spread over the listeners: (client,
/// server) pairs, in batches.
fn open<D: Device>(
    a: &mut Host<D>,
    b: &mut Host<D>,
    listeners: &[Fd],
    n: usize,
    nodelay: bool,
) -> Vec<(Fd, Fd)> {
    let mut pairs = Vec::with_capacity(n);
    while pairs.len() < n {
        let batch = (n - pairs.len()).min(1000);
        // Per listener, its clients in the order they connected.
        let mut clients: Vec<Vec<Fd>> = vec![Vec::new(); listeners.len()];
        for i in 0..batch {
            let k = (pairs.len() + i) % listeners.len();
            let fd = a.socket(SockType::Stream).unwrap();
            if nodelay {
                a.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
            }
            let port = PORT + k as u16;
            assert_eq!(
                a.connect(fd, SocketAddrV4::new(B_IP, port)),
                Err(Errno::EINPROGRESS)
            );
            clients[k].push(fd);
        }
        let mut accepted: Vec<Vec<Fd>> = vec![Vec::new(); listeners.len()];
        for _ in 0..100_000 {
            turn(a, b);
            for (k, &listener) in listeners.iter().enumerate() {
                while let Ok((fd, _)) = b.accept(listener) {
                    if nodelay {
                        b.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
                    }
                    accepted[k].push(fd);
                }
            }
            if accepted.iter().map(Vec::len).sum::<usize>() == batch {
                break;
            }
        }
        assert_eq!(
            accepted.iter().map(Vec::len).sum::<usize>(),
            batch,
            "every connection accepted"
        );
        // Each listener accepts in order of arrival, the order of connecting.
        for (clients, accepted) in clients.into_iter().zip(accepted) {
            pairs.extend(clients.into_iter().zip(accepted));
        }
    }
    // Let the final ACKs settle.
    for _ in 0..10 {
        turn(a, b);
    }
    pairs
}

fn watch<D: Device>(host: &mut Host<D>, epfd: Fd, fd: Fd, events: u32, data: u64) {
    host.epoll_ctl(epfd, CtlOp::Add, fd, EpollEvent { events, data })
        .unwrap();
}

/// Reads what `fd` has; returns bytes read and whether the peer closed.
fn drain<D: Device>(host: &mut Host<D>, fd: Fd, buf: &mut [u8]) -> (usize, bool) {
    let mut total = 0;
    loop {
        match host.recv(fd, buf, 0) {
            Ok(0) => return (total, true),
            Ok(n) => total += n,
            Err(Errno::EAGAIN) => return (total, false),
            Err(_) => return (total, true),
        }
    }
}

/// Listening ports of the capacity run: 192 of them give the client
/// 192 × 28,232 = 5.4 million ephemeral ports.
const CAPACITY_PORTS: u16 = 192;

/// Most connections the capacity run opens.
const CAPACITY_LIMIT: usize = 5_000_000;

/// Scenario 5's second figure: idle established connections (both ends in
/// this process) opened in batches of 10,000 until the process has grown
/// by `budget` bytes; the count at the first batch that reached it, or
/// `None` if `CAPACITY_LIMIT` came first.
pub fn capacity(budget: f64) -> Option<usize> {
    let (mut a, mut b) = hosts_holding(2 * CAPACITY_LIMIT);
    let listeners: Vec<Fd> = (0..CAPACITY_PORTS)
        .map(|i| listen_on(&mut b, PORT + i, 4096))
        .collect();
    let before = rss_bytes();
    let mut open_now = 0;
    while open_now < CAPACITY_LIMIT {
        // Held until the process exits: the figure is how many fit at once.
        let batch = open(&mut a, &mut b, &listeners, 10_000, false);
        open_now += batch.len();
        std::mem::forget(batch);
        if rss_bytes() - before >= budget {
            return Some(open_now);
        }
    }
    None
}

/// One epoll turn of `host`: reads each ready connection (`fd_of` its
/// event's data) and calls `on_message` once per whole message arrived,
/// `got` counting the bytes of messages still incomplete.
fn on_messages<D: Device>(
    host: &mut Host<D>,
    epfd: Fd,
    events: &mut [EpollEvent],
    buf: &mut [u8],
    fd_of: impl Fn(usize) -> Fd,
    got: &mut [usize],
    mut on_message: impl FnMut(&mut Host<D>, usize),
) {
    let n = host
        .epoll_wait(epfd, events, Some(dpstack::time::Duration::ZERO))
        .unwrap();
    for event in &events[..n] {
        let i = event.data as usize;
        got[i] += drain(host, fd_of(i), buf).0;
        while got[i] >= MESSAGE {
            got[i] -= MESSAGE;
            on_message(host, i);
        }
    }
}

impl Contender for DpstackPipe {
    fn name(&self) -> &'static str {
        "dpstack (pipe, one thread)"
    }

    fn bulk(&mut self, bytes: u64) -> Option<Sample> {
        let (mut a, mut b) = hosts();
        let listeners = listen(&mut b, 4);
        let (client, server) = open(&mut a, &mut b, &listeners, 1, false)[0];
        let chunk = vec![0x5au8; 64 * 1024];
        let mut buf = vec![0u8; 64 * 1024];
        let (mut sent, mut received) = (0u64, 0u64);
        let clock = Stopwatch::start();
        while received < bytes {
            turn(&mut a, &mut b);
            while sent < bytes {
                let n = (bytes - sent).min(chunk.len() as u64) as usize;
                match a.send(client, &chunk[..n], 0) {
                    Ok(k) => sent += k as u64,
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            received += drain(&mut b, server, &mut buf).0 as u64;
        }
        Some(clock.finish(bytes as f64))
    }

    fn request_response(&mut self, connections: usize, duration: Duration) -> Option<Sample> {
        let (mut a, mut b) = hosts();
        Some(request_response(
            &mut a,
            &mut b,
            connections,
            duration,
            Stopwatch::start,
        ))
    }

    fn connection_rate(&mut self, concurrency: usize, duration: Duration) -> Option<Sample> {
        let (mut a, mut b) = hosts();
        Some(connection_rate(
            &mut a,
            &mut b,
            concurrency,
            duration,
            Stopwatch::start,
        ))
    }

    fn demux(&mut self, idle: usize, round_trips: u64, limit: Duration) -> Option<Sample> {
        let (mut a, mut b) = hosts();
        let listeners = listen(&mut b, 4096);
        let pairs = open(&mut a, &mut b, &listeners, idle + 1, true);
        let (client, server) = pairs[idle];
        let message = [0x42u8; MESSAGE];
        let mut buf = vec![0u8; 4096];
        let mut ping = |a: &mut Host, b: &mut Host| {
            a.send(client, &message, 0).unwrap();
            let mut got = 0;
            while got < MESSAGE {
                turn(a, b);
                got += drain(b, server, &mut buf).0;
            }
            b.send(server, &message, 0).unwrap();
            let mut got = 0;
            while got < MESSAGE {
                turn(a, b);
                got += drain(a, client, &mut buf).0;
            }
        };
        for _ in 0..1000 {
            ping(&mut a, &mut b);
        }
        let clock = Stopwatch::start();
        let mut done = 0u64;
        while done < round_trips && clock.elapsed() < limit {
            ping(&mut a, &mut b);
            done += 1;
        }
        // Two data segments per round trip (their ACKs ride on them).
        Some(clock.finish(2.0 * done as f64))
    }

    fn memory_per_connection(&mut self, connections: usize) -> Option<f64> {
        let (mut a, mut b) = hosts();
        let listeners = listen(&mut b, 4096);
        let before = rss_bytes();
        let pairs = open(&mut a, &mut b, &listeners, connections, false);
        let after = rss_bytes();
        let per = (after - before) / connections as f64;
        drop(pairs);
        Some(per)
    }
}

/// 64-byte request/response from `a` to `b` on `connections` connections
/// for `duration`; the clock (`stopwatch`) runs once they are open.
pub fn request_response<D: Device>(
    a: &mut Host<D>,
    b: &mut Host<D>,
    connections: usize,
    duration: Duration,
    stopwatch: fn() -> Stopwatch,
) -> Sample {
    let listeners = listen(b, 4096);
    let pairs = open(a, b, &listeners, connections, true);
    let (ea, eb) = (a.epoll_create().unwrap(), b.epoll_create().unwrap());
    for (i, &(client, server)) in pairs.iter().enumerate() {
        watch(a, ea, client, EPOLLIN, i as u64);
        watch(b, eb, server, EPOLLIN, i as u64);
    }
    let message = [0x42u8; MESSAGE];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut got_a, mut got_b) = (vec![0usize; connections], vec![0usize; connections]);
    let mut sent_at = vec![Instant::now(); connections];
    let mut latencies = Latencies::default();
    let mut events = vec![EpollEvent::default(); 1024];
    let clock = stopwatch();
    for (i, &(client, _)) in pairs.iter().enumerate() {
        sent_at[i] = Instant::now();
        a.send(client, &message, 0).unwrap();
    }
    let mut completed = 0u64;
    while clock.elapsed() < duration {
        // B answers each request; A counts the reply and asks again.
        let servers = |i: usize| pairs[i].1;
        on_messages(b, eb, &mut events, &mut buf, servers, &mut got_b, |b, i| {
            b.send(servers(i), &message, 0).unwrap();
        });
        let clients = |i: usize| pairs[i].0;
        on_messages(a, ea, &mut events, &mut buf, clients, &mut got_a, |a, i| {
            completed += 1;
            latencies.record(sent_at[i]);
            sent_at[i] = Instant::now();
            a.send(clients(i), &message, 0).unwrap();
        });
    }
    let mut sample = clock.finish(completed as f64);
    sample.latency_us = latencies.percentiles();
    sample
}

/// Connect, 64-byte request, reply, close, from `a` to `b`, `concurrency`
/// at a time for `duration` (the `stopwatch` clock).
pub fn connection_rate<D: Device>(
    a: &mut Host<D>,
    b: &mut Host<D>,
    concurrency: usize,
    duration: Duration,
    stopwatch: fn() -> Stopwatch,
) -> Sample {
    let listener = listen_on(b, PORT, 4096);
    let (ea, eb) = (a.epoll_create().unwrap(), b.epoll_create().unwrap());
    const LISTENER: u64 = u64::MAX;
    watch(b, eb, listener, EPOLLIN, LISTENER);
    let message = [0x42u8; MESSAGE];
    let mut buf = vec![0u8; 4096];
    // Client side: fd -> bytes of the reply read (None: connecting).
    let mut clients: FdMap<Option<usize>> = FdMap::default();
    let mut servers: FdMap<usize> = FdMap::default();
    let connect = |a: &mut Host<D>, clients: &mut FdMap<Option<usize>>| {
        let fd = a.socket(SockType::Stream).unwrap();
        a.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
        assert_eq!(
            a.connect(fd, SocketAddrV4::new(B_IP, PORT)),
            Err(Errno::EINPROGRESS)
        );
        watch(a, ea, fd, EPOLLOUT, fd as u64);
        clients.insert(fd, None);
    };
    let mut events = vec![EpollEvent::default(); 1024];
    let clock = stopwatch();
    for _ in 0..concurrency {
        connect(a, &mut clients);
    }
    let mut completed = 0u64;
    while clock.elapsed() < duration {
        let n = b
            .epoll_wait(eb, &mut events, Some(dpstack::time::Duration::ZERO))
            .unwrap();
        for event in &events[..n] {
            if event.data == LISTENER {
                while let Ok((fd, _)) = b.accept(listener) {
                    b.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
                    watch(b, eb, fd, EPOLLIN, fd as u64);
                    servers.insert(fd, 0);
                }
                continue;
            }
            let fd = event.data as Fd;
            let (read, closed) = drain(b, fd, &mut buf);
            let got = servers.get_mut(&fd).expect("a server connection");
            *got += read;
            if *got >= MESSAGE {
                *got -= MESSAGE;
                b.send(fd, &message, 0).unwrap();
            }
            if closed {
                servers.remove(&fd);
                b.close(fd).unwrap();
            }
        }
        let n = a
            .epoll_wait(ea, &mut events, Some(dpstack::time::Duration::ZERO))
            .unwrap();
        for event in &events[..n] {
            let fd = event.data as Fd;
            match clients.get_mut(&fd) {
                Some(state @ None) => {
                    // Connected: send the request, wait for the reply.
                    a.send(fd, &message, 0).unwrap();
                    *state = Some(0);
                    a.epoll_ctl(
                        ea,
                        CtlOp::Mod,
                        fd,
                        EpollEvent {
                            events: EPOLLIN,
                            data: fd as u64,
                        },
                    )
                    .unwrap();
                }
                Some(Some(got)) => {
                    *got += drain(a, fd, &mut buf).0;
                    if *got >= MESSAGE {
                        clients.remove(&fd);
                        a.close(fd).unwrap();
                        completed += 1;
                        connect(a, &mut clients);
                    }
                }
                None => {}
            }
        }
    }
    clock.finish(completed as f64)
}

/// Per-descriptor state of the connection loop, indexed by descriptor
/// (small, dense numbers) as an epoll application keeps it: the harness's
/// own bookkeeping should cost about what smoltcp's `Vec` indexed by
/// socket costs its loop.
struct FdMap<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for FdMap<T> {
    fn default() -> Self {
        FdMap { slots: Vec::new() }
    }
}

impl<T> FdMap<T> {
    fn insert(&mut self, fd: Fd, value: T) {
        let i = fd as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(value);
    }

    fn get_mut(&mut self, fd: &Fd) -> Option<&mut T> {
        self.slots.get_mut(*fd as usize)?.as_mut()
    }

    fn remove(&mut self, fd: &Fd) -> Option<T> {
        self.slots.get_mut(*fd as usize)?.take()
    }
}
