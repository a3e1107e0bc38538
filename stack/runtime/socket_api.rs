//! The socket and epoll calls on the runtime's [`Stack`]: POSIX names,
//! descriptors, errno errors. Run-to-completion: every call is
//! non-blocking except `epoll_wait` with a timeout, which turns the poll
//! loop until an event or the timeout.

use super::{IdleBackoff, Stack};
use crate::device::Device;
use crate::epoll::{CtlOp, EpollEvent};
use crate::socket::{Errno, Fd, Net, Shutdown, SockOpt, SockOptName, SockType};
use crate::time::{Clock, Duration};
use std::net::SocketAddr;

impl<D: Device, C: Clock> Stack<D, C> {
    /// Runs a call that starts or stops timers (connect, close, options)
    /// at the clock's time.
    fn with_net<T>(
        &mut self,
        call: impl FnOnce(&mut crate::socket::FdTable, &mut Net<'_>) -> T,
    ) -> T {
        let now = self.clock.now();
        self.with_net_at(now, call)
    }

    /// Runs a data-path call (send, recv, epoll) at the last poll's time:
    /// they arm no timer (output is committed, and timed, by the next
    /// poll), and reading the clock on every call costs more than the call.
    fn with_net_polled<T>(
        &mut self,
        call: impl FnOnce(&mut crate::socket::FdTable, &mut Net<'_>) -> T,
    ) -> T {
        self.with_net_at(self.last_poll, call)
    }

    fn with_net_at<T>(
        &mut self,
        now: crate::time::Instant,
        call: impl FnOnce(&mut crate::socket::FdTable, &mut Net<'_>) -> T,
    ) -> T {
        let mut net = Net {
            now,
            addrs: *self.iface.local_addrs(),
            max_udp: self.iface.max_unfragmented_udp(),
            sockets: &mut self.sockets,
        };
        call(&mut self.fds, &mut net)
    }

    /// `socket(AF_INET6, kind, 0)`: either family, as the address given to
    /// `bind`, `connect` or `sendto` decides.
    pub fn socket(&mut self, kind: SockType) -> Result<Fd, Errno> {
        self.with_net(|fds, net| fds.socket(net, kind))
    }

    /// `bind` (an IPv4 or IPv6 address; `[::]` takes both families).
    pub fn bind(&mut self, fd: Fd, addr: impl Into<SocketAddr>) -> Result<(), Errno> {
        let addr = addr.into();
        self.with_net(|fds, net| fds.bind(net, fd, addr))
    }

    /// `listen`.
    pub fn listen(&mut self, fd: Fd, backlog: usize) -> Result<(), Errno> {
        self.with_net(|fds, net| fds.listen(net, fd, backlog))
    }

    /// `accept`: a new descriptor and the peer's address, or `EAGAIN`.
    pub fn accept(&mut self, fd: Fd) -> Result<(Fd, SocketAddr), Errno> {
        self.with_net(|fds, net| fds.accept(net, fd))
    }

    /// `connect`: `EINPROGRESS` for TCP (writable when done; `SO_ERROR`
    /// says how it went).
    pub fn connect(&mut self, fd: Fd, addr: impl Into<SocketAddr>) -> Result<(), Errno> {
        let addr = crate::addr::canonical(addr.into());
        if !self.iface.routable(self.last_poll, addr.ip()) {
            return Err(Errno::ENETUNREACH);
        }
        self.with_net(|fds, net| fds.connect(net, fd, addr))
    }

    /// `send`.
    pub fn send(&mut self, fd: Fd, data: &[u8], flags: u32) -> Result<usize, Errno> {
        self.with_net_polled(|fds, net| fds.send(net, fd, data, flags))
    }

    /// `sendto`.
    pub fn send_to(&mut self, fd: Fd, data: &[u8], to: Option<SocketAddr>) -> Result<usize, Errno> {
        self.with_net_polled(|fds, net| fds.send_to(net, fd, data, to))
    }

    /// `recv`: `Ok(0)` at end of stream.
    pub fn recv(&mut self, fd: Fd, buf: &mut [u8], flags: u32) -> Result<usize, Errno> {
        self.with_net_polled(|fds, net| fds.recv(net, fd, buf, flags))
    }

    /// `recvfrom`.
    pub fn recv_from(
        &mut self,
        fd: Fd,
        buf: &mut [u8],
        flags: u32,
    ) -> Result<(usize, Option<SocketAddr>), Errno> {
        self.with_net_polled(|fds, net| fds.recv_from(net, fd, buf, flags))
    }

    /// Zero-copy receive on a TCP socket: `use_data` borrows the received
    /// bytes where they lie in the socket's receive buffer (two slices, in
    /// order: the second is non-empty where the buffer wraps) and returns
    /// how many bytes from the start it is done with; those are consumed
    /// and the window opens by as much. Nothing is copied into an
    /// application buffer. `Ok(0)` at end of stream (`use_data` is not
    /// called), `EAGAIN` when nothing is there; `EOPNOTSUPP` on UDP.
    ///
    /// The view lives only inside the call: the borrow checker refuses to
    /// let it out, so it can never outlive the bytes' release.
    ///
    /// ```compile_fail
    /// # use dpstack::runtime::{pipe_stacks, StackConfig};
    /// # use dpstack::device::pipe::PipeConfig;
    /// # use dpstack::time::ManualClock;
    /// # let (mut a, _b) = pipe_stacks(
    /// #     StackConfig::seeded([10, 0, 0, 1].into(), 24, 1),
    /// #     StackConfig::seeded([10, 0, 0, 2].into(), 24, 2),
    /// #     ManualClock::new(),
    /// #     &PipeConfig::default(),
    /// # );
    /// let mut kept: &[u8] = &[];
    /// let _ = a.recv_in_place(3, |first, _| {
    ///     kept = first; // error: borrowed data escapes the closure
    ///     0
    /// });
    /// println!("{kept:?}");
    /// ```
    ///
    /// Used as intended, the bytes are read where they are:
    ///
    /// ```
    /// # use dpstack::runtime::{pipe_stacks, StackConfig};
    /// # use dpstack::device::pipe::PipeConfig;
    /// # use dpstack::time::ManualClock;
    /// # use dpstack::socket::{Errno, SockType};
    /// # let (mut a, mut b) = pipe_stacks(
    /// #     StackConfig::seeded([10, 0, 0, 1].into(), 24, 1),
    /// #     StackConfig::seeded([10, 0, 0, 2].into(), 24, 2),
    /// #     ManualClock::new(),
    /// #     &PipeConfig::default(),
    /// # );
    /// # let fd = a.socket(SockType::Stream).unwrap();
    /// // On a socket with nothing received yet:
    /// let mut lines = 0;
    /// let got = a.recv_in_place(fd, |first, second| {
    ///     lines = first.iter().chain(second).filter(|&&b| b == b'\n').count();
    ///     first.len() + second.len()
    /// });
    /// assert_eq!(got, Err(Errno::ENOTCONN));
    /// ```
    pub fn recv_in_place(
        &mut self,
        fd: Fd,
        use_data: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<usize, Errno> {
        self.with_net_polled(|fds, net| fds.recv_in_place(net, fd, use_data))
    }

    /// Zero-copy send on a TCP socket: `fill` writes up to `max` bytes
    /// straight into the socket's send buffer (its free space as two
    /// slices, the second where the buffer wraps; what they hold before is
    /// unspecified) and returns how many bytes it wrote from the start;
    /// those are queued, and retransmissions send them from there. `EAGAIN`
    /// when there is no room; `EOPNOTSUPP` on UDP.
    pub fn send_in_place(
        &mut self,
        fd: Fd,
        max: usize,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> usize,
    ) -> Result<usize, Errno> {
        self.with_net_polled(|fds, net| fds.send_in_place(net, fd, max, fill))
    }

    /// `writev`: the slices in order as one write. TCP queues as much as
    /// fits, straight from the slices into the send buffer, and says how
    /// much; UDP sends them as one datagram.
    pub fn writev(&mut self, fd: Fd, slices: &[std::io::IoSlice<'_>]) -> Result<usize, Errno> {
        if self.getsockopt(fd, SockOptName::Type)? == 2 {
            let datagram: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
            return self.send_to(fd, &datagram, None);
        }
        let total = slices.iter().map(|s| s.len()).sum();
        let sources: Vec<&[u8]> = slices.iter().map(|s| &**s).collect();
        self.send_in_place(fd, total, |first, second| {
            copy_chain(&sources, &mut [first, second])
        })
    }

    /// `readv`: received bytes spread over the slices in order, straight
    /// from the receive buffer; `Ok(0)` at end of stream. A UDP datagram
    /// longer than the slices together is cut, as Linux cuts it.
    pub fn readv(
        &mut self,
        fd: Fd,
        slices: &mut [std::io::IoSliceMut<'_>],
    ) -> Result<usize, Errno> {
        if self.getsockopt(fd, SockOptName::Type)? == 2 {
            let room: usize = slices.iter().map(|s| s.len()).sum();
            let mut datagram = vec![0u8; room];
            let (n, _) = self.recv_from(fd, &mut datagram, 0)?;
            return Ok(scatter(&datagram[..n], slices));
        }
        if slices.iter().all(|s| s.is_empty()) {
            return self.recv(fd, &mut [], 0);
        }
        let mut targets: Vec<&mut [u8]> = slices.iter_mut().map(|s| &mut **s).collect();
        self.recv_in_place(fd, |first, second| {
            copy_chain(&[first, second], &mut targets)
        })
    }

    /// `fcntl(F_SETFL, O_NONBLOCK)`: whether calls through a `StackHandle`
    /// on `fd` wait. Calls on the `Stack` itself never wait either way.
    pub fn set_nonblocking(&mut self, fd: Fd, nonblocking: bool) -> Result<(), Errno> {
        self.fds.set_nonblocking(fd, nonblocking)
    }

    /// How calls through a `StackHandle` wait on `fd`: `O_NONBLOCK`
    /// (`fcntl(F_GETFL)`) and the receive and send timeouts.
    pub fn blocking(&mut self, fd: Fd) -> Result<crate::socket::Blocking, Errno> {
        self.fds.blocking(fd)
    }

    /// `shutdown`.
    pub fn shutdown(&mut self, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        self.with_net(|fds, net| fds.shutdown(net, fd, how))
    }

    /// `close`.
    pub fn close(&mut self, fd: Fd) -> Result<(), Errno> {
        self.with_net(|fds, net| fds.close(net, fd))
    }

    /// `setsockopt`.
    pub fn setsockopt(&mut self, fd: Fd, option: SockOpt) -> Result<(), Errno> {
        self.with_net(|fds, net| fds.set_option(net, fd, option))
    }

    /// `getsockopt`.
    pub fn getsockopt(&mut self, fd: Fd, name: SockOptName) -> Result<i64, Errno> {
        self.with_net_polled(|fds, net| fds.get_option(net, fd, name))
    }

    /// `getsockopt(TCP_CONGESTION)`.
    pub fn congestion(&mut self, fd: Fd) -> Result<crate::tcp::congestion::Algorithm, Errno> {
        self.fds.congestion(fd)
    }

    /// `getsockopt(TCP_INFO)`: the connection's state and sender figures.
    pub fn tcp_info(&mut self, fd: Fd) -> Result<crate::socket::TcpInfo, Errno> {
        self.with_net(|fds, net| fds.tcp_info(net, fd))
    }

    /// `getsockname`.
    pub fn getsockname(&mut self, fd: Fd) -> Result<SocketAddr, Errno> {
        self.with_net_polled(|fds, net| fds.local_addr(net, fd))
    }

    /// `getpeername`.
    pub fn getpeername(&mut self, fd: Fd) -> Result<SocketAddr, Errno> {
        self.with_net_polled(|fds, net| fds.peer_addr(net, fd))
    }

    /// `epoll_create`.
    pub fn epoll_create(&mut self) -> Result<Fd, Errno> {
        self.fds.epoll_create()
    }

    /// `epoll_ctl`.
    pub fn epoll_ctl(
        &mut self,
        epfd: Fd,
        op: CtlOp,
        fd: Fd,
        event: EpollEvent,
    ) -> Result<(), Errno> {
        self.with_net_polled(|fds, net| fds.epoll_ctl(net, epfd, op, fd, event))
    }

    /// The events ready on `epfd` now, without turning the poll loop.
    pub fn epoll_ready(&mut self, epfd: Fd, out: &mut [EpollEvent]) -> Result<usize, Errno> {
        self.with_net_polled(|fds, net| fds.epoll_collect(net, epfd, out))
    }

    /// `epoll_wait`: turns the poll loop (at least once) until an event is
    /// ready or `timeout` passes (`None`: no limit; zero: one turn).
    /// Returns how many events were written to `out`.
    pub fn epoll_wait(
        &mut self,
        epfd: Fd,
        out: &mut [EpollEvent],
        timeout: Option<Duration>,
    ) -> Result<usize, Errno> {
        let mut backoff = IdleBackoff::default();
        let mut start = None;
        loop {
            let busy = self.poll();
            let started = *start.get_or_insert(self.last_poll);
            let n = self.with_net_polled(|fds, net| fds.epoll_collect(net, epfd, out))?;
            if n > 0 {
                return Ok(n);
            }
            match timeout {
                Some(t) if t == Duration::ZERO => return Ok(0),
                Some(t) if self.clock.now().saturating_duration_since(started) >= t => {
                    return Ok(0)
                }
                _ => {}
            }
            backoff.turn(busy);
        }
    }
}

/// Copies `data` over `slices` in order; how many bytes it placed.
pub(crate) fn scatter(data: &[u8], slices: &mut [std::io::IoSliceMut<'_>]) -> usize {
    let mut targets: Vec<&mut [u8]> = slices.iter_mut().map(|s| &mut **s).collect();
    copy_chain(&[data], &mut targets)
}

/// Copies the bytes of `sources`, in order, into `targets`, in order,
/// until either runs out; how many bytes it copied.
fn copy_chain(sources: &[&[u8]], targets: &mut [&mut [u8]]) -> usize {
    let mut copied = 0;
    let mut targets = targets.iter_mut().filter(|t| !t.is_empty());
    let (mut target, mut at) = match targets.next() {
        Some(t) => (t, 0),
        None => return 0,
    };
    for source in sources {
        let mut from = 0;
        while from < source.len() {
            if at == target.len() {
                match targets.next() {
                    Some(next) => (target, at) = (next, 0),
                    None => return copied,
                }
            }
            let n = (source.len() - from).min(target.len() - at);
            target[at..at + n].copy_from_slice(&source[from..from + n]);
            (from, at, copied) = (from + n, at + n, copied + n);
        }
    }
    copied
}

#[cfg(test)]
mod tests {
    use crate::device::pipe::PipeConfig;
    use crate::runtime::{pipe_stacks, StackConfig};
    use crate::socket::{Errno, SockType};
    use crate::time::{Duration, ManualClock};
    use std::io::{IoSlice, IoSliceMut};
    use std::net::{Ipv4Addr, SocketAddrV4};

    const A: Ipv4Addr = Ipv4Addr::new(10, 12, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 12, 0, 2);

    #[test]
    fn copy_chain_crosses_every_boundary_and_stops_at_the_shorter_side() {
        let (mut x, mut y, mut z) = ([0u8; 3], [0u8; 0], [0u8; 4]);
        let n = super::copy_chain(&[b"ab", b"", b"cdefghij"], &mut [&mut x, &mut y, &mut z]);
        assert_eq!((n, &x, &z), (7, b"abc", b"defg"));
        let mut big = [0u8; 16];
        assert_eq!(super::copy_chain(&[b"xy", b"z"], &mut [&mut big]), 3);
        assert_eq!(&big[..3], b"xyz");
        assert_eq!(super::copy_chain(&[b"xy"], &mut []), 0);
    }

    #[test]
    fn readv_and_writev_gather_and_scatter_on_tcp_and_udp() {
        let clock = ManualClock::new();
        let (mut a, mut b) = pipe_stacks(
            StackConfig::seeded(A, 24, 1),
            StackConfig::seeded(B, 24, 2),
            clock.clone(),
            &PipeConfig::default(),
        );
        let pump = |a: &mut super::Stack<_, _>, b: &mut super::Stack<_, _>| {
            for _ in 0..10 {
                clock.advance(Duration::from_micros(50));
                a.poll();
                b.poll();
            }
        };
        let listener = b.socket(SockType::Stream).unwrap();
        b.bind(listener, SocketAddrV4::new(B, 80)).unwrap();
        b.listen(listener, 4).unwrap();
        let client = a.socket(SockType::Stream).unwrap();
        assert_eq!(
            a.connect(client, SocketAddrV4::new(B, 80)),
            Err(Errno::EINPROGRESS)
        );
        pump(&mut a, &mut b);
        let (server, _) = b.accept(listener).unwrap();
        let parts = [
            IoSlice::new(b"abc"),
            IoSlice::new(b""),
            IoSlice::new(b"defg"),
        ];
        assert_eq!(a.writev(client, &parts), Ok(7));
        pump(&mut a, &mut b);
        let (mut x, mut y) = ([0u8; 2], [0u8; 8]);
        let mut into = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
        assert_eq!(b.readv(server, &mut into), Ok(7));
        assert_eq!((&x, &y[..5]), (b"ab", &b"cdefg"[..]));
        let mut into = [IoSliceMut::new(&mut x)];
        assert_eq!(b.readv(server, &mut into), Err(Errno::EAGAIN));

        let (ua, ub) = (
            a.socket(SockType::Dgram).unwrap(),
            b.socket(SockType::Dgram).unwrap(),
        );
        b.bind(ub, SocketAddrV4::new(B, 9)).unwrap();
        a.connect(ua, SocketAddrV4::new(B, 9)).unwrap();
        let parts = [IoSlice::new(b"one "), IoSlice::new(b"datagram")];
        assert_eq!(a.writev(ua, &parts), Ok(12));
        pump(&mut a, &mut b);
        let (mut x, mut y) = ([0u8; 3], [0u8; 5]);
        let mut into = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
        assert_eq!(
            b.readv(ub, &mut into),
            Ok(8),
            "cut to the room, as Linux cuts"
        );
        assert_eq!((&x, &y), (b"one", b" data"));
    }
}
