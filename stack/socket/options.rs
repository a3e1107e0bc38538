//! `setsockopt`/`getsockopt`: the options a user of a production stack
//! reaches for, typed instead of (level, name, void*) triples.

use super::{Errno, FdTable, Kind, Net, TcpConn, TcpSock};
use crate::socket::Fd;
use crate::tcp::congestion::Algorithm;
use crate::time::Duration;

/// Puts a socket's keepalive settings in force (now, if it is connected;
/// at listen/connect otherwise).
fn apply_keepalive(net: &mut Net<'_>, sock: &mut TcpSock) -> Result<(), Errno> {
    sock.options.keepalive = sock.keepalive.then_some(sock.keep_settings);
    if let TcpConn::Connected(handle) = sock.conn {
        net.sockets
            .tcp
            .set_keepalive(net.now, handle, sock.options.keepalive)?;
    }
    Ok(())
}

/// An option and the value to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOpt {
    /// `SO_REUSEADDR` (recorded; ports are not held after close here, so it
    /// changes nothing yet).
    ReuseAddr(bool),
    /// `SO_KEEPALIVE`: probe an idle connection, fail it with ETIMEDOUT
    /// when the peer stays silent.
    KeepAlive(bool),
    /// `TCP_KEEPIDLE`: seconds of silence before the first probe (at least 1).
    KeepIdle(u32),
    /// `TCP_KEEPINTVL`: seconds between probes (at least 1).
    KeepIntvl(u32),
    /// `TCP_KEEPCNT`: unanswered probes before giving up (at least 1).
    KeepCnt(u32),
    /// `SO_LINGER`: `Some(0)` makes close abort with a RST; other values
    /// close gracefully in the background.
    Linger(Option<u32>),
    /// `SO_RCVBUF` in bytes (TCP: before listen/connect).
    RcvBuf(usize),
    /// `SO_SNDBUF` in bytes (TCP: before listen/connect).
    SndBuf(usize),
    /// `TCP_NODELAY`.
    NoDelay(bool),
    /// `TCP_CONGESTION`: the congestion-control algorithm.
    Congestion(Algorithm),
    /// `SO_RCVTIMEO`: how long a receive or accept through a `StackHandle`
    /// waits; zero: no limit (as Linux reads a zero `timeval`).
    RcvTimeo(Duration),
    /// `SO_SNDTIMEO`: how long a send or connect through a `StackHandle`
    /// waits; zero: no limit.
    SndTimeo(Duration),
    /// `IPV6_V6ONLY`: a socket bound to `[::]` takes IPv6 only (off by
    /// default: dual stack, as Linux's `bindv6only=0`). Set before
    /// `listen` or `connect` (TCP) or before binding (UDP).
    V6Only(bool),
}

/// An option to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOptName {
    /// `SO_ERROR`: the pending error (taken), 0 if none.
    Error,
    /// `SO_REUSEADDR`.
    ReuseAddr,
    /// `SO_KEEPALIVE`.
    KeepAlive,
    /// `TCP_KEEPIDLE`, in seconds.
    KeepIdle,
    /// `TCP_KEEPINTVL`, in seconds.
    KeepIntvl,
    /// `TCP_KEEPCNT`.
    KeepCnt,
    /// `SO_RCVBUF`.
    RcvBuf,
    /// `SO_SNDBUF`.
    SndBuf,
    /// `TCP_NODELAY`.
    NoDelay,
    /// `SO_TYPE`: 1 for stream, 2 for datagram.
    Type,
    /// `SO_RCVTIMEO`, in microseconds (0: no limit).
    RcvTimeo,
    /// `SO_SNDTIMEO`, in microseconds (0: no limit).
    SndTimeo,
    /// `IPV6_V6ONLY`.
    V6Only,
}

impl FdTable {
    /// `getsockopt(TCP_CONGESTION)`: the algorithm of a TCP socket.
    pub fn congestion(&mut self, fd: Fd) -> Result<Algorithm, Errno> {
        match &self.slot(fd)?.kind {
            Kind::Tcp(sock) => Ok(sock.options.congestion),
            Kind::Udp(_) => Err(Errno::EOPNOTSUPP),
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
        }
    }

