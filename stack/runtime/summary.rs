//! The one-line summary every app prints on exit: its own figures, then
//! every non-zero stack counter; with `--json`, one JSON object instead.

use crate::stats::StackStats;

/// Prints `<name>: k=v ... layer.counter=v ...`, or with `json` one object
/// holding the stack's counters and the app's `figures`.
pub fn print_summary(name: &str, json: bool, stats: &StackStats, figures: &[(&str, SummaryValue)]) {
    if json {
        println!("{}", summary_json(stats, figures));
    } else {
        println!("{}", summary_line(name, stats, figures));
    }
}

/// One core's part of an app's summary: its stack's counters and the
/// app's own figures on that core.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreSummary {
    /// The core's stack counters.
    pub stats: StackStats,
    /// The app's figures on this core.
    pub figures: Vec<(&'static str, SummaryValue)>,
}

impl CoreSummary {
    /// A core's summary whose figures are counts: `names[i]` is `counts[i]`.
    pub fn of_counts(stats: StackStats, names: &[&'static str], counts: &[u64]) -> Self {
        CoreSummary {
            stats,
            figures: names
                .iter()
                .zip(counts)
                .map(|(&name, &n)| (name, SummaryValue::Count(n)))
                .collect(),
        }
    }
}

/// Prints the summary of a run on several cores: with one core exactly
/// [`print_summary`]'s line; with more, a line per core (`<name> core K:
/// ...`) and then the total line (`totals` and every counter summed over
/// the cores), or with `json` one object of the totals holding a `cores`
/// array of per-core objects.
pub fn print_cores_summary(
    name: &str,
    json: bool,
    totals: &[(&str, SummaryValue)],
    cores: &[CoreSummary],
) {
    let mut total = StackStats::default();
    for core in cores {
        total.add(&core.stats);
    }
    if cores.len() <= 1 {
        print_summary(name, json, &total, totals);
        return;
    }
    if json {
        let mut summary = summary_json(&total, totals);
        summary["cores"] = cores
            .iter()
            .map(|core| summary_json(&core.stats, &core.figures))
            .collect();
        println!("{summary}");
        return;
    }
    for (index, core) in cores.iter().enumerate() {
        println!(
            "{}",
            summary_line(&format!("{name} core {index}"), &core.stats, &core.figures)
        );
    }
    println!("{}", summary_line(name, &total, totals));
}

fn summary_json(stats: &StackStats, figures: &[(&str, SummaryValue)]) -> serde_json::Value {
    let mut summary = stats.to_json();
    for (key, value) in figures {
        summary[*key] = match value {
            SummaryValue::Count(n) => (*n).into(),
            SummaryValue::Real(x) => (*x).into(),
            SummaryValue::Text(s) => s.clone().into(),
        };
    }
    summary
}

fn summary_line(name: &str, stats: &StackStats, figures: &[(&str, SummaryValue)]) -> String {
    let mut line = format!("{name}:");
    for (key, value) in figures {
        match value {
            SummaryValue::Count(n) => line.push_str(&format!(" {key}={n}")),
            SummaryValue::Real(x) => line.push_str(&format!(" {key}={x:.3}")),
            SummaryValue::Text(s) => line.push_str(&format!(" {key}={s}")),
        }
    }
    for (layer, fields) in stats.layers() {
        for (counter, value) in fields.into_iter().filter(|(_, v)| *v != 0) {
            line.push_str(&format!(" {layer}.{counter}={value}"));
        }
    }
    line
}

/// The sum over `cores` of each `Count` figure named in `names`, in that
/// order: the totals of figures that add up across cores.
pub fn summed_counts(
    cores: &[CoreSummary],
    names: &[&'static str],
) -> Vec<(&'static str, SummaryValue)> {
    names
        .iter()
        .map(|&name| {
            let sum = cores
                .iter()
                .flat_map(|core| &core.figures)
                .filter(|(key, _)| *key == name)
                .map(|(_, value)| match value {
                    SummaryValue::Count(n) => *n,
                    _ => 0,
                })
                .sum();
            (name, SummaryValue::Count(sum))
        })
        .collect()
}

/// One figure of an app's summary.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryValue {
    /// A count.
    Count(u64),
    /// A measurement (seconds, Gbit/s).
    Real(f64),
    /// A string (a hash, a state).
    Text(String),
}

/// The byte at offset `i` of every app's test stream (`/bytes/N`,
/// `dpstack-perf`): `((i * 2654435761) >> 24) & 0xff` in u64 arithmetic.
pub fn pattern_byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 24) as u8
}

/// Fills `out` with the pattern starting at stream offset `start`.
pub fn fill_pattern(start: u64, out: &mut [u8]) {
    for (k, byte) in out.iter_mut().enumerate() {
        *byte = pattern_byte(start + k as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_totals_add_the_named_counts() {
        let core = |n| CoreSummary {
            stats: StackStats::default(),
            figures: vec![
                ("accepted", SummaryValue::Count(n)),
                ("seconds", SummaryValue::Real(1.0)),
            ],
        };
        let totals = summed_counts(&[core(3), core(4)], &["accepted", "missing"]);
        assert_eq!(
            totals,
            [
                ("accepted", SummaryValue::Count(7)),
                ("missing", SummaryValue::Count(0))
            ]
        );
        let json = summary_json(&StackStats::default(), &totals);
        assert_eq!(json["accepted"], 7);
        assert!(summary_line("app", &StackStats::default(), &totals).starts_with("app: accepted=7"));
    }

    #[test]
    fn pattern_matches_the_cli_contract() {
        // ((i * 2654435761) >> 24) & 0xff for the first offsets, by hand.
        assert_eq!(pattern_byte(0), 0);
        assert_eq!(pattern_byte(1), (2_654_435_761u64 >> 24) as u8);
        assert_eq!(pattern_byte(1000), ((1000u64 * 2_654_435_761) >> 24) as u8);
        let mut out = [0u8; 4];
        fill_pattern(1, &mut out);
        assert_eq!(out[0], pattern_byte(1));
        assert_eq!(out[3], pattern_byte(4));
    }
}
