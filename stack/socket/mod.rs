//! The POSIX-like socket layer: small-integer descriptors (the lowest free
//! one first, as POSIX) naming TCP sockets, UDP sockets and epoll
//! instances, with the calls and errno semantics of Linux. Sans-IO like
//! the rest: every call takes a [`Net`] (the transport tables, the time
//! and our addresses); the runtime's `Stack` wraps them. Addresses are
//! `std::net::SocketAddr` of either family; a socket bound to `[::]`
//! takes both (dual stack, as Linux's default).
//!
//! A complete edge-triggered epoll echo server on a [`Stack`](crate::runtime::Stack)
//! (run-to-completion: the loop below is the poll loop):
//!
//! ```no_run
//! use dpstack::device::Device;
//! use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN};
//! use dpstack::runtime::Stack;
//! use dpstack::socket::{Errno, SockType};
//! use dpstack::time::Clock;
//! use std::net::{Ipv6Addr, SocketAddr};
//!
//! fn echo_server<D: Device, C: Clock>(stack: &mut Stack<D, C>) -> Result<(), Errno> {
//!     let listener = stack.socket(SockType::Stream)?;
//!     // `[::]`: IPv4 and IPv6 clients both (dual stack).
//!     stack.bind(listener, SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 7))?;
//!     stack.listen(listener, 1024)?;
//!     let epfd = stack.epoll_create()?;
//!     let watch = |fd| EpollEvent { events: EPOLLIN | EPOLLET, data: fd as u64 };
//!     stack.epoll_ctl(epfd, CtlOp::Add, listener, watch(listener))?;
//!     let (mut events, mut buf) = (vec![EpollEvent::default(); 64], vec![0u8; 65536]);
//!     loop {
//!         let n = stack.epoll_wait(epfd, &mut events, None)?;
//!         for event in &events[..n] {
//!             let fd = event.data as i32;
//!             if fd == listener {
//!                 // Edge-triggered: accept until EAGAIN.
//!                 while let Ok((conn, _peer)) = stack.accept(listener) {
//!                     stack.epoll_ctl(epfd, CtlOp::Add, conn, watch(conn))?;
//!                 }
//!                 continue;
//!             }
//!             // Read until EAGAIN; echo (a real server keeps what send refuses).
//!             loop {
//!                 match stack.recv(fd, &mut buf, 0) {
//!                     Ok(0) => { stack.close(fd)?; break; }
//!                     Ok(n) => { stack.send(fd, &buf[..n], 0)?; }
//!                     Err(Errno::EAGAIN) => break,
//!                     Err(_) => { stack.close(fd)?; break; }
//!                 }
//!             }
//!         }
//!     }
//! }
//! ```

mod errno;
mod options;
mod readiness;
mod tcp_info;

pub use errno::Errno;
pub use options::{SockOpt, SockOptName};
pub use tcp_info::TcpInfo;

use crate::addr::{canonical, LocalAddrs};
use crate::epoll::{CtlOp, Epoll, EpollEvent, Watch};
use crate::iface::Sockets;
use crate::tcp::{Keepalive, State, TcpHandle, TcpOptions};
use crate::time::{Duration, Instant};
use crate::udp::UdpHandle;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A descriptor.
pub type Fd = i32;

/// `MSG_PEEK`: read without consuming.
pub const MSG_PEEK: u32 = 0x2;
/// `MSG_DONTWAIT`: this call does not wait, whatever `O_NONBLOCK` says
/// (only calls through a `StackHandle` ever wait).
pub const MSG_DONTWAIT: u32 = 0x40;

/// The kind of socket `socket()` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockType {
    /// TCP (`SOCK_STREAM`).
    Stream,
    /// UDP (`SOCK_DGRAM`).
    Dgram,
}

/// Which directions `shutdown` closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// `SHUT_RD`.
    Read,
    /// `SHUT_WR`.
    Write,
    /// `SHUT_RDWR`.
    Both,
}

