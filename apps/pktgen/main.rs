//! dpstack-pktgen: a packet generator for DPDK ports, TAP interfaces and
//! pcap files. UDP, TCP SYN, ICMP echo or pcap replay; flows over ranges of
//! MACs, addresses and ports; paced by the TSC; loss, reordering and latency
//! measured from the probes that come back. See README.md for the flags.

mod builder;
mod http_response;
mod receiver;
mod spec;
mod stateful;
mod stats;
mod template;
mod worker;

use builder::{DstMacs, FlowMode, FlowSpec, FlowWalker};
use clap::Parser;
use dpstack::device::fault::{FaultConfig, FaultDevice, FaultProfile};
use dpstack::device::pcap::{PcapReader, PcapWriter};
use dpstack::device::Device;
#[cfg(feature = "dpdk")]
use dpstack::runtime::Backend;
use dpstack::runtime::{
    announce_ready, open_device, DeviceUser, NetOptions, RunControl, Stack, StackConfig,
};
use dpstack::time::MonotonicClock;
use spec::{Accounting, Mode, Range, Rate, Sizes};
use stats::{LatencyHistogram, RxTracker};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use worker::{run_worker, Capture, Live, Plan, Replay, Ticks, WorkerContext, WorkerResult};

/// Packet generator on dpstack's devices.
#[derive(Parser, Debug)]
#[command(name = "dpstack-pktgen", version)]
struct Args {
    #[command(flatten)]
    net: NetOptions,
    /// Traffic kind.
    #[arg(long, value_enum, default_value_t = Mode::Udp)]
    mode: Mode,
    /// Frame size without FCS: N, A,B,C (cycled), A-B (swept) or imix (60/590/1514 at 7:4:1).
    #[arg(long, default_value = "64")]
    size: String,
    /// 0 (unlimited), `<N>pps`, `<N>kpps`, `<N>Mpps`, `<N>Mbps` or `<N>Gbps`, for all lcores together.
    #[arg(long, default_value = "0")]
    rate: String,
    /// What a bit rate counts: l1 (frame + FCS + preamble + gap) or l2 (frame + FCS).
    #[arg(long, value_enum, default_value_t = Accounting::L1)]
    rate_accounting: Accounting,
    /// Frames to send (after warm-up), 0 for no limit.
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Frames per burst (1-512).
    #[arg(long, default_value_t = 32)]
    burst: usize,
    /// Seconds of traffic before counting starts.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Source IPv4 or IPv6 address or range A-B (default: --ip's or
    /// --ip6's address); an IPv6 range varies only in its last 32 bits.
    #[arg(long)]
    src_ip: Option<String>,
    /// Destination IPv4 or IPv6 address or range A-B (IPv6 frames need
    /// --dst-mac).
    #[arg(long)]
    dst_ip: Option<String>,
    /// Source port or range P-Q.
    #[arg(long, default_value = "1024")]
    src_port: String,
    /// Destination port or range P-Q.
    #[arg(long, default_value = "1024")]
    dst_port: String,
    /// Source MAC or range (default: the device's, or --mac).
    #[arg(long)]
    src_mac: Option<String>,
    /// Destination MAC or range; without it, next hops are resolved with ARP (needs --ip).
    #[arg(long)]
    dst_mac: Option<String>,
    /// How flow fields change: incr (odometer over the ranges) or random.
    #[arg(long, value_enum, default_value_t = FlowMode::Incr)]
    flow_mode: FlowMode,
    /// Seed for random flows.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// pcap file to replay (with --mode replay).
    #[arg(long)]
    replay: Option<std::path::PathBuf>,
    /// Times to replay the file (0: until stopped).
    #[arg(long = "loop", default_value_t = 1)]
    loops: u64,
    /// Replay at the file's own timing (original) or at --rate (rate).
    #[arg(long, value_enum, default_value_t = ReplayTiming::Original)]
    replay_timing: ReplayTiming,
    /// Measure latency of probes that come back.
    #[arg(long)]
    latency: bool,
    /// Milliseconds to keep receiving after the last frame is sent.
    #[arg(long, default_value_t = 500)]
    rx_wait_ms: u64,
    /// With --pcap FILE: how many of the first frames sent to capture.
    #[arg(long, default_value_t = 1000)]
    pcap_count: u64,
    /// Only transmit: never poll for received frames (for sinks like
    /// net_null, whose receive side hands back recycled buffers).
    #[arg(long)]
    tx_only: bool,
    /// Only receive: count another generator's frames and measure their
    /// loss (sequence gaps), reordering and (same host) latency, for
    /// --duration or until stopped.
    #[arg(long)]
    rx_only: bool,
    /// Testing: drop this fraction of received frames (seeded fault layer).
    #[arg(long, default_value_t = 0.0)]
    inject_rx_loss: f64,
    /// Stateful modes: concurrent clients (over all lcores).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// --mode http: what to fetch, `http://A.B.C.D[:PORT]/PATH`.
    #[arg(long)]
    url: Option<String>,
    /// --mode tcp-rr: request (and echoed reply) size in bytes.
    #[arg(long, default_value_t = 64)]
    request_size: usize,
    /// Stateful modes: a new connection for every request (default: kept alive).
    #[arg(long)]
    new_conn: bool,
    /// Stateful modes: milliseconds before an unanswered request (or
    /// connect) counts as a timeout.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReplayTiming {
    Original,
    Rate,
}

