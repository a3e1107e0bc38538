//! Frames on the script's wire, written and read byte by byte here rather
//! than through the stack's own emitter and parser, so a shared bug cannot
//! hide: Ethernet II, IPv4 without options, TCP with options, ICMP errors.

use dpstack::wire::MacAddr;
use smoltcp::wire::{checksum, IpProtocol};
use std::net::Ipv4Addr;

/// Addresses of the two ends of the wire.
#[derive(Debug, Clone, Copy)]
pub struct Ends {
    pub peer_mac: MacAddr,
    pub stack_mac: MacAddr,
    pub peer_ip: Ipv4Addr,
    pub stack_ip: Ipv4Addr,
}

/// A TCP segment with absolute numbers, from the peer's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpFrame {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Option bytes as they go on the wire (padded here to four).
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

fn ipv4_header(out: &mut Vec<u8>, src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: usize) {
    let total = 20 + payload;
    let start = out.len();
    out.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        protocol,
        0,
        0,
    ]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let sum = !checksum::data(&out[start..start + 20]);
    out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
}

fn ethernet_header(out: &mut Vec<u8>, ends: &Ends) {
    out.extend_from_slice(&ends.stack_mac.0);
    out.extend_from_slice(&ends.peer_mac.0);
    out.extend_from_slice(&[0x08, 0x00]);
}

/// The TCP header and payload of `segment` (checksum for `src` to `dst`).
pub fn tcp_bytes(segment: &TcpFrame, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut options = segment.options.clone();
    while options.len() % 4 != 0 {
        options.push(0);
    }
    let header = 20 + options.len();
    let mut tcp = Vec::with_capacity(header + segment.payload.len());
    tcp.extend_from_slice(&segment.src_port.to_be_bytes());
    tcp.extend_from_slice(&segment.dst_port.to_be_bytes());
    tcp.extend_from_slice(&segment.seq.to_be_bytes());
    tcp.extend_from_slice(&segment.ack.to_be_bytes());
    tcp.push(((header / 4) as u8) << 4);
    tcp.push(segment.flags);
    tcp.extend_from_slice(&segment.window.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&options);
    tcp.extend_from_slice(&segment.payload);
    let sum = !checksum::combine(&[
        checksum::pseudo_header_v4(&src, &dst, IpProtocol::Tcp, tcp.len() as u32),
        checksum::data(&tcp),
    ]);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    tcp
}

/// The frame carrying `segment` from the peer to the stack.
pub fn inbound_tcp(ends: &Ends, segment: &TcpFrame) -> Vec<u8> {
    let tcp = tcp_bytes(segment, ends.peer_ip, ends.stack_ip);
    let mut frame = Vec::with_capacity(34 + tcp.len());
    ethernet_header(&mut frame, ends);
    ipv4_header(&mut frame, ends.peer_ip, ends.stack_ip, 6, tcp.len());
    frame.extend_from_slice(&tcp);
    frame
}

/// An ICMP error from the peer's side about `quoted` (a segment the stack
/// sent): its IPv4 header and first eight TCP bytes, as RFC 792 quotes.
pub fn inbound_icmp(ends: &Ends, icmp_type: u8, code: u8, mtu: u16, quoted: &TcpFrame) -> Vec<u8> {
    let tcp = tcp_bytes(quoted, ends.stack_ip, ends.peer_ip);
    let mut quote = Vec::new();
    ipv4_header(&mut quote, ends.stack_ip, ends.peer_ip, 6, tcp.len());
    quote.extend_from_slice(&tcp[..8]);
    let mut icmp = vec![icmp_type, code, 0, 0, 0, 0];
    icmp.extend_from_slice(&mtu.to_be_bytes());
    icmp.extend_from_slice(&quote);
    let sum = !checksum::data(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut frame = Vec::new();
    ethernet_header(&mut frame, ends);
    ipv4_header(&mut frame, ends.peer_ip, ends.stack_ip, 1, icmp.len());
    frame.extend_from_slice(&icmp);
    frame
}

/// What the stack put on the wire, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A TCP segment to the peer, with its options decoded.
    Tcp(TcpFrame, Vec<WireOption>),
    /// An ARP request for the peer's address (answered by the runner).
    ArpRequest,
    /// Any other ARP (gratuitous announcements).
    OtherArp,
    /// Something else: described for the error message.
    Other(String),
}

/// A TCP option as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireOption {
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Timestamps(u32, u32),
    Sack(Vec<(u32, u32)>),
    Unknown(u8),
}

