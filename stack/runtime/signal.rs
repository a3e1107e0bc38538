//! When an app stops: on SIGINT or SIGTERM, or when `--duration` runs out.
//!
//! The signal handler only sets a flag; poll loops check it every iteration,
//! so a spinning DPDK loop still stops promptly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The stop condition of an app's poll loop.
#[derive(Debug, Clone)]
pub struct RunControl {
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl RunControl {
    /// Installs SIGINT and SIGTERM handlers that request a stop, and starts
    /// the `run_for` countdown (none: run until a signal).
    pub fn install(run_for: Option<Duration>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&stop))?;
        }
        Ok(Self::without_signals(stop, run_for))
    }

    /// A control driven only by `stop` and `run_for`, for tests and for apps
    /// that handle signals themselves.
    pub fn without_signals(stop: Arc<AtomicBool>, run_for: Option<Duration>) -> Self {
        RunControl {
            stop,
            deadline: run_for.map(|d| Instant::now() + d),
        }
    }

    /// True until a stop was requested or the duration ran out.
    pub fn keep_running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && self.deadline.is_none_or(|d| Instant::now() < d)
    }

    /// Requests a stop, as a signal would.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_on_request_and_on_deadline() {
        let control = RunControl::without_signals(Arc::new(AtomicBool::new(false)), None);
        assert!(control.keep_running());
        control.request_stop();
        assert!(!control.keep_running());
        let timed =
            RunControl::without_signals(Arc::new(AtomicBool::new(false)), Some(Duration::ZERO));
        assert!(!timed.keep_running());
    }
}