/// Frames a replay file may hold, and bytes.
const MAX_REPLAY_FRAMES: usize = 10_000_000;
const MAX_REPLAY_BYTES: usize = 1 << 30;
/// Largest rate the tool accepts, frames per second.
const MAX_PPS: f64 = 1e9;

fn load_replay(path: &std::path::Path) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let mut reader =
        PcapReader::open(path).map_err(|e| format!("--replay {}: {e}", path.display()))?;
    let mut frames = Vec::new();
    let mut bytes = 0usize;
    let mut frame = Vec::new();
    while let Some(record) = reader
        .next_into(&mut frame)
        .map_err(|e| format!("--replay {}: {e}", path.display()))?
    {
        if frame.len() < 14 || frame.len() > spec::MAX_FRAME {
            return Err(format!(
                "--replay: frame {} is {} bytes (must be 14..={})",
                frames.len(),
                frame.len(),
                spec::MAX_FRAME
            ));
        }
        bytes += frame.len();
        if frames.len() >= MAX_REPLAY_FRAMES || bytes > MAX_REPLAY_BYTES {
            return Err("--replay: file too large (at most 10 M frames and 1 GiB)".into());
        }
        frames.push((record.timestamp_ns, std::mem::take(&mut frame)));
    }
    if frames.is_empty() {
        return Err("--replay: the file holds no frames".into());
    }
    Ok(frames)
}

