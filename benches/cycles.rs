//! Fixed amounts of work for counting instructions: `valgrind
//! --tool=callgrind --toggle-collect='*measured*'` on this binary counts
//! only the measured loops, so the figure per iteration is repeatable
//! whatever else the machine does (timings on this guest move by 2×).
//!
//! Run: `setup/instructions.sh` (builds, runs each workload under
//! callgrind, prints instructions per iteration), or by hand:
//! `cargo bench --bench cycles --no-run`, then
//! `valgrind --tool=callgrind --toggle-collect='*measured*' target/release/deps/cycles-* rr 20000`.
//!
//! Workloads (each over two stacks on a pipe, through the socket API, on a
//! manual clock):
//! - `rr N`: N round trips of a 64-byte request and reply on one connection;
//! - `rr-epoll N`: the same, driven through `epoll_wait` and reads until
//!   EAGAIN, as the side-by-side benchmark's rr scenario does;
//! - `connect N`: N short connections (connect, accept, 64 B each way, close);
//! - `bulk N`: N full-size segments (1,448 B) one way, read as they come;
//! - `idle N`: N turns of both stacks with nothing to do.
//!
//! With `CYCLES_FRAMES` set, the frames each stack sent and received are
//! printed at the end (how many ACKs a bulk segment costs, for example).

mod common;

use common::watched::{watched, Host, Watched};
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN};
use dpstack::socket::{Errno, SockType};
use dpstack::time::Duration;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 2);

fn turn(a: &mut Host, b: &mut Host) {
    a.poll();
    b.poll();
}

fn setup(connections: usize) -> Watched {
    watched(A_IP, B_IP, connections, |_, _| {}, |_, _| {})
}

/// N round trips of 64 B each way on the first connection.
#[inline(never)]
fn rr(w: &mut Watched, n: u64) {
    let (client, server) = w.pairs[0];
    let message = [0x42u8; 64];
    let mut buf = [0u8; 256];
    for _ in 0..n {
        w.clock.advance(Duration::from_micros(1));
        w.a.send(client, &message, 0).unwrap();
        turn(&mut w.a, &mut w.b);
        assert_eq!(w.b.recv(server, &mut buf, 0), Ok(64));
        w.b.send(server, &message, 0).unwrap();
        w.b.poll();
        w.a.poll();
        assert_eq!(w.a.recv(client, &mut buf, 0), Ok(64));
    }
}

/// Reads what `fd` has until EAGAIN (as an epoll application does); bytes read.
fn drain(host: &mut Host, fd: dpstack::socket::Fd, buf: &mut [u8]) -> usize {
    let mut total = 0;
    while let Ok(k @ 1..) = host.recv(fd, buf, 0) {
        total += k;
    }
    total
}

/// N round trips of 64 B each way on the first connection, driven the way
/// the side-by-side benchmark's rr scenario drives them: each side's
/// `epoll_wait` with a zero timeout polls its stack, and each ready
/// descriptor is read until EAGAIN.
#[inline(never)]
fn rr_epoll(w: &mut Watched, n: u64) {
    let (client, server) = w.pairs[0];
    let client_epfd = match w.a.epoll_create() {
        Ok(fd) => fd,
        Err(e) => panic!("epoll_create: {e}"),
    };
    w.a.epoll_ctl(
        client_epfd,
        CtlOp::Add,
        client,
        EpollEvent {
            events: EPOLLIN,
            data: 0,
        },
    )
    .unwrap();
    let message = [0x42u8; 64];
    let mut buf = [0u8; 4096];
    let mut events = [EpollEvent::default(); 16];
    let mut completed = 0;
    w.a.send(client, &message, 0).unwrap();
    while completed < n {
        w.clock.advance(Duration::from_micros(1));
        let ready = w.b.epoll_wait(w.epfd, &mut events, Some(Duration::ZERO));
        if ready.unwrap() > 0 && drain(&mut w.b, server, &mut buf) > 0 {
            w.b.send(server, &message, 0).unwrap();
        }
        let ready =
            w.a.epoll_wait(client_epfd, &mut events, Some(Duration::ZERO));
        if ready.unwrap() > 0 && drain(&mut w.a, client, &mut buf) > 0 {
            completed += 1;
            if completed < n {
                w.a.send(client, &message, 0).unwrap();
            }
        }
    }
    w.a.close(client_epfd).unwrap();
}

