//! The one-line summary every app prints on exit: its own figures, then
//! every non-zero stack counter; with `--json`, one JSON object instead.

use crate::stats::StackStats;

/// Prints `<name>: k=v ... layer.counter=v ...`, or with `json` one object
/// holding the stack's counters and the app's `figures`.
pub fn print_summary(name: &str, json: bool, stats: &StackStats, figures: &[(&str, SummaryValue)]) {
    if json {
        let mut summary = stats.to_json();
        for (key, value) in figures {
            summary[*key] = match value {
                SummaryValue::Count(n) => (*n).into(),
                SummaryValue::Real(x) => (*x).into(),
                SummaryValue::Text(s) => s.clone().into(),
            };
        }
        println!("{summary}");
        return;
    }
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
    println!("{line}");
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