/// Checks every flag and builds the plan for the whole run (rates not yet
/// split between workers; destination MACs not yet resolved).
fn plan(args: &Args) -> Result<(Plan, Option<Range<u32>>), String> {
    if args.net.kernel_tap.is_some() {
        return Err("--kernel-tap needs a stack app (dpstack-echo, -httpd, -perf): the generator sends raw frames".into());
    }
    if !(1..=512).contains(&args.burst) {
        return Err(format!("--burst {} is outside 1..=512", args.burst));
    }
    if !(0.0..=1.0).contains(&args.inject_rx_loss) {
        return Err("--inject-rx-loss must be within [0, 1]".into());
    }
    if !args.warmup.is_finite() || args.warmup < 0.0 {
        return Err("--warmup must be a number of seconds >= 0".into());
    }
    let sizes = Sizes::parse(&args.size)?;
    let rate = Rate::parse(&args.rate)?;
    if args.latency && args.tx_only {
        return Err("--latency needs frames back; drop --tx-only".into());
    }
    if args.rx_only {
        let sending_flags = [
            (args.tx_only, "--tx-only"),
            (args.mode == Mode::Replay, "--mode replay"),
            (args.rate != "0", "--rate"),
            (args.count != 0, "--count"),
            (args.dst_ip.is_some(), "--dst-ip"),
            (args.dst_mac.is_some(), "--dst-mac"),
        ];
        if let Some((_, flag)) = sending_flags.iter().find(|(given, _)| *given) {
            return Err(format!("--rx-only sends nothing: {flag} does not apply"));
        }
        if args.latency && args.net.backend != dpstack::runtime::Backend::Dpdk {
            // Other backends time from the process's own start: another
            // process's timestamps mean nothing here.
            return Err(
                "--rx-only --latency needs the dpdk backend (the TSC both generators read)".into(),
            );
        }
    }
    if args.latency && !matches!(args.mode, Mode::Udp | Mode::Icmp) {
        return Err("--latency needs --mode udp or icmp (their probes carry a timestamp)".into());
    }
    let replay = match (args.mode, &args.replay) {
        (Mode::Replay, Some(path)) => {
            if args.replay_timing == ReplayTiming::Original && rate != Rate::Unlimited {
                return Err("--rate with --mode replay needs --replay-timing rate".into());
            }
            Some(Replay {
                frames: load_replay(path)?,
                loops: args.loops,
                original_timing: args.replay_timing == ReplayTiming::Original,
            })
        }
        (Mode::Replay, None) => return Err("--mode replay needs --replay FILE".into()),
        (_, Some(_)) => return Err("--replay FILE needs --mode replay".into()),
        _ => None,
    };
    let (frames_per_sec, bits_per_sec) = match rate {
        Rate::Unlimited => (None, None),
        Rate::Pps(pps) => (Some(pps), None),
        Rate::Bps(bps) => {
            let pps = bps / args.rate_accounting.bits(sizes.mean().round() as usize) as f64;
            if pps < 1.0 {
                return Err(format!(
                    "--rate {} is below one frame per second at these sizes",
                    args.rate
                ));
            }
            (Some(pps), Some(bps))
        }
    };
    if frames_per_sec.is_some_and(|pps| pps > MAX_PPS) {
        return Err(format!(
            "--rate {} is above what can be generated (at most 1 Gpps)",
            args.rate
        ));
    }
    // IPv6 when an address given is: both ends of one family.
    let ipv6 = [&args.src_ip, &args.dst_ip]
        .iter()
        .any(|text| text.as_deref().is_some_and(|t| t.contains(':')));
    let (src_ip, dst_ip, ip6) = if ipv6 {
        ipv6_ranges(args, &sizes)?
    } else {
        let own_ip = args.net.ip.map(|cidr| cidr.addr);
        let src_ip = match (&args.src_ip, own_ip) {
            (Some(text), _) => spec::ip_range(text)?,
            (None, Some(ip)) => Range {
                first: u32::from(ip),
                last: u32::from(ip),
            },
            (None, None) if args.mode == Mode::Replay || args.rx_only => {
                Range { first: 0, last: 0 }
            }
            (None, None) => return Err("give --src-ip or --ip".into()),
        };
        let dst_ip = match (&args.dst_ip, args.mode) {
            (Some(text), _) => spec::ip_range(text)?,
            (None, Mode::Replay) => Range { first: 0, last: 0 },
            (None, _) if args.rx_only => Range { first: 0, last: 0 },
            (None, _) => return Err("--dst-ip is required".into()),
        };
        (src_ip, dst_ip, None)
    };
    let dst_mac = match &args.dst_mac {
        Some(text) => DstMacs::Range(spec::mac_range(text)?),
        None if args.mode == Mode::Replay || args.rx_only => DstMacs::Resolved(HashMap::new()),
        None if ipv6 => {
            return Err("IPv6 frames need --dst-mac (next hops are resolved with ARP only)".into())
        }
        None if args.net.ip.is_none() => {
            return Err("give --dst-mac, or --ip so that ARP can resolve it".into())
        }
        None if dst_ip.len() > 256 => {
            return Err("ARP resolves at most 256 destinations; give --dst-mac".into())
        }
        None => DstMacs::Resolved(HashMap::new()),
    };
    let to_resolve = matches!(dst_mac, DstMacs::Resolved(_))
        .then_some(dst_ip)
        .filter(|_| args.mode != Mode::Replay && !args.rx_only);
    let src_mac = match &args.src_mac {
        Some(text) => spec::mac_range(text)?,
        None => Range { first: 0, last: 0 },
    };
    let flows = FlowSpec {
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        src_port: spec::port_range(&args.src_port)?,
        dst_port: spec::port_range(&args.dst_port)?,
        mode: args.flow_mode,
        ip6,
    };
    Ok((
        Plan {
            mode: args.mode,
            sizes,
            frames_per_sec,
            bits_per_sec,
            accounting: args.rate_accounting,
            count: args.count,
            duration: args.net.run_for().map(|d| d.as_secs_f64()),
            warmup: args.warmup,
            burst: args.burst,
            latency: args.latency,
            rx_wait: if args.tx_only {
                0.0
            } else {
                args.rx_wait_ms as f64 / 1e3
            },
            receive: !args.tx_only,
            transmit: !args.rx_only,
            flows,
            seed: args.seed,
            replay,
        },
        to_resolve,
    ))
}

