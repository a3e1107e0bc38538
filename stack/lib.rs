//! dpstack: a userspace TCP/IP stack over DPDK.
//!
//! Poll-mode NIC queues feed a sans-IO protocol core (Ethernet, ARP, IPv4,
//! ICMP, UDP, TCP); applications use it through POSIX-like sockets and an
//! epoll-like API on descriptors. The same stack runs over a DPDK port, a
//! Linux TAP, pcap files or an in-memory pipe, so everything can be tried
//! and tested without a NIC.
//!
//! A [`runtime::Stack`] owns a device, a clock and the protocol state;
//! [`runtime::Stack::poll`] is one turn of its loop, and the socket calls
//! (`socket`, `bind`, `listen`, `accept`, `connect`, `send`, `recv`,
//! `epoll_*`) are its methods, non-blocking as in run-to-completion
//! servers. An echo server and a client on two stacks joined by a pipe,
//! the server accepting and reading through epoll:
//!
//! ```
//! use dpstack::device::pipe::PipeConfig;
//! use dpstack::epoll::{CtlOp, EpollEvent, EPOLLIN};
//! use dpstack::runtime::{pipe_stacks, StackConfig};
//! use dpstack::socket::{Errno, SockType};
//! use dpstack::time::{Duration, MonotonicClock};
//! use std::net::{Ipv4Addr, SocketAddrV4};
//!
//! let server_ip = Ipv4Addr::new(10, 0, 0, 1);
//! let (mut server, mut client) = pipe_stacks(
//!     StackConfig::seeded(server_ip, 24, 1),
//!     StackConfig::seeded(Ipv4Addr::new(10, 0, 0, 2), 24, 2),
//!     MonotonicClock::new(),
//!     &PipeConfig::default(),
//! );
//!
//! // The server: a listener watched by an epoll descriptor.
//! let listener = server.socket(SockType::Stream)?;
//! server.bind(listener, SocketAddrV4::new(server_ip, 7))?;
//! server.listen(listener, 128)?;
//! let epoll = server.epoll_create()?;
//! let watch = |fd: i32| EpollEvent { events: EPOLLIN, data: fd as u64 };
//! server.epoll_ctl(epoll, CtlOp::Add, listener, watch(listener))?;
//!
//! // The client connects and sends; its stack turns while the server's does.
//! let conn = client.socket(SockType::Stream)?;
//! assert_eq!(client.connect(conn, SocketAddrV4::new(server_ip, 7)), Err(Errno::EINPROGRESS));
//!
//! let mut events = [EpollEvent::default(); 16];
//! let mut echoed = Vec::new();
//! let mut sent = false;
//! for _ in 0..10_000 {
//!     client.poll();
//!     if !sent && client.send(conn, b"hello", 0).is_ok() {
//!         sent = true;
//!     }
//!     let ready = server.epoll_wait(epoll, &mut events, Some(Duration::ZERO))?;
//!     for event in &events[..ready] {
//!         let fd = event.data as i32;
//!         if fd == listener {
//!             let (accepted, _peer) = server.accept(listener)?;
//!             server.epoll_ctl(epoll, CtlOp::Add, accepted, watch(accepted))?;
//!         } else {
//!             let mut buf = [0u8; 512];
//!             match server.recv(fd, &mut buf, 0) {
//!                 Ok(0) => server.close(fd)?,
//!                 Ok(n) => assert_eq!(server.send(fd, &buf[..n], 0), Ok(n)),
//!                 Err(Errno::EAGAIN) => {}
//!                 Err(e) => return Err(e.into()),
//!             }
//!         }
//!     }
//!     let mut buf = [0u8; 512];
//!     if let Ok(n) = client.recv(conn, &mut buf, 0) {
//!         echoed.extend_from_slice(&buf[..n]);
//!     }
//!     if echoed.len() == 5 {
//!         break;
//!     }
//! }
//! assert_eq!(echoed, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On a NIC, [`runtime::open_device`] opens the device an application's
//! command line names (DPDK port, TAP, pcap) and [`runtime::run_app`] runs
//! the poll loop on it; the apps in `apps/` are written that way. The
//! modules, from the wire up: [`wire`] (addresses and checksums; the
//! Ethernet, ARP, IPv4 and UDP headers are read and written through
//! `smoltcp::wire`'s views, TCP headers and options by [`tcp`]'s own
//! parser and emitter),
//! [`buf`] and [`device`] (packet buffers and the backends), [`dpdk`]
//! (safe wrappers over our own bindings, feature `dpdk`), [`iface`]
//! (Ethernet, ARP, IPv4, ICMP), [`udp`] and [`tcp`] (the transports),
//! [`timer`] (the timing wheel), [`socket`] and [`epoll`] (descriptors and
//! readiness), [`runtime`] (the poll loop, execution models, cores),
//! [`steer`] (RSS and software steering across cores), [`stats`]
//! (counters), [`time`], [`rand`], [`rate`] and [`hash`] (building blocks).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod buf;
pub mod device;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod epoll;
pub mod exec;
pub mod hash;
pub mod iface;
pub mod rand;
pub mod rate;
pub mod runtime;
pub mod siphash;
pub mod socket;
pub mod stats;
pub mod steer;
pub mod tcp;
pub mod time;
pub mod timer;
pub mod udp;
pub mod wire;
