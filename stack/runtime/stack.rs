//! The poll loop's owner: a device, a clock, the interface and the sockets.
//!
//! [`Stack::poll`] is one turn of the loop: a receive burst through the
//! interface, timers and queued sends, then a transmit burst. Frames the
//! device cannot take yet wait in a bounded backlog; past the bound they are
//! dropped and counted (`ethernet.tx_no_buffer`), as a full NIC ring drops.

use crate::buf::PacketBuf;
use crate::device::{Device, MAX_BURST};
use crate::iface::{Disposition, FrameSink, Interface, InterfaceConfig, NoRoute, Sockets};
use crate::rand::Rng;
use crate::stats::StackStats;
use crate::steer::CoreSteering;
use crate::tcp::{Readiness, State, TcpConfig, TcpError, TcpHandle, TcpOptions, TcpSockets};
use crate::time::{Clock, Instant};
use crate::udp::{UdpBuffers, UdpError, UdpHandle, UdpSockets};
use crate::wire::{Ipv4Cidr, MacAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// How a [`Stack`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct StackConfig {
    /// Our address and subnet.
    pub ip: Ipv4Cidr,
    /// Default route.
    pub gateway: Option<Ipv4Addr>,
    /// Our IPv6 address and prefix (`None`: IPv6 off). See
    /// [`InterfaceConfig::ip6`].
    pub ip6: Option<crate::wire::Ipv6Cidr>,
    /// IPv6 default router. See [`InterfaceConfig::gateway6`].
    pub gateway6: Option<std::net::Ipv6Addr>,
    /// Take the IPv6 default router from router advertisements. See
    /// [`InterfaceConfig::accept_ra`].
    pub accept_ra: bool,
    /// Duplicate address detection probes per IPv6 address (0: the
    /// addresses are usable at once). See [`InterfaceConfig::dad_transmits`].
    pub dad_transmits: u32,
    /// Our MAC (default: the device's).
    pub mac: Option<MacAddr>,
    /// Seed of every random choice (ephemeral ports, IP ids); `None` draws one.
    pub seed: Option<u64>,
    /// UDP socket queue sizes.
    pub udp_buffers: UdpBuffers,
    /// TCP settings (its `max_mss` is replaced by the device's MTU - 40).
    pub tcp: TcpConfig,
    /// Frames that may wait for the device's transmit queue.
    pub max_tx_backlog: usize,
    /// Most descriptors (sockets and epolls) open at once; past it calls
    /// fail with EMFILE, as past `ulimit -n`.
    pub max_fds: usize,
    /// This stack's core among several on one port (`None`: the only one):
    /// active opens then pick ephemeral ports whose flows land on this core.
    pub core: Option<CoreSteering>,
}

impl StackConfig {
    /// Defaults for everything but the address.
    pub fn new(ip: Ipv4Cidr) -> Self {
        StackConfig {
            ip,
            gateway: None,
            ip6: None,
            gateway6: None,
            accept_ra: false,
            dad_transmits: 1,
            mac: None,
            seed: None,
            udp_buffers: UdpBuffers::default(),
            tcp: TcpConfig::default(),
            max_tx_backlog: 4096,
            max_fds: crate::socket::MAX_FDS,
            core: None,
        }
    }
}

/// A network stack on one device.
pub struct Stack<D: Device, C: Clock> {
    device: D,
    pub(super) clock: C,
    pub(super) iface: Interface,
    pub(super) sockets: Sockets,
    pub(super) fds: crate::socket::FdTable,
    rx: Vec<D::Buf>,
    tx: Vec<D::Buf>,
    max_tx_backlog: usize,
    /// The clock's time at the last poll turn.
    pub(super) last_poll: Instant,
    /// Where telemetry queries for this stack arrive.
    pub(super) telemetry: Option<std::sync::Arc<super::telemetry::Mailbox>>,
    /// The kernel exception path, when on.
    kernel_tap: Option<super::kernel_tap::KernelTap>,
}

