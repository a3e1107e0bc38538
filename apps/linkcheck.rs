//! dpstack-linkcheck: exercises a device at the link layer, with no protocol
//! stack: counts received frames by EtherType and sends numbered probe frames
//! (broadcast, EtherType 0x88B5, IEEE "local experimental"), then prints the
//! device's counters. Use it to check that a port, vdev or TAP passes frames
//! both ways before running a stack on it.

use clap::Parser;
use dpstack::buf::PacketBuf;
use dpstack::device::{Device, MAX_BURST};
use dpstack::runtime::{announce_ready, run_app, DeviceUser, NetOptions, RunControl};
use dpstack::time::{Clock, MonotonicClock};
use dpstack::wire::MacAddr;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

/// EtherType of the probe frames dpstack-linkcheck sends.
const PROBE_ETHERTYPE: u16 = 0x88b5;
const PROBE_MAGIC: &[u8; 8] = b"dpstack!";
const PROBE_LEN: usize = 60;

/// Link-level check of a dpstack device: receive, count, send probes, report.
#[derive(Parser, Debug)]
#[command(name = "dpstack-linkcheck", version)]
struct Args {
    #[command(flatten)]
    net: NetOptions,
    /// Probe frames to send (0: receive only).
    #[arg(long, default_value_t = 0)]
    send: u64,
    /// Milliseconds between probe frames.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// Exit once every probe is sent and this many frames were received (0: run for --duration).
    #[arg(long, default_value_t = 0)]
    until_received: u64,
}

#[derive(Default)]
struct Counts {
    by_ethertype: BTreeMap<u16, u64>,
    probes_sent: u64,
    probes_refused: u64,
    probes_received: u64,
}

struct LinkCheck<'a> {
    args: &'a Args,
    control: RunControl,
}

impl DeviceUser for LinkCheck<'_> {
    type Output = Result<(), String>;

    fn run<D: Device>(self, mut device: D) -> Result<(), String> {
        let caps = device.capabilities();
        let mac = self.args.net.mac.unwrap_or(caps.mac);
        announce_ready(&self.args.net, &caps);
        let clock = MonotonicClock::new();
        let mut counts = Counts::default();
        let mut rx = Vec::with_capacity(MAX_BURST);
        let mut tx = Vec::with_capacity(1);
        let interval = Duration::from_millis(self.args.interval_ms);
        let mut next_probe = std::time::Instant::now();
        let mut received = 0u64;
        while self.control.keep_running() {
            let now = clock.now();
            rx.clear();
            let got = device.receive(now, &mut rx, MAX_BURST);
            for frame in &rx {
                count_frame(frame.data(), &mut counts);
            }
            received += got as u64;
            let all_sent = counts.probes_sent + counts.probes_refused >= self.args.send;
            if !all_sent && std::time::Instant::now() >= next_probe {
                next_probe += interval;
                match device.alloc_tx(PROBE_LEN) {
                    Some(mut frame) => {
                        write_probe(
                            frame.data_mut(),
                            mac,
                            counts.probes_sent + counts.probes_refused,
                        );
                        tx.push(frame);
                        if device.transmit(now, &mut tx) == 1 {
                            counts.probes_sent += 1;
                        } else {
                            counts.probes_refused += 1;
                            tx.clear();
                        }
                    }
                    None => counts.probes_refused += 1,
                }
            }
            if all_sent && self.args.until_received > 0 && received >= self.args.until_received {
                break;
            }
            if got == 0 {
                // Nothing arrived: yield the core briefly rather than spin,
                // since this tool measures correctness, not speed.
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        print_summary(&self.args.net, &device, &counts);
        Ok(())
    }
}

fn count_frame(frame: &[u8], counts: &mut Counts) {
    let Some(ethertype) = frame.get(12..14) else {
        return;
    };
    let ethertype = u16::from_be_bytes([ethertype[0], ethertype[1]]);
    *counts.by_ethertype.entry(ethertype).or_default() += 1;
    if ethertype == PROBE_ETHERTYPE && frame.get(14..22) == Some(&PROBE_MAGIC[..]) {
        counts.probes_received += 1;
    }
}

fn write_probe(frame: &mut [u8], source: MacAddr, sequence: u64) {
    frame.fill(0);
    frame[0..6].copy_from_slice(&MacAddr::BROADCAST.0);
    frame[6..12].copy_from_slice(&source.0);
    frame[12..14].copy_from_slice(&PROBE_ETHERTYPE.to_be_bytes());
    frame[14..22].copy_from_slice(PROBE_MAGIC);
    frame[22..30].copy_from_slice(&sequence.to_be_bytes());
}

fn print_summary<D: Device>(net: &NetOptions, device: &D, counts: &Counts) {
    let stats = device.stats();
    let extended = device.extended_stats();
    if net.json {
        let mut summary = serde_json::Map::new();
        summary.insert("device".into(), device.capabilities().name.into());
        for (name, value) in stats.fields() {
            summary.insert(name.into(), value.into());
        }
        for (name, value) in &extended {
            summary.insert(name.clone(), (*value).into());
        }
        summary.insert("probes_sent".into(), counts.probes_sent.into());
        summary.insert("probes_refused".into(), counts.probes_refused.into());
        summary.insert("probes_received".into(), counts.probes_received.into());
        let by_type: serde_json::Map<_, _> = counts
            .by_ethertype
            .iter()
            .map(|(t, n)| (format!("0x{t:04x}"), (*n).into()))
            .collect();
        summary.insert("rx_by_ethertype".into(), by_type.into());
        println!("{}", serde_json::Value::Object(summary));
    } else {
        let mut line = format!("dpstack-linkcheck: {}", device.capabilities().name);
        for (name, value) in stats.fields() {
            line.push_str(&format!(" {name}={value}"));
        }
        for (name, value) in &extended {
            line.push_str(&format!(" {name}={value}"));
        }
        line.push_str(&format!(
            " probes_sent={} probes_refused={} probes_received={}",
            counts.probes_sent, counts.probes_refused, counts.probes_received
        ));
        for (t, n) in &counts.by_ethertype {
            line.push_str(&format!(" rx_0x{t:04x}={n}"));
        }
        println!("{line}");
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_app("dpstack-linkcheck", &args.net, |control| LinkCheck {
        args: &args,
        control,
    })
}
