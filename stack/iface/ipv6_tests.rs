//! IPv6 at the interface, with explicit time: neighbour discovery, echo,
//! and bad input counted (never a panic, never an answer to what RFC 4861
//! says to ignore).

use super::*;
use crate::time::Duration;
use crate::udp::{UdpBuffers, UdpSockets};
use crate::wire::ipv6::{add_sums, next_header, solicited_node, Ipv6Repr, ALL_NODES};

const OUR_MAC: MacAddr = MacAddr([0x02, 0xdd, 0, 0, 0, 0x02]);
const PEER_MAC: MacAddr = MacAddr([0x02, 0xdd, 0, 0, 0, 0x01]);

fn our_ip6() -> Ipv6Addr {
    "fd00:78::2".parse().unwrap()
}

fn peer_ip6() -> Ipv6Addr {
    "fd00:78::1".parse().unwrap()
}

fn our_link_local() -> Ipv6Addr {
    "fe80::dd:ff:fe00:2".parse().unwrap()
}

fn setup() -> (Interface, Sockets) {
    setup_with(|_| {})
}

/// `setup`, with `tune` changing the configuration first.
fn setup_with(tune: impl FnOnce(&mut InterfaceConfig)) -> (Interface, Sockets) {
    let cidr = Ipv4Cidr {
        addr: Ipv4Addr::new(10, 0, 0, 2),
        prefix_len: 24,
    };
    let mut config = InterfaceConfig::new(OUR_MAC, cidr, None, 1500);
    config.ip6 = Some(Ipv6Cidr {
        addr: our_ip6(),
        prefix_len: 64,
    });
    // Addresses usable at once; `duplicate_address_detection` checks them.
    config.dad_transmits = 0;
    tune(&mut config);
    let sockets = Sockets {
        udp: UdpSockets::new(Rng::new(6), UdpBuffers::default()),
        tcp: crate::tcp::TcpSockets::new(Rng::new(7), crate::tcp::TcpConfig::default()),
    };
    (Interface::new(config, Rng::new(5)), sockets)
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// An Ethernet frame from the peer carrying an IPv6 packet.
fn frame(dst_mac: MacAddr, ip: Ipv6Repr, upper: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&dst_mac.0);
    frame.extend_from_slice(&PEER_MAC.0);
    frame.extend_from_slice(&0x86ddu16.to_be_bytes());
    let mut packet = vec![0u8; 40];
    Ipv6Repr {
        payload_len: upper.len(),
        ..ip
    }
    .emit(&mut packet);
    frame.extend_from_slice(&packet);
    frame.extend_from_slice(upper);
    frame
}

/// An ICMPv6 message between `src` and `dst`, checksummed.
fn icmpv6(src: Ipv6Addr, dst: Ipv6Addr, mut message: Vec<u8>) -> Vec<u8> {
    let ip = repr(src, dst, 255);
    message[2..4].fill(0);
    let sum = !add_sums(
        ip.pseudo_header_sum(next_header::ICMPV6, message.len()),
        crate::wire::checksum::data(&message),
    );
    message[2..4].copy_from_slice(&sum.to_be_bytes());
    message
}

fn repr(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8) -> Ipv6Repr {
    Ipv6Repr {
        src,
        dst,
        next_header: next_header::ICMPV6,
        hop_limit,
        payload_len: 0,
    }
}

/// A neighbour solicitation for `target`, with our peer's link-layer
/// address unless `with_source_link` is false.
fn solicit(target: Ipv6Addr, with_source_link: bool) -> Vec<u8> {
    let mut m = vec![0u8; 24];
    m[0] = 135;
    m[8..24].copy_from_slice(&target.octets());
    if with_source_link {
        m.extend_from_slice(&[1, 1]);
        m.extend_from_slice(&PEER_MAC.0);
    }
    m
}

/// A whole frame: a solicitation from `src` for `target`, to the
/// target's solicited-node group (with our peer's link-layer address
/// unless `with_source_link` is false), hop limit 255.
fn solicit_frame(src: Ipv6Addr, target: Ipv6Addr, with_source_link: bool) -> Vec<u8> {
    let group = solicited_node(target);
    frame(
        crate::wire::ipv6::multicast_mac(group),
        repr(src, group, 255),
        &icmpv6(src, group, solicit(target, with_source_link)),
    )
}

fn parse_reply(frame: &[u8]) -> (MacAddr, Ipv6Repr, Vec<u8>) {
    assert_eq!(&frame[12..14], &[0x86, 0xdd], "an IPv6 frame");
    let mut dst = [0u8; 6];
    dst.copy_from_slice(&frame[..6]);
    let (ip, upper) = Ipv6Repr::parse(&frame[14..]).expect("a valid IPv6 packet");
    let sum = add_sums(
        ip.pseudo_header_sum(ip.next_header, upper.len()),
        crate::wire::checksum::data(upper),
    );
    assert_eq!(sum, 0xffff, "the reply's ICMPv6 checksum is right");
    (MacAddr(dst), ip, upper.to_vec())
}

