//! What a run measured, and how: CPU time from getrusage (every thread of
//! this process, user + system, so both ends and any polling count), wall
//! time, and latency percentiles.

use std::time::{Duration, Instant};

pub use crate::common::{cpu_seconds, median, thread_cpu_seconds};

/// One run of one scenario by one contender.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Units of work done (bytes, requests, connections, packets).
    pub work: f64,
    /// Wall-clock seconds.
    pub wall: f64,
    /// CPU seconds of every process and thread involved.
    pub cpu: f64,
    /// Latency percentiles (p50, p99) in microseconds, where measured.
    pub latency_us: Option<(f64, f64)>,
}

impl Sample {
    /// Work per CPU-second.
    pub fn per_cpu(&self) -> f64 {
        self.work / self.cpu.max(1e-9)
    }

    /// Work per wall-clock second.
    pub fn per_wall(&self) -> f64 {
        self.work / self.wall.max(1e-9)
    }
}

/// Starts the clocks; `finish` turns them into a sample.
pub struct Stopwatch {
    wall: Instant,
    cpu: f64,
    /// The process's CPU clock, or the calling thread's.
    cpu_clock: fn() -> f64,
}

impl Stopwatch {
    /// Both clocks from now, CPU for the whole process.
    pub fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: cpu_seconds(),
            cpu_clock: cpu_seconds,
        }
    }

    /// Both clocks from now, CPU for the calling thread only (one core of
    /// several in this process).
    pub fn start_thread() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: thread_cpu_seconds(),
            cpu_clock: thread_cpu_seconds,
        }
    }

    /// Wall time so far.
    pub fn elapsed(&self) -> Duration {
        self.wall.elapsed()
    }

    /// The sample for `work` units done since `start`.
    pub fn finish(&self, work: f64) -> Sample {
        Sample {
            work,
            wall: self.wall.elapsed().as_secs_f64(),
            cpu: (self.cpu_clock)() - self.cpu,
            latency_us: None,
        }
    }
}

/// Round-trip times, in nanoseconds, for percentiles.
#[derive(Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    /// Records one round trip that began at `sent`.
    pub fn record(&mut self, sent: Instant) {
        let ns = sent.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32;
        self.0.push(ns);
    }

    /// (p50, p99) in microseconds, if any were recorded.
    pub fn percentiles(mut self) -> Option<(f64, f64)> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let at = |p: f64| {
            let index = ((self.0.len() - 1) as f64 * p).round() as usize;
            f64::from(self.0[index]) / 1e3
        };
        Some((at(0.50), at(0.99)))
    }
}

/// Resident set size of this process, in bytes (from /proc/self/statm).
pub fn rss_bytes() -> f64 {
    resident("/proc/self/statm").unwrap_or(0.0)
}

/// Resident set size of process `pid`, in bytes.
pub fn process_rss(pid: u32) -> Option<f64> {
    resident(&format!("/proc/{pid}/statm"))
}

/// The resident field of a statm file, in bytes.
fn resident(statm: &str) -> Option<f64> {
    let statm = std::fs::read_to_string(statm).ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0)
}

/// CPU seconds a process has used so far (/proc/PID/stat utime + stime).
pub fn process_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf with a valid name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// The 64-byte message of the request/response scenarios.
pub const MESSAGE: usize = 64;
