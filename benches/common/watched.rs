//! Two stacks over a pipe with established connections, every server side
//! watched by one epoll on B: the setup of the epoll and socket-API
//! benchmarks.

use dpstack::device::pipe::{PipeConfig, PipeDevice};
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN};
use dpstack::runtime::{pipe_stacks, Stack, StackConfig};
use dpstack::socket::{Errno, Fd, SockType};
use dpstack::time::{Duration, ManualClock};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A stack on the pipe, on the manual clock.
pub type Host = Stack<PipeDevice, ManualClock>;

/// The port B listens on.
pub const PORT: u16 = 9;

/// The stacks and what is open on them.
pub struct Watched {
    pub a: Host,
    pub b: Host,
    pub clock: ManualClock,
    /// B's epoll, watching every server side for EPOLLIN.
    pub epfd: Fd,
    /// B's listener on `PORT`.
    pub listener: Fd,
    /// (client, server) of each connection, in the order opened.
    pub pairs: Vec<(Fd, Fd)>,
}

/// A at `a_ip`, B at `b_ip`, and `n` connections A to B opened in batches
/// of 1,000. `tune_listener` and `tune_client` set options on B's
/// listener and on each client socket before it connects.
pub fn watched(
    a_ip: Ipv4Addr,
    b_ip: Ipv4Addr,
    n: usize,
    tune_listener: impl Fn(&mut Host, Fd),
    tune_client: impl Fn(&mut Host, Fd),
) -> Watched {
    let clock = ManualClock::new();
    let (mut a, mut b) = pipe_stacks(
        StackConfig::seeded(a_ip, 24, 1),
        StackConfig::seeded(b_ip, 24, 2),
        clock.clone(),
        &PipeConfig {
            queue_len: 16_384,
            ..PipeConfig::default()
        },
    );
    let listener = b.socket(SockType::Stream).unwrap();
    tune_listener(&mut b, listener);
    b.bind(listener, SocketAddrV4::new(b_ip, PORT)).unwrap();
    b.listen(listener, 4096).unwrap();
    let epfd = b.epoll_create().unwrap();
    let mut pairs = Vec::new();
    while pairs.len() < n {
        let batch = (n - pairs.len()).min(1000);
        let clients: Vec<Fd> = (0..batch)
            .map(|_| {
                let fd = a.socket(SockType::Stream).unwrap();
                tune_client(&mut a, fd);
                assert_eq!(
                    a.connect(fd, SocketAddrV4::new(b_ip, PORT)),
                    Err(Errno::EINPROGRESS)
                );
                fd
            })
            .collect();
        for _ in 0..200 {
            clock.advance(Duration::from_micros(10));
            a.poll();
            b.poll();
        }
        for client in clients {
            let (server, _) = b.accept(listener).expect("accepted");
            let event = EpollEvent {
                events: EPOLLIN,
                data: server as u64,
            };
            b.epoll_ctl(epfd, CtlOp::Add, server, event).unwrap();
            pairs.push((client, server));
        }
    }
    Watched {
        a,
        b,
        clock,
        epfd,
        listener,
        pairs,
    }
}
