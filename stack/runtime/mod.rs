//! The runtime: what owns the device and the clock and drives the stack.
//!
//! [`Stack`] owns a device and a clock and drives the sans-IO interface and
//! sockets with them. Around it, what every app needs: the shared
//! command-line network options ([`NetOptions`]), opening the device they
//! name ([`open_device`]), the stop flag set by SIGINT/SIGTERM or
//! `--duration` ([`RunControl`]), and the `dpstack: ready` line scripts wait for.

mod cores;
mod open;
mod options;
mod pair;
mod signal;
mod socket_api;
mod stack;
mod summary;
mod threads;

pub use cores::{handoff_ring_frames, run_on_threads, Core, CoreUser, HANDOFF_FRAMES_PER_CORE};
pub use open::{open_cores, open_device, DeviceUser, OpenError};
#[cfg(feature = "dpdk")]
pub use open::{open_dpdk_port, start_dpdk_port};
pub use options::{Backend, NetOptions, SteeringChoice, DEFAULT_EAL};
pub use pair::pipe_stacks;
pub use signal::RunControl;
pub use stack::{IdleBackoff, Stack, StackConfig};
pub use summary::{
    fill_pattern, pattern_byte, print_cores_summary, print_summary, summed_counts, CoreSummary,
    SummaryValue,
};
pub use threads::{StackHandle, ThreadConfig};

pub mod kernel_tap;
pub mod telemetry;

use crate::device::Capabilities;
use std::io::Write;

/// The common body of an app's `main`: installs the stop control (SIGINT,
/// SIGTERM, `--duration`), opens the device the options name, runs the app
/// built by `make` on it, and turns any error into a message on stderr
/// (prefixed by the app's `name`) and a failing exit code.
pub fn run_app<U>(
    name: &str,
    options: &NetOptions,
    make: impl FnOnce(RunControl) -> U,
) -> std::process::ExitCode
where
    U: DeviceUser<Output = Result<(), String>>,
{
    if options.kernel_tap.is_some() {
        // A single-device app has no stack to share the kernel's address with.
        eprintln!("{name}: --kernel-tap needs a stack app (dpstack-echo, -httpd, -perf)");
        return std::process::ExitCode::FAILURE;
    }
    let outcome = RunControl::install(options.run_for())
        .map_err(|e| format!("cannot install signal handlers: {e}"))
        .and_then(|control| open_device(options, make(control)).map_err(|e| e.to_string())?);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The common body of a multi-core app's `main`: installs the stop
/// control, runs `user` on every core of the device the options name
/// ([`open_cores`]), and hands the cores' outputs to `finish` (which prints
/// the summary); any error becomes a message on stderr and a failing exit code.
pub fn run_cores_app<U: CoreUser>(
    name: &str,
    options: &NetOptions,
    make: impl FnOnce(RunControl) -> U,
    finish: impl FnOnce(&U, Vec<U::Output>) -> Result<(), String>,
) -> std::process::ExitCode {
    let outcome = RunControl::install(options.run_for())
        .map_err(|e| format!("cannot install signal handlers: {e}"))
        .and_then(|control| {
            let _telemetry = start_telemetry(options)?;
            let user = make(control.clone());
            let outputs = open_cores(options, &control, &user)?;
            finish(&user, outputs)
        });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Starts serving telemetry as `--telemetry-socket` says (and registers
/// the DPDK telemetry commands on the DPDK backend); the guard removes the
/// socket file when the app ends.
fn start_telemetry(options: &NetOptions) -> Result<Option<telemetry::SocketGuard>, String> {
    #[cfg(feature = "dpdk")]
    if options.backend == Backend::Dpdk {
        crate::dpdk::telemetry::register_commands();
    }
    let (path, required) = match options.telemetry_socket.as_str() {
        "none" => return Ok(None),
        "auto" => (telemetry::default_socket_path(), false),
        path => (std::path::PathBuf::from(path), true),
    };
    match telemetry::serve_unix(&path) {
        Ok(guard) => Ok(Some(guard)),
        Err(e) if required => Err(format!("telemetry socket {}: {e}", path.display())),
        Err(e) => {
            // The default place may not be writable (not root): the app
            // runs on without telemetry, and says so.
            eprintln!("dpstack: no telemetry socket at {}: {e}", path.display());
            Ok(None)
        }
    }
}

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
