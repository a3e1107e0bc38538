//! dpstack end to end with real mbufs: two `dpstack-perf` processes, each
//! with its own EAL on its own lcore, joined by a DPDK `net_memif` vdev
//! (shared memory; no traffic leaves the machine). Poll-mode spinning
//! counts: CPU is each process's user + system time from the moment both
//! are ready to their exit, read from /proc.

use crate::measure::Sample;
use crate::Contender;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The contender.
pub struct DpdkMemif {
    perf: Option<PathBuf>,
}

impl DpdkMemif {
    /// Uses the release `dpstack-perf` next to this benchmark (setup/bench.sh
    /// builds it); without it, or without DPDK, this contender sits out.
    pub fn new() -> DpdkMemif {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let perf = target.join("release/dpstack-perf");
        DpdkMemif {
            perf: perf.exists().then_some(perf),
        }
    }
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

/// CPU seconds a process has used so far (/proc/PID/stat utime + stime).
fn process_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf with a valid name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// Waits for the app's ready line; the lines after it go to `rest`.
fn wait_ready(child: &mut Child, timeout: Duration) -> Option<std::sync::mpsc::Receiver<String>> {
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
fn finish(mut child: Child, start_cpu: f64) -> Option<f64> {
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

impl Contender for DpdkMemif {
    fn name(&self) -> &'static str {
        "dpstack (two processes, DPDK net_memif)"
    }

    fn bulk(&mut self, bytes: u64) -> Option<Sample> {
        let perf = self.perf.as_ref()?;
        let id = format!("{}-{}", std::process::id(), bytes);
        let socket = format!("/tmp/dps-bench-memif-{id}.sock");
        let _ = std::fs::remove_file(&socket);
        let spawn = |role: &str, lcore: u32, args: &[String]| -> Option<Child> {
            let eal = format!(
                "-l {lcore} --no-pci {} --vdev=net_memif0,role={role},socket={socket}",
                eal_memory(&format!("dpsbench{role}{id}"))
            );
            Command::new(perf)
                .args(args)
                .args(["--backend", "dpdk", "--eal", &eal, "--no-check"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .ok()
        };
        let server_args: Vec<String> = ["server", "--ip", "10.64.0.2/24", "--listen-port", "5001"]
            .map(String::from)
            .to_vec();
        let mut server = spawn("server", 0, &server_args)?;
        let _server_lines = wait_ready(&mut server, Duration::from_secs(30))?;
        let client_args: Vec<String> = [
            "client",
            "--ip",
            "10.64.0.1/24",
            "--connect",
            "10.64.0.2:5001",
            "--bytes",
            &bytes.to_string(),
        ]
        .map(String::from)
        .to_vec();
        let mut client = spawn("client", 1, &client_args)?;
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

    fn request_response(&mut self, _: usize, _: Duration) -> Option<Sample> {
        None
    }

    fn connection_rate(&mut self, _: usize, _: Duration) -> Option<Sample> {
        None
    }

    fn demux(&mut self, _: usize, _: u64, _: Duration) -> Option<Sample> {
        None
    }

    fn memory_per_connection(&mut self, _: usize) -> Option<f64> {
        None
    }
}
