//! Criterion micro-benchmarks of the hot paths: parsing an
//! Ethernet/IPv4/TCP frame, TCP input of an in-order data segment, the
//! timer wheel (schedule + cancel, advance), epoll (ctl, and wait with
//! 1 ready among 10,000 watched), and steering frames between cores.
//!
//! Run: `cargo bench --bench micro` (filter: `cargo bench --bench micro -- tcp_input`).

mod common;

use common::watched::{self, Host, Watched};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN};
use dpstack::rand::Rng;
use dpstack::socket::{Errno, SockOpt, SockType};
use dpstack::tcp::emit::SegmentOut;
use dpstack::tcp::{segment, TcpConfig, TcpHandle, TcpOptions, TcpSockets};
use dpstack::time::{Duration, Instant};
use dpstack::timer::TimerWheel;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol, Ipv4Packet,
    Ipv4Repr,
};
use std::net::{Ipv4Addr, SocketAddrV4};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);
const MSS: usize = 1448;

/// Every segment `from` has to send, as (bytes) ready for `parse`.
fn drain(from: &mut TcpSockets, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    from.drain_output(now, |seg: &SegmentOut<'_>| {
        let mut bytes = vec![0u8; seg.len()];
        seg.write(&mut bytes, false);
        out.push(bytes);
        true
    });
    out
}

fn deliver(to: &mut TcpSockets, now: Instant, src: Ipv4Addr, dst: Ipv4Addr, segments: &[Vec<u8>]) {
    for bytes in segments {
        let seg = segment::parse(src, dst, bytes).expect("our own segments parse");
        to.input(now, src.into(), dst.into(), &seg);
    }
}

/// Exchanges segments until both tables are quiet.
fn settle(a: &mut TcpSockets, b: &mut TcpSockets, now: Instant) {
    for _ in 0..100 {
        let (from_a, from_b) = (drain(a, now), drain(b, now));
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        deliver(b, now, A_IP, B_IP, &from_a);
        deliver(a, now, B_IP, A_IP, &from_b);
    }
}

/// Two TCP tables with one established connection: (a, b, client, server).
fn connected() -> (TcpSockets, TcpSockets, TcpHandle, TcpHandle, Instant) {
    let config = TcpConfig::default();
    let options = TcpOptions::from_config(&config);
    let mut a = TcpSockets::new(Rng::new(1), config.clone());
    let mut b = TcpSockets::new(Rng::new(2), config);
    let now = Instant::ZERO + Duration::from_secs(1);
    let listener = b
        .listen(SocketAddrV4::new(B_IP, 80), 16, options, B_IP, false)
        .unwrap();
    let client = a
        .connect(now, SocketAddrV4::new(B_IP, 80), 0, options, A_IP)
        .unwrap();
    settle(&mut a, &mut b, now);
    let (server, _) = b.accept(listener).unwrap();
    (a, b, client, server, now)
}

/// A full-size data segment in an Ethernet/IPv4 frame, checksums filled.
fn data_frame() -> Vec<u8> {
    let (mut a, _b, client, _server, now) = connected();
    a.send(client, &[0x5a; MSS]).unwrap();
    let tcp = drain(&mut a, now).pop().expect("a data segment");
    let ip = Ipv4Repr {
        src_addr: A_IP,
        dst_addr: B_IP,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut frame = vec![0u8; 14 + 20 + tcp.len()];
    let mut view = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut view);
    let mut packet = Ipv4Packet::new_unchecked(view.payload_mut());
    ip.emit(&mut packet, &smoltcp::phy::ChecksumCapabilities::default());
    packet.payload_mut().copy_from_slice(&tcp);
    frame
}

fn frame_parse(c: &mut Criterion) {
    let frame = data_frame();
    c.bench_function("parse Ethernet/IPv4/TCP frame (1448 B of data)", |bench| {
        bench.iter(|| {
            let eth = EthernetFrame::new_checked(black_box(&frame[..])).unwrap();
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            assert!(ip.verify_checksum());
            let seg = segment::parse(ip.src_addr(), ip.dst_addr(), ip.payload()).unwrap();
            black_box(seg.payload.len())
        })
    });
}

fn checksum(c: &mut Criterion) {
    let payload: Vec<u8> = (0..MSS).map(|i| (i * 7) as u8).collect();
    c.bench_function("Internet checksum of 1448 B", |bench| {
        bench.iter(|| dpstack::wire::checksum::data(black_box(&payload)))
    });
}

