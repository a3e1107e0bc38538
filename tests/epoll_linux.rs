//! epoll semantics mirrored against Linux: each scenario runs on dpstack
//! (two stacks over `pipe`) and on the kernel (loopback sockets and the
//! real epoll, through libc), in the same test, and the event sequences
//! must be equal.

use dpstack::device::pipe::{PipeConfig, PipeDevice};
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDHUP};
use dpstack::runtime::{pipe_stacks, Stack, StackConfig};
use dpstack::socket::{Errno, Fd, Shutdown, SockOpt, SockType};
use dpstack::time::{Duration, ManualClock};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A socket on one side of a scenario.
#[derive(Clone, Copy, Debug)]
struct Sock {
    client_side: bool,
    fd: Fd,
}

/// What a scenario needs from a TCP/IP stack.
trait Env {
    /// A listener (server side).
    fn listener(&mut self) -> Sock;
    /// A client connecting to `listener` (not waited for).
    fn connect(&mut self, listener: Sock) -> Sock;
    /// Accepts one connection: the server socket, or None on EAGAIN.
    fn accept(&mut self, listener: Sock) -> Option<Sock>;
    /// Sends `n` bytes; returns how many were taken (0 on EAGAIN).
    fn send(&mut self, s: Sock, n: usize) -> usize;
    /// Reads up to `max` bytes: the count, or the negated errno.
    fn recv(&mut self, s: Sock, max: usize) -> i64;
    fn shutdown_write(&mut self, s: Sock);
    /// Closes with SO_LINGER 0: a RST.
    fn reset(&mut self, s: Sock);
    /// An epoll on `s`'s side watching it for `events`.
    fn epoll(&mut self, s: Sock, events: u32) -> Sock;
    fn epoll_mod(&mut self, ep: Sock, s: Sock, events: u32);
    /// The events `ep` reports now (0 if none).
    fn wait(&mut self, ep: Sock) -> u32;
    /// Lets packets travel.
    fn settle(&mut self);

    fn connected(&mut self) -> (Sock, Sock) {
        let listener = self.listener();
        let client = self.connect(listener);
        self.settle();
        let server = self.accept(listener).expect("connection accepted");
        (client, server)
    }
}

// ---- dpstack ----------------------------------------------------------------

struct Dpstack {
    a: Stack<PipeDevice, ManualClock>,
    b: Stack<PipeDevice, ManualClock>,
    clock: ManualClock,
}

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 4, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 4, 0, 2);

impl Dpstack {
    fn new() -> Self {
        let clock = ManualClock::new();
        let (a, b) = pipe_stacks(
            StackConfig::seeded(A_IP, 24, 1),
            StackConfig::seeded(B_IP, 24, 2),
            clock.clone(),
            &PipeConfig::default(),
        );
        Dpstack { a, b, clock }
    }

    fn side(&mut self, s: Sock) -> &mut Stack<PipeDevice, ManualClock> {
        if s.client_side {
            &mut self.a
        } else {
            &mut self.b
        }
    }
}

