//! Every connection of a stack as `ss -tan` lists them: for telemetry and
//! tools, read off the table without disturbing it.

use super::congestion::CongestionControl;
use super::sockets::TcpSockets;
use super::state::State;
use crate::time::Duration;
use std::net::SocketAddr;

/// One line of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's (the unspecified address of the listener's family, port 0, for a listener).
    pub remote: SocketAddr,
    /// The state (`Listen` for listeners, `TimeWait` for closed pairs).
    pub state: State,
    /// Bytes received and not read; for a listener, connections waiting
    /// for `accept` (as `ss` shows Recv-Q).
    pub recv_queued: usize,
    /// Bytes written and not acknowledged; for a listener, its backlog.
    pub send_queued: usize,
    /// Smoothed round-trip time, once measured.
    pub rtt: Option<Duration>,
    /// Retransmission timeout in force.
    pub rto: Duration,
    /// Congestion window, in bytes.
    pub cwnd: usize,
    /// Data bytes per segment sent.
    pub mss: usize,
    /// Consecutive retransmission timeouts.
    pub backoff: u32,
}

impl ConnectionInfo {
    fn bare(local: SocketAddr, remote: SocketAddr, state: State) -> Self {
        ConnectionInfo {
            local,
            remote,
            state,
            recv_queued: 0,
            send_queued: 0,
            rtt: None,
            rto: Duration::ZERO,
            cwnd: 0,
            mss: 0,
            backoff: 0,
        }
    }
}

impl TcpSockets {
    /// Every listener, connection and TIME-WAIT pair, in table order.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let mut out = Vec::with_capacity(self.connection_count());
        self.for_each_entry(|listener, tcb| {
            if let Some(listener) = listener {
                let any = SocketAddr::new(crate::addr::unspecified_like(listener.local.ip()), 0);
                out.push(ConnectionInfo {
                    recv_queued: listener.accept_queue.len(),
                    send_queued: listener.backlog,
                    ..ConnectionInfo::bare(listener.local, any, State::Listen)
                });
            }
            if let Some(tcb) = tcb {
                out.push(ConnectionInfo {
                    local: tcb.local,
                    remote: tcb.remote,
                    state: tcb.state,
                    recv_queued: tcb.rx.len(),
                    send_queued: tcb.tx.len(),
                    rtt: tcb.rtt.srtt(),
                    rto: tcb.rtt.backed_off(tcb.backoff),
                    cwnd: tcb.cc.cwnd(),
                    mss: tcb.mss,
                    backoff: tcb.backoff,
                });
            }
        });
        out.extend(
            self.time_wait_pairs()
                .map(|(local, remote)| ConnectionInfo::bare(local, remote, State::TimeWait)),
        );
        out
    }
}