fn tcp_input(c: &mut Criterion) {
    // 64 in-order segments per batch are timed together; sending them,
    // reading them and returning the ACKs happen outside the timing.
    const BATCH: usize = 64;
    let (mut a, mut b, client, server, now) = connected();
    let data = vec![0x5au8; BATCH * MSS];
    let mut sink = vec![0u8; BATCH * MSS];
    c.bench_function("TCP input, in-order data segment (1448 B)", |bench| {
        bench.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut done = 0;
            while done < iters {
                a.send(client, &data).unwrap();
                let segments = drain(&mut a, now);
                let parsed: Vec<_> = segments
                    .iter()
                    .map(|bytes| segment::parse(A_IP, B_IP, bytes).unwrap())
                    .collect();
                let started = std::time::Instant::now();
                for seg in &parsed {
                    b.input(now, A_IP.into(), B_IP.into(), seg);
                }
                total += started.elapsed();
                done += parsed.len() as u64;
                while b.recv(server, &mut sink).is_ok_and(|n| n > 0) {}
                settle(&mut a, &mut b, now);
            }
            total.mul_f64(iters as f64 / done as f64)
        })
    });
}

fn timer_wheel(c: &mut Criterion) {
    let mut wheel: TimerWheel<u32> = TimerWheel::new();
    let mut rng = Rng::new(7);
    // 10,000 timers spread over the next minute.
    for key in 0..10_000u32 {
        let at = Instant::ZERO + Duration::from_millis(rng.next_u64() % 60_000);
        wheel.schedule(key, at);
    }
    let mut n = 0u64;
    c.bench_function("timer wheel: schedule + cancel (10,000 held)", |bench| {
        bench.iter(|| {
            n += 1;
            let at = Instant::ZERO + Duration::from_millis(200 + n % 1000);
            let handle = wheel.schedule(black_box(1), at);
            black_box(wheel.cancel(handle))
        })
    });
    c.bench_function("timer wheel: advance 1 ms, 10,000 held", |bench| {
        bench.iter_batched(
            || {
                let mut wheel: TimerWheel<u32> = TimerWheel::new();
                for key in 0..10_000u32 {
                    let at = Instant::ZERO + Duration::from_millis(1 + u64::from(key) % 10_000);
                    wheel.schedule(key, at);
                }
                (wheel, Vec::with_capacity(16))
            },
            |(mut wheel, mut expired)| {
                // One tick's worth: the timers due in the first millisecond.
                wheel.advance(Instant::ZERO + Duration::from_millis(1), &mut expired);
                black_box(expired.len())
            },
            BatchSize::LargeInput,
        )
    });
}

/// [`watched`] between this file's addresses, Nagle off on the clients.
fn watched(n: usize) -> Watched {
    watched::watched(
        A_IP,
        B_IP,
        n,
        |_, _| {},
        |host, fd| {
            host.setsockopt(fd, SockOpt::NoDelay(true)).unwrap();
        },
    )
}

fn epoll(c: &mut Criterion) {
    let Watched {
        mut a,
        mut b,
        clock,
        epfd,
        pairs,
        ..
    } = watched(10_000);
    let (client, server) = pairs[0];
    let spare = b.socket(SockType::Stream).unwrap();
    c.bench_function("epoll_ctl ADD + DEL (10,000 watched)", |bench| {
        bench.iter(|| {
            let event = EpollEvent {
                events: EPOLLIN,
                data: 7,
            };
            b.epoll_ctl(epfd, CtlOp::Add, spare, event).unwrap();
            b.epoll_ctl(epfd, CtlOp::Del, spare, event).unwrap();
        })
    });
    // One connection stays readable (level-triggered): every wait finds it.
    a.send(client, b"x", 0).unwrap();
    for _ in 0..10 {
        clock.advance(Duration::from_micros(10));
        a.poll();
        b.poll();
    }
    let mut events = vec![EpollEvent::default(); 64];
    c.bench_function("epoll_wait, 1 ready of 10,000 (one poll turn)", |bench| {
        bench.iter(|| {
            let n = b
                .epoll_wait(epfd, &mut events, Some(Duration::ZERO))
                .unwrap();
            assert_eq!(events[0].data, server as u64);
            black_box(n)
        })
    });
}

/// One 64-byte request and its 64-byte reply over a pipe, through the
/// socket API: two sends, two reads, four poll turns.
fn round_trip(c: &mut Criterion) {
    let Watched {
        mut a,
        mut b,
        clock,
        pairs,
        ..
    } = watched(1);
    let (client, server) = pairs[0];
    let message = [0x42u8; 64];
    let mut buf = [0u8; 256];
    c.bench_function(
        "64 B request + reply over a pipe (socket API, 4 polls)",
        |bench| {
            bench.iter(|| {
                clock.advance(Duration::from_micros(1));
                a.send(client, &message, 0).unwrap();
                a.poll();
                b.poll();
                assert_eq!(b.recv(server, &mut buf, 0), Ok(64));
                b.send(server, &message, 0).unwrap();
                b.poll();
                a.poll();
                assert_eq!(a.recv(client, &mut buf, 0), Ok(64));
            })
        },
    );
}

