//! Congestion control behind a trait, so algorithms can be swapped per
//! connection. The sender (input/output) owns loss detection and the
//! recovery point; the algorithm only decides the congestion window.

mod new_reno;

pub use new_reno::NewReno;

/// A congestion-control algorithm: the congestion window's reaction to
/// ACKs and losses. All sizes are bytes.
pub trait CongestionControl: std::fmt::Debug + Send {
    /// The congestion window.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold.
    fn ssthresh(&self) -> usize;
    /// `acked` new bytes were acknowledged outside recovery.
    fn on_ack(&mut self, acked: usize, mss: usize);
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