fn receive(iface: &mut Interface, sockets: &mut Sockets, now: Instant, f: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    iface.receive(now, f, sockets, &mut out);
    out
}

#[test]
fn solicitation_for_our_address_is_answered_and_the_sender_learnt() {
    let (mut iface, mut sockets) = setup();
    let ns = solicit_frame(peer_ip6(), our_ip6(), true);
    let out = receive(&mut iface, &mut sockets, at(1), &ns);
    assert_eq!(out.len(), 1, "one advertisement");
    let (mac, ip, na) = parse_reply(&out[0]);
    assert_eq!(mac, PEER_MAC, "sent straight to the solicitor");
    assert_eq!((ip.src, ip.dst, ip.hop_limit), (our_ip6(), peer_ip6(), 255));
    assert_eq!(na[0], 136);
    assert_eq!(na[4], 0x40 | 0x20, "solicited and override");
    assert_eq!(&na[8..24], &our_ip6().octets());
    assert_eq!(&na[24..26], &[2, 1], "target link-layer address option");
    assert_eq!(&na[26..32], &OUR_MAC.0);
    assert_eq!(
        iface.neighbor_cache().state(at(1), peer_ip6()),
        Some(neighbor::NeighborState::Stale)
    );
    let stats = iface.stats();
    assert_eq!(stats.icmpv6.rx_neighbor_solicits, 1);
    assert_eq!(stats.icmpv6.tx_neighbor_adverts, 1);
}

