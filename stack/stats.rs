//! Counters per layer, read as plain-data snapshots (like `netstat -s`).
//!
//! Counters are kept by the layer that owns them and copied out on request,
//! so reading them never disturbs the data path.

/// Declares a counters struct of `u64` fields, each with its doc comment,
/// and a `fields()` listing them by name, in declaration order, for printing.
macro_rules! counters {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: u64,)*
        }

        impl $name {
            /// The counters as `(name, value)` pairs, in declaration order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($field), self.$field)),*]
            }

            /// Adds `other`'s counters to these (totals over cores).
            pub fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

counters! {
    /// Frame counters of one device (one queue pair for multi-queue ports).
    DeviceStats {
        /// Frames handed to the caller by `receive`.
        rx_packets,
        /// Bytes in those frames.
        rx_bytes,
        /// Frames taken by `transmit` and sent on.
        tx_packets,
        /// Bytes in those frames.
        tx_bytes,
        /// Received frames dropped by the device layer (no buffer, too large, malformed).
        rx_dropped,
        /// Frames the caller gave to `transmit` that the device dropped.
        tx_dropped,
        /// Receive-side errors reported by the backend (read errors, NIC errors).
        rx_errors,
        /// Transmit-side errors reported by the backend (write errors).
        tx_errors,
    }
}

