//! dpstack-stat: what a running dpstack app holds, read through its
//! telemetry socket, printed as `netstat -s` (counters), `ss -tan`
//! (connections) or `ip neigh` (neighbours) would, once or every few
//! seconds, or as JSON.

use clap::Parser;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Reads a running dpstack app's telemetry.
#[derive(Parser, Debug)]
#[command(name = "dpstack-stat", version)]
struct Args {
    /// The app's telemetry socket (its `--telemetry-socket`).
    #[arg(long, conflicts_with = "pid")]
    socket: Option<PathBuf>,
    /// The app's process id (its default socket, /run/dpstack/dpstack-PID.sock).
    #[arg(long)]
    pid: Option<u32>,
    /// TCP sockets, as `ss -tan` lists them.
    #[arg(long, conflicts_with_all = ["arp", "cores"])]
    connections: bool,
    /// The neighbour table, as `ip neigh` lists it.
    #[arg(long, conflicts_with = "cores")]
    arp: bool,
    /// Each core's share.
    #[arg(long)]
    cores: bool,
    /// Print the reply as JSON, as the app sent it.
    #[arg(long)]
    json: bool,
    /// Print again every SECS seconds (counters with their change per second).
    #[arg(long, num_args = 0..=1, default_missing_value = "1", value_parser = parse_interval)]
    watch: Option<f64>,
    /// With --watch: stop after this many prints (0: until interrupted).
    #[arg(long, default_value_t = 0)]
    count: u64,
}

fn parse_interval(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("not a number of seconds: {text:?}"))?;
    if secs.is_finite() && (0.1..=3600.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("interval {secs} outside 0.1-3600 seconds"))
    }
}

/// The socket to read: given, by pid, or the only one in /run/dpstack.
fn socket_path(args: &Args) -> Result<PathBuf, String> {
    if let Some(path) = &args.socket {
        return Ok(path.clone());
    }
    if let Some(pid) = args.pid {
        return Ok(PathBuf::from(format!("/run/dpstack/dpstack-{pid}.sock")));
    }
    let found: Vec<PathBuf> = std::fs::read_dir("/run/dpstack")
        .map_err(|_| "no dpstack app is serving telemetry (/run/dpstack is missing)".to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sock"))
        // A file left by an app that was killed answers nothing: skip it.
        .filter(|p| UnixStream::connect(p).is_ok())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("no dpstack app is serving telemetry in /run/dpstack".into()),
        many => Err(format!(
            "several apps serve telemetry; pick one with --pid or --socket: {}",
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn query(path: &PathBuf, command: &str) -> Result<Value, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    writeln!(stream, "{command}").map_err(|e| format!("{}: {e}", path.display()))?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value = serde_json::from_str(&line)
        .map_err(|e| format!("bad reply from {}: {e}", path.display()))?;
    if let Some(error) = value.get("error") {
        return Err(format!("the app says: {error}"));
    }
    Ok(value)
}

/// `netstat -s`: each layer's counters; with a previous reply, the change
/// per second beside each.
fn print_stats(now: &Value, before: Option<(&Value, f64)>) {
    let cores = now["cores"].as_u64().unwrap_or(0);
    let connections = now["connections"].as_u64().unwrap_or(0);
    println!("cores: {cores}, TCP connections: {connections}");
    let Some(layers) = now.as_object() else {
        return;
    };
    for (layer, counters) in layers {
        let Some(counters) = counters.as_object() else {
            continue;
        };
        println!("{layer}:");
        for (name, value) in counters {
            let value = value.as_u64().unwrap_or(0);
            match before.and_then(|(b, secs)| Some((b[layer][name].as_u64()?, secs))) {
                Some((old, secs)) => {
                    let rate = value.saturating_sub(old) as f64 / secs;
                    println!("    {value:>14} {name}  ({rate:.0}/s)");
                }
                None => println!("    {value:>14} {name}"),
            }
        }
    }
}

/// `ss -tan`.
fn print_connections(list: &Value) {
    println!(
        "{:<11} {:>8} {:>8} {:<22} {:<22} {:>9} {:>9} {:>4}",
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address:Port",
        "Peer Address:Port",
        "rtt(us)",
        "cwnd",
        "core"
    );
    for c in list.as_array().into_iter().flatten() {
        println!(
            "{:<11} {:>8} {:>8} {:<22} {:<22} {:>9} {:>9} {:>4}",
            c["state"].as_str().unwrap_or("?"),
            c["recv_q"],
            c["send_q"],
            c["local"].as_str().unwrap_or("?"),
            if c["state"] == "LISTEN" {
                "*:*"
            } else {
                c["remote"].as_str().unwrap_or("?")
            },
            c["rtt_us"]
                .as_u64()
                .map_or("-".to_string(), |r| r.to_string()),
            c["cwnd"],
            c["core"],
        );
    }
}

/// `ip neigh`.
fn print_arp(list: &Value) {
    for n in list.as_array().into_iter().flatten() {
        let mac = n["mac"]
            .as_str()
            .map_or(String::new(), |m| format!(" lladdr {m}"));
        println!(
            "{}{mac} {} (core {})",
            n["ip"].as_str().unwrap_or("?"),
            n["state"].as_str().unwrap_or("?"),
            n["core"]
        );
    }
}

fn print_cores(list: &Value) {
    println!(
        "{:>4} {:>6} {:>12} {:>14} {:>14}",
        "core", "lcore", "connections", "rx_packets", "tx_packets"
    );
    for c in list.as_array().into_iter().flatten() {
        println!(
            "{:>4} {:>6} {:>12} {:>14} {:>14}",
            c["core"],
            c["lcore"]
                .as_u64()
                .map_or("-".to_string(), |l| l.to_string()),
            c["connections"],
            c["rx_packets"],
            c["tx_packets"]
        );
    }
}

fn run(args: &Args) -> Result<(), String> {
    let path = socket_path(args)?;
    let command = if args.connections {
        "/dpstack/tcp/connections"
    } else if args.arp {
        "/dpstack/arp"
    } else if args.cores {
        "/dpstack/cores"
    } else {
        "/dpstack/stats"
    };
    let mut previous: Option<(Value, std::time::Instant)> = None;
    let mut printed = 0u64;
    loop {
        let reply = query(&path, command)?;
        let at = std::time::Instant::now();
        if args.json {
            println!("{reply}");
        } else if command == "/dpstack/stats" {
            let before = previous
                .as_ref()
                .map(|(v, t)| (v, at.duration_since(*t).as_secs_f64().max(1e-3)));
            print_stats(&reply, before);
        } else if args.connections {
            print_connections(&reply);
        } else if args.arp {
            print_arp(&reply);
        } else {
            print_cores(&reply);
        }
        printed += 1;
        let Some(interval) = args.watch else {
            return Ok(());
        };
        if args.count > 0 && printed >= args.count {
            return Ok(());
        }
        let _ = std::io::stdout().flush();
        previous = Some((reply, at));
        std::thread::sleep(Duration::from_secs_f64(interval));
        if !args.json {
            // JSON stays one reply per line; text gets a blank line between.
            println!();
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dpstack-stat: {message}");
            ExitCode::FAILURE
        }
    }
}
