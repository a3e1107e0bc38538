//! ARP on the wire: answering requests for our address, learning senders
//! (RFC 826's merge rule), and sending requests.

use super::{FrameSink, Interface};
use crate::time::Instant;
use crate::wire::MacAddr;
use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetProtocol};
use std::net::Ipv4Addr;

/// Bytes of an Ethernet/IPv4 ARP packet.
const ARP_LEN: usize = 28;

impl Interface {
    pub(super) fn arp_input<S: FrameSink>(&mut self, now: Instant, payload: &[u8], sink: &mut S) {
        self.arp.stats.rx_packets += 1;
        let Ok(packet) = ArpPacket::new_checked(payload) else {
            self.arp.stats.rx_malformed += 1;
            return;
        };
        let Ok(ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) = ArpRepr::parse(&packet)
        else {
            self.arp.stats.rx_unsupported += 1;
            return;
        };
        let sender_mac = MacAddr(source_hardware_addr.0);
        let sender_ip = source_protocol_addr;
        let own_ip = self.ip();
        if !sender_mac.is_unicast()
            || sender_ip.is_broadcast()
            || sender_ip.is_multicast()
            || sender_ip == own_ip
        {
            self.arp.stats.rx_bogus += 1;
            return;
        }
        let for_us = target_protocol_addr == own_ip;
        // RFC 826: update an existing entry from any packet; add one only
        // when the packet is for us. A probe (sender 0.0.0.0) teaches nothing.
        if !sender_ip.is_unspecified() && (for_us || self.arp.contains(sender_ip)) {
            let released = self.arp.learn(now, sender_ip, sender_mac);
            for packet in released {
                self.emit_ip_packet(sink, sender_mac, &packet);
            }
        }
        if for_us && operation == ArpOperation::Request {
            self.send_arp(sink, ArpOperation::Reply, sender_mac, sender_ip, sender_mac);
            self.arp.stats.replies_sent += 1;
        }
    }

    /// Sends a request for `target` to `dst` (broadcast, or unicast to refresh).
    pub(super) fn send_arp_request<S: FrameSink>(
        &mut self,
        sink: &mut S,
        target: Ipv4Addr,
        dst: MacAddr,
    ) {
        self.send_arp(sink, ArpOperation::Request, MacAddr([0; 6]), target, dst);
        self.arp.stats.requests_sent += 1;
    }

    fn send_arp<S: FrameSink>(
        &mut self,
        sink: &mut S,
        operation: ArpOperation,
        target_mac: MacAddr,
        target_ip: Ipv4Addr,
        dst: MacAddr,
    ) {
        let repr = ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr: EthernetAddress(self.config.mac.0),
            source_protocol_addr: self.ip(),
            target_hardware_addr: EthernetAddress(target_mac.0),
            target_protocol_addr: target_ip,
        };
        if let Some(packet) = self.frame(sink, ARP_LEN, dst, EthernetProtocol::Arp) {
            repr.emit(&mut ArpPacket::new_unchecked(packet));
        }
    }
}
