//! Zero-copy against copying, bulk TCP over `pipe`: one connection moves
//! 1 GB one way, both stacks turned by one thread (as the side-by-side
//! pipe contender runs). Copying: the sender `send`s from a 64 KiB buffer
//! of its own, the receiver `recv`s into one. Zero-copy: the sender
//! writes into the send buffer in place (`send_in_place`; a benchmark
//! sender has nothing to compute, so it writes nothing, as the copying
//! sender repeats one block), the receiver looks at the bytes in place
//! and releases them (`recv_in_place`, summing one byte per 4 KiB so the
//! data is touched). Work per CPU-second of the thread, interleaved,
//! median of 5, and the median of the five pairs' ratios.
//!
//! Run: `cargo bench --bench zero_copy`

mod common;

use common::{connected_pipe, median, thread_cpu_seconds};
use dpstack::socket::Errno;
use std::net::Ipv4Addr;

const BYTES: u64 = 1_000_000_000;
const RUNS: usize = 5;
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 13, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 13, 0, 2);

/// GB per CPU-second for one transfer.
fn transfer(zero_copy: bool) -> f64 {
    let (mut a, mut b, client, server) = connected_pipe(A_IP, B_IP, 5001);
    let block = vec![0x5au8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut received, mut touched) = (0u64, 0u64, 0u64);
    let cpu = thread_cpu_seconds();
    while received < BYTES {
        while sent < BYTES {
            let n = (BYTES - sent).min(block.len() as u64) as usize;
            let result = if zero_copy {
                a.send_in_place(client, n, |first, second| first.len() + second.len())
            } else {
                a.send(client, &block[..n], 0)
            };
            match result {
                Ok(k) => sent += k as u64,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        a.poll();
        b.poll();
        loop {
            let result = if zero_copy {
                b.recv_in_place(server, |first, second| {
                    for part in [first, second] {
                        touched += part
                            .iter()
                            .step_by(4096)
                            .map(|&x| u64::from(x))
                            .sum::<u64>();
                    }
                    first.len() + second.len()
                })
            } else {
                let result = b.recv(server, &mut buf, 0);
                if let Ok(n) = result {
                    touched += buf[..n]
                        .iter()
                        .step_by(4096)
                        .map(|&x| u64::from(x))
                        .sum::<u64>();
                }
                result
            };
            match result {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => received += n as u64,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
    let used = thread_cpu_seconds() - cpu;
    std::hint::black_box(touched);
    BYTES as f64 / 1e9 / used
}

fn main() {
    let (mut copying, mut in_place) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        copying.push(transfer(false));
        in_place.push(transfer(true));
        eprintln!(
            "run {}: copying {:.2}, zero-copy {:.2} GB per CPU-s",
            run + 1,
            copying[run],
            in_place[run]
        );
    }
    // The ratio of each interleaved pair: the guest's speed drifts over a
    // run, and a ratio of the two medians would mix pairs run at
    // different speeds.
    let ratios: Vec<f64> = in_place.iter().zip(&copying).map(|(z, c)| z / c).collect();
    let (c, c_lo, c_hi) = median(copying);
    let (z, z_lo, z_hi) = median(in_place);
    let (r, r_lo, r_hi) = median(ratios);
    println!("bulk over pipe, 1 GB, one thread, median of {RUNS}:");
    println!("copying    {c:.2} GB per CPU-s ({c_lo:.2}-{c_hi:.2})");
    println!("zero-copy  {z:.2} GB per CPU-s ({z_lo:.2}-{z_hi:.2})");
    println!("zero-copy / copying, per pair: {r:.2}x ({r_lo:.2}-{r_hi:.2})");
}