impl Env for Dpstack {
    fn listener(&mut self) -> Sock {
        let fd = self.b.socket(SockType::Stream).unwrap();
        self.b.bind(fd, SocketAddrV4::new(B_IP, 80)).unwrap();
        self.b.listen(fd, 16).unwrap();
        Sock {
            client_side: false,
            fd,
        }
    }
    fn connect(&mut self, _listener: Sock) -> Sock {
        let fd = self.a.socket(SockType::Stream).unwrap();
        // Like the kernel's loopback, no Nagle delay between the scenario's writes.
        self.a.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
        assert_eq!(
            self.a.connect(fd, SocketAddrV4::new(B_IP, 80)),
            Err(Errno::EINPROGRESS)
        );
        Sock {
            client_side: true,
            fd,
        }
    }
    fn accept(&mut self, listener: Sock) -> Option<Sock> {
        self.b.accept(listener.fd).ok().map(|(fd, _)| Sock {
            client_side: false,
            fd,
        })
    }
    fn send(&mut self, s: Sock, n: usize) -> usize {
        self.side(s).send(s.fd, &vec![7u8; n], 0).unwrap_or(0)
    }
    fn recv(&mut self, s: Sock, max: usize) -> i64 {
        match self.side(s).recv(s.fd, &mut vec![0u8; max], 0) {
            Ok(n) => n as i64,
            Err(e) => -(e.code() as i64),
        }
    }
    fn shutdown_write(&mut self, s: Sock) {
        self.side(s).shutdown(s.fd, Shutdown::Write).unwrap();
    }
    fn reset(&mut self, s: Sock) {
        let stack = self.side(s);
        stack.setsockopt(s.fd, SockOpt::Linger(Some(0))).unwrap();
        stack.close(s.fd).unwrap();
    }
    fn epoll(&mut self, s: Sock, events: u32) -> Sock {
        let stack = self.side(s);
        let ep = stack.epoll_create().unwrap();
        stack
            .epoll_ctl(ep, CtlOp::Add, s.fd, EpollEvent { events, data: 0 })
            .unwrap();
        Sock {
            client_side: s.client_side,
            fd: ep,
        }
    }
    fn epoll_mod(&mut self, ep: Sock, s: Sock, events: u32) {
        self.side(s)
            .epoll_ctl(ep.fd, CtlOp::Mod, s.fd, EpollEvent { events, data: 0 })
            .unwrap();
    }
    fn wait(&mut self, ep: Sock) -> u32 {
        let mut out = [EpollEvent::default(); 4];
        let n = self
            .side(ep)
            .epoll_wait(ep.fd, &mut out, Some(Duration::ZERO))
            .unwrap();
        out[..n].iter().fold(0, |acc, e| acc | e.events)
    }
    fn settle(&mut self) {
        for _ in 0..200 {
            self.clock.advance(Duration::from_micros(10));
            self.a.poll();
            self.b.poll();
        }
    }
}

// ---- Linux ------------------------------------------------------------------

/// The kernel through libc: loopback sockets, non-blocking, and real epoll.
#[derive(Default)]
struct Linux {
    port: u16,
    fds: Vec<i32>,
}

fn check(rc: i32, what: &str) -> i32 {
    assert!(rc >= 0, "{what}: {}", std::io::Error::last_os_error());
    rc
}

