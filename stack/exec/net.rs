//! TCP and UDP sockets as futures. Each owns its descriptor (closed on
//! drop) and parks its task on the socket's readiness when a call would
//! block.

use super::runtime::{Handle, Shared};
use crate::socket::{Errno, Fd, SockType};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

fn io_error(errno: Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.code())
}

/// An owned, watched descriptor.
struct Socket {
    shared: Rc<Shared>,
    fd: Fd,
}

impl Socket {
    /// A new descriptor, not watched yet: readiness is tracked once it is
    /// a listener, a connection or a bound UDP socket, so [`watch`] comes
    /// after `listen`, `connect` or `bind`.
    ///
    /// [`watch`]: Socket::watch
    fn new(handle: &Handle, kind: SockType) -> Result<Socket, Errno> {
        let shared = handle.shared.clone();
        let fd = shared.with(|s| s.socket(kind))?;
        Ok(Socket { shared, fd })
    }

    fn watch(&self) -> Result<(), Errno> {
        self.shared.watch(self.fd)
    }

    fn adopt(shared: Rc<Shared>, fd: Fd) -> Result<Socket, Errno> {
        let socket = Socket { shared, fd };
        socket.shared.watch(fd)?;
        Ok(socket)
    }

    /// Runs `call`; on EAGAIN parks the task until the socket is readable
    /// (`write`: writable).
    fn poll_call<T>(
        &self,
        cx: &mut Context<'_>,
        write: bool,
        call: impl FnOnce(&mut dyn super::runtime::SocketCalls, Fd) -> Result<T, Errno>,
    ) -> Poll<Result<T, Errno>> {
        let fd = self.fd;
        match self.shared.with(|s| call(s, fd)) {
            Err(Errno::EAGAIN) => {
                self.shared.wait(fd, write, cx.waker());
                Poll::Pending
            }
            other => Poll::Ready(other),
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.shared.forget(self.fd);
        let fd = self.fd;
        // Closing a socket that already failed only frees the descriptor.
        let _ = self.shared.with(|s| s.close(fd));
    }
}

/// A listening TCP socket.
pub struct TcpListener {
    socket: Socket,
}

impl TcpListener {
    /// `socket`, `bind` and `listen` on `address`.
    pub fn bind(
        handle: &Handle,
        address: impl Into<SocketAddr>,
        backlog: usize,
    ) -> Result<Self, Errno> {
        let address = address.into();
        let socket = Socket::new(handle, SockType::Stream)?;
        let fd = socket.fd;
        socket.shared.with(|s| {
            s.bind(fd, address)?;
            s.listen(fd, backlog)
        })?;
        socket.watch()?;
        Ok(TcpListener { socket })
    }

    /// Takes over `fd`, a listening socket made on the stack before it
    /// went to the runtime.
    pub fn from_fd(handle: &Handle, fd: Fd) -> Result<Self, Errno> {
        Ok(TcpListener {
            socket: Socket::adopt(handle.shared.clone(), fd)?,
        })
    }

    /// The next connection, and its peer.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr), Errno> {
        let (fd, peer) =
            poll_fn(|cx| self.socket.poll_call(cx, false, |s, fd| s.accept(fd))).await?;
        let socket = Socket::adopt(self.socket.shared.clone(), fd)?;
        Ok((TcpStream { socket }, peer))
    }

    /// The descriptor.
    pub fn fd(&self) -> Fd {
        self.socket.fd
    }
}

/// A TCP connection: `AsyncRead` and `AsyncWrite` (`futures-io`).
pub struct TcpStream {
    socket: Socket,
}

