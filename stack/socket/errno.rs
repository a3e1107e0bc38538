//! POSIX error numbers, with Linux's values, for the socket and epoll calls.

use crate::tcp::TcpError;
use crate::udp::UdpError;
use std::fmt;

/// An error of a socket or epoll call, named and numbered as on Linux.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Errno {
    /// No such entry (epoll_ctl MOD/DEL of an unwatched descriptor).
    ENOENT = 2,
    /// Not an open descriptor.
    EBADF = 9,
    /// The call would block.
    EAGAIN = 11,
    /// Already there (epoll_ctl ADD twice).
    EEXIST = 17,
    /// Invalid argument or state.
    EINVAL = 22,
    /// The descriptor table is full.
    EMFILE = 24,
    /// Sending on a connection shut for writing.
    EPIPE = 32,
    /// The descriptor is not a socket.
    ENOTSOCK = 88,
    /// No destination for an unconnected datagram socket.
    EDESTADDRREQ = 89,
    /// The datagram is too long.
    EMSGSIZE = 90,
    /// Unknown socket option.
    ENOPROTOOPT = 92,
    /// Operation not supported by this socket type.
    EOPNOTSUPP = 95,
    /// Address in use.
    EADDRINUSE = 98,
    /// Address not available.
    EADDRNOTAVAIL = 99,
    /// Network unreachable.
    ENETUNREACH = 101,
    /// Connection reset by the peer.
    ECONNRESET = 104,
    /// No buffer space.
    ENOBUFS = 105,
    /// Already connected.
    EISCONN = 106,
    /// Not connected.
    ENOTCONN = 107,
    /// The stack has stopped: a call through a `StackHandle` whose stack
    /// thread has ended (Linux: "cannot send after transport endpoint
    /// shutdown").
    ESHUTDOWN = 108,
    /// Connection timed out.
    ETIMEDOUT = 110,
    /// Connection refused.
    ECONNREFUSED = 111,
    /// Host unreachable.
    EHOSTUNREACH = 113,
    /// A connect is already in progress.
    EALREADY = 114,
    /// A non-blocking connect started; completion shows as writable.
    EINPROGRESS = 115,
}

impl Errno {
    /// The number Linux uses.
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Errno {}

impl From<TcpError> for Errno {
    fn from(e: TcpError) -> Errno {
        match e {
            TcpError::WouldBlock => Errno::EAGAIN,
            TcpError::ConnectionRefused => Errno::ECONNREFUSED,
            TcpError::ConnectionReset => Errno::ECONNRESET,
            TcpError::TimedOut => Errno::ETIMEDOUT,
            TcpError::BrokenPipe => Errno::EPIPE,
            TcpError::NotConnected => Errno::ENOTCONN,
            TcpError::AddrInUse => Errno::EADDRINUSE,
            TcpError::AddrNotAvailable => Errno::EADDRNOTAVAIL,
            TcpError::BadHandle => Errno::EBADF,
            TcpError::InvalidState => Errno::EINVAL,
            TcpError::AlreadyConnected => Errno::EISCONN,
            TcpError::NetworkUnreachable => Errno::ENETUNREACH,
            TcpError::HostUnreachable => Errno::EHOSTUNREACH,
            TcpError::NoBuffers => Errno::ENOBUFS,
        }
    }
}

impl From<UdpError> for Errno {
    fn from(e: UdpError) -> Errno {
        match e {
            UdpError::WouldBlock => Errno::EAGAIN,
            UdpError::AddrInUse => Errno::EADDRINUSE,
            UdpError::AddrNotAvailable => Errno::EADDRNOTAVAIL,
            UdpError::AlreadyBound => Errno::EINVAL,
            UdpError::BadHandle => Errno::EBADF,
            UdpError::MessageTooLong => Errno::EMSGSIZE,
            UdpError::DestinationRequired => Errno::EDESTADDRREQ,
            UdpError::NotConnected => Errno::ENOTCONN,
            UdpError::ConnectionRefused => Errno::ECONNREFUSED,
            UdpError::HostUnreachable => Errno::EHOSTUNREACH,
            UdpError::NetworkUnreachable => Errno::ENETUNREACH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_linux_numbers() {
        assert_eq!(Errno::EAGAIN.code(), libc::EAGAIN);
        assert_eq!(Errno::EINPROGRESS.code(), libc::EINPROGRESS);
        assert_eq!(Errno::ECONNRESET.code(), libc::ECONNRESET);
        assert_eq!(Errno::ENOTSOCK.code(), libc::ENOTSOCK);
        assert_eq!(Errno::EEXIST.code(), libc::EEXIST);
        assert_eq!(Errno::EALREADY.code(), libc::EALREADY);
        assert_eq!(Errno::ENOPROTOOPT.code(), libc::ENOPROTOOPT);
        assert_eq!(Errno::EMFILE.code(), libc::EMFILE);
        assert_eq!(Errno::from(TcpError::BrokenPipe), Errno::EPIPE);
        assert_eq!(Errno::EBADF.to_string(), "EBADF");
    }
}
