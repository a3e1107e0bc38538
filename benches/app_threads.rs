//! What the app-threads model costs against run-to-completion: one TCP
//! connection over `pipe`, 64-byte ping-pong with an echo server.
//! Run-to-completion: client and server stacks in one thread, the client
//! calling its stack directly. App threads: the client stack on its own
//! thread, the client application on another calling it through
//! `StackHandle` (send, epoll_wait parked, recv), the server on a third.
//! Median of 5 runs of 20,000 round trips each.
//!
//! Run: `cargo bench --bench app_threads`

mod common;

use common::median;
use dpstack::buf::BufPool;
use dpstack::device::pipe::{pipe_pair, PipeConfig};
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN};
use dpstack::runtime::{pipe_stacks, Stack, StackConfig, StackHandle};
use dpstack::socket::{Errno, SockOpt, SockType};
use dpstack::time::{Duration, MonotonicClock};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const ROUND_TRIPS: u32 = 20_000;
const RUNS: usize = 5;
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);

/// A server stack echoing on port 7 until `stop`: (listener ready) run inline.
fn serve<D: Device>(stack: &mut Stack<D, MonotonicClock>, stop: &AtomicBool) {
    let listener = stack.socket(SockType::Stream).unwrap();
    stack.bind(listener, SocketAddrV4::new(B_IP, 7)).unwrap();
    stack.listen(listener, 4).unwrap();
    let mut conn = None;
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        stack.poll();
        if conn.is_none() {
            conn = stack.accept(listener).ok().map(|(fd, _)| fd);
            if let Some(fd) = conn {
                stack.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
            }
        }
        if let Some(fd) = conn {
            while let Ok(n) = stack.recv(fd, &mut buf, 0) {
                if n == 0 {
                    return;
                }
                stack.send(fd, &buf[..n], 0).unwrap();
            }
        }
    }
}

/// Nanoseconds per round trip, everything in one thread.
fn run_to_completion() -> f64 {
    let (mut a, mut b) = pipe_stacks(
        StackConfig::seeded(A_IP, 24, 1),
        StackConfig::seeded(B_IP, 24, 2),
        MonotonicClock::new(),
        &PipeConfig::default(),
    );
    let listener = b.socket(SockType::Stream).unwrap();
    b.bind(listener, SocketAddrV4::new(B_IP, 7)).unwrap();
    b.listen(listener, 4).unwrap();
    let client = a.socket(SockType::Stream).unwrap();
    a.setsockopt(client, SockOpt::NoDelay(true)).unwrap();
    let _ = a.connect(client, SocketAddrV4::new(B_IP, 7));
    let server = loop {
        a.poll();
        b.poll();
        if let Ok((fd, _)) = b.accept(listener) {
            break fd;
        }
    };
    b.setsockopt(server, SockOpt::NoDelay(true)).unwrap();
    let epfd = a.epoll_create().unwrap();
    let event = EpollEvent {
        events: EPOLLIN,
        data: 0,
    };
    a.epoll_ctl(epfd, CtlOp::Add, client, event).unwrap();
    let mut events = [EpollEvent::default(); 4];
    let mut buf = [0u8; 256];
    let message = [0x42u8; 64];
    let started = std::time::Instant::now();
    for _ in 0..ROUND_TRIPS {
        a.send(client, &message, 0).unwrap();
        a.poll();
        b.poll();
        let n = b.recv(server, &mut buf, 0).unwrap();
        b.send(server, &buf[..n], 0).unwrap();
        b.poll();
        let mut got = 0;
        while got < message.len() {
            a.epoll_wait(epfd, &mut events, Some(Duration::ZERO))
                .unwrap();
            match a.recv(client, &mut buf, 0) {
                Ok(k) => got += k,
                Err(Errno::EAGAIN) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    started.elapsed().as_nanos() as f64 / f64::from(ROUND_TRIPS)
}

/// Nanoseconds per round trip through a `StackHandle`.
fn app_threads() -> f64 {
    let pool = BufPool::with_defaults();
    let (pa, pb) = pipe_pair(&PipeConfig::default(), &pool);
    let (a_mac, b_mac) = (pa.capabilities().mac, pb.capabilities().mac);
    let stop = Arc::new(AtomicBool::new(false));
    let server_stop = Arc::clone(&stop);
    let server = std::thread::spawn(move || {
        let mut stack = Stack::new(pb, MonotonicClock::new(), StackConfig::seeded(B_IP, 24, 2));
        stack.interface().arp_cache().insert_static(A_IP, a_mac);
        serve(&mut stack, &server_stop);
    });
    let (handle, stack_thread) = StackHandle::spawn(move || {
        let mut stack = Stack::new(pa, MonotonicClock::new(), StackConfig::seeded(A_IP, 24, 1));
        stack.interface().arp_cache().insert_static(B_IP, b_mac);
        stack
    })
    .unwrap();
    let client = handle.socket(SockType::Stream).unwrap();
    handle.setsockopt(client, SockOpt::NoDelay(true)).unwrap();
    let _ = handle.connect(client, SocketAddrV4::new(B_IP, 7));
    let epfd = handle.epoll_create().unwrap();
    let event = EpollEvent {
        events: EPOLLIN,
        data: 0,
    };
    handle.epoll_ctl(epfd, CtlOp::Add, client, event).unwrap();
    let message = [0x42u8; 64];
    // Wait for the connection, then time the round trips.
    while handle.send(client, &message, 0) == Err(Errno::EAGAIN) {}
    let mut got = 0;
    while got < message.len() {
        handle.epoll_wait(epfd, 4, None).unwrap();
        got += handle.recv(client, 256, 0).map_or(0, |d| d.len());
    }
    let started = std::time::Instant::now();
    for _ in 0..ROUND_TRIPS {
        handle.send(client, &message, 0).unwrap();
        let mut got = 0;
        while got < message.len() {
            handle.epoll_wait(epfd, 4, None).unwrap();
            got += handle.recv(client, 256, 0).map_or(0, |d| d.len());
        }
    }
    let per_trip = started.elapsed().as_nanos() as f64 / f64::from(ROUND_TRIPS);
    handle.stop();
    stack_thread.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    per_trip
}

fn main() {
    let (mut inline, mut threads) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        inline.push(run_to_completion());
        threads.push(app_threads());
    }
    for (name, samples) in [
        ("run-to-completion", inline.clone()),
        ("app threads (StackHandle)", threads.clone()),
    ] {
        let (m, lo, hi) = median(samples);
        println!("{name:<26} median {m:9.0} ns per 64-byte round trip (min {lo:.0}, max {hi:.0}, {RUNS} runs x {ROUND_TRIPS})");
    }
    println!(
        "ratio app threads / run-to-completion: {:.1}",
        median(threads).0 / median(inline).0
    );
}
