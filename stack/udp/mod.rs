//! UDP sockets (RFC 768) and their demultiplexing by local port.
//!
//! A socket holds a bounded receive queue and a bounded send queue of
//! datagrams; the interface fills the first from the wire and drains the
//! second onto it. Demultiplexing is one hash lookup on the local port.

mod error;

pub use error::UdpError;

use crate::addr::{bound_accepts, canonical, LocalAddrs};
use crate::buf::DatagramQueue;
use crate::hash::FastMap;
use crate::rand::Rng;
use crate::steer::CoreSteering;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Largest UDP payload over IPv4: 65535 - 20 (IP) - 8 (UDP).
pub const MAX_DATAGRAM: usize = 65_507;
/// First port handed out for implicit binds (Linux's default range).
pub const EPHEMERAL_FIRST: u16 = 32_768;
/// Last port handed out for implicit binds.
pub const EPHEMERAL_LAST: u16 = 60_999;

/// Sizes of a socket's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpBuffers {
    /// Receive queue, in bytes (Linux's default rmem is 212,992).
    pub rx_bytes: usize,
    /// Receive queue, in datagrams.
    pub rx_datagrams: usize,
    /// Send queue, in bytes.
    pub tx_bytes: usize,
    /// Send queue, in datagrams.
    pub tx_datagrams: usize,
}

impl Default for UdpBuffers {
    fn default() -> Self {
        UdpBuffers {
            rx_bytes: 212_992,
            rx_datagrams: 1024,
            tx_bytes: 212_992,
            tx_datagrams: 1024,
        }
    }
}

/// Names an open UDP socket; stale handles are refused, not confused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpHandle {
    index: u32,
    generation: u32,
}

/// One UDP socket.
pub struct UdpSocket {
    generation: u32,
    /// Local address as bound (unspecified: any of ours); port 0 while unbound.
    local: SocketAddr,
    /// `IPV6_V6ONLY`: bound to `[::]`, IPv4 is refused.
    v6_only: bool,
    /// Default and only peer once connected.
    remote: Option<SocketAddr>,
    rx: DatagramQueue<SocketAddr>,
    tx: DatagramQueue<(SocketAddr, bool)>,
    /// An asynchronous error (from ICMP) reported by the next call, as Linux does.
    pending_error: Option<UdpError>,
    dont_fragment: bool,
    /// When an epoll watches it, the token its readiness changes are
    /// reported with.
    watcher: Option<u32>,
    /// Already in the list of readiness changes.
    wake_queued: bool,
}

impl UdpSocket {
    /// True if `remote` may send to this socket (anyone, or the connected peer).
    fn accepts_from(&self, remote: SocketAddr) -> bool {
        self.remote.is_none_or(|peer| peer == remote)
    }

    /// True if this socket may send to or receive from `ip`'s family.
    fn family_fits(&self, ip: IpAddr) -> bool {
        crate::addr::reaches(self.local.ip(), self.v6_only, ip)
    }
}

/// All UDP sockets of a stack.
pub struct UdpSockets {
    slots: Vec<Option<UdpSocket>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    by_port: FastMap<u16, u32>,
    /// Sockets whose send queue went from empty to non-empty, in that order:
    /// sending visits only these, so its cost does not grow with idle sockets.
    sending: std::collections::VecDeque<UdpHandle>,
    /// Watched sockets whose readiness may have changed, each at most once.
    wakeups: Vec<UdpHandle>,
    rng: Rng,
    buffers: UdpBuffers,
    /// On one core of several: ephemeral ports are those whose flow to the
    /// first peer lands on this core.
    core: Option<CoreSteering>,
}

/// A datagram waiting to go out, as the interface sees it.
pub struct Outgoing<'a> {
    /// Source address and port.
    pub local: SocketAddr,
    /// Destination address and port.
    pub remote: SocketAddr,
    /// Set the IP don't-fragment bit.
    pub dont_fragment: bool,
    /// The payload, in at most two pieces.
    pub payload: (&'a [u8], &'a [u8]),
}

impl UdpSockets {
    /// No sockets yet; ephemeral ports are drawn from `rng` (RFC 6056, random).
    pub fn new(rng: Rng, buffers: UdpBuffers) -> Self {
        UdpSockets {
            slots: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            by_port: FastMap::default(),
            sending: std::collections::VecDeque::new(),
            wakeups: Vec::new(),
            rng,
            buffers,
            core: None,
        }
    }