/// What the socket calls act on: the transport tables, the time, our
/// address, and the largest unfragmented UDP payload.
pub struct Net<'a> {
    /// UDP sockets and the TCP table.
    pub sockets: &'a mut Sockets,
    /// The stack's time.
    pub now: Instant,
    /// Our addresses.
    pub addrs: LocalAddrs,
    /// Largest UDP payload that fits one frame.
    pub max_udp: usize,
}

/// Where a TCP socket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpConn {
    /// Made by `socket()`, perhaps bound; not listening or connecting yet.
    Fresh,
    /// Listening.
    Listening(TcpHandle),
    /// Connecting or connected.
    Connected(TcpHandle),
}

#[derive(Debug)]
struct TcpSock {
    conn: TcpConn,
    options: TcpOptions,
    bound: Option<SocketAddr>,
    /// `IPV6_V6ONLY`: bound to `[::]`, IPv4 is refused.
    v6_only: bool,
    reuse_addr: bool,
    keepalive: bool,
    /// `TCP_KEEPIDLE`/`INTVL`/`CNT`, used while `keepalive` is on.
    keep_settings: Keepalive,
    /// `SO_LINGER` with a zero timeout: close aborts with a RST.
    linger_zero: bool,
    shut_rd: bool,
    /// A later `connect` has reported the completed connection (Linux
    /// returns success once, then EISCONN).
    connect_reported: bool,
}

enum Kind {
    Tcp(TcpSock),
    Udp(UdpHandle),
    /// `None` only while a wait collects from it (it is lifted out, so
    /// the table can be asked for the readiness of what it watches).
    Epoll(Option<Box<Epoll>>),
}

struct Slot {
    kind: Kind,
    /// The epoll descriptors watching this one, with its item in each.
    watchers: Vec<(Fd, Watch)>,
    blocking: Blocking,
}

/// How calls through a `StackHandle` (app threads) wait on a descriptor:
/// `O_NONBLOCK` and the `SO_RCVTIMEO`/`SO_SNDTIMEO` timeouts. The table
/// keeps them with the descriptor; calls on the `Stack` itself
/// (run-to-completion, async) never wait, whatever they say, since the
/// thread that would wait is the one that turns the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocking {
    /// `O_NONBLOCK`: calls return `EAGAIN` (`EINPROGRESS` for connect)
    /// instead of waiting. Set on every new descriptor; `StackHandle`
    /// clears it on the descriptors it makes, as Linux's are blocking.
    pub nonblocking: bool,
    /// `SO_RCVTIMEO`: the longest a receive or accept waits (`None`: no
    /// limit); past it the call fails with `EAGAIN`.
    pub recv_timeout: Option<Duration>,
    /// `SO_SNDTIMEO`: the longest a send or connect waits (`None`: no
    /// limit); past it a send returns what it queued (`EAGAIN` if nothing)
    /// and a connect `EINPROGRESS`.
    pub send_timeout: Option<Duration>,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            nonblocking: true,
            recv_timeout: None,
            send_timeout: None,
        }
    }
}

/// Default for the most descriptors open at once (`ulimit -n`'s usual
/// hard limit); `StackConfig::max_fds` changes it.
pub const MAX_FDS: usize = 1 << 20;

/// The descriptor table.
pub struct FdTable {
    slots: Vec<Option<Slot>>,
    free: BinaryHeap<Reverse<Fd>>,
    /// Reused list of descriptors to wake (the transport tables report
    /// watched sockets by their descriptor).
    wake_fds: Vec<u32>,
    /// Most descriptors open at once: past it, EMFILE.
    max_fds: usize,
}

impl Default for FdTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FdTable {
    /// An empty table with room for [`MAX_FDS`] descriptors.
    pub fn new() -> Self {
        Self::with_limit(MAX_FDS)
    }

    /// An empty table holding at most `max_fds` descriptors at once
    /// (`ulimit -n`).
    pub fn with_limit(max_fds: usize) -> Self {
        FdTable {
            slots: Vec::new(),
            free: BinaryHeap::new(),
            wake_fds: Vec::new(),
            max_fds,
        }
    }

    /// Descriptors open.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// True when no descriptor is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when no descriptor can be made until one closes.
    fn is_full(&self) -> bool {
        self.free.is_empty() && self.slots.len() >= self.max_fds
    }

