//! smoltcp 0.14: two interfaces over an in-memory Ethernet link, both in
//! one thread (its own examples' set-up), software checksums as dpstack's
//! pipe. Frames are recycled, so the link itself does not allocate.

use crate::measure::{rss_bytes, Latencies, Sample, Stopwatch, MESSAGE};
use crate::Contender;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr, Ipv4Address};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

const A_IP: Ipv4Address = Ipv4Address::new(10, 62, 0, 1);
const B_IP: Ipv4Address = Ipv4Address::new(10, 62, 0, 2);
const PORT: u16 = 5001;
/// Listening ports: connections spread over them, so 100,000 fit in the
/// client's port range towards one address.
const PORTS: u16 = 8;

/// The contender.
pub struct Smoltcp;

/// Most connections opened: smoltcp visits every socket on each poll, so
/// opening 100,000 (thousands of polls) takes minutes, past this
/// benchmark's budget.
const MAX_CONNECTIONS: usize = 10_001;

type Frames = Rc<RefCell<Vec<Vec<u8>>>>;

/// One end of the link: frames in, frames out, and spare buffers.
struct End {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    spare: Frames,
}

struct RxToken(Vec<u8>, Frames);
struct TxToken<'a>(&'a mut VecDeque<Vec<u8>>, Frames);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.0);
        self.1.borrow_mut().push(self.0);
        r
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = self.1.borrow_mut().pop().unwrap_or_default();
        frame.resize(len, 0);
        let r = f(&mut frame);
        self.0.push_back(frame);
        r
    }
}

