//! Socket and epoll semantics, two stacks over a pipe with a manual clock.
//! Each expectation is what Linux does (the errno cases were checked
//! against the kernel with Python's socket module on this machine).

use super::*;
use crate::device::pipe::{PipeConfig, PipeDevice};
use crate::epoll::*;
use crate::runtime::{pipe_stacks, Stack, StackConfig};
use crate::time::{Clock, Duration, ManualClock};
use std::net::SocketAddrV4;

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 8, 0, 2);
const PORT: u16 = 7000;

type Host = Stack<PipeDevice, ManualClock>;

struct World {
    a: Host,
    b: Host,
    clock: ManualClock,
}

impl World {
    fn new() -> World {
        let clock = ManualClock::new();
        let (a, b) = pipe_stacks(
            StackConfig::seeded(A_IP, 24, 1),
            StackConfig::seeded(B_IP, 24, 2),
            clock.clone(),
            &PipeConfig::default(),
        );
        World { a, b, clock }
    }

    /// Lets both stacks run for a while (100 turns, 10 µs each).
    fn pump(&mut self) {
        for _ in 0..100 {
            self.clock.advance(Duration::from_micros(10));
            self.a.poll();
            self.b.poll();
        }
    }

    /// A listener on B, a connected client on A, and B's accepted socket.
    fn connected(&mut self) -> (Fd, Fd, Fd) {
        let listener = self.b.socket(SockType::Stream).unwrap();
        self.b
            .bind(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))
            .unwrap();
        self.b.listen(listener, 16).unwrap();
        let client = self.a.socket(SockType::Stream).unwrap();
        assert_eq!(
            self.a.connect(client, SocketAddrV4::new(B_IP, PORT)),
            Err(Errno::EINPROGRESS)
        );
        self.pump();
        let (server, peer) = self.b.accept(listener).unwrap();
        assert_eq!(peer, self.a.getsockname(client).unwrap());
        (client, server, listener)
    }
}

/// Events ready on `epfd` now (one poll turn, no waiting).
fn ready(host: &mut Host, epfd: Fd) -> Vec<(u32, u64)> {
    let mut out = [EpollEvent::default(); 64];
    let n = host
        .epoll_wait(epfd, &mut out, Some(Duration::ZERO))
        .unwrap();
    out[..n].iter().map(|e| (e.events, e.data)).collect()
}

/// Advances the clock 10 ms at a time (up to 10 s, polling only `host`)
/// until `epfd` reports an event; how long that took.
fn first_event_after(host: &mut Host, clock: &ManualClock, epfd: Fd) -> Option<Duration> {
    let start = clock.now();
    for _ in 0..1000 {
        clock.advance(Duration::from_millis(10));
        if !ready(host, epfd).is_empty() {
            return Some(clock.now().saturating_duration_since(start));
        }
    }
    None
}

fn watch(host: &mut Host, epfd: Fd, fd: Fd, events: u32) {
    host.epoll_ctl(
        epfd,
        CtlOp::Add,
        fd,
        EpollEvent {
            events,
            data: fd as u64,
        },
    )
    .unwrap();
}

#[test]
fn level_triggered_reports_again_while_data_remains() {
    let mut w = World::new();
    let (client, server, _) = w.connected();
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, server, EPOLLIN);
    assert_eq!(ready(&mut w.b, ep), vec![]);
    w.a.send(client, &[1u8; 100], 0).unwrap();
    w.pump();
    assert_eq!(ready(&mut w.b, ep), vec![(EPOLLIN, server as u64)]);
    let mut buf = [0u8; 10];
    assert_eq!(w.b.recv(server, &mut buf, 0), Ok(10));
    assert_eq!(
        ready(&mut w.b, ep),
        vec![(EPOLLIN, server as u64)],
        "90 bytes left"
    );
    let mut rest = [0u8; 200];
    assert_eq!(w.b.recv(server, &mut rest, 0), Ok(90));
    assert_eq!(ready(&mut w.b, ep), vec![], "drained");
}

