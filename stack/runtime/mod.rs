//! The runtime: what owns the device and the clock and drives the stack.
//!
//! [`Stack`] owns a device and a clock and drives the sans-IO interface and
//! sockets with them. Around it, what every app needs: the shared
//! command-line network options ([`NetOptions`]), opening the device they
//! name ([`open_device`]), the stop flag set by SIGINT/SIGTERM or
//! `--duration` ([`RunControl`]), and the `dpstack: ready` line scripts wait for.

mod open;
mod options;
mod signal;
mod stack;

pub use open::{open_device, DeviceUser, OpenError};
pub use options::{Backend, NetOptions, DEFAULT_EAL};
pub use signal::RunControl;
pub use stack::{IdleBackoff, Stack, StackConfig};

use crate::device::Capabilities;
use std::io::Write;

/// Prints `dpstack: ready <ip> on <device>` (ip `-` when none) and flushes,
/// once the device is started and can receive: scripts wait for this line.
pub fn announce_ready(options: &NetOptions, caps: &Capabilities) {
    let ip = options
        .ip
        .map_or_else(|| "-".to_string(), |ip| ip.to_string());
    let mut out = std::io::stdout().lock();
    // A closed stdout leaves nobody to tell; the app carries on regardless.
    let _ = writeln!(out, "dpstack: ready {ip} on {}", caps.name);
    let _ = out.flush();
}