impl phy::Device for End {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(RxToken, TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((
            RxToken(frame, self.spare.clone()),
            TxToken(&mut self.tx, self.spare.clone()),
        ))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx, self.spare.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// Both interfaces, their sockets and the link.
struct World {
    epoch: Instant,
    /// Microseconds of a manual clock, advanced one per turn (instruction
    /// counting: no clock reads); `None` reads the real clock.
    manual_micros: Option<i64>,
    ifaces: [Interface; 2],
    ends: [End; 2],
    sockets: [SocketSet<'static>; 2],
    /// Buffer size of new sockets, each way.
    buffer: usize,
    next_port: u16,
    /// Frames each side has sent (printed by `--cycles` with
    /// `CYCLES_FRAMES` set, beside `benches/cycles.rs`'s counts).
    frames_sent: [u64; 2],
}

impl World {
    fn new(buffer: usize) -> World {
        let spare: Frames = Rc::default();
        let mut ends = [0u8, 1].map(|_| End {
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            spare: spare.clone(),
        });
        let ips = [A_IP, B_IP];
        let ifaces = [0usize, 1].map(|i| {
            let mac = EthernetAddress([0x02, 0x62, 0, 0, 0, i as u8 + 1]);
            let mut iface = Interface::new(
                Config::new(mac.into()),
                &mut ends[i],
                smoltcp::time::Instant::from_micros(0),
            );
            iface.update_ip_addrs(|addrs| {
                addrs
                    .push(IpCidr::new(IpAddress::Ipv4(ips[i]), 24))
                    .unwrap();
            });
            iface
        });
        World {
            epoch: Instant::now(),
            manual_micros: None,
            ifaces,
            ends,
            sockets: [SocketSet::new(vec![]), SocketSet::new(vec![])],
            buffer,
            next_port: 1024,
            frames_sent: [0; 2],
        }
    }

    fn now(&self) -> smoltcp::time::Instant {
        let micros = self
            .manual_micros
            .unwrap_or_else(|| self.epoch.elapsed().as_micros() as i64);
        smoltcp::time::Instant::from_micros(micros)
    }

    /// One turn: A polls, its frames cross, B polls, its frames cross.
    fn turn(&mut self) {
        if let Some(micros) = &mut self.manual_micros {
            *micros += 1;
        }
        for side in 0..2 {
            let now = self.now();
            self.ifaces[side].poll(now, &mut self.ends[side], &mut self.sockets[side]);
            let frames: Vec<Vec<u8>> = self.ends[side].tx.drain(..).collect();
            self.frames_sent[side] += frames.len() as u64;
            self.ends[1 - side].rx.extend(frames);
        }
    }

    fn socket(&mut self, side: usize, nodelay: bool) -> SocketHandle {
        let rx = tcp::SocketBuffer::new(vec![0; self.buffer]);
        let tx = tcp::SocketBuffer::new(vec![0; self.buffer]);
        let mut socket = tcp::Socket::new(rx, tx);
        socket.set_nagle_enabled(!nodelay);
        self.sockets[side].add(socket)
    }

    fn tcp(&mut self, side: usize, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets[side].get_mut::<tcp::Socket>(handle)
    }

    fn listen(&mut self, handle: SocketHandle, port: u16) {
        self.tcp(1, handle).listen(port).unwrap();
    }

    fn connect(&mut self, handle: SocketHandle, server_port: u16) {
        let port = self.next_port;
        self.next_port = if port == u16::MAX { 1024 } else { port + 1 };
        let cx = self.ifaces[0].context();
        self.sockets[0]
            .get_mut::<tcp::Socket>(handle)
            .connect(cx, (IpAddress::Ipv4(B_IP), server_port), port)
            .unwrap();
    }

    /// `n` established connections, spread over the listening ports:
    /// (client, server) handles.
    fn open(&mut self, n: usize, nodelay: bool) -> Vec<(SocketHandle, SocketHandle)> {
        let mut pairs = Vec::with_capacity(n);
        while pairs.len() < n {
            let batch = (n - pairs.len()).min(1000);
            let first = pairs.len();
            let port_of = |i: usize| PORT + ((first + i) % usize::from(PORTS)) as u16;
            let servers: Vec<SocketHandle> = (0..batch)
                .map(|i| {
                    let s = self.socket(1, nodelay);
                    self.listen(s, port_of(i));
                    s
                })
                .collect();
            let clients: Vec<SocketHandle> = (0..batch)
                .map(|i| {
                    let c = self.socket(0, nodelay);
                    self.connect(c, port_of(i));
                    c
                })
                .collect();
            for _ in 0..10_000 {
                self.turn();
                let done = clients
                    .iter()
                    .all(|&c| self.tcp(0, c).state() == State::Established)
                    && servers
                        .iter()
                        .all(|&s| self.tcp(1, s).state() == State::Established);
                if done {
                    break;
                }
            }
            // Which server took which client: match by both ports.
            let mut by_ports = std::collections::HashMap::new();
            for &s in &servers {
                let local = self.tcp(1, s).local_endpoint().expect("connected");
                let remote = self.tcp(1, s).remote_endpoint().expect("connected");
                by_ports.insert((local.port, remote.port), s);
            }
            for &c in &clients {
                let local = self.tcp(0, c).local_endpoint().expect("connected");
                let remote = self.tcp(0, c).remote_endpoint().expect("connected");
                pairs.push((c, by_ports[&(remote.port, local.port)]));
            }
        }
        pairs
    }
}

/// Reads what the socket has; returns bytes read.
fn drain(socket: &mut tcp::Socket, buf: &mut [u8]) -> usize {
    let mut total = 0;
    while socket.can_recv() {
        match socket.recv_slice(buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    total
}

impl Contender for Smoltcp {
    fn name(&self) -> &'static str {
        "smoltcp 0.14 (in-memory link, one thread)"
    }

    fn bulk(&mut self, bytes: u64) -> Option<Sample> {
        let mut world = World::new(256 * 1024);
        let (client, server) = world.open(1, false)[0];
        let clock = Stopwatch::start();
        bulk_loop(&mut world, client, server, bytes);
        Some(clock.finish(bytes as f64))
    }

    fn request_response(&mut self, connections: usize, duration: Duration) -> Option<Sample> {
        let mut world = World::new(64 * 1024);
        let pairs = world.open(connections, true);
        let mut latencies = Latencies::default();
        let clock = Stopwatch::start();
        let completed = rr_loop(&mut world, &pairs, &mut latencies, |_| {
            clock.elapsed() < duration
        });
        let mut sample = clock.finish(completed as f64);
        sample.latency_us = latencies.percentiles();
        Some(sample)
    }

    fn connection_rate(&mut self, concurrency: usize, duration: Duration) -> Option<Sample> {
        let mut world = World::new(4 * 1024);
        let clock = Stopwatch::start();
        let completed = connection_loop(&mut world, concurrency, |_| clock.elapsed() < duration);
        Some(clock.finish(completed as f64))
    }

    fn demux(&mut self, idle: usize, round_trips: u64, limit: Duration) -> Option<Sample> {
        if idle + 1 > MAX_CONNECTIONS {
            eprintln!("  smoltcp: {idle} idle connections take minutes to open; not run");
            return None;
        }
        let mut world = World::new(4 * 1024);
        let pairs = world.open(idle + 1, true);
        let (client, server) = pairs[idle];
        let message = [0x42u8; MESSAGE];
        let mut buf = vec![0u8; 4096];
        let mut ping = |world: &mut World| {
            world.tcp(0, client).send_slice(&message).unwrap();
            let mut got = 0;
            while got < MESSAGE {
                world.turn();
                got += drain(world.tcp(1, server), &mut buf);
            }
            world.tcp(1, server).send_slice(&message).unwrap();
            let mut got = 0;
            while got < MESSAGE {
                world.turn();
                got += drain(world.tcp(0, client), &mut buf);
            }
        };
        for _ in 0..100 {
            ping(&mut world);
        }
        let clock = Stopwatch::start();
        let mut done = 0u64;
        while done < round_trips && clock.elapsed() < limit {
            ping(&mut world);
            done += 1;
        }
        Some(clock.finish(2.0 * done as f64))
    }

    fn memory_per_connection(&mut self, connections: usize) -> Option<f64> {
        if connections > MAX_CONNECTIONS {
            return None;
        }
        // smoltcp's buffers are the application's: 4 KiB each way here.
        let mut world = World::new(4 * 1024);
        let before = rss_bytes();
        let pairs = world.open(connections, false);
        let per = (rss_bytes() - before) / connections as f64;
        drop(pairs);
        Some(per)
    }
}

/// Sends `bytes` from `client` to `server` in 64 KiB writes, reading as
/// it comes; returns the bytes read.
fn bulk_loop(world: &mut World, client: SocketHandle, server: SocketHandle, bytes: u64) -> u64 {
    let chunk = vec![0x5au8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0u64, 0u64);
    while received < bytes {
        world.turn();
        let socket = world.tcp(0, client);
        while sent < bytes && socket.can_send() {
            let n = (bytes - sent).min(chunk.len() as u64) as usize;
            match socket.send_slice(&chunk[..n]) {
                Ok(0) | Err(_) => break,
                Ok(k) => sent += k as u64,
            }
        }
        received += drain(world.tcp(1, server), &mut buf) as u64;
    }
    received
}

/// 64-byte request/response on `pairs`, one outstanding on each, while
/// `go(completed)` holds; returns the requests answered.
fn rr_loop(
    world: &mut World,
    pairs: &[(SocketHandle, SocketHandle)],
    latencies: &mut Latencies,
    mut go: impl FnMut(u64) -> bool,
) -> u64 {
    let message = [0x42u8; MESSAGE];
    let mut buf = vec![0u8; 4096];
    let (mut got_a, mut got_b) = (vec![0usize; pairs.len()], vec![0usize; pairs.len()]);
    let mut sent_at = vec![Instant::now(); pairs.len()];
    for (i, &(client, _)) in pairs.iter().enumerate() {
        sent_at[i] = Instant::now();
        world.tcp(0, client).send_slice(&message).unwrap();
    }
    let mut completed = 0u64;
    while go(completed) {
        world.turn();
        // smoltcp has no readiness events: the application checks its sockets.
        for (i, &(client, server)) in pairs.iter().enumerate() {
            let socket = world.tcp(1, server);
            got_b[i] += drain(socket, &mut buf);
            while got_b[i] >= MESSAGE {
                got_b[i] -= MESSAGE;
                socket.send_slice(&message).unwrap();
            }
            let socket = world.tcp(0, client);
            got_a[i] += drain(socket, &mut buf);
            while got_a[i] >= MESSAGE {
                got_a[i] -= MESSAGE;
                completed += 1;
                latencies.record(sent_at[i]);
                sent_at[i] = Instant::now();
                socket.send_slice(&message).unwrap();
            }
        }
    }
    completed
}

/// Connect, 64-byte request, reply, close (the client first),
/// `concurrency` at a time, while `go(completed)` holds; returns the
/// connections completed.
fn connection_loop(world: &mut World, concurrency: usize, mut go: impl FnMut(u64) -> bool) -> u64 {
    let message = [0x42u8; MESSAGE];
    let mut buf = vec![0u8; 4096];
    // More listeners than clients, so a SYN always finds one.
    let servers: Vec<SocketHandle> = (0..2 * concurrency)
        .map(|_| {
            let s = world.socket(1, true);
            world.listen(s, PORT);
            s
        })
        .collect();
    let mut server_got = vec![0usize; servers.len()];
    let clients: Vec<SocketHandle> = (0..concurrency).map(|_| world.socket(0, true)).collect();
    // Per client: None connecting, Some(bytes of the reply read).
    let mut client_state: Vec<Option<usize>> = vec![None; concurrency];
    for &c in &clients {
        world.connect(c, PORT);
    }
    let mut completed = 0u64;
    while go(completed) {
        world.turn();
        for (i, &s) in servers.iter().enumerate() {
            let socket = world.tcp(1, s);
            server_got[i] += drain(socket, &mut buf);
            if server_got[i] >= MESSAGE {
                server_got[i] -= MESSAGE;
                socket.send_slice(&message).unwrap();
            }
            match socket.state() {
                State::CloseWait => socket.close(),
                State::Closed => {
                    server_got[i] = 0;
                    socket.listen(PORT).unwrap();
                }
                _ => {}
            }
        }
        for (i, &c) in clients.iter().enumerate() {
            let state = world.tcp(0, c).state();
            match client_state[i] {
                None if state == State::Established => {
                    world.tcp(0, c).send_slice(&message).unwrap();
                    client_state[i] = Some(0);
                }
                Some(got) if got < MESSAGE => {
                    let got = got + drain(world.tcp(0, c), &mut buf);
                    client_state[i] = Some(got);
                    if got >= MESSAGE {
                        world.tcp(0, c).close();
                        completed += 1;
                    }
                }
                // Closed by us: once in TIME-WAIT (or closed), open the next.
                Some(_) if matches!(state, State::TimeWait | State::Closed) => {
                    client_state[i] = None;
                    world.connect(c, PORT);
                }
                _ => {}
            }
        }
    }
    completed
}

/// Instruction counting (`--cycles smoltcp WORKLOAD N`, for
/// `setup/instructions.sh`): N round trips on one connection, or N short
/// connections one at a time, on a manual clock; callgrind counts only
/// inside [`measured`] (sockets and their buffers are made once, before).
pub fn cycles(workload: &str, n: u64) -> Result<(), String> {
    let world = match workload {
        "rr" => {
            let mut world = World::new(64 * 1024);
            world.manual_micros = Some(0);
            let pairs = world.open(1, true);
            let mut latencies = Latencies::default();
            let before = world.frames_sent;
            measured(|| {
                std::hint::black_box(rr_loop(&mut world, &pairs, &mut latencies, |d| d < n));
            });
            (world, before)
        }
        "connect" => {
            let mut world = World::new(4 * 1024);
            world.manual_micros = Some(0);
            measured(|| {
                std::hint::black_box(connection_loop(&mut world, 1, |done| done < n));
            });
            (world, [0; 2])
        }
        "bulk" => {
            let mut world = World::new(256 * 1024);
            world.manual_micros = Some(0);
            let (client, server) = world.open(1, false)[0];
            let before = world.frames_sent;
            measured(|| {
                std::hint::black_box(bulk_loop(&mut world, client, server, n * 1448));
            });
            (world, before)
        }
        other => return Err(format!("no smoltcp workload {other} (rr, connect, bulk)")),
    };
    if std::env::var_os("CYCLES_FRAMES").is_some() {
        let (world, before) = world;
        eprintln!(
            "a tx {}; b tx {} (measured loop only)",
            world.frames_sent[0] - before[0],
            world.frames_sent[1] - before[1]
        );
    }
    Ok(())
}

/// Runs `f`: callgrind counts only inside this frame.
#[inline(never)]
fn measured(f: impl FnOnce()) {
    f()
}
