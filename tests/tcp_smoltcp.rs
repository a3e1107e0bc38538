//! dpstack against smoltcp 0.14 over an in-memory link: smoltcp connects
//! to a dpstack listener and dpstack connects to a smoltcp listener; 10 MB
//! each way on each connection, then both close; every byte compared.

use dpstack::buf::{BufPool, PacketBuf};
use dpstack::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
use dpstack::device::Device;
use dpstack::runtime::{pattern_byte, Stack, StackConfig};
use dpstack::tcp::{State, TcpError, TcpHandle};
use dpstack::time::{Clock, Duration, ManualClock};
use dpstack::wire::Ipv4Cidr;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

const DP_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const SMOL_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
const SMOL_MAC: [u8; 6] = [0x02, 0x5e, 0, 0, 0, 2];
const TEN_MB: usize = 10_000_000;

/// smoltcp's side of the link: frames queued in memory, moved to and from
/// the pipe endpoint by the test loop.
#[derive(Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

struct RxToken(Vec<u8>);
struct TxToken<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        self.0.push_back(frame);
        r
    }
}

impl phy::Device for Queues {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(
        &mut self,
        _: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((RxToken(frame), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// Both stacks, the link between them, and one shared virtual clock.
struct World {
    clock: ManualClock,
    dp: Stack<PipeDevice, ManualClock>,
    wire: PipeDevice,
    smol: Interface,
    queues: Queues,
    sockets: SocketSet<'static>,
}

impl World {
    fn new() -> World {
        let pool = BufPool::with_defaults();
        let (ours, wire) = pipe_pair(
            &PipeConfig {
                queue_len: 4096,
                ..PipeConfig::default()
            },
            &pool,
        );
        let clock = ManualClock::new();
        let dp = Stack::new(
            ours,
            clock.clone(),
            StackConfig {
                seed: Some(5),
                ..StackConfig::new(Ipv4Cidr {
                    addr: DP_IP,
                    prefix_len: 24,
                })
            },
        );
        let mut queues = Queues::default();
        let config = Config::new(EthernetAddress(SMOL_MAC).into());
        let mut smol = Interface::new(config, &mut queues, smoltcp::time::Instant::from_micros(0));
        smol.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::Ipv4(SMOL_IP), 24))
                .unwrap();
        });
        World {
            clock,
            dp,
            wire,
            smol,
            queues,
            sockets: SocketSet::new(vec![]),
        }
    }

    fn smol_now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros((self.clock.now().as_nanos() / 1000) as i64)
    }

    /// One turn: dpstack polls, frames cross, smoltcp polls, frames cross.
    fn turn(&mut self) {
        self.clock.advance(Duration::from_micros(50));
        self.dp.poll();
        let mut frames = Vec::new();
        self.wire.receive(self.clock.now(), &mut frames, 256);
        self.queues
            .rx
            .extend(frames.iter().map(|f| f.data().to_vec()));
        let now = self.smol_now();
        self.smol.poll(now, &mut self.queues, &mut self.sockets);
        let mut out = Vec::new();
        while let Some(frame) = self.queues.tx.pop_front() {
            let mut buf = self.wire.alloc_tx(frame.len()).expect("pool has buffers");
            buf.data_mut().copy_from_slice(&frame);
            out.push(buf);
        }
        self.wire.transmit(self.clock.now(), &mut out);
    }

    fn smol_socket(&mut self) -> SocketHandle {
        let rx = tcp::SocketBuffer::new(vec![0; 256 * 1024]);
        let tx = tcp::SocketBuffer::new(vec![0; 256 * 1024]);
        self.sockets.add(tcp::Socket::new(rx, tx))
    }
}

/// Transfer progress of one direction.
#[derive(Default)]
struct Progress {
    sent: usize,
    received: usize,
    mismatches: usize,
}

fn chunk(from: usize, n: usize, salt: u64) -> Vec<u8> {
    (from..from + n)
        .map(|i| pattern_byte(i as u64 + salt))
        .collect()
}