    /// Makes this table one core's of several: ephemeral ports bound on
    /// `connect` or a first `send_to` are chosen so the peer's replies are
    /// steered to this core.
    pub fn set_core_steering(&mut self, core: Option<CoreSteering>) {
        self.core = core;
    }

    /// Opens an unbound socket.
    pub fn open(&mut self) -> UdpHandle {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.generations.push(0);
            (self.slots.len() - 1) as u32
        });
        let generation = self.generations[index as usize].wrapping_add(1);
        self.generations[index as usize] = generation;
        let b = self.buffers;
        self.slots[index as usize] = Some(UdpSocket {
            generation,
            local: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            v6_only: false,
            remote: None,
            rx: DatagramQueue::new(b.rx_bytes, b.rx_datagrams),
            tx: DatagramQueue::new(b.tx_bytes, b.tx_datagrams),
            pending_error: None,
            dont_fragment: false,
            watcher: None,
            wake_queued: false,
        });
        UdpHandle { index, generation }
    }

    fn socket(&mut self, handle: UdpHandle) -> Result<&mut UdpSocket, UdpError> {
        self.slots
            .get_mut(handle.index as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.generation == handle.generation)
            .ok_or(UdpError::BadHandle)
    }

    /// Binds to `local` (port 0: an ephemeral port). The address must be
    /// unspecified (`[::]` takes both families, unless
    /// [`set_v6_only`](Self::set_v6_only)) or one of `own`.
    pub fn bind(
        &mut self,
        handle: UdpHandle,
        local: impl Into<SocketAddr>,
        own: impl Into<LocalAddrs>,
    ) -> Result<(), UdpError> {
        self.bind_towards(handle, canonical(local.into()), own.into(), None)
    }

    /// Sets `IPV6_V6ONLY`: a socket bound to `[::]` takes IPv6 only.
    pub fn set_v6_only(&mut self, handle: UdpHandle, on: bool) -> Result<(), UdpError> {
        self.socket(handle)?.v6_only = on;
        Ok(())
    }

    /// `IPV6_V6ONLY` as set.
    pub fn v6_only(&mut self, handle: UdpHandle) -> Result<bool, UdpError> {
        Ok(self.socket(handle)?.v6_only)
    }

    /// Binds as [`bind`](Self::bind); an ephemeral port is one whose flow
    /// to `peer` (when given) lands on this core.
    fn bind_towards(
        &mut self,
        handle: UdpHandle,
        local: SocketAddr,
        own: LocalAddrs,
        peer: Option<SocketAddr>,
    ) -> Result<(), UdpError> {
        if !local.ip().is_unspecified() && !own.is_ours(local.ip()) {
            return Err(UdpError::AddrNotAvailable);
        }
        if self.socket(handle)?.local.port() != 0 {
            return Err(UdpError::AlreadyBound);
        }
        let port = match local.port() {
            0 => {
                let own_ip = match peer {
                    Some(peer) => own.source_for(peer.ip()).unwrap_or(local.ip()),
                    None => local.ip(),
                };
                self.pick_ephemeral(own_ip, peer)?
            }
            port if self.by_port.contains_key(&port) => return Err(UdpError::AddrInUse),
            port => port,
        };
        self.by_port.insert(port, handle.index);
        self.socket(handle)?.local = SocketAddr::new(local.ip(), port);
        Ok(())
    }

    fn pick_ephemeral(
        &mut self,
        own_ip: IpAddr,
        peer: Option<SocketAddr>,
    ) -> Result<u16, UdpError> {
        let span = u32::from(EPHEMERAL_LAST - EPHEMERAL_FIRST) + 1;
        let start = self.rng.below(u64::from(span)) as u32;
        let lands_here = |port: u16| match (&self.core, peer) {
            (Some(core), Some(peer)) => core.owns(SocketAddr::new(own_ip, port), peer),
            _ => true,
        };
        (0..span)
            .map(|i| EPHEMERAL_FIRST + ((start + i) % span) as u16)
            .find(|&port| !self.by_port.contains_key(&port) && lands_here(port))
            .ok_or(UdpError::AddrInUse)
    }

    /// Sets the default peer and filters arrivals to it (binding first if needed).
    pub fn connect(
        &mut self,
        handle: UdpHandle,
        remote: impl Into<SocketAddr>,
        own: impl Into<LocalAddrs>,
    ) -> Result<(), UdpError> {
        let remote = canonical(remote.into());
        let own = own.into();
        if remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(UdpError::AddrNotAvailable);
        }
        self.check_family(handle, remote.ip(), own)?;
        if self.socket(handle)?.local.port() == 0 {
            // Unbound, the socket takes the family of its first peer.
            let any = SocketAddr::new(crate::addr::unspecified_like(remote.ip()), 0);
            self.bind_towards(handle, any, own, Some(remote))?;
        }
        self.socket(handle)?.remote = Some(remote);
        Ok(())
    }

    /// Refuses a peer of a family the socket's address cannot reach
    /// (`EADDRNOTAVAIL`), or one we have no address for (`ENETUNREACH`).
    fn check_family(
        &mut self,
        handle: UdpHandle,
        peer: IpAddr,
        own: LocalAddrs,
    ) -> Result<(), UdpError> {
        let socket = self.socket(handle)?;
        let unbound_v4 = socket.local.port() == 0 && socket.local.ip().is_unspecified();
        // An unbound socket is not yet of a family: the first peer decides.
        if !unbound_v4 && !socket.family_fits(peer) {
            return Err(UdpError::AddrNotAvailable);
        }
        if own.source_for(peer).is_none() {
            return Err(UdpError::NetworkUnreachable);
        }
        Ok(())
    }

    /// Sets or clears the don't-fragment bit on this socket's datagrams.
    pub fn set_dont_fragment(&mut self, handle: UdpHandle, on: bool) -> Result<(), UdpError> {
        self.socket(handle)?.dont_fragment = on;
        Ok(())
    }

    /// True when the don't-fragment bit is set on this socket's datagrams.
    pub fn dont_fragment(&mut self, handle: UdpHandle) -> Result<bool, UdpError> {
        Ok(self.socket(handle)?.dont_fragment)
    }

    /// Queues `data` for `remote` (the connected peer when `None`), binding
    /// first if needed. `max_unfragmented` is the largest payload that fits
    /// one frame, for the don't-fragment check.
    pub fn send_to(
        &mut self,
        handle: UdpHandle,
        data: &[u8],
        remote: Option<SocketAddr>,
        own: impl Into<LocalAddrs>,
        max_unfragmented: usize,
    ) -> Result<usize, UdpError> {
        let own = own.into();
        if data.len() > MAX_DATAGRAM {
            return Err(UdpError::MessageTooLong);
        }
        let socket = self.socket(handle)?;
        if let Some(error) = socket.pending_error.take() {
            return Err(error);
        }
        let remote = match (remote, socket.remote) {
            (Some(r), _) => canonical(r),
            (None, Some(r)) => r,
            (None, None) => return Err(UdpError::DestinationRequired),
        };
        if remote.port() == 0 {
            return Err(UdpError::AddrNotAvailable);
        }
        // `max_unfragmented` is over IPv4; an IPv6 header takes 20 bytes more.
        let max_unfragmented =
            max_unfragmented.saturating_sub(crate::addr::ip_header_len(remote.ip()) - 20);
        if socket.dont_fragment && data.len() > max_unfragmented {
            return Err(UdpError::MessageTooLong);
        }
        self.check_family(handle, remote.ip(), own)?;
        if self.socket(handle)?.local.port() == 0 {
            // Unbound, the socket takes the family of its first peer.
            let any = SocketAddr::new(crate::addr::unspecified_like(remote.ip()), 0);
            self.bind_towards(handle, any, own, Some(remote))?;
        }
        let socket = self.socket(handle)?;
        let dont_fragment = socket.dont_fragment;
        let was_idle = socket.tx.is_empty();
        socket
            .tx
            .push((remote, dont_fragment), data)
            .map_err(|_| UdpError::WouldBlock)?;
        if was_idle {
            self.sending.push_back(handle);
        }
        Ok(data.len())
    }

    /// Takes the oldest received datagram into `buf` (truncating it as
    /// POSIX does); returns the bytes copied and the sender.
    pub fn recv_from(
        &mut self,
        handle: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), UdpError> {
        let socket = self.socket(handle)?;
        if let Some(error) = socket.pending_error.take() {
            return Err(error);
        }
        match socket.rx.pop_into(buf) {
            Some((from, _, copied)) => Ok((copied, from)),
            None => Err(UdpError::WouldBlock),
        }
    }

    /// Local address (port 0 while unbound).
    pub fn local_addr(&mut self, handle: UdpHandle) -> Result<SocketAddr, UdpError> {
        Ok(self.socket(handle)?.local)
    }

    /// Connected peer.
    pub fn peer_addr(&mut self, handle: UdpHandle) -> Result<SocketAddr, UdpError> {
        self.socket(handle)?.remote.ok_or(UdpError::NotConnected)
    }

    /// Datagrams waiting in the receive queue.
    pub fn rx_queued(&mut self, handle: UdpHandle) -> Result<usize, UdpError> {
        Ok(self.socket(handle)?.rx.len())
    }

    /// Closes the socket, discarding its queues.
    pub fn close(&mut self, handle: UdpHandle) -> Result<(), UdpError> {
        let port = self.socket(handle)?.local.port();
        if port != 0 {
            self.by_port.remove(&port);
        }
        self.slots[handle.index as usize] = None;
        self.free.push(handle.index);
        Ok(())
    }

    /// Delivers a received datagram to the socket bound to `local.port()`.
    /// `Err(None)`: no such socket; `Err(Some(()))`: its queue was full.
    pub(crate) fn deliver(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &[u8],
    ) -> Result<(), Option<()>> {
        let index = *self.by_port.get(&local.port()).ok_or(None)?;
        let socket = self.slots[index as usize].as_mut().ok_or(None)?;
        let broadcast = matches!(local.ip(), IpAddr::V4(ip) if ip.is_broadcast());
        let to_bound = bound_accepts(socket.local.ip(), socket.v6_only, local.ip())
            || (broadcast && socket.family_fits(local.ip()));
        if !to_bound || !socket.accepts_from(remote) {
            return Err(None);
        }
        socket.rx.push(remote, payload).map_err(|_| Some(()))?;
        let handle = UdpHandle {
            index,
            generation: socket.generation,
        };
        Self::queue_wake(socket, &mut self.wakeups, handle);
        Ok(())
    }

    fn queue_wake(socket: &mut UdpSocket, wakeups: &mut Vec<UdpHandle>, handle: UdpHandle) {
        if socket.watcher.is_some() && !socket.wake_queued {
            socket.wake_queued = true;
            wakeups.push(handle);
        }
    }

    /// Marks a socket as watched by an epoll, its readiness changes
    /// reported through [`take_wakeups`](Self::take_wakeups) as `watcher`
    /// (the caller's token), or as not watched (`None`): only watched
    /// sockets report.
    pub fn set_watched(&mut self, handle: UdpHandle, watcher: Option<u32>) -> Result<(), UdpError> {
        self.socket(handle)?.watcher = watcher;
        Ok(())
    }

    /// True when some watched socket's readiness may have changed since the
    /// last [`take_wakeups`](Self::take_wakeups).
    #[inline]
    pub fn has_wakeups(&self) -> bool {
        !self.wakeups.is_empty()
    }

    /// Appends the watcher token (see [`set_watched`](Self::set_watched))
    /// of every watched socket whose readiness may have changed since the
    /// last call (each once) to `out`.
    pub fn take_wakeups(&mut self, out: &mut Vec<u32>) {
        let mut wakeups = std::mem::take(&mut self.wakeups);
        for handle in wakeups.drain(..) {
            if let Ok(socket) = self.socket(handle) {
                if let (true, Some(token)) =
                    (std::mem::take(&mut socket.wake_queued), socket.watcher)
                {
                    out.push(token);
                }
            }
        }
        self.wakeups = wakeups;
    }

    /// Copies the next datagram into `buf` without taking it (`MSG_PEEK`):
    /// (bytes copied, sender).
    pub fn peek_from(
        &mut self,
        handle: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), UdpError> {
        let socket = self.socket(handle)?;
        let (from, head, tail) = socket.rx.front().ok_or(UdpError::WouldBlock)?;
        let n = (head.len() + tail.len()).min(buf.len());
        let first = head.len().min(n);
        buf[..first].copy_from_slice(&head[..first]);
        buf[first..n].copy_from_slice(&tail[..n - first]);
        Ok((n, *from))
    }

    /// True when a datagram waits to be read.
    pub fn readable(&mut self, handle: UdpHandle) -> Result<bool, UdpError> {
        Ok(!self.socket(handle)?.rx.is_empty())
    }

    /// True when an asynchronous error (from ICMP) waits to be reported.
    pub fn has_error(&mut self, handle: UdpHandle) -> Result<bool, UdpError> {
        Ok(self.socket(handle)?.pending_error.is_some())
    }

    /// Takes the pending asynchronous error, as `SO_ERROR` does.
    pub fn take_error(&mut self, handle: UdpHandle) -> Result<Option<UdpError>, UdpError> {
        Ok(self.socket(handle)?.pending_error.take())
    }

    /// True when the send queue has room: what EPOLLOUT reports.
    pub fn writable(&mut self, handle: UdpHandle) -> Result<bool, UdpError> {
        let socket = self.socket(handle)?;
        Ok(socket.tx.has_room_for(1))
    }

    /// Reports an ICMP error about a datagram this host sent from
    /// `local_port` to `remote`. As on Linux, only a socket connected to that
    /// peer sees it (on its next call).
    pub(crate) fn report_error(
        &mut self,
        local_port: u16,
        remote: SocketAddr,
        error: UdpError,
    ) -> bool {
        let Some(&index) = self.by_port.get(&local_port) else {
            return false;
        };
        match self.slots[index as usize].as_mut() {
            Some(socket) if socket.remote == Some(remote) => {
                socket.pending_error = Some(error);
                let handle = UdpHandle {
                    index,
                    generation: socket.generation,
                };
                Self::queue_wake(socket, &mut self.wakeups, handle);
                true
            }
            _ => false,
        }
    }

    /// True if any socket has a datagram to send.
    pub(crate) fn has_outgoing(&self) -> bool {
        !self.sending.is_empty()
    }

    /// Hands queued outgoing datagrams to `send`, socket by socket in the
    /// order they started sending, oldest datagram first, stopping early
    /// when `send` returns false (no transmit buffer).
    pub(crate) fn drain_outgoing(
        &mut self,
        own: LocalAddrs,
        mut send: impl FnMut(Outgoing<'_>) -> bool,
    ) {
        while let Some(&handle) = self.sending.front() {
            // A socket closed (or closed and reopened) since it queued is skipped.
            let socket = match self.slots.get_mut(handle.index as usize) {
                Some(Some(socket)) if socket.generation == handle.generation => socket,
                _ => {
                    self.sending.pop_front();
                    continue;
                }
            };
            while let Some(((remote, dont_fragment), head, tail)) = socket.tx.front() {
                let local_ip = if socket.local.ip().is_unspecified() {
                    // Checked when queued; an address lost since (DAD) leaves
                    // the unspecified one, which the interface refuses.
                    own.source_for(remote.ip())
                        .unwrap_or(crate::addr::unspecified_like(remote.ip()))
                } else {
                    socket.local.ip()
                };
                let outgoing = Outgoing {
                    local: SocketAddr::new(local_ip, socket.local.port()),
                    remote: *remote,
                    dont_fragment: *dont_fragment,
                    payload: (head, tail),
                };
                if !send(outgoing) {
                    return;
                }
                socket.tx.discard_front();
            }
            Self::queue_wake(socket, &mut self.wakeups, handle);
            self.sending.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const PEER: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
        Ipv4Addr::new(10, 0, 0, 1),
        4000,
    ));

    fn sockets() -> UdpSockets {
        UdpSockets::new(Rng::new(1), UdpBuffers::default())
    }

    #[test]
    fn bind_rules_match_posix() {
        let mut s = sockets();
        let a = s.open();
        let b = s.open();
        s.bind(a, SocketAddr::new(OWN.into(), 7), OWN).unwrap();
        assert_eq!(
            s.bind(b, SocketAddr::new(OWN.into(), 7), OWN),
            Err(UdpError::AddrInUse)
        );
        assert_eq!(
            s.bind(a, SocketAddr::new(OWN.into(), 8), OWN),
            Err(UdpError::AlreadyBound)
        );
        assert_eq!(
            s.bind(b, SocketAddr::new(Ipv4Addr::new(1, 2, 3, 4).into(), 9), OWN),
            Err(UdpError::AddrNotAvailable)
        );
        s.bind(b, SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0), OWN)
            .unwrap();
        let port = s.local_addr(b).unwrap().port();
        assert!((EPHEMERAL_FIRST..=EPHEMERAL_LAST).contains(&port));
        s.close(a).unwrap();
        assert_eq!(s.local_addr(a), Err(UdpError::BadHandle), "stale handle");
        let c = s.open();
        assert_eq!(c.index, a.index, "slot reused");
        s.bind(c, SocketAddr::new(OWN.into(), 7), OWN).unwrap();
    }

    #[test]
    fn send_needs_a_destination_and_respects_limits() {
        let mut s = sockets();
        let h = s.open();
        assert_eq!(
            s.send_to(h, b"x", None, OWN, 1472),
            Err(UdpError::DestinationRequired)
        );
        assert_eq!(
            s.send_to(h, &[0; MAX_DATAGRAM + 1], Some(PEER), OWN, 1472),
            Err(UdpError::MessageTooLong)
        );
        assert_eq!(
            s.send_to(h, &[0; MAX_DATAGRAM], Some(PEER), OWN, 1472),
            Ok(MAX_DATAGRAM)
        );
        assert_ne!(s.local_addr(h).unwrap().port(), 0, "sending binds");
        s.set_dont_fragment(h, true).unwrap();
        assert_eq!(
            s.send_to(h, &[0; 1473], Some(PEER), OWN, 1472),
            Err(UdpError::MessageTooLong)
        );
        let mut sent = Vec::new();
        s.drain_outgoing(OWN.into(), |o| {
            sent.push((o.remote, o.payload.0.len() + o.payload.1.len()));
            true
        });
        assert_eq!(sent, [(PEER, MAX_DATAGRAM)]);
    }

    #[test]
    fn sockets_send_in_the_order_they_queued_and_closed_ones_are_skipped() {
        let mut s = sockets();
        let (a, b, c) = (s.open(), s.open(), s.open());
        s.send_to(b, b"b1", Some(PEER), OWN, 1472).unwrap();
        s.send_to(a, b"a1", Some(PEER), OWN, 1472).unwrap();
        s.send_to(b, b"b2", Some(PEER), OWN, 1472).unwrap();
        s.send_to(c, b"c1", Some(PEER), OWN, 1472).unwrap();
        s.close(c).unwrap();
        let mut sent = Vec::new();
        s.drain_outgoing(OWN.into(), |o| {
            sent.push(o.payload.0.to_vec());
            true
        });
        assert_eq!(sent, [b"b1".to_vec(), b"b2".to_vec(), b"a1".to_vec()]);
        assert!(!s.has_outgoing());
    }

    #[test]
    fn draining_stops_when_buffers_run_out_and_resumes() {
        let mut s = sockets();
        let h = s.open();
        for text in [b"1", b"2", b"3"] {
            s.send_to(h, text, Some(PEER), OWN, 1472).unwrap();
        }
        let mut sent = Vec::new();
        s.drain_outgoing(OWN.into(), |o| {
            sent.push(o.payload.0.to_vec());
            sent.len() < 2
        });
        assert!(s.has_outgoing(), "the refused datagram stays queued");
        s.drain_outgoing(OWN.into(), |o| {
            sent.push(o.payload.0.to_vec());
            true
        });
        assert_eq!(
            sent,
            [b"1".to_vec(), b"2".to_vec(), b"2".to_vec(), b"3".to_vec()]
        );
    }

    #[test]
    fn full_send_queue_would_block() {
        let mut s = UdpSockets::new(
            Rng::new(1),
            UdpBuffers {
                tx_datagrams: 2,
                ..UdpBuffers::default()
            },
        );
        let h = s.open();
        s.send_to(h, b"1", Some(PEER), OWN, 1472).unwrap();
        s.send_to(h, b"2", Some(PEER), OWN, 1472).unwrap();
        assert_eq!(
            s.send_to(h, b"3", Some(PEER), OWN, 1472),
            Err(UdpError::WouldBlock)
        );
    }

    #[test]
    fn connected_socket_filters_and_gets_icmp_errors() {
        let mut s = sockets();
        let h = s.open();
        s.connect(h, PEER, OWN).unwrap();
        let local = SocketAddr::new(OWN.into(), s.local_addr(h).unwrap().port());
        let stranger = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 5).into(), 4000);
        assert_eq!(s.deliver(local, stranger, b"no"), Err(None));
        s.deliver(local, PEER, b"yes").unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(
            s.recv_from(h, &mut buf),
            Ok((2, PEER)),
            "truncated to the buffer"
        );
        assert!(s.report_error(local.port(), PEER, UdpError::ConnectionRefused));
        assert_eq!(
            s.send_to(h, b"x", None, OWN, 1472),
            Err(UdpError::ConnectionRefused)
        );
        assert_eq!(
            s.recv_from(h, &mut buf),
            Err(UdpError::WouldBlock),
            "reported once"
        );
    }

    #[test]
    fn unconnected_socket_ignores_icmp_errors_like_linux() {
        let mut s = sockets();
        let h = s.open();
        s.bind(h, SocketAddr::new(OWN.into(), 9), OWN).unwrap();
        assert!(!s.report_error(9, PEER, UdpError::ConnectionRefused));
    }
}
