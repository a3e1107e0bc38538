//! dpstack side by side with the Linux kernel and smoltcp, on one machine,
//! interleaved: every scenario runs each contender in turn, `--runs` times
//! (median, min and max reported). The unit that makes the architectures
//! comparable is work per CPU-second: bytes, requests or connections
//! divided by the user + system CPU time of every thread involved (this
//! process's getrusage, or the children's for contenders in their own
//! processes), next to wall-clock rates. Prints one table and writes JSON.
//!
//! Run everything: `setup/bench.sh` (installs what it needs, then
//! `cargo bench --bench side_by_side -- --json target/bench/side_by_side.json`).
//! `--quick` shrinks every scenario for a smoke test; `--scenarios`,
//! `--contenders` and `--rr-connections 1,64` (the rr rows' connection
//! counts) pick a subset.

#[path = "../common/mod.rs"]
mod common;
mod dpdk;
mod dpstack_pipe;
mod kv;
mod linux;
mod measure;
// Only creation, `command` and the drop are used here.
#[allow(dead_code)]
#[path = "../../tests/common/netns.rs"]
mod netns;
mod report;
mod scaling;
mod smol;

use measure::Sample;
use report::{Row, Unit};
use std::time::Duration;

/// One way of running the workloads. `None`: this contender cannot run
/// that scenario here (said in the table).
pub trait Contender {
    /// Its name in the table.
    fn name(&self) -> &'static str;
    /// One connection moves `bytes` one way in 64 KiB writes.
    fn bulk(&mut self, bytes: u64) -> Option<Sample>;
    /// 64-byte requests answered with 64-byte replies on `connections`
    /// connections, one outstanding on each, for `duration`; work is
    /// requests, with latency percentiles.
    fn request_response(&mut self, connections: usize, duration: Duration) -> Option<Sample>;
    /// Connect, 64-byte request, 64-byte reply, close (the client first),
    /// `concurrency` at a time, for `duration`; work is connections.
    fn connection_rate(&mut self, concurrency: usize, duration: Duration) -> Option<Sample>;
    /// 64-byte ping-pong on one connection while `idle` established
    /// connections sit idle: `round_trips` (or until `limit`); work is
    /// data packets.
    fn demux(&mut self, idle: usize, round_trips: u64, limit: Duration) -> Option<Sample>;
    /// Memory growth per idle established connection, in bytes, after
    /// opening `connections` (run in a fresh process).
    fn memory_per_connection(&mut self, connections: usize) -> Option<f64>;
}

/// Sizes of every scenario.
struct Plan {
    runs: usize,
    bulk_bytes: u64,
    rr_connections: Vec<usize>,
    rr_duration: Duration,
    connect_concurrency: usize,
    connect_duration: Duration,
    demux_idle: Vec<usize>,
    demux_round_trips: u64,
    demux_limit: Duration,
    memory_connections: Vec<usize>,
    /// Bytes of growth the pipe capacity run fills (None: not run).
    capacity_budget: Option<u64>,
    pktgen_seconds: u32,
    /// Seconds of requests per key-value run.
    kv_duration: Duration,
}

impl Plan {
    fn full(runs: usize) -> Plan {
        Plan {
            runs,
            bulk_bytes: 1_000_000_000,
            rr_connections: vec![1, 64, 1024],
            rr_duration: Duration::from_secs(1),
            connect_concurrency: 64,
            connect_duration: Duration::from_secs(1),
            demux_idle: vec![10, 1_000, 10_000, 100_000],
            demux_round_trips: 50_000,
            demux_limit: Duration::from_secs(2),
            memory_connections: vec![9_000, 100_000],
            capacity_budget: Some(8 << 30),
            pktgen_seconds: 5,
            kv_duration: Duration::from_secs(2),
        }
    }

    fn quick(runs: usize) -> Plan {
        Plan {
            runs,
            bulk_bytes: 50_000_000,
            rr_connections: vec![1, 64],
            rr_duration: Duration::from_millis(200),
            connect_concurrency: 16,
            connect_duration: Duration::from_millis(200),
            demux_idle: vec![10, 1_000],
            demux_round_trips: 2_000,
            demux_limit: Duration::from_millis(300),
            memory_connections: vec![2_000],
            capacity_budget: None,
            pktgen_seconds: 1,
            kv_duration: Duration::from_millis(300),
        }
    }
}

