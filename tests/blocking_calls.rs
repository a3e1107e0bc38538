//! Blocking calls through `StackHandle` (app threads) mirrored against
//! Linux: each scenario runs on dpstack (two stacks over `pipe`, each on
//! its own stack thread, used through handles) and on the kernel
//! (loopback sockets through libc), in the same test, and what every call
//! returned must be equal. Covered: recv, accept, connect and send that
//! wait, are woken by another thread (data, a connection, the peer's
//! close, the peer reading), and time out (`SO_RCVTIMEO`, `SO_SNDTIMEO`)
//! as Linux does; `O_NONBLOCK` per descriptor and `MSG_DONTWAIT`;
//! `readv`/`writev` on TCP and UDP.

use dpstack::buf::BufPool;
use dpstack::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
use dpstack::device::Device;
use dpstack::runtime::{Stack, StackConfig, StackHandle};
use dpstack::socket::{SockOpt, SockOptName, SockType, MSG_DONTWAIT};
use dpstack::time::MonotonicClock;
use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// A socket: which side (client or server) and its descriptor.
#[derive(Clone, Copy, Debug)]
struct Sock {
    server_side: bool,
    fd: i32,
}

/// What the scenarios need, with Linux's results: counts, or errno codes.
trait Env: Clone + Send + 'static {
    /// A blocking TCP listener on `port` (server side).
    fn listener(&self, port: u16) -> Sock;
    /// A blocking TCP socket (client side).
    fn tcp(&self) -> Sock;
    /// A UDP socket bound to `port` on `server_side`, connected to the
    /// other side's `peer_port`.
    fn udp(&self, server_side: bool, port: u16, peer_port: u16) -> Sock;
    /// Connects a client socket to the server's `port`.
    fn connect(&self, s: Sock, port: u16) -> Result<(), i32>;
    fn accept(&self, listener: Sock) -> Result<Sock, i32>;
    fn send(&self, s: Sock, data: &[u8], flags: u32) -> Result<usize, i32>;
    fn recv(&self, s: Sock, max: usize, flags: u32) -> Result<Vec<u8>, i32>;
    fn writev(&self, s: Sock, slices: &[&[u8]]) -> Result<usize, i32>;
    /// readv into slices of `sizes`: what each slice got.
    fn readv(&self, s: Sock, sizes: &[usize]) -> Result<Vec<Vec<u8>>, i32>;
    fn set_recv_timeout(&self, s: Sock, timeout: Duration);
    fn set_send_timeout(&self, s: Sock, timeout: Duration);
    /// SO_RCVTIMEO read back, in microseconds.
    fn recv_timeout(&self, s: Sock) -> i64;
    fn set_nonblocking(&self, s: Sock, on: bool);
    /// A small receive buffer (before connect/listen), so sends fill up.
    fn small_buffers(&self, s: Sock);
    fn close(&self, s: Sock);
}

// ---- dpstack ----------------------------------------------------------------

const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 2);

type Handle = StackHandle<PipeDevice, MonotonicClock>;

#[derive(Clone)]
struct Dpstack {
    client: Handle,
    server: Handle,
}

impl Dpstack {
    /// Two stacks joined by a pipe, each on its own thread; the threads
    /// end when the handles are stopped.
    fn start() -> (
        Dpstack,
        Vec<std::thread::JoinHandle<dpstack::stats::StackStats>>,
    ) {
        let pool = BufPool::with_defaults();
        let (pa, pb) = pipe_pair(&PipeConfig::default(), &pool);
        let (a_mac, b_mac) = (pa.capabilities().mac, pb.capabilities().mac);
        let (client, a_thread) = StackHandle::spawn(move || {
            let mut s = Stack::new(
                pa,
                MonotonicClock::new(),
                StackConfig::seeded(CLIENT_IP, 24, 1),
            );
            s.interface().arp_cache().insert_static(SERVER_IP, b_mac);
            s
        })
        .unwrap();
        let (server, b_thread) = StackHandle::spawn(move || {
            let mut s = Stack::new(
                pb,
                MonotonicClock::new(),
                StackConfig::seeded(SERVER_IP, 24, 2),
            );
            s.interface().arp_cache().insert_static(CLIENT_IP, a_mac);
            s
        })
        .unwrap();
        (Dpstack { client, server }, vec![a_thread, b_thread])
    }

