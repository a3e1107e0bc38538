//! The interface layer: Ethernet, ARP, IPv4 (with reassembly and
//! fragmentation) and ICMP, plus UDP delivery. Sans-IO: it is driven by
//! [`Interface::receive`] with each frame and [`Interface::poll`] for timers
//! and queued sends, always with an explicit `now`, and emits frames through
//! a [`FrameSink`] the runtime provides.

pub mod arp;
mod arp_io;
pub mod dad;
mod icmp;
mod icmpv6;
mod ipv4;
mod ipv6;
pub mod neighbor;
pub mod reassembly;
mod transport;

use crate::buf::RxChecksums;
use crate::rand::Rng;
use crate::rate::TokenBucket;
use crate::stats::{
    EthernetStats, IcmpStats, Icmpv6Stats, Ipv4Stats, Ipv6Stats, StackStats, UdpStats,
};
use crate::tcp::TcpSockets;
use crate::time::Instant;
use crate::udp::UdpSockets;
use crate::wire::{Ipv4Cidr, Ipv6Cidr, MacAddr};
use arp::{ArpCache, ArpConfig};
use neighbor::{NeighborCache, NeighborConfig};
use reassembly::{Fragment6Key, Reassembler, ReassemblyConfig};
use smoltcp::wire::{EthernetFrame, EthernetProtocol};
use std::net::{Ipv4Addr, Ipv6Addr};

/// How long an incomplete IPv6 packet is kept in reassembly (RFC 8200 4.5).
const IPV6_REASSEMBLY_TIMEOUT: crate::time::Duration = crate::time::Duration::from_secs(60);

/// Bytes of an Ethernet II header.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Shortest Ethernet frame without FCS; shorter frames are zero-padded.
pub const MIN_FRAME_LEN: usize = 60;

/// Where the interface puts frames to transmit.
pub trait FrameSink {
    /// A buffer for a frame of exactly `len` bytes (contents unspecified),
    /// queued for transmission when the borrow ends; `None` when no
    /// transmit buffer is free.
    fn frame(&mut self, len: usize) -> Option<&mut [u8]>;

    /// Has the device fill in `request`'s checksums of the last frame
    /// handed out, or fills them in itself where the device cannot.
    fn request_tx_checksums(&mut self, request: crate::buf::TxChecksums);
}

/// Test and tooling sink: every frame becomes a `Vec<u8>`; checksums
/// asked of the device are filled in at once.
impl FrameSink for Vec<Vec<u8>> {
    fn frame(&mut self, len: usize) -> Option<&mut [u8]> {
        self.push(vec![0; len]);
        self.last_mut().map(Vec::as_mut_slice)
    }

    fn request_tx_checksums(&mut self, request: crate::buf::TxChecksums) {
        if let Some(frame) = self.last_mut() {
            crate::wire::checksum::complete_offloaded(frame, request);
        }
    }
}

/// The transport endpoints the interface delivers to and sends for.
pub struct Sockets {
    /// UDP sockets.
    pub udp: UdpSockets,
    /// TCP connections and listeners.
    pub tcp: TcpSockets,
}

/// No route leads to the destination: it is off the subnet and there is no gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoute;

impl std::fmt::Display for NoRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no route to host (off the subnet, and no gateway)")
    }
}

impl std::error::Error for NoRoute {}

