//! async/await against the epoll reactor: the same 64-byte echo server
//! written both ways, driven by the same epoll client (64 connections,
//! one request in flight on each), two stacks over the in-memory pipe on
//! two threads. Reports requests per CPU-second (both threads' CPU time
//! counted), median of interleaved runs, and the async/epoll ratio.
//!
//!   cargo bench --bench async_echo [-- RUNS SECONDS]

use dpstack::buf::BufPool;
use dpstack::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN};
use dpstack::exec::{Runtime, TcpListener};
use dpstack::runtime::{Stack, StackConfig};
use dpstack::socket::{Errno, SockType};
use dpstack::time::{Duration as StackDuration, MonotonicClock};
use dpstack::wire::MacAddr;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const PORT: u16 = 7;
const CONNECTIONS: usize = 64;
const MESSAGE: usize = 64;

type PipeStack = Stack<PipeDevice, MonotonicClock>;

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill, and a clock id every Linux has.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn epoll_server(mut stack: PipeStack, stop: Arc<AtomicBool>) -> Duration {
    let listener = stack.socket(SockType::Stream).unwrap();
    stack
        .bind(listener, SocketAddrV4::new(SERVER, PORT))
        .unwrap();
    stack.listen(listener, 1024).unwrap();
    let epfd = stack.epoll_create().unwrap();
    let watch = |fd: i32| EpollEvent {
        events: EPOLLIN | EPOLLET,
        data: fd as u64,
    };
    stack
        .epoll_ctl(epfd, CtlOp::Add, listener, watch(listener))
        .unwrap();
    let mut events = vec![EpollEvent::default(); 256];
    let mut buf = [0u8; 4096];
    let start = thread_cpu();
    while !stop.load(Ordering::Relaxed) {
        let n = stack
            .epoll_wait(epfd, &mut events, Some(StackDuration::ZERO))
            .unwrap();
        for event in &events[..n] {
            let fd = event.data as i32;
            if fd == listener {
                while let Ok((conn, _)) = stack.accept(listener) {
                    stack
                        .epoll_ctl(epfd, CtlOp::Add, conn, watch(conn))
                        .unwrap();
                }
                continue;
            }
            loop {
                match stack.recv(fd, &mut buf, 0) {
                    Ok(0) => {
                        let _ = stack.close(fd);
                        break;
                    }
                    Ok(n) => {
                        let _ = stack.send(fd, &buf[..n], 0);
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(_) => {
                        let _ = stack.close(fd);
                        break;
                    }
                }
            }
        }
    }
    thread_cpu() - start
}

fn async_server(stack: PipeStack, stop: Arc<AtomicBool>) -> Duration {
    let mut runtime = Runtime::new(stack).unwrap();
    let handle = runtime.handle();
    let listener = TcpListener::bind(&handle, SocketAddrV4::new(SERVER, PORT), 1024).unwrap();
    let spawner = handle.clone();
    handle.spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            spawner.spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    let start = thread_cpu();
    while !stop.load(Ordering::Relaxed) {
        runtime.turn(StackDuration::ZERO);
    }
    thread_cpu() - start
}

/// The client: 64 connections, a 64-byte request on each whenever its
/// echo is back, for `seconds`; (requests, CPU time).
fn client(mut stack: PipeStack, seconds: f64) -> (u64, Duration) {
    let epfd = stack.epoll_create().unwrap();
    let mut conns = Vec::new();
    for _ in 0..CONNECTIONS {
        let fd = stack.socket(SockType::Stream).unwrap();
        let _ = stack.connect(fd, SocketAddrV4::new(SERVER, PORT));
        stack
            .epoll_ctl(
                epfd,
                CtlOp::Add,
                fd,
                EpollEvent {
                    events: EPOLLIN | EPOLLET,
                    data: fd as u64,
                },
            )
            .unwrap();
        conns.push(fd);
    }
    let request = [0x5au8; MESSAGE];
    let mut got = vec![0usize; 1 << 16];
    let mut events = vec![EpollEvent::default(); 256];
    let mut buf = [0u8; 4096];
    // The first request on each connection goes once it is connected;
    // counting starts after a warm-up.
    let mut started = vec![false; 1 << 16];
    let warm_until = Instant::now() + Duration::from_millis(300);
    let deadline = warm_until + Duration::from_secs_f64(seconds);
    let mut requests = 0u64;
    let mut start = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if start.is_none() && now >= warm_until {
            start = Some(thread_cpu());
            requests = 0;
        }
        let n = stack
            .epoll_wait(epfd, &mut events, Some(StackDuration::ZERO))
            .unwrap();
        for &fd in &conns {
            if !started[fd as usize] && stack.send(fd, &request, 0) == Ok(MESSAGE) {
                started[fd as usize] = true;
            }
        }
        for event in &events[..n] {
            let fd = event.data as i32;
            while let Ok(n) = stack.recv(fd, &mut buf, 0) {
                if n == 0 {
                    break;
                }
                got[fd as usize] += n;
                while got[fd as usize] >= MESSAGE {
                    got[fd as usize] -= MESSAGE;
                    requests += 1;
                    let _ = stack.send(fd, &request, 0);
                }
            }
        }
    }
    let start = start.unwrap_or_else(thread_cpu);
    (requests, thread_cpu() - start)
}

/// A stack on `device` (built on the thread that runs it: stacks are not
/// `Send`), knowing the peer's MAC.
fn stack_on(device: PipeDevice, ip: Ipv4Addr, seed: u64, peer: (Ipv4Addr, MacAddr)) -> PipeStack {
    let mut stack = Stack::new(
        device,
        MonotonicClock::new(),
        StackConfig::seeded(ip, 24, seed),
    );
    stack.interface().arp_cache().insert_static(peer.0, peer.1);
    stack
}

fn run(use_async: bool, seconds: f64) -> f64 {
    let config = PipeConfig::default();
    let (server_device, client_device) = pipe_pair(&config, &BufPool::with_defaults());
    let [server_mac, client_mac] = config.macs;
    let stop = Arc::new(AtomicBool::new(false));
    let server_stop = stop.clone();
    let server = std::thread::spawn(move || {
        let stack = stack_on(server_device, SERVER, 1, (CLIENT, client_mac));
        if use_async {
            async_server(stack, server_stop)
        } else {
            epoll_server(stack, server_stop)
        }
    });
    let client_stack = stack_on(client_device, CLIENT, 2, (SERVER, server_mac));
    let (requests, client_cpu) = client(client_stack, seconds);
    stop.store(true, Ordering::Relaxed);
    let server_cpu = server.join().unwrap();
    requests as f64 / (client_cpu + server_cpu).as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let seconds: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let (mut epoll, mut asynced) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        epoll.push(run(false, seconds));
        asynced.push(run(true, seconds));
    }
    let (e, a) = (median(epoll.clone()), median(asynced.clone()));
    println!("rr64 x{CONNECTIONS} echo over pipe, requests per CPU-second (client + server threads), median of {runs} interleaved runs of {seconds} s:");
    println!("  epoll reactor: {e:.0}   (runs: {epoll:.0?})");
    println!("  async/await:   {a:.0}   (runs: {asynced:.0?})");
    println!("  async / epoll: {:.3}", a / e);
}