/// Source and destination address ranges (for IPv6, of the last 32 bits)
/// and, for IPv6, the addresses' first 96 bits.
type AddressRanges = (Range<u32>, Range<u32>, Option<builder::Ip6Prefixes>);

/// The IPv6 source and destination ranges (their last 32 bits) and the
/// addresses' shared first 96 bits, checked: the source is `--src-ip` or
/// `--ip6`'s address, both IPv6, and every frame size leaves room for the
/// mode's headers after IPv6's 40 bytes.
fn ipv6_ranges(args: &Args, sizes: &Sizes) -> Result<AddressRanges, String> {
    let name = match args.mode {
        Mode::Udp => "udp",
        Mode::TcpSyn => "tcp-syn",
        Mode::Icmp => "icmp",
        // Replay sends recorded frames; the stateful modes take one address.
        _ => return Err("IPv6 ranges are for --mode udp, tcp-syn and icmp".into()),
    };
    let dst = args.dst_ip.as_deref().ok_or("--dst-ip is required")?;
    let (dst_prefix, dst_ip) =
        spec::ip6_range(dst).map_err(|e| format!("--dst-ip: {e} (both ends must be IPv6)"))?;
    let (src_prefix, src_ip) = match (&args.src_ip, args.net.ip6) {
        (Some(text), _) => {
            spec::ip6_range(text).map_err(|e| format!("--src-ip: {e} (both ends must be IPv6)"))?
        }
        (None, Some(cidr)) => spec::ip6_range(&cidr.addr.to_string())?,
        (None, None) => return Err("IPv6 frames need --src-ip or --ip6".into()),
    };
    let smallest = match args.mode {
        Mode::TcpSyn => 14 + 40 + 20,
        Mode::Icmp => 14 + 40 + 24,
        _ => spec::MIN_FRAME6_UDP,
    };
    if sizes.min() < smallest {
        return Err(format!(
            "IPv6 {name} frames need --size of at least {smallest} bytes"
        ));
    }
    let prefixes = builder::Ip6Prefixes {
        src: src_prefix,
        dst: dst_prefix,
    };
    Ok((src_ip, dst_ip, Some(prefixes)))
}

