//! What the app-threads model costs against run-to-completion: one TCP
//! connection over `pipe`, 64-byte ping-pong with an echo server.
//! Run-to-completion: client and server stacks in one thread, the client
//! calling its stack directly. App threads: the client application on a
//! thread of its own calling the client stack through `StackHandle` (send,
//! epoll_wait, recv), the stack thread turning the server stack too (so
//! two threads, one per vCPU here), with the handle spinning as by default
//! and with no spinning at all. Wall and CPU (every thread of the process)
//! per round trip; median of 5 runs of 20,000 round trips each.
//!
//! Run: `cargo bench --bench app_threads`

mod common;

use common::{connected_pipe, cpu_seconds, median};
use dpstack::buf::BufPool;
use dpstack::device::pipe::{pipe_pair, PipeConfig};
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN};
use dpstack::runtime::{Stack, StackConfig, StackHandle, ThreadConfig};
use dpstack::socket::{Errno, SockOpt, SockType};
use dpstack::time::{Duration, MonotonicClock};
use dpstack::wire::MacAddr;
use std::net::{Ipv4Addr, SocketAddrV4};

const ROUND_TRIPS: u32 = 20_000;
const RUNS: usize = 5;
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);

/// Nanoseconds per round trip, everything in one thread.
fn run_to_completion() -> f64 {
    let (mut a, mut b, client, server) = connected_pipe(A_IP, B_IP, 7);
    // Nothing was sent yet: Nagle off now is as good as before the connect.
    a.setsockopt(client, SockOpt::NoDelay(true)).unwrap();
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

/// A server stack echoing on port 7, turned by the client's stack thread.
struct TurnedServer<D: Device> {
    stack: Stack<D, MonotonicClock>,
    listener: i32,
    conn: Option<i32>,
}

impl<D: Device> TurnedServer<D> {
    /// The server on `device`, listening.
    fn new(device: D, client_mac: MacAddr) -> Self {
        let mut stack = Stack::new(
            device,
            MonotonicClock::new(),
            StackConfig::seeded(B_IP, 24, 2),
        );
        stack
            .interface()
            .arp_cache()
            .insert_static(A_IP, client_mac);
        let listener = stack.socket(SockType::Stream).unwrap();
        stack.bind(listener, SocketAddrV4::new(B_IP, 7)).unwrap();
        stack.listen(listener, 4).unwrap();
        TurnedServer {
            stack,
            listener,
            conn: None,
        }
    }

    /// One turn: poll, accept, echo; true if it did anything.
    fn turn(&mut self) -> bool {
        let stack = &mut self.stack;
        let mut busy = stack.poll();
        if self.conn.is_none() {
            self.conn = stack.accept(self.listener).ok().map(|(fd, _)| fd);
            if let Some(fd) = self.conn {
                stack.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
            }
        }
        if let Some(fd) = self.conn {
            let mut buf = [0u8; 256];
            while let Ok(n) = stack.recv(fd, &mut buf, 0) {
                if n == 0 {
                    break;
                }
                stack.send(fd, &buf[..n], 0).unwrap();
                busy = true;
            }
        }
        busy
    }
}

/// Wall and CPU nanoseconds per round trip through a `StackHandle` whose
/// threads wait as `config` says. The server stack turns inside the
/// client's stack thread (`spawn_with`'s hook), as both stacks share one
/// thread in run-to-completion: what differs is only the application on a
/// thread of its own.
fn app_threads(config: ThreadConfig) -> (f64, f64) {
    let pool = BufPool::with_defaults();
    let (pa, pb) = pipe_pair(&PipeConfig::default(), &pool);
    let (a_mac, b_mac) = (pa.capabilities().mac, pb.capabilities().mac);
    let (handle, stack_thread) = StackHandle::spawn_with(config, move || {
        let mut stack = Stack::new(pa, MonotonicClock::new(), StackConfig::seeded(A_IP, 24, 1));
        stack.interface().arp_cache().insert_static(B_IP, b_mac);
        let mut server = TurnedServer::new(pb, a_mac);
        (stack, move |_: &mut Stack<_, _>| server.turn())
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
    let (started, cpu) = (std::time::Instant::now(), cpu_seconds());
    for _ in 0..ROUND_TRIPS {
        handle.send(client, &message, 0).unwrap();
        let mut got = 0;
        while got < message.len() {
            handle.epoll_wait(epfd, 4, None).unwrap();
            got += handle.recv(client, 256, 0).map_or(0, |d| d.len());
        }
    }
    let wall = started.elapsed().as_nanos() as f64 / f64::from(ROUND_TRIPS);
    let cpu = (cpu_seconds() - cpu) * 1e9 / f64::from(ROUND_TRIPS);
    handle.stop();
    stack_thread.join().unwrap();
    (wall, cpu)
}

fn main() {
    let (mut inline, mut inline_cpu) = (Vec::new(), Vec::new());
    let (mut spinning, mut spinning_cpu) = (Vec::new(), Vec::new());
    let (mut sleeping, mut sleeping_cpu) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let cpu = cpu_seconds();
        inline.push(run_to_completion());
        inline_cpu.push((cpu_seconds() - cpu) * 1e9 / f64::from(ROUND_TRIPS));
        let (wall, cpu) = app_threads(ThreadConfig::default());
        spinning.push(wall);
        spinning_cpu.push(cpu);
        let (wall, cpu) = app_threads(ThreadConfig::sleeping());
        sleeping.push(wall);
        sleeping_cpu.push(cpu);
    }
    let rows = [
        ("run-to-completion", inline.clone(), inline_cpu),
        ("app threads, spinning", spinning.clone(), spinning_cpu),
        ("app threads, sleeping", sleeping.clone(), sleeping_cpu),
    ];
    for (name, samples, cpu) in rows {
        let (m, lo, hi) = median(samples);
        println!(
            "{name:<22} median {m:9.0} ns per 64-byte round trip (min {lo:.0}, max {hi:.0}), {:9.0} CPU ns ({RUNS} runs x {ROUND_TRIPS})",
            median(cpu).0
        );
    }
    let inline = median(inline).0;
    println!(
        "ratio to run-to-completion: spinning {:.1}, sleeping {:.1}",
        median(spinning).0 / inline,
        median(sleeping).0 / inline
    );
}
