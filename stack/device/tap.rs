//! A Linux TAP interface through `/dev/net/tun`, without DPDK.
//!
//! The interface is created in the network namespace of the calling process
//! (tests run the stack under `ip netns exec`, or move the interface into a
//! namespace they created). The kernel sees frames we transmit as received on
//! the interface, and we receive what the kernel sends out of it. The stack's
//! MAC is its own, distinct from the kernel side's.

use super::{Capabilities, Device, Offloads};
use crate::buf::{BufPool, PacketBuf, PoolBuf};
use crate::stats::DeviceStats;
use crate::time::Instant;
use crate::wire::MacAddr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;

/// `TUNSETIFF` from `<linux/if_tun.h>`: `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// Bytes of Ethernet header (with one VLAN tag) beyond the MTU that a frame may carry.
const FRAME_OVERHEAD: usize = 18;

/// `struct ifreq` as `TUNSETIFF` reads it: a name and the flags union member.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _union_rest: [u8; 22],
}

/// A TAP interface opened by this process.
pub struct TapDevice {
    file: File,
    name: String,
    mac: MacAddr,
    mtu: usize,
    pool: BufPool,
    stats: DeviceStats,
}

/// Error opening a TAP interface.
#[derive(Debug)]
pub enum TapError {
    /// The name is empty, too long for the kernel, or contains a NUL or `/`.
    BadName,
    /// `/dev/net/tun` could not be opened (no tun module, or no permission).
    Open(io::Error),
    /// The kernel refused to create or attach the interface.
    Attach(io::Error),
}

impl std::fmt::Display for TapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TapError::BadName => write!(
                f,
                "TAP name must be 1 to {} bytes without '/' or NUL",
                libc::IFNAMSIZ - 1
            ),
            TapError::Open(e) => write!(
                f,
                "cannot open /dev/net/tun: {e} (needs root and the tun module)"
            ),
            TapError::Attach(e) => write!(f, "TUNSETIFF failed: {e}"),
        }
    }
}

impl std::error::Error for TapError {}

impl TapDevice {
    /// Creates (or attaches to) the TAP interface `name`. The stack uses
    /// `mac` as its address, or a locally administered one derived from the
    /// name and process id when `None`.
    pub fn open(name: &str, mac: Option<MacAddr>, pool: &BufPool) -> Result<Self, TapError> {
        let bytes = name.as_bytes();
        if bytes.is_empty()
            || bytes.len() >= libc::IFNAMSIZ
            || bytes.iter().any(|b| *b == 0 || *b == b'/')
        {
            return Err(TapError::BadName);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(TapError::Open)?;
        let mut request = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI,
            _union_rest: [0; 22],
        };
        for (dst, src) in request.name.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        attach(&file, &mut request).map_err(TapError::Attach)?;
        let mtu = std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1500);
        let mac = mac.unwrap_or_else(|| {
            let seed = bytes.iter().fold(u64::from(std::process::id()), |h, b| {
                h.wrapping_mul(31).wrapping_add(u64::from(*b))
            });
            MacAddr::local_from_seed(seed)
        });
        Ok(TapDevice {
            file,
            name: name.to_string(),
            mac,
            mtu,
            pool: pool.clone(),
            stats: DeviceStats::default(),
        })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[allow(unsafe_code)]
fn attach(file: &File, request: &mut IfReq) -> io::Result<()> {
    // SAFETY: `request` is a live, properly laid out `struct ifreq` for the
    // duration of the call, and the fd is an open /dev/net/tun descriptor.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, request as *mut IfReq) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Device for TapDevice {
    type Buf = PoolBuf;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            mac: self.mac,
            mtu: self.mtu,
            rx_queues: 1,
            tx_queues: 1,
            offloads: Offloads::default(),
            name: format!("tap:{}", self.name),
        }
    }

    fn alloc_tx(&mut self, len: usize) -> Option<PoolBuf> {
        self.pool.alloc(len)
    }

    fn receive(&mut self, _now: Instant, batch: &mut Vec<PoolBuf>, max: usize) -> usize {
        // One byte more than the largest legal frame: a read that fills the
        // buffer was truncated by the kernel and is dropped, not delivered.
        let capacity = self.mtu + FRAME_OVERHEAD + 1;
        let mut taken = 0;
        while taken < max {
            let Some(mut buf) = self.pool.alloc(capacity) else {
                self.stats.rx_dropped += 1;
                break;
            };
            match self.file.read(buf.data_mut()) {
                Ok(n) if n >= capacity => self.stats.rx_dropped += 1,
                Ok(n) => {
                    buf.trim(capacity - n);
                    self.stats.count_rx(n);
                    batch.push(buf);
                    taken += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.stats.rx_errors += 1;
                    break;
                }
            }
        }
        taken
    }

    fn transmit(&mut self, _now: Instant, batch: &mut Vec<PoolBuf>) -> usize {
        let mut taken = 0;
        for buf in batch.iter() {
            match self.file.write(buf.data()) {
                Ok(_) => self.stats.count_tx(buf.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Link down (EIO) or a frame the kernel rejects: the frame is
                // dropped and counted, as a NIC drops on a dead link.
                Err(_) => self.stats.tx_errors += 1,
            }
            taken += 1;
        }
        batch.drain(..taken);
        taken
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}