#[allow(unsafe_code)]
impl Env for Linux {
    fn listener(&mut self) -> Sock {
        // SAFETY (every block here): plain libc calls on descriptors this
        // test owns, with buffers and structs that outlive the call.
        unsafe {
            let fd = check(
                libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0),
                "socket",
            );
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as u16;
            addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
            check(
                libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
                "bind",
            );
            check(libc::listen(fd, 16), "listen");
            let mut bound: libc::sockaddr_in = std::mem::zeroed();
            let mut blen = len;
            libc::getsockname(fd, &mut bound as *mut _ as *mut libc::sockaddr, &mut blen);
            self.port = u16::from_be(bound.sin_port);
            self.fds.push(fd);
            Sock {
                client_side: false,
                fd,
            }
        }
    }
    fn connect(&mut self, _listener: Sock) -> Sock {
        unsafe {
            let fd = check(
                libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0),
                "socket",
            );
            let one: i32 = 1;
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                &one as *const _ as *const libc::c_void,
                4,
            );
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as u16;
            addr.sin_port = self.port.to_be();
            addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
            let rc = libc::connect(
                fd,
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            );
            assert!(rc == 0 || *libc::__errno_location() == libc::EINPROGRESS);
            self.fds.push(fd);
            Sock {
                client_side: true,
                fd,
            }
        }
    }
    fn accept(&mut self, listener: Sock) -> Option<Sock> {
        unsafe {
            let fd = libc::accept4(
                listener.fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK,
            );
            (fd >= 0).then(|| {
                self.fds.push(fd);
                Sock {
                    client_side: false,
                    fd,
                }
            })
        }
    }
    fn send(&mut self, s: Sock, n: usize) -> usize {
        let data = vec![7u8; n];
        let rc = unsafe {
            libc::send(
                s.fd,
                data.as_ptr() as *const libc::c_void,
                n,
                libc::MSG_NOSIGNAL,
            )
        };
        rc.max(0) as usize
    }
    fn recv(&mut self, s: Sock, max: usize) -> i64 {
        let mut buf = vec![0u8; max];
        let rc = unsafe { libc::recv(s.fd, buf.as_mut_ptr() as *mut libc::c_void, max, 0) };
        if rc < 0 {
            -(std::io::Error::last_os_error().raw_os_error().unwrap() as i64)
        } else {
            rc as i64
        }
    }
    fn shutdown_write(&mut self, s: Sock) {
        unsafe {
            check(libc::shutdown(s.fd, libc::SHUT_WR), "shutdown");
        }
    }
    fn reset(&mut self, s: Sock) {
        unsafe {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            libc::setsockopt(
                s.fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as u32,
            );
            libc::close(s.fd);
            self.fds.retain(|&fd| fd != s.fd);
        }
    }
    fn epoll(&mut self, s: Sock, events: u32) -> Sock {
        unsafe {
            let ep = check(libc::epoll_create1(0), "epoll_create1");
            let mut event = libc::epoll_event { events, u64: 0 };
            check(
                libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.fd, &mut event),
                "epoll_ctl",
            );
            self.fds.push(ep);
            Sock {
                client_side: s.client_side,
                fd: ep,
            }
        }
    }
    fn epoll_mod(&mut self, ep: Sock, s: Sock, events: u32) {
        unsafe {
            let mut event = libc::epoll_event { events, u64: 0 };
            check(
                libc::epoll_ctl(ep.fd, libc::EPOLL_CTL_MOD, s.fd, &mut event),
                "epoll_ctl",
            );
        }
    }
    fn wait(&mut self, ep: Sock) -> u32 {
        unsafe {
            let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
            let n = check(
                libc::epoll_wait(ep.fd, out.as_mut_ptr(), 4, 0),
                "epoll_wait",
            );
            out[..n as usize].iter().fold(0, |acc, e| acc | e.events)
        }
    }
    fn settle(&mut self) {
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
}

impl Drop for Linux {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        for &fd in &self.fds {
            // SAFETY: closing descriptors this test opened.
            unsafe {
                libc::close(fd);
            }
        }
    }
}

// ---- scenarios ----------------------------------------------------------------

fn level_triggered_partial_reads(env: &mut dyn Env) -> Vec<i64> {
    let (client, server) = env.connected();
    let ep = env.epoll(server, EPOLLIN);
    env.send(client, 100);
    env.settle();
    let mut seen = vec![env.wait(ep) as i64, env.recv(server, 10)];
    seen.push(env.wait(ep) as i64);
    seen.push(env.recv(server, 1000));
    seen.push(env.wait(ep) as i64);
    seen
}

fn edge_triggered_partial_reads(env: &mut dyn Env) -> Vec<i64> {
    let (client, server) = env.connected();
    let ep = env.epoll(server, EPOLLIN | EPOLLET);
    env.send(client, 100);
    env.settle();
    let mut seen = vec![
        env.wait(ep) as i64,
        env.recv(server, 10),
        env.wait(ep) as i64,
    ];
    env.send(client, 5);
    env.settle();
    seen.push(env.wait(ep) as i64);
    // Read until EAGAIN, then nothing more is reported.
    seen.push(env.recv(server, 1000));
    seen.push(env.recv(server, 1000));
    seen.push(env.wait(ep) as i64);
    seen
}

