//! The Linux kernel's TCP through its sockets and epoll, written here as a
//! plain epoll reactor: a server thread and a client thread pinned to
//! different CPUs, over loopback, or over a veth pair (MTU 1500) between
//! two network namespaces this harness creates and deletes. CPU time is
//! this process's (both threads; the kernel's work on their behalf is
//! their system time).

use crate::measure::{process_cpu, Latencies, Sample, Stopwatch, MESSAGE};
use crate::Contender;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::io::{AsRawFd, RawFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Listening ports: idle connections spread over them, so 100,000 fit in
/// the ephemeral port range towards one address.
const PORTS: u16 = 8;
const BASE_PORT: u16 = 5101;

/// Where the two threads run.
enum Placement {
    Loopback,
    /// Client in the first namespace, server in the second.
    Veth {
        client_ns: String,
        server_ns: String,
    },
}

/// The contender.
pub struct Linux {
    placement: Option<Placement>,
    name: &'static str,
}

impl Linux {
    /// Over loopback.
    pub fn loopback() -> Linux {
        Linux {
            placement: Some(Placement::Loopback),
            name: "Linux (loopback, epoll)",
        }
    }

    /// Over a veth pair between two namespaces (needs root and iproute2;
    /// without them this contender sits out).
    pub fn veth() -> Linux {
        Linux {
            placement: make_veth(),
            name: "Linux (veth, two namespaces, epoll)",
        }
    }

    fn server_ip(&self) -> Ipv4Addr {
        match self.placement {
            Some(Placement::Veth { .. }) => Ipv4Addr::new(10, 63, 0, 2),
            _ => Ipv4Addr::LOCALHOST,
        }
    }

    /// Runs `server` and `client` on two threads, each in its namespace
    /// and on its own CPU; returns the client's result.
    fn run<S, C, T>(&self, server: S, client: C) -> Option<T>
    where
        S: FnOnce(Vec<TcpListener>, &AtomicBool) + Send,
        C: FnOnce(Ipv4Addr) -> T + Send,
        T: Send,
    {
        let placement = self.placement.as_ref()?;
        let (client_ns, server_ns) = match placement {
            Placement::Loopback => (None, None),
            Placement::Veth {
                client_ns,
                server_ns,
            } => (Some(client_ns.as_str()), Some(server_ns.as_str())),
        };
        let ip = self.server_ip();
        let stop = AtomicBool::new(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let stop = &stop;
            scope.spawn(move || {
                enter(server_ns, 0);
                let listeners = listeners(ip);
                ready_tx.send(()).unwrap();
                server(listeners, stop);
            });
            ready_rx.recv().ok()?;
            let result = scope
                .spawn(move || {
                    enter(client_ns, 1);
                    client(ip)
                })
                .join();
            // Stop the server whatever happened to the client.
            stop.store(true, Ordering::SeqCst);
            match result {
                Ok(result) => Some(result),
                Err(_) => {
                    eprintln!("  {}: the client failed; no sample", self.name);
                    None
                }
            }
        })
    }
}

impl Drop for Linux {
    fn drop(&mut self) {
        if let Some(Placement::Veth {
            client_ns,
            server_ns,
        }) = &self.placement
        {
            for ns in [client_ns, server_ns] {
                let _ = Command::new(netns_script()).args(["delete", ns]).status();
            }
        }
    }
}

fn netns_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("setup/netns.sh")
}

