//! Cost of one 64-byte UDP datagram end to end on one core: dpstack (two
//! stacks over an in-memory pipe: send, poll both, receive) against the
//! Linux kernel (a sendto and a recvfrom over loopback, same thread). Both
//! move the datagram through a full IPv4/UDP send and receive path; the
//! kernel also pays two system calls. Median of 7 interleaved runs.
//!
//! Run: `cargo bench --bench udp_path`

mod common;

use common::median;
use dpstack::device::pipe::PipeConfig;
use dpstack::runtime::{pipe_stacks, StackConfig};
use dpstack::time::MonotonicClock;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

const DATAGRAMS: u64 = 300_000;
const RUNS: usize = 7;
const PAYLOAD: usize = 64;

fn dpstack_udp() -> f64 {
    let (mut a, mut b) = pipe_stacks(
        StackConfig::seeded(Ipv4Addr::new(10, 9, 0, 1), 24, 1),
        StackConfig::seeded(Ipv4Addr::new(10, 9, 0, 2), 24, 2),
        MonotonicClock::new(),
        &PipeConfig::default(),
    );
    let (sa, sb) = (a.udp_open(), b.udp_open());
    b.udp_bind(sb, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let to = Some(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 7));
    let payload = [0x5au8; PAYLOAD];
    let mut buf = [0u8; 2048];
    let start = std::time::Instant::now();
    for _ in 0..DATAGRAMS {
        a.udp_send_to(sa, &payload, to.map(Into::into)).unwrap();
        a.poll();
        b.poll();
        let (n, _) = b.udp_recv_from(sb, &mut buf).expect("datagram arrived");
        black_box(n);
    }
    start.elapsed().as_nanos() as f64 / DATAGRAMS as f64
}

fn kernel_udp() -> f64 {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.connect(receiver.local_addr().unwrap()).unwrap();
    let payload = [0x5au8; PAYLOAD];
    let mut buf = [0u8; 2048];
    let start = std::time::Instant::now();
    for _ in 0..DATAGRAMS {
        sender.send(&payload).unwrap();
        let (n, _) = receiver.recv_from(&mut buf).unwrap();
        black_box(n);
    }
    start.elapsed().as_nanos() as f64 / DATAGRAMS as f64
}

fn main() {
    let (mut ours, mut kernel) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        ours.push(dpstack_udp());
        kernel.push(kernel_udp());
    }
    for (name, samples) in [
        ("dpstack, two stacks over pipe", ours.clone()),
        ("Linux, loopback sockets", kernel.clone()),
    ] {
        let (m, lo, hi) = median(samples);
        println!("{name:<32} median {m:7.1} ns/datagram  (min {lo:.1}, max {hi:.1}, {RUNS} runs x {DATAGRAMS})");
    }
    println!(
        "ratio dpstack / Linux: {:.3}",
        median(ours).0 / median(kernel).0
    );
}