/// Hands the interface transmit buffers from the device, flushing full bursts.
struct DeviceSink<'a, D: Device> {
    device: &'a mut D,
    batch: &'a mut Vec<D::Buf>,
    now: Instant,
    max_backlog: usize,
}

impl<D: Device> FrameSink for DeviceSink<'_, D> {
    fn frame(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.batch.len() >= MAX_BURST {
            self.device.transmit(self.now, self.batch);
        }
        if self.batch.len() >= self.max_backlog {
            return None;
        }
        let buf = self.device.alloc_tx(len)?;
        self.batch.push(buf);
        self.batch.last_mut().map(PacketBuf::data_mut)
    }

    fn request_tx_checksums(&mut self, request: crate::buf::TxChecksums) {
        if let Some(buf) = self.batch.last_mut() {
            if !buf.request_tx_checksums(request) {
                crate::wire::checksum::complete_offloaded(buf.data_mut(), request);
            }
        }
    }
}

impl<D: Device, C: Clock> Stack<D, C> {
    /// A stack on `device`, reading time from `clock`; announces its address
    /// with a gratuitous ARP.
    pub fn new(device: D, clock: C, config: StackConfig) -> Self {
        let caps = device.capabilities();
        let mut rng = config.seed.map_or_else(Rng::from_entropy, Rng::new);
        let iface_config = InterfaceConfig {
            tx_offload: caps.offloads,
            ip6: config.ip6,
            gateway6: config.gateway6,
            accept_ra: config.accept_ra,
            dad_transmits: config.dad_transmits,
            ..InterfaceConfig::new(
                config.mac.unwrap_or(caps.mac),
                config.ip,
                config.gateway,
                caps.mtu,
            )
        };
        let iface = Interface::new(iface_config, Rng::new(rng.next_u64()));
        let mut udp = UdpSockets::new(Rng::new(rng.next_u64()), config.udp_buffers);
        let mut tcp_config = config.tcp.clone();
        tcp_config.max_mss = caps.mtu.saturating_sub(40).clamp(64, usize::from(u16::MAX)) as u16;
        let mut tcp = TcpSockets::new(Rng::new(rng.next_u64()), tcp_config);
        udp.set_core_steering(config.core.clone());
        tcp.set_core_steering(config.core.clone());
        let mut stack = Stack {
            device,
            clock,
            iface,
            sockets: Sockets { udp, tcp },
            fds: crate::socket::FdTable::with_limit(config.max_fds),
            rx: Vec::with_capacity(MAX_BURST),
            tx: Vec::with_capacity(MAX_BURST),
            max_tx_backlog: config.max_tx_backlog.max(MAX_BURST),
            last_poll: Instant::ZERO,
            telemetry: None,
            kernel_tap: None,
        };
        let now = stack.clock.now();
        stack.last_poll = now;
        let mut sink = DeviceSink {
            device: &mut stack.device,
            batch: &mut stack.tx,
            now,
            max_backlog: stack.max_tx_backlog,
        };
        stack.iface.announce(&mut sink);
        stack.flush(now);
        stack
    }

    /// One turn of the poll loop; true if any frame moved.
    pub fn poll(&mut self) -> bool {
        let now = self.clock.now();
        self.last_poll = now;
        self.rx.clear();
        let received = self.device.receive(now, &mut self.rx, MAX_BURST);
        let mut sink = DeviceSink {
            device: &mut self.device,
            batch: &mut self.tx,
            now,
            max_backlog: self.max_tx_backlog,
        };
        if !self.rx.is_empty() {
            for frame in self.rx.drain(..) {
                let checksums = frame.rx_checksums();
                let disposition = self.iface.receive_checked(
                    now,
                    frame.data(),
                    checksums,
                    &mut self.sockets,
                    &mut sink,
                );
                if disposition != Disposition::Consumed {
                    if let Some(kernel) = self.kernel_tap.as_mut() {
                        kernel.to_kernel(now, frame.data());
                    }
                }
            }
        }
        if let Some(kernel) = self.kernel_tap.as_mut() {
            kernel.from_kernel(now, &mut sink);
        }
        self.iface.poll(now, &mut self.sockets, &mut sink);
        let sent = self.flush(now);
        if let Some(mailbox) = self.telemetry.as_ref().filter(|m| m.has_query()).cloned() {
            self.answer_telemetry(&mailbox);
        }
        received > 0 || sent > 0 || self.device.passed_on() > 0
    }