/// Two namespaces joined by a veth pair: 10.63.0.1 (client), 10.63.0.2 (server).
fn make_veth() -> Option<Placement> {
    let create = |purpose: &str| -> Option<String> {
        let out = Command::new(netns_script())
            .args(["create", purpose])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let client_ns = create("benchcli")?;
    let Some(server_ns) = create("benchsrv") else {
        let _ = Command::new(netns_script())
            .args(["delete", &client_ns])
            .status();
        return None;
    };
    let ip = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = ip(&[
        "-n", &client_ns, "link", "add", "vbench0", "mtu", "1500", "type", "veth", "peer", "name",
        "vbench1", "netns", &server_ns,
    ]) && ip(&[
        "-n",
        &client_ns,
        "addr",
        "add",
        "10.63.0.1/24",
        "dev",
        "vbench0",
    ]) && ip(&[
        "-n",
        &server_ns,
        "addr",
        "add",
        "10.63.0.2/24",
        "dev",
        "vbench1",
    ]) && ip(&["-n", &client_ns, "link", "set", "vbench0", "up"])
        && ip(&["-n", &server_ns, "link", "set", "vbench1", "up"]);
    let placement = Placement::Veth {
        client_ns,
        server_ns,
    };
    if ok {
        Some(placement)
    } else {
        drop(Linux {
            placement: Some(placement),
            name: "",
        });
        None
    }
}

/// Moves this thread into namespace `ns` (if any) and onto `cpu`.
fn enter(ns: Option<&str>, cpu: usize) {
    if let Some(ns) = ns {
        let file = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("namespace");
        // SAFETY: setns on an open namespace file affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    }
    // SAFETY: a zeroed cpu_set_t with one bit set; pid 0 is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % num_cpus(), &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A C IPv4 socket address.
struct SockAddr(libc::sockaddr_in);

/// Its length, for bind and connect.
const SOCKADDR_LEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

impl SockAddr {
    fn as_ptr(&self) -> *const libc::sockaddr {
        &self.0 as *const libc::sockaddr_in as *const libc::sockaddr
    }
}

/// `address` as the C socket address.
fn sockaddr(address: SocketAddrV4) -> SockAddr {
    SockAddr(libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: address.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*address.ip()).to_be(),
        },
        sin_zero: [0; 8],
    })
}

/// Sets the boolean socket option `name` at `level` on `fd` (best effort).
fn enable(fd: RawFd, level: libc::c_int, name: libc::c_int) {
    let one: libc::c_int = 1;
    // SAFETY: a valid descriptor and a c_int option value of its size.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Non-blocking listeners on every port at `ip`.
fn listeners(ip: Ipv4Addr) -> Vec<TcpListener> {
    (0..PORTS)
        .map(|i| {
            let listener = listen(SocketAddrV4::new(ip, BASE_PORT + i));
            listener.set_nonblocking(true).unwrap();
            listener
        })
        .collect()
}

fn listen(address: SocketAddrV4) -> TcpListener {
    // std's backlog is 128; SO_REUSEADDR lets runs follow each other.
    // SAFETY: plain socket calls; results checked.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        enable(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR);
        let sin = sockaddr(address);
        let rc = libc::bind(fd, sin.as_ptr(), SOCKADDR_LEN);
        assert_eq!(rc, 0, "bind {address}: {}", std::io::Error::last_os_error());
        assert_eq!(libc::listen(fd, 4096), 0);
        use std::os::unix::io::FromRawFd;
        TcpListener::from_raw_fd(fd)
    }
}

/// A minimal epoll: level-triggered, the fd as the event's data.
struct Epoll(RawFd);

impl Epoll {
    fn new() -> Epoll {
        // SAFETY: epoll_create1 with a valid flag.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0);
        Epoll(fd)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32) {
        let mut event = libc::epoll_event {
            events,
            u64: fd as u64,
        };
        // SAFETY: valid epoll and socket descriptors.
        unsafe { libc::epoll_ctl(self.0, op, fd, &mut event) };
    }