fn contenders(selected: &Option<Vec<String>>) -> Vec<Box<dyn Contender>> {
    let all: Vec<Box<dyn Contender>> = vec![
        Box::new(dpstack_pipe::DpstackPipe),
        Box::new(smol::Smoltcp),
        Box::new(linux::Linux::loopback()),
        Box::new(linux::Linux::veth()),
        Box::new(dpdk::DpdkMemif::new()),
    ];
    all.into_iter()
        .filter(|c| {
            selected
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| c.name().contains(n.as_str())))
        })
        .collect()
}

/// Runs `f` once per run for every contender, interleaved, and collects rows.
fn interleaved(
    rows: &mut Vec<Row>,
    contenders: &mut [Box<dyn Contender>],
    runs: usize,
    scenario: &str,
    unit: Unit,
    mut f: impl FnMut(&mut dyn Contender) -> Option<Sample>,
) {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); contenders.len()];
    for run in 0..runs {
        for (i, contender) in contenders.iter_mut().enumerate() {
            if run > 0 && samples[i].is_empty() {
                continue; // not supported: asked once
            }
            if let Some(sample) = f(contender.as_mut()) {
                eprintln!(
                    "  {scenario} / {}: run {}: {:.4e} per CPU-s ({:.4e} per s)",
                    contender.name(),
                    run + 1,
                    sample.per_cpu(),
                    sample.per_wall()
                );
                samples[i].push(sample);
            }
        }
    }
    for (contender, samples) in contenders.iter().zip(samples) {
        rows.push(Row::new(scenario, contender.name(), unit, samples));
    }
}

/// Scenario 5, memory: each contender opens `n` idle connections in a
/// fresh process; fewer repetitions (at most 3), as each is expensive.
fn memory_rows(rows: &mut Vec<Row>, contenders: &[Box<dyn Contender>], runs: usize, n: usize) {
    let scenario = format!("memory at {n}");
    let runs = runs.min(3);
    let names: Vec<&'static str> = contenders.iter().map(|c| c.name()).collect();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); names.len()];
    for _ in 0..runs {
        for (i, name) in names.iter().enumerate() {
            if let Some(sample) = memory_in_child(name, n) {
                eprintln!("  {scenario} / {name}: {:.0} bytes", sample.work);
                samples[i].push(sample);
            }
        }
    }
    for (name, samples) in names.into_iter().zip(samples) {
        rows.push(Row::new(&scenario, name, Unit::BytesPerConnection, samples));
    }
}