#[test]
fn a_closed_connection_never_wakes_the_descriptor_reusing_its_number() {
    let mut w = World::new();
    let (client, server, _) = w.connected();
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, server, EPOLLIN | EPOLLET);
    w.b.close(server).unwrap();
    let reused = w.b.socket(SockType::Stream).unwrap();
    assert_eq!(reused, server, "the lowest free number");
    watch(&mut w.b, ep, reused, EPOLLIN | EPOLLOUT | EPOLLET);
    assert_eq!(
        ready(&mut w.b, ep),
        vec![(EPOLLOUT | EPOLLHUP, reused as u64)],
        "a fresh socket, reported once"
    );
    // The orphan goes on (the client's ACK of its FIN, then the client's
    // FIN): none of it is the new socket's.
    w.pump();
    assert_eq!(ready(&mut w.b, ep), vec![]);
    w.a.close(client).unwrap();
    w.pump();
    assert_eq!(ready(&mut w.b, ep), vec![]);
}

#[test]
fn edge_triggered_reports_once_per_arrival() {
    let mut w = World::new();
    let (client, server, _) = w.connected();
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, server, EPOLLIN | EPOLLET);
    w.a.send(client, &[1u8; 100], 0).unwrap();
    w.pump();
    assert_eq!(ready(&mut w.b, ep), vec![(EPOLLIN, server as u64)]);
    let mut buf = [0u8; 10];
    w.b.recv(server, &mut buf, 0).unwrap();
    assert_eq!(ready(&mut w.b, ep), vec![], "partial read: no new edge");
    // Nagle would hold a small write until the first is acknowledged.
    w.a.setsockopt(client, SockOpt::NoDelay(true)).unwrap();
    w.a.send(client, &[2u8; 5], 0).unwrap();
    w.pump();
    assert_eq!(
        ready(&mut w.b, ep),
        vec![(EPOLLIN, server as u64)],
        "new data re-arms"
    );
    // Read until EAGAIN, as an ET reader must.
    let mut big = [0u8; 1000];
    let mut total = 10;
    loop {
        match w.b.recv(server, &mut big, MSG_DONTWAIT) {
            Ok(n) => total += n,
            Err(Errno::EAGAIN) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(total, 105);
    assert_eq!(ready(&mut w.b, ep), vec![]);
}

#[test]
fn oneshot_fires_once_until_mod() {
    let mut w = World::new();
    let (client, server, _) = w.connected();
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, server, EPOLLIN | EPOLLONESHOT);
    w.a.send(client, b"one", 0).unwrap();
    w.pump();
    assert_eq!(ready(&mut w.b, ep).len(), 1);
    w.a.send(client, b"two", 0).unwrap();
    w.pump();
    assert_eq!(ready(&mut w.b, ep), vec![], "disabled after firing");
    let event = EpollEvent {
        events: EPOLLIN | EPOLLONESHOT,
        data: 99,
    };
    w.b.epoll_ctl(ep, CtlOp::Mod, server, event).unwrap();
    assert_eq!(
        ready(&mut w.b, ep),
        vec![(EPOLLIN, 99)],
        "MOD re-arms, data still there"
    );
}

