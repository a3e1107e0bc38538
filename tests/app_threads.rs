//! The app-threads execution model: a client stack on its own thread,
//! used by 4 application threads through `StackHandle`, each running 250
//! non-blocking connections (its own epoll, parked waits) against the echo reactor on
//! a second stack thread, over `pipe`. Every byte comes back exact.

#[path = "../apps/echo_reactor.rs"]
#[allow(dead_code)]
mod echo_reactor;

use dpstack::buf::BufPool;
use dpstack::device::pipe::{pipe_pair, PipeConfig};
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN, EPOLLOUT};
use dpstack::runtime::{Stack, StackConfig, StackHandle};
use dpstack::socket::{Errno, Fd, SockOpt, SockType};
use dpstack::time::{Duration, MonotonicClock};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 3, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 3, 0, 2);
const THREADS: usize = 4;
const PER_THREAD: usize = 250;
const MESSAGE: usize = 4000;

/// The bytes connection `n` of thread `t` sends.
fn message(t: usize, n: usize) -> Vec<u8> {
    (0..MESSAGE).map(|i| (i * 31 + n * 7 + t) as u8).collect()
}

struct Conn {
    expected: Vec<u8>,
    sent: usize,
    echoed: Vec<u8>,
}

/// One application thread: 250 connections through the handle.
fn app_thread<D: Device + 'static>(stack: StackHandle<D, MonotonicClock>, t: usize) -> usize {
    let epfd = stack.epoll_create().unwrap();
    let mut conns: HashMap<Fd, Conn> = HashMap::new();
    for n in 0..PER_THREAD {
        let fd = stack.socket(SockType::Stream).unwrap();
        // An epoll-driven thread: non-blocking descriptors, as on Linux.
        stack.set_nonblocking(fd, true).unwrap();
        stack.setsockopt(fd, SockOpt::RcvBuf(16 * 1024)).unwrap();
        stack.setsockopt(fd, SockOpt::SndBuf(16 * 1024)).unwrap();
        assert_eq!(
            stack.connect(fd, SocketAddrV4::new(B_IP, 7)),
            Err(Errno::EINPROGRESS)
        );
        let event = EpollEvent {
            events: EPOLLIN | EPOLLOUT | EPOLLET,
            data: fd as u64,
        };
        stack.epoll_ctl(epfd, CtlOp::Add, fd, event).unwrap();
        conns.insert(
            fd,
            Conn {
                expected: message(t, n),
                sent: 0,
                echoed: Vec::new(),
            },
        );
    }
    let mut exact = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !conns.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "thread {t} stalled with {} left",
            conns.len()
        );
        let events = stack
            .epoll_wait(epfd, 64, Some(std::time::Duration::from_millis(200)))
            .unwrap();
        for event in events {
            let fd = event.data as Fd;
            let Some(conn) = conns.get_mut(&fd) else {
                continue;
            };
            while conn.sent < conn.expected.len() {
                match stack.send(fd, &conn.expected[conn.sent..], 0) {
                    Ok(n) => conn.sent += n,
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            loop {
                match stack.recv(fd, 65536, 0) {
                    Ok(data) if data.is_empty() => panic!("early end of stream"),
                    Ok(data) => conn.echoed.extend_from_slice(&data),
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("recv: {e}"),
                }
            }
            if conn.echoed.len() == conn.expected.len() {
                exact += usize::from(conn.echoed == conn.expected);
                stack.close(fd).unwrap();
                conns.remove(&fd);
            }
        }
    }
    exact
}

#[test]
fn four_app_threads_with_250_connections_each() {
    let pool = BufPool::with_defaults();
    let (pa, pb) = pipe_pair(
        &PipeConfig {
            queue_len: 8192,
            ..PipeConfig::default()
        },
        &pool,
    );
    let (a_mac, b_mac) = (pa.capabilities().mac, pb.capabilities().mac);

    // The server: the echo reactor, run to completion on its own thread.
    let stop = Arc::new(AtomicBool::new(false));
    let server_stop = Arc::clone(&stop);
    let server = std::thread::spawn(move || {
        let mut stack = Stack::new(pb, MonotonicClock::new(), StackConfig::seeded(B_IP, 24, 2));
        stack.interface().arp_cache().insert_static(A_IP, a_mac);
        let epfd = stack.epoll_create().unwrap();
        let mut reactor = echo_reactor::Reactor::new(epfd, EPOLLET);
        let listener = stack.socket(SockType::Stream).unwrap();
        stack.bind(listener, SocketAddrV4::new(B_IP, 7)).unwrap();
        stack.listen(listener, 1024).unwrap();
        reactor.watch(&mut stack, listener, EPOLLIN).unwrap();
        reactor.listeners.push(listener);
        let mut events = vec![EpollEvent::default(); 256];
        while !server_stop.load(Ordering::Acquire) {
            let n = stack
                .epoll_wait(epfd, &mut events, Some(Duration::from_millis(10)))
                .unwrap();
            reactor.dispatch(&mut stack, &events[..n]);
        }
        reactor.counts.tcp_echoed_bytes
    });

    let (client, client_thread) = StackHandle::spawn(move || {
        let mut stack = Stack::new(pa, MonotonicClock::new(), StackConfig::seeded(A_IP, 24, 1));
        stack.interface().arp_cache().insert_static(B_IP, b_mac);
        stack
    })
    .unwrap();
    let started = std::time::Instant::now();
    let apps: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = client.clone();
            std::thread::spawn(move || app_thread(handle, t))
        })
        .collect();
    let exact: usize = apps.into_iter().map(|a| a.join().unwrap()).sum();
    let elapsed = started.elapsed();
    client.stop();
    let stats = client_thread.join().unwrap();
    stop.store(true, Ordering::Release);
    let echoed = server.join().unwrap();
    assert_eq!(
        exact,
        THREADS * PER_THREAD,
        "every connection came back byte-exact"
    );
    assert_eq!(echoed, (THREADS * PER_THREAD * MESSAGE) as u64);
    println!(
        "{} connections x {MESSAGE} bytes echoed through the handle in {:.2} s ({} TCP segments sent)",
        THREADS * PER_THREAD,
        elapsed.as_secs_f64(),
        stats.tcp.tx_segments
    );
}
