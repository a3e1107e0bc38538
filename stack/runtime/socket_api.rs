//! The socket and epoll calls on the runtime's [`Stack`]: POSIX names,
//! descriptors, errno errors. Run-to-completion: every call is
//! non-blocking except `epoll_wait` with a timeout, which turns the poll
//! loop until an event or the timeout.

use super::{IdleBackoff, Stack};
use crate::device::Device;
use crate::epoll::{CtlOp, EpollEvent};
use crate::socket::{Errno, Fd, Net, Shutdown, SockOpt, SockOptName, SockType};
use crate::time::{Clock, Duration};
use std::net::SocketAddrV4;

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
            ip: self.iface.ip(),
            max_udp: self.iface.max_unfragmented_udp(),
            sockets: &mut self.sockets,
        };
        call(&mut self.fds, &mut net)
    }

    /// `socket(AF_INET, kind, 0)`.
    pub fn socket(&mut self, kind: SockType) -> Result<Fd, Errno> {
        self.with_net(|fds, net| fds.socket(net, kind))
    }

    /// `bind`.
    pub fn bind(&mut self, fd: Fd, addr: SocketAddrV4) -> Result<(), Errno> {
        self.with_net(|fds, net| fds.bind(net, fd, addr))
    }

    /// `listen`.
    pub fn listen(&mut self, fd: Fd, backlog: usize) -> Result<(), Errno> {
        self.with_net(|fds, net| fds.listen(net, fd, backlog))
    }

    /// `accept`: a new descriptor and the peer's address, or `EAGAIN`.
    pub fn accept(&mut self, fd: Fd) -> Result<(Fd, SocketAddrV4), Errno> {
        self.with_net(|fds, net| fds.accept(net, fd))
    }

    /// `connect`: `EINPROGRESS` for TCP (writable when done; `SO_ERROR`
    /// says how it went).
    pub fn connect(&mut self, fd: Fd, addr: SocketAddrV4) -> Result<(), Errno> {
        if self.iface.next_hop_of(*addr.ip()).is_none() {
            return Err(Errno::ENETUNREACH);
        }
        self.with_net(|fds, net| fds.connect(net, fd, addr))
    }

    /// `send`.
    pub fn send(&mut self, fd: Fd, data: &[u8], flags: u32) -> Result<usize, Errno> {
        self.with_net_polled(|fds, net| fds.send(net, fd, data, flags))
    }

    /// `sendto`.
    pub fn send_to(
        &mut self,
        fd: Fd,
        data: &[u8],
        to: Option<SocketAddrV4>,
    ) -> Result<usize, Errno> {
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
    ) -> Result<(usize, Option<SocketAddrV4>), Errno> {
        self.with_net_polled(|fds, net| fds.recv_from(net, fd, buf, flags))
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
    pub fn getsockname(&mut self, fd: Fd) -> Result<SocketAddrV4, Errno> {
        self.with_net_polled(|fds, net| fds.local_addr(net, fd))
    }

    /// `getpeername`.
    pub fn getpeername(&mut self, fd: Fd) -> Result<SocketAddrV4, Errno> {
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