    fn flush(&mut self, now: Instant) -> usize {
        if self.tx.is_empty() {
            return 0;
        }
        self.device.transmit(now, &mut self.tx)
    }

    /// The MAC of the next hop towards `dst` if ARP knows it; otherwise
    /// starts resolving it (keep polling) and returns `Ok(None)`.
    pub fn resolve(&mut self, dst: Ipv4Addr) -> Result<Option<MacAddr>, NoRoute> {
        let now = self.clock.now();
        let mut sink = DeviceSink {
            device: &mut self.device,
            batch: &mut self.tx,
            now,
            max_backlog: self.max_tx_backlog,
        };
        let found = self.iface.resolve(now, dst, &mut sink);
        self.flush(now);
        found
    }

    /// Takes the device back, dropping the stack's state (sockets, caches).
    pub fn into_device(self) -> D {
        self.device
    }

    /// When the stack next needs a poll if no frame arrives: a timer, a
    /// backlog to flush, or a device deadline.
    pub fn poll_at(&self) -> Option<Instant> {
        let backlog = (!self.tx.is_empty()).then_some(Instant::ZERO);
        [
            backlog,
            self.iface.poll_at(&self.sockets),
            self.device.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The stack's current time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The interface (ARP cache, configuration).
    pub fn interface(&mut self) -> &mut Interface {
        &mut self.iface
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// Every layer's counters.
    pub fn stats(&self) -> StackStats {
        StackStats {
            device: self.device.stats(),
            tcp: self.sockets.tcp.stats(),
            steering: self.device.steering_stats(),
            kernel_tap: self
                .kernel_tap
                .as_ref()
                .map(|k| k.stats())
                .unwrap_or_default(),
            ..self.iface.stats()
        }
    }

    /// Turns on the kernel exception path through a new TAP `name` that
    /// the kernel owns with this stack's MAC, address and MTU (see
    /// [`kernel_tap`](super::kernel_tap)); traffic to `kernel_ports` goes
    /// to the kernel whatever dpstack listens on.
    pub fn attach_kernel_tap(&mut self, name: &str, kernel_ports: &[u16]) -> Result<(), String> {
        let config = self.iface.config().clone();
        let tap = super::kernel_tap::KernelTap::open(name, config.mac, config.ip, config.mtu)?;
        self.kernel_tap = Some(tap);
        self.iface.set_exception_path(true);
        self.iface.set_kernel_ports(kernel_ports.to_vec());
        self.sockets.tcp.set_pass_unclaimed(true);
        Ok(())
    }

    /// Opens a UDP socket.
    pub fn udp_open(&mut self) -> UdpHandle {
        self.sockets.udp.open()
    }

    /// Binds a UDP socket (port 0: ephemeral).
    pub fn udp_bind(
        &mut self,
        handle: UdpHandle,
        local: impl Into<SocketAddr>,
    ) -> Result<(), UdpError> {
        self.sockets
            .udp
            .bind(handle, local, *self.iface.local_addrs())
    }

    /// Connects a UDP socket to a default peer.
    pub fn udp_connect(
        &mut self,
        handle: UdpHandle,
        remote: impl Into<SocketAddr>,
    ) -> Result<(), UdpError> {
        self.sockets
            .udp
            .connect(handle, remote, *self.iface.local_addrs())
    }

    /// Queues a datagram to `remote` (or the connected peer); it leaves on the next poll.
    pub fn udp_send_to(
        &mut self,
        handle: UdpHandle,
        data: &[u8],
        remote: Option<SocketAddr>,
    ) -> Result<usize, UdpError> {
        let max = self.iface.max_unfragmented_udp();
        let own = *self.iface.local_addrs();
        self.sockets.udp.send_to(handle, data, remote, own, max)
    }

    /// Takes a received datagram.
    pub fn udp_recv_from(
        &mut self,
        handle: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), UdpError> {
        self.sockets.udp.recv_from(handle, buf)
    }

    /// The UDP socket table (addresses, options).
    pub fn udp(&mut self) -> &mut UdpSockets {
        &mut self.sockets.udp
    }

    /// Closes a UDP socket.
    pub fn udp_close(&mut self, handle: UdpHandle) -> Result<(), UdpError> {
        self.sockets.udp.close(handle)
    }
}

/// TCP calls: each acts on the connection table at the stack's current
/// time; segments leave on the next [`Stack::poll`].
impl<D: Device, C: Clock> Stack<D, C> {
    /// The TCP table (advanced calls, counters).
    pub fn tcp(&mut self) -> &mut TcpSockets {
        &mut self.sockets.tcp
    }

    /// Per-socket options as the stack's TCP settings make them.
    pub fn tcp_default_options(&self) -> TcpOptions {
        TcpOptions::from_config(self.sockets.tcp.config())
    }

    /// Listens on `port` of our address (0: ephemeral) with `backlog`.
    pub fn tcp_listen(&mut self, port: u16, backlog: usize) -> Result<TcpHandle, TcpError> {
        let options = self.tcp_default_options();
        self.tcp_listen_with(port, backlog, options)
    }

    /// Listens with explicit options for the accepted connections.
    pub fn tcp_listen_with(
        &mut self,
        port: u16,
        backlog: usize,
        options: TcpOptions,
    ) -> Result<TcpHandle, TcpError> {
        // Every address of ours: both families when IPv6 is on.
        let any = if self.iface.config().ip6.is_some() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let own = *self.iface.local_addrs();
        self.sockets
            .tcp
            .listen(SocketAddr::new(any, port), backlog, options, own, false)
    }

    /// Starts connecting to `remote` from an ephemeral port (non-blocking:
    /// poll until [`tcp_state`](Self::tcp_state) is ESTABLISHED or an error shows).
    pub fn tcp_connect(&mut self, remote: impl Into<SocketAddr>) -> Result<TcpHandle, TcpError> {
        let options = self.tcp_default_options();
        self.tcp_connect_with(remote, 0, options)
    }

    /// Connects from `local_port` (0: ephemeral) with explicit options.
    pub fn tcp_connect_with(
        &mut self,
        remote: impl Into<SocketAddr>,
        local_port: u16,
        options: TcpOptions,
    ) -> Result<TcpHandle, TcpError> {
        let remote = crate::addr::canonical(remote.into());
        let now = self.clock.now();
        if !self.iface.routable(now, remote.ip()) {
            return Err(TcpError::NetworkUnreachable);
        }
        let own = *self.iface.local_addrs();
        self.sockets
            .tcp
            .connect(now, remote, local_port, options, own)
    }

    /// Takes an established connection from a listener.
    pub fn tcp_accept(&mut self, listener: TcpHandle) -> Result<(TcpHandle, SocketAddr), TcpError> {
        self.sockets.tcp.accept(listener)
    }

    /// Queues data to send; returns how many bytes the send buffer took.
    pub fn tcp_send(&mut self, handle: TcpHandle, data: &[u8]) -> Result<usize, TcpError> {
        self.sockets.tcp.send(handle, data)
    }

    /// Reads received data; `Ok(0)` at end of stream.
    pub fn tcp_recv(&mut self, handle: TcpHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
        self.sockets.tcp.recv(handle, buf)
    }

    /// Zero-copy [`tcp_send`](Self::tcp_send): `fill` writes up to `max`
    /// bytes into the send buffer's free space (two slices) and returns how
    /// many; those are queued.
    pub fn tcp_send_in_place(
        &mut self,
        handle: TcpHandle,
        max: usize,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> usize,
    ) -> Result<usize, TcpError> {
        self.sockets.tcp.send_in_place(handle, max, fill)
    }

    /// Zero-copy [`tcp_recv`](Self::tcp_recv): `use_data` sees the received
    /// bytes in place (two slices) and returns how many it consumed;
    /// `Ok(0)` at end of stream.
    pub fn tcp_recv_in_place(
        &mut self,
        handle: TcpHandle,
        use_data: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<usize, TcpError> {
        self.sockets.tcp.recv_in_place(handle, use_data)
    }

    /// Shuts the sending direction (FIN after queued data).
    pub fn tcp_shutdown(&mut self, handle: TcpHandle) -> Result<(), TcpError> {
        let now = self.clock.now();
        self.sockets.tcp.shutdown(now, handle)
    }

    /// Closes gracefully; the handle is released.
    pub fn tcp_close(&mut self, handle: TcpHandle) -> Result<(), TcpError> {
        let now = self.clock.now();
        self.sockets.tcp.close(now, handle)
    }

    /// Aborts with a reset; the handle is released.
    pub fn tcp_abort(&mut self, handle: TcpHandle) -> Result<(), TcpError> {
        let now = self.clock.now();
        self.sockets.tcp.abort(now, handle)
    }

    /// A connection's state.
    pub fn tcp_state(&self, handle: TcpHandle) -> Result<State, TcpError> {
        self.sockets.tcp.state(handle)
    }

    /// What a socket is ready for.
    pub fn tcp_readiness(&self, handle: TcpHandle) -> Result<Readiness, TcpError> {
        self.sockets.tcp.readiness(handle)
    }
}

/// Backs a poll loop off when idle: after `yield_after` empty turns it
/// yields the CPU on each further empty turn (so a poll loop sharing its
/// CPU with another, as on a machine with fewer CPUs than spinning
/// threads, hands it over at once instead of at the end of a time slice;
/// alone on its CPU the yield returns at once), and once idle for
/// `spin_for` it sleeps a little per turn, so a quiet TAP or test setup
/// does not burn a core. A busy DPDK loop never yields nor sleeps.
#[derive(Debug, Clone)]
pub struct IdleBackoff {
    idle_turns: u32,
    idle_since: Option<std::time::Instant>,
    yield_after: u32,
    spin_for: std::time::Duration,
    sleep: std::time::Duration,
}

impl IdleBackoff {
    /// Yields after `yield_after` consecutive idle turns, and sleeps
    /// `sleep` per turn once idle for `spin_for`.
    pub fn new(
        yield_after: u32,
        spin_for: std::time::Duration,
        sleep: std::time::Duration,
    ) -> Self {
        IdleBackoff {
            idle_turns: 0,
            idle_since: None,
            yield_after,
            spin_for,
            sleep,
        }
    }

    /// Records one turn; yields or sleeps if the loop has been idle long enough.
    pub fn turn(&mut self, busy: bool) {
        if busy {
            self.idle_turns = 0;
            self.idle_since = None;
            return;
        }
        self.idle_turns = self.idle_turns.saturating_add(1);
        if self.idle_turns <= self.yield_after {
            return;
        }
        let since = *self.idle_since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= self.spin_for {
            std::thread::sleep(self.sleep);
        } else {
            std::thread::yield_now();
        }
    }
}

impl Default for IdleBackoff {
    /// 1,000 idle turns, then yields; after 1 ms idle, 50 µs naps.
    fn default() -> Self {
        IdleBackoff::new(
            1_000,
            std::time::Duration::from_millis(1),
            std::time::Duration::from_micros(50),
        )
    }
}
