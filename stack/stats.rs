//! Counters per layer, read as plain-data snapshots (like `netstat -s`).
//!
//! Counters are kept by the layer that owns them and copied out on request,
//! so reading them never disturbs the data path.

/// Frame counters of one device (one queue pair for multi-queue ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceStats {
    /// Frames handed to the caller by `receive`.
    pub rx_packets: u64,
    /// Bytes in those frames.
    pub rx_bytes: u64,
    /// Frames taken by `transmit` and sent on.
    pub tx_packets: u64,
    /// Bytes in those frames.
    pub tx_bytes: u64,
    /// Received frames dropped by the device layer (no buffer, too large, malformed).
    pub rx_dropped: u64,
    /// Frames the caller gave to `transmit` that the device dropped.
    pub tx_dropped: u64,
    /// Receive-side errors reported by the backend (read errors, NIC errors).
    pub rx_errors: u64,
    /// Transmit-side errors reported by the backend (write errors).
    pub tx_errors: u64,
}

impl DeviceStats {
    /// The counters as `name value` pairs, in a fixed order, for printing.
    pub fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("rx_packets", self.rx_packets),
            ("rx_bytes", self.rx_bytes),
            ("tx_packets", self.tx_packets),
            ("tx_bytes", self.tx_bytes),
            ("rx_dropped", self.rx_dropped),
            ("tx_dropped", self.tx_dropped),
            ("rx_errors", self.rx_errors),
            ("tx_errors", self.tx_errors),
        ]
    }

    /// Counts one frame received.
    pub(crate) fn count_rx(&mut self, len: usize) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
    }

    /// Counts one frame transmitted.
    pub(crate) fn count_tx(&mut self, len: usize) {
        self.tx_packets += 1;
        self.tx_bytes += len as u64;
    }
}

/// Ethernet layer counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EthernetStats {
    /// Frames handed to the interface.
    pub rx_frames: u64,
    /// Frames shorter than an Ethernet header.
    pub rx_truncated: u64,
    /// Frames for another unicast MAC.
    pub rx_not_for_us: u64,
    /// Multicast frames (no group is joined).
    pub rx_multicast_dropped: u64,
    /// 802.1Q / 802.1ad tagged frames (VLANs are not implemented).
    pub rx_vlan_dropped: u64,
    /// Frames of an EtherType other than ARP or IPv4.
    pub rx_unknown_ethertype: u64,
    /// Frames emitted.
    pub tx_frames: u64,
    /// Frames not emitted for lack of a transmit buffer.
    pub tx_no_buffer: u64,
}

/// ARP counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArpStats {
    /// ARP packets received.
    pub rx_packets: u64,
    /// Packets too short or with inconsistent lengths.
    pub rx_malformed: u64,
    /// Packets for hardware/protocol types other than Ethernet/IPv4.
    pub rx_unsupported: u64,
    /// Packets with a broadcast/multicast sender, or claiming our address.
    pub rx_bogus: u64,
    /// Requests for our address answered.
    pub replies_sent: u64,
    /// Requests sent (resolution, refresh and gratuitous).
    pub requests_sent: u64,
    /// Entries learnt or refreshed.
    pub entries_updated: u64,
    /// Entries evicted to respect the cache bound.
    pub entries_evicted: u64,
    /// Packets queued while their next hop was resolved.
    pub queued: u64,
    /// Queued packets dropped because the per-address queue was full.
    pub queue_overflow: u64,
    /// Queued packets dropped because resolution timed out.
    pub resolve_timeouts: u64,
}

/// IPv4 counters (like the `Ip:` section of `netstat -s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv4Stats {
    /// Datagrams received (before validation).
    pub rx_packets: u64,
    /// Shorter than the header (or than the IHL says).
    pub rx_truncated: u64,
    /// Version field not 4.
    pub rx_bad_version: u64,
    /// IHL below 5 words.
    pub rx_bad_header_len: u64,
    /// Total length below the header length or beyond the frame.
    pub rx_bad_length: u64,
    /// Header checksum wrong.
    pub rx_bad_checksum: u64,
    /// TTL of zero (no host may send one, RFC 1122 3.2.1.7).
    pub rx_ttl_zero: u64,
    /// Source is broadcast or multicast.
    pub rx_bad_source: u64,
    /// Destination is not this host (hosts do not forward).
    pub rx_not_for_us: u64,
    /// Protocol with no handler here.
    pub rx_unknown_protocol: u64,
    /// Datagrams handed to ICMP or UDP.
    pub rx_delivered: u64,
    /// Fragments received.
    pub frag_received: u64,
    /// Datagrams reassembled.
    pub frag_reassembled: u64,
    /// Exact duplicate fragments ignored.
    pub frag_duplicates: u64,
    /// Datagrams dropped for overlapping fragments (RFC 5722 policy).
    pub frag_overlaps: u64,
    /// Fragments that are malformed (misaligned, beyond 64 KiB, inconsistent end).
    pub frag_malformed: u64,
    /// Incomplete datagrams dropped at the reassembly timeout.
    pub frag_timeouts: u64,
    /// Incomplete datagrams evicted to respect the count or memory bounds.
    pub frag_evicted: u64,
    /// Datagrams sent.
    pub tx_packets: u64,
    /// Datagrams sent as several fragments.
    pub tx_fragmented: u64,
    /// Fragments sent.
    pub tx_fragments: u64,
    /// Datagrams not sent: no route to the destination.
    pub tx_no_route: u64,
}

/// ICMP counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcmpStats {
    /// Messages received.
    pub rx_messages: u64,
    /// Too short, or with a bad checksum.
    pub rx_errors: u64,
    /// Echo requests answered.
    pub echo_replies_sent: u64,
    /// Echo requests to a broadcast address, ignored as Linux does by default.
    pub echo_broadcast_ignored: u64,
    /// Destination-unreachable messages received.
    pub rx_dest_unreachable: u64,
    /// Destination-unreachable messages sent.
    pub tx_dest_unreachable: u64,
    /// Error messages not sent because of the rate limit.
    pub rate_limited: u64,
}

/// UDP counters (like the `Udp:` section of `netstat -s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UdpStats {
    /// Datagrams delivered to a socket.
    pub rx_datagrams: u64,
    /// Datagrams to a port with no socket.
    pub rx_no_port: u64,
    /// Malformed headers or bad checksums.
    pub rx_errors: u64,
    /// Datagrams dropped because the socket's receive queue was full.
    pub rx_queue_full: u64,
    /// Datagrams sent.
    pub tx_datagrams: u64,
    /// Datagrams dropped on the way out (no route, resolution failed to queue).
    pub tx_dropped: u64,
}

/// A snapshot of every layer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StackStats {
    /// Device counters.
    pub device: DeviceStats,
    /// Ethernet counters.
    pub ethernet: EthernetStats,
    /// ARP counters.
    pub arp: ArpStats,
    /// IPv4 counters.
    pub ipv4: Ipv4Stats,
    /// ICMP counters.
    pub icmp: IcmpStats,
    /// UDP counters.
    pub udp: UdpStats,
}