    fn add(&self, fd: RawFd, events: u32) {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events);
    }

    fn modify(&self, fd: RawFd, events: u32) {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events);
    }

    /// Ready descriptors (waits up to `timeout_ms`).
    fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> usize {
        // SAFETY: the buffer is valid for its length.
        let n = unsafe {
            libc::epoll_wait(self.0, events.as_mut_ptr(), events.len() as i32, timeout_ms)
        };
        n.max(0) as usize
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;

/// Reads what `stream` has; (bytes, closed).
fn drain(stream: &mut TcpStream, buf: &mut [u8]) -> (usize, bool) {
    let mut total = 0;
    loop {
        match stream.read(buf) {
            Ok(0) => return (total, true),
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (total, false),
            Err(_) => return (total, true),
        }
    }
}

/// The server every scenario but bulk uses: accepts on every listener,
/// answers each 64 bytes received with 64 bytes, closes when the client
/// does; until `stop`.
fn echo_server(listeners: Vec<TcpListener>, stop: &AtomicBool) {
    let epoll = Epoll::new();
    for listener in &listeners {
        epoll.add(listener.as_raw_fd(), IN);
    }
    let by_fd: HashMap<RawFd, usize> = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_raw_fd(), i))
        .collect();
    let mut conns: HashMap<RawFd, (TcpStream, usize)> = HashMap::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let message = [0x42u8; MESSAGE];
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let n = epoll.wait(&mut events, 10);
        for event in &events[..n] {
            let fd = event.u64 as RawFd;
            if let Some(&i) = by_fd.get(&fd) {
                while let Ok((stream, _)) = listeners[i].accept() {
                    stream.set_nonblocking(true).unwrap();
                    stream.set_nodelay(true).unwrap();
                    epoll.add(stream.as_raw_fd(), IN);
                    conns.insert(stream.as_raw_fd(), (stream, 0));
                }
                continue;
            }
            let Some((stream, got)) = conns.get_mut(&fd) else {
                continue;
            };
            let (read, closed) = drain(stream, &mut buf);
            *got += read;
            while *got >= MESSAGE {
                *got -= MESSAGE;
                let _ = stream.write_all(&message);
            }
            if closed {
                conns.remove(&fd);
            }
        }
    }
}

fn connect(ip: Ipv4Addr, i: usize) -> TcpStream {
    let port = BASE_PORT + (i % usize::from(PORTS)) as u16;
    let stream = TcpStream::connect(SocketAddr::from((ip, port))).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
}

