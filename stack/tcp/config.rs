//! Stack-wide TCP settings, with Linux's defaults where Linux has one.

use crate::time::Duration;

/// TCP settings of one stack. Per-socket options (buffer sizes, Nagle)
/// start from these.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpConfig {
    /// Send buffer per connection, in bytes. Fixed for the connection's
    /// life (no auto-tuning): what `SO_SNDBUF` sets.
    pub send_buffer: usize,
    /// Receive buffer per connection, in bytes; fixed like the send buffer.
    /// The window scale offered is the smallest that can advertise all of it.
    pub recv_buffer: usize,
    /// Largest segment payload our MTU allows over IPv4 (MTU - 40), in
    /// bytes; the stack sets it from the device. IPv6 connections use 20
    /// bytes less (`tcb::max_mss_to`).
    pub max_mss: u16,
    /// Retransmission timeout before any RTT sample (RFC 6298 2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound of the RTO (Linux: 200 ms).
    pub min_rto: Duration,
    /// Upper bound of the RTO (Linux: 120 s).
    pub max_rto: Duration,
    /// SYN retransmissions before connect fails with ETIMEDOUT (Linux `tcp_syn_retries`: 6).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped (Linux `tcp_synack_retries`: 5).
    pub synack_retries: u32,
    /// Data retransmissions before the connection fails with ETIMEDOUT (Linux `tcp_retries2`: 15).
    pub max_retries: u32,
    /// Time in TIME_WAIT: 2 * MSL (Linux: 60 s).
    pub time_wait: Duration,
    /// How long an orphaned connection (closed by the application) may sit
    /// in FIN_WAIT_2 (Linux `tcp_fin_timeout`: 60 s).
    pub fin_wait2_timeout: Duration,
    /// Delayed-ACK timeout (RFC 1122 allows up to 500 ms; Linux uses 40 ms).
    pub delayed_ack: Duration,
    /// Largest listen backlog accepted (Linux `somaxconn`: 4096).
    pub max_backlog: usize,
    /// Separate out-of-order ranges held per connection before more are dropped.
    pub max_ooo_ranges: usize,
    /// Offer window scaling (RFC 7323 2).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 3).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018); as a receiver, report SACK and D-SACK blocks.
    pub sack: bool,
    /// Nagle off by default (`TCP_NODELAY` on every socket).
    pub nodelay: bool,
    /// Congestion control of new sockets (per socket: `TcpOptions`).
    pub congestion: super::congestion::Algorithm,
    /// Send tail loss probes (RFC 8985 7) when ACKs stop before the RTO.
    pub tail_loss_probes: bool,
    /// The worst delayed ACK a peer may take, added to the probe timeout
    /// when one segment is out (RFC 8985 7.2 WCDelAckT: 200 ms, the RFC
    /// 1122 bound; Linux's `TCP_DELACK_MAX`).
    pub tlp_delayed_ack_allowance: Duration,
    /// Answer SYNs with SYN cookies when a listener's SYN queue is full
    /// (RFC 4987), instead of dropping them.
    pub syn_cookies: bool,
    /// Challenge ACKs the stack may send per second, all connections
    /// together (RFC 5961 7; Linux's old `tcp_challenge_ack_limit`).
    pub challenge_acks_per_sec: u32,
    /// Connections the stack holds at most (every state, TIME-WAIT
    /// included); past it connect fails with ENOBUFS and SYNs are dropped.
    pub max_connections: usize,
    /// Ring storage all connections may hold together, in bytes. Rings
    /// grow with use (nothing while idle), so this counts memory in use.
    /// At the cap new connections are refused (ENOBUFS from connect,
    /// counted SYN drops), sends take only what existing storage holds,
    /// and data that would grow a receive ring is dropped (counted; the
    /// peer resends).
    pub max_buffer_memory: usize,
    /// Replies without a connection (resets, challenge ACKs) that may wait
    /// for a transmit buffer; more are dropped and counted.
    pub max_pending_replies: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            max_mss: 1460,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            syn_retries: 6,
            synack_retries: 5,
            max_retries: 15,
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Duration::from_secs(60),
            delayed_ack: Duration::from_millis(40),
            max_backlog: 4096,
            max_ooo_ranges: 32,
            window_scaling: true,
            timestamps: true,
            sack: true,
            nodelay: false,
            congestion: super::congestion::Algorithm::NewReno,
            tail_loss_probes: true,
            tlp_delayed_ack_allowance: Duration::from_millis(200),
            syn_cookies: true,
            challenge_acks_per_sec: 1000,
            max_connections: 1 << 20,
            max_buffer_memory: 32 << 30,
            max_pending_replies: 1024,
        }
    }
}

/// Largest window scale shift (RFC 7323 2.3).
pub const MAX_WINDOW_SCALE: u8 = 14;

/// The smallest shift that lets a 16-bit window field advertise `buffer` bytes.
pub fn window_scale_for(buffer: usize) -> u8 {
    let mut shift = 0;
    while shift < MAX_WINDOW_SCALE && (buffer >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_scale_covers_the_buffer() {
        assert_eq!(window_scale_for(65_535), 0);
        assert_eq!(window_scale_for(65_536), 1);
        assert_eq!(window_scale_for(256 * 1024), 3);
        assert_eq!(window_scale_for(usize::MAX), MAX_WINDOW_SCALE);
    }
}
