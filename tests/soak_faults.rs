//! Soak under faults: 10,000 connections between two stacks over a pipe
//! whose A side loses 5% of frames each way, reorders 5% and duplicates
//! 1%, 256 at a time, each moving 50,000 bytes each way (1 GB in all),
//! every byte checked against its connection's pattern at its offset.
//! Afterwards both stacks hold no connection, no buffer memory and no
//! packet buffer: memory is back to its baseline. The link time is
//! simulated (a manual clock jumping to the next deadline when idle).

use dpstack::buf::BufPool;
use dpstack::device::fault::{FaultConfig, FaultDevice, FaultProfile};
use dpstack::device::pipe::{pipe_pair, PipeConfig};
use dpstack::device::Device;
use dpstack::runtime::{Stack, StackConfig};
use dpstack::tcp::{State, TcpError, TcpHandle};
use dpstack::time::{Clock, Duration, ManualClock};
use std::net::{Ipv4Addr, SocketAddrV4};

const A_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 61, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 61, 2);
const PORT: u16 = 5001;
const CONNECTIONS: usize = 10_000;
const CONCURRENT: usize = 256;
/// Bytes each way per connection: 10,000 x 2 x 50,000 = 1 GB.
const EACH_WAY: u64 = 50_000;

/// The byte at `offset` of the stream the client (`from_client`) or the
/// server of the connection whose client port is `port` writes.
fn pattern(port: u16, from_client: bool, offset: u64) -> u8 {
    let x = offset
        .wrapping_add(u64::from(port) << 20)
        .wrapping_add(u64::from(from_client) << 40)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 56) as u8
}

/// One end of a connection.
struct End {
    handle: TcpHandle,
    port: u16,
    client: bool,
    sent: u64,
    received: u64,
    shut: bool,
    eof: bool,
}

impl End {
    fn new(handle: TcpHandle, port: u16, client: bool) -> End {
        End {
            handle,
            port,
            client,
            sent: 0,
            received: 0,
            shut: false,
            eof: false,
        }
    }

    /// Sends what fits, reads and checks what arrived, shuts down once
    /// everything is written. True once the peer's stream ended after
    /// all of it arrived.
    fn run<D: Device, C: Clock>(&mut self, stack: &mut Stack<D, C>, buf: &mut [u8]) -> bool {
        match stack.tcp_state(self.handle) {
            Ok(State::SynSent | State::SynReceived) => return false,
            Ok(_) => {}
            Err(e) => panic!("connection of port {}: {e}", self.port),
        }
        while self.sent < EACH_WAY {
            let n = (EACH_WAY - self.sent).min(16_384);
            let chunk: Vec<u8> = (self.sent..self.sent + n)
                .map(|i| pattern(self.port, self.client, i))
                .collect();
            match stack.tcp_send(self.handle, &chunk) {
                Ok(k) => {
                    self.sent += k as u64;
                    if (k as u64) < n {
                        break;
                    }
                }
                Err(TcpError::WouldBlock) => break,
                Err(e) => panic!("send on port {}: {e}", self.port),
            }
        }
        if self.sent == EACH_WAY && !self.shut {
            stack.tcp_shutdown(self.handle).expect("shutdown");
            self.shut = true;
        }
        loop {
            match stack.tcp_recv(self.handle, buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    for (i, &byte) in buf[..n].iter().enumerate() {
                        let offset = self.received + i as u64;
                        assert_eq!(
                            byte,
                            pattern(self.port, !self.client, offset),
                            "port {} {}: byte {offset}",
                            self.port,
                            if self.client { "client" } else { "server" }
                        );
                    }
                    self.received += n as u64;
                }
                Err(TcpError::WouldBlock) => break,
                Err(e) => panic!("recv on port {}: {e}", self.port),
            }
        }
        self.eof && self.shut
    }
}

fn faults() -> FaultProfile {
    FaultProfile {
        loss: 0.05,
        reorder: 0.05,
        duplicate: 0.01,
        ..FaultProfile::default()
    }
}