    fn side(&self, s: Sock) -> &Handle {
        if s.server_side {
            &self.server
        } else {
            &self.client
        }
    }
}

fn code(e: dpstack::socket::Errno) -> i32 {
    e.code()
}

impl Env for Dpstack {
    fn listener(&self, port: u16) -> Sock {
        let fd = self.server.socket(SockType::Stream).unwrap();
        self.server
            .bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
            .unwrap();
        self.server.listen(fd, 8).unwrap();
        Sock {
            server_side: true,
            fd,
        }
    }
    fn tcp(&self) -> Sock {
        let fd = self.client.socket(SockType::Stream).unwrap();
        Sock {
            server_side: false,
            fd,
        }
    }
    fn udp(&self, server_side: bool, port: u16, peer_port: u16) -> Sock {
        let (h, own, peer) = if server_side {
            (&self.server, SERVER_IP, CLIENT_IP)
        } else {
            (&self.client, CLIENT_IP, SERVER_IP)
        };
        let fd = h.socket(SockType::Dgram).unwrap();
        h.bind(fd, SocketAddrV4::new(own, port)).unwrap();
        h.connect(fd, SocketAddrV4::new(peer, peer_port)).unwrap();
        Sock { server_side, fd }
    }
    fn connect(&self, s: Sock, port: u16) -> Result<(), i32> {
        self.client
            .connect(s.fd, SocketAddrV4::new(SERVER_IP, port))
            .map_err(code)
    }
    fn accept(&self, listener: Sock) -> Result<Sock, i32> {
        self.server
            .accept(listener.fd)
            .map(|(fd, _)| Sock {
                server_side: true,
                fd,
            })
            .map_err(code)
    }
    fn send(&self, s: Sock, data: &[u8], flags: u32) -> Result<usize, i32> {
        self.side(s).send(s.fd, data, flags).map_err(code)
    }
    fn recv(&self, s: Sock, max: usize, flags: u32) -> Result<Vec<u8>, i32> {
        self.side(s).recv(s.fd, max, flags).map_err(code)
    }
    fn writev(&self, s: Sock, slices: &[&[u8]]) -> Result<usize, i32> {
        let slices: Vec<IoSlice<'_>> = slices.iter().map(|s| IoSlice::new(s)).collect();
        self.side(s).writev(s.fd, &slices).map_err(code)
    }
    fn readv(&self, s: Sock, sizes: &[usize]) -> Result<Vec<Vec<u8>>, i32> {
        let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0u8; n]).collect();
        let mut slices: Vec<IoSliceMut<'_>> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        let n = self.side(s).readv(s.fd, &mut slices).map_err(code)?;
        Ok(spread(bufs, n))
    }
    fn set_recv_timeout(&self, s: Sock, timeout: Duration) {
        let t = dpstack::time::Duration::from_nanos(timeout.as_nanos() as u64);
        self.side(s).setsockopt(s.fd, SockOpt::RcvTimeo(t)).unwrap();
    }
    fn set_send_timeout(&self, s: Sock, timeout: Duration) {
        let t = dpstack::time::Duration::from_nanos(timeout.as_nanos() as u64);
        self.side(s).setsockopt(s.fd, SockOpt::SndTimeo(t)).unwrap();
    }
    fn recv_timeout(&self, s: Sock) -> i64 {
        self.side(s)
            .getsockopt(s.fd, SockOptName::RcvTimeo)
            .unwrap()
    }
    fn set_nonblocking(&self, s: Sock, on: bool) {
        self.side(s).set_nonblocking(s.fd, on).unwrap();
        assert_eq!(self.side(s).is_nonblocking(s.fd), Ok(on));
    }
    fn small_buffers(&self, s: Sock) {
        let h = self.side(s);
        h.setsockopt(s.fd, SockOpt::RcvBuf(16 * 1024)).unwrap();
        h.setsockopt(s.fd, SockOpt::SndBuf(16 * 1024)).unwrap();
    }
    fn close(&self, s: Sock) {
        self.side(s).close(s.fd).unwrap();
    }
}

