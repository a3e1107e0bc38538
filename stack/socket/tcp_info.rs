//! `getsockopt(TCP_INFO)`: what a connection's control block says about
//! it, in the units Linux's `struct tcp_info` uses, for tools (`ss`-like
//! listings) and for tests that check state without reading frames.

use super::{Errno, FdTable, Kind, Net, TcpConn};
use crate::socket::Fd;
use crate::tcp::congestion::CongestionControl;
use crate::tcp::State;
use crate::time::Duration;

/// A TCP socket's state and its sender's figures (a subset of Linux's
/// `struct tcp_info`, with the same meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// The connection's state (`Listen` for a listener, `Closed` for a
    /// socket neither listening nor connected).
    pub state: State,
    /// Consecutive retransmission timeouts (`tcpi_backoff`).
    pub backoff: u32,
    /// The retransmission timeout now in force, backoff included (`tcpi_rto`).
    pub rto: Duration,
    /// Smoothed round-trip time, once measured (`tcpi_rtt`).
    pub rtt: Option<Duration>,
    /// Data bytes per segment we send (`tcpi_snd_mss`).
    pub snd_mss: usize,
    /// Largest segment payload received so far (`tcpi_rcv_mss`).
    pub rcv_mss: usize,
    /// Congestion window, in segments of `snd_mss` (`tcpi_snd_cwnd`).
    pub snd_cwnd: usize,
    /// Slow-start threshold, in segments (`tcpi_snd_ssthresh`).
    pub snd_ssthresh: usize,
    /// Bytes sent and not yet acknowledged.
    pub unacked_bytes: usize,
    /// The peer's window, in bytes (`tcpi_snd_wnd`).
    pub snd_wnd: usize,
    /// Received bytes the application has not read.
    pub recv_queued: usize,
    /// Written bytes not yet acknowledged by the peer.
    pub send_queued: usize,
}

impl TcpInfo {
    fn unconnected(state: State) -> TcpInfo {
        TcpInfo {
            state,
            backoff: 0,
            rto: Duration::ZERO,
            rtt: None,
            snd_mss: 0,
            rcv_mss: 0,
            snd_cwnd: 0,
            snd_ssthresh: 0,
            unacked_bytes: 0,
            snd_wnd: 0,
            recv_queued: 0,
            send_queued: 0,
        }
    }
}

impl FdTable {
    /// `getsockopt(fd, SOL_TCP, TCP_INFO)`. ENOPROTOOPT for a UDP socket,
    /// ENOTSOCK for an epoll descriptor.
    pub fn tcp_info(&mut self, net: &mut Net<'_>, fd: Fd) -> Result<TcpInfo, Errno> {
        let handle = match &self.slot(fd)?.kind {
            Kind::Epoll(_) => return Err(Errno::ENOTSOCK),
            Kind::Udp(_) => return Err(Errno::ENOPROTOOPT),
            Kind::Tcp(sock) => match sock.conn {
                TcpConn::Fresh => return Ok(TcpInfo::unconnected(State::Closed)),
                TcpConn::Listening(_) => return Ok(TcpInfo::unconnected(State::Listen)),
                TcpConn::Connected(handle) => handle,
            },
        };
        let tcp = &net.sockets.tcp;
        let state = tcp.state(handle)?;
        let Ok(tcb) = tcp.tcb_of(handle) else {
            // Closed and gone from the table: only the state is left.
            return Ok(TcpInfo::unconnected(state));
        };
        let mss = tcb.mss.max(1);
        Ok(TcpInfo {
            state,
            backoff: tcb.backoff,
            rto: tcb.rtt.backed_off(tcb.backoff),
            rtt: tcb.rtt.srtt(),
            snd_mss: tcb.mss,
            rcv_mss: tcb.rcv_mss,
            snd_cwnd: tcb.cc.cwnd() / mss,
            snd_ssthresh: tcb.cc.ssthresh() / mss,
            unacked_bytes: tcb.flight(),
            snd_wnd: tcb.snd_wnd,
            recv_queued: tcp.recv_queued(handle)?,
            send_queued: tcp.send_queued(handle)?,
        })
    }
}