#[test]
fn epollout_comes_back_when_the_send_buffer_drains() {
    let mut w = World::new();
    let listener = w.b.socket(SockType::Stream).unwrap();
    w.b.bind(listener, SocketAddrV4::new(B_IP, PORT)).unwrap();
    w.b.listen(listener, 4).unwrap();
    let client = w.a.socket(SockType::Stream).unwrap();
    w.a.setsockopt(client, SockOpt::SndBuf(8192)).unwrap();
    let _ = w.a.connect(client, SocketAddrV4::new(B_IP, PORT));
    w.pump();
    let (server, _) = w.b.accept(listener).unwrap();
    let ep = w.a.epoll_create().unwrap();
    watch(&mut w.a, ep, client, EPOLLOUT | EPOLLET);
    assert_eq!(ready(&mut w.a, ep), vec![(EPOLLOUT, client as u64)]);
    // The peer does not read: its window fills, then our send buffer.
    let mut sent = 0;
    for _ in 0..1000 {
        match w.a.send(client, &[7u8; 4096], 0) {
            Ok(n) => sent += n,
            Err(Errno::EAGAIN) => {
                w.pump();
                if w.a.send(client, &[7u8; 1], 0) == Err(Errno::EAGAIN) {
                    break;
                }
                sent += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    ready(&mut w.a, ep);
    assert_eq!(ready(&mut w.a, ep), vec![], "full: not writable");
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < sent {
        w.pump();
        match w.b.recv(server, &mut buf, 0) {
            Ok(n) => got += n,
            Err(Errno::EAGAIN) => {}
            Err(e) => panic!("{e}"),
        }
        if !ready(&mut w.a, ep).is_empty() {
            return;
        }
    }
    panic!("EPOLLOUT never came back");
}

#[test]
fn peer_fin_is_epollrdhup_and_rst_is_hup_and_err() {
    let mut w = World::new();
    let (client, server, _) = w.connected();
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, server, EPOLLIN | EPOLLRDHUP | EPOLLET);
    w.a.shutdown(client, Shutdown::Write).unwrap();
    w.pump();
    assert_eq!(
        ready(&mut w.b, ep),
        vec![(EPOLLIN | EPOLLRDHUP, server as u64)]
    );
    assert_eq!(w.b.recv(server, &mut [0u8; 8], 0), Ok(0));

    let (client, server, _) = {
        let mut w2 = World::new();
        let fds = w2.connected();
        w = w2;
        fds
    };
    let ep = w.b.epoll_create().unwrap();
    watch(
        &mut w.b,
        ep,
        server,
        EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
    );
    ready(&mut w.b, ep);
    w.a.setsockopt(client, SockOpt::Linger(Some(0))).unwrap();
    w.a.close(client).unwrap();
    w.pump();
    assert_eq!(
        ready(&mut w.b, ep),
        vec![(
            EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP | EPOLLERR,
            server as u64
        )]
    );
    assert_eq!(
        w.b.getsockopt(server, SockOptName::Error),
        Ok(Errno::ECONNRESET.code() as i64)
    );
    assert_eq!(
        w.b.getsockopt(server, SockOptName::Error),
        Ok(0),
        "taken once"
    );
}

#[test]
fn listener_reports_every_pending_connection() {
    let mut w = World::new();
    let listener = w.b.socket(SockType::Stream).unwrap();
    w.b.bind(listener, SocketAddrV4::new(B_IP, PORT)).unwrap();
    w.b.listen(listener, 16).unwrap();
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, listener, EPOLLIN | EPOLLET);
    for _ in 0..3 {
        let c = w.a.socket(SockType::Stream).unwrap();
        let _ = w.a.connect(c, SocketAddrV4::new(B_IP, PORT));
    }
    w.pump();
    assert_eq!(ready(&mut w.b, ep), vec![(EPOLLIN, listener as u64)]);
    let mut accepted = 0;
    while w.b.accept(listener).is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 3, "one wake-up, every connection accepted");
    assert_eq!(w.b.accept(listener), Err(Errno::EAGAIN));
}

#[test]
fn nonblocking_connect_completes_as_writable_or_fails_in_so_error() {
    let mut w = World::new();
    let listener = w.b.socket(SockType::Stream).unwrap();
    w.b.bind(listener, SocketAddrV4::new(B_IP, PORT)).unwrap();
    w.b.listen(listener, 4).unwrap();
    let good = w.a.socket(SockType::Stream).unwrap();
    let refused = w.a.socket(SockType::Stream).unwrap();
    let ep = w.a.epoll_create().unwrap();
    assert_eq!(
        w.a.connect(good, SocketAddrV4::new(B_IP, PORT)),
        Err(Errno::EINPROGRESS)
    );
    assert_eq!(
        w.a.connect(good, SocketAddrV4::new(B_IP, PORT)),
        Err(Errno::EALREADY)
    );
    assert_eq!(
        w.a.connect(refused, SocketAddrV4::new(B_IP, PORT + 1)),
        Err(Errno::EINPROGRESS)
    );
    watch(&mut w.a, ep, good, EPOLLOUT);
    watch(&mut w.a, ep, refused, EPOLLOUT);
    w.pump();
    let mut events = ready(&mut w.a, ep);
    events.sort_by_key(|e| e.1);
    assert_eq!(
        events,
        vec![
            (EPOLLOUT, good as u64),
            // Only OUT was asked for; HUP and ERR always come.
            (EPOLLOUT | EPOLLHUP | EPOLLERR, refused as u64)
        ]
    );
    assert_eq!(w.a.getsockopt(good, SockOptName::Error), Ok(0));
    assert_eq!(
        w.a.connect(good, SocketAddrV4::new(B_IP, PORT)),
        Ok(()),
        "reported once"
    );
    assert_eq!(
        w.a.connect(good, SocketAddrV4::new(B_IP, PORT)),
        Err(Errno::EISCONN)
    );
    assert_eq!(
        w.a.getsockopt(refused, SockOptName::Error),
        Ok(Errno::ECONNREFUSED.code() as i64)
    );
}