/// The first `n` bytes of `bufs`, in order, as each buffer got them.
fn spread(bufs: Vec<Vec<u8>>, n: usize) -> Vec<Vec<u8>> {
    let mut left = n;
    bufs.into_iter()
        .map(|b| {
            let take = left.min(b.len());
            left -= take;
            b[..take].to_vec()
        })
        .collect()
}

// ---- Linux --------------------------------------------------------------------

/// The kernel's sockets on loopback; ports are offset so runs in parallel
/// test processes do not meet.
#[derive(Clone)]
struct Linux {
    base: u16,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn sockaddr(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    }
}

/// A libc call's result: the value, or the errno.
fn check(rc: isize) -> Result<usize, i32> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc as usize)
    }
}

impl Linux {
    fn set<T>(&self, s: Sock, level: i32, name: i32, value: &T) {
        // SAFETY: a valid pointer and length for the option's value.
        let rc = unsafe {
            libc::setsockopt(
                s.fd,
                level,
                name,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "setsockopt {name}: {}", errno());
    }

    fn bind(&self, fd: i32, port: u16) {
        let addr = sockaddr(self.base + port);
        // SAFETY: a valid sockaddr_in.
        let rc = unsafe {
            libc::bind(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "bind: {}", errno());
    }

    fn connect_fd(&self, fd: i32, port: u16) -> Result<(), i32> {
        let addr = sockaddr(self.base + port);
        // SAFETY: a valid sockaddr_in.
        let rc = unsafe {
            libc::connect(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        check(rc as isize).map(|_| ())
    }

    fn socket(kind: i32) -> i32 {
        // SAFETY: plain socket creation.
        let fd = unsafe { libc::socket(libc::AF_INET, kind, 0) };
        assert!(fd >= 0);
        fd
    }
}

impl Env for Linux {
    fn listener(&self, port: u16) -> Sock {
        let fd = Linux::socket(libc::SOCK_STREAM);
        let s = Sock {
            server_side: true,
            fd,
        };
        self.set(s, libc::SOL_SOCKET, libc::SO_REUSEADDR, &1i32);
        self.bind(fd, port);
        // SAFETY: a bound socket.
        assert_eq!(unsafe { libc::listen(fd, 8) }, 0);
        s
    }
    fn tcp(&self) -> Sock {
        Sock {
            server_side: false,
            fd: Linux::socket(libc::SOCK_STREAM),
        }
    }
    fn udp(&self, server_side: bool, port: u16, peer_port: u16) -> Sock {
        let fd = Linux::socket(libc::SOCK_DGRAM);
        self.bind(fd, port);
        self.connect_fd(fd, peer_port).unwrap();
        Sock { server_side, fd }
    }
    fn connect(&self, s: Sock, port: u16) -> Result<(), i32> {
        self.connect_fd(s.fd, port)
    }
    fn accept(&self, listener: Sock) -> Result<Sock, i32> {
        // SAFETY: a listening socket; the peer address is not wanted.
        let fd = unsafe { libc::accept(listener.fd, std::ptr::null_mut(), std::ptr::null_mut()) };
        check(fd as isize).map(|fd| Sock {
            server_side: true,
            fd: fd as i32,
        })
    }
    fn send(&self, s: Sock, data: &[u8], flags: u32) -> Result<usize, i32> {
        let flags = if flags & MSG_DONTWAIT != 0 {
            libc::MSG_DONTWAIT
        } else {
            0
        };
        // SAFETY: a valid buffer.
        check(unsafe {
            libc::send(
                s.fd,
                data.as_ptr().cast(),
                data.len(),
                flags | libc::MSG_NOSIGNAL,
            )
        })
    }
    fn recv(&self, s: Sock, max: usize, flags: u32) -> Result<Vec<u8>, i32> {
        let flags = if flags & MSG_DONTWAIT != 0 {
            libc::MSG_DONTWAIT
        } else {
            0
        };
        let mut buf = vec![0u8; max];
        // SAFETY: a valid buffer.
        let n = check(unsafe { libc::recv(s.fd, buf.as_mut_ptr().cast(), max, flags) })?;
        buf.truncate(n);
        Ok(buf)
    }
    fn writev(&self, s: Sock, slices: &[&[u8]]) -> Result<usize, i32> {
        let iov: Vec<libc::iovec> = slices
            .iter()
            .map(|s| libc::iovec {
                iov_base: s.as_ptr() as *mut _,
                iov_len: s.len(),
            })
            .collect();
        // SAFETY: iovecs over live slices.
        check(unsafe { libc::writev(s.fd, iov.as_ptr(), iov.len() as i32) })
    }
    fn readv(&self, s: Sock, sizes: &[usize]) -> Result<Vec<Vec<u8>>, i32> {
        let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0u8; n]).collect();
        let iov: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: iovecs over live buffers.
        let n = check(unsafe { libc::readv(s.fd, iov.as_ptr(), iov.len() as i32) })?;
        Ok(spread(bufs, n))
    }
    fn set_recv_timeout(&self, s: Sock, timeout: Duration) {
        self.set(s, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeval(timeout));
    }
    fn set_send_timeout(&self, s: Sock, timeout: Duration) {
        self.set(s, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &timeval(timeout));
    }
    fn recv_timeout(&self, s: Sock) -> i64 {
        let mut tv = timeval(Duration::ZERO);
        let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        // SAFETY: a timeval-sized out buffer.
        let rc = unsafe {
            libc::getsockopt(
                s.fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&mut tv as *mut libc::timeval).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        tv.tv_sec * 1_000_000 + tv.tv_usec
    }
    fn set_nonblocking(&self, s: Sock, on: bool) {
        // SAFETY: fcntl on an open descriptor.
        unsafe {
            let flags = libc::fcntl(s.fd, libc::F_GETFL);
            let flags = if on {
                flags | libc::O_NONBLOCK
            } else {
                flags & !libc::O_NONBLOCK
            };
            assert_eq!(libc::fcntl(s.fd, libc::F_SETFL, flags), 0);
        }
    }
    fn small_buffers(&self, s: Sock) {
        self.set(s, libc::SOL_SOCKET, libc::SO_RCVBUF, &(16 * 1024i32));
        self.set(s, libc::SOL_SOCKET, libc::SO_SNDBUF, &(16 * 1024i32));
    }
    fn close(&self, s: Sock) {
        // SAFETY: closing a descriptor this test opened.
        unsafe { libc::close(s.fd) };
    }
}

// ---- scenarios ----------------------------------------------------------------

/// A connected pair on `port`: (client, server side).
fn pair(env: &impl Env, port: u16) -> (Sock, Sock, Sock) {
    let listener = env.listener(port);
    let client = env.tcp();
    env.connect(client, port).unwrap();
    let server = env.accept(listener).unwrap();
    (listener, client, server)
}

/// Runs `f` on another thread after `delay`.
fn later<E: Env>(
    env: &E,
    delay: Duration,
    f: impl FnOnce(&E) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let env = env.clone();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        f(&env);
    })
}

/// What each call gave, in order, for comparison with the other stack.
type Log = Vec<String>;

fn recv_waits_times_out_and_is_woken(env: &impl Env) -> Log {
    let mut log = Log::new();
    let (listener, client, server) = pair(env, 7101);
    env.set_recv_timeout(client, Duration::from_millis(100));
    log.push(format!(
        "SO_RCVTIMEO reads back {} µs",
        env.recv_timeout(client)
    ));
    let started = Instant::now();
    log.push(format!("recv with nothing: {:?}", env.recv(client, 100, 0)));
    // The timeout is a lower bound: the call must not return before it.
    log.push(format!(
        "waited the timeout: {}",
        started.elapsed() >= Duration::from_millis(95)
    ));
    env.set_recv_timeout(client, Duration::ZERO);
    let writer = later(env, Duration::from_millis(50), move |e| {
        e.send(server, b"wake up", 0).unwrap();
    });
    log.push(format!(
        "recv woken by data: {:?}",
        env.recv(client, 100, 0)
    ));
    writer.join().unwrap();
    log.push(format!(
        "MSG_DONTWAIT: {:?}",
        env.recv(client, 100, MSG_DONTWAIT)
    ));
    env.set_nonblocking(client, true);
    log.push(format!("O_NONBLOCK: {:?}", env.recv(client, 100, 0)));
    env.set_nonblocking(client, false);
    let closer = later(env, Duration::from_millis(50), move |e| e.close(server));
    log.push(format!(
        "recv woken by the peer's close: {:?}",
        env.recv(client, 100, 0)
    ));
    closer.join().unwrap();
    env.close(client);
    env.close(listener);
    log
}

fn accept_and_connect_wait(env: &impl Env) -> Log {
    let mut log = Log::new();
    let listener = env.listener(7102);
    env.set_recv_timeout(listener, Duration::from_millis(100));
    let started = Instant::now();
    log.push(format!(
        "accept with nobody: {:?}",
        env.accept(listener).map(|_| ())
    ));
    log.push(format!(
        "waited the timeout: {}",
        started.elapsed() >= Duration::from_millis(95)
    ));
    env.set_recv_timeout(listener, Duration::ZERO);
    let connector = later(env, Duration::from_millis(50), |e| {
        let s = e.tcp();
        e.connect(s, 7102).unwrap();
        e.send(s, b"hello", 0).unwrap();
        e.close(s);
    });
    let accepted = env.accept(listener);
    log.push(format!(
        "accept woken by a client: {:?}",
        accepted.map(|_| ())
    ));
    connector.join().unwrap();
    let server = accepted.unwrap();
    log.push(format!(
        "the accepted socket blocks: {:?}",
        env.recv(server, 100, 0)
    ));
    env.close(server);
    env.set_nonblocking(listener, true);
    log.push(format!(
        "non-blocking accept: {:?}",
        env.accept(listener).map(|_| ())
    ));
    let refused = env.tcp();
    log.push(format!(
        "connect to a closed port: {:?}",
        env.connect(refused, 7199)
    ));
    env.close(refused);
    let quick = env.tcp();
    env.set_nonblocking(quick, true);
    log.push(format!(
        "non-blocking connect: {:?}",
        env.connect(quick, 7102).map_err(|e| e == libc::EINPROGRESS)
    ));
    env.close(quick);
    env.close(listener);
    log
}

fn send_waits_for_room_and_times_out(env: &impl Env) -> Log {
    let mut log = Log::new();
    let listener = env.listener(7103);
    let client = env.tcp();
    env.small_buffers(client);
    env.connect(client, 7103).unwrap();
    let server = env.accept(listener).unwrap();
    // The server does not read: a big send fills both ends, then times out
    // having queued part of it.
    env.set_send_timeout(client, Duration::from_millis(200));
    let big = vec![5u8; 8 << 20];
    let queued = env.send(client, &big, 0);
    log.push(format!(
        "send past the room: partial {}",
        matches!(queued, Ok(n) if n > 0 && n < big.len())
    ));
    // With no room, the call waits out its timeout and returns nothing
    // (EAGAIN) or the little that freed meanwhile (how little differs:
    // Linux's and dpstack's buffer accounting are not the same).
    let little = |r: Result<usize, i32>| match r {
        Ok(n) if n < 64 * 1024 => Ok(n),
        Err(libc::EAGAIN) => Ok(0),
        other => Err(other),
    };
    let started = Instant::now();
    let more = little(env.send(client, &big, 0));
    log.push(format!("send with no room: little {}", more.is_ok()));
    log.push(format!(
        "waited the timeout: {}",
        started.elapsed() >= Duration::from_millis(190)
    ));
    // MSG_DONTWAIT does not wait, even with a long timeout set.
    env.set_send_timeout(client, Duration::from_secs(3));
    let started = Instant::now();
    let dont_wait = little(env.send(client, b"x", MSG_DONTWAIT));
    log.push(format!(
        "MSG_DONTWAIT with no room: little {}, did not wait {}",
        dont_wait.is_ok(),
        started.elapsed() < Duration::from_secs(1)
    ));
    // A reader on another thread drains it; a blocking send of 1 MB then
    // queues all of it.
    env.set_send_timeout(client, Duration::ZERO);
    let expected = queued.unwrap() + more.unwrap_or(0) + dont_wait.unwrap_or(0) + (1 << 20);
    let reader = {
        let env = env.clone();
        std::thread::spawn(move || {
            let mut got = 0;
            while got < expected {
                match env.recv(server, 64 * 1024, 0) {
                    Ok(data) if !data.is_empty() => got += data.len(),
                    other => panic!("reader: {other:?} after {got}"),
                }
            }
            got
        })
    };
    log.push(format!(
        "blocking send of 1 MB: {:?}",
        env.send(client, &big[..1 << 20], 0)
    ));
    log.push(format!(
        "the reader got everything: {}",
        reader.join().unwrap() == expected
    ));
    env.close(client);
    env.close(server);
    env.close(listener);
    log
}

fn readv_and_writev(env: &impl Env) -> Log {
    let mut log = Log::new();
    let (listener, client, server) = pair(env, 7104);
    log.push(format!(
        "writev: {:?}",
        env.writev(client, &[b"abc", b"", b"defgh", b"ij"])
    ));
    // Let all ten bytes arrive before reading them in one call.
    let mut first = env.readv(server, &[4, 3]).unwrap();
    log.push(format!("readv 4+3: {first:?}"));
    first = env.readv(server, &[2, 8]).unwrap();
    log.push(format!("readv the rest: {first:?}"));
    let (a, b) = (env.udp(false, 7105, 7106), env.udp(true, 7106, 7105));
    log.push(format!(
        "UDP writev: {:?}",
        env.writev(a, &[b"one ", b"datagram"])
    ));
    log.push(format!(
        "UDP readv, cut to 3+5: {:?}",
        env.readv(b, &[3, 5])
    ));
    log.push(format!("UDP writev: {:?}", env.writev(b, &[b"back"])));
    log.push(format!("UDP readv: {:?}", env.readv(a, &[2, 10])));
    for s in [client, server, listener, a, b] {
        env.close(s);
    }
    log
}

/// Runs every scenario on both and compares.
fn mirrored(scenario: fn(&Dpstack) -> Log, linux: fn(&Linux) -> Log, name: &str) {
    let kernel = linux(&Linux {
        base: 20_000 + (std::process::id() % 20_000) as u16,
    });
    let (env, threads) = Dpstack::start();
    let ours = scenario(&env);
    env.client.stop();
    env.server.stop();
    for t in threads {
        t.join().unwrap();
    }
    println!("{name}:\n  linux:   {kernel:?}\n  dpstack: {ours:?}");
    assert_eq!(ours, kernel, "{name}");
    assert!(
        kernel.iter().all(|l| !l.contains("false")),
        "{name}: {kernel:?}"
    );
}

#[test]
fn recv_blocks_times_out_and_wakes_as_on_linux() {
    mirrored(
        recv_waits_times_out_and_is_woken,
        recv_waits_times_out_and_is_woken,
        "recv",
    );
}

#[test]
fn accept_and_connect_block_as_on_linux() {
    mirrored(
        accept_and_connect_wait,
        accept_and_connect_wait,
        "accept/connect",
    );
}

#[test]
fn send_blocks_for_room_and_times_out_as_on_linux() {
    mirrored(
        send_waits_for_room_and_times_out,
        send_waits_for_room_and_times_out,
        "send",
    );
}

#[test]
fn readv_and_writev_as_on_linux() {
    mirrored(readv_and_writev, readv_and_writev, "readv/writev");
}
