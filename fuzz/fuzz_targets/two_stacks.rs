//! Two stacks over a link the fuzzer controls: socket calls on either side
//! (connect, accept, send, receive, shutdown, close, abort), clock steps,
//! and for every frame on the link its fate (delivered, lost, duplicated,
//! held back to arrive out of order, or one byte corrupted). Whatever the
//! sequence: no panic, memory and tables within their bounds, and every
//! byte either side reads is the byte the other wrote at that offset of
//! that connection (so nothing is lost, reordered or invented in a stream).
#![no_main]
use dpstack::iface::{Interface, Sockets};
use dpstack::tcp::TcpHandle;
use dpstack::time::{Duration, Instant};
use dpstack::wire::MacAddr;
use dpstack_fuzz::{interface, small_options, sockets, MAX_CONNECTIONS};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddrV4};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 2);
const A_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);
const B_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 2]);
const PORT: u16 = 80;
/// Frames held back for reordering, at most.
const MAX_HELD: usize = 64;
/// Connections each side keeps handles to, at most.
const MAX_OPEN: usize = 8;

/// The byte at `offset` of the stream a connection's client (identified by
/// its port) or server writes.
fn pattern(client_port: u16, from_client: bool, offset: u64) -> u8 {
    let x = offset
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(u64::from(client_port) << 1 | u64::from(from_client));
    (x ^ (x >> 13)) as u8
}

/// One end of a connection as the fuzz target tracks it.
struct End {
    handle: TcpHandle,
    client_port: u16,
    is_client: bool,
    written: u64,
    read: u64,
}

struct Side {
    iface: Interface,
    sockets: Sockets,
    ends: Vec<End>,
}

impl Side {
    fn new(mac: MacAddr, ip: Ipv4Addr, peer_ip: Ipv4Addr, peer_mac: MacAddr, seed: u64) -> Side {
        let mut iface = interface(mac, ip, seed);
        iface.arp_cache().insert_static(peer_ip, peer_mac);
        Side {
            iface,
            sockets: sockets(seed + 10),
            ends: Vec::new(),
        }
    }

    fn send(&mut self, pick: u8, len: usize) {
        let Some(end) = pick_end(&mut self.ends, pick) else {
            return;
        };
        let data: Vec<u8> = (0..len as u64)
            .map(|i| pattern(end.client_port, end.is_client, end.written + i))
            .collect();
        if let Ok(n) = self.sockets.tcp.send(end.handle, &data) {
            assert!(n <= len);
            end.written += n as u64;
        }
    }

    fn recv(&mut self, pick: u8) {
        let Some(end) = pick_end(&mut self.ends, pick) else {
            return;
        };
        let mut buf = [0u8; 4096];
        if let Ok(n) = self.sockets.tcp.recv(end.handle, &mut buf) {
            for (i, &byte) in buf[..n].iter().enumerate() {
                let offset = end.read + i as u64;
                assert_eq!(
                    byte,
                    pattern(end.client_port, !end.is_client, offset),
                    "byte {offset} of the stream"
                );
            }
            end.read += n as u64;
        }
    }

    fn finish(&mut self, now: Instant, pick: u8, how: u8) {
        if self.ends.is_empty() {
            return;
        }
        let index = usize::from(pick) % self.ends.len();
        let handle = self.ends[index].handle;
        match how % 3 {
            0 => {
                let _ = self.sockets.tcp.shutdown(now, handle);
            }
            1 => {
                let _ = self.sockets.tcp.close(now, handle);
                self.ends.swap_remove(index);
            }
            _ => {
                let _ = self.sockets.tcp.abort(now, handle);
                self.ends.swap_remove(index);
            }
        }
    }

    fn check_bounds(&self) {
        assert!(self.sockets.tcp.connection_count() <= MAX_CONNECTIONS);
        assert!(self.sockets.tcp.buffer_memory() <= 1 << 20);
        let (_, bytes) = self.iface.reassembly_load();
        assert!(bytes <= dpstack_fuzz::REASSEMBLY_BYTES);
    }
}