/// How an interface is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct InterfaceConfig {
    /// Our MAC address.
    pub mac: MacAddr,
    /// Our address and subnet.
    pub ip: Ipv4Cidr,
    /// Default route for destinations outside the subnet.
    pub gateway: Option<Ipv4Addr>,
    /// Our IPv6 address and on-link prefix; `None` leaves IPv6 off
    /// (EtherType 0x86DD dropped and counted, or the kernel's on the
    /// exception path). With it, the interface also takes the
    /// link-local address of its MAC and answers neighbour discovery and
    /// echo on both.
    pub ip6: Option<Ipv6Cidr>,
    /// IPv6 neighbour cache settings (its `retransmit` also spaces our
    /// duplicate address detection probes).
    pub neighbor: NeighborConfig,
    /// IPv6 default router (link-local, or inside the `ip6` prefix): the
    /// next hop of off-link destinations. Takes precedence over routers
    /// learnt from advertisements.
    pub gateway6: Option<Ipv6Addr>,
    /// Take the default router from router advertisements (RFC 4861 6.3.4)
    /// when no `gateway6` is configured.
    pub accept_ra: bool,
    /// Duplicate address detection probes per IPv6 address before it is
    /// used (RFC 4862 DupAddrDetectTransmits, 1; 0 uses it at once).
    pub dad_transmits: u32,
    /// Largest IP datagram per frame, in bytes.
    pub mtu: usize,
    /// ARP cache settings.
    pub arp: ArpConfig,
    /// Reassembly bounds.
    pub reassembly: ReassemblyConfig,
    /// ICMP error messages allowed per second (token rate).
    pub icmp_errors_per_sec: u32,
    /// ICMP error messages allowed in a burst.
    pub icmp_error_burst: u32,
    /// Checksums the device fills in on transmit (none: all in software).
    pub tx_offload: crate::device::Offloads,
    /// Frames the stack does not consume go to the kernel
    /// ([`Disposition::ToKernel`]) instead of being answered (RST, port
    /// unreachable) or dropped.
    pub exception_path: bool,
    /// With the exception path: TCP and UDP destination ports whose
    /// traffic always goes to the kernel, even where a dpstack socket
    /// has the port (the configured filter).
    pub kernel_ports: Vec<u16>,
}

/// What became of a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The stack took it (or dropped it, counted).
    Consumed,
    /// Not the stack's (another EtherType, a port with no socket, ICMP the
    /// stack does not answer): for the kernel's exception path.
    ToKernel,
    /// The stack took it and the kernel should see it too (ARP, so both
    /// neighbour tables stay right; ICMP errors, for sockets of either).
    Both,
}

impl InterfaceConfig {
    /// A configuration with default ARP, reassembly and ICMP limits.
    pub fn new(mac: MacAddr, ip: Ipv4Cidr, gateway: Option<Ipv4Addr>, mtu: usize) -> Self {
        InterfaceConfig {
            mac,
            ip,
            gateway,
            ip6: None,
            neighbor: NeighborConfig::default(),
            dad_transmits: 1,
            gateway6: None,
            accept_ra: false,
            mtu,
            arp: ArpConfig::default(),
            reassembly: ReassemblyConfig::default(),
            icmp_errors_per_sec: 1000,
            icmp_error_burst: 50,
            tx_offload: crate::device::Offloads::default(),
            exception_path: false,
            kernel_ports: Vec::new(),
        }
    }
}

/// One Ethernet interface with one IPv4 address.
pub struct Interface {
    config: InterfaceConfig,
    arp: ArpCache,
    reassembler: Reassembler,
    icmp_errors: TokenBucket,
    next_ident: u16,
    /// Reused buffer for datagrams that need fragmenting.
    scratch: Vec<u8>,
    /// Reused list of addresses to re-request.
    retry: Vec<Ipv4Addr>,
    ethernet: EthernetStats,
    ipv4: Ipv4Stats,
    icmp: IcmpStats,
    udp: UdpStats,
    ipv6: Ipv6Stats,
    icmpv6: Icmpv6Stats,
    neighbors: NeighborCache,
    /// IPv6 packets in reassembly (bounded by the same configuration as
    /// IPv4's, separately).
    reassembler6: Reassembler<Fragment6Key>,
    /// Identification of the next IPv6 packet we fragment.
    next_ident6: u32,
    /// Duplicate address detection of our IPv6 addresses.
    dad: dad::Dad,
    /// The default router learnt from advertisements, and when its
    /// advertised lifetime ends.
    learnt_router6: Option<(Ipv6Addr, Instant)>,
    /// The link-local IPv6 address of our MAC (used with `ip6` only).
    link_local: Ipv6Addr,
    /// The addresses sockets may use, kept current as duplicate address
    /// detection moves (read on every socket call).
    own: crate::addr::LocalAddrs,
    /// The device's checksum verdicts on the frame being received.
    rx_checksums: RxChecksums,
    /// What the frame being received comes to (set by the layers).
    disposition: Disposition,
}