#[test]
fn duplicate_address_detection_is_answered_on_all_nodes() {
    let (mut iface, mut sockets) = setup();
    let group = solicited_node(our_link_local());
    let ns = icmpv6(
        Ipv6Addr::UNSPECIFIED,
        group,
        solicit(our_link_local(), false),
    );
    let out = receive(
        &mut iface,
        &mut sockets,
        at(1),
        &frame(
            crate::wire::ipv6::multicast_mac(group),
            repr(Ipv6Addr::UNSPECIFIED, group, 255),
            &ns,
        ),
    );
    let (mac, ip, na) = parse_reply(&out[0]);
    assert_eq!(mac, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    assert_eq!((ip.src, ip.dst), (our_link_local(), ALL_NODES));
    assert_eq!(na[4], 0x20, "override only: not solicited");
}

#[test]
fn echo_request_is_answered_once_the_neighbour_is_known() {
    let (mut iface, mut sockets) = setup();
    let mut request = vec![128u8, 0, 0, 0, 0x12, 0x34, 0, 1];
    request.extend_from_slice(b"ping over ipv6");
    let request = icmpv6(peer_ip6(), our_ip6(), request);
    let echo = frame(OUR_MAC, repr(peer_ip6(), our_ip6(), 64), &request);
    // Unknown neighbour: a solicitation goes out, and the reply waits.
    let out = receive(&mut iface, &mut sockets, at(1), &echo);
    assert_eq!(out.len(), 1);
    let (mac, ip, ns) = parse_reply(&out[0]);
    assert_eq!(ns[0], 135);
    assert_eq!(ip.dst, solicited_node(peer_ip6()));
    assert_eq!(mac, MacAddr([0x33, 0x33, 0xff, 0, 0, 1]));
    assert_eq!(iface.stats().ipv6.tx_unresolved, 0, "held, not dropped");
    // The peer's advertisement resolves it, and the held reply leaves.
    let mut na = vec![136u8, 0, 0, 0, 0x60, 0, 0, 0];
    na.extend_from_slice(&peer_ip6().octets());
    na.extend_from_slice(&[2, 1]);
    na.extend_from_slice(&PEER_MAC.0);
    let na = icmpv6(peer_ip6(), our_ip6(), na);
    let out = receive(
        &mut iface,
        &mut sockets,
        at(2),
        &frame(OUR_MAC, repr(peer_ip6(), our_ip6(), 255), &na),
    );
    assert_eq!(out.len(), 1, "the held reply");
    assert_eq!(
        iface.neighbor_cache().state(at(2), peer_ip6()),
        Some(neighbor::NeighborState::Reachable)
    );
    assert_eq!(out[0], {
        let again = receive(&mut iface, &mut sockets, at(3), &echo);
        assert_eq!(again.len(), 1, "answered at once now");
        again[0].clone()
    });
    let (mac, ip, reply) = parse_reply(&out[0]);
    assert_eq!(mac, PEER_MAC);
    assert_eq!((ip.src, ip.dst), (our_ip6(), peer_ip6()));
    assert_eq!(reply[0], 129);
    assert_eq!(
        &reply[4..],
        &request[4..],
        "identifier, sequence and data echoed"
    );
    assert_eq!(iface.stats().icmpv6.echo_replies_sent, 2);
}

#[test]
fn bad_input_is_counted_and_never_answered() {
    let (mut iface, mut sockets) = setup();
    let group = solicited_node(our_ip6());
    let group_mac = crate::wire::ipv6::multicast_mac(group);
    let good_ns = icmpv6(peer_ip6(), group, solicit(our_ip6(), true));
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // RFC 4861 7.1.1: a solicitation that did not come from the link.
    cases.push((
        "hop limit 64",
        frame(group_mac, repr(peer_ip6(), group, 64), &good_ns),
    ));
    let mut bad_sum = good_ns.clone();
    bad_sum[30] ^= 1;
    cases.push((
        "checksum",
        frame(group_mac, repr(peer_ip6(), group, 255), &bad_sum),
    ));
    let mut zero_option = solicit(our_ip6(), false);
    zero_option.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    cases.push((
        "zero-length option",
        frame(
            group_mac,
            repr(peer_ip6(), group, 255),
            &icmpv6(peer_ip6(), group, zero_option),
        ),
    ));
    // DAD probe carrying a source link-layer address.
    cases.push((
        "unspecified source with option",
        frame(
            group_mac,
            repr(Ipv6Addr::UNSPECIFIED, group, 255),
            &icmpv6(Ipv6Addr::UNSPECIFIED, group, solicit(our_ip6(), true)),
        ),
    ));
    cases.push((
        "multicast target",
        frame(
            group_mac,
            repr(peer_ip6(), group, 255),
            &icmpv6(peer_ip6(), group, solicit(ALL_NODES, true)),
        ),
    ));
    cases.push((
        "short message",
        frame(
            group_mac,
            repr(peer_ip6(), group, 255),
            &icmpv6(peer_ip6(), group, vec![135, 0, 0, 0, 0, 0, 0, 0]),
        ),
    ));
    let mut truncated = frame(group_mac, repr(peer_ip6(), group, 255), &good_ns);
    truncated.truncate(14 + 40 + 10);
    cases.push(("payload length past the frame", truncated));
    cases.push((
        "header cut short",
        frame(group_mac, repr(peer_ip6(), group, 255), &good_ns)[..30].to_vec(),
    ));
    let mut fragment = vec![58u8, 0, 0, 1, 0, 0, 0, 7];
    fragment.extend_from_slice(&good_ns);
    cases.push((
        "fragment",
        frame(
            group_mac,
            Ipv6Repr {
                next_header: next_header::FRAGMENT,
                ..repr(peer_ip6(), group, 255)
            },
            &fragment,
        ),
    ));
    let mut routing = vec![58u8, 0, 0, 1, 0, 0, 0, 0];
    routing.extend_from_slice(&good_ns);
    cases.push((
        "routing type 0 with a segment left",
        frame(
            group_mac,
            Ipv6Repr {
                next_header: next_header::ROUTING,
                ..repr(peer_ip6(), group, 255)
            },
            &routing,
        ),
    ));
    cases.push((
        "multicast source",
        frame(group_mac, repr(ALL_NODES, group, 255), &good_ns),
    ));
    cases.push((
        "not our address",
        frame(
            OUR_MAC,
            repr(peer_ip6(), "fd00:78::99".parse().unwrap(), 255),
            &good_ns,
        ),
    ));
    let mut version4 = frame(group_mac, repr(peer_ip6(), group, 255), &good_ns);
    version4[14] = 0x45;
    cases.push(("version 4 in an IPv6 frame", version4));
    for (what, f) in &cases {
        let out = receive(&mut iface, &mut sockets, at(1), f);
        assert!(out.is_empty(), "{what}: nothing is answered");
    }
    let stats = iface.stats();
    assert_eq!(stats.ipv6.rx_packets, cases.len() as u64);
    assert_eq!(stats.icmpv6.rx_errors, 1, "checksum");
    assert_eq!(stats.icmpv6.rx_nd_invalid, 5, "{stats:?}");
    assert_eq!(stats.ipv6.rx_truncated, 2);
    assert_eq!(
        stats.ipv6.frag_received, 1,
        "the fragment waits in reassembly"
    );
    assert_eq!(iface.reassembly_load().0, 1);
    assert_eq!(stats.ipv6.rx_routing_dropped, 1);
    assert_eq!(stats.ipv6.rx_bad_source, 1);
    assert_eq!(stats.ipv6.rx_not_for_us, 1);
    assert_eq!(stats.ipv6.rx_bad_version, 1);
    assert_eq!(iface.neighbor_cache().len(), 0, "nothing was learnt");
}

#[test]
fn without_ip6_the_interface_leaves_ipv6_alone() {
    let (mut iface, mut sockets) = setup_with(|c| c.ip6 = None);
    let group = solicited_node(our_ip6());
    let ns = icmpv6(peer_ip6(), group, solicit(our_ip6(), true));
    let f = frame(
        crate::wire::ipv6::multicast_mac(group),
        repr(peer_ip6(), group, 255),
        &ns,
    );
    assert!(receive(&mut iface, &mut sockets, at(1), &f).is_empty());
    let unicast = frame(OUR_MAC, repr(peer_ip6(), our_ip6(), 255), &ns);
    assert!(receive(&mut iface, &mut sockets, at(1), &unicast).is_empty());
    let stats = iface.stats();
    assert_eq!(stats.ethernet.rx_multicast_dropped, 1);
    assert_eq!(stats.ethernet.rx_unknown_ethertype, 1);
    assert_eq!(stats.ipv6.rx_packets, 0);
}

/// Splits `upper` (an ICMPv6 message to us) into fragments of `chunk`
/// bytes behind fragment headers, as the kernel sends a big ping.
fn fragments(upper: &[u8], chunk: usize, ident: u32) -> Vec<Vec<u8>> {
    upper
        .chunks(chunk)
        .enumerate()
        .map(|(i, piece)| {
            let offset = i * chunk;
            let more = offset + piece.len() < upper.len();
            let mut body = vec![58u8, 0];
            body.extend_from_slice(&(((offset / 8) as u16) << 3 | u16::from(more)).to_be_bytes());
            body.extend_from_slice(&ident.to_be_bytes());
            body.extend_from_slice(piece);
            frame(
                OUR_MAC,
                Ipv6Repr {
                    next_header: next_header::FRAGMENT,
                    ..repr(peer_ip6(), our_ip6(), 64)
                },
                &body,
            )
        })
        .collect()
}

#[test]
fn big_echo_is_reassembled_and_the_reply_fragmented() {
    let (mut iface, mut sockets) = setup();
    // The peer resolves us first, so we know it.
    learn_peer(&mut iface, &mut sockets);
    let mut request = vec![128u8, 0, 0, 0, 0x55, 0x66, 0, 9];
    request.extend((0..8000u32).map(|i| (i * 7 + i / 13) as u8));
    let request = icmpv6(peer_ip6(), our_ip6(), request);
    let mut pieces = fragments(&request, 1448, 0xabcd);
    // Out of order, and one fragment twice.
    pieces.reverse();
    let again = pieces[2].clone();
    pieces.insert(4, again);
    let mut out = Vec::new();
    for piece in &pieces {
        out.extend(receive(&mut iface, &mut sockets, at(2), piece));
    }
    let stats = iface.stats();
    assert_eq!(stats.ipv6.frag_reassembled, 1);
    assert_eq!(stats.ipv6.frag_duplicates, 1);
    assert_eq!(stats.icmpv6.echo_replies_sent, 1);
    assert_eq!(iface.reassembly_load(), (0, 0), "nothing left held");
    // The reply: fragments no larger than the MTU, which reassemble into
    // the request with the type changed.
    assert!(out.len() >= 6, "{} fragments", out.len());
    let mut reassembler = reassembly::Reassembler::new_v6(ReassemblyConfig::default());
    let mut counters = crate::stats::Ipv6Stats::default();
    let mut whole = None;
    for f in &out {
        assert!(f.len() - ETHERNET_HEADER_LEN <= 1500, "within the MTU");
        let (ip, body) = Ipv6Repr::parse(&f[14..]).unwrap();
        assert_eq!((ip.src, ip.dst), (our_ip6(), peer_ip6()));
        assert_eq!(ip.next_header, next_header::FRAGMENT);
        let field = u16::from_be_bytes([body[2], body[3]]);
        let key = reassembly::Fragment6Key {
            src: ip.src,
            dst: ip.dst,
            ident: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
        };
        if let Some(done) = reassembler.add_tagged(
            at(3),
            key,
            usize::from(field >> 3) * 8,
            field & 1 != 0,
            &body[8..],
            body[0],
            &mut counters,
        ) {
            whole = Some(done);
        }
    }
    let (reply, next) = whole.expect("the reply's fragments make a whole");
    assert_eq!(next, next_header::ICMPV6);
    assert_eq!(reply.len(), request.len());
    assert_eq!(reply[0], 129);
    assert_eq!(&reply[4..], &request[4..], "the data comes back as sent");
    let repr = repr(our_ip6(), peer_ip6(), 64);
    assert_eq!(
        add_sums(
            repr.pseudo_header_sum(next_header::ICMPV6, reply.len()),
            crate::wire::checksum::data(&reply)
        ),
        0xffff,
        "the checksum covers the whole message"
    );
    assert_eq!(iface.stats().ipv6.tx_fragmented, 1);
}

#[test]
fn incomplete_fragments_time_out_and_bad_ones_are_counted() {
    let (mut iface, mut sockets) = setup();
    let mut request = vec![128u8, 0, 0, 0, 0, 1, 0, 1];
    request.extend([7u8; 3000]);
    let request = icmpv6(peer_ip6(), our_ip6(), request);
    let pieces = fragments(&request, 1448, 1);
    receive(&mut iface, &mut sockets, at(1), &pieces[0]);
    assert_eq!(iface.reassembly_load().0, 1);
    // A fragment not a multiple of 8 bytes that says more follow.
    let odd = fragments(&request[..1001], 1001, 2);
    let mut odd = odd[0].clone();
    let at_flags = 14 + 40 + 3;
    odd[at_flags] |= 1;
    receive(&mut iface, &mut sockets, at(1), &odd);
    // A fragment header cut short.
    let mut cut = pieces[1].clone();
    cut.truncate(14 + 40 + 4);
    cut[18..20].copy_from_slice(&4u16.to_be_bytes());
    receive(&mut iface, &mut sockets, at(1), &cut);
    let mut out: Vec<Vec<u8>> = Vec::new();
    iface.poll(at(1) + Duration::from_secs(31), &mut sockets, &mut out);
    assert_eq!(
        iface.reassembly_load().0,
        1,
        "IPv6 waits 60 s, not IPv4's 30"
    );
    iface.poll(at(1) + Duration::from_secs(60), &mut sockets, &mut out);
    let stats = iface.stats();
    assert_eq!(stats.ipv6.frag_malformed, 1);
    assert_eq!(stats.ipv6.rx_truncated, 1);
    assert_eq!(stats.ipv6.frag_timeouts, 1);
    assert_eq!(iface.reassembly_load(), (0, 0), "memory returned");
    assert_eq!(stats.icmpv6.echo_replies_sent, 0);
}

/// Has the interface learn the peer, as the peer's own solicitation does.
fn learn_peer(iface: &mut Interface, sockets: &mut Sockets) {
    let ns = solicit_frame(peer_ip6(), our_ip6(), true);
    let out = receive(iface, sockets, at(1), &ns);
    assert_eq!(out.len(), 1, "answered");
}

#[test]
fn unrecognised_headers_draw_parameter_problems_as_rfc_4443_allows() {
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    // An unrecognised next header (253, for experiments: RFC 3692),
    // reported with a pointer to the fixed header's next-header field.
    let udp = frame(
        OUR_MAC,
        Ipv6Repr {
            next_header: 253,
            ..repr(peer_ip6(), our_ip6(), 64)
        },
        &[0u8; 16],
    );
    let out = receive(&mut iface, &mut sockets, at(2), &udp);
    assert_eq!(out.len(), 1);
    let (mac, ip, error) = parse_reply(&out[0]);
    assert_eq!(mac, PEER_MAC);
    assert_eq!((ip.src, ip.dst), (our_ip6(), peer_ip6()));
    assert_eq!(
        (error[0], error[1]),
        (4, 1),
        "parameter problem, next header"
    );
    assert_eq!(&error[4..8], &6u32.to_be_bytes());
    assert_eq!(&error[8..], &udp[14..], "the packet quoted whole");
    // Behind a destination options header the pointer names that header's field.
    let mut behind = vec![253u8, 0, 1, 4, 0, 0, 0, 0];
    behind.extend_from_slice(&[0u8; 8]);
    let out = receive(
        &mut iface,
        &mut sockets,
        at(2),
        &frame(
            OUR_MAC,
            Ipv6Repr {
                next_header: next_header::DESTINATION_OPTIONS,
                ..repr(peer_ip6(), our_ip6(), 64)
            },
            &behind,
        ),
    );
    let (_, _, error) = parse_reply(&out[0]);
    assert_eq!(&error[4..8], &40u32.to_be_bytes());
    // An unknown option of action 10 is reported even to a multicast
    // destination, pointing at the option; action 11 is not to multicast.
    let group = solicited_node(our_ip6());
    let group_mac = crate::wire::ipv6::multicast_mac(group);
    for (kind, answered) in [(0x80u8, true), (0xc0, false), (0x40, false)] {
        let options = [58u8, 0, 1, 0, kind, 0, 0, 0];
        let mut body = options.to_vec();
        body.extend(icmpv6(peer_ip6(), group, solicit(our_ip6(), true)));
        let out = receive(
            &mut iface,
            &mut sockets,
            at(2),
            &frame(
                group_mac,
                Ipv6Repr {
                    next_header: next_header::DESTINATION_OPTIONS,
                    ..repr(peer_ip6(), group, 255)
                },
                &body,
            ),
        );
        assert_eq!(out.len(), usize::from(answered), "option type {kind:#x}");
        if answered {
            let (_, ip, error) = parse_reply(&out[0]);
            assert_eq!(ip.src, our_ip6(), "from our unicast address");
            assert_eq!((error[0], error[1]), (4, 2));
            assert_eq!(&error[4..8], &44u32.to_be_bytes());
        }
    }
    // Nothing answers an unrecognised header sent to a group, or an error.
    let to_group = frame(
        group_mac,
        Ipv6Repr {
            next_header: 253,
            ..repr(peer_ip6(), group, 64)
        },
        &[0u8; 8],
    );
    assert!(receive(&mut iface, &mut sockets, at(2), &to_group).is_empty());
    let stats = iface.stats();
    assert_eq!(stats.icmpv6.tx_errors, 3);
    assert_eq!(stats.ipv6.rx_unsupported, 3);
}

#[test]
fn errors_are_rate_limited_and_quotes_bounded() {
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let big = frame(
        OUR_MAC,
        Ipv6Repr {
            next_header: 253,
            ..repr(peer_ip6(), our_ip6(), 64)
        },
        &[0u8; 1400],
    );
    let mut sent = 0;
    for _ in 0..200 {
        for f in receive(&mut iface, &mut sockets, at(2), &big) {
            assert!(
                f.len() - ETHERNET_HEADER_LEN <= 1280,
                "at most the minimum MTU"
            );
            sent += 1;
        }
    }
    let stats = iface.stats();
    assert_eq!(sent, 50, "the burst of the shared token bucket");
    assert_eq!(stats.icmpv6.rate_limited, 150);
}

#[test]
fn duplicate_address_detection_probes_then_uses_the_addresses() {
    let (mut iface, mut sockets) = setup_with(|c| c.dad_transmits = 1);
    let mut out: Vec<Vec<u8>> = Vec::new();
    iface.poll(at(0), &mut sockets, &mut out);
    assert_eq!(out.len(), 2, "one probe per address");
    for (probe, target) in out.iter().zip([our_link_local(), our_ip6()]) {
        let (mac, ip, ns) = parse_reply(probe);
        assert_eq!(ip.src, Ipv6Addr::UNSPECIFIED);
        assert_eq!(ip.dst, solicited_node(target));
        assert_eq!(
            mac,
            crate::wire::ipv6::multicast_mac(solicited_node(target))
        );
        assert_eq!(ip.hop_limit, 255);
        assert_eq!(ns[0], 135);
        assert_eq!(&ns[8..24], &target.octets());
        assert_eq!(
            ns.len(),
            24,
            "no link-layer option from the unspecified address"
        );
    }
    // While tentative, a solicitation for the address is not answered.
    let ns = solicit_frame(peer_ip6(), our_ip6(), true);
    assert!(receive(&mut iface, &mut sockets, at(500), &ns).is_empty());
    assert_eq!(
        iface.ip6_state(our_ip6()),
        Some(dad::AddressState::Tentative)
    );
    // Another node's advertisement for the link-local address: a duplicate.
    let mut na = vec![136u8, 0, 0, 0, 0x20, 0, 0, 0];
    na.extend_from_slice(&our_link_local().octets());
    let na = icmpv6(peer_ip6(), ALL_NODES, na);
    let all_nodes_mac = crate::wire::ipv6::multicast_mac(ALL_NODES);
    receive(
        &mut iface,
        &mut sockets,
        at(600),
        &frame(all_nodes_mac, repr(peer_ip6(), ALL_NODES, 255), &na),
    );
    assert_eq!(
        iface.ip6_state(our_link_local()),
        Some(dad::AddressState::Duplicate)
    );
    // A second later the other address is ours and answers.
    out.clear();
    iface.poll(at(1000), &mut sockets, &mut out);
    assert!(out.is_empty(), "no more probes");
    assert_eq!(
        iface.ip6_state(our_ip6()),
        Some(dad::AddressState::Preferred)
    );
    let answered = receive(&mut iface, &mut sockets, at(1001), &ns);
    assert_eq!(answered.len(), 1);
    let (_, ip, _) = parse_reply(&answered[0]);
    assert_eq!(ip.src, our_ip6());
    // The duplicate link-local address never answers.
    let ll_ns = solicit_frame(peer_ip6(), our_link_local(), true);
    assert!(receive(&mut iface, &mut sockets, at(1002), &ll_ns).is_empty());
    let stats = iface.stats();
    assert_eq!(stats.icmpv6.dad_probes_sent, 2);
    assert_eq!(stats.icmpv6.dad_duplicates, 1);
}

#[test]
fn another_nodes_probe_for_our_tentative_address_makes_it_a_duplicate() {
    let (mut iface, mut sockets) = setup_with(|c| c.dad_transmits = 1);
    let mut out: Vec<Vec<u8>> = Vec::new();
    iface.poll(at(0), &mut sockets, &mut out);
    let probe = solicit_frame(Ipv6Addr::UNSPECIFIED, our_ip6(), false);
    assert!(receive(&mut iface, &mut sockets, at(10), &probe).is_empty());
    assert_eq!(
        iface.ip6_state(our_ip6()),
        Some(dad::AddressState::Duplicate)
    );
    out.clear();
    iface.poll(at(2000), &mut sockets, &mut out);
    assert_eq!(
        iface.ip6_state(our_ip6()),
        Some(dad::AddressState::Duplicate)
    );
    assert_eq!(
        iface.ip6_state(our_link_local()),
        Some(dad::AddressState::Preferred)
    );
}

const ROUTER_MAC: MacAddr = MacAddr([0x02, 0xdd, 0, 0, 0, 0x99]);

fn router_ll() -> Ipv6Addr {
    "fe80::99".parse().unwrap()
}

fn far_peer() -> Ipv6Addr {
    "2001:db8:5::5".parse().unwrap()
}

/// An echo request from the off-link `far_peer`, through the router.
fn far_echo() -> Vec<u8> {
    let request = vec![128u8, 0, 0, 0, 0, 7, 0, 1, 1, 2, 3, 4];
    let ip = Ipv6Repr {
        src: far_peer(),
        ..repr(far_peer(), our_ip6(), 60)
    };
    let mut message = request;
    message[2..4].fill(0);
    let sum = !add_sums(
        ip.pseudo_header_sum(next_header::ICMPV6, message.len()),
        crate::wire::checksum::data(&message),
    );
    message[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = frame(OUR_MAC, ip, &message);
    f[6..12].copy_from_slice(&ROUTER_MAC.0);
    f
}

/// A router advertisement from `router_ll` with `lifetime` seconds and
/// its link-layer address.
fn router_advert(lifetime: u16, src: Ipv6Addr) -> Vec<u8> {
    let mut ra = vec![134u8, 0, 0, 0, 64, 0];
    ra.extend_from_slice(&lifetime.to_be_bytes());
    ra.extend_from_slice(&[0; 8]);
    ra.extend_from_slice(&[1, 1]);
    ra.extend_from_slice(&ROUTER_MAC.0);
    let ip = repr(src, ALL_NODES, 255);
    let mut message = ra;
    let sum = !add_sums(
        ip.pseudo_header_sum(next_header::ICMPV6, message.len()),
        crate::wire::checksum::data(&message),
    );
    message[2..4].copy_from_slice(&sum.to_be_bytes());
    frame(crate::wire::ipv6::multicast_mac(ALL_NODES), ip, &message)
}

#[test]
fn off_link_replies_go_through_the_configured_router() {
    let (mut iface, mut sockets) = setup_with(|c| c.gateway6 = Some(router_ll()));
    // The router is resolved first: a solicitation for it, the reply dropped.
    let out = receive(&mut iface, &mut sockets, at(1), &far_echo());
    assert_eq!(out.len(), 1);
    let (_, ip, ns) = parse_reply(&out[0]);
    assert_eq!(ns[0], 135);
    assert_eq!(&ns[8..24], &router_ll().octets());
    assert_eq!(
        ip.src,
        our_link_local(),
        "a link-local target is asked from our link-local"
    );
    let mut na = vec![136u8, 0, 0, 0, 0x60, 0, 0, 0];
    na.extend_from_slice(&router_ll().octets());
    na.extend_from_slice(&[2, 1]);
    na.extend_from_slice(&ROUTER_MAC.0);
    let na = icmpv6(router_ll(), our_link_local(), na);
    receive(
        &mut iface,
        &mut sockets,
        at(2),
        &frame(OUR_MAC, repr(router_ll(), our_link_local(), 255), &na),
    );
    let out = receive(&mut iface, &mut sockets, at(3), &far_echo());
    assert_eq!(out.len(), 1);
    let (mac, ip, reply) = parse_reply(&out[0]);
    assert_eq!(mac, ROUTER_MAC, "handed to the router");
    assert_eq!((ip.src, ip.dst), (our_ip6(), far_peer()));
    assert_eq!(reply[0], 129);
    assert_eq!(iface.default_router6(at(3)), Some(router_ll()));
}

#[test]
fn router_advertisements_set_the_default_router_when_accepted() {
    let (mut iface, mut sockets) = setup_with(|c| c.accept_ra = true);
    assert!(receive(&mut iface, &mut sockets, at(1), &far_echo()).is_empty());
    assert_eq!(iface.stats().ipv6.tx_no_route, 1);
    // From a global address: invalid (RFC 4861 6.1.2).
    receive(
        &mut iface,
        &mut sockets,
        at(2),
        &router_advert(1800, peer_ip6()),
    );
    assert_eq!(iface.default_router6(at(2)), None);
    assert_eq!(iface.stats().icmpv6.rx_nd_invalid, 1);
    receive(
        &mut iface,
        &mut sockets,
        at(3),
        &router_advert(1800, router_ll()),
    );
    assert_eq!(iface.default_router6(at(3)), Some(router_ll()));
    // Its link-layer address came with it: the reply goes straight out.
    let out = receive(&mut iface, &mut sockets, at(4), &far_echo());
    let (mac, ip, _) = parse_reply(&out[0]);
    assert_eq!((mac, ip.dst), (ROUTER_MAC, far_peer()));
    // The lifetime runs out...
    let later = at(3) + Duration::from_secs(1800);
    assert_eq!(iface.default_router6(later), None);
    // ... or the router withdraws.
    receive(
        &mut iface,
        &mut sockets,
        at(5),
        &router_advert(0, router_ll()),
    );
    assert_eq!(iface.default_router6(at(5)), None);
    assert_eq!(iface.stats().icmpv6.rx_router_adverts, 2);
}

#[test]
fn router_advertisements_are_ignored_unless_accepted() {
    let (mut iface, mut sockets) = setup();
    receive(
        &mut iface,
        &mut sockets,
        at(1),
        &router_advert(1800, router_ll()),
    );
    assert_eq!(iface.default_router6(at(1)), None);
    assert_eq!(iface.stats().icmpv6.rx_router_adverts, 1);
    assert!(receive(&mut iface, &mut sockets, at(2), &far_echo()).is_empty());
    assert_eq!(iface.stats().ipv6.tx_no_route, 1);
}

/// A TCP segment from the peer's port 80 to our `port`, checksummed.
fn peer_segment(port: u16, seq: u32, ack: u32, flags: u8, mss: Option<u16>) -> Vec<u8> {
    use crate::tcp::emit::{OptionsOut, Payload, SegmentOut};
    let out = SegmentOut {
        local: (peer_ip6(), 80).into(),
        remote: (our_ip6(), port).into(),
        seq: crate::tcp::seq::SeqNumber(seq),
        ack: crate::tcp::seq::SeqNumber(ack),
        flags,
        window: 65_535,
        options: OptionsOut {
            mss,
            ..OptionsOut::default()
        },
        payload: Payload::None,
    };
    let mut bytes = vec![0u8; out.len()];
    out.write(&mut bytes, false);
    frame(
        OUR_MAC,
        Ipv6Repr {
            next_header: next_header::TCP,
            ..repr(peer_ip6(), our_ip6(), 64)
        },
        &bytes,
    )
}

#[test]
fn packet_too_big_lowers_a_connections_segments() {
    use crate::tcp::segment::{flags, parse};
    let (mut iface, mut sockets) = setup();
    learn_peer(&mut iface, &mut sockets);
    let options = crate::tcp::TcpOptions::from_config(sockets.tcp.config());
    let peer: std::net::SocketAddr = (peer_ip6(), 80).into();
    let handle = sockets
        .tcp
        .connect(at(2), peer, 0, options, *iface.local_addrs())
        .unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    iface.poll(at(2), &mut sockets, &mut out);
    let (_, ip, syn) = parse_reply(&out[0]);
    assert_eq!((ip.src, ip.dst, ip.next_header), (our_ip6(), peer_ip6(), 6));
    let syn = parse(ip.src, ip.dst, &syn).unwrap();
    assert_eq!(syn.options.mss, Some(1440), "1500 - 40 - 20 over IPv6");
    let port = syn.src_port;
    let iss = syn.seq.0;
    let syn_ack = peer_segment(port, 7_000, iss + 1, flags::SYN | flags::ACK, Some(1440));
    receive(&mut iface, &mut sockets, at(3), &syn_ack);
    assert_eq!(
        sockets.tcp.state(handle),
        Ok(crate::tcp::State::Established)
    );
    sockets.tcp.send(handle, &[0x5a; 4_000]).unwrap();
    out.clear();
    iface.poll(at(3), &mut sockets, &mut out);
    let sent: Vec<usize> = out
        .iter()
        .filter(|f| f.len() > 14 + 40 + 20)
        .map(|f| f.len() - 14 - 40 - 20)
        .collect();
    assert_eq!(sent[0], 1440, "full segments first");
    let first = out.iter().find(|f| f.len() > 14 + 40 + 20).unwrap()[14..].to_vec();
    let first = &first[..];

    // A router on the way says 1,280 bytes: the quote is our packet's start.
    let packet_too_big = |mtu: u32, quoted: &[u8]| {
        let mut message = vec![2u8, 0, 0, 0];
        message.extend_from_slice(&mtu.to_be_bytes());
        message.extend_from_slice(&quoted[..quoted.len().min(1_000)]);
        let router: Ipv6Addr = "fd00:78::fe".parse().unwrap();
        frame(
            OUR_MAC,
            repr(router, our_ip6(), 64),
            &icmpv6(router, our_ip6(), message),
        )
    };
    receive(
        &mut iface,
        &mut sockets,
        at(4),
        &packet_too_big(1_280, first),
    );
    let info = sockets.tcp.tcb_of(handle).unwrap();
    assert_eq!(
        info.mss,
        1280 - 40 - 20,
        "RFC 8201: the MSS follows the path"
    );
    out.clear();
    iface.poll(at(4), &mut sockets, &mut out);
    let resent = out.iter().map(|f| f.len() - 14 - 40 - 20).max().unwrap();
    assert_eq!(resent, 1220, "what was in flight goes again, smaller");
    // Below IPv6's minimum MTU, 1,280 is believed (RFC 8201 4); a quote of
    // a sequence number not in flight changes nothing (RFC 5927).
    let mut stale = first.to_vec();
    stale[40 + 4..40 + 8].copy_from_slice(&(iss.wrapping_sub(100_000)).to_be_bytes());
    receive(
        &mut iface,
        &mut sockets,
        at(5),
        &packet_too_big(500, &stale),
    );
    receive(&mut iface, &mut sockets, at(5), &packet_too_big(500, first));
    assert_eq!(sockets.tcp.tcb_of(handle).unwrap().mss, 1220);
    assert_eq!(iface.stats().icmpv6.rx_errors_received, 3);
    let tcp = sockets.tcp.stats();
    assert_eq!(tcp.pmtu_lowered, 1);
    assert_eq!(tcp.rx_icmp_ignored, 1, "the stale quote");
}
