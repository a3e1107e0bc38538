//! dpstack end to end with real mbufs: two `dpstack-perf` processes, each
//! with its own EAL on its own lcore, joined by a DPDK `net_memif` vdev
//! (shared memory; no traffic leaves the machine). Poll-mode spinning
//! counts: CPU is each process's user + system time from the moment both
//! are ready to their exit, read from /proc.

use crate::measure::{process_cpu, process_rss, Sample};
use crate::netns::Netns;
use crate::Contender;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The contender.
pub struct DpdkMemif {
    perf: Option<PathBuf>,
    echo: Option<PathBuf>,
    /// EAL lcores (`-l`) of the server and of the client.
    lcores: (String, String),
}

impl DpdkMemif {
    /// Uses the release `dpstack-perf` and `dpstack-echo` next to this
    /// benchmark (setup/bench.sh builds them); without them, or without
    /// DPDK, this contender sits out.
    pub fn new() -> DpdkMemif {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let found = |name: &str| Some(target.join("release").join(name)).filter(|p| p.exists());
        DpdkMemif {
            perf: found("dpstack-perf"),
            echo: found("dpstack-echo"),
            lcores: ("0".into(), "1".into()),
        }
    }

    /// The server on the EAL lcores `server` (`-l`, one stack each), the
    /// client on `client` (as many: memif pairs queue `k` with queue `k`).
    pub fn on_lcores(server: &str, client: &str) -> DpdkMemif {
        DpdkMemif {
            lcores: (server.into(), client.into()),
            ..DpdkMemif::new()
        }
    }
}