/// Scenario 6, the packet generator: `setup/bench-pktgen.sh` runs
/// dpstack-pktgen and testpmd in turn: txonly on net_null with one and
/// with two data-plane cores, and the receive side (rxonly) on a pcap
/// replay; its per-run lines become rows.
fn pktgen_rows(runs: usize, seconds: u32) -> Vec<Row> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("setup/bench-pktgen.sh");
    let out = std::process::Command::new(script)
        .args([seconds.to_string(), runs.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // "run N lcores=L: testpmd txonly T Mpps, dpstack-pktgen P Mpps, ratio R"
    // "rx run N source=pcap: testpmd rxonly T Mpps, dpstack-pktgen P Mpps, ratio R"
    // "rx run N source=pcap latency: testpmd rxonly T Mpps, dpstack-pktgen --latency P Mpps, ratio R"
    // (line key, scenario, baseline, data-plane cores per side)
    let kinds: [(&str, &str, &str, f64); 4] = [
        (
            "lcores=1:",
            "pktgen 64 B, net_null",
            "DPDK testpmd txonly",
            1.0,
        ),
        (
            "lcores=2:",
            "pktgen 64 B, net_null, 2 lcores",
            "DPDK testpmd txonly",
            2.0,
        ),
        (
            "source=pcap:",
            "pktgen receive 64 B, pcap replay",
            "DPDK testpmd rxonly",
            1.0,
        ),
        (
            "source=pcap latency:",
            "pktgen receive 64 B with latency, pcap replay",
            "DPDK testpmd rxonly",
            1.0,
        ),
    ];
    let mut samples: Vec<(Vec<Sample>, Vec<Sample>)> =
        kinds.iter().map(|_| Default::default()).collect();
    for line in text.lines() {
        let Some(kind) = kinds.iter().position(|(key, ..)| line.contains(key)) else {
            continue;
        };
        eprintln!("  pktgen: {line}");
        let figures = line.split_once(": ").map_or("", |(_, rest)| rest);
        let numbers: Vec<f64> = figures
            .split([' ', ','])
            .filter_map(|w| w.parse().ok())
            .collect();
        if let [t, p, _] = numbers[..] {
            // Each side's data-plane cores spin: a second of wall is a
            // CPU-second per core.
            let cores = kinds[kind].3;
            let sample = |mpps: f64| Sample {
                work: mpps * 1e6,
                wall: 1.0,
                cpu: cores,
                latency_us: None,
            };
            samples[kind].0.push(sample(p));
            samples[kind].1.push(sample(t));
        }
    }
    let mut rows = Vec::new();
    for ((_, scenario, baseline, _), (pktgen, testpmd)) in kinds.iter().zip(samples) {
        rows.push(Row::new(scenario, "dpstack-pktgen", Unit::Frames, pktgen));
        rows.push(Row::new(scenario, baseline, Unit::Frames, testpmd));
    }
    rows
}

/// The key-value scenario (benches/side_by_side/kv.rs): dpstack-kv over
/// memif and redis-server over loopback, in turn, for SET and GET with and
/// without pipelining; work per CPU-second of the server.
fn kv_rows(plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::new();
    for (command, pipeline) in [("set", 1), ("set", 16), ("get", 1), ("get", 16)] {
        let load = kv::Load {
            command,
            pipeline,
            connections: 50,
        };
        let scenario = format!("kv {} x50 -P{pipeline}", command.to_uppercase());
        let contenders: [(&str, kv::Measure); 2] = [
            ("dpstack-kv (net_memif, dpstack-perf kv)", kv::dpstack),
            ("redis-server (loopback, redis-benchmark)", kv::redis),
        ];
        let mut samples = vec![Vec::new(); contenders.len()];
        for run in 0..plan.runs {
            for (i, (name, measure)) in contenders.iter().enumerate() {
                if let Some(sample) = measure(load, plan.kv_duration) {
                    eprintln!(
                        "  {scenario} / {name}: run {}: {:.4e} per server CPU-s ({:.4e} per s)",
                        run + 1,
                        sample.per_cpu(),
                        sample.per_wall()
                    );
                    samples[i].push(sample);
                }
            }
        }
        for ((name, _), samples) in contenders.iter().zip(samples) {
            rows.push(Row::new(&scenario, name, Unit::ServerRequests, samples));
        }
    }
    rows
}

/// The scaling figure: rr64 x64 and connection rate on one core and on two,
/// over the pipe (a client and a server core per thread) and over memif
/// (two processes), interleaved; the rows, then for each pair the ratio
/// of two cores to one, as lines for the table's foot.
fn scaling_rows(plan: &Plan) -> (Vec<Row>, Vec<String>) {
    use scaling::Workload;
    type Run = Box<dyn Fn(Workload, Duration) -> Option<Sample>>;
    let setups: [(&str, Run); 4] = [
        (
            "dpstack pipe, 1 thread (client + server core)",
            Box::new(|w, d| scaling::pipe_pairs(1, w, d)),
        ),
        (
            "dpstack pipe, 2 threads (a client + server core each)",
            Box::new(|w, d| scaling::pipe_pairs(2, w, d)),
        ),
        (
            "dpstack memif, server 1 lcore, client 1 lcore",
            Box::new(|w, d| scaling::memif("0", "1", w, d)),
        ),
        (
            "dpstack memif, server 2 lcores, client 2 lcores",
            Box::new(|w, d| scaling::memif("0-1", "0-1", w, d)),
        ),
    ];
    let workloads = [
        (
            "scaling rr64 x64",
            Workload::RequestResponse(64),
            plan.rr_duration,
            Unit::Requests,
        ),
        (
            "scaling connect",
            Workload::ConnectionRate(plan.connect_concurrency),
            plan.connect_duration,
            Unit::Connections,
        ),
    ];
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    for (scenario, workload, duration, unit) in workloads {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); setups.len()];
        for run in 0..plan.runs {
            for (i, (name, setup)) in setups.iter().enumerate() {
                if run > 0 && samples[i].is_empty() {
                    continue;
                }
                if let Some(sample) = setup(workload, duration) {
                    eprintln!(
                        "  {scenario} / {name}: run {}: {:.4e} per CPU-s ({:.4e} per s)",
                        run + 1,
                        sample.per_cpu(),
                        sample.per_wall()
                    );
                    samples[i].push(sample);
                }
            }
        }
        let new: Vec<Row> = setups
            .iter()
            .zip(samples)
            .map(|((name, _), samples)| Row::new(scenario, name, unit, samples))
            .collect();
        for pair in new.chunks(2) {
            let rate = |row: &Row, f: fn(&Sample) -> f64| {
                let values: Vec<f64> = row.samples.iter().map(f).collect();
                (!values.is_empty()).then(|| measure::median(values).0)
            };
            if let [one, two] = pair {
                if let (Some(w1), Some(w2), Some(c1), Some(c2)) = (
                    rate(one, Sample::per_wall),
                    rate(two, Sample::per_wall),
                    rate(one, Sample::per_cpu),
                    rate(two, Sample::per_cpu),
                ) {
                    ratios.push(format!(
                        "{scenario}, {}: two cores / one = {:.2}x wall clock, {:.2}x per CPU-second",
                        one.contender.split(',').next().unwrap_or(""),
                        w2 / w1,
                        c2 / c1
                    ));
                }
            }
        }
        rows.extend(new);
    }
    (rows, ratios)
}