impl Interface {
    /// An interface; `rng` seeds the IP identification counter.
    pub fn new(config: InterfaceConfig, mut rng: Rng) -> Self {
        let link_local = crate::wire::ipv6::link_local_from_mac(config.mac);
        let ip6_addrs: Vec<Ipv6Addr> = config
            .ip6
            .map(|cidr| vec![link_local, cidr.addr])
            .unwrap_or_default();
        let mut iface = Interface {
            arp: ArpCache::new(config.arp.clone()),
            reassembler: Reassembler::new(config.reassembly.clone()),
            icmp_errors: TokenBucket::new(config.icmp_errors_per_sec, config.icmp_error_burst),
            next_ident: rng.next_u64() as u16,
            next_ident6: rng.next_u64() as u32,
            scratch: Vec::new(),
            retry: Vec::new(),
            neighbors: NeighborCache::new(config.neighbor.clone()),
            // RFC 8200 4.5: 60 s from the first fragment (Linux's
            // ip6frag_time), where IPv4's default is 30.
            reassembler6: Reassembler::new_v6(ReassemblyConfig {
                timeout: config.reassembly.timeout.max(IPV6_REASSEMBLY_TIMEOUT),
                ..config.reassembly.clone()
            }),
            learnt_router6: None,
            dad: dad::Dad::new(&ip6_addrs, config.dad_transmits, config.neighbor.retransmit),
            link_local,
            own: crate::addr::LocalAddrs::from(config.ip.addr),
            config,
            ethernet: EthernetStats::default(),
            ipv4: Ipv4Stats::default(),
            icmp: IcmpStats::default(),
            udp: UdpStats::default(),
            ipv6: Ipv6Stats::default(),
            icmpv6: Icmpv6Stats::default(),
            rx_checksums: RxChecksums::default(),
            disposition: Disposition::Consumed,
        };
        iface.refresh_own();
        iface
    }

    /// Recomputes [`local_addrs`](Self::local_addrs) after duplicate
    /// address detection may have changed an address's state.
    pub(super) fn refresh_own(&mut self) {
        let mut own = crate::addr::LocalAddrs::from(self.config.ip.addr);
        if let Some(cidr) = self.config.ip6 {
            own.ipv6 = Some(cidr.addr).filter(|&a| self.dad.usable(a));
            own.link_local6 = Some(self.link_local).filter(|&a| self.dad.usable(a));
        }
        self.own = own;
    }

    /// Hands unclaimed frames to the kernel (see
    /// [`InterfaceConfig::exception_path`]) or not.
    pub fn set_exception_path(&mut self, on: bool) {
        self.config.exception_path = on;
    }

    /// TCP and UDP ports always handed to the kernel on the exception path.
    pub fn set_kernel_ports(&mut self, ports: Vec<u16>) {
        self.config.kernel_ports = ports;
    }

    /// True when traffic to `port` belongs to the kernel by configuration.
    fn kernel_port(&self, port: u16) -> bool {
        self.config.exception_path && self.config.kernel_ports.contains(&port)
    }

    /// The configuration in force.
    pub fn config(&self) -> &InterfaceConfig {
        &self.config
    }