#[test]
fn ten_thousand_connections_move_a_gigabyte_through_loss_reordering_and_duplicates() {
    let pool = BufPool::with_defaults();
    let (pa, pb) = pipe_pair(
        &PipeConfig {
            queue_len: 8192,
            ..PipeConfig::default()
        },
        &pool,
    );
    let pa = FaultDevice::new(
        pa,
        FaultConfig {
            seed: 61,
            tx: faults(),
            rx: faults(),
        },
    )
    .unwrap();
    let clock = ManualClock::new();
    let mut a = Stack::new(pa, clock.clone(), StackConfig::seeded(A_IP, 24, 61));
    let mut b = Stack::new(pb, clock.clone(), StackConfig::seeded(B_IP, 24, 62));
    let (a_mac, b_mac) = (a.device().capabilities().mac, b.device().capabilities().mac);
    a.interface().arp_cache().insert_static(B_IP, b_mac);
    b.interface().arp_cache().insert_static(A_IP, a_mac);
    let listener = b.tcp_listen(PORT, 1024).unwrap();

    let started = std::time::Instant::now();
    let (mut opened, mut clients_done, mut servers_done) = (0usize, 0usize, 0usize);
    let (mut clients, mut servers): (Vec<End>, Vec<End>) = (Vec::new(), Vec::new());
    let (mut peak_memory, mut peak_connections) = (0usize, 0usize);
    let mut buf = vec![0u8; 65_536];
    let start = clock.now();
    while clients_done < CONNECTIONS || servers_done < CONNECTIONS {
        assert!(
            clock.now().saturating_duration_since(start) < Duration::from_secs(36_000),
            "stalled: {clients_done} clients and {servers_done} servers done"
        );
        while clients.len() < CONCURRENT && opened < CONNECTIONS {
            let handle = a.tcp_connect(SocketAddrV4::new(B_IP, PORT)).unwrap();
            let port = a.tcp().local_addr(handle).unwrap().port();
            clients.push(End::new(handle, port, true));
            opened += 1;
        }
        let busy = a.poll() | b.poll();
        while let Ok((handle, peer)) = b.tcp_accept(listener) {
            servers.push(End::new(handle, peer.port(), false));
        }
        clients.retain_mut(|end| {
            let done = end.run(&mut a, &mut buf);
            if done {
                assert_eq!(end.received, EACH_WAY, "port {}", end.port);
                a.tcp_close(end.handle).unwrap();
                clients_done += 1;
            }
            !done
        });
        servers.retain_mut(|end| {
            let done = end.run(&mut b, &mut buf);
            if done {
                assert_eq!(end.received, EACH_WAY, "port {}", end.port);
                b.tcp_close(end.handle).unwrap();
                servers_done += 1;
            }
            !done
        });
        peak_memory = peak_memory.max(a.tcp().buffer_memory() + b.tcp().buffer_memory());
        peak_connections =
            peak_connections.max(a.tcp().connection_count() + b.tcp().connection_count());
        if busy {
            clock.advance(Duration::from_micros(5));
        } else {
            let next = [a.poll_at(), b.poll_at()].into_iter().flatten().min();
            match next {
                Some(t) if t > clock.now() => clock.set(t),
                _ => clock.advance(Duration::from_micros(5)),
            }
        }
    }
    let virtual_secs = clock.now().saturating_duration_since(start).as_secs_f64();
    // Let the last FINs and ACKs settle and TIME-WAIT run out.
    for _ in 0..200 {
        a.poll();
        b.poll();
        clock.advance(Duration::from_secs(1));
    }
    a.poll();
    b.poll();
    let (ta, tb) = (a.stats().tcp, b.stats().tcp);
    let faults = a.device().tx_fault_stats();
    let rx_faults = a.device().rx_fault_stats();
    println!(
        "soak: {CONNECTIONS} connections, {:.1} GB checked byte by byte in {:.1} s \
         ({virtual_secs:.1} s of link time); frames lost {}, reordered {}, duplicated {}; \
         retransmits {} + {} (timeouts {} + {}); peak {peak_connections} connections and \
         {} KiB of socket buffers; after: {} + {} connections, {} + {} bytes of buffers, \
         {} packet buffers in use",
        (2 * CONNECTIONS as u64 * EACH_WAY) as f64 / 1e9,
        started.elapsed().as_secs_f64(),
        faults.lost + rx_faults.lost,
        faults.reordered + rx_faults.reordered,
        faults.duplicated + rx_faults.duplicated,
        ta.tx_retransmits,
        tb.tx_retransmits,
        ta.rto_expirations,
        tb.rto_expirations,
        peak_memory / 1024,
        a.tcp().connection_count(),
        b.tcp().connection_count(),
        a.tcp().buffer_memory(),
        b.tcp().buffer_memory(),
        pool.stats().in_use,
    );
    assert!(
        faults.lost + rx_faults.lost > 10_000,
        "the fault layer dropped frames"
    );
    assert!(faults.reordered + rx_faults.reordered > 10_000);
    assert!(faults.duplicated + rx_faults.duplicated > 1_000);
    assert_eq!(a.tcp().connection_count(), 0, "TIME-WAIT ran out");
    assert_eq!(b.tcp().connection_count(), 0);
    assert_eq!(a.tcp().buffer_memory() + b.tcp().buffer_memory(), 0);
    assert_eq!(pool.stats().in_use, 0, "every packet buffer back");
}
