//! Interface behaviour with explicit time: frames in, frames out, counters.

use super::*;
use crate::time::Duration;
use crate::udp::{UdpBuffers, UdpError, UdpSockets};
use smoltcp::wire::{
    checksum, ArpOperation, ArpPacket, ArpRepr, EthernetAddress, IpAddress, Ipv4Packet, UdpPacket,
};
use std::net::{SocketAddr, SocketAddrV4};

const OUR_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
const PEER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn setup() -> (Interface, Sockets) {
    let cidr = Ipv4Cidr {
        addr: OUR_IP,
        prefix_len: 24,
    };
    let config = InterfaceConfig::new(OUR_MAC, cidr, Some(Ipv4Addr::new(10, 0, 0, 254)), 1500);
    (
        Interface::new(config, Rng::new(5)),
        sockets(UdpSockets::new(Rng::new(6), UdpBuffers::default())),
    )
}

fn sockets(udp: UdpSockets) -> Sockets {
    Sockets {
        udp,
        tcp: crate::tcp::TcpSockets::new(Rng::new(7), crate::tcp::TcpConfig::default()),
    }
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn ethernet(dst: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&dst.0);
    frame.extend_from_slice(&PEER_MAC.0);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An IPv4 datagram from the peer to us, checksummed.
fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 20 + payload.len()];
    d[0] = 0x45;
    d[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    d[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    d[8] = 64;
    d[9] = protocol;
    d[12..16].copy_from_slice(&PEER_IP.octets());
    d[16..20].copy_from_slice(&OUR_IP.octets());
    d[20..].copy_from_slice(payload);
    refresh_ip_checksum(&mut d);
    d
}

fn refresh_ip_checksum(d: &mut [u8]) {
    d[10..12].fill(0);
    let ihl = usize::from(d[0] & 0x0f) * 4;
    let sum = !checksum::data(&d[..ihl.min(d.len())]);
    d[10..12].copy_from_slice(&sum.to_be_bytes());
}

fn udp_datagram(src_port: u16, dst_port: u16, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut u = vec![0u8; len];
    u[0..2].copy_from_slice(&src_port.to_be_bytes());
    u[2..4].copy_from_slice(&dst_port.to_be_bytes());
    u[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    u[8..].copy_from_slice(data);
    UdpPacket::new_unchecked(&mut u[..])
        .fill_checksum(&IpAddress::Ipv4(PEER_IP), &IpAddress::Ipv4(OUR_IP));
    u
}

fn echo_request(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![8u8, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let sum = !checksum::data(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

fn arp(operation: ArpOperation, sender: (MacAddr, Ipv4Addr), target_ip: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0u8; 28];
    ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: EthernetAddress(sender.0 .0),
        source_protocol_addr: sender.1,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target_ip,
    }
    .emit(&mut ArpPacket::new_unchecked(&mut p[..]));
    ethernet(MacAddr::BROADCAST, 0x0806, &p)
}

/// The IPv4 datagram inside an emitted frame.
fn ip_of(frame: &[u8]) -> Ipv4Packet<&[u8]> {
    assert_eq!(&frame[12..14], &[0x08, 0x00]);
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let packet = Ipv4Packet::new_checked(&frame[14..14 + total]).unwrap();
    assert!(packet.verify_checksum());
    packet
}

/// A UDP socket bound to `port` of any address.
fn udp_bound(sockets: &mut Sockets, port: u16) -> crate::udp::UdpHandle {
    let socket = sockets.udp.open();
    sockets
        .udp
        .bind(
            socket,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
            OUR_IP,
        )
        .unwrap();
    socket
}

/// Queues `data` on `socket` for `to`, as an application's sendto would.
fn queue(sockets: &mut Sockets, socket: crate::udp::UdpHandle, data: &[u8], to: SocketAddrV4) {
    sockets
        .udp
        .send_to(socket, data, Some(to.into()), OUR_IP, 1472)
        .unwrap();
}

fn learn_peer(iface: &mut Interface, sockets: &mut Sockets) {
    let mut out = Vec::new();
    iface.receive(
        at(0),
        &arp(ArpOperation::Request, (PEER_MAC, PEER_IP), OUR_IP),
        sockets,
        &mut out,
    );
    assert_eq!(out.len(), 1, "the request is answered");
}

#[test]
fn answers_arp_for_our_address_and_learns_the_sender() {
    let (mut iface, mut sockets) = setup();
    let mut out: Vec<Vec<u8>> = Vec::new();
    iface.receive(
        at(0),
        &arp(ArpOperation::Request, (PEER_MAC, PEER_IP), OUR_IP),
        &mut sockets,
        &mut out,
    );
    assert_eq!(out.len(), 1);
    let reply = &out[0];
    assert_eq!(reply.len(), MIN_FRAME_LEN, "padded to the Ethernet minimum");
    assert_eq!(&reply[0..6], &PEER_MAC.0);
    let repr = ArpRepr::parse(&ArpPacket::new_checked(&reply[14..42]).unwrap()).unwrap();
    let ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr,
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = repr
    else {
        panic!("not Ethernet/IPv4")
    };
    assert_eq!(operation, ArpOperation::Reply);
    assert_eq!(
        (
            source_hardware_addr.0,
            source_protocol_addr,
            target_protocol_addr
        ),
        (OUR_MAC.0, OUR_IP, PEER_IP)
    );
    assert_eq!(iface.arp_cache().peek(PEER_IP), Some(PEER_MAC));

    out.clear();
    let other = Ipv4Addr::new(10, 0, 0, 77);
    iface.receive(
        at(0),
        &arp(
            ArpOperation::Request,
            (MacAddr([2, 0, 0, 0, 0, 7]), other),
            PEER_IP,
        ),
        &mut sockets,
        &mut out,
    );
    assert!(out.is_empty(), "not for us: no reply");
    assert!(!iface.arp_cache().contains(other), "and not learnt");
    iface.receive(
        at(0),
        &arp(ArpOperation::Request, (MacAddr::BROADCAST, other), OUR_IP),
        &mut sockets,
        &mut out,
    );
    assert_eq!(iface.stats().arp.rx_bogus, 1);
    iface.receive(
        at(0),
        &ethernet(MacAddr::BROADCAST, 0x0806, &[0; 5]),
        &mut sockets,
        &mut out,
    );
    assert_eq!(iface.stats().arp.rx_malformed, 1);
    iface.receive(
        at(0),
        &ethernet(MacAddr::BROADCAST, 0x0806, &[0; 28]),
        &mut sockets,
        &mut out,
    );
    assert_eq!(
        iface.stats().arp.rx_unsupported,
        1,
        "hardware type 0 is not Ethernet"
    );
}

#[test]
fn gratuitous_arp_announces_our_address() {
    let (mut iface, _) = setup();
    let mut out = Vec::new();
    iface.announce(&mut out);
    let repr = ArpRepr::parse(&ArpPacket::new_checked(&out[0][14..42]).unwrap()).unwrap();
    let ArpRepr::EthernetIpv4 {
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = repr
    else {
        panic!()
    };
    assert_eq!(
        (source_protocol_addr, target_protocol_addr),
        (OUR_IP, OUR_IP)
    );
    assert_eq!(&out[0][0..6], &MacAddr::BROADCAST.0);
}

#[test]
fn sending_resolves_the_next_hop_then_releases_the_queue() {
    let (mut iface, mut sockets) = setup();
    let socket = sockets.udp.open();
    let peer = SocketAddrV4::new(PEER_IP, 9000);
    queue(&mut sockets, socket, b"first", peer);
    queue(&mut sockets, socket, b"second", peer);
    let mut out = Vec::new();
    iface.poll(at(0), &mut sockets, &mut out);
    assert_eq!(out.len(), 1, "one ARP request for both datagrams");
    assert_eq!(&out[0][12..14], &[0x08, 0x06]);
    out.clear();
    let mut reply = arp(ArpOperation::Reply, (PEER_MAC, PEER_IP), OUR_IP);
    reply[0..6].copy_from_slice(&OUR_MAC.0);
    iface.receive(at(5), &reply, &mut sockets, &mut out);
    assert_eq!(out.len(), 2, "queued datagrams leave on resolution");
    for (frame, text) in out.iter().zip([&b"first"[..], b"second"]) {
        assert_eq!(&frame[0..6], &PEER_MAC.0);
        let packet = ip_of(frame);
        let datagram = UdpPacket::new_checked(packet.payload()).unwrap();
        assert!(datagram.verify_checksum(&IpAddress::Ipv4(OUR_IP), &IpAddress::Ipv4(PEER_IP)));
        assert_eq!(datagram.payload(), text);
    }
}

#[test]
fn unresolved_next_hop_times_out_and_drops_with_a_count() {
    let (mut iface, mut sockets) = setup();
    let socket = sockets.udp.open();
    queue(
        &mut sockets,
        socket,
        b"lost",
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 50), 9),
    );
    let mut out = Vec::new();
    for ms in [0, 1_000, 2_000, 3_000] {
        iface.poll(at(ms), &mut sockets, &mut out);
    }
    assert_eq!(out.len(), 3, "three requests, then give up");
    assert_eq!(iface.stats().arp.resolve_timeouts, 1);
    assert_eq!(iface.arp_cache().queued_packets(), 0);
    assert_eq!(iface.poll_at(&sockets), None);
}

#[test]
fn off_subnet_goes_to_the_gateway_and_no_gateway_means_no_route() {
    let (mut iface, mut sockets) = setup();
    let socket = sockets.udp.open();
    queue(
        &mut sockets,
        socket,
        b"x",
        SocketAddrV4::new(Ipv4Addr::new(8, 8, 8, 8), 53),
    );
    let mut out = Vec::new();
    iface.poll(at(0), &mut sockets, &mut out);
    let repr = ArpRepr::parse(&ArpPacket::new_checked(&out[0][14..42]).unwrap()).unwrap();
    let ArpRepr::EthernetIpv4 {
        target_protocol_addr,
        ..
    } = repr
    else {
        panic!()
    };
    assert_eq!(target_protocol_addr, Ipv4Addr::new(10, 0, 0, 254));

    let cidr = Ipv4Cidr {
        addr: OUR_IP,
        prefix_len: 24,
    };
    let mut lone = Interface::new(InterfaceConfig::new(OUR_MAC, cidr, None, 1500), Rng::new(1));
    queue(
        &mut sockets,
        socket,
        b"x",
        SocketAddrV4::new(Ipv4Addr::new(8, 8, 8, 8), 53),
    );
    lone.poll(at(0), &mut sockets, &mut out);
    assert_eq!(
        (lone.stats().ipv4.tx_no_route, lone.stats().udp.tx_dropped),
        (1, 1)
    );
}

#[test]
fn echo_request_gets_an_identical_reply() {
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let mut out = Vec::new();
    let request = echo_request(0x77, 3, b"ping payload");
    iface.receive(
        at(1),
        &ethernet(OUR_MAC, 0x0800, &ipv4(1, &request)),
        &mut sockets,
        &mut out,
    );
    assert_eq!(out.len(), 1);
    let reply = ip_of(&out[0]);
    assert_eq!((reply.src_addr(), reply.dst_addr()), (OUR_IP, PEER_IP));
    let message = reply.payload();
    assert_eq!(message[0], 0, "echo reply");
    assert_eq!(checksum::data(message), !0);
    assert_eq!(
        &message[4..],
        &request[4..],
        "ident, sequence and data echoed"
    );
    assert_eq!(iface.stats().icmp.echo_replies_sent, 1);
}

#[test]
fn large_echo_is_reassembled_and_the_reply_fragmented() {
    let (mut sender, mut sockets) = setup();
    learn_peer(&mut sender, &mut sockets);
    // Fragment an 8000-byte echo request by hand, as `ping -s 8000` sends it.
    let data: Vec<u8> = (0..8000u32).map(|i| i as u8).collect();
    let request = echo_request(1, 1, &data);
    let mut out = Vec::new();
    for (i, chunk) in request.chunks(1480).enumerate() {
        let mut d = ipv4(1, chunk);
        let more = (i + 1) * 1480 < request.len();
        let flags_offset = ((i * 1480 / 8) as u16) | if more { 0x2000 } else { 0 };
        d[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        refresh_ip_checksum(&mut d);
        sender.receive(
            at(1),
            &ethernet(OUR_MAC, 0x0800, &d),
            &mut sockets,
            &mut out,
        );
    }
    assert_eq!(sender.stats().ipv4.frag_reassembled, 1);
    assert_eq!(out.len(), 6, "8008 bytes of ICMP in 1480-byte fragments");
    let mut reply = vec![0u8; request.len()];
    for frame in &out {
        let p = ip_of(frame);
        assert!(p.total_len() as usize <= 1500);
        let offset = usize::from(p.frag_offset());
        reply[offset..offset + p.payload().len()].copy_from_slice(p.payload());
    }
    assert_eq!(reply[0], 0);
    assert_eq!(&reply[4..], &request[4..]);
    assert_eq!(checksum::data(&reply), !0);
}

#[test]
fn udp_to_closed_port_gets_port_unreachable_rate_limited() {
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let mut out = Vec::new();
    let frame = ethernet(
        OUR_MAC,
        0x0800,
        &ipv4(17, &udp_datagram(5000, 9, b"anyone?")),
    );
    for _ in 0..60 {
        iface.receive(at(1), &frame, &mut sockets, &mut out);
    }
    assert_eq!(out.len(), 50, "the burst, then the rate limit");
    assert_eq!(iface.stats().icmp.rate_limited, 10);
    assert_eq!(iface.stats().udp.rx_no_port, 60);
    let message = ip_of(&out[0]).payload().to_vec();
    assert_eq!(
        (message[0], message[1]),
        (3, 3),
        "destination unreachable, port"
    );
    assert_eq!(
        &message[8 + 12..8 + 20],
        &[PEER_IP.octets(), OUR_IP.octets()].concat()[..],
        "quotes our header"
    );
}

#[test]
fn udp_is_delivered_and_echoed() {
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let socket = udp_bound(&mut sockets, 7);
    let mut out = Vec::new();
    for data in [&b""[..], b"hello"] {
        iface.receive(
            at(1),
            &ethernet(OUR_MAC, 0x0800, &ipv4(17, &udp_datagram(5000, 7, data))),
            &mut sockets,
            &mut out,
        );
    }
    let mut zero_checksum = udp_datagram(5000, 7, b"nosum");
    zero_checksum[6..8].fill(0);
    iface.receive(
        at(1),
        &ethernet(OUR_MAC, 0x0800, &ipv4(17, &zero_checksum)),
        &mut sockets,
        &mut out,
    );
    let mut buf = [0u8; 64];
    let peer = SocketAddr::from((PEER_IP, 5000));
    assert_eq!(
        sockets.udp.recv_from(socket, &mut buf),
        Ok((0, peer)),
        "zero-length datagram"
    );
    assert_eq!(sockets.udp.recv_from(socket, &mut buf), Ok((5, peer)));
    assert_eq!(
        sockets.udp.recv_from(socket, &mut buf),
        Ok((5, peer)),
        "zero checksum accepted (RFC 768)"
    );
    assert_eq!(iface.stats().udp.rx_datagrams, 3);
}

#[test]
fn port_unreachable_reaches_the_connected_socket() {
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let socket = sockets.udp.open();
    let peer = SocketAddrV4::new(PEER_IP, 9999);
    sockets.udp.connect(socket, peer, OUR_IP).unwrap();
    sockets
        .udp
        .send_to(socket, b"knock", None, OUR_IP, 1472)
        .unwrap();
    let mut out = Vec::new();
    iface.poll(at(1), &mut sockets, &mut out);
    let sent = out[0][14..].to_vec();
    let mut message = vec![3u8, 3, 0, 0, 0, 0, 0, 0];
    message.extend_from_slice(&sent[..28]);
    let sum = !checksum::data(&message);
    message[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut icmp = ipv4(1, &message);
    icmp[12..16].copy_from_slice(&PEER_IP.octets());
    refresh_ip_checksum(&mut icmp);
    iface.receive(
        at(2),
        &ethernet(OUR_MAC, 0x0800, &icmp),
        &mut sockets,
        &mut out,
    );
    let mut buf = [0u8; 8];
    assert_eq!(
        sockets.udp.recv_from(socket, &mut buf),
        Err(UdpError::ConnectionRefused)
    );
}

#[test]
fn large_udp_send_is_fragmented_and_reassembled_by_a_peer() {
    let (mut a, mut udp_a) = setup();
    learn_peer(&mut a, &mut udp_a);
    let data: Vec<u8> = (0..65_507u32).map(|i| (i * 7) as u8).collect();
    let socket = udp_a.udp.open();
    udp_a
        .udp
        .send_to(
            socket,
            &data,
            Some(SocketAddrV4::new(PEER_IP, 7).into()),
            OUR_IP,
            1472,
        )
        .unwrap();
    let mut out = Vec::new();
    a.poll(at(1), &mut udp_a, &mut out);
    assert_eq!(out.len(), 45);
    assert!(out.iter().all(|f| f.len() <= 1514));
    assert_eq!(a.stats().ipv4.tx_fragments, 45);

    // The peer: an interface at PEER_IP that receives the fragments.
    let cidr = Ipv4Cidr {
        addr: PEER_IP,
        prefix_len: 24,
    };
    let mut b = Interface::new(
        InterfaceConfig::new(PEER_MAC, cidr, None, 1500),
        Rng::new(9),
    );
    let mut udp_b = sockets(UdpSockets::new(Rng::new(1), UdpBuffers::default()));
    let receiver = udp_b.udp.open();
    udp_b
        .udp
        .bind(receiver, SocketAddrV4::new(PEER_IP, 7), PEER_IP)
        .unwrap();
    let mut replies = Vec::new();
    for frame in out.iter().rev() {
        b.receive(at(2), frame, &mut udp_b, &mut replies);
    }
    let mut buf = vec![0u8; 70_000];
    let (n, from) = udp_b.udp.recv_from(receiver, &mut buf).unwrap();
    assert_eq!(&buf[..n], &data[..]);
    assert_eq!(from.ip(), OUR_IP);
}

#[test]
fn malformed_frames_are_counted_never_fatal() {
    let (mut iface, mut sockets) = setup();
    let mut out = Vec::new();
    let good = ipv4(17, &udp_datagram(1, 2, b"x"));
    let mut feed = |iface: &mut Interface, payload: Vec<u8>| {
        iface.receive(
            at(0),
            &ethernet(OUR_MAC, 0x0800, &payload),
            &mut sockets,
            &mut out,
        );
    };
    feed(&mut iface, good[..12].to_vec());
    let mut bad_version = good.clone();
    bad_version[0] = 0x65;
    feed(&mut iface, bad_version);
    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    refresh_ip_checksum(&mut short_ihl);
    feed(&mut iface, short_ihl);
    let mut long_total = good.clone();
    long_total[2..4].copy_from_slice(&2000u16.to_be_bytes());
    refresh_ip_checksum(&mut long_total);
    feed(&mut iface, long_total);
    let mut bad_sum = good.clone();
    bad_sum[10] ^= 0xff;
    feed(&mut iface, bad_sum);
    let mut ttl_zero = good.clone();
    ttl_zero[8] = 0;
    refresh_ip_checksum(&mut ttl_zero);
    feed(&mut iface, ttl_zero);
    let mut long_ihl = good.clone();
    long_ihl[0] = 0x4f;
    feed(&mut iface, long_ihl);
    feed(&mut iface, ipv4(17, &[0, 1, 0, 2, 0, 50, 0, 0]));
    let mut bad_udp_sum = udp_datagram(1, 2, b"x");
    bad_udp_sum[8] ^= 1;
    feed(&mut iface, ipv4(17, &bad_udp_sum));
    feed(&mut iface, ipv4(17, &[0, 1, 0]));
    feed(&mut iface, ipv4(1, &[8, 0]));
    let stats = iface.stats();
    assert_eq!(
        stats.ipv4.rx_truncated, 2,
        "short header, IHL beyond the data"
    );
    assert_eq!(stats.ipv4.rx_bad_version, 1);
    assert_eq!(stats.ipv4.rx_bad_header_len, 1);
    assert_eq!(stats.ipv4.rx_bad_length, 1);
    assert_eq!(stats.ipv4.rx_bad_checksum, 1);
    assert_eq!(stats.ipv4.rx_ttl_zero, 1);
    assert_eq!(
        stats.udp.rx_errors, 3,
        "UDP length beyond payload, bad checksum, truncated header"
    );
    assert_eq!(stats.icmp.rx_errors, 1);

    iface.receive(at(0), &[0u8; 13], &mut sockets, &mut out);
    iface.receive(
        at(0),
        &ethernet(MacAddr([2, 9, 9, 9, 9, 9]), 0x0800, &good),
        &mut sockets,
        &mut out,
    );
    iface.receive(
        at(0),
        &ethernet(MacAddr([1, 0, 0x5e, 0, 0, 1]), 0x0800, &good),
        &mut sockets,
        &mut out,
    );
    iface.receive(
        at(0),
        &ethernet(OUR_MAC, 0x8100, &good),
        &mut sockets,
        &mut out,
    );
    iface.receive(
        at(0),
        &ethernet(OUR_MAC, 0x86dd, &good),
        &mut sockets,
        &mut out,
    );
    let eth = iface.stats().ethernet;
    assert_eq!(
        (
            eth.rx_truncated,
            eth.rx_not_for_us,
            eth.rx_multicast_dropped,
            eth.rx_vlan_dropped,
            eth.rx_unknown_ethertype
        ),
        (1, 1, 1, 1, 1)
    );
}

#[test]
fn fragment_timeout_frees_memory_through_poll() {
    let (mut iface, mut sockets) = setup();
    let mut d = ipv4(17, &[0u8; 64]);
    d[6..8].copy_from_slice(&0x2000u16.to_be_bytes());
    refresh_ip_checksum(&mut d);
    let mut out = Vec::new();
    iface.receive(
        at(0),
        &ethernet(OUR_MAC, 0x0800, &d),
        &mut sockets,
        &mut out,
    );
    assert_eq!(iface.reassembly_load().0, 1);
    assert_eq!(
        iface.poll_at(&sockets),
        Some(at(0) + Duration::from_secs(30))
    );
    iface.poll(at(30_000), &mut sockets, &mut out);
    assert_eq!(iface.reassembly_load(), (0, 0));
    assert_eq!(iface.stats().ipv4.frag_timeouts, 1);
}

/// A TCP segment from the peer to us with `control` bits, checksummed.
fn tcp_segment(control: u8, seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
    use crate::tcp::segment::{write_bare, HEADER_LEN};
    use crate::tcp::seq::SeqNumber;
    let mut s = vec![0u8; HEADER_LEN + data.len()];
    write_bare(
        &mut s,
        PEER_IP.into(),
        OUR_IP.into(),
        40_000,
        80,
        SeqNumber(seq),
        SeqNumber(ack),
        control,
        1024,
    );
    s[HEADER_LEN..].copy_from_slice(data);
    tcp_refresh(&mut s);
    s
}

fn reset_of(frame: &[u8]) -> crate::tcp::segment::Segment<'_> {
    let ip = ip_of(frame);
    assert_eq!((ip.src_addr(), ip.dst_addr()), (OUR_IP, PEER_IP));
    let total = usize::from(ip.total_len());
    crate::tcp::segment::parse(OUR_IP, PEER_IP, &frame[14 + 20..14 + total])
        .expect("a valid segment")
}

#[test]
fn closed_port_answers_syn_with_rst_ack_and_ack_with_rst() {
    use crate::tcp::segment::flags;
    use crate::tcp::seq::SeqNumber;
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let mut out = Vec::new();
    iface.receive(
        at(1),
        &ethernet(
            OUR_MAC,
            0x0800,
            &ipv4(6, &tcp_segment(flags::SYN, 1000, 0, b"")),
        ),
        &mut sockets,
        &mut out,
    );
    iface.poll(at(2), &mut sockets, &mut out);
    let rst = reset_of(&out[0]);
    assert_eq!(rst.flags, flags::RST | flags::ACK);
    assert_eq!(
        (rst.seq, rst.ack),
        (SeqNumber(0), SeqNumber(1001)),
        "ACK covers the SYN"
    );
    assert_eq!((rst.src_port, rst.dst_port), (80, 40_000));

    out.clear();
    let data_ack = tcp_segment(flags::ACK | flags::PSH, 5000, 777, b"hello");
    iface.receive(
        at(2),
        &ethernet(OUR_MAC, 0x0800, &ipv4(6, &data_ack)),
        &mut sockets,
        &mut out,
    );
    iface.poll(at(2), &mut sockets, &mut out);
    let rst = reset_of(&out[0]);
    assert_eq!(
        (rst.flags, rst.seq),
        (flags::RST, SeqNumber(777)),
        "RST at the peer's ACK number"
    );

    out.clear();
    iface.receive(
        at(3),
        &ethernet(
            OUR_MAC,
            0x0800,
            &ipv4(6, &tcp_segment(flags::RST, 1, 0, b"")),
        ),
        &mut sockets,
        &mut out,
    );
    iface.poll(at(3), &mut sockets, &mut out);
    assert!(out.is_empty(), "a RST is never answered");
    let tcp = sockets.tcp.stats();
    assert_eq!(
        (tcp.rx_segments, tcp.rx_closed_port, tcp.tx_resets),
        (3, 3, 2)
    );
    assert_eq!(
        iface.stats().icmp.tx_dest_unreachable,
        0,
        "TCP gets RST, not ICMP"
    );
}

#[test]
fn malformed_tcp_is_counted_and_not_answered() {
    use crate::tcp::segment::flags;
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let mut out = Vec::new();
    let mut bad_sum = tcp_segment(flags::SYN, 1, 0, b"");
    bad_sum[4] ^= 1;
    let mut short_offset = tcp_segment(flags::ACK, 1, 0, b"");
    short_offset[12] = 4 << 4;
    let syn_fin = tcp_segment(flags::SYN | flags::FIN, 1, 0, b"");
    let no_flags = tcp_segment(0, 1, 0, b"");
    for segment in [bad_sum, short_offset, syn_fin, no_flags, vec![0u8; 12]] {
        iface.receive(
            at(1),
            &ethernet(OUR_MAC, 0x0800, &ipv4(6, &segment)),
            &mut sockets,
            &mut out,
        );
    }
    iface.poll(at(2), &mut sockets, &mut out);
    assert!(out.is_empty());
    let tcp = sockets.tcp.stats();
    // The data offset is checked before the checksum, so that edit counts there.
    assert_eq!((tcp.rx_bad_checksum, tcp.rx_bad_offset), (1, 1));
    assert_eq!(
        (tcp.rx_bad_flags, tcp.rx_truncated, tcp.tx_resets),
        (2, 1, 0)
    );
}

/// Re-checksums a hand-edited TCP segment from the peer.
fn tcp_refresh(s: &mut [u8]) {
    s[16..18].fill(0);
    let sum = !checksum::combine(&[
        checksum::pseudo_header_v4(
            &PEER_IP,
            &OUR_IP,
            smoltcp::wire::IpProtocol::Tcp,
            s.len() as u32,
        ),
        checksum::data(s),
    ]);
    s[16..18].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn malformed_tcp_never_changes_an_established_connection() {
    use crate::tcp::segment::flags;
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let options = crate::tcp::TcpOptions::from_config(sockets.tcp.config());
    let listener = sockets
        .tcp
        .listen(SocketAddrV4::new(OUR_IP, 80), 4, options, OUR_IP, false)
        .unwrap();
    let mut out = Vec::new();
    let feed =
        |iface: &mut Interface, sockets: &mut Sockets, segment: &[u8], out: &mut Vec<Vec<u8>>| {
            iface.receive(
                at(1),
                &ethernet(OUR_MAC, 0x0800, &ipv4(6, segment)),
                sockets,
                out,
            );
            iface.poll(at(1), sockets, out);
        };
    feed(
        &mut iface,
        &mut sockets,
        &tcp_segment(flags::SYN, 1000, 0, b""),
        &mut out,
    );
    let syn_ack = reset_of(&out[0]);
    let iss = syn_ack.seq.0;
    out.clear();
    feed(
        &mut iface,
        &mut sockets,
        &tcp_segment(flags::ACK, 1001, iss + 1, b""),
        &mut out,
    );
    let (conn, _) = sockets.tcp.accept(listener).expect("established");
    let before = sockets.tcp.tcb_of(conn).unwrap().rcv_nxt;
    out.clear();

    let good = tcp_segment(flags::ACK | flags::PSH, 1001, iss + 1, b"payload");
    let mut short_offset = good.clone();
    short_offset[12] = 4 << 4;
    tcp_refresh(&mut short_offset);
    let mut long_offset = good.clone();
    long_offset[12] = 15 << 4;
    tcp_refresh(&mut long_offset);
    let mut bad_sum = good.clone();
    bad_sum[25] ^= 0x40;
    let mut bad_option = good.clone();
    bad_option[12] = 6 << 4; // one word of options: the first payload bytes
    bad_option[20..24].copy_from_slice(&[2, 9, 0, 0]); // MSS with length 9
    tcp_refresh(&mut bad_option);
    let mut syn_fin = good.clone();
    syn_fin[13] = flags::SYN | flags::FIN;
    tcp_refresh(&mut syn_fin);
    let mut no_flags = good.clone();
    no_flags[13] = 0;
    tcp_refresh(&mut no_flags);
    for segment in [
        short_offset,
        long_offset,
        bad_sum,
        bad_option,
        syn_fin,
        no_flags,
    ] {
        feed(&mut iface, &mut sockets, &segment, &mut out);
    }
    assert!(out.is_empty(), "nothing answers a malformed segment");
    let tcb = sockets.tcp.tcb_of(conn).unwrap();
    assert_eq!(
        (tcb.state, tcb.rcv_nxt),
        (crate::tcp::State::Established, before)
    );
    assert_eq!(sockets.tcp.recv_queued(conn), Ok(0));
    let stats = sockets.tcp.stats();
    assert_eq!(
        (
            stats.rx_bad_offset,
            stats.rx_bad_checksum,
            stats.rx_bad_options,
            stats.rx_bad_flags
        ),
        (2, 1, 1, 2)
    );
    // The intact segment still goes through.
    feed(&mut iface, &mut sockets, &good, &mut out);
    assert_eq!(sockets.tcp.recv_queued(conn), Ok(7));
}

/// A frame whose checksums the device reported: good ones are trusted
/// (a wrong checksum the device called good gets through, as from a NIC
/// that checked it), bad ones dropped and counted, unknown ones verified.
#[test]
fn device_checksum_verdicts_are_trusted_or_dropped() {
    use crate::buf::{ChecksumVerdict, RxChecksums};
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    // Where the datagrams go; they are counted, not read.
    udp_bound(&mut sockets, 7);
    let mut wrong_udp = udp_datagram(5000, 7, b"data");
    wrong_udp[6] ^= 0xff;
    let mut wrong_ip = ipv4(17, &udp_datagram(5000, 7, b"data"));
    wrong_ip[10] ^= 0xff;
    let verdicts = |ip, l4| RxChecksums { ip, l4 };
    let (good, bad, unknown) = (
        ChecksumVerdict::Good,
        ChecksumVerdict::Bad,
        ChecksumVerdict::Unknown,
    );
    let mut out = Vec::new();
    for (datagram, checks) in [
        (ipv4(17, &wrong_udp), verdicts(good, good)),
        (wrong_ip.clone(), verdicts(good, good)),
        (
            ipv4(17, &udp_datagram(5000, 7, b"data")),
            verdicts(good, bad),
        ),
        (
            ipv4(17, &udp_datagram(5000, 7, b"data")),
            verdicts(bad, good),
        ),
        (ipv4(17, &wrong_udp), verdicts(good, unknown)),
        (wrong_ip, verdicts(unknown, good)),
    ] {
        let frame = ethernet(OUR_MAC, 0x0800, &datagram);
        iface.receive_checked(at(1), &frame, checks, &mut sockets, &mut out);
    }
    let stats = iface.stats();
    assert_eq!(stats.udp.rx_datagrams, 2, "the two the device called good");
    assert_eq!(
        stats.udp.rx_errors, 2,
        "a bad verdict, and a wrong unknown one"
    );
    assert_eq!(stats.ipv4.rx_bad_checksum, 2, "likewise for the IP header");
    assert_eq!(
        stats.ipv4.rx_checksums_from_device, 6,
        "every frame had a verdict"
    );
}

/// With checksum offload in force, the IP checksum field is left 0 and the
/// TCP/UDP field holds the pseudo-header's sum for the device; a sink that
/// cannot offload completes them, and they verify.
#[test]
fn offloaded_checksums_are_left_for_the_device_and_completed_where_it_cannot() {
    use crate::buf::TxChecksums;
    /// Records frames and checksum requests without completing them.
    #[derive(Default)]
    struct Recording {
        frames: Vec<Vec<u8>>,
        requests: Vec<TxChecksums>,
    }
    impl FrameSink for Recording {
        fn frame(&mut self, len: usize) -> Option<&mut [u8]> {
            self.frames.frame(len)
        }
        fn request_tx_checksums(&mut self, request: TxChecksums) {
            self.requests.push(request);
        }
    }
    let (mut iface, mut sockets) = setup();
    iface.config.tx_offload = crate::device::Offloads {
        tx_ipv4_checksum: true,
        tx_tcp_checksum: true,
        tx_udp_checksum: true,
        ..Default::default()
    };
    learn_peer(&mut iface, &mut sockets);
    let socket = sockets.udp.open();
    queue(
        &mut sockets,
        socket,
        b"offloaded",
        SocketAddrV4::new(PEER_IP, 9),
    );
    let mut sink = Recording::default();
    iface.poll(at(1), &mut sockets, &mut sink);
    let frame = sink.frames.last().expect("the datagram").clone();
    assert_eq!(
        sink.requests,
        [TxChecksums {
            ip: true,
            tcp: false,
            udp: true,
            l2_len: 14,
            l3_len: 20
        }]
    );
    assert_eq!(
        &frame[14 + 10..14 + 12],
        &[0, 0],
        "the IP checksum is the device's"
    );
    // The UDP length, not the frame's: short frames are padded to 60 bytes.
    let udp_len = u16::from_be_bytes([frame[14 + 20 + 4], frame[14 + 20 + 5]]);
    let pseudo = checksum::pseudo_header_v4(
        &OUR_IP,
        &PEER_IP,
        smoltcp::wire::IpProtocol::Udp,
        u32::from(udp_len),
    );
    assert_eq!(&frame[14 + 20 + 6..14 + 20 + 8], &pseudo.to_be_bytes());

    // The sink that cannot offload completes them: the frame verifies.
    let mut completed = Vec::new();
    queue(
        &mut sockets,
        socket,
        b"offloaded",
        SocketAddrV4::new(PEER_IP, 9),
    );
    iface.poll(at(2), &mut sockets, &mut completed);
    let ip = ip_of(completed.last().unwrap());
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(udp.verify_checksum(&IpAddress::Ipv4(OUR_IP), &IpAddress::Ipv4(PEER_IP)));
    assert_eq!(iface.stats().ipv4.tx_checksums_to_device, 2);
}

#[test]
fn the_exception_path_hands_unclaimed_and_filtered_ports_to_the_kernel() {
    use crate::iface::Disposition;
    use crate::tcp::segment::flags;
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    iface.set_exception_path(true);
    sockets.tcp.set_pass_unclaimed(true);
    let syn = ethernet(
        OUR_MAC,
        0x0800,
        &ipv4(6, &tcp_segment(flags::SYN, 1000, 0, b"")),
    );
    // No listener on 80: the kernel's, and no RST from us.
    let mut out = Vec::new();
    assert_eq!(
        iface.receive(at(1), &syn, &mut sockets, &mut out),
        Disposition::ToKernel
    );
    iface.poll(at(2), &mut sockets, &mut out);
    assert!(out.is_empty(), "no RST for the kernel's port");
    // A listener on 80 takes it...
    let options = crate::tcp::TcpOptions::from_config(sockets.tcp.config());
    sockets
        .tcp
        .listen(SocketAddrV4::new(OUR_IP, 80), 8, options, OUR_IP, false)
        .unwrap();
    assert_eq!(
        iface.receive(at(3), &syn, &mut sockets, &mut out),
        Disposition::Consumed
    );
    iface.poll(at(4), &mut sockets, &mut out);
    assert_eq!(reset_of(&out[0]).flags, flags::SYN | flags::ACK);
    // ...unless the filter gives port 80 to the kernel.
    out.clear();
    iface.set_kernel_ports(vec![80]);
    let other = ethernet(
        OUR_MAC,
        0x0800,
        &ipv4(6, &tcp_segment(flags::SYN, 9000, 0, b"")),
    );
    assert_eq!(
        iface.receive(at(5), &other, &mut sockets, &mut out),
        Disposition::ToKernel
    );
    // UDP with no socket, and an echo reply, are the kernel's too.
    let udp = ethernet(
        OUR_MAC,
        0x0800,
        &ipv4(17, &udp_datagram(5000, 53, b"query")),
    );
    assert_eq!(
        iface.receive(at(6), &udp, &mut sockets, &mut out),
        Disposition::ToKernel
    );
    let mut reply = echo_request(1, 1, b"ping");
    reply[0] = 0;
    let sum = !crate::wire::checksum::data(&{
        let mut r = reply.clone();
        r[2..4].fill(0);
        r
    });
    reply[2..4].copy_from_slice(&sum.to_be_bytes());
    let echo_reply = ethernet(OUR_MAC, 0x0800, &ipv4(1, &reply));
    assert_eq!(
        iface.receive(at(7), &echo_reply, &mut sockets, &mut out),
        Disposition::ToKernel
    );
    iface.poll(at(8), &mut sockets, &mut out);
    assert!(
        out.is_empty(),
        "nothing answered on the kernel's behalf: {out:?}"
    );
}