impl TcpStream {
    /// Connects to `address`; ready once the handshake completes (or fails).
    pub async fn connect(
        handle: &Handle,
        address: impl Into<SocketAddr>,
    ) -> Result<TcpStream, Errno> {
        let address = address.into();
        let socket = Socket::new(handle, SockType::Stream)?;
        let fd = socket.fd;
        match socket.shared.with(|s| s.connect(fd, address)) {
            Ok(()) => {
                socket.watch()?;
                return Ok(TcpStream { socket });
            }
            Err(Errno::EINPROGRESS) => socket.watch()?,
            Err(e) => return Err(e),
        }
        // Writable once connected; SO_ERROR says how it went.
        poll_fn(|cx| {
            let outcome = socket.shared.with(|s| s.take_error(fd));
            match outcome {
                Ok(0) => match socket.shared.with(|s| s.connect(fd, address)) {
                    Ok(()) | Err(Errno::EISCONN) => Poll::Ready(Ok(())),
                    Err(Errno::EALREADY) | Err(Errno::EINPROGRESS) => {
                        socket.shared.wait(fd, true, cx.waker());
                        Poll::Pending
                    }
                    Err(e) => Poll::Ready(Err(e)),
                },
                Ok(code) => Poll::Ready(Err(errno_of(code))),
                Err(e) => Poll::Ready(Err(e)),
            }
        })
        .await?;
        Ok(TcpStream { socket })
    }

    /// The descriptor.
    pub fn fd(&self) -> Fd {
        self.socket.fd
    }

    /// Reads what has arrived, waiting until something has; 0 at end of
    /// stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        poll_fn(|cx| self.socket.poll_call(cx, false, |s, fd| s.recv(fd, buf))).await
    }

    /// Writes all of `data`, waiting for room in the send buffer as needed.
    pub async fn write_all(&mut self, data: &[u8]) -> Result<(), Errno> {
        let mut sent = 0;
        while sent < data.len() {
            let rest = &data[sent..];
            sent += poll_fn(|cx| self.socket.poll_call(cx, true, |s, fd| s.send(fd, rest))).await?;
        }
        Ok(())
    }
}

/// The `Errno` whose code `SO_ERROR` gave.
fn errno_of(code: i64) -> Errno {
    use Errno::*;
    [
        ECONNREFUSED,
        ECONNRESET,
        ETIMEDOUT,
        EHOSTUNREACH,
        ENETUNREACH,
        EPIPE,
    ]
    .into_iter()
    .find(|e| i64::from(e.code()) == code)
    .unwrap_or(ECONNREFUSED)
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.socket
            .poll_call(cx, false, |s, fd| s.recv(fd, buf))
            .map_err(io_error)
    }
}

impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.socket
            .poll_call(cx, true, |s, fd| s.send(fd, buf))
            .map_err(io_error)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written data is the stack's at once: nothing is held here.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let fd = self.socket.fd;
        Poll::Ready(
            self.socket
                .shared
                .with(|s| s.shutdown_write(fd))
                .map_err(io_error),
        )
    }
}

/// A UDP socket.
pub struct UdpSocket {
    socket: Socket,
}

impl UdpSocket {
    /// A socket bound to `address` (port 0: ephemeral).
    pub fn bind(handle: &Handle, address: impl Into<SocketAddr>) -> Result<UdpSocket, Errno> {
        let address = address.into();
        let socket = Socket::new(handle, SockType::Dgram)?;
        let fd = socket.fd;
        socket.shared.with(|s| s.bind(fd, address))?;
        socket.watch()?;
        Ok(UdpSocket { socket })
    }

    /// Takes over `fd`, a bound UDP socket made on the stack before it
    /// went to the runtime.
    pub fn from_fd(handle: &Handle, fd: Fd) -> Result<UdpSocket, Errno> {
        Ok(UdpSocket {
            socket: Socket::adopt(handle.shared.clone(), fd)?,
        })
    }

    /// Sends one datagram to `to`.
    pub async fn send_to(&self, data: &[u8], to: impl Into<SocketAddr>) -> Result<usize, Errno> {
        let to = to.into();
        poll_fn(|cx| {
            self.socket
                .poll_call(cx, true, |s, fd| s.send_to(fd, data, to))
        })
        .await
    }

    /// Receives one datagram: its length (truncated to `buf`) and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), Errno> {
        poll_fn(|cx| {
            self.socket
                .poll_call(cx, false, |s, fd| s.recv_from(fd, buf))
        })
        .await
    }
}