/// Fills in the source MAC (if not given) and the destination MACs (by ARP
/// through a short-lived stack on the device) before traffic starts.
fn prepare<D: Device>(
    device: D,
    args: &Args,
    plan: &mut Plan,
    to_resolve: Option<Range<u32>>,
) -> Result<D, String> {
    if args.src_mac.is_none() {
        let mac = args.net.mac.unwrap_or(device.capabilities().mac);
        let value = mac.0.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        plan.flows.src_mac = Range {
            first: value,
            last: value,
        };
    }
    let Some(range) = to_resolve else {
        return Ok(device);
    };
    let ip = args.net.ip.ok_or("--ip is needed for ARP")?;
    let mut config = StackConfig::new(ip);
    config.gateway = args.net.gateway;
    config.mac = args.net.mac;
    config.seed = Some(args.seed);
    let mut stack = Stack::new(device, MonotonicClock::new(), config);
    let mut table = HashMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(3500);
    for value in range.first..=range.last {
        let dst = Ipv4Addr::from(value);
        loop {
            match stack.resolve(dst) {
                Ok(Some(mac)) => {
                    table.insert(value, mac);
                    break;
                }
                Ok(None) if std::time::Instant::now() < deadline => {
                    stack.poll();
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                Ok(None) => return Err(format!("ARP: no answer for {dst} (give --dst-mac)")),
                Err(no_route) => {
                    return Err(format!("{dst}: {no_route} (give --gateway or --dst-mac)"))
                }
            }
        }
    }
    plan.flows.dst_mac = DstMacs::Resolved(table);
    Ok(stack.into_device())
}

fn open_capture(args: &Args) -> Result<Option<Capture>, String> {
    args.net
        .pcap
        .as_ref()
        .map(|path| {
            PcapWriter::create(path)
                .map(|writer| Capture {
                    writer,
                    remaining: args.pcap_count,
                })
                .map_err(|e| format!("--pcap {}: {e}", path.display()))
        })
        .transpose()
}

/// Runs one worker, with the receive-side fault layer when asked.
fn run_one<D: Device>(
    device: D,
    args: &Args,
    ctx: &WorkerContext<'_>,
    capture: Option<&mut Capture>,
) -> WorkerResult {
    if args.inject_rx_loss > 0.0 {
        let config = FaultConfig {
            seed: args.seed.wrapping_add(ctx.index as u64),
            rx: FaultProfile {
                loss: args.inject_rx_loss,
                ..FaultProfile::default()
            },
            tx: FaultProfile::default(),
        };
        match FaultDevice::new(device, config) {
            Ok(mut faulty) => run_worker(&mut faulty, ctx, capture),
            Err(_) => WorkerResult::default(),
        }
    } else {
        let mut device = device;
        run_worker(&mut device, ctx, capture)
    }
}

/// One worker on a non-DPDK device (TAP, pcap).
struct SingleQueue<'a> {
    args: &'a Args,
    plan: Plan,
    to_resolve: Option<Range<u32>>,
    control: RunControl,
}

impl DeviceUser for SingleQueue<'_> {
    type Output = Result<Outcome, String>;

    fn run<D: Device>(self, device: D) -> Self::Output {
        let SingleQueue {
            args,
            mut plan,
            to_resolve,
            control,
        } = self;
        let mtu = device.capabilities().mtu;
        if plan.replay.is_none() && plan.sizes.max() > mtu + 14 {
            return Err(format!(
                "frames of {} bytes exceed the device's MTU of {mtu}",
                plan.sizes.max()
            ));
        }
        announce_ready(&args.net, &device.capabilities());
        let device = prepare(device, args, &mut plan, to_resolve)?;
        let name = device.capabilities().name;
        let mut capture = open_capture(args)?;
        let ticks = Ticks::Monotonic(std::time::Instant::now());
        let live = Live::new(1);
        let ctx = WorkerContext {
            plan: &plan,
            index: 0,
            workers: 1,
            ticks: &ticks,
            control: &control,
            live: &live,
        };
        let result = run_one(device, args, &ctx, capture.as_mut());
        if let Some(capture) = capture.as_mut() {
            capture.writer.flush().map_err(|e| format!("--pcap: {e}"))?;
        }
        Ok(Outcome {
            flows: FlowWalker::flow_count(&plan.flows),
            results: vec![result],
            device: name,
            nanos_per_tick: 1e9 / ticks.hz() as f64,
        })
    }
}

/// What a run produced, for the summary.
struct Outcome {
    flows: u64,
    results: Vec<WorkerResult>,
    device: String,
    /// Nanoseconds per tick of the workers' time source (the unit of
    /// their probe latencies).
    nanos_per_tick: f64,
}