#[test]
fn misuse_gets_the_errno_linux_gives() {
    let mut w = World::new();
    let (client, server, listener) = w.connected();
    let mut buf = [0u8; 4];
    assert_eq!(
        w.b.listen(listener, 8),
        Ok(()),
        "listen twice: the backlog changes"
    );
    assert_eq!(
        w.b.connect(listener, SocketAddrV4::new(A_IP, 1)),
        Err(Errno::EISCONN)
    );
    assert_eq!(w.b.send(listener, b"x", 0), Err(Errno::EPIPE));
    assert_eq!(w.b.recv(listener, &mut buf, 0), Err(Errno::ENOTCONN));
    assert_eq!(w.b.accept(server), Err(Errno::EINVAL));
    let fresh = w.b.socket(SockType::Stream).unwrap();
    assert_eq!(w.b.send(fresh, b"x", 0), Err(Errno::EPIPE));
    assert_eq!(w.b.recv(fresh, &mut buf, 0), Err(Errno::ENOTCONN));
    assert_eq!(w.b.getpeername(fresh), Err(Errno::ENOTCONN));
    assert_eq!(w.b.shutdown(fresh, Shutdown::Read), Err(Errno::ENOTCONN));
    assert_eq!(w.b.accept(fresh), Err(Errno::EINVAL));
    w.a.shutdown(client, Shutdown::Write).unwrap();
    assert_eq!(w.a.send(client, b"x", 0), Err(Errno::EPIPE));
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, server, EPOLLIN);
    assert_eq!(
        w.b.epoll_ctl(ep, CtlOp::Add, server, EpollEvent::default()),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        w.b.epoll_ctl(ep, CtlOp::Mod, fresh, EpollEvent::default()),
        Err(Errno::ENOENT)
    );
    assert_eq!(w.b.recv(ep, &mut buf, 0), Err(Errno::ENOTSOCK));
    assert_eq!(
        w.b.epoll_ctl(server, CtlOp::Add, fresh, EpollEvent::default()),
        Err(Errno::EINVAL),
        "not an epoll"
    );
    // Closing a socket removes it from every interest set; its number is reused lowest-first.
    w.b.close(server).unwrap();
    assert_eq!(w.b.recv(server, &mut buf, 0), Err(Errno::EBADF));
    assert_eq!(w.b.close(server), Err(Errno::EBADF));
    assert_eq!(
        w.b.epoll_ctl(ep, CtlOp::Del, server, EpollEvent::default()),
        Err(Errno::EBADF)
    );
    let again = w.b.socket(SockType::Dgram).unwrap();
    assert_eq!(again, server, "the lowest free descriptor");
    assert_eq!(
        w.b.epoll_ctl(ep, CtlOp::Del, again, EpollEvent::default()),
        Err(Errno::ENOENT),
        "the old watch went with the close"
    );
    assert_eq!(w.b.recv(-1, &mut buf, 0), Err(Errno::EBADF));
}