fn child_memory(args: &[String]) {
    // --child-memory NAME CONNECTIONS: one measurement in a fresh process.
    let name = &args[0];
    let connections: usize = args[1].parse().expect("a connection count");
    let mut contender = contenders(&Some(vec![name.clone()]))
        .into_iter()
        .next()
        .expect("a known contender");
    match contender.memory_per_connection(connections) {
        Some(bytes) => println!("{bytes}"),
        None => println!("none"),
    }
}

/// Scenario 5's second figure: how many idle established connections the
/// pipe setup holds in `budget` bytes, measured once (it takes tens of
/// seconds) in a fresh process.
fn capacity_row(budget: u64) -> Row {
    let exe = std::env::current_exe().expect("this executable");
    // The run fills `budget` bytes: only with room to spare (1 GiB).
    let available = mem_available();
    let out = (available >= budget + (1 << 30)).then(|| {
        std::process::Command::new(exe)
            .args(["--child-capacity", &budget.to_string()])
            .output()
    });
    if out.is_none() {
        eprintln!("  capacity: {available} bytes available, too few to fill {budget}; not run");
    }
    let held: Option<f64> = out.and_then(Result::ok).and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .lines()
            .last()?
            .parse()
            .ok()
    });
    let gib = budget as f64 / f64::from(1u32 << 30);
    let scenario = format!("connections held in {gib:.0} GiB");
    eprintln!("  {scenario}: {held:?}");
    let samples = held
        .map(|work| Sample {
            work,
            wall: 1.0,
            cpu: 1.0,
            latency_us: None,
        })
        .into_iter()
        .collect();
    Row::new(
        &scenario,
        "dpstack (pipe, one thread)",
        Unit::ConnectionsHeld,
        samples,
    )
}

