//! Congestion control behind a trait, so algorithms can be swapped per
//! connection. The sender (input/output) owns loss detection and the
//! recovery point; the algorithm only decides the congestion window.
//! A connection holds its algorithm as a [`Controller`], an enum of the
//! implementations, rather than a boxed trait object: no allocation per
//! connection and no indirect call per ACK.

mod cubic;
mod new_reno;

pub use cubic::Cubic;
pub use new_reno::NewReno;

use crate::time::{Duration, Instant};

/// The algorithms on offer (`TCP_CONGESTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// NewReno (RFC 5681, RFC 6582).
    #[default]
    NewReno,
    /// CUBIC (RFC 9438).
    Cubic,
}

impl Algorithm {
    /// A fresh instance for segments of `mss` bytes.
    pub fn build(self, mss: usize) -> Controller {
        match self {
            Algorithm::NewReno => Controller::NewReno(NewReno::new(mss)),
            Algorithm::Cubic => Controller::Cubic(Cubic::new(mss)),
        }
    }

    /// The name `TCP_CONGESTION` uses ("reno", "cubic").
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::NewReno => "reno",
            Algorithm::Cubic => "cubic",
        }
    }

    /// The algorithm `TCP_CONGESTION` names, if offered.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "reno" | "newreno" => Some(Algorithm::NewReno),
            "cubic" => Some(Algorithm::Cubic),
            _ => None,
        }
    }
}

/// A congestion-control algorithm: the congestion window's reaction to
/// ACKs and losses. All sizes are bytes.
pub trait CongestionControl: std::fmt::Debug + Send {
    /// The congestion window.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold.
    fn ssthresh(&self) -> usize;
    /// `acked` new bytes were acknowledged outside recovery, at `now`, with
    /// the smoothed RTT if measured.
    fn on_ack(&mut self, acked: usize, mss: usize, now: Instant, srtt: Option<Duration>);
    /// Three duplicate ACKs began a fast recovery with `flight` bytes outstanding.
    fn on_enter_recovery(&mut self, flight: usize, mss: usize);
    /// Another duplicate ACK arrived during recovery (a segment left the network).
    fn on_dup_ack_in_recovery(&mut self, mss: usize);
    /// A partial ACK for `acked` bytes during recovery (RFC 6582 3.2 step 5).
    fn on_partial_ack(&mut self, acked: usize, mss: usize);
    /// The ACK covering the recovery point arrived with `flight` bytes still out.
    fn on_exit_recovery(&mut self, flight: usize, mss: usize);
    /// The retransmission timer expired with `flight` bytes outstanding.
    fn on_timeout(&mut self, flight: usize, mss: usize);
    /// The algorithm's name, as `TCP_CONGESTION` spells it.
    fn name(&self) -> &'static str;
}

/// The initial window of RFC 6928: min(10 * MSS, max(2 * MSS, 14,600)) bytes.
pub fn initial_window(mss: usize) -> usize {
    (10 * mss).min((2 * mss).max(14_600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_per_rfc_6928() {
        assert_eq!(initial_window(1460), 14_600);
        assert_eq!(initial_window(536), 5_360);
        assert_eq!(initial_window(9000), 18_000);
    }
}

/// One connection's congestion control: whichever algorithm it runs.
#[derive(Debug, Clone)]
pub enum Controller {
    /// NewReno.
    NewReno(NewReno),
    /// CUBIC.
    Cubic(Cubic),
}

/// Calls `$method` on whichever algorithm `$self` holds.
macro_rules! each {
    ($self:expr, $cc:ident => $call:expr) => {
        match $self {
            Controller::NewReno($cc) => $call,
            Controller::Cubic($cc) => $call,
        }
    };
}

impl CongestionControl for Controller {
    fn cwnd(&self) -> usize {
        each!(self, cc => cc.cwnd())
    }

    fn ssthresh(&self) -> usize {
        each!(self, cc => cc.ssthresh())
    }

    fn on_ack(&mut self, acked: usize, mss: usize, now: Instant, srtt: Option<Duration>) {
        each!(self, cc => cc.on_ack(acked, mss, now, srtt))
    }

    fn on_enter_recovery(&mut self, flight: usize, mss: usize) {
        each!(self, cc => cc.on_enter_recovery(flight, mss))
    }

    fn on_dup_ack_in_recovery(&mut self, mss: usize) {
        each!(self, cc => cc.on_dup_ack_in_recovery(mss))
    }

    fn on_partial_ack(&mut self, acked: usize, mss: usize) {
        each!(self, cc => cc.on_partial_ack(acked, mss))
    }

    fn on_exit_recovery(&mut self, flight: usize, mss: usize) {
        each!(self, cc => cc.on_exit_recovery(flight, mss))
    }

    fn on_timeout(&mut self, flight: usize, mss: usize) {
        each!(self, cc => cc.on_timeout(flight, mss))
    }

    fn name(&self) -> &'static str {
        each!(self, cc => cc.name())
    }
}