#[test]
fn udp_through_descriptors_with_peek() {
    let mut w = World::new();
    let rx = w.b.socket(SockType::Dgram).unwrap();
    w.b.bind(rx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9))
        .unwrap();
    let tx = w.a.socket(SockType::Dgram).unwrap();
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, rx, EPOLLIN | EPOLLET);
    assert_eq!(w.a.send(tx, b"x", 0), Err(Errno::EDESTADDRREQ));
    w.a.send_to(tx, b"datagram", Some(SocketAddrV4::new(B_IP, 9).into()))
        .unwrap();
    w.pump();
    assert_eq!(ready(&mut w.b, ep), vec![(EPOLLIN, rx as u64)]);
    let mut buf = [0u8; 32];
    let (n, from) = w.b.recv_from(rx, &mut buf, MSG_PEEK).unwrap();
    assert_eq!(
        (&buf[..n], from.unwrap().ip()),
        (&b"datagram"[..], IpAddr::from(A_IP))
    );
    assert_eq!(w.b.recv(rx, &mut buf, 0), Ok(8), "peek left it");
    assert_eq!(w.b.recv(rx, &mut buf, 0), Err(Errno::EAGAIN));
}

#[test]
fn so_keepalive_detects_a_vanished_peer() {
    let mut w = World::new();
    let (client, _server, _) = w.connected();
    w.a.setsockopt(client, SockOpt::KeepIdle(2)).unwrap();
    w.a.setsockopt(client, SockOpt::KeepIntvl(1)).unwrap();
    w.a.setsockopt(client, SockOpt::KeepCnt(2)).unwrap();
    w.a.setsockopt(client, SockOpt::KeepAlive(true)).unwrap();
    assert_eq!(w.a.getsockopt(client, SockOptName::KeepIdle), Ok(2));
    assert_eq!(w.a.getsockopt(client, SockOptName::KeepAlive), Ok(1));
    assert_eq!(
        w.a.setsockopt(client, SockOpt::KeepCnt(0)),
        Err(Errno::EINVAL)
    );
    let ep = w.a.epoll_create().unwrap();
    watch(&mut w.a, ep, client, EPOLLIN | EPOLLET);
    // The peer vanishes: B is never polled again.
    let failed_at = first_event_after(&mut w.a, &w.clock, ep).expect("keepalive gave up");
    assert!(
        failed_at >= Duration::from_secs(4) && failed_at <= Duration::from_millis(4_020),
        "idle 2 s + 2 probes x 1 s: {failed_at:?}"
    );
    assert_eq!(
        w.a.getsockopt(client, SockOptName::Error),
        Ok(Errno::ETIMEDOUT.code() as i64)
    );
}

#[test]
fn options_set_on_a_listener_after_listen_reach_accepted_connections() {
    use crate::tcp::congestion::Algorithm;
    let mut w = World::new();
    let listener = w.b.socket(SockType::Stream).unwrap();
    w.b.bind(listener, SocketAddrV4::new(B_IP, PORT)).unwrap();
    w.b.listen(listener, 4).unwrap();
    for option in [
        SockOpt::KeepIdle(2),
        SockOpt::KeepIntvl(1),
        SockOpt::KeepCnt(2),
        SockOpt::KeepAlive(true),
        SockOpt::Congestion(Algorithm::Cubic),
    ] {
        w.b.setsockopt(listener, option).unwrap();
    }
    let client = w.a.socket(SockType::Stream).unwrap();
    let _ = w.a.connect(client, SocketAddrV4::new(B_IP, PORT));
    w.pump();
    let (server, _) = w.b.accept(listener).unwrap();
    assert_eq!(w.b.congestion(server), Ok(Algorithm::Cubic));
    assert_eq!(w.b.getsockopt(server, SockOptName::KeepAlive), Ok(1));
    // The client vanishes (A is never polled again): the accepted side's
    // keepalive, set on the listener after listen, gives up.
    let ep = w.b.epoll_create().unwrap();
    watch(&mut w.b, ep, server, EPOLLIN | EPOLLET);
    let failed_at = first_event_after(&mut w.b, &w.clock, ep).expect("keepalive gave up");
    assert!(
        failed_at <= Duration::from_millis(4_020),
        "idle 2 s + 2 probes x 1 s: {failed_at:?}"
    );
    assert_eq!(
        w.b.getsockopt(server, SockOptName::Error),
        Ok(Errno::ETIMEDOUT.code() as i64)
    );
}