    fn insert(&mut self, kind: Kind) -> Result<Fd, Errno> {
        let slot = Slot {
            kind,
            watchers: Vec::new(),
            blocking: Blocking::default(),
        };
        if let Some(Reverse(fd)) = self.free.pop() {
            self.slots[fd as usize] = Some(slot);
            return Ok(fd);
        }
        if self.is_full() {
            return Err(Errno::EMFILE);
        }
        self.slots.push(Some(slot));
        Ok((self.slots.len() - 1) as Fd)
    }

    /// How calls through a `StackHandle` wait on `fd`.
    pub fn blocking(&mut self, fd: Fd) -> Result<Blocking, Errno> {
        Ok(self.slot(fd)?.blocking)
    }

    /// `fcntl(F_SETFL, O_NONBLOCK)` on `fd` (any descriptor, epoll too).
    pub fn set_nonblocking(&mut self, fd: Fd, nonblocking: bool) -> Result<(), Errno> {
        self.slot(fd)?.blocking.nonblocking = nonblocking;
        Ok(())
    }

    fn slot(&mut self, fd: Fd) -> Result<&mut Slot, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    fn tcp(&mut self, fd: Fd) -> Result<&mut TcpSock, Errno> {
        match &mut self.slot(fd)?.kind {
            Kind::Tcp(sock) => Ok(sock),
            Kind::Udp(_) => Err(Errno::EOPNOTSUPP),
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// `socket(AF_INET6, type, 0)` of either family: the address given to
    /// `bind`, `connect` or `sendto` decides.
    pub fn socket(&mut self, net: &mut Net<'_>, kind: SockType) -> Result<Fd, Errno> {
        match kind {
            SockType::Stream => {
                let options = TcpOptions::from_config(net.sockets.tcp.config());
                self.insert(Kind::Tcp(TcpSock {
                    conn: TcpConn::Fresh,
                    options,
                    bound: None,
                    v6_only: false,
                    reuse_addr: false,
                    keepalive: false,
                    keep_settings: Keepalive::default(),
                    linger_zero: false,
                    shut_rd: false,
                    connect_reported: false,
                }))
            }
            SockType::Dgram => {
                let handle = net.sockets.udp.open();
                self.insert(Kind::Udp(handle))
            }
        }
    }

    /// `bind`: a specific port or 0 (chosen at listen/connect for TCP), to
    /// one of our addresses or an unspecified one (`[::]`: both families,
    /// unless `IPV6_V6ONLY`). An IPv4-mapped IPv6 address is its IPv4 one.
    pub fn bind(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        addr: impl Into<SocketAddr>,
    ) -> Result<(), Errno> {
        let addr = canonical(addr.into());
        if !addr.ip().is_unspecified() && !net.addrs.is_ours(addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        match &mut self.slot(fd)?.kind {
            Kind::Udp(handle) => Ok(net.sockets.udp.bind(*handle, addr, net.addrs)?),
            Kind::Tcp(sock) => {
                if sock.bound.is_some() || sock.conn != TcpConn::Fresh {
                    return Err(Errno::EINVAL);
                }
                sock.bound = Some(addr);
                Ok(())
            }
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// `listen(backlog)`.
    pub fn listen(&mut self, net: &mut Net<'_>, fd: Fd, backlog: usize) -> Result<(), Errno> {
        let sock = self.tcp(fd)?;
        match sock.conn {
            TcpConn::Fresh => {}
            TcpConn::Listening(_) => return Ok(()),
            TcpConn::Connected(_) => return Err(Errno::EINVAL),
        }
        let local = sock
            .bound
            .unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0));
        let handle =
            net.sockets
                .tcp
                .listen(local, backlog, sock.options, net.addrs, sock.v6_only)?;
        sock.conn = TcpConn::Listening(handle);
        self.rewatch(net, fd);
        Ok(())
    }

    /// `accept`: a new descriptor for the oldest established connection,
    /// and the peer's address.
    pub fn accept(&mut self, net: &mut Net<'_>, fd: Fd) -> Result<(Fd, SocketAddr), Errno> {
        let sock = self.tcp(fd)?;
        let TcpConn::Listening(listener) = sock.conn else {
            return Err(Errno::EINVAL);
        };
        let options = sock.options;
        // A full table leaves the connection queued, as Linux does.
        if self.is_full() {
            return Err(Errno::EMFILE);
        }
        let (handle, peer) = net.sockets.tcp.accept(listener)?;
        // Options set on the listener after listen() reach the connection
        // here, as Linux copies them at accept.
        let tcp = &mut net.sockets.tcp;
        let current = tcp
            .tcb_of(handle)
            .map(|tcb| (tcb.keepalive, tcb.nodelay, tcb.congestion))?;
        if current.0 != options.keepalive {
            tcp.set_keepalive(net.now, handle, options.keepalive)?;
        }
        if current.1 != options.nodelay {
            tcp.set_nodelay(handle, options.nodelay)?;
        }
        if current.2 != options.congestion {
            tcp.set_congestion(handle, options.congestion)?;
        }
        let new = self.insert(Kind::Tcp(TcpSock {
            conn: TcpConn::Connected(handle),
            options,
            bound: None,
            v6_only: false,
            reuse_addr: false,
            keepalive: options.keepalive.is_some(),
            keep_settings: options.keepalive.unwrap_or_default(),
            linger_zero: false,
            shut_rd: false,
            connect_reported: true,
        }))?;
        Ok((new, peer))
    }

    /// `connect`: TCP starts the handshake and returns `EINPROGRESS`
    /// (completion shows as writable, its outcome in `SO_ERROR`); UDP sets
    /// the default peer. The peer's family must be one the bound address
    /// reaches (`EADDRNOTAVAIL` otherwise).
    pub fn connect(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        addr: impl Into<SocketAddr>,
    ) -> Result<(), Errno> {
        let addr = canonical(addr.into());
        let sock = match &mut self.slot(fd)?.kind {
            Kind::Udp(handle) => return Ok(net.sockets.udp.connect(*handle, addr, net.addrs)?),
            Kind::Epoll(_) => return Err(Errno::ENOTSOCK),
            Kind::Tcp(sock) => sock,
        };
        match sock.conn {
            TcpConn::Listening(_) => return Err(Errno::EISCONN),
            TcpConn::Connected(handle) => {
                let tcp = &mut net.sockets.tcp;
                return match tcp.state(handle)? {
                    State::SynSent | State::SynReceived => Err(Errno::EALREADY),
                    State::Closed => match tcp.take_error(handle)? {
                        Some(error) => Err(error.into()),
                        None => Err(Errno::EISCONN),
                    },
                    _ if !sock.connect_reported => {
                        sock.connect_reported = true;
                        Ok(())
                    }
                    _ => Err(Errno::EISCONN),
                };
            }
            TcpConn::Fresh => {}
        }
        let port = sock.bound.map_or(0, |b| b.port());
        let mut own = net.addrs;
        if let Some(bound) = sock.bound.filter(|b| !b.ip().is_unspecified()) {
            // Bound to one address: the connection leaves from it.
            own = LocalAddrs::from(Ipv4Addr::UNSPECIFIED);
            match bound.ip() {
                IpAddr::V4(v4) => own.ipv4 = v4,
                IpAddr::V6(v6) if v6.is_unicast_link_local() => own.link_local6 = Some(v6),
                IpAddr::V6(v6) => own.ipv6 = Some(v6),
            }
        }
        let family_ok = sock
            .bound
            .is_none_or(|bound| crate::addr::reaches(bound.ip(), sock.v6_only, addr.ip()));
        if !family_ok
            || own
                .source_for(addr.ip())
                .is_none_or(|ip| ip.is_unspecified())
        {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let handle = net
            .sockets
            .tcp
            .connect(net.now, addr, port, sock.options, own)?;
        sock.conn = TcpConn::Connected(handle);
        self.rewatch(net, fd);
        Err(Errno::EINPROGRESS)
    }

    /// `send` (TCP, or UDP to the connected peer).
    pub fn send(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        data: &[u8],
        _flags: u32,
    ) -> Result<usize, Errno> {
        match &mut self.slot(fd)?.kind {
            Kind::Tcp(sock) => match sock.conn {
                TcpConn::Connected(handle) => Ok(net.sockets.tcp.send(handle, data)?),
                // Linux: sending on a socket that is not connected is EPIPE.
                _ => Err(Errno::EPIPE),
            },
            Kind::Udp(handle) => {
                Ok(net
                    .sockets
                    .udp
                    .send_to(*handle, data, None, net.addrs, net.max_udp)?)
            }
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// `sendto`: UDP to `to` (or the connected peer); TCP ignores `to` if
    /// connected, as Linux does.
    pub fn send_to(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        data: &[u8],
        to: Option<SocketAddr>,
    ) -> Result<usize, Errno> {
        match &mut self.slot(fd)?.kind {
            Kind::Udp(handle) => {
                Ok(net
                    .sockets
                    .udp
                    .send_to(*handle, data, to, net.addrs, net.max_udp)?)
            }
            _ => self.send(net, fd, data, 0),
        }
    }

    /// `recv`: `Ok(0)` at end of stream; `MSG_PEEK` leaves the data.
    pub fn recv(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        buf: &mut [u8],
        flags: u32,
    ) -> Result<usize, Errno> {
        self.recv_from(net, fd, buf, flags).map(|(n, _)| n)
    }

    /// `recvfrom`: bytes and the sender (the peer, for TCP).
    pub fn recv_from(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        buf: &mut [u8],
        flags: u32,
    ) -> Result<(usize, Option<SocketAddr>), Errno> {
        let peek = flags & MSG_PEEK != 0;
        match &mut self.slot(fd)?.kind {
            Kind::Tcp(sock) => {
                let TcpConn::Connected(handle) = sock.conn else {
                    return Err(Errno::ENOTCONN);
                };
                let tcp = &mut net.sockets.tcp;
                let peer = tcp.peer_addr(handle).ok();
                if peek {
                    let n = tcp.peek(handle, buf)?;
                    if n > 0 || buf.is_empty() {
                        return Ok((n, peer));
                    }
                }
                match tcp.recv(handle, buf) {
                    Err(crate::tcp::TcpError::WouldBlock) if sock.shut_rd => Ok((0, peer)),
                    other => Ok((other?, peer)),
                }
            }
            Kind::Udp(handle) => {
                let (n, from) = if peek {
                    net.sockets.udp.peek_from(*handle, buf)?
                } else {
                    net.sockets.udp.recv_from(*handle, buf)?
                };
                Ok((n, Some(from)))
            }
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// Zero-copy `recv` on a TCP socket: `use_data` sees the received bytes
    /// in place (two slices, in order) and returns how many it is done
    /// with; those are consumed. `Ok(0)` at end of stream (`use_data` not
    /// called); `EOPNOTSUPP` on UDP.
    pub fn recv_in_place(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        use_data: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<usize, Errno> {
        match &mut self.slot(fd)?.kind {
            Kind::Tcp(sock) => {
                let TcpConn::Connected(handle) = sock.conn else {
                    return Err(Errno::ENOTCONN);
                };
                match net.sockets.tcp.recv_in_place(handle, use_data) {
                    Err(crate::tcp::TcpError::WouldBlock) if sock.shut_rd => Ok(0),
                    other => Ok(other?),
                }
            }
            Kind::Udp(_) => Err(Errno::EOPNOTSUPP),
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// Zero-copy `send` on a TCP socket: `fill` writes up to `max` bytes
    /// straight into the send buffer's free space (two slices) and returns
    /// how many it wrote; those are queued. `EOPNOTSUPP` on UDP.
    pub fn send_in_place(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        max: usize,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> usize,
    ) -> Result<usize, Errno> {
        match &mut self.slot(fd)?.kind {
            Kind::Tcp(sock) => match sock.conn {
                TcpConn::Connected(handle) => {
                    Ok(net.sockets.tcp.send_in_place(handle, max, fill)?)
                }
                _ => Err(Errno::EPIPE),
            },
            Kind::Udp(_) => Err(Errno::EOPNOTSUPP),
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// `shutdown`.
    pub fn shutdown(&mut self, net: &mut Net<'_>, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        let sock = self.tcp(fd)?;
        let TcpConn::Connected(handle) = sock.conn else {
            return Err(Errno::ENOTCONN);
        };
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            sock.shut_rd = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            net.sockets.tcp.shutdown(net.now, handle)?;
        }
        self.wake_fd(fd);
        Ok(())
    }

    /// `close`: the descriptor is freed at once and leaves every interest
    /// set; a TCP connection finishes gracefully (or with a RST under
    /// `SO_LINGER` 0, or with unread data); an epoll stops watching.
    pub fn close(&mut self, net: &mut Net<'_>, fd: Fd) -> Result<(), Errno> {
        let slot = self.slot(fd)?;
        let watchers = std::mem::take(&mut slot.watchers);
        let kind = match self.slots[fd as usize].take() {
            Some(slot) => slot.kind,
            None => return Err(Errno::EBADF),
        };
        self.free.push(Reverse(fd));
        for (epfd, _) in watchers {
            if let Ok(ep) = self.epoll(epfd) {
                let _ = ep.ctl(CtlOp::Del, fd, EpollEvent::default(), 0);
            }
        }
        match kind {
            Kind::Tcp(sock) => match sock.conn {
                TcpConn::Fresh => {}
                TcpConn::Listening(handle) | TcpConn::Connected(handle) => {
                    if sock.linger_zero {
                        net.sockets.tcp.abort(net.now, handle)?;
                    } else {
                        net.sockets.tcp.close(net.now, handle)?;
                    }
                }
            },
            Kind::Udp(handle) => {
                net.sockets.udp.close(handle)?;
            }
            Kind::Epoll(ep) => {
                for watched in ep.iter().flat_map(|ep| ep.watched_fds()) {
                    if let Ok(slot) = self.slot(watched) {
                        slot.watchers.retain(|&(w, _)| w != fd);
                        if slot.watchers.is_empty() {
                            self.set_watched(net, watched, false);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// `getsockname`.
    pub fn local_addr(&mut self, net: &mut Net<'_>, fd: Fd) -> Result<SocketAddr, Errno> {
        match &mut self.slot(fd)?.kind {
            Kind::Tcp(sock) => match sock.conn {
                TcpConn::Fresh => Ok(sock
                    .bound
                    .unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0))),
                TcpConn::Listening(h) | TcpConn::Connected(h) => {
                    Ok(net.sockets.tcp.local_addr(h)?)
                }
            },
            Kind::Udp(handle) => Ok(net.sockets.udp.local_addr(*handle)?),
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// `getpeername`.
    pub fn peer_addr(&mut self, net: &mut Net<'_>, fd: Fd) -> Result<SocketAddr, Errno> {
        match &mut self.slot(fd)?.kind {
            Kind::Tcp(sock) => match sock.conn {
                TcpConn::Connected(h) => Ok(net.sockets.tcp.peer_addr(h)?),
                _ => Err(Errno::ENOTCONN),
            },
            Kind::Udp(handle) => Ok(net.sockets.udp.peer_addr(*handle)?),
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    // ---- epoll ----------------------------------------------------------

    /// `epoll_create`.
    pub fn epoll_create(&mut self) -> Result<Fd, Errno> {
        self.insert(Kind::Epoll(Some(Box::default())))
    }

    /// The epoll `epfd` is (EINVAL if it is another kind of descriptor).
    fn epoll(&mut self, epfd: Fd) -> Result<&mut Epoll, Errno> {
        match &mut self.slot(epfd)?.kind {
            Kind::Epoll(Some(ep)) => Ok(ep),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `epoll_ctl`.
    pub fn epoll_ctl(
        &mut self,
        net: &mut Net<'_>,
        epfd: Fd,
        op: CtlOp,
        fd: Fd,
        event: EpollEvent,
    ) -> Result<(), Errno> {
        self.epoll(epfd)?;
        match self.slot(fd)?.kind {
            // Nesting epolls is not supported (Linux allows it).
            Kind::Epoll(_) => return Err(Errno::EINVAL),
            _ if fd == epfd => return Err(Errno::EINVAL),
            _ => {}
        }
        let current = self.readiness(net, fd);
        let watch = self.epoll(epfd)?.ctl(op, fd, event, current)?;
        let slot = self.slot(fd)?;
        match (op, watch) {
            (CtlOp::Add, Some(watch)) => slot.watchers.push((epfd, watch)),
            (CtlOp::Del, _) => slot.watchers.retain(|&(w, _)| w != epfd),
            _ => {}
        }
        let watched = !slot.watchers.is_empty();
        self.set_watched(net, fd, watched);
        Ok(())
    }

    /// `epoll_wait` without blocking: takes the readiness changes the
    /// transport tables noted, then collects the ready events into `out`.
    pub fn epoll_collect(
        &mut self,
        net: &mut Net<'_>,
        epfd: Fd,
        out: &mut [EpollEvent],
    ) -> Result<usize, Errno> {
        if out.is_empty() {
            self.epoll(epfd)?;
            return Err(Errno::EINVAL);
        }
        self.dispatch_wakeups(net);
        let boxed = match &mut self.slot(epfd)?.kind {
            Kind::Epoll(boxed @ Some(_)) => boxed,
            _ => return Err(Errno::EINVAL),
        };
        // Most waits of a busy loop find nothing: answer those without
        // lifting the epoll out of the table.
        if !boxed.as_ref().is_some_and(|ep| ep.has_ready()) {
            return Ok(0);
        }
        // Lift the epoll out (a pointer's move) so it can ask the table
        // for the readiness of what it watches.
        let mut ep = boxed.take().expect("matched above");
        let n = ep.collect(out, |fd| self.readiness(net, fd));
        if let Ok(Slot {
            kind: Kind::Epoll(boxed),
            ..
        }) = self.slot(epfd)
        {
            *boxed = Some(ep);
        }
        Ok(n)
    }

    /// Delivers the transport tables' readiness changes to every epoll
    /// watching the sockets concerned.
    pub fn dispatch_wakeups(&mut self, net: &mut Net<'_>) {
        if !net.sockets.tcp.has_wakeups() && !net.sockets.udp.has_wakeups() {
            return;
        }
        let mut fds = std::mem::take(&mut self.wake_fds);
        net.sockets.tcp.take_wakeups(&mut fds);
        net.sockets.udp.take_wakeups(&mut fds);
        for &fd in &fds {
            self.wake_fd(fd as Fd);
        }
        fds.clear();
        self.wake_fds = fds;
    }

    /// Wakes `fd`'s item in every epoll watching it (each wait re-checks
    /// the readiness of what it collects).
    fn wake_fd(&mut self, fd: Fd) {
        let Ok(slot) = self.slot(fd) else { return };
        if slot.watchers.is_empty() {
            return;
        }
        let watchers = std::mem::take(&mut slot.watchers);
        for (epfd, watch) in &watchers {
            if let Ok(ep) = self.epoll(*epfd) {
                ep.wake(watch);
            }
        }
        if let Ok(slot) = self.slot(fd) {
            slot.watchers = watchers;
        }
    }

    /// After a socket got a transport handle (listen, connect): keeps the
    /// table's watched flag in line with the descriptor's watchers.
    fn rewatch(&mut self, net: &mut Net<'_>, fd: Fd) {
        let watched = self.slot(fd).is_ok_and(|s| !s.watchers.is_empty());
        if watched {
            self.set_watched(net, fd, true);
            self.wake_fd(fd);
        }
    }

    fn set_watched(&mut self, net: &mut Net<'_>, fd: Fd, watched: bool) {
        let Ok(slot) = self.slot(fd) else { return };
        match &slot.kind {
            Kind::Tcp(TcpSock {
                conn: TcpConn::Listening(h) | TcpConn::Connected(h),
                ..
            }) => {
                let _ = net
                    .sockets
                    .tcp
                    .set_watched(*h, watched.then_some(fd as u32));
            }
            Kind::Udp(h) => {
                let _ = net
                    .sockets
                    .udp
                    .set_watched(*h, watched.then_some(fd as u32));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
