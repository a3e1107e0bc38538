//! The echo reactor behind dpstack-echo: one epoll, a UDP socket, a TCP
//! listener and its connections, level- or edge-triggered. Kept apart
//! from the binary so whole-stack tests run the very same code.

use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use dpstack::runtime::Stack;
use dpstack::socket::{Errno, Fd};
use dpstack::time::Clock;
use dpstack::udp::MAX_DATAGRAM;
use std::collections::HashMap;
use std::net::SocketAddr;

/// What the reactor did.
#[derive(Default, Debug)]
pub struct Counts {
    /// Datagrams echoed.
    pub echoed: u64,
    /// Bytes in them.
    pub echoed_bytes: u64,
    /// Errors reported on sockets (ICMP errors on UDP).
    pub socket_errors: u64,
    /// Connections accepted.
    pub tcp_accepted: u64,
    /// Stream bytes echoed.
    pub tcp_echoed_bytes: u64,
    /// Connections finished.
    pub tcp_closed: u64,
    /// Connections that ended with an error (reset, timed out); each is
    /// also reported on a line of its own.
    pub tcp_failed: u64,
}

/// Bytes read from a connection and not yet sent back.
#[derive(Default)]
struct Pending {
    data: Vec<u8>,
    sent: usize,
    /// EPOLLOUT is in the interest set (level-triggered: only while a
    /// send is blocked, or every wait would report the writable socket).
    watching_out: bool,
}

/// The reactor's state.
pub struct Reactor {
    epfd: Fd,
    trigger: u32,
    /// The UDP socket, once watched.
    pub udp: Option<Fd>,
    /// The TCP listeners, once watched.
    pub listeners: Vec<Fd>,
    conns: HashMap<Fd, Pending>,
    buf: Vec<u8>,
    /// A datagram received but not yet queued for sending (send queue full):
    /// nothing is dropped in the app.
    held: Option<(usize, Option<SocketAddr>)>,
    /// What it did.
    pub counts: Counts,
}

impl Reactor {
    /// A reactor on the epoll `epfd`; `trigger` is 0 or `EPOLLET`.
    pub fn new(epfd: Fd, trigger: u32) -> Self {
        Reactor {
            epfd,
            trigger,
            udp: None,
            listeners: Vec::new(),
            conns: HashMap::new(),
            buf: vec![0u8; MAX_DATAGRAM],
            held: None,
            counts: Counts::default(),
        }
    }

    /// Handles the events one `epoll_wait` returned.
    pub fn dispatch<D: Device, C: Clock>(
        &mut self,
        stack: &mut Stack<D, C>,
        events: &[EpollEvent],
    ) {
        for event in events {
            self.handle(stack, event.data as Fd);
        }
        if let (Some(fd), Some(_)) = (self.udp, self.held) {
            self.echo_datagrams(stack, fd);
        }
    }

    /// Adds `fd` to the epoll with `events` and the reactor's trigger mode.
    pub fn watch<D: Device, C: Clock>(
        &self,
        stack: &mut Stack<D, C>,
        fd: Fd,
        events: u32,
    ) -> Result<(), Errno> {
        let event = EpollEvent {
            events: events | self.trigger,
            data: fd as u64,
        };
        stack.epoll_ctl(self.epfd, CtlOp::Add, fd, event)
    }

    fn handle<D: Device, C: Clock>(&mut self, stack: &mut Stack<D, C>, fd: Fd) {
        if self.listeners.contains(&fd) {
            self.accept_all(stack, fd);
        } else if Some(fd) == self.udp {
            self.echo_datagrams(stack, fd);
        } else if let Err(failure) = self.echo_stream(stack, fd) {
            if let Some(error) = failure {
                self.counts.tcp_failed += 1;
                // Rare, and what an operator wants to see as it happens.
                println!("dpstack-echo: tcp connection {fd} failed: {error}");
            }
            self.conns.remove(&fd);
            self.counts.tcp_closed += 1;
            // Closing a connection that already failed just frees the descriptor.
            let _ = stack.close(fd);
        }
    }

    fn accept_all<D: Device, C: Clock>(&mut self, stack: &mut Stack<D, C>, listener: Fd) {
        // Both modes drain the accept queue: under ET one wake-up may stand
        // for many connections.
        while let Ok((fd, _)) = stack.accept(listener) {
            self.counts.tcp_accepted += 1;
            // Edge-triggered: EPOLLOUT reports only changes, so it stays in.
            let edge = self.trigger & EPOLLET != 0;
            let out = if edge { EPOLLOUT } else { 0 };
            if self.watch(stack, fd, EPOLLIN | EPOLLRDHUP | out).is_ok() {
                let pending = Pending {
                    watching_out: edge,
                    ..Pending::default()
                };
                self.conns.insert(fd, pending);
            } else {
                let _ = stack.close(fd);
            }
        }
    }

    fn echo_datagrams<D: Device, C: Clock>(&mut self, stack: &mut Stack<D, C>, fd: Fd) {
        loop {
            let (len, from) = match self.held.take() {
                Some(held) => held,
                None => match stack.recv_from(fd, &mut self.buf, 0) {
                    Ok(got) => got,
                    Err(Errno::EAGAIN) => return,
                    Err(_) => {
                        // An ICMP error reported on the socket; nothing to echo.
                        self.counts.socket_errors += 1;
                        continue;
                    }
                },
            };
            match stack.send_to(fd, &self.buf[..len], from) {
                Ok(_) => {
                    self.counts.echoed += 1;
                    self.counts.echoed_bytes += len as u64;
                }
                Err(Errno::EAGAIN) => {
                    self.held = Some((len, from));
                    return;
                }
                Err(_) => self.counts.socket_errors += 1,
            }
        }
    }

    /// Echoes what a connection has; `Err` when it is finished, with the
    /// error that ended it (`None`: the peer closed).
    fn echo_stream<D: Device, C: Clock>(
        &mut self,
        stack: &mut Stack<D, C>,
        fd: Fd,
    ) -> Result<(), Option<Errno>> {
        let Some(pending) = self.conns.get_mut(&fd) else {
            return Ok(());
        };
        let level = self.trigger & EPOLLET == 0;
        loop {
            while pending.sent < pending.data.len() {
                match stack.send(fd, &pending.data[pending.sent..], 0) {
                    Ok(n) => {
                        pending.sent += n;
                        self.counts.tcp_echoed_bytes += n as u64;
                    }
                    // Wait for EPOLLOUT; nothing more is read meanwhile.
                    Err(Errno::EAGAIN) => {
                        if level && !pending.watching_out {
                            pending.watching_out = true;
                            let event = EpollEvent {
                                events: EPOLLIN | EPOLLRDHUP | EPOLLOUT,
                                data: fd as u64,
                            };
                            stack
                                .epoll_ctl(self.epfd, CtlOp::Mod, fd, event)
                                .map_err(Some)?;
                        }
                        return Ok(());
                    }
                    Err(e) => return Err(Some(e)),
                }
            }
            if level && pending.watching_out {
                pending.watching_out = false;
                let event = EpollEvent {
                    events: EPOLLIN | EPOLLRDHUP,
                    data: fd as u64,
                };
                stack
                    .epoll_ctl(self.epfd, CtlOp::Mod, fd, event)
                    .map_err(Some)?;
            }
            match stack.recv(fd, &mut self.buf, 0) {
                Ok(0) => return Err(None),
                Ok(n) => {
                    pending.data.clear();
                    pending.data.extend_from_slice(&self.buf[..n]);
                    pending.sent = 0;
                }
                Err(Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(Some(e)),
            }
        }
    }
}