/// One short connection over a pipe, through the socket API: connect,
/// accept, a 64-byte request and reply, close (the client first), as the
/// connection-rate benchmark does. The client keeps TIME-WAIT, so in
/// steady state each connect takes over one of its own TIME-WAIT pairs.
fn connection_cycle(c: &mut Criterion) {
    let Watched {
        mut a,
        mut b,
        clock,
        listener,
        ..
    } = watched(0);
    let message = [0x42u8; 64];
    let mut buf = [0u8; 256];
    let turn = |a: &mut Host, b: &mut Host| {
        a.poll();
        b.poll();
    };
    c.bench_function(
        "connection: connect, 64 B each way, close (socket API)",
        |bench| {
            bench.iter(|| {
                clock.advance(Duration::from_micros(1));
                let client = a.socket(SockType::Stream).unwrap();
                assert_eq!(
                    a.connect(client, SocketAddrV4::new(B_IP, 9)),
                    Err(Errno::EINPROGRESS)
                );
                turn(&mut a, &mut b);
                turn(&mut a, &mut b);
                let (server, _) = b.accept(listener).expect("accepted");
                a.send(client, &message, 0).unwrap();
                turn(&mut a, &mut b);
                assert_eq!(b.recv(server, &mut buf, 0), Ok(64));
                b.send(server, &message, 0).unwrap();
                turn(&mut a, &mut b);
                turn(&mut a, &mut b);
                assert_eq!(a.recv(client, &mut buf, 0), Ok(64));
                a.close(client).unwrap();
                turn(&mut a, &mut b);
                assert_eq!(b.recv(server, &mut buf, 0), Ok(0));
                b.close(server).unwrap();
                turn(&mut a, &mut b);
                turn(&mut a, &mut b);
            })
        },
    );
}

/// What steering costs per frame: the software Toeplitz lookup alone, and a
/// frame through a pipe queue pair with and without the steering stage
/// handing it to another core (both cores' devices on this thread, so the
/// cache lines do not really move between CPUs).
fn steering(c: &mut Criterion) {
    use dpstack::buf::{BufPool, PacketBuf};
    use dpstack::device::pipe::{multi_queue_pipe, PipeConfig, PipeSpread};
    use dpstack::device::Device;
    use dpstack::steer::{steer_all, Destination, Steering, SteeringMode, DEFAULT_RETA_SIZE};

    let steering = Steering::new(2, DEFAULT_RETA_SIZE, SteeringMode::Software).unwrap();
    let frame = data_frame();
    c.bench_function("steering: a frame's core (software Toeplitz)", |bench| {
        bench.iter(|| steering.destination(black_box(&frame[..])))
    });
    // A 64-byte-payload frame of a flow that core 0 owns.
    let mut small = frame[..14 + 20 + 20 + 12 + 64].to_vec();
    let owner = |f: &[u8]| steering.destination(f);
    let mut port = 1000u16;
    while owner(&small) != Destination::Core(0) {
        port += 1;
        small[34..36].copy_from_slice(&port.to_be_bytes());
    }
    let pool = BufPool::with_defaults();
    // Sends one frame from side A's queue 0 and receives it on side B,
    // from queue `lands` of B's devices, then from core 0's.
    fn one_frame<D: Device<Buf = dpstack::buf::PoolBuf>>(
        a: &mut dpstack::device::pipe::PipeDevice,
        b: &mut [D],
        lands: usize,
        frame: &[u8],
        batch: &mut Vec<dpstack::buf::PoolBuf>,
        got: &mut Vec<dpstack::buf::PoolBuf>,
    ) {
        let mut buf = a.alloc_tx(frame.len()).unwrap();
        buf.data_mut().copy_from_slice(frame);
        batch.push(buf);
        a.transmit(Instant::ZERO, batch);
        if lands != 0 {
            b[lands].receive(Instant::ZERO, got, 32);
        }
        b[0].receive(Instant::ZERO, got, 32);
        black_box(got.len());
        got.clear();
    }
    let (mut batch, mut got) = (Vec::with_capacity(1), Vec::with_capacity(32));
    let (mut a, mut plain) =
        multi_queue_pipe(&PipeConfig::default(), &pool, 2, &PipeSpread::SameQueue);
    c.bench_function(
        "steering: frame through a pipe queue, no steering stage",
        |bench| bench.iter(|| one_frame(&mut a[0], &mut plain, 0, &small, &mut batch, &mut got)),
    );
    for (spread, lands, name) in [
        (
            PipeSpread::SameQueue,
            0,
            "steering: frame through a pipe queue, already on its core",
        ),
        (
            PipeSpread::NextQueue,
            1,
            "steering: frame through a pipe queue, handed to its core",
        ),
    ] {
        let (mut a, b) = multi_queue_pipe(&PipeConfig::default(), &pool, 2, &spread);
        let mut b = steer_all(b, &steering, 64);
        c.bench_function(name, |bench| {
            bench.iter(|| one_frame(&mut a[0], &mut b, lands, &small, &mut batch, &mut got))
        });
    }
}

criterion_group!(
    benches,
    frame_parse,
    checksum,
    tcp_input,
    timer_wheel,
    epoll,
    round_trip,
    connection_cycle,
    steering
);
criterion_main!(benches);