/// Classifies and checks (lengths, checksums, addresses) a frame the stack sent.
pub fn classify(ends: &Ends, frame: &[u8]) -> Result<Outbound, String> {
    if frame.len() < 14 {
        return Err(format!("runt frame of {} bytes", frame.len()));
    }
    match u16::from_be_bytes([frame[12], frame[13]]) {
        0x0806 => {
            let arp = &frame[14..];
            if arp.len() >= 28
                && u16::from_be_bytes([arp[6], arp[7]]) == 1
                && arp[24..28] == ends.peer_ip.octets()
            {
                Ok(Outbound::ArpRequest)
            } else {
                Ok(Outbound::OtherArp)
            }
        }
        0x0800 => classify_ipv4(ends, frame),
        other => Ok(Outbound::Other(format!("EtherType {other:#06x}"))),
    }
}

fn classify_ipv4(ends: &Ends, frame: &[u8]) -> Result<Outbound, String> {
    if frame[0..6] != ends.peer_mac.0 {
        return Err(format!(
            "frame to MAC {:02x?}, not the peer's",
            &frame[0..6]
        ));
    }
    let ip = &frame[14..];
    if ip.len() < 20 || ip[0] != 0x45 {
        return Err("IPv4 header malformed or with options".into());
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < 20 || total > ip.len() {
        return Err(format!("IPv4 total length {total} past the frame"));
    }
    if checksum::data(&ip[..20]) != !0 {
        return Err("IPv4 header checksum wrong".into());
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    if (src, dst) != (ends.stack_ip, ends.peer_ip) {
        return Err(format!("IPv4 {src} -> {dst}, not stack -> peer"));
    }
    if ip[9] != 6 {
        return Ok(Outbound::Other(format!(
            "IPv4 protocol {} ({} bytes)",
            ip[9], total
        )));
    }
    let tcp = &ip[20..total];
    if tcp.len() < 20 {
        return Err("TCP header truncated".into());
    }
    let sum = checksum::combine(&[
        checksum::pseudo_header_v4(&src, &dst, IpProtocol::Tcp, tcp.len() as u32),
        checksum::data(tcp),
    ]);
    if sum != !0 {
        return Err("TCP checksum wrong".into());
    }
    let offset = usize::from(tcp[12] >> 4) * 4;
    if offset < 20 || offset > tcp.len() {
        return Err(format!("TCP data offset {offset} impossible"));
    }
    let options = decode_options(&tcp[20..offset])?;
    let segment = TcpFrame {
        src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        flags: tcp[13],
        window: u16::from_be_bytes([tcp[14], tcp[15]]),
        options: tcp[20..offset].to_vec(),
        payload: tcp[offset..].to_vec(),
    };
    Ok(Outbound::Tcp(segment, options))
}

fn decode_options(mut bytes: &[u8]) -> Result<Vec<WireOption>, String> {
    let mut out = Vec::new();
    while let Some(&kind) = bytes.first() {
        match kind {
            0 => break,
            1 => {
                bytes = &bytes[1..];
                continue;
            }
            _ => {}
        }
        let len = usize::from(*bytes.get(1).ok_or("option without a length")?);
        if len < 2 || len > bytes.len() {
            return Err(format!("option {kind} of impossible length {len}"));
        }
        let body = &bytes[2..len];
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        out.push(match (kind, len) {
            (2, 4) => WireOption::Mss(u16::from_be_bytes([body[0], body[1]])),
            (3, 3) => WireOption::WindowScale(body[0]),
            (4, 2) => WireOption::SackPermitted,
            (8, 10) => WireOption::Timestamps(be32(&body[0..4]), be32(&body[4..8])),
            (5, _) if (len - 2) % 8 == 0 => WireOption::Sack(
                body.chunks(8)
                    .map(|b| (be32(&b[0..4]), be32(&b[4..8])))
                    .collect(),
            ),
            _ => WireOption::Unknown(kind),
        });
        bytes = &bytes[len..];
    }
    Ok(out)
}

/// The ARP reply that tells the stack the peer's MAC.
pub fn arp_reply(ends: &Ends) -> Vec<u8> {
    let mut frame = Vec::with_capacity(60);
    frame.extend_from_slice(&ends.stack_mac.0);
    frame.extend_from_slice(&ends.peer_mac.0);
    frame.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    frame.extend_from_slice(&ends.peer_mac.0);
    frame.extend_from_slice(&ends.peer_ip.octets());
    frame.extend_from_slice(&ends.stack_mac.0);
    frame.extend_from_slice(&ends.stack_ip.octets());
    frame.resize(60, 0);
    frame
}