impl DeviceStats {
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

counters! {
    /// Ethernet layer counters.
    EthernetStats {
        /// Frames handed to the interface.
        rx_frames,
        /// Frames shorter than an Ethernet header.
        rx_truncated,
        /// Frames for another unicast MAC.
        rx_not_for_us,
        /// Multicast frames of groups not joined (with `--ip6`, IPv6's
        /// all-nodes group and our solicited-node groups are joined).
        rx_multicast_dropped,
        /// 802.1Q / 802.1ad tagged frames (VLANs are not implemented).
        rx_vlan_dropped,
        /// Frames of an EtherType other than ARP or IPv4 (or IPv6, with `--ip6`).
        rx_unknown_ethertype,
        /// Frames emitted.
        tx_frames,
        /// Frames not emitted: no transmit buffer, or the transmit backlog is full.
        tx_no_buffer,
    }
}

counters! {
    /// ARP counters.
    ArpStats {
        /// ARP packets received.
        rx_packets,
        /// Packets too short or with inconsistent lengths.
        rx_malformed,
        /// Packets for hardware/protocol types other than Ethernet/IPv4.
        rx_unsupported,
        /// Packets with a broadcast/multicast sender, or claiming our address.
        rx_bogus,
        /// Requests for our address answered.
        replies_sent,
        /// Requests sent (resolution, refresh and gratuitous).
        requests_sent,
        /// Entries learnt or refreshed.
        entries_updated,
        /// Entries evicted to respect the cache bound.
        entries_evicted,
        /// Packets queued while their next hop was resolved.
        queued,
        /// Queued packets dropped because a queue was full.
        queue_overflow,
        /// Queued packets dropped because resolution timed out.
        resolve_timeouts,
    }
}

counters! {
    /// IPv4 counters (like the `Ip:` section of `netstat -s`).
    Ipv4Stats {
        /// Datagrams received (before validation).
        rx_packets,
        /// Shorter than the header (or than the IHL says).
        rx_truncated,
        /// Version field not 4.
        rx_bad_version,
        /// IHL below 5 words.
        rx_bad_header_len,
        /// Total length below the header length or beyond the frame.
        rx_bad_length,
        /// Header checksum wrong.
        rx_bad_checksum,
        /// TTL of zero (no host may send one, RFC 1122 3.2.1.7).
        rx_ttl_zero,
        /// Source is broadcast or multicast.
        rx_bad_source,
        /// Destination is not this host (hosts do not forward).
        rx_not_for_us,
        /// Protocol with no handler here.
        rx_unknown_protocol,
        /// Datagrams handed to ICMP or UDP.
        rx_delivered,
        /// Fragments received.
        frag_received,
        /// Datagrams reassembled.
        frag_reassembled,
        /// Exact duplicate fragments ignored.
        frag_duplicates,
        /// Datagrams dropped for overlapping fragments (RFC 5722 policy).
        frag_overlaps,
        /// Fragments that are malformed (misaligned, beyond 64 KiB, inconsistent end).
        frag_malformed,
        /// Incomplete datagrams dropped at the reassembly timeout.
        frag_timeouts,
        /// Incomplete datagrams evicted to respect the count or memory bounds.
        frag_evicted,
        /// Datagrams sent.
        tx_packets,
        /// Datagrams sent as several fragments.
        tx_fragmented,
        /// Fragments sent.
        tx_fragments,
        /// Datagrams sent with their checksums left to the device
        /// (checksum offload).
        tx_checksums_to_device,
        /// Datagrams received whose checksums the device had already
        /// checked (receive checksum offload).
        rx_checksums_from_device,
        /// Datagrams not sent: no route to the destination.
        tx_no_route,
    }
}

counters! {
    /// ICMP counters.
    IcmpStats {
        /// Messages received.
        rx_messages,
        /// Too short, or with a bad checksum.
        rx_errors,
        /// Echo requests answered.
        echo_replies_sent,
        /// Echo requests to a broadcast address, ignored as Linux does by default.
        echo_broadcast_ignored,
        /// Destination-unreachable messages received.
        rx_dest_unreachable,
        /// Destination-unreachable messages sent.
        tx_dest_unreachable,
        /// Error messages not sent because of the rate limit.
        rate_limited,
    }
}

counters! {
    /// IPv6 counters (RFC 8200), with `--ip6` configured.
    Ipv6Stats {
        /// Packets received (EtherType 0x86DD).
        rx_packets,
        /// Shorter than the fixed header or than its payload length, or
        /// an extension header running past the packet.
        rx_truncated,
        /// A version field other than 6.
        rx_bad_version,
        /// For an address that is not ours (nor a group we are in).
        rx_not_for_us,
        /// From a multicast or unspecified source where one may not be.
        rx_bad_source,
        /// Routing headers with segments left (we know no routing type,
        /// RFC 5095 making type 0 one of those): dropped, reported.
        rx_routing_dropped,
        /// Fragments received.
        frag_received,
        /// Packets reassembled.
        frag_reassembled,
        /// Exact duplicate fragments ignored.
        frag_duplicates,
        /// Packets dropped for overlapping fragments (RFC 5722).
        frag_overlaps,
        /// Fragments that are malformed (a length not a multiple of 8 but
        /// the last, past 65,535 bytes, an inconsistent end, too many).
        frag_malformed,
        /// Incomplete packets dropped at the reassembly timeout.
        frag_timeouts,
        /// Incomplete packets evicted to respect the count or memory bounds.
        frag_evicted,
        /// More extension headers than the stack walks, hop-by-hop options
        /// anywhere but first, malformed options, or an unrecognised option
        /// that must not be skipped.
        rx_bad_extension,
        /// Upper layers not served (neither ICMPv6, TCP nor UDP): answered
        /// with a Parameter Problem, or the kernel's on the exception path.
        rx_unsupported,
        /// Packets handed to TCP, UDP or ICMPv6.
        rx_delivered,
        /// Packets sent (a fragmented one once).
        tx_packets,
        /// Packets sent as several fragments.
        tx_fragmented,
        /// Fragments sent.
        tx_fragments,
        /// Packets not sent: off-link destination, and no IPv6 router is
        /// known yet.
        tx_no_route,
        /// Packets dropped waiting for a neighbour's link-layer address:
        /// its queue was full, or it never answered.
        tx_unresolved,
        /// Packets not sent: past 65,535 bytes, or an MTU too small to
        /// fragment into.
        tx_too_big,
    }
}

counters! {
    /// ICMPv6 and neighbour discovery counters (RFC 4443, RFC 4861).
    Icmpv6Stats {
        /// Messages received.
        rx_messages,
        /// Too short, or with a bad checksum.
        rx_errors,
        /// Echo requests answered.
        echo_replies_sent,
        /// Errors (destination unreachable, packet too big, time
        /// exceeded, parameter problem) about our TCP or UDP packets,
        /// passed to their socket.
        rx_errors_received,
        /// Errors about anything else (not from our address, another
        /// protocol, extension headers, too short a quote).
        rx_errors_ignored,
        /// Neighbour solicitations received and valid.
        rx_neighbor_solicits,
        /// Neighbour advertisements sent (answers to solicitations).
        tx_neighbor_adverts,
        /// Neighbour advertisements received and valid.
        rx_neighbor_adverts,
        /// Neighbour solicitations sent (resolving a next hop).
        tx_neighbor_solicits,
        /// Neighbour discovery messages failing RFC 4861 7.1 validation
        /// (hop limit not 255, bad code, length or options): dropped.
        rx_nd_invalid,
        /// Advertisements claiming one of our addresses after it was
        /// checked (counted; the address stays ours).
        rx_address_conflicts,
        /// Router advertisements received and valid (taken with
        /// `--accept-ra`).
        rx_router_adverts,
        /// Duplicate address detection probes sent (RFC 4862).
        dad_probes_sent,
        /// Our addresses found in use by another node while being checked:
        /// never used.
        dad_duplicates,
        /// Neighbour cache entries evicted to make room.
        neighbor_evictions,
        /// Other ICMPv6 types (left to the kernel on the exception path).
        rx_other,
        /// Errors sent (Parameter Problem: an unrecognised next header or
        /// option, a routing header with segments left).
        tx_errors,
        /// Errors not sent because of the rate limit (shared with ICMP's).
        rate_limited,
    }
}

counters! {
    /// UDP counters (like the `Udp:` section of `netstat -s`).
    UdpStats {
        /// Datagrams delivered to a socket.
        rx_datagrams,
        /// Datagrams to a port with no socket.
        rx_no_port,
        /// Malformed headers or bad checksums.
        rx_errors,
        /// Datagrams dropped because the socket's receive queue was full.
        rx_queue_full,
        /// Datagrams sent.
        tx_datagrams,
        /// Datagrams dropped on the way out (no route, too big for DF).
        tx_dropped,
    }
}

counters! {
    /// TCP counters (like the `Tcp:` section of `netstat -s`).
    TcpStats {
        /// Segments received (before validation).
        rx_segments,
        /// Shorter than a TCP header.
        rx_truncated,
        /// Data offset below 5 words or past the segment's end.
        rx_bad_offset,
        /// Checksum wrong.
        rx_bad_checksum,
        /// An option with an impossible or wrong length.
        rx_bad_options,
        /// SYN with FIN or RST, or no control bit at all.
        rx_bad_flags,
        /// Segments for a port nobody listens on.
        rx_closed_port,
        /// Resets sent.
        tx_resets,
        /// Segments sent (every kind, retransmissions included).
        tx_segments,
        /// Bytes of data sent, retransmissions included.
        tx_data_bytes,
        /// Data bytes received in order and delivered to receive buffers.
        rx_data_bytes,
        /// Connections opened by connect (SYN sent).
        active_opens,
        /// Connections opened from a listener (SYN received).
        passive_opens,
        /// Connections that reached ESTABLISHED.
        established,
        /// Connect attempts that failed (refused, timed out, reset).
        attempt_fails,
        /// Established connections reset by the peer.
        resets_received,
        /// Connections that gave up after retransmitting (ETIMEDOUT).
        timeouts,
        /// Segments retransmitted (timeouts, fast retransmit, SYN, FIN).
        tx_retransmits,
        /// Retransmission timer expirations.
        rto_expirations,
        /// Fast retransmits on three duplicate ACKs.
        fast_retransmits,
        /// Tail loss probes sent (RFC 8985 7).
        tail_loss_probes,
        /// Retransmissions found lost by SACK and sent again without a timeout.
        lost_retransmits,
        /// Losses RACK found by time (RFC 8985 6): segments sent before a
        /// delivered one and still missing a round trip plus the
        /// reordering window later.
        rack_losses,
        /// RFC 6675 rescue retransmissions (the highest unSACKed segment, once per recovery).
        rescue_retransmits,
        /// Duplicate ACKs received.
        rx_dup_acks,
        /// Segments that arrived ahead of a hole and were held.
        rx_out_of_order,
        /// Out-of-order segments dropped because the reassembly record was full.
        rx_reassembly_full,
        /// Segments wholly below `rcv_nxt` (duplicates).
        rx_duplicate,
        /// Segments outside the receive window.
        rx_outside_window,
        /// Segments dropped by PAWS (an old timestamp).
        rx_paws_dropped,
        /// ACKs for data never sent.
        rx_ack_too_new,
        /// ACKs older than the peer's largest window (RFC 5961 5.2).
        rx_ack_too_old,
        /// Challenge ACKs sent for in-window RSTs, SYNs or old ACKs (RFC 5961).
        tx_challenge_acks,
        /// Challenge ACKs withheld by the rate limit (RFC 5961 7).
        challenge_acks_limited,
        /// Delayed-ACK timer expirations.
        delayed_acks,
        /// Zero-window probes sent.
        window_probes,
        /// SYNs dropped because the listener's SYN queue was full.
        syn_queue_overflow,
        /// SYN-ACKs sent with a SYN cookie (SYN queue full).
        syn_cookies_sent,
        /// Connections made from a returning SYN cookie.
        syn_cookies_accepted,
        /// ACKs to a listener whose cookie did not check out.
        syn_cookies_invalid,
        /// Handshake-completing ACKs dropped because the accept queue was full.
        accept_queue_overflow,
        /// Replies (resets, challenge ACKs) dropped because their queue was full.
        tx_replies_dropped,
        /// Data arriving after the application closed; answered with a reset.
        rx_after_close,
        /// TIME_WAIT connections taken over by a new SYN (RFC 6191) or by a connect to the same peer.
        time_wait_reused,
        /// SYNs dropped (and connects refused) at the connection or buffer-memory limit.
        connection_limit_drops,
        /// Data segments dropped, and sends refused with ENOBUFS, because a
        /// new ring would pass the buffer-memory cap.
        buffer_memory_drops,
        /// Keepalive probes sent.
        keepalive_probes,
        /// Connections ended by unanswered keepalive probes.
        keepalive_timeouts,
        /// ICMP errors about a segment of one of our connections, its
        /// sequence number in flight (RFC 5927).
        rx_icmp_errors,
        /// ICMP errors ignored: no such connection, or a quoted sequence
        /// number not in flight (forged or stale).
        rx_icmp_ignored,
        /// Segment sizes lowered by "fragmentation needed" (RFC 1191).
        pmtu_lowered,
    }
}

counters! {
    /// Counters of the steering stage that moves frames between cores
    /// (zero on one core).
    SteeringStats {
        /// Frames this core received for another core's flow and handed to it.
        handed_out,
        /// Frames other cores handed to this one.
        handed_in,
        /// Frames (or ARP copies) dropped because the other core's ring was
        /// full or no buffer was left for a copy.
        handoff_drops,
        /// ARP frames copied to the other cores so every core learns the
        /// sender's address.
        arp_copies,
    }
}

counters! {
    /// The kernel exception path (`--kernel-tap`): frames the stack does
    /// not consume, handed to a TAP the kernel owns, and the kernel's
    /// frames sent out through the port.
    KernelTapStats {
        /// Frames handed to the kernel.
        to_kernel,
        /// Frames the kernel sent, transmitted through the port.
        from_kernel,
        /// Frames for the kernel dropped: its TAP queue was full or gone.
        to_kernel_dropped,
        /// Frames from the kernel dropped: no transmit buffer, or too large.
        from_kernel_dropped,
    }
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
    /// IPv6 counters.
    pub ipv6: Ipv6Stats,
    /// ICMPv6 and neighbour discovery counters.
    pub icmpv6: Icmpv6Stats,
    /// UDP counters.
    pub udp: UdpStats,
    /// TCP counters.
    pub tcp: TcpStats,
    /// Steering between cores.
    pub steering: SteeringStats,
    /// The kernel exception path.
    pub kernel_tap: KernelTapStats,
}

impl StackStats {
    /// Every layer's counters, layer by layer, for printing.
    pub fn layers(&self) -> [(&'static str, Vec<(&'static str, u64)>); 11] {
        [
            ("device", self.device.fields()),
            ("ethernet", self.ethernet.fields()),
            ("arp", self.arp.fields()),
            ("ipv4", self.ipv4.fields()),
            ("icmp", self.icmp.fields()),
            ("ipv6", self.ipv6.fields()),
            ("icmpv6", self.icmpv6.fields()),
            ("udp", self.udp.fields()),
            ("tcp", self.tcp.fields()),
            ("steering", self.steering.fields()),
            ("kernel_tap", self.kernel_tap.fields()),
        ]
    }