/// Starts `binary` with `args` on a `net_memif` port in `role`, on
/// `lcores`, inside the namespace `ns` (both ends of a memif pair run in
/// the same one; `ip netns exec` execs, so the child's PID is the app's).
pub fn spawn(
    ns: &Netns,
    binary: &Path,
    role: &str,
    lcores: &str,
    socket: &str,
    args: &[&str],
) -> Option<Child> {
    let eal = format!(
        "-l {lcores} --no-pci {} --vdev=net_memif0,role={role},socket={socket}",
        eal_memory(&format!("dpsbench{role}{}", std::process::id()))
    );
    ns.command(binary.to_str()?)
        .args(args)
        .args(["--backend", "dpdk", "--eal", &eal])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// A namespace for one run's pair of processes (the brief's rule: every
/// DPDK vdev runs inside one the benchmark makes and removes); `None`,
/// with the reason printed, sits the contender out.
pub fn made_namespace() -> Option<Netns> {
    Netns::try_create("sbsmemif")
        .map_err(|error| eprintln!("  no network namespace for the memif pair: {error}"))
        .ok()
}

/// Waits for a line starting with `prefix`.
pub fn wait_for(
    lines: &std::sync::mpsc::Receiver<String>,
    prefix: &str,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// EAL memory: hugepages if any are free, else plain memory.
fn eal_memory(prefix: &str) -> String {
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("HugePages_Free:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    if free >= 128 {
        "--in-memory".into()
    } else {
        format!("--no-huge --no-shconf -m 512 --file-prefix {prefix}")
    }
}

/// Waits for the app's ready line; the lines after it go to `rest`.
pub fn wait_ready(
    child: &mut Child,
    timeout: Duration,
) -> Option<std::sync::mpsc::Receiver<String>> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("dpstack: ready") => return Some(rx),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// CPU used by a finished child from `start_cpu` on: its total from wait4.
pub fn finish(mut child: Child, start_cpu: f64) -> Option<f64> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: waiting for our own child; wait4 fills the rusage.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    if rc != pid {
        let _ = child.kill();
        return None;
    }
    // SAFETY: filled by a successful wait4.
    let usage = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let total = secs(usage.ru_utime) + secs(usage.ru_stime);
    (libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0).then_some(total - start_cpu)
}

/// Echo ports: `dpstack-echo` listens on `ECHO_PORT` and the ports after
/// it, so idle connections spread over them (each gives the client about
/// 28,000 ephemeral ports; 100,000 connections need four).
const ECHO_PORT: u16 = 7;
const ECHO_PORTS: u16 = 4;

/// What `dpstack-perf` against `dpstack-echo` measures.
enum Measure {
    /// CPU of both from the client's "connected" line to its exit.
    Cpu,
    /// Resident memory both grew from the client's ready line to its
    /// "connected" line.
    MemoryGrowth,
}

/// What a run against the echo server gives.
struct EchoRun {
    /// The client's JSON summary.
    summary: serde_json::Value,
    /// CPU seconds, or bytes of memory growth, of both processes.
    used: f64,
}

impl DpdkMemif {
    /// `dpstack-echo` serves on lcore 0 and `dpstack-perf` runs `mode` on
    /// lcore 1 for `duration`, measuring `measure`.
    fn against_echo(&self, mode: &[&str], duration: Duration, measure: Measure) -> Option<EchoRun> {
        let (perf, echo) = (self.perf.as_ref()?, self.echo.as_ref()?);
        let ns = made_namespace()?;
        let socket = format!("/tmp/dps-bench-memif-rr-{}.sock", std::process::id());
        let _ = std::fs::remove_file(&socket);
        let ports = format!("{ECHO_PORT}-{}", ECHO_PORT + ECHO_PORTS - 1);
        let mut server = spawn(
            &ns,
            echo,
            "server",
            &self.lcores.0,
            &socket,
            &[
                "--ip",
                "10.64.0.2/24",
                "--tcp-port",
                &ports,
                "--trigger",
                "et",
                "--backlog",
                "4096",
            ],
        )?;
        let seconds = duration.as_secs_f64().to_string();
        let connect = format!("10.64.0.2:{ECHO_PORT}");
        let mut args: Vec<&str> = mode.to_vec();
        args.extend([
            "--ip",
            "10.64.0.1/24",
            "--connect",
            &connect,
            "--seconds",
            &seconds,
            "--json",
        ]);
        let result = wait_ready(&mut server, Duration::from_secs(30))
            .and_then(|_| spawn(&ns, perf, "client", &self.lcores.1, &socket, &args))
            .and_then(|mut client| {
                let lines = wait_ready(&mut client, Duration::from_secs(30))?;
                let rss = |child: &Child| process_rss(child.id());
                let rss_ready = (rss(&server)?, rss(&client)?);
                if !wait_for(&lines, "dpstack: rr connected", Duration::from_secs(120)) {
                    let _ = client.kill();
                    let _ = client.wait();
                    return None;
                }
                let used = match measure {
                    Measure::MemoryGrowth => {
                        let grown = rss(&server)? - rss_ready.0 + rss(&client)? - rss_ready.1;
                        finish(client, 0.0)?;
                        grown
                    }
                    Measure::Cpu => {
                        let start = (process_cpu(server.id())?, process_cpu(client.id())?);
                        let client_cpu = finish(client, start.1)?;
                        client_cpu + process_cpu(server.id())? - start.0
                    }
                };
                let summary = lines.recv_timeout(Duration::from_secs(5)).ok()?;
                Some(EchoRun {
                    summary: serde_json::from_str(&summary).ok()?,
                    used,
                })
            });
        // SAFETY: signalling our own child.
        unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
        let _ = finish(server, 0.0);
        let _ = std::fs::remove_file(&socket);
        result
    }

    /// A CPU sample of `mode`; `work` reads the client's JSON summary.
    fn sample(
        &self,
        mode: &[&str],
        duration: Duration,
        work: impl Fn(&serde_json::Value) -> Option<f64>,
    ) -> Option<Sample> {
        let run = self.against_echo(mode, duration, Measure::Cpu)?;
        let summary = &run.summary;
        Some(Sample {
            work: work(summary)?,
            wall: summary["seconds"].as_f64()?,
            cpu: run.used,
            latency_us: summary["p50_us"].as_f64().zip(summary["p99_us"].as_f64()),
        })
    }
}

impl Contender for DpdkMemif {
    fn name(&self) -> &'static str {
        "dpstack (two processes, DPDK net_memif)"
    }

    fn bulk(&mut self, bytes: u64) -> Option<Sample> {
        let perf = self.perf.as_ref()?;
        let ns = made_namespace()?;
        let socket = format!("/tmp/dps-bench-memif-{}.sock", std::process::id());
        let _ = std::fs::remove_file(&socket);
        let mut server = spawn(
            &ns,
            perf,
            "server",
            &self.lcores.0,
            &socket,
            &[
                "server",
                "--ip",
                "10.64.0.2/24",
                "--listen-port",
                "5001",
                "--no-check",
            ],
        )?;
        let _server_lines = wait_ready(&mut server, Duration::from_secs(30))?;
        let bytes_text = bytes.to_string();
        let mut client = spawn(
            &ns,
            perf,
            "client",
            &self.lcores.1,
            &socket,
            &[
                "client",
                "--ip",
                "10.64.0.1/24",
                "--connect",
                "10.64.0.2:5001",
                "--bytes",
                &bytes_text,
                "--no-check",
            ],
        )?;
        let _client_lines = wait_ready(&mut client, Duration::from_secs(30))?;
        let started = Instant::now();
        let start_cpu = (
            process_cpu(server.id()).unwrap_or(0.0),
            process_cpu(client.id()).unwrap_or(0.0),
        );
        let client_cpu = finish(client, start_cpu.1);
        let server_cpu = finish(server, start_cpu.0);
        let wall = started.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&socket);
        Some(Sample {
            work: bytes as f64,
            wall,
            cpu: client_cpu? + server_cpu?,
            latency_us: None,
        })
    }

    fn request_response(&mut self, connections: usize, duration: Duration) -> Option<Sample> {
        let connections = connections.to_string();
        self.sample(
            &["rr", "--connections", &connections],
            duration,
            |summary| summary["requests"].as_f64(),
        )
    }

    fn connection_rate(&mut self, concurrency: usize, duration: Duration) -> Option<Sample> {
        let concurrency = concurrency.to_string();
        self.sample(
            &["crr", "--concurrency", &concurrency],
            duration,
            |summary| summary["connections"].as_f64(),
        )
    }

    fn demux(&mut self, idle: usize, _round_trips: u64, limit: Duration) -> Option<Sample> {
        let args = beside_idle(idle);
        // Two data packets per request, as for the other contenders.
        let mut sample = self.sample(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            limit.min(Duration::from_secs(1)),
            |summary| summary["requests"].as_f64().map(|r| 2.0 * r),
        )?;
        sample.latency_us = None;
        Some(sample)
    }

    fn memory_per_connection(&mut self, connections: usize) -> Option<f64> {
        // One active connection and the rest idle, both ends counted, as
        // the pipe contender counts both stacks.
        let args = beside_idle(connections.checked_sub(1)?);
        let run = self.against_echo(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            Duration::from_millis(100),
            Measure::MemoryGrowth,
        )?;
        Some(run.used / connections as f64)
    }
}

/// `dpstack-perf rr` on one connection beside `idle` idle ones, spread over
/// the echo's ports.
fn beside_idle(idle: usize) -> Vec<String> {
    ["rr", "--connections", "1", "--idle"]
        .map(String::from)
        .into_iter()
        .chain([
            idle.to_string(),
            "--idle-ports".into(),
            ECHO_PORTS.to_string(),
        ])
        .collect()
}
