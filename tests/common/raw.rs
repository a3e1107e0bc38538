//! Frames crafted and watched from the kernel's side of a test namespace:
//! a packet socket on one interface sends hand-built Ethernet/IPv4/TCP
//! frames (spoofed addresses, chosen sequence numbers) and reads every
//! frame on the link. Built by hand, not with dpstack's emitters, so the
//! stack under test does not check its own output.

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// An `AF_PACKET` socket bound to one interface (of the calling thread's
/// namespace), seeing every frame on it.
pub struct PacketSocket {
    fd: libc::c_int,
    ifindex: libc::c_int,
}

impl PacketSocket {
    /// Opens the socket on `ifname`.
    pub fn open(ifname: &str) -> io::Result<PacketSocket> {
        let name = CString::new(ifname).expect("no NUL in an interface name");
        // SAFETY: plain libc calls with valid arguments; results checked.
        unsafe {
            let ifindex = libc::if_nametoindex(name.as_ptr()) as libc::c_int;
            if ifindex == 0 {
                return Err(io::Error::last_os_error());
            }
            let protocol = (libc::ETH_P_ALL as u16).to_be() as libc::c_int;
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, protocol);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let socket = PacketSocket { fd, ifindex };
            let mut address: libc::sockaddr_ll = std::mem::zeroed();
            address.sll_family = libc::AF_PACKET as u16;
            address.sll_protocol = protocol as u16;
            address.sll_ifindex = ifindex;
            let rc = libc::bind(
                fd,
                &address as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            let timeout = libc::timeval {
                tv_sec: 0,
                tv_usec: 20_000,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &timeout as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            );
            Ok(socket)
        }
    }

    /// Transmits one whole Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: the buffer is valid for its length; the address names our interface.
        let sent = unsafe {
            let mut address: libc::sockaddr_ll = std::mem::zeroed();
            address.sll_family = libc::AF_PACKET as u16;
            address.sll_ifindex = self.ifindex;
            address.sll_halen = 6;
            address.sll_addr[..6].copy_from_slice(&frame[..6]);
            libc::sendto(
                self.fd,
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &address as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The next frame on the link within 20 ms, if any.
    pub fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: the buffer is valid for its length.
        let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        (n > 0).then_some(n as usize)
    }

    /// TCP segments seen within `wait` that `wanted` accepts, in order.
    pub fn watch(&self, wait: Duration, mut wanted: impl FnMut(&Seen) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65536];
        let mut found = Vec::new();
        while Instant::now() < deadline {
            if let Some(seen) = self.recv(&mut buf).and_then(|n| Seen::parse(&buf[..n])) {
                if wanted(&seen) {
                    found.push(seen);
                }
            }
        }
        found
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.fd) };
    }
}

/// TCP control bits: the stack's own.
pub use dpstack::tcp::segment::flags;

/// A TCP segment on the wire, as far as these tests care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload_len: usize,
}

impl Seen {
    /// An Ethernet/IPv4/TCP frame, or None.
    pub fn parse(frame: &[u8]) -> Option<Seen> {
        if frame.len() < 54 || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
            return None;
        }
        let ip = &frame[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let tcp = ip.get(ihl..total.min(ip.len()))?;
        if tcp.len() < 20 {
            return None;
        }
        let offset = usize::from(tcp[12] >> 4) * 4;
        Some(Seen {
            src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
            src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
            seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
            ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
            flags: tcp[13],
            payload_len: tcp.len().saturating_sub(offset),
        })
    }
}

/// A TCP segment to craft, with its Ethernet and IPv4 headers.
#[derive(Debug, Clone)]
pub struct Craft {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
}

impl Craft {
    /// The frame, checksums filled in; a SYN carries an MSS option.
    pub fn frame(&self) -> Vec<u8> {
        let options: &[u8] = if self.flags & flags::SYN != 0 {
            &[2, 4, 0x05, 0xb4]
        } else {
            &[]
        };
        let tcp_len = 20 + options.len();
        let mut frame = Vec::with_capacity(14 + 20 + tcp_len);
        frame.extend_from_slice(&self.dst_mac);
        frame.extend_from_slice(&self.src_mac);
        frame.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + tcp_len) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&self.src.octets());
        ip[16..20].copy_from_slice(&self.dst.octets());
        let sum = checksum(&[&ip]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        frame.extend_from_slice(&ip);
        let mut tcp = vec![0u8; tcp_len];
        tcp[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        tcp[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        tcp[4..8].copy_from_slice(&self.seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&self.ack.to_be_bytes());
        tcp[12] = ((tcp_len / 4) as u8) << 4;
        tcp[13] = self.flags;
        tcp[14..16].copy_from_slice(&self.window.to_be_bytes());
        tcp[20..].copy_from_slice(options);
        let mut pseudo = [0u8; 12];
        pseudo[0..4].copy_from_slice(&self.src.octets());
        pseudo[4..8].copy_from_slice(&self.dst.octets());
        pseudo[9] = 6;
        pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        let sum = checksum(&[&pseudo, &tcp]);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        frame.extend_from_slice(&tcp);
        frame
    }
}

/// The Internet checksum of the concatenated (even-length but the last) parts.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for part in parts {
        for pair in part.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A MAC address in `aa:bb:cc:dd:ee:ff` form.
pub fn parse_mac(text: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(text.trim().split(':')) {
        *byte = u8::from_str_radix(part, 16).expect("a hex MAC byte");
    }
    mac
}
