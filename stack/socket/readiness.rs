//! A descriptor's readiness as Linux's `tcp_poll`/`datagram_poll` compute
//! it: the `EPOLL*` bits an epoll reports for it now.

use super::{FdTable, Kind, Net, TcpConn};
use crate::epoll::{EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use crate::socket::Fd;
use crate::tcp::State;

impl FdTable {
    /// The events `fd` has now (0 for a closed descriptor).
    pub fn readiness(&mut self, net: &mut Net<'_>, fd: Fd) -> u32 {
        let Ok(slot) = self.slot(fd) else { return 0 };
        match &slot.kind {
            Kind::Epoll(ep) => {
                if ep.as_ref().is_some_and(|ep| ep.has_ready()) {
                    EPOLLIN
                } else {
                    0
                }
            }
            Kind::Udp(handle) => {
                let udp = &mut net.sockets.udp;
                let mut events = 0;
                if udp.readable(*handle).unwrap_or(false) {
                    events |= EPOLLIN;
                }
                if udp.writable(*handle).unwrap_or(false) {
                    events |= EPOLLOUT;
                }
                if udp.has_error(*handle).unwrap_or(false) {
                    events |= EPOLLERR;
                }
                events
            }
            Kind::Tcp(sock) => match sock.conn {
                // A socket never connected is "closed": writable and hung up.
                TcpConn::Fresh => EPOLLOUT | EPOLLHUP,
                TcpConn::Listening(handle) => match net.sockets.tcp.readiness(handle) {
                    Ok(r) if r.readable => EPOLLIN,
                    _ => 0,
                },
                TcpConn::Connected(handle) => {
                    let Ok(tcb) = net.sockets.tcp.tcb_of(handle) else {
                        return EPOLLHUP;
                    };
                    let closed = tcb.state == State::Closed;
                    let read_shut = tcb.fin_received || sock.shut_rd || closed;
                    let write_shut = tcb.fin_queued || closed;
                    let mut events = 0;
                    if (read_shut && write_shut) || closed {
                        events |= EPOLLHUP;
                    }
                    if read_shut {
                        events |= EPOLLIN | EPOLLRDHUP;
                    }
                    if !matches!(tcb.state, State::SynSent | State::SynReceived) {
                        if !tcb.rx.is_empty() {
                            events |= EPOLLIN;
                        }
                        // Writable as Linux's sk_stream_is_writeable: free
                        // space at least half of what is queued.
                        let free = tcb.tx.free();
                        if write_shut || (free > 0 && free >= tcb.tx.len() / 2) {
                            events |= EPOLLOUT;
                        }
                    }
                    if tcb.error.is_some() && !tcb.error_reported {
                        events |= EPOLLERR;
                    }
                    events
                }
            },
        }
    }
}
