//! The table and the JSON: medians of the runs with min-max, wall-clock
//! rates, latency, and how dpstack compares with each contender.

use crate::measure::{median, Sample};
use serde_json::{json, Value};
use std::time::Duration;

/// What a scenario's work is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Requests,
    Connections,
    /// Shown as CPU nanoseconds per packet.
    Packets,
    /// A size, not a rate: `Sample::work` is bytes per connection.
    BytesPerConnection,
    /// Frames generated.
    Frames,
    /// A count, not a rate: `Sample::work` is connections held at once.
    ConnectionsHeld,
    /// Requests per CPU-second of the server alone (`Sample::cpu` is the
    /// server's).
    ServerRequests,
}

impl Unit {
    fn label(self) -> &'static str {
        match self {
            Unit::Bytes => "GB per CPU-s",
            Unit::Requests => "requests per CPU-s",
            Unit::Connections => "connections per CPU-s",
            Unit::Packets => "CPU ns per packet",
            Unit::BytesPerConnection => "bytes per connection",
            Unit::Frames => "frames per CPU-s",
            Unit::ConnectionsHeld => "connections held",
            Unit::ServerRequests => "requests per server CPU-s",
        }
    }

    /// The figure shown for a sample (per CPU-second, or a size).
    fn figure(self, sample: &Sample) -> f64 {
        match self {
            Unit::Bytes => sample.per_cpu() / 1e9,
            Unit::Packets => 1e9 / sample.per_cpu(),
            Unit::BytesPerConnection | Unit::ConnectionsHeld => sample.work,
            _ => sample.per_cpu(),
        }
    }

    /// The wall-clock figure shown next to it.
    fn wall(self, sample: &Sample) -> Option<f64> {
        match self {
            Unit::Bytes => Some(sample.per_wall() * 8.0 / 1e9),
            Unit::Requests | Unit::ServerRequests | Unit::Connections => Some(sample.per_wall()),
            Unit::Packets | Unit::Frames => Some(sample.per_wall()),
            Unit::BytesPerConnection | Unit::ConnectionsHeld => None,
        }
    }

    fn wall_label(self) -> &'static str {
        match self {
            Unit::Bytes => "Gbit/s",
            Unit::Requests | Unit::ServerRequests => "requests/s",
            Unit::Connections => "connections/s",
            Unit::Packets => "packets/s",
            Unit::Frames => "frames/s",
            Unit::BytesPerConnection | Unit::ConnectionsHeld => "",
        }
    }

    /// True when a smaller figure is better.
    fn lower_is_better(self) -> bool {
        matches!(self, Unit::Packets | Unit::BytesPerConnection)
    }
}

/// One contender in one scenario.
pub struct Row {
    pub scenario: String,
    pub contender: String,
    pub unit: Unit,
    pub samples: Vec<Sample>,
}

impl Row {
    pub fn new(scenario: &str, contender: &str, unit: Unit, samples: Vec<Sample>) -> Row {
        Row {
            scenario: scenario.to_string(),
            contender: contender.to_string(),
            unit,
            samples,
        }
    }

    /// (median, min, max) of the figure.
    pub fn figure(&self) -> Option<(f64, f64, f64)> {
        (!self.samples.is_empty())
            .then(|| median(self.samples.iter().map(|s| self.unit.figure(s)).collect()))
    }

    fn wall(&self) -> Option<f64> {
        let values: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| self.unit.wall(s))
            .collect();
        (!values.is_empty()).then(|| median(values).0)
    }

    fn latency(&self) -> Option<(f64, f64)> {
        let p50: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.latency_us.map(|l| l.0))
            .collect();
        let p99: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.latency_us.map(|l| l.1))
            .collect();
        (!p50.is_empty()).then(|| (median(p50).0, median(p99).0))
    }
}

/// dpstack's advantage over `row` (above 1: dpstack better), against the
/// dpstack row of the same scenario.
fn advantage(rows: &[Row], row: &Row) -> Option<f64> {
    if row.contender.starts_with("dpstack") {
        return None;
    }
    let ours = rows
        .iter()
        .find(|r| r.scenario == row.scenario && r.contender.starts_with("dpstack"))?;
    let (ours, theirs) = (ours.figure()?.0, row.figure()?.0);
    Some(if row.unit.lower_is_better() {
        theirs / ours
    } else {
        ours / theirs
    })
}

fn format_figure(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// The table, as Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | contender | per CPU-second (median, min-max) | wall clock | p50 / p99 µs | dpstack's advantage |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let figure = match row.figure() {
            Some((m, lo, hi)) => format!(
                "{} ({}-{}) {}",
                format_figure(m),
                format_figure(lo),
                format_figure(hi),
                row.unit.label()
            ),
            None => "not run here".to_string(),
        };
        let wall = row.wall().map_or(String::new(), |w| {
            format!("{} {}", format_figure(w), row.unit.wall_label())
        });
        let latency = row
            .latency()
            .map_or(String::new(), |(p50, p99)| format!("{p50:.1} / {p99:.1}"));
        let ratio = advantage(rows, row).map_or(String::new(), |r| format!("{r:.2}x"));
        out.push_str(&format!(
            "| {} | {} | {figure} | {wall} | {latency} | {ratio} |\n",
            row.scenario, row.contender
        ));
    }
    out
}

/// Everything in the table, for machines.
pub fn json(rows: &[Row], runs: usize, elapsed: Duration) -> Value {
    let results: Vec<Value> = rows
        .iter()
        .map(|row| {
            let figure = row.figure();
            json!({
                "scenario": row.scenario,
                "contender": row.contender,
                "unit": row.unit.label(),
                "median": figure.map(|f| f.0),
                "min": figure.map(|f| f.1),
                "max": figure.map(|f| f.2),
                "wall": row.wall(),
                "wall_unit": row.unit.wall_label(),
                "latency_p50_us": row.latency().map(|l| l.0),
                "latency_p99_us": row.latency().map(|l| l.1),
                "dpstack_advantage": advantage(rows, row),
                "samples": row.samples.iter().map(|s| json!({
                    "work": s.work, "wall_s": s.wall, "cpu_s": s.cpu,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "runs": runs,
        "seconds": elapsed.as_secs_f64(),
        "results": results,
    })
}