#[test]
fn tcp_congestion_is_chosen_per_socket() {
    use crate::tcp::congestion::Algorithm;
    let mut w = World::new();
    let listener = w.b.socket(SockType::Stream).unwrap();
    w.b.bind(listener, SocketAddrV4::new(B_IP, PORT)).unwrap();
    w.b.setsockopt(listener, SockOpt::Congestion(Algorithm::Cubic))
        .unwrap();
    w.b.listen(listener, 4).unwrap();
    let client = w.a.socket(SockType::Stream).unwrap();
    assert_eq!(
        w.a.congestion(client),
        Ok(Algorithm::NewReno),
        "the stack's default"
    );
    let _ = w.a.connect(client, SocketAddrV4::new(B_IP, PORT));
    w.a.setsockopt(client, SockOpt::Congestion(Algorithm::Cubic))
        .unwrap();
    w.pump();
    let (server, _) = w.b.accept(listener).unwrap();
    assert_eq!(
        w.b.congestion(server),
        Ok(Algorithm::Cubic),
        "inherited from the listener"
    );
    assert_eq!(w.a.congestion(client), Ok(Algorithm::Cubic));
    let udp = w.a.socket(SockType::Dgram).unwrap();
    assert_eq!(
        w.a.setsockopt(udp, SockOpt::Congestion(Algorithm::Cubic)),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(Algorithm::from_name("cubic"), Some(Algorithm::Cubic));
    assert_eq!(Algorithm::from_name("bbr"), None);
}

#[test]
fn descriptors_past_the_limit_get_emfile_until_one_closes() {
    let config = StackConfig {
        max_fds: 3,
        ..StackConfig::seeded(A_IP, 24, 1)
    };
    let (mut a, _b) = pipe_stacks(
        config,
        StackConfig::seeded(B_IP, 24, 2),
        ManualClock::new(),
        &PipeConfig::default(),
    );
    let tcp = a.socket(SockType::Stream).unwrap();
    let _udp = a.socket(SockType::Dgram).unwrap();
    let _epoll = a.epoll_create().unwrap();
    assert_eq!(a.socket(SockType::Stream), Err(Errno::EMFILE));
    assert_eq!(a.epoll_create(), Err(Errno::EMFILE));
    a.close(tcp).unwrap();
    assert_eq!(
        a.socket(SockType::Stream),
        Ok(tcp),
        "the lowest free descriptor"
    );
}

#[test]
fn accept_on_a_full_table_leaves_the_connection_queued() {
    let clock = ManualClock::new();
    let (mut a, mut b) = pipe_stacks(
        StackConfig::seeded(A_IP, 24, 1),
        StackConfig {
            max_fds: 2,
            ..StackConfig::seeded(B_IP, 24, 2)
        },
        clock.clone(),
        &PipeConfig::default(),
    );
    let listener = b.socket(SockType::Stream).unwrap();
    b.bind(listener, SocketAddrV4::new(B_IP, PORT)).unwrap();
    b.listen(listener, 8).unwrap();
    let epfd = b.epoll_create().unwrap();
    let client = a.socket(SockType::Stream).unwrap();
    assert_eq!(
        a.connect(client, SocketAddrV4::new(B_IP, PORT)),
        Err(Errno::EINPROGRESS)
    );
    let pump = |a: &mut Host, b: &mut Host| {
        for _ in 0..100 {
            clock.advance(Duration::from_micros(10));
            a.poll();
            b.poll();
        }
    };
    pump(&mut a, &mut b);
    a.send(client, b"queued", 0).unwrap();
    pump(&mut a, &mut b);
    assert_eq!(b.accept(listener).map(|(fd, _)| fd), Err(Errno::EMFILE));
    b.close(epfd).unwrap();
    let (server, _) = b.accept(listener).expect("still queued");
    let mut buf = [0u8; 16];
    assert_eq!(b.recv(server, &mut buf, 0), Ok(6));
    assert_eq!(&buf[..6], b"queued");
}
