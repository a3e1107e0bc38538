//! Cost of `epoll_wait` with one active connection among N watched: 10
//! against 10,000 (idle, established, in the same interest set). Two
//! stacks over `pipe` in one thread; each iteration A sends one byte on
//! the active connection, and B waits (one poll turn) and reads it. The
//! figure is the time inside B's `epoll_wait` per event, median of 5
//! interleaved runs; the goal is a ratio within 2x.
//!
//! Run: `cargo bench --bench epoll_wait`

mod common;

use common::median;
use common::watched::{watched, Host, Watched};
use dpstack::epoll::EpollEvent;
use dpstack::socket::{Fd, SockOpt};
use dpstack::time::{Duration, ManualClock};
use std::net::Ipv4Addr;

const ITERATIONS: u32 = 100_000;
const RUNS: usize = 5;
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 5, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 5, 0, 2);

fn small(stack: &mut Host, fd: Fd) {
    stack.setsockopt(fd, SockOpt::RcvBuf(4096)).unwrap();
    stack.setsockopt(fd, SockOpt::SndBuf(4096)).unwrap();
    stack.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
}

/// Two stacks with `idle` + 1 established connections, all watched by one
/// epoll on B; returns (A, B, clock, epoll, active client, active server).
fn setup(idle: usize) -> (Host, Host, ManualClock, Fd, Fd, Fd) {
    let Watched {
        a,
        b,
        clock,
        epfd,
        pairs,
        ..
    } = watched(A_IP, B_IP, idle + 1, small, small);
    let (client, server) = pairs[idle];
    (a, b, clock, epfd, client, server)
}

/// Nanoseconds inside `epoll_wait` per event.
fn run(idle: usize) -> f64 {
    let (mut a, mut b, clock, epfd, client, server) = setup(idle);
    let mut events = [EpollEvent::default(); 8];
    let mut buf = [0u8; 64];
    let mut waiting = std::time::Duration::ZERO;
    for _ in 0..ITERATIONS {
        clock.advance(Duration::from_micros(1));
        a.send(client, b"x", 0).unwrap();
        a.poll();
        let started = std::time::Instant::now();
        let n = b
            .epoll_wait(epfd, &mut events, Some(Duration::ZERO))
            .unwrap();
        waiting += started.elapsed();
        assert_eq!((n, events[0].data), (1, server as u64));
        assert_eq!(b.recv(server, &mut buf, 0), Ok(1));
    }
    waiting.as_nanos() as f64 / f64::from(ITERATIONS)
}

fn main() {
    let (mut few, mut many) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        few.push(run(10));
        many.push(run(10_000));
    }
    for (name, samples) in [
        ("10 watched", few.clone()),
        ("10,001 watched", many.clone()),
    ] {
        let (m, lo, hi) = median(samples);
        println!("{name:<16} median {m:7.1} ns per epoll_wait with 1 event (min {lo:.1}, max {hi:.1}, {RUNS} runs x {ITERATIONS})");
    }
    println!(
        "ratio 10,001 / 10 watched: {:.3}",
        median(many).0 / median(few).0
    );
}