fn pick_end(ends: &mut [End], pick: u8) -> Option<&mut End> {
    if ends.is_empty() {
        return None;
    }
    let index = usize::from(pick) % ends.len();
    ends.get_mut(index)
}

/// Reads the fuzz input a byte at a time, zeros past its end.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut a = Side::new(A_MAC, A_IP, B_IP, B_MAC, 1);
    let mut b = Side::new(B_MAC, B_IP, A_IP, A_MAC, 2);
    let listener = b
        .sockets
        .tcp
        .listen(
            SocketAddrV4::new(B_IP, PORT),
            16,
            small_options(),
            B_IP,
            false,
        )
        .expect("listens");
    let mut now = Instant::ZERO;
    // Frames on the link, (to B?, bytes): sent and not yet delivered, and
    // held back to arrive later.
    let mut link: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut held: Vec<(bool, Vec<u8>)> = Vec::new();
    while !input.0.is_empty() {
        match input.next() % 10 {
            0 if a.ends.len() < MAX_OPEN => {
                let remote = SocketAddrV4::new(B_IP, PORT);
                if let Ok(handle) = a.sockets.tcp.connect(now, remote, 0, small_options(), A_IP) {
                    let port = a.sockets.tcp.local_addr(handle).expect("open").port();
                    a.ends.push(End {
                        handle,
                        client_port: port,
                        is_client: true,
                        written: 0,
                        read: 0,
                    });
                }
            }
            1 if b.ends.len() < MAX_OPEN => {
                if let Ok((handle, peer)) = b.sockets.tcp.accept(listener) {
                    b.ends.push(End {
                        handle,
                        client_port: peer.port(),
                        is_client: false,
                        written: 0,
                        read: 0,
                    });
                }
            }
            2 => {
                let (pick, len) = (input.next(), usize::from(input.next()) * 16);
                a.send(pick, len);
            }
            3 => {
                let (pick, len) = (input.next(), usize::from(input.next()) * 16);
                b.send(pick, len);
            }
            4 => a.recv(input.next()),
            5 => b.recv(input.next()),
            6 => {
                let (side, pick, how) = (input.next(), input.next(), input.next());
                if side & 1 == 0 {
                    a.finish(now, pick, how);
                } else {
                    b.finish(now, pick, how);
                }
            }
            7 => now += Duration::from_millis(u64::from(input.next()) * 10),
            _ => {
                // A link step: both sides run, every frame on the link
                // meets its fate; what the receivers answer at once waits
                // on the link for the next step.
                let mut out = Vec::new();
                a.iface.poll(now, &mut a.sockets, &mut out);
                link.extend(out.drain(..).map(|f| (true, f)));
                b.iface.poll(now, &mut b.sockets, &mut out);
                link.extend(out.drain(..).map(|f| (false, f)));
                let mut frames = std::mem::take(&mut link);
                if input.next() & 1 == 1 {
                    frames.append(&mut held);
                }
                for (to_b, mut frame) in frames {
                    let fate = input.next();
                    match fate % 8 {
                        0 => continue,
                        1 if held.len() < MAX_HELD => {
                            held.push((to_b, frame));
                            continue;
                        }
                        2 if !frame.is_empty() => {
                            let at = usize::from(input.next()) % frame.len();
                            frame[at] ^= input.next() | 1;
                        }
                        _ => {}
                    }
                    let copies = if fate % 8 == 3 { 2 } else { 1 };
                    let to = if to_b { &mut b } else { &mut a };
                    for _ in 0..copies {
                        to.iface.receive(now, &frame, &mut to.sockets, &mut out);
                    }
                    link.extend(out.drain(..).map(|f| (!to_b, f)));
                }
                // Bounded: a step's answers are at most a few per frame.
                link.truncate(4 * MAX_HELD);
            }
        }
        a.check_bounds();
        b.check_bounds();
    }
});