/// MemAvailable from /proc/meminfo, in bytes (0 if unreadable).
fn mem_available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Memory per connection measured in a fresh copy of this process, so
/// memory freed by earlier runs cannot hide growth.
fn memory_in_child(name: &str, connections: usize) -> Option<Sample> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--child-memory", name, &connections.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let bytes: f64 = text.trim().lines().last()?.parse().ok()?;
    Some(Sample {
        work: bytes,
        wall: 1.0,
        cpu: 1.0,
        latency_us: None,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--cycles") {
        // --cycles smoltcp WORKLOAD N: instruction counting (setup/instructions.sh).
        let n = args
            .get(at + 3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        let workload = args.get(at + 2).map_or("rr", String::as_str);
        if let Err(e) = smol::cycles(workload, n) {
            eprintln!("side_by_side: {e}");
            std::process::exit(2);
        }
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--child-memory") {
        child_memory(&args[at + 1..]);
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--linux-server") {
        linux::serve(&args[at + 1..]);
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--child-capacity") {
        let budget: f64 = args[at + 1].parse().expect("a byte budget");
        match dpstack_pipe::capacity(budget) {
            Some(held) => println!("{held}"),
            None => println!("none"),
        }
        // Exit without freeing millions of connections one by one.
        std::process::exit(0);
    }
    if let Some(at) = args.iter().position(|a| a == "--linux-idle") {
        linux::hold_idle(&args[at + 1..]);
        return;
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let runs = value("--runs").map_or(5, |v| v.parse().expect("--runs N"));
    let mut plan = if args.iter().any(|a| a == "--quick") {
        Plan::quick(runs)
    } else {
        Plan::full(runs)
    };
    if let Some(list) = value("--rr-connections") {
        plan.rr_connections = list
            .split(',')
            .map(|n| n.parse().expect("--rr-connections N[,N...]"))
            .collect();
    }
    let only: Option<Vec<String>> =
        value("--scenarios").map(|v| v.split(',').map(str::to_string).collect());
    let selected: Option<Vec<String>> =
        value("--contenders").map(|v| v.split(',').map(str::to_string).collect());
    let wants = |scenario: &str| {
        only.as_ref()
            .is_none_or(|o| o.iter().any(|s| s == scenario))
    };
    let mut contenders = contenders(&selected);
    let mut rows = Vec::new();
    let started = std::time::Instant::now();

    if wants("bulk") {
        let bytes = plan.bulk_bytes;
        interleaved(
            &mut rows,
            &mut contenders,
            plan.runs,
            "bulk",
            Unit::Bytes,
            |c| c.bulk(bytes),
        );
    }
    if wants("rr") {
        for &n in &plan.rr_connections {
            let scenario = format!("rr64 x{n}");
            let duration = plan.rr_duration;
            interleaved(
                &mut rows,
                &mut contenders,
                plan.runs,
                &scenario,
                Unit::Requests,
                |c| c.request_response(n, duration),
            );
        }
    }
    if wants("connect") {
        let (concurrency, duration) = (plan.connect_concurrency, plan.connect_duration);
        interleaved(
            &mut rows,
            &mut contenders,
            plan.runs,
            "connect",
            Unit::Connections,
            |c| c.connection_rate(concurrency, duration),
        );
    }
    if wants("demux") {
        for &idle in &plan.demux_idle {
            let scenario = format!("demux idle {idle}");
            let (trips, limit) = (plan.demux_round_trips, plan.demux_limit);
            interleaved(
                &mut rows,
                &mut contenders,
                plan.runs,
                &scenario,
                Unit::Packets,
                |c| c.demux(idle, trips, limit),
            );
        }
    }
    if wants("memory") {
        for &n in &plan.memory_connections {
            memory_rows(&mut rows, &contenders, plan.runs, n);
        }
        if let Some(budget) = plan.capacity_budget {
            if contenders
                .iter()
                .any(|c| c.name().starts_with("dpstack (pipe"))
            {
                rows.push(capacity_row(budget));
            }
        }
    }
    if wants("pktgen") {
        rows.extend(pktgen_rows(plan.runs, plan.pktgen_seconds));
    }
    if wants("kv") {
        rows.extend(kv_rows(&plan));
    }
    let mut scaling_ratios = Vec::new();
    if wants("scaling") {
        let (scaling, ratios) = scaling_rows(&plan);
        rows.extend(scaling);
        scaling_ratios = ratios;
    }

    let elapsed = started.elapsed();
    let table = report::table(&rows);
    println!("{table}");
    for ratio in &scaling_ratios {
        println!("{ratio}");
    }
    println!(
        "({} runs per figure; {:.0} s in all)",
        plan.runs,
        elapsed.as_secs_f64()
    );
    if let Some(path) = value("--json") {
        let mut json = report::json(&rows, plan.runs, elapsed);
        json["scaling"] = scaling_ratios.into();
        if let Some(parent) = std::path::Path::new(&path).parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap())
            .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        println!("JSON: {path}");
    }
}
