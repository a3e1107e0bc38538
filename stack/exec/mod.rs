//! async/await on the stack: an executor that runs inside one stack's poll
//! loop (one per lcore, no extra thread), and futures for TCP and UDP
//! sockets and timers on the stack's clock, so a server is written as
//! straight-line code instead of callbacks.
//!
//! Every socket made through a [`Handle`] is watched, edge-triggered, by
//! one epoll descriptor of the executor's. A future that meets `EAGAIN`
//! leaves its waker with the socket and returns `Pending`; the executor
//! turns the stack (`epoll_wait`), and the readiness callbacks that feed
//! that epoll name the sockets that changed, whose wakers it wakes. A turn
//! therefore costs what is ready, never a poll of every task.
//! [`TcpStream`] implements `futures-io`'s `AsyncRead` and `AsyncWrite`,
//! so the ecosystem's codecs and helpers work on it.
//!
//! ```
//! use dpstack::device::pipe::PipeConfig;
//! use dpstack::exec::{Runtime, TcpListener, TcpStream};
//! use dpstack::runtime::{pipe_stacks, StackConfig};
//! use dpstack::time::MonotonicClock;
//! use futures_util::{AsyncReadExt, AsyncWriteExt};
//! use std::net::{Ipv4Addr, SocketAddrV4};
//!
//! let (server, client) = pipe_stacks(
//!     StackConfig::seeded(Ipv4Addr::new(10, 0, 0, 1), 24, 1),
//!     StackConfig::seeded(Ipv4Addr::new(10, 0, 0, 2), 24, 2),
//!     MonotonicClock::new(),
//!     &PipeConfig::default(),
//! );
//! // Two stacks on one thread: the client's runtime turns the server's
//! // stack too, by running it as a task of its own.
//! let server_rt = Runtime::new(server).unwrap();
//! let server_handle = server_rt.handle();
//! let mut client_rt = Runtime::new(client).unwrap();
//! let client_handle = client_rt.handle();
//! let address = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 7);
//! let listener = TcpListener::bind(&server_handle, address, 16).unwrap();
//! server_handle.spawn(async move {
//!     let (mut stream, _) = listener.accept().await.unwrap();
//!     let mut buf = [0u8; 64];
//!     let n = stream.read(&mut buf).await.unwrap();
//!     stream.write_all(&buf[..n]).await.unwrap();
//! });
//! client_handle.spawn_runtime(server_rt);
//! let echoed = client_rt.block_on(async move {
//!     let mut stream = TcpStream::connect(&client_handle, address).await.unwrap();
//!     stream.write_all(b"hello").await.unwrap();
//!     let mut buf = [0u8; 5];
//!     stream.read_exact(&mut buf).await.unwrap();
//!     buf
//! });
//! assert_eq!(&echoed, b"hello");
//! ```

mod net;
mod runtime;

pub use net::{TcpListener, TcpStream, UdpSocket};
pub use runtime::{sleep, Handle, Runtime, Sleep};