/// One worker per EAL lcore, each on its own queue pair of the port.
#[cfg(feature = "dpdk")]
fn run_dpdk(
    args: &Args,
    mut plan: Plan,
    to_resolve: Option<Range<u32>>,
    control: &RunControl,
) -> Result<Outcome, String> {
    use dpstack::device::dpdk::DpdkDevice;

    let max_frame = match &plan.replay {
        Some(replay) => replay
            .frames
            .iter()
            .map(|(_, f)| f.len())
            .max()
            .unwrap_or(spec::MIN_FRAME),
        None => plan.sizes.max(),
    };
    let eal =
        dpstack::dpdk::Eal::init(&args.net.eal_args()).map_err(|e| format!("dpdk backend: {e}"))?;
    let lcores = eal.lcores().len();
    // Rates are given for the whole run and paced per worker.
    plan.frames_per_sec = plan.frames_per_sec.map(|r| r / lcores as f64);
    plan.bits_per_sec = plan.bits_per_sec.map(|r| r / lcores as f64);
    let port = dpstack::runtime::start_dpdk_port(&eal, &args.net, lcores as u16, max_frame, 0)
        .map_err(|e| e.to_string())?;
    let device = DpdkDevice::new(&port, 0).map_err(|e| e.to_string())?;
    announce_ready(&args.net, &device.capabilities());
    let device = prepare(device, args, &mut plan, to_resolve)?;
    let name = device.capabilities().name;
    drop(device);
    let capture = std::sync::Mutex::new(open_capture(args)?);
    let ticks = Ticks::Tsc(eal.clone(), eal.tsc_hz());
    let live = Live::new(lcores);
    let results = eal
        .run_on_lcores(|index, _lcore| {
            let ctx = WorkerContext {
                plan: &plan,
                index,
                workers: lcores,
                ticks: &ticks,
                control,
                live: &live,
            };
            match DpdkDevice::new(&port, index as u16) {
                Ok(device) if index == 0 => {
                    let mut guard = capture.lock().ok();
                    let capture = guard.as_mut().and_then(|c| c.as_mut());
                    run_one(device, args, &ctx, capture)
                }
                Ok(device) => run_one(device, args, &ctx, None),
                Err(_) => WorkerResult::default(),
            }
        })
        .map_err(|e| e.to_string())?;
    if let Ok(Some(capture)) = capture.into_inner().as_mut().map(Option::as_mut) {
        capture.writer.flush().map_err(|e| format!("--pcap: {e}"))?;
    }
    Ok(Outcome {
        flows: FlowWalker::flow_count(&plan.flows),
        results,
        device: name,
        nanos_per_tick: 1e9 / ticks.hz() as f64,
    })
}

