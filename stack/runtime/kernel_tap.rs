//! The kernel exception path (`--kernel-tap NAME`, F-Stack's "kernel
//! coexist"): frames the stack does not consume (other EtherTypes,
//! multicast, TCP and UDP ports with no dpstack socket, ICMP it does not
//! answer, and any TCP or UDP port given with `--kernel-port`) go to a TAP
//! interface the Linux kernel owns, configured with the
//! stack's MAC and address; what the kernel sends on it leaves through the
//! port. So SSH, a kernel HTTP server or IPv6 keep working on a port bound
//! to DPDK, beside the stack's own services on the same address.
//!
//! ARP stays consistent: the stack answers requests for the address (the
//! kernel never sees them, so one reply goes out), and every other ARP
//! frame reaches both tables. Echo requests are the stack's, so each ping
//! is answered once. Both directions are bounded by the TAP's queue and a
//! burst per poll turn; what does not fit is dropped and counted
//! (`kernel_tap.*`). IPv4 datagrams the stack reassembled and then found
//! unclaimed reach the kernel as their last fragment only (the kernel
//! drops it when its reassembly times out): fragmented traffic for the
//! kernel is not carried.

use crate::buf::{BufPool, PacketBuf};
use crate::device::tap::TapDevice;
use crate::device::{Device, MAX_BURST};
use crate::iface::FrameSink;
use crate::stats::KernelTapStats;
use crate::time::Instant;
use crate::wire::{Ipv4Cidr, MacAddr};
use std::process::Command;

/// A TAP the kernel owns, and the frames crossing it.
pub struct KernelTap {
    tap: TapDevice,
    stats: KernelTapStats,
    batch: Vec<crate::buf::PoolBuf>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip(8): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl KernelTap {
    /// Creates TAP `name` in the process's network namespace and gives it
    /// to the kernel with `mac`, `address` and `mtu`, up.
    pub fn open(name: &str, mac: MacAddr, address: Ipv4Cidr, mtu: usize) -> Result<Self, String> {
        let tap = TapDevice::open(name, Some(mac), &BufPool::with_defaults())
            .map_err(|e| format!("kernel TAP {name}: {e}"))?;
        let (mac, mtu, cidr) = (mac.to_string(), mtu.to_string(), address.to_string());
        ip(&["link", "set", "dev", name, "address", &mac, "mtu", &mtu])?;
        ip(&["addr", "replace", &cidr, "dev", name])?;
        ip(&["link", "set", "dev", name, "up"])?;
        Ok(KernelTap {
            tap,
            stats: KernelTapStats::default(),
            batch: Vec::with_capacity(MAX_BURST),
        })
    }

    /// Hands `frame` to the kernel.
    pub fn to_kernel(&mut self, now: Instant, frame: &[u8]) {
        let Some(mut buf) = self.tap.alloc_tx(frame.len()) else {
            self.stats.to_kernel_dropped += 1;
            return;
        };
        buf.data_mut().copy_from_slice(frame);
        self.batch.clear();
        self.batch.push(buf);
        let errors = self.tap.stats().tx_errors;
        if self.tap.transmit(now, &mut self.batch) == 1 && self.tap.stats().tx_errors == errors {
            self.stats.to_kernel += 1;
        } else {
            self.batch.clear();
            self.stats.to_kernel_dropped += 1;
        }
    }

    /// Sends what the kernel wrote on its TAP (a burst at most) through `sink`.
    pub fn from_kernel(&mut self, now: Instant, sink: &mut impl FrameSink) {
        self.batch.clear();
        self.tap.receive(now, &mut self.batch, MAX_BURST);
        for frame in self.batch.drain(..) {
            match sink.frame(frame.len()) {
                Some(out) => {
                    out.copy_from_slice(frame.data());
                    self.stats.from_kernel += 1;
                }
                None => self.stats.from_kernel_dropped += 1,
            }
        }
    }

    /// The path's counters.
    pub fn stats(&self) -> KernelTapStats {
        self.stats
    }
}
