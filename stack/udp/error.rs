//! Errors of UDP socket calls. Each names the POSIX errno a socket layer
//! maps it to.

use std::fmt;

/// Why a UDP socket call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpError {
    /// Nothing to receive, or the send queue is full (`EAGAIN`).
    WouldBlock,
    /// The local port is taken (`EADDRINUSE`).
    AddrInUse,
    /// The address is not this host's, or the peer is unusable (`EADDRNOTAVAIL`).
    AddrNotAvailable,
    /// The socket is already bound (`EINVAL`).
    AlreadyBound,
    /// The handle names no open socket (`EBADF`).
    BadHandle,
    /// Datagram larger than 65,507 bytes, or than one frame with DF set (`EMSGSIZE`).
    MessageTooLong,
    /// `send` without a destination on an unconnected socket (`EDESTADDRREQ`).
    DestinationRequired,
    /// The socket is not connected (`ENOTCONN`).
    NotConnected,
    /// The peer's host answered port unreachable (`ECONNREFUSED`).
    ConnectionRefused,
    /// The peer's host is unreachable (`EHOSTUNREACH`).
    HostUnreachable,
    /// The peer's network is unreachable (`ENETUNREACH`).
    NetworkUnreachable,
}

impl UdpError {
    /// The POSIX errno name this error stands for.
    pub fn errno_name(self) -> &'static str {
        match self {
            UdpError::WouldBlock => "EAGAIN",
            UdpError::AddrInUse => "EADDRINUSE",
            UdpError::AddrNotAvailable => "EADDRNOTAVAIL",
            UdpError::AlreadyBound => "EINVAL",
            UdpError::BadHandle => "EBADF",
            UdpError::MessageTooLong => "EMSGSIZE",
            UdpError::DestinationRequired => "EDESTADDRREQ",
            UdpError::NotConnected => "ENOTCONN",
            UdpError::ConnectionRefused => "ECONNREFUSED",
            UdpError::HostUnreachable => "EHOSTUNREACH",
            UdpError::NetworkUnreachable => "ENETUNREACH",
        }
    }
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.errno_name())
    }
}

impl std::error::Error for UdpError {}
