//! Building blocks: hand-built segments, captured output, two peers.

use crate::rand::Rng;
use crate::tcp::emit::{OptionsOut, Payload, SegmentOut};
use crate::tcp::segment::{self, Segment};
use crate::tcp::seq::SeqNumber;
use crate::tcp::{State, TcpConfig, TcpHandle, TcpOptions, TcpSockets};
use crate::time::{Duration, Instant};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A segment as sent, owned, with its parsed view available.
#[derive(Debug, Clone)]
pub struct Captured {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub bytes: Vec<u8>,
}

impl Captured {
    pub fn seg(&self) -> Segment<'_> {
        segment::parse(self.src, self.dst, &self.bytes).expect("we emit valid segments")
    }
}

/// Every segment `tcp` has ready at `now`.
pub fn drain(tcp: &mut TcpSockets, now: Instant) -> Vec<Captured> {
    let mut out = Vec::new();
    tcp.drain_output(now, |s| {
        let mut bytes = vec![0; s.len()];
        s.write(&mut bytes, false);
        out.push(Captured {
            src: s.local.ip(),
            dst: s.remote.ip(),
            bytes,
        });
        true
    });
    out
}

/// Hands a captured segment to `tcp`.
pub fn deliver(tcp: &mut TcpSockets, now: Instant, segment: &Captured) {
    let seg = segment.seg();
    tcp.input(now, segment.src, segment.dst, &seg);
}

/// A test configuration: Linux defaults with short TIME_WAIT.
pub fn config() -> TcpConfig {
    TcpConfig {
        time_wait: Duration::from_secs(2),
        ..TcpConfig::default()
    }
}

pub fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// A hand-built segment from `from` to `to`.
#[allow(clippy::too_many_arguments)]
pub fn craft(
    from: SocketAddr,
    to: SocketAddr,
    control: u8,
    seq: u32,
    ack: u32,
    window: u16,
    options: OptionsOut,
    data: &[u8],
) -> Captured {
    let mut ring = crate::buf::ByteRing::new(data.len().max(1));
    ring.write(data);
    let out = SegmentOut {
        local: from,
        remote: to,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack),
        flags: control,
        window,
        options,
        payload: if data.is_empty() {
            Payload::None
        } else {
            Payload::Ring {
                ring: &ring,
                offset: 0,
                len: data.len(),
            }
        },
    };
    let mut bytes = vec![0; out.len()];
    out.write(&mut bytes, false);
    Captured {
        src: from.ip(),
        dst: to.ip(),
        bytes,
    }
}

/// Decides whether the link loses a segment: (sent by A, segment) -> lose it.
pub type DropRule = Box<dyn FnMut(bool, &Captured) -> bool>;

/// Two stacks joined by a perfect link, with a clock that can jump.
pub struct Pair {
    pub a: TcpSockets,
    pub b: TcpSockets,
    pub now: Instant,
    /// Segments seen, in order, with their direction (true: from A).
    pub log: Vec<(bool, Captured)>,
    /// Drop predicate: given (from A, segment), true to lose it.
    pub drop: DropRule,
}

impl Pair {
    pub fn new(config_a: TcpConfig, config_b: TcpConfig) -> Self {
        Pair {
            a: TcpSockets::new(Rng::new(1), config_a),
            b: TcpSockets::new(Rng::new(2), config_b),
            now: at(1000),
            log: Vec::new(),
            drop: Box::new(|_, _| false),
        }
    }

    /// A connection from A to B's listener on port 80, established and
    /// accepted: (client, server, listener).
    pub fn connected(&mut self) -> (TcpHandle, TcpHandle, TcpHandle) {
        let opts = TcpOptions::from_config(self.a.config());
        let listener = self
            .b
            .listen(SocketAddr::new(B_IP.into(), 80), 16, opts, B_IP, false)
            .unwrap();
        let client = self
            .a
            .connect(self.now, SocketAddr::new(B_IP.into(), 80), 0, opts, A_IP)
            .unwrap();
        self.settle();
        let (server, peer) = self.b.accept(listener).expect("handshake completed");
        assert_eq!(peer, self.a.local_addr(client).unwrap());
        assert_eq!(self.a.state(client), Ok(State::Established));
        assert_eq!(self.b.state(server), Ok(State::Established));
        (client, server, listener)
    }

    /// Exchanges segments at the current time until both are quiet.
    pub fn settle(&mut self) {
        // A thousand rounds without quiet is an ACK war or a livelock.
        for _ in 0..1000 {
            let from_a = drain(&mut self.a, self.now);
            let from_b = drain(&mut self.b, self.now);
            if from_a.is_empty() && from_b.is_empty() {
                return;
            }
            for s in from_a {
                self.log.push((true, s.clone()));
                if !(self.drop)(true, &s) {
                    deliver(&mut self.b, self.now, &s);
                }
            }
            for s in from_b {
                self.log.push((false, s.clone()));
                if !(self.drop)(false, &s) {
                    deliver(&mut self.a, self.now, &s);
                }
            }
        }
        for (from_a, s) in self.log.iter().rev().take(12).rev() {
            let seg = s.seg();
            eprintln!(
                "{} seq {} ack {} len {} win {} flags {:#x}",
                if *from_a { "A>" } else { "<B" },
                seg.seq,
                seg.ack,
                seg.payload.len(),
                seg.window,
                seg.flags
            );
        }
        panic!("the peers never went quiet (last segments above)");
    }

    /// Jumps to the next deadline of either peer (if before `limit`),
    /// runs timers, and settles; false when nothing is due before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.settle();
        let next = [self.a.poll_at(), self.b.poll_at()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= limit => {
                self.now = self.now.max(t);
                self.a.on_timers(self.now);
                self.b.on_timers(self.now);
                self.settle();
                true
            }
            _ => {
                self.now = self.now.max(limit);
                self.a.on_timers(self.now);
                self.b.on_timers(self.now);
                self.settle();
                false
            }
        }
    }

    /// Advances time to `limit`, processing every deadline on the way.
    pub fn run_until(&mut self, limit: Instant) {
        while self.step(limit) {}
    }
}
