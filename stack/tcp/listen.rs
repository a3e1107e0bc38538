//! Listeners: a SYN queue of half-open connections and an accept queue of
//! established ones not yet accepted, both bounded by the backlog (as the
//! kernel's `listen(2)`).

use super::tcb::TcpOptions;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

/// A listening socket.
#[derive(Debug)]
pub struct Listener {
    /// Address and port listened on, as bound: an unspecified address
    /// takes connections to any of ours.
    pub local: SocketAddr,
    /// Bound to the IPv6 unspecified address with `IPV6_V6ONLY`: IPv4
    /// connections are refused (without it, `[::]` takes both families, as
    /// Linux's default dual-stack listener does).
    pub v6_only: bool,
    /// Most connections held in each queue.
    pub backlog: usize,
    /// Half-open connections (SYN-RECEIVED) created from this listener.
    pub syn_queue: usize,
    /// Established connections waiting for `accept`, oldest first (slot indices).
    pub accept_queue: VecDeque<u32>,
    /// Options accepted connections start with.
    pub options: TcpOptions,
    /// When an epoll watches it, the token new connections to accept are
    /// reported with.
    pub watcher: Option<u32>,
    /// Already in the table's list of readiness changes.
    pub wake_queued: bool,
}

impl Listener {
    /// A listener on `local` holding up to `backlog` connections per queue.
    pub fn new(local: SocketAddr, backlog: usize, options: TcpOptions) -> Self {
        Listener {
            local,
            v6_only: false,
            backlog,
            syn_queue: 0,
            accept_queue: VecDeque::new(),
            options,
            watcher: None,
            wake_queued: false,
        }
    }

    /// True if a connection to our address `dst` is for this listener
    /// ([`crate::addr::bound_accepts`]).
    pub fn accepts(&self, dst: IpAddr) -> bool {
        crate::addr::bound_accepts(self.local.ip(), self.v6_only, dst)
    }

    /// True when a new SYN must be dropped: either queue is full (Linux
    /// drops the SYN when the accept queue is full, too).
    pub fn refuses_syn(&self) -> bool {
        self.syn_queue >= self.backlog || self.accept_queue.len() >= self.backlog
    }

    /// True when a completed handshake has no room to wait for `accept`.
    pub fn accept_queue_full(&self) -> bool {
        self.accept_queue.len() >= self.backlog
    }
}