    /// `setsockopt`.
    pub fn set_option(&mut self, net: &mut Net<'_>, fd: Fd, option: SockOpt) -> Result<(), Errno> {
        let slot = self.slot(fd)?;
        if let SockOpt::RcvTimeo(timeout) | SockOpt::SndTimeo(timeout) = option {
            if let Kind::Epoll(_) = slot.kind {
                return Err(Errno::ENOTSOCK);
            }
            let limit = (timeout != Duration::ZERO).then_some(timeout);
            if let SockOpt::RcvTimeo(_) = option {
                slot.blocking.recv_timeout = limit;
            } else {
                slot.blocking.send_timeout = limit;
            }
            return Ok(());
        }
        let sock = match &mut slot.kind {
            Kind::Tcp(sock) => sock,
            Kind::Udp(handle) => {
                return match option {
                    SockOpt::ReuseAddr(_) | SockOpt::RcvBuf(_) | SockOpt::SndBuf(_) => Ok(()),
                    SockOpt::V6Only(on) => Ok(net.sockets.udp.set_v6_only(*handle, on)?),
                    SockOpt::Congestion(_) => Err(Errno::EOPNOTSUPP),
                    _ => Err(Errno::ENOPROTOOPT),
                }
            }
            Kind::Epoll(_) => return Err(Errno::ENOTSOCK),
        };
        match option {
            SockOpt::ReuseAddr(on) => sock.reuse_addr = on,
            SockOpt::KeepAlive(on) => {
                sock.keepalive = on;
                return apply_keepalive(net, sock);
            }
            SockOpt::KeepIdle(secs) | SockOpt::KeepIntvl(secs) | SockOpt::KeepCnt(secs)
                if secs == 0 || secs > 32_767 =>
            {
                return Err(Errno::EINVAL);
            }
            SockOpt::KeepIdle(secs) => {
                sock.keep_settings.idle = Duration::from_secs(u64::from(secs));
                return apply_keepalive(net, sock);
            }
            SockOpt::KeepIntvl(secs) => {
                sock.keep_settings.interval = Duration::from_secs(u64::from(secs));
                return apply_keepalive(net, sock);
            }
            SockOpt::KeepCnt(count) => {
                sock.keep_settings.count = count;
                return apply_keepalive(net, sock);
            }
            SockOpt::Linger(timeout) => sock.linger_zero = timeout == Some(0),
            SockOpt::V6Only(_) if sock.conn != TcpConn::Fresh => return Err(Errno::EINVAL),
            SockOpt::V6Only(on) => sock.v6_only = on,
            SockOpt::RcvBuf(bytes) | SockOpt::SndBuf(bytes) => {
                if sock.conn != TcpConn::Fresh {
                    // Buffers are fixed once the connection exists.
                    return Err(Errno::EINVAL);
                }
                if let SockOpt::RcvBuf(_) = option {
                    sock.options.recv_buffer = bytes;
                } else {
                    sock.options.send_buffer = bytes;
                }
            }
            SockOpt::Congestion(algorithm) => {
                sock.options.congestion = algorithm;
                if let TcpConn::Connected(handle) = sock.conn {
                    net.sockets.tcp.set_congestion(handle, algorithm)?;
                }
            }
            // Kept in the descriptor's slot, for every kind, above.
            SockOpt::RcvTimeo(_) | SockOpt::SndTimeo(_) => {}
            SockOpt::NoDelay(on) => {
                sock.options.nodelay = on;
                if let TcpConn::Connected(handle) = sock.conn {
                    net.sockets.tcp.set_nodelay(handle, on)?;
                }
            }
        }
        Ok(())
    }

    /// `getsockopt`, as an integer.
    pub fn get_option(
        &mut self,
        net: &mut Net<'_>,
        fd: Fd,
        name: SockOptName,
    ) -> Result<i64, Errno> {
        let slot = self.slot(fd)?;
        let micros = |limit: Option<Duration>| limit.map_or(0, |d| (d.as_nanos() / 1_000) as i64);
        let (recv_timeout, send_timeout) = (
            micros(slot.blocking.recv_timeout),
            micros(slot.blocking.send_timeout),
        );
        match &mut slot.kind {
            Kind::Epoll(_) => Err(Errno::ENOTSOCK),
            Kind::Udp(handle) => match name {
                SockOptName::Error => Ok(net
                    .sockets
                    .udp
                    .take_error(*handle)?
                    .map_or(0, |e| Errno::from(e).code() as i64)),
                SockOptName::Type => Ok(2),
                SockOptName::ReuseAddr => Ok(0),
                SockOptName::V6Only => Ok(net.sockets.udp.v6_only(*handle)? as i64),
                SockOptName::RcvTimeo => Ok(recv_timeout),
                SockOptName::SndTimeo => Ok(send_timeout),
                _ => Err(Errno::ENOPROTOOPT),
            },
            Kind::Tcp(sock) => Ok(match name {
                SockOptName::Error => match sock.conn {
                    TcpConn::Connected(handle) => net
                        .sockets
                        .tcp
                        .take_error(handle)?
                        .map_or(0, |e| Errno::from(e).code() as i64),
                    _ => 0,
                },
                SockOptName::ReuseAddr => sock.reuse_addr as i64,
                SockOptName::V6Only => sock.v6_only as i64,
                SockOptName::KeepAlive => sock.keepalive as i64,
                SockOptName::KeepIdle => {
                    (sock.keep_settings.idle.as_nanos() / 1_000_000_000) as i64
                }
                SockOptName::KeepIntvl => {
                    (sock.keep_settings.interval.as_nanos() / 1_000_000_000) as i64
                }
                SockOptName::KeepCnt => i64::from(sock.keep_settings.count),
                SockOptName::RcvBuf => sock.options.recv_buffer as i64,
                SockOptName::SndBuf => sock.options.send_buffer as i64,
                SockOptName::NoDelay => sock.options.nodelay as i64,
                SockOptName::Type => 1,
                SockOptName::RcvTimeo => recv_timeout,
                SockOptName::SndTimeo => send_timeout,
            }),
        }
    }
}