    /// Our IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.config.ip.addr
    }

    /// The addresses sockets may use now: IPv4, and the IPv6 ones that
    /// duplicate address detection has cleared.
    #[inline]
    pub fn local_addrs(&self) -> &crate::addr::LocalAddrs {
        &self.own
    }

    /// True if packets to `ip` have a next hop at `now`: on our IPv4
    /// subnet or behind the gateway; for IPv6 (when on) on-link or behind
    /// a default router.
    pub fn routable(&self, now: Instant, ip: std::net::IpAddr) -> bool {
        match ip {
            std::net::IpAddr::V4(v4) => self.next_hop(v4).is_some(),
            std::net::IpAddr::V6(v6) => {
                self.config.ip6.is_some() && self.next_hop6(now, v6).is_some()
            }
        }
    }

    /// Records `mac` as the link-layer address of IPv6 neighbour `addr`
    /// (a STALE entry, RFC 4861 7.3.3: used until the neighbour says
    /// otherwise), as a manual `ip -6 neigh add` does.
    pub fn learn_neighbor(&mut self, now: Instant, addr: Ipv6Addr, mac: MacAddr) {
        self.neighbors.learn_unconfirmed(now, addr, mac);
    }

    /// Our IPv6 addresses, link-local first, when IPv6 is on.
    pub fn ip6_addrs(&self) -> Vec<Ipv6Addr> {
        match self.config.ip6 {
            Some(cidr) => vec![self.link_local, cidr.addr],
            None => Vec::new(),
        }
    }

    /// True while duplicate address detection still holds one of our IPv6
    /// addresses back (about a second after start).
    pub fn ip6_tentative(&self) -> bool {
        self.dad.any_tentative()
    }

    /// Where duplicate address detection left `addr`, if it is ours.
    pub fn ip6_state(&self, addr: Ipv6Addr) -> Option<dad::AddressState> {
        self.dad.state(addr)
    }

    /// The IPv6 neighbour cache (inspection).
    pub fn neighbor_cache(&self) -> &NeighborCache {
        &self.neighbors
    }

    /// Largest UDP payload that fits one frame.
    pub fn max_unfragmented_udp(&self) -> usize {
        self.config.mtu.saturating_sub(20 + 8)
    }

    /// The ARP cache (static entries, inspection).
    pub fn arp_cache(&mut self) -> &mut ArpCache {
        &mut self.arp
    }

    /// Datagrams in reassembly, and bytes they hold (IPv4 and IPv6).
    pub fn reassembly_load(&self) -> (usize, usize) {
        (
            self.reassembler.in_progress() + self.reassembler6.in_progress(),
            self.reassembler.bytes_held() + self.reassembler6.bytes_held(),
        )
    }

    /// A snapshot of the counters of the layers the interface runs (the
    /// device and TCP counters are left at zero: the device and
    /// [`TcpSockets`] keep them).
    pub fn stats(&self) -> StackStats {
        StackStats {
            device: Default::default(),
            ethernet: self.ethernet,
            arp: self.arp.stats,
            ipv4: self.ipv4,
            icmp: self.icmp,
            ipv6: self.ipv6,
            icmpv6: Icmpv6Stats {
                neighbor_evictions: self.neighbors.evictions,
                ..self.icmpv6
            },
            udp: self.udp,
            tcp: Default::default(),
            steering: Default::default(),
            kernel_tap: Default::default(),
        }
    }

    /// Announces our address with a gratuitous ARP request, as an interface
    /// coming up does.
    pub fn announce<S: FrameSink>(&mut self, sink: &mut S) {
        let ip = self.ip();
        self.send_arp_request(sink, ip, MacAddr::BROADCAST);
    }

    /// The MAC of the next hop towards `dst`, if known; otherwise starts (or
    /// continues, through [`poll`](Self::poll)'s retries) its resolution and
    /// returns `None`. [`NoRoute`] when no route leads to `dst`.
    pub fn resolve<S: FrameSink>(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        sink: &mut S,
    ) -> Result<Option<MacAddr>, NoRoute> {
        if self.is_broadcast(dst) {
            return Ok(Some(MacAddr::BROADCAST));
        }
        let next_hop = self.next_hop(dst).ok_or(NoRoute)?;
        match self.arp.lookup(now, next_hop) {
            arp::Lookup::Found(mac) | arp::Lookup::FoundStale(mac) => Ok(Some(mac)),
            arp::Lookup::Missing => {
                if self.arp.start_resolving(now, next_hop) {
                    self.send_arp_request(sink, next_hop, MacAddr::BROADCAST);
                }
                Ok(None)
            }
        }
    }

    /// Handles one received frame; replies go to `sink`.
    pub fn receive<S: FrameSink>(
        &mut self,
        now: Instant,
        frame: &[u8],
        sockets: &mut Sockets,
        sink: &mut S,
    ) -> Disposition {
        self.receive_checked(now, frame, RxChecksums::default(), sockets, sink)
    }

    /// As [`receive`](Self::receive), for a frame whose checksums the
    /// device already checked (`checksums`): a good one is trusted, a bad
    /// one dropped and counted, an unknown one verified here.
    pub fn receive_checked<S: FrameSink>(
        &mut self,
        now: Instant,
        frame: &[u8],
        checksums: RxChecksums,
        sockets: &mut Sockets,
        sink: &mut S,
    ) -> Disposition {
        self.rx_checksums = checksums;
        self.disposition = Disposition::Consumed;
        self.ethernet.rx_frames += 1;
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.ethernet.rx_truncated += 1;
            return Disposition::Consumed;
        };
        let dst = MacAddr(eth.dst_addr().0);
        if dst != self.config.mac && !dst.is_broadcast() && !self.joined_mac(dst) {
            if dst.is_multicast() {
                self.ethernet.rx_multicast_dropped += 1;
                // IPv6 neighbour discovery and the like: the kernel's.
                return self.unclaimed();
            }
            self.ethernet.rx_not_for_us += 1;
            return Disposition::Consumed;
        }
        let payload = &frame[ETHERNET_HEADER_LEN..];
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                self.arp_input(now, payload, sink);
                if self.config.exception_path && !self.arp_request_for_us(payload) {
                    self.disposition = Disposition::Both;
                }
            }
            EthernetProtocol::Ipv4 => {
                self.ipv4_input(now, payload, dst.is_broadcast(), sockets, sink)
            }
            EthernetProtocol::Ipv6 if self.config.ip6.is_some() => {
                let link = (MacAddr(eth.src_addr().0), dst.is_multicast());
                self.ipv6_input(now, link, payload, sockets, sink)
            }
            EthernetProtocol::Unknown(0x8100 | 0x88a8) => {
                self.ethernet.rx_vlan_dropped += 1;
                return self.unclaimed();
            }
            _ => {
                self.ethernet.rx_unknown_ethertype += 1;
                return self.unclaimed();
            }
        }
        self.disposition
    }

    /// A frame the stack does not want: the kernel's, when there is an
    /// exception path (the drop counters above still count it).
    fn unclaimed(&mut self) -> Disposition {
        if self.config.exception_path {
            self.disposition = Disposition::ToKernel;
        }
        self.disposition
    }

    /// True for an ARP request asking for our address: the stack answers
    /// it for both (the kernel's TAP has the same MAC), so the kernel does
    /// not see it and no second reply goes out.
    fn arp_request_for_us(&self, payload: &[u8]) -> bool {
        payload.len() >= 28 && payload[6..8] == [0, 1] && payload[24..28] == self.ip().octets()
    }

    /// Runs timers (ARP retries and timeouts, reassembly timeouts, TCP
    /// timers) and sends what sockets queued.
    pub fn poll<S: FrameSink>(&mut self, now: Instant, sockets: &mut Sockets, sink: &mut S) {
        self.reassembler.expire(now, &mut self.ipv4);
        if self.config.ip6.is_some() {
            self.reassembler6.expire(now, &mut self.ipv6);
            self.ipv6.tx_unresolved += self.neighbors.expire_queued(now) as u64;
            if self.dad.any_tentative() {
                while let Some(addr) = self.dad.due(now) {
                    self.send_dad_probe(now, sink, addr);
                }
                self.refresh_own();
            }
        }
        let mut retry = std::mem::take(&mut self.retry);
        retry.clear();
        self.arp.poll_retries(now, &mut retry);
        for ip in &retry {
            self.send_arp_request(sink, *ip, MacAddr::BROADCAST);
        }
        self.retry = retry;
        sockets.tcp.on_timers(now);
        self.tcp_output(now, &mut sockets.tcp, sink);
        self.udp_output(now, &mut sockets.udp, sink);
    }

    /// When [`poll`](Self::poll) next has work: `Some(Instant::ZERO)` means now.
    pub fn poll_at(&self, sockets: &Sockets) -> Option<Instant> {
        if sockets.udp.has_outgoing() || sockets.tcp.has_outgoing() {
            return Some(Instant::ZERO);
        }
        [
            self.arp.poll_at(),
            self.reassembler.poll_at(),
            self.reassembler6.poll_at(),
            self.dad.poll_at(),
            sockets.tcp.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Reserves a frame for `payload_len` bytes after the Ethernet header
    /// (padded to the Ethernet minimum), writes the header, and returns the
    /// payload region; counts a failure.
    #[inline]
    fn frame<'s, S: FrameSink>(
        &mut self,
        sink: &'s mut S,
        payload_len: usize,
        dst: MacAddr,
        ethertype: EthernetProtocol,
    ) -> Option<&'s mut [u8]> {
        let len = ETHERNET_HEADER_LEN + payload_len;
        let Some(frame) = sink.frame(len.max(MIN_FRAME_LEN)) else {
            self.ethernet.tx_no_buffer += 1;
            return None;
        };
        if len < MIN_FRAME_LEN {
            frame[len..].fill(0);
        }
        let mut eth = EthernetFrame::new_unchecked(&mut *frame);
        eth.set_dst_addr(smoltcp::wire::EthernetAddress(dst.0));
        eth.set_src_addr(smoltcp::wire::EthernetAddress(self.config.mac.0));
        eth.set_ethertype(ethertype);
        self.ethernet.tx_frames += 1;
        Some(&mut frame[ETHERNET_HEADER_LEN..len])
    }
}

#[cfg(test)]
mod ipv6_tests;
#[cfg(test)]
mod tests;
