//! A scripted peer: one dpstack TCP at B, segments from "the peer" at A
//! injected by hand, and what B sends checked (packetdrill style).

use super::harness::*;
use crate::tcp::emit::OptionsOut;
use crate::tcp::segment::flags::*;
use crate::tcp::{State, TcpConfig, TcpHandle, TcpOptions, TcpSockets};
use crate::time::{Duration, Instant};
use std::net::SocketAddr;

/// The peer's initial sequence number in every script.
pub const PEER_ISS: u32 = 1_000;
/// The window the peer advertises (unscaled: it offers no scaling).
pub const PEER_WINDOW: u16 = 65_535;

/// One segment as B sent it, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub data: Vec<u8>,
    pub timestamps: Option<(u32, u32)>,
    pub window_scale: Option<u8>,
}

pub struct Script {
    pub tcp: TcpSockets,
    pub now: Instant,
    /// B's address and port (the stack under test).
    pub us: SocketAddr,
    /// A's address and port (the scripted peer).
    pub peer: SocketAddr,
    /// B's initial sequence number, once seen.
    pub iss: u32,
}

impl Script {
    pub fn new(config: TcpConfig) -> Self {
        Script {
            tcp: TcpSockets::new(crate::rand::Rng::new(9), config),
            now: at(1_000),
            us: SocketAddr::new(B_IP.into(), 80),
            peer: SocketAddr::new(A_IP.into(), 40_000),
            iss: 0,
        }
    }

    pub fn options(&self) -> TcpOptions {
        TcpOptions::from_config(self.tcp.config())
    }

    /// The peer sends a segment without options.
    pub fn inject(&mut self, control: u8, seq: u32, ack: u32, data: &[u8]) {
        self.inject_with(control, seq, ack, PEER_WINDOW, OptionsOut::default(), data);
    }

    /// The peer sends a segment with a given window and options.
    pub fn inject_with(
        &mut self,
        control: u8,
        seq: u32,
        ack: u32,
        window: u16,
        options: OptionsOut,
        data: &[u8],
    ) {
        let segment = craft(self.peer, self.us, control, seq, ack, window, options, data);
        deliver(&mut self.tcp, self.now, &segment);
    }

    /// Everything B sends now.
    pub fn sent(&mut self) -> Vec<Sent> {
        drain(&mut self.tcp, self.now)
            .iter()
            .map(|c| {
                let seg = c.seg();
                Sent {
                    flags: seg.flags,
                    seq: seg.seq.0,
                    ack: seg.ack.0,
                    window: seg.window,
                    data: seg.payload.to_vec(),
                    timestamps: seg.options.timestamps,
                    window_scale: seg.options.window_scale,
                }
            })
            .collect()
    }

    /// Exactly one segment is sent now; returns it.
    pub fn sent_one(&mut self) -> Sent {
        let mut sent = self.sent();
        assert_eq!(sent.len(), 1, "expected one segment, got {sent:#?}");
        sent.remove(0)
    }

    /// Nothing is sent now.
    pub fn sent_none(&mut self) {
        let sent = self.sent();
        assert!(sent.is_empty(), "expected silence, got {sent:#?}");
    }

    /// Moves time forward and runs the timers due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.tcp.on_timers(self.now);
    }

    /// Jumps from deadline to deadline (the wheel's `poll_at` is a lower
    /// bound, so one jump may find nothing due yet) until B sends
    /// something or `within` has passed; returns what it sent.
    pub fn run_until_output(&mut self, within: Duration) -> Vec<Sent> {
        let limit = self.now + within;
        while let Some(deadline) = self.tcp.poll_at() {
            if deadline > limit {
                break;
            }
            let step = deadline.saturating_duration_since(self.now);
            self.advance(
                step.max(Duration::from_nanos(1))
                    .min(limit.saturating_duration_since(self.now)),
            );
            let sent = self.sent();
            if !sent.is_empty() {
                return sent;
            }
        }
        let rest = limit.saturating_duration_since(self.now);
        self.advance(rest);
        self.sent()
    }

    /// B listens on port 80; returns the listener.
    pub fn listen(&mut self) -> TcpHandle {
        let options = self.options();
        let listener = self.tcp.listen(self.us, 8, options, B_IP, false).unwrap();
        assert_eq!(self.tcp.state(listener), Ok(State::Listen));
        listener
    }

    /// LISTEN, then the peer's SYN: B answers SYN-ACK (SYN-RECEIVED).
    pub fn syn_received(&mut self) -> TcpHandle {
        let listener = self.listen();
        self.inject(SYN, PEER_ISS, 0, b"");
        let syn_ack = self.sent_one();
        assert_eq!(syn_ack.flags, SYN | ACK);
        assert_eq!(syn_ack.ack, PEER_ISS + 1);
        self.iss = syn_ack.seq;
        listener
    }

    /// A passive open completed and accepted: (listener, connection).
    pub fn established_passive(&mut self) -> (TcpHandle, TcpHandle) {
        let listener = self.syn_received();
        self.inject(ACK, PEER_ISS + 1, self.iss + 1, b"");
        self.sent_none();
        let (conn, from) = self.tcp.accept(listener).expect("accept queue has it");
        assert_eq!(from, self.peer);
        assert_eq!(self.tcp.state(conn), Ok(State::Established));
        (listener, conn)
    }

    /// B connects to the peer: returns the connection in SYN-SENT.
    pub fn syn_sent(&mut self) -> TcpHandle {
        let options = self.options();
        let conn = self
            .tcp
            .connect(self.now, self.peer, 80, options, B_IP)
            .unwrap();
        assert_eq!(self.tcp.state(conn), Ok(State::SynSent));
        let syn = self.sent_one();
        assert_eq!(syn.flags, SYN);
        self.iss = syn.seq;
        conn
    }

    /// An active open completed.
    pub fn established_active(&mut self) -> TcpHandle {
        let conn = self.syn_sent();
        self.inject(SYN | ACK, PEER_ISS, self.iss + 1, b"");
        let ack = self.sent_one();
        assert_eq!(
            (ack.flags, ack.seq, ack.ack),
            (ACK, self.iss + 1, PEER_ISS + 1)
        );
        assert_eq!(self.tcp.state(conn), Ok(State::Established));
        conn
    }

    pub fn state(&self, conn: TcpHandle) -> State {
        self.tcp.state(conn).expect("handle valid")
    }
}

/// Linux-like defaults, small TIME_WAIT, timestamps and scaling off
/// unless a test turns them on (hand-built peers offer neither).
pub fn script_config() -> TcpConfig {
    TcpConfig {
        time_wait: Duration::from_secs(2),
        ..TcpConfig::default()
    }
}
