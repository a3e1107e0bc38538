//! Bulk TCP on this machine: dpstack (two stacks over an in-memory pipe,
//! both ends in one thread) against the Linux kernel (a writer thread and
//! a reader thread over loopback). Each moves 1 GB one way in 64 KiB
//! writes; the figure is goodput per CPU-second (bytes divided by the
//! user+sys time of the whole process, both ends counted), next to the
//! wall-clock rate. Median of 5 interleaved runs.
//!
//! Run: `cargo bench --bench tcp_path`

mod common;

use common::{cpu_seconds, median};
use dpstack::device::pipe::PipeConfig;
use dpstack::runtime::{pipe_stacks, StackConfig};
use dpstack::tcp::{State, TcpError};
use dpstack::time::{Duration, ManualClock};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};

const BYTES: u64 = 1_000_000_000;
const RUNS: usize = 5;

/// (wall Gbit/s, Gbit per CPU-second).
fn measure(run: impl FnOnce()) -> (f64, f64) {
    let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
    run();
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let bits = BYTES as f64 * 8.0 / 1e9;
    (bits / wall, bits / cpu)
}

fn dpstack_bulk() {
    let clock = ManualClock::new();
    let (mut a, mut b) = pipe_stacks(
        StackConfig::seeded(Ipv4Addr::new(10, 9, 0, 1), 24, 1),
        StackConfig::seeded(Ipv4Addr::new(10, 9, 0, 2), 24, 2),
        clock.clone(),
        &PipeConfig {
            queue_len: 4096,
            ..PipeConfig::default()
        },
    );
    let listener = b.tcp_listen(5001, 4).unwrap();
    let client = a
        .tcp_connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 5001))
        .unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0u64, 0u64);
    let mut server = None;
    while received < BYTES {
        clock.advance(Duration::from_micros(1));
        a.poll();
        b.poll();
        if server.is_none() {
            server = b.tcp_accept(listener).ok().map(|(h, _)| h);
        }
        if a.tcp_state(client) == Ok(State::Established) {
            while sent < BYTES {
                let n = (BYTES - sent).min(chunk.len() as u64) as usize;
                match a.tcp_send(client, &chunk[..n]) {
                    Ok(k) => sent += k as u64,
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
        }
        if let Some(s) = server {
            while let Ok(n) = b.tcp_recv(s, &mut buf) {
                if n == 0 {
                    break;
                }
                received += n as u64;
            }
        }
    }
}

fn kernel_bulk() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        let chunk = vec![0x5au8; 64 * 1024];
        let mut sent = 0u64;
        while sent < BYTES {
            let n = (BYTES - sent).min(chunk.len() as u64) as usize;
            stream.write_all(&chunk[..n]).unwrap();
            sent += n as u64;
        }
    });
    let (mut stream, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    while received < BYTES {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "early end of stream");
        received += n as u64;
    }
    writer.join().unwrap();
}

fn main() {
    let (mut ours, mut kernel) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        ours.push(measure(dpstack_bulk));
        kernel.push(measure(kernel_bulk));
    }
    for (name, samples) in [
        ("dpstack, two stacks over pipe", &ours),
        ("Linux, loopback sockets", &kernel),
    ] {
        let (wall, lo, hi) = median(samples.iter().map(|s| s.0).collect());
        let (per_cpu, cpu_lo, cpu_hi) = median(samples.iter().map(|s| s.1).collect());
        println!(
            "{name:<30} {per_cpu:6.2} Gbit per CPU-second ({cpu_lo:.2}-{cpu_hi:.2}); wall {wall:6.2} Gbit/s ({lo:.2}-{hi:.2}); {RUNS} runs x 1 GB"
        );
    }
    let ratio = median(ours.iter().map(|s| s.1).collect()).0
        / median(kernel.iter().map(|s| s.1).collect()).0;
    println!("ratio dpstack / Linux, per CPU-second: {ratio:.3}");
}