fn oneshot_and_mod(env: &mut dyn Env) -> Vec<i64> {
    let (client, server) = env.connected();
    let ep = env.epoll(server, EPOLLIN | EPOLLONESHOT);
    env.send(client, 10);
    env.settle();
    let mut seen = vec![env.wait(ep) as i64];
    env.send(client, 10);
    env.settle();
    seen.push(env.wait(ep) as i64);
    env.epoll_mod(ep, server, EPOLLIN | EPOLLONESHOT);
    seen.push(env.wait(ep) as i64);
    seen.push(env.wait(ep) as i64);
    seen
}

fn epollout_after_the_send_buffer_drains(env: &mut dyn Env) -> Vec<i64> {
    let (client, server) = env.connected();
    let ep = env.epoll(client, EPOLLOUT | EPOLLET);
    let mut seen = vec![env.wait(ep) as i64];
    // Fill until the send side refuses (the peer does not read).
    for _ in 0..10_000 {
        if env.send(client, 65_536) == 0 {
            env.settle();
            if env.send(client, 65_536) == 0 {
                break;
            }
        }
    }
    env.wait(ep);
    seen.push(env.wait(ep) as i64);
    // The peer reads everything: writable again, reported once (ET).
    for _ in 0..10_000 {
        if env.recv(server, 1 << 20) <= 0 {
            env.settle();
            if env.recv(server, 1 << 20) <= 0 {
                break;
            }
        }
    }
    env.settle();
    seen.push(env.wait(ep) as i64 & EPOLLOUT as i64);
    seen
}

fn peer_fin_gives_rdhup(env: &mut dyn Env) -> Vec<i64> {
    let (client, server) = env.connected();
    let ep = env.epoll(server, EPOLLIN | EPOLLRDHUP | EPOLLET);
    env.shutdown_write(client);
    env.settle();
    vec![
        env.wait(ep) as i64,
        env.recv(server, 10),
        env.wait(ep) as i64,
    ]
}

fn reset_gives_hup_and_err(env: &mut dyn Env) -> Vec<i64> {
    let (client, server) = env.connected();
    let ep = env.epoll(server, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    let mut seen = vec![env.wait(ep) as i64];
    env.reset(client);
    env.settle();
    seen.push(env.wait(ep) as i64);
    seen.push(env.recv(server, 10));
    seen.push(env.wait(ep) as i64);
    seen
}

fn listener_with_several_pending(env: &mut dyn Env) -> Vec<i64> {
    let listener = env.listener();
    let ep = env.epoll(listener, EPOLLIN | EPOLLET);
    for _ in 0..3 {
        env.connect(listener);
    }
    env.settle();
    let mut seen = vec![env.wait(ep) as i64];
    let mut accepted = 0;
    while env.accept(listener).is_some() {
        accepted += 1;
    }
    seen.push(accepted);
    seen.push(env.wait(ep) as i64);
    seen
}

type Scenario = fn(&mut dyn Env) -> Vec<i64>;

#[test]
fn every_scenario_matches_linux() {
    let scenarios: [(&str, Scenario); 7] = [
        ("LT partial reads", level_triggered_partial_reads),
        (
            "ET partial reads, read until EAGAIN",
            edge_triggered_partial_reads,
        ),
        ("ONESHOT + MOD", oneshot_and_mod),
        (
            "EPOLLOUT after the send buffer drains",
            epollout_after_the_send_buffer_drains,
        ),
        ("EPOLLRDHUP on peer FIN", peer_fin_gives_rdhup),
        ("EPOLLHUP|EPOLLERR on RST", reset_gives_hup_and_err),
        (
            "listener with several pending",
            listener_with_several_pending,
        ),
    ];
    for (name, scenario) in scenarios {
        let ours = scenario(&mut Dpstack::new());
        let linux = scenario(&mut Linux::default());
        assert_eq!(
            ours, linux,
            "{name}: dpstack (left) and Linux (right) differ"
        );
        println!("{name}: {ours:?}");
    }
}