/// N short connections: connect, accept, 64 B each way, close (the client first).
#[inline(never)]
fn connect(w: &mut Watched, n: u64) {
    let message = [0x42u8; 64];
    let mut buf = [0u8; 256];
    let server_addr = SocketAddrV4::new(B_IP, common::watched::PORT);
    for _ in 0..n {
        w.clock.advance(Duration::from_micros(1));
        let client = w.a.socket(SockType::Stream).unwrap();
        assert_eq!(w.a.connect(client, server_addr), Err(Errno::EINPROGRESS));
        turn(&mut w.a, &mut w.b);
        turn(&mut w.a, &mut w.b);
        let (server, _) = w.b.accept(w.listener).expect("accepted");
        w.a.send(client, &message, 0).unwrap();
        turn(&mut w.a, &mut w.b);
        assert_eq!(w.b.recv(server, &mut buf, 0), Ok(64));
        w.b.send(server, &message, 0).unwrap();
        turn(&mut w.a, &mut w.b);
        turn(&mut w.a, &mut w.b);
        assert_eq!(w.a.recv(client, &mut buf, 0), Ok(64));
        w.a.close(client).unwrap();
        turn(&mut w.a, &mut w.b);
        assert_eq!(w.b.recv(server, &mut buf, 0), Ok(0));
        w.b.close(server).unwrap();
        turn(&mut w.a, &mut w.b);
        turn(&mut w.a, &mut w.b);
    }
}

/// N full-size segments' worth of data one way, read as it comes.
#[inline(never)]
fn bulk(w: &mut Watched, n: u64) {
    let (client, server) = w.pairs[0];
    let chunk = vec![0x5au8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let total = n * 1448;
    let (mut sent, mut received) = (0u64, 0u64);
    while received < total {
        w.clock.advance(Duration::from_micros(1));
        while sent < total {
            let len = (total - sent).min(chunk.len() as u64) as usize;
            match w.a.send(client, &chunk[..len], 0) {
                Ok(k) => sent += k as u64,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        turn(&mut w.a, &mut w.b);
        while let Ok(k @ 1..) = w.b.recv(server, &mut buf, 0) {
            received += k as u64;
        }
    }
    black_box(received);
}

/// N turns of both stacks with nothing to do: the fixed cost of a poll.
#[inline(never)]
fn idle(w: &mut Watched, n: u64) {
    for _ in 0..n {
        w.clock.advance(Duration::from_micros(1));
        turn(&mut w.a, &mut w.b);
    }
}

/// Runs `f`: callgrind counts only inside this frame (`--toggle-collect='*measured*'`).
#[inline(never)]
fn measured(f: impl FnOnce()) {
    f()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let name = args.first().map(String::as_str).unwrap_or("rr");
    let n: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let workload: fn(&mut Watched, u64) = match name {
        "rr" => rr,
        "rr-epoll" => rr_epoll,
        "connect" => connect,
        "bulk" => bulk,
        "idle" => idle,
        other => {
            eprintln!("cycles: unknown workload {other} (rr, rr-epoll, connect, bulk, idle)");
            std::process::exit(2);
        }
    };
    let mut w = setup(1);
    // Warm up outside the count: rings grow, pools fill, TIME-WAIT settles.
    workload(&mut w, 1_000);
    measured(|| workload(&mut w, n));
    println!("{name} {n}");
    if std::env::var_os("CYCLES_FRAMES").is_some() {
        let (sa, sb) = (w.a.stats(), w.b.stats());
        eprintln!(
            "a tx {} rx {}; b tx {} rx {}",
            sa.ethernet.tx_frames,
            sa.ethernet.rx_frames,
            sb.ethernet.tx_frames,
            sb.ethernet.rx_frames
        );
    }
}