/// 10 MB each way between the dpstack connection `dp` and the smoltcp
/// socket `smol`, then the dpstack side closes first and smoltcp after it.
fn exchange(world: &mut World, dp: TcpHandle, smol: SocketHandle) {
    let (mut to_smol, mut to_dp) = (Progress::default(), Progress::default());
    let mut buf = vec![0u8; 65536];
    let mut turns = 0;
    while to_smol.received < TEN_MB || to_dp.received < TEN_MB {
        turns += 1;
        assert!(
            turns < 2_000_000,
            "stalled: to smoltcp {} to dpstack {}",
            to_smol.received,
            to_dp.received
        );
        world.turn();
        // dpstack writes and reads.
        if to_smol.sent < TEN_MB {
            let n = (TEN_MB - to_smol.sent).min(32 * 1024);
            match world.dp.tcp_send(dp, &chunk(to_smol.sent, n, 1)) {
                Ok(k) => to_smol.sent += k,
                Err(TcpError::WouldBlock) => {}
                Err(e) => panic!("dpstack send: {e}"),
            }
        }
        loop {
            match world.dp.tcp_recv(dp, &mut buf) {
                Ok(0) | Err(TcpError::WouldBlock) => break,
                Ok(n) => {
                    to_dp.mismatches += usize::from(buf[..n] != chunk(to_dp.received, n, 2)[..]);
                    to_dp.received += n;
                }
                Err(e) => panic!("dpstack recv: {e}"),
            }
        }
        // smoltcp writes and reads.
        let socket = world.sockets.get_mut::<tcp::Socket>(smol);
        if socket.may_send() && to_dp.sent < TEN_MB {
            let n = (TEN_MB - to_dp.sent).min(32 * 1024);
            to_dp.sent += socket.send_slice(&chunk(to_dp.sent, n, 2)).unwrap();
        }
        while socket.can_recv() {
            let n = socket.recv_slice(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            to_smol.mismatches += usize::from(buf[..n] != chunk(to_smol.received, n, 1)[..]);
            to_smol.received += n;
        }
    }
    assert_eq!(
        (to_smol.mismatches, to_dp.mismatches),
        (0, 0),
        "byte-identical both ways"
    );
    // dpstack closes first; smoltcp sees the end of stream and closes too.
    world.dp.tcp_close(dp).unwrap();
    for _ in 0..100_000 {
        world.turn();
        let socket = world.sockets.get_mut::<tcp::Socket>(smol);
        if !socket.may_recv() && socket.state() == tcp::State::CloseWait {
            socket.close();
        }
        if socket.state() == tcp::State::Closed && world.dp.tcp().connection_count() <= 1 {
            break;
        }
    }
    let socket = world.sockets.get_mut::<tcp::Socket>(smol);
    assert_eq!(
        socket.state(),
        tcp::State::Closed,
        "smoltcp finished closing"
    );
    assert!(
        world.dp.tcp().connection_count() <= 1,
        "dpstack holds at most its TIME-WAIT"
    );
}

#[test]
fn smoltcp_connects_to_dpstack_and_both_transfer_10_mb() {
    let mut world = World::new();
    let listener = world.dp.tcp_listen(8080, 4).unwrap();
    let smol = world.smol_socket();
    let cx = world.smol.context();
    world
        .sockets
        .get_mut::<tcp::Socket>(smol)
        .connect(cx, (IpAddress::Ipv4(DP_IP), 8080), 49_152)
        .unwrap();
    let mut accepted = None;
    for _ in 0..10_000 {
        world.turn();
        if let Ok((h, from)) = world.dp.tcp_accept(listener) {
            assert_eq!(from, SocketAddrV4::new(SMOL_IP, 49_152).into());
            accepted = Some(h);
            break;
        }
    }
    let dp = accepted.expect("dpstack accepted smoltcp's connection");
    exchange(&mut world, dp, smol);
}

#[test]
fn dpstack_connects_to_smoltcp_and_both_transfer_10_mb() {
    let mut world = World::new();
    let smol = world.smol_socket();
    world
        .sockets
        .get_mut::<tcp::Socket>(smol)
        .listen(9090)
        .unwrap();
    let dp = world
        .dp
        .tcp_connect(SocketAddrV4::new(SMOL_IP, 9090))
        .unwrap();
    for _ in 0..10_000 {
        world.turn();
        if world.dp.tcp_state(dp) == Ok(State::Established) {
            break;
        }
    }
    assert_eq!(world.dp.tcp_state(dp), Ok(State::Established));
    exchange(&mut world, dp, smol);
}