    /// Adds every counter of `other` to these: the totals of several cores.
    pub fn add(&mut self, other: &StackStats) {
        self.device.add(&other.device);
        self.ethernet.add(&other.ethernet);
        self.arp.add(&other.arp);
        self.ipv4.add(&other.ipv4);
        self.icmp.add(&other.icmp);
        self.ipv6.add(&other.ipv6);
        self.icmpv6.add(&other.icmpv6);
        self.udp.add(&other.udp);
        self.tcp.add(&other.tcp);
        self.steering.add(&other.steering);
        self.kernel_tap.add(&other.kernel_tap);
    }

    /// The snapshot as a JSON object of layers, for `--json` summaries.
    pub fn to_json(&self) -> serde_json::Value {
        let layers = self.layers().into_iter().map(|(layer, fields)| {
            let counters = fields
                .into_iter()
                .map(|(name, value)| (name.to_string(), value.into()));
            (
                layer.to_string(),
                serde_json::Value::Object(counters.collect()),
            )
        });
        serde_json::Value::Object(layers.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_declaration_order() {
        let stats = DeviceStats {
            rx_packets: 1,
            tx_errors: 8,
            ..DeviceStats::default()
        };
        let fields = stats.fields();
        assert_eq!(fields[0], ("rx_packets", 1));
        assert_eq!(fields[7], ("tx_errors", 8));
    }

    #[test]
    fn json_has_every_layer() {
        let json = StackStats::default().to_json();
        for layer in [
            "device",
            "ethernet",
            "arp",
            "ipv4",
            "icmp",
            "ipv6",
            "icmpv6",
            "udp",
            "tcp",
            "steering",
            "kernel_tap",
        ] {
            assert!(json[layer].is_object(), "{layer}");
        }
        assert_eq!(json["ipv4"]["rx_ttl_zero"], 0);
    }

    #[test]
    fn totals_add_every_layer() {
        let mut one = StackStats::default();
        one.tcp.active_opens = 2;
        one.steering.handed_in = 3;
        let mut total = one;
        total.add(&one);
        assert_eq!(total.tcp.active_opens, 4);
        assert_eq!(total.steering.handed_in, 6);
        assert_eq!(total.device, DeviceStats::default());
    }
}