/// Raises the descriptor limit as far as allowed (to the hard limit, or
/// past it with CAP_SYS_RESOURCE); returns how many connections, both
/// ends in this process, fit under it.
pub fn connection_budget() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid rlimit structs; failures leave the old limit.
    unsafe {
        let wanted = libc::rlimit {
            rlim_cur: 1 << 20,
            rlim_max: 1 << 20,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    // Two descriptors per connection, and some to spare.
    (limit.rlim_cur as usize).saturating_sub(256) / 2
}

/// Ping-pong on one connection, blocking: round trips done.
fn ping_pong(stream: &mut TcpStream, round_trips: u64, limit: Duration, clock: &Stopwatch) -> u64 {
    let message = [0x42u8; MESSAGE];
    let mut reply = [0u8; MESSAGE];
    let mut done = 0;
    while done < round_trips && clock.elapsed() < limit {
        stream.write_all(&message).unwrap();
        stream.read_exact(&mut reply).unwrap();
        done += 1;
    }
    done
}

impl Contender for Linux {
    fn name(&self) -> &'static str {
        self.name
    }

    fn bulk(&mut self, bytes: u64) -> Option<Sample> {
        let server = move |listeners: Vec<TcpListener>, _: &AtomicBool| {
            let (mut stream, _) = loop {
                match listeners[0].accept() {
                    Ok(accepted) => break accepted,
                    Err(_) => std::thread::sleep(Duration::from_micros(100)),
                }
            };
            stream.set_nonblocking(false).unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut received = 0u64;
            while received < bytes {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "early end of stream");
                received += n as u64;
            }
            stream.write_all(b"k").unwrap();
        };
        self.run(server, move |ip| {
            let mut stream = TcpStream::connect((ip, BASE_PORT)).expect("connect");
            let chunk = vec![0x5au8; 64 * 1024];
            let clock = Stopwatch::start();
            let mut sent = 0u64;
            while sent < bytes {
                let n = (bytes - sent).min(chunk.len() as u64) as usize;
                stream.write_all(&chunk[..n]).unwrap();
                sent += n as u64;
            }
            // The server's "k" means every byte was read.
            stream.read_exact(&mut [0u8; 1]).unwrap();
            clock.finish(bytes as f64)
        })
    }

    fn request_response(&mut self, connections: usize, duration: Duration) -> Option<Sample> {
        self.run(echo_server, move |ip| {
            let mut streams: Vec<TcpStream> = (0..connections).map(|i| connect(ip, i)).collect();
            let epoll = Epoll::new();
            let mut index = HashMap::new();
            for (i, stream) in streams.iter().enumerate() {
                stream.set_nonblocking(true).unwrap();
                epoll.add(stream.as_raw_fd(), IN);
                index.insert(stream.as_raw_fd(), i);
            }
            let message = [0x42u8; MESSAGE];
            let mut buf = vec![0u8; 4096];
            let mut got = vec![0usize; connections];
            let mut sent_at = vec![Instant::now(); connections];
            let mut latencies = Latencies::default();
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
            let clock = Stopwatch::start();
            for (i, stream) in streams.iter_mut().enumerate() {
                sent_at[i] = Instant::now();
                stream.write_all(&message).unwrap();
            }
            let mut completed = 0u64;
            while clock.elapsed() < duration {
                let n = epoll.wait(&mut events, 10);
                for event in &events[..n] {
                    let i = index[&(event.u64 as RawFd)];
                    got[i] += drain(&mut streams[i], &mut buf).0;
                    while got[i] >= MESSAGE {
                        got[i] -= MESSAGE;
                        completed += 1;
                        latencies.record(sent_at[i]);
                        sent_at[i] = Instant::now();
                        streams[i].write_all(&message).unwrap();
                    }
                }
            }
            let mut sample = clock.finish(completed as f64);
            sample.latency_us = latencies.percentiles();
            sample
        })
    }

    fn connection_rate(&mut self, concurrency: usize, duration: Duration) -> Option<Sample> {
        self.run(echo_server, move |ip| {
            let epoll = Epoll::new();
            let message = [0x42u8; MESSAGE];
            let mut buf = vec![0u8; 4096];
            // fd -> (stream, None while connecting / Some(bytes of the reply)).
            let mut clients: HashMap<RawFd, (TcpStream, Option<usize>)> = HashMap::new();
            let mut opened = 0usize;
            let mut failed = 0u64;
            let mut open =
                |epoll: &Epoll, clients: &mut HashMap<RawFd, (TcpStream, Option<usize>)>| {
                    let port = BASE_PORT + (opened % usize::from(PORTS)) as u16;
                    opened += 1;
                    if let Some(stream) = connect_nonblocking(SocketAddrV4::new(ip, port)) {
                        epoll.add(stream.as_raw_fd(), OUT);
                        clients.insert(stream.as_raw_fd(), (stream, None));
                        true
                    } else {
                        false
                    }
                };
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
            let clock = Stopwatch::start();
            for _ in 0..concurrency {
                if !open(&epoll, &mut clients) {
                    failed += 1;
                }
            }
            let mut completed = 0u64;
            while clock.elapsed() < duration {
                let n = epoll.wait(&mut events, 10);
                for event in &events[..n] {
                    let fd = event.u64 as RawFd;
                    let Some((stream, state)) = clients.get_mut(&fd) else {
                        continue;
                    };
                    let mut finished = false;
                    match state {
                        None => {
                            if event.events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                                finished = true;
                                failed += 1;
                            } else {
                                let _ = stream.write_all(&message);
                                *state = Some(0);
                                epoll.modify(fd, IN);
                            }
                        }
                        Some(got) => {
                            let (read, closed) = drain(stream, &mut buf);
                            *got += read;
                            if *got >= MESSAGE {
                                completed += 1;
                                finished = true;
                            } else if closed {
                                failed += 1;
                                finished = true;
                            }
                        }
                    }
                    if finished {
                        clients.remove(&fd);
                        while !open(&epoll, &mut clients) && clock.elapsed() < duration {
                            failed += 1;
                        }
                    }
                }
            }
            if failed > 0 {
                eprintln!("  Linux connection rate: {failed} connects failed (TIME_WAIT?)");
            }
            clock.finish(completed as f64)
        })
    }

    fn demux(&mut self, idle: usize, round_trips: u64, limit: Duration) -> Option<Sample> {
        // The idle connections live in processes of their own (both ends
        // in each), so no process needs more descriptors than this
        // machine's hard limit; the kernel demultiplexes among all of them
        // alike. The active connection's server runs in a process too.
        let (client_ns, server_ns) = self.namespaces()?;
        let ip = self.server_ip();
        let holders = IdleHolders::open(client_ns.as_deref(), server_ns.as_deref(), ip, idle)?;
        let server = ServerProcess::start(server_ns.as_deref(), ip)?;
        let pid = server.pid();
        let sample = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    enter(client_ns.as_deref(), 1);
                    let mut active = connect(ip, 0);
                    let warm = Stopwatch::start();
                    ping_pong(&mut active, 100, Duration::from_secs(5), &warm);
                    let server_cpu = process_cpu(pid)?;
                    let clock = Stopwatch::start();
                    let done = ping_pong(&mut active, round_trips, limit, &clock);
                    let mut sample = clock.finish(2.0 * done as f64);
                    sample.cpu += process_cpu(pid)? - server_cpu;
                    Some(sample)
                })
                .join()
                .ok()
                .flatten()
        });
        server.stop();
        holders.close();
        sample
    }

    fn memory_per_connection(&mut self, connections: usize) -> Option<f64> {
        // Kernel memory (slab and TCP buffer pages) before and after the
        // holder processes open their connections.
        let (client_ns, server_ns) = self.namespaces()?;
        let before = kernel_memory();
        let holders = IdleHolders::open(
            client_ns.as_deref(),
            server_ns.as_deref(),
            self.server_ip(),
            connections,
        )?;
        std::thread::sleep(Duration::from_millis(200));
        let grown = kernel_memory() - before;
        holders.close();
        Some(grown / connections as f64)
    }
}