fn summarise(args: &Args, outcome: &Outcome) {
    let Outcome {
        flows,
        results,
        device,
        nanos_per_tick,
    } = outcome;
    let mut tracker = RxTracker::default();
    let mut latency = LatencyHistogram::default();
    let (mut tx_packets, mut tx_bytes, mut tx_bits, mut rx_packets, mut rx_bytes, mut no_buffer) =
        (0, 0, 0, 0, 0, 0);
    let mut send_nanos = 0u64;
    let mut unsent = 0u64;
    for r in results {
        tracker.merge(&r.tracker);
        latency.merge(&r.latency);
        tx_packets += r.tx_packets;
        tx_bytes += r.tx_bytes;
        tx_bits += r.tx_bits;
        rx_packets += r.rx_packets;
        rx_bytes += r.rx_bytes;
        no_buffer += r.alloc_failures;
        unsent += r.unsent;
        send_nanos = send_nanos.max(r.send_nanos);
    }
    let secs = send_nanos as f64 / 1e9;
    let per_sec = |v: u64| if secs > 0.0 { v as f64 / secs } else { 0.0 };
    let lost = tx_packets.saturating_sub(tracker.matched);
    let tick_us = nanos_per_tick / 1e3;
    let ticks_us = |ticks: u64| ticks as f64 * tick_us;
    let mut summary = serde_json::json!({
        "device": device,
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "lcores": results.len(),
        "flows": flows,
        "seconds": secs,
        "tx_packets": tx_packets,
        "tx_bytes": tx_bytes,
        "tx_pps": per_sec(tx_packets),
        "tx_gbps": per_sec(tx_bits) / 1e9,
        "gbps_accounting": format!("{:?}", args.rate_accounting).to_lowercase(),
        "tx_no_buffer": no_buffer,
        "tx_unsent": unsent,
        "rx_packets": rx_packets,
        "rx_bytes": rx_bytes,
        "rx_pps": per_sec(rx_packets),
        "rx_probes": tracker.matched,
        "lost": if args.tx_only {
            serde_json::Value::Null
        } else if args.rx_only {
            tracker.gaps().into()
        } else {
            lost.into()
        },
        "reordered": tracker.reordered,
    });
    if results.len() > 1 {
        // Each lcore's own share, beside the totals.
        summary["cores"] = results
            .iter()
            .map(|r| {
                let secs = r.send_nanos as f64 / 1e9;
                serde_json::json!({
                    "seconds": secs,
                    "tx_packets": r.tx_packets,
                    "tx_bytes": r.tx_bytes,
                    "tx_pps": if secs > 0.0 { r.tx_packets as f64 / secs } else { 0.0 },
                    "tx_no_buffer": r.alloc_failures,
                    "rx_packets": r.rx_packets,
                    "rx_bytes": r.rx_bytes,
                })
            })
            .collect();
    }
    if args.latency && latency.count() > 0 {
        summary["latency_us"] = serde_json::json!({
            "samples": latency.count(),
            "min": ticks_us(latency.min()),
            "avg": latency.mean() * tick_us,
            "p50": ticks_us(latency.quantile(0.5)),
            "p99": ticks_us(latency.quantile(0.99)),
            "p999": ticks_us(latency.quantile(0.999)),
            "max": ticks_us(latency.max()),
        });
    }
    print_summary_line(args.net.json, summary);
}

/// Parses `http://A.B.C.D[:PORT][/PATH]` or `http://[IPV6][:PORT][/PATH]`
/// into the server and the path.
fn parse_url(url: &str) -> Result<(std::net::SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--url {url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // An IPv6 host is bracketed (RFC 3986 3.2.2): its colons are not the port's.
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("--url {url}: '[' without ']'"))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(port) => port
            .parse::<u16>()
            .map_err(|_| format!("--url {url}: bad port '{port}'"))?,
        None => 80,
    };
    let ip: std::net::IpAddr = host.parse().map_err(|_| {
        format!("--url {url}: the host must be an IPv4 or [IPv6] address (no DNS here)")
    })?;
    if port == 0 {
        return Err(format!("--url {url}: port 0"));
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(format!(
            "--url {url}: the path holds spaces or control characters"
        ));
    }
    Ok((std::net::SocketAddr::new(ip, port), path.to_string()))
}

