//! The key-value scenario: `dpstack-kv` on a DPDK `net_memif` port, driven
//! by `dpstack-perf kv` in a second process (no kernel on the path),
//! against Debian's `redis-server` on loopback driven by `redis-benchmark`,
//! in turn. Both loads are redis-benchmark's model: 50 connections, each
//! sending a batch of `-P` commands on random keys of a 100,000-key space
//! (3-byte values) and waiting for every reply; GET runs find every key
//! set. The figure is requests per CPU-second **of the server** (user +
//! system, from /proc; the poll-mode server spins, so its CPU is its wall
//! time); the client's CPU is printed beside it.

use crate::dpdk::{finish, made_namespace, spawn, wait_for, wait_ready};
use crate::measure::{process_cpu, Sample};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One load: the command, the pipeline depth and the connections.
#[derive(Clone, Copy)]
pub struct Load {
    /// `set` or `get`.
    pub command: &'static str,
    /// Commands per batch (`-P`).
    pub pipeline: usize,
    /// Connections (`-c`).
    pub connections: usize,
}

/// One contender's run of a load for a duration.
pub type Measure = fn(Load, Duration) -> Option<Sample>;

/// Keys drawn from (`-r`).
const KEYS: u64 = 100_000;
/// Bytes of each value (`-d`).
const VALUE_SIZE: usize = 3;

/// A release binary next to this benchmark.
fn release(name: &str) -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    Some(target.join("release").join(name)).filter(|p| p.exists())
}

/// `dpstack-kv` on lcore 0 and `dpstack-perf kv` on lcore 1 over memif,
/// for `duration` of requests.
pub fn dpstack(load: Load, duration: Duration) -> Option<Sample> {
    let (kv, perf) = (release("dpstack-kv")?, release("dpstack-perf")?);
    let ns = made_namespace()?;
    let socket = format!("/tmp/dps-bench-memif-kv-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&socket);
    let mut server = spawn(&ns, &kv, "server", "0", &socket, &["--ip", "10.64.0.2/24"])?;
    let (pipeline, connections) = (load.pipeline.to_string(), load.connections.to_string());
    let (seconds, keys) = (duration.as_secs_f64().to_string(), KEYS.to_string());
    let value_size = VALUE_SIZE.to_string();
    let args = [
        "kv",
        "--ip",
        "10.64.0.1/24",
        "--connect",
        "10.64.0.2:6379",
        "--command",
        load.command,
        "--pipeline",
        &pipeline,
        "--connections",
        &connections,
        "--keys",
        &keys,
        "--value-size",
        &value_size,
        "--seconds",
        &seconds,
        "--json",
    ];
    let result = wait_ready(&mut server, Duration::from_secs(30))
        .and_then(|_| spawn(&ns, &perf, "client", "1", &socket, &args))
        .and_then(|mut client| {
            let lines = wait_ready(&mut client, Duration::from_secs(30))?;
            // Connecting and filling the key space come first.
            if !wait_for(&lines, "dpstack: rr connected", Duration::from_secs(120)) {
                let _ = client.kill();
                let _ = client.wait();
                return None;
            }
            let start = (process_cpu(server.id())?, process_cpu(client.id())?);
            let timed_out = !wait_for(&lines, "dpstack: rr done", duration * 4);
            let end = (process_cpu(server.id())?, process_cpu(client.id())?);
            finish(client, 0.0)?;
            if timed_out {
                return None;
            }
            let summary: serde_json::Value =
                serde_json::from_str(&lines.recv_timeout(Duration::from_secs(5)).ok()?).ok()?;
            eprintln!(
                "    dpstack-perf kv (client) used {:.2} CPU-s",
                end.1 - start.1
            );
            Some(Sample {
                work: summary["requests"].as_f64()?,
                wall: summary["seconds"].as_f64()?,
                cpu: end.0 - start.0,
                latency_us: summary["p50_us"].as_f64().zip(summary["p99_us"].as_f64()),
            })
        });
    // SAFETY: signalling our own child.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let _ = finish(server, 0.0);
    let _ = std::fs::remove_file(&socket);
    result
}

/// A redis-server on a free loopback port, ended when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// `redis-benchmark` against it with `args`; its CPU seconds, if it
    /// ended well.
    fn benchmark(&self, args: &[&str]) -> Option<f64> {
        let port = self.port.to_string();
        let mut child = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &port, "-q"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // Read its output as it comes so the pipe never fills.
        let mut out = child.stdout.take()?;
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        let cpu = finish(child, 0.0);
        let text = reader.join().ok()?;
        cpu.filter(|_| text.contains("requests per second"))
    }

    /// Error replies the server has sent so far (INFO's
    /// `total_error_replies`).
    fn error_replies(&self) -> Option<u64> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "INFO", "stats"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("total_error_replies:"))?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// `redis-server` on loopback, `redis-benchmark` sending about
/// `duration` worth of requests (sized from the rates seen on a 2-vCPU
/// guest; the figure is a rate, so the count only sets the run's length).
pub fn redis(load: Load, duration: Duration) -> Option<Sample> {
    let server = RedisServer::start()?;
    let keys = KEYS.to_string();
    let value_size = VALUE_SIZE.to_string();
    if load.command == "get" {
        // Ten SETs per key on average: all but a few keys set.
        let fill = (KEYS * 10).to_string();
        server.benchmark(&[
            "-t",
            "set",
            "-n",
            &fill,
            "-P",
            "64",
            "-r",
            &keys,
            "-d",
            &value_size,
        ])?;
    }
    let per_second = if load.pipeline > 1 {
        400_000.0
    } else {
        60_000.0
    };
    let requests = (per_second * duration.as_secs_f64()).max(10_000.0) as u64;
    let (requests_text, connections) = (requests.to_string(), load.connections.to_string());
    let pipeline = load.pipeline.to_string();
    let errors_before = server.error_replies()?;
    let start_cpu = process_cpu(server.child.id())?;
    let started = Instant::now();
    let client_cpu = server.benchmark(&[
        "-t",
        load.command,
        "-n",
        &requests_text,
        "-c",
        &connections,
        "-P",
        &pipeline,
        "-r",
        &keys,
        "-d",
        &value_size,
    ])?;
    let wall = started.elapsed().as_secs_f64();
    let server_cpu = process_cpu(server.child.id())? - start_cpu;
    if server.error_replies()? != errors_before {
        eprintln!("    redis-server answered errors: run dropped");
        return None;
    }
    eprintln!("    redis-benchmark (client) used {client_cpu:.2} CPU-s");
    Some(Sample {
        work: requests as f64,
        wall,
        cpu: server_cpu,
        latency_us: None,
    })
}