impl Linux {
    /// (client namespace, server namespace): none over loopback.
    fn namespaces(&self) -> Option<(Option<String>, Option<String>)> {
        Some(match self.placement.as_ref()? {
            Placement::Loopback => (None, None),
            Placement::Veth {
                client_ns,
                server_ns,
            } => (Some(client_ns.clone()), Some(server_ns.clone())),
        })
    }
}

/// Processes holding idle established connections, both ends in each
/// (this harness run again with `--linux-idle`), as many as the
/// descriptor limit requires.
struct IdleHolders(Vec<std::process::Child>);

/// First listening port of the holders; holder `k` listens on
/// `HOLDER_BASE_PORT + PORTS * k` and the `PORTS - 1` ports after it.
const HOLDER_BASE_PORT: u16 = 6001;

impl IdleHolders {
    /// Opens `connections` idle connections to `ip` (server ends in
    /// `server_ns`, client ends in `client_ns`); returns once all are
    /// established, or `None` if a holder failed.
    fn open(
        client_ns: Option<&str>,
        server_ns: Option<&str>,
        ip: Ipv4Addr,
        connections: usize,
    ) -> Option<IdleHolders> {
        use std::io::BufRead;
        let per_holder = connection_budget().max(1);
        let exe = std::env::current_exe().ok()?;
        let mut holders = IdleHolders(Vec::new());
        let mut left = connections;
        // All holders start at once (the CPUs share the work), then each
        // must say it is ready.
        while left > 0 {
            let count = left.min(per_holder);
            let base = HOLDER_BASE_PORT + PORTS * holders.0.len() as u16;
            let child = Command::new(&exe)
                .args([
                    "--linux-idle",
                    client_ns.unwrap_or("-"),
                    server_ns.unwrap_or("-"),
                    &ip.to_string(),
                    &base.to_string(),
                    &count.to_string(),
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn();
            match child {
                Ok(child) => holders.0.push(child),
                Err(_) => {
                    holders.close();
                    return None;
                }
            }
            left -= count;
        }
        let all_ready = holders.0.iter_mut().all(|child| {
            let Some(stdout) = child.stdout.as_mut() else {
                return false;
            };
            let mut line = String::new();
            let ready = std::io::BufReader::new(stdout).read_line(&mut line).is_ok()
                && line.trim() == "ready";
            if !ready {
                eprintln!("  an idle-connection holder failed: {}", line.trim());
            }
            ready
        });
        if !all_ready {
            holders.close();
            return None;
        }
        Some(holders)
    }

    /// Ends the holders (their connections close with them).
    fn close(self) {
        for mut child in self.0 {
            // Closing its stdin tells the holder to exit.
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// `--linux-idle CLIENT_NS SERVER_NS IP BASE_PORT COUNT`: a holder
/// process. Listens on `PORTS` ports from BASE_PORT at IP (in SERVER_NS),
/// opens COUNT connections to them (from CLIENT_NS), accepts every one,
/// prints `ready`, and holds them until its stdin closes.
pub fn hold_idle(args: &[String]) {
    let ns = |i: usize| {
        args.get(i)
            .filter(|ns| ns.as_str() != "-")
            .map(String::as_str)
    };
    let field = |i: usize| {
        args.get(i)
            .expect("--linux-idle CLIENT_NS SERVER_NS IP BASE_PORT COUNT")
    };
    let ip: Ipv4Addr = field(2).parse().expect("an address");
    let base: u16 = field(3).parse().expect("a port");
    let count: usize = field(4).parse().expect("a count");
    connection_budget();
    // Sockets stay in the namespace they were made in: listeners first,
    // then the thread moves to the client namespace to connect.
    enter(ns(1), 0);
    let listeners: Vec<TcpListener> = (0..PORTS)
        .map(|i| {
            let listener = listen(SocketAddrV4::new(ip, base + i));
            listener.set_nonblocking(true).unwrap();
            listener
        })
        .collect();
    enter(ns(0), 0);
    let mut clients = Vec::with_capacity(count);
    let mut servers = Vec::with_capacity(count);
    let accept_all = |servers: &mut Vec<TcpStream>| {
        for listener in &listeners {
            while let Ok((stream, _)) = listener.accept() {
                servers.push(stream);
            }
        }
    };
    for i in 0..count {
        let port = base + (i % usize::from(PORTS)) as u16;
        match TcpStream::connect(SocketAddr::from((ip, port))) {
            Ok(stream) => clients.push(stream),
            Err(e) => {
                println!("connect {i} of {count}: {e}");
                return;
            }
        }
        // Well inside the backlog of every listener.
        if i % 1024 == 1023 {
            accept_all(&mut servers);
        }
    }
    let started = Instant::now();
    while servers.len() < count && started.elapsed() < Duration::from_secs(10) {
        accept_all(&mut servers);
    }
    if servers.len() < count {
        println!("accepted {} of {count}", servers.len());
        return;
    }
    println!("ready");
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

/// A non-blocking connect in progress (None if it failed at once).
fn connect_nonblocking(address: SocketAddrV4) -> Option<TcpStream> {
    use std::os::unix::io::FromRawFd;
    // SAFETY: plain socket calls; the descriptor is owned by the stream.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return None;
        }
        let stream = TcpStream::from_raw_fd(fd);
        enable(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY);
        let sin = sockaddr(address);
        let rc = libc::connect(fd, sin.as_ptr(), SOCKADDR_LEN);
        let in_progress = std::io::Error::last_os_error().raw_os_error() == Some(libc::EINPROGRESS);
        (rc == 0 || in_progress).then_some(stream)
    }
}

/// Slab plus socket buffer memory of the kernel, in bytes (/proc/meminfo
/// `Slab` and /proc/net/sockstat's TCP `mem` pages).
fn kernel_memory() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let slab_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("Slab:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let tcp_pages: f64 = sockstat
        .lines()
        .find(|l| l.starts_with("TCP:"))
        .and_then(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let at = fields.iter().position(|f| *f == "mem")?;
            fields.get(at + 1)?.parse().ok()
        })
        .unwrap_or(0.0);
    slab_kib * 1024.0 + tcp_pages * 4096.0
}

/// The echo server in a process of its own (this harness run again with
/// `--linux-server`), in the server namespace if any, on CPU 0.
struct ServerProcess(std::process::Child);

impl ServerProcess {
    fn start(ns: Option<&str>, ip: Ipv4Addr) -> Option<ServerProcess> {
        use std::io::BufRead;
        let exe = std::env::current_exe().ok()?;
        let mut child = Command::new(exe)
            .args(["--linux-server", ns.unwrap_or("-"), &ip.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let mut line = String::new();
        let stdout = child.stdout.as_mut()?;
        std::io::BufReader::new(stdout).read_line(&mut line).ok()?;
        if line.trim() != "ready" {
            let _ = child.kill();
            return None;
        }
        Some(ServerProcess(child))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--linux-server NS IP`: the echo server's process (NS `-` for none).
/// Runs until killed.
pub fn serve(args: &[String]) {
    let ns = args
        .first()
        .filter(|ns| ns.as_str() != "-")
        .map(String::as_str);
    let ip: Ipv4Addr = args
        .get(1)
        .and_then(|ip| ip.parse().ok())
        .expect("an address");
    connection_budget();
    enter(ns, 0);
    let listeners = listeners(ip);
    println!("ready");
    let never = AtomicBool::new(false);
    echo_server(listeners, &never);
}
