//! Errors of TCP calls. Each names the POSIX errno a socket layer maps it to.

use std::fmt;

/// Why a TCP call failed, or why a connection ended abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpError {
    /// Nothing to receive, no room to send, or nothing to accept yet (`EAGAIN`).
    WouldBlock,
    /// The peer answered the SYN with a reset (`ECONNREFUSED`).
    ConnectionRefused,
    /// The peer reset an established connection (`ECONNRESET`).
    ConnectionReset,
    /// Retransmissions went unanswered (`ETIMEDOUT`).
    TimedOut,
    /// Sending after this side shut down writing, or on a dead connection (`EPIPE`).
    BrokenPipe,
    /// The socket is not connected (`ENOTCONN`).
    NotConnected,
    /// The local address is taken (`EADDRINUSE`).
    AddrInUse,
    /// The address is not this host's, or no ephemeral port is free (`EADDRNOTAVAIL`).
    AddrNotAvailable,
    /// The handle names no open socket (`EBADF`).
    BadHandle,
    /// The call does not apply in the socket's state (`EINVAL`).
    InvalidState,
    /// The socket is already connected or connecting (`EISCONN`).
    AlreadyConnected,
    /// No route leads to the peer (`ENETUNREACH`).
    NetworkUnreachable,
    /// The peer's host cannot be reached (`EHOSTUNREACH`): an ICMP error.
    HostUnreachable,
    /// The stack's connection table is full (`ENOBUFS`).
    NoBuffers,
}

impl TcpError {
    /// The POSIX errno name this error stands for.
    pub fn errno_name(self) -> &'static str {
        match self {
            TcpError::WouldBlock => "EAGAIN",
            TcpError::ConnectionRefused => "ECONNREFUSED",
            TcpError::ConnectionReset => "ECONNRESET",
            TcpError::TimedOut => "ETIMEDOUT",
            TcpError::BrokenPipe => "EPIPE",
            TcpError::NotConnected => "ENOTCONN",
            TcpError::AddrInUse => "EADDRINUSE",
            TcpError::AddrNotAvailable => "EADDRNOTAVAIL",
            TcpError::BadHandle => "EBADF",
            TcpError::InvalidState => "EINVAL",
            TcpError::AlreadyConnected => "EISCONN",
            TcpError::NetworkUnreachable => "ENETUNREACH",
            TcpError::HostUnreachable => "EHOSTUNREACH",
            TcpError::NoBuffers => "ENOBUFS",
        }
    }
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.errno_name())
    }
}

impl std::error::Error for TcpError {}