/// The stateful load's options from the flags; flags of the stateless
/// generator are refused rather than ignored.
fn load_options(args: &Args) -> Result<stateful::LoadOptions, String> {
    let stateless_only = [
        (args.rate != "0", "--rate"),
        (args.count != 0, "--count"),
        (args.tx_only, "--tx-only"),
        (args.latency, "--latency (always measured here)"),
        (args.replay.is_some(), "--replay"),
        (args.warmup != 0.0, "--warmup"),
        (args.inject_rx_loss != 0.0, "--inject-rx-loss"),
        (args.size != "64", "--size"),
        (
            args.dst_mac.is_some(),
            "--dst-mac (next hops are resolved by ARP)",
        ),
    ];
    if let Some((_, flag)) = stateless_only.iter().find(|(given, _)| *given) {
        return Err(format!("{flag} does not apply to --mode {:?}", args.mode).to_lowercase());
    }
    if args.clients == 0 || args.clients > 1_000_000 {
        return Err(format!("--clients {} is outside 1..=1000000", args.clients));
    }
    if args.timeout_ms == 0 {
        return Err("--timeout-ms must be at least 1".into());
    }
    if args.net.duration <= 0.0 {
        return Err("stateful modes need --duration SECONDS".into());
    }
    if args.net.ip.is_none() {
        return Err("stateful modes need --ip (the stack's own address)".into());
    }
    let (server, request) = match args.mode {
        Mode::Http => {
            let url = args
                .url
                .as_deref()
                .ok_or("--mode http needs --url http://A.B.C.D[:PORT]/PATH")?;
            let (server, path) = parse_url(url)?;
            let bytes = stateful::LoadOptions::http_request(server, &path, args.new_conn);
            (server, stateful::Request::Http { bytes })
        }
        _ => {
            if args.url.is_some() {
                return Err(
                    "--url is for --mode http; tcp-rr takes --dst-ip and --dst-port".into(),
                );
            }
            let ip: std::net::IpAddr = args
                .dst_ip
                .as_deref()
                .ok_or("--mode tcp-rr needs --dst-ip")?
                .parse()
                .map_err(|_| {
                    "--mode tcp-rr: --dst-ip must be one IPv4 or IPv6 address".to_string()
                })?;
            let port: u16 = args
                .dst_port
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("--mode tcp-rr: --dst-port must be one port (1-65535)")?;
            if !(1..=1 << 20).contains(&args.request_size) {
                return Err(format!(
                    "--request-size {} is outside 1..=1048576",
                    args.request_size
                ));
            }
            (
                std::net::SocketAddr::new(ip, port),
                stateful::Request::Echo {
                    size: args.request_size,
                },
            )
        }
    };
    Ok(stateful::LoadOptions {
        server,
        request,
        clients: args.clients,
        new_connection: args.new_conn,
        timeout: std::time::Duration::from_millis(args.timeout_ms),
    })
}

/// `--mode http` and `--mode tcp-rr`: one stack per lcore, the summary at
/// the end; failed requests make the exit code a failure.
fn run_stateful(args: &Args) -> ExitCode {
    let options = match load_options(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("dpstack-pktgen: {message}");
            return ExitCode::FAILURE;
        }
    };
    let json = args.net.json;
    dpstack::runtime::run_cores_app(
        "dpstack-pktgen",
        &args.net,
        |_| stateful::Load::new(args.net.clone(), options),
        |load, cores| {
            let (summary, failed) = load.summary(&cores);
            print_summary_line(json, summary);
            let requests: u64 = cores.iter().map(|c| c.requests).sum();
            if failed > 0 {
                Err(format!("{failed} request(s) failed: see errors_by_kind"))
            } else if requests == 0 {
                Err("no request was answered".into())
            } else {
                Ok(())
            }
        },
    )
}

/// Prints the summary as one JSON line, or as `key=value` pairs.
fn print_summary_line(json: bool, summary: serde_json::Value) {
    if json {
        println!("{summary}");
    } else if let serde_json::Value::Object(fields) = summary {
        let line: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("dpstack-pktgen: {}", line.join(" "));
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.mode.is_stateful() {
        return run_stateful(&args);
    }
    let control = match RunControl::install(None) {
        Ok(control) => control,
        Err(e) => {
            eprintln!("dpstack-pktgen: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Every flag is checked before any device or file is opened.
    let outcome = plan(&args).and_then(|(plan, to_resolve)| match args.net.backend {
        #[cfg(feature = "dpdk")]
        Backend::Dpdk => run_dpdk(&args, plan, to_resolve, &control),
        _ => {
            // --pcap here means "capture the first frames sent", so the
            // device is opened without the all-traffic recorder.
            let mut net = args.net.clone();
            net.pcap = None;
            let single = SingleQueue {
                args: &args,
                plan,
                to_resolve,
                control: control.clone(),
            };
            open_device(&net, single)
                .map_err(|e| e.to_string())
                .and_then(|r| r)
        }
    });
    match outcome {
        Ok(outcome) => {
            summarise(&args, &outcome);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("dpstack-pktgen: {message}");
            ExitCode::FAILURE
        }
    }
}
