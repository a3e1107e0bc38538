//! Runs a parsed script against one dpstack stack over an in-memory pipe
//! with a manual clock: the runner is the peer and the path. Time moves
//! only from timer deadline to timer deadline, so every timing in a script
//! is exact and every run identical.
//!
//! Numbers in scripts are relative, as in packetdrill: inbound sequence
//! numbers to the peer's ISN, outbound ones to the stack's (learnt from
//! its first SYN), acknowledgments and SACK blocks to the other side's,
//! inbound `ecr` and outbound `TS val` to the stack's first timestamp.
//! Before the stack has sent a SYN, its numbers are absolute. Payload bytes are a known pattern of the stream offset, checked both
//! ways. Every segment the stack sends must be expected by a `>` line, in
//! order, within the tolerance of its time.

use super::frames::{self, Ends, Outbound, TcpFrame, WireOption};
use super::parse::{Action, Expect, IcmpSpec, Script, SegmentSpec, TcpOpt, When};
use dpstack::buf::BufPool;
use dpstack::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent};
use dpstack::runtime::{pattern_byte, Stack, StackConfig};
use dpstack::socket::{Errno, Fd, Shutdown, SockOpt, SockOptName, SockType, TcpInfo};
use dpstack::tcp::congestion::Algorithm;
use dpstack::tcp::segment::flags::*;
use dpstack::tcp::{State, TcpConfig};
use dpstack::time::{Clock, Duration, Instant, ManualClock};
use dpstack::wire::Ipv4Cidr;
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The stack's port for listeners, and the peer's for connects.
pub const SERVICE_PORT: u16 = 8080;
/// The peer's port when it connects to the stack.
pub const PEER_PORT: u16 = 40_000;
/// The peer's initial sequence number (inbound numbers are relative to it).
pub const PEER_ISN: u32 = 3_000_000_000;
/// Default timing tolerance: packetdrill's 4 ms.
const DEFAULT_TOLERANCE_US: u64 = 4_000;

const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A frame the stack sent and no `>` line has taken yet.
struct Sent {
    at_us: u64,
    segment: TcpFrame,
    options: Vec<WireOption>,
}

/// The one connection a script follows.
#[derive(Default)]
struct Flow {
    stack_port: Option<u16>,
    peer_port: u16,
    stack_isn: Option<u32>,
    stack_ts_base: Option<u32>,
}

struct Runner {
    stack: Stack<PipeDevice, ManualClock>,
    wire: PipeDevice,
    clock: ManualClock,
    ends: Ends,
    tolerance_us: u64,
    /// The previous event's time (for `+` times).
    last_us: u64,
    pending: VecDeque<Sent>,
    fds: HashMap<i64, Fd>,
    written: HashMap<Fd, u64>,
    read: HashMap<Fd, u64>,
    flow: Flow,
}

/// Runs `script`; `Err` names the line and what differed.
pub fn run(script: &Script) -> Result<(), String> {
    let mut runner = Runner::new(script)?;
    for event in &script.events {
        let at = match event.when {
            When::Absolute(us) => us,
            When::Relative(us) => runner.last_us + us,
        };
        runner
            .event(at, &event.action)
            .map_err(|e| format!("line {}: {e}", event.line))?;
    }
    runner.poll()?;
    runner.no_pending().map_err(|e| format!("at the end: {e}"))
}

fn setting<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("setting {name}: bad value {value:?}"))
}

fn flag(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "0" | "false" => Ok(false),
        "1" | "true" => Ok(true),
        _ => Err(format!("setting {name}: 0 or 1, not {value:?}")),
    }
}

fn ms(name: &str, value: &str) -> Result<Duration, String> {
    setting(name, value).map(Duration::from_millis)
}

/// The stack's TCP configuration and the runner's tolerance from `--` lines.
fn configure(script: &Script) -> Result<(TcpConfig, u64, usize), String> {
    let mut tcp = TcpConfig::default();
    let mut tolerance = DEFAULT_TOLERANCE_US;
    let mut mtu = 1500;
    for (name, value) in &script.settings {
        let (name, value) = (name.as_str(), value.as_str());
        match name {
            "tolerance_usecs" => tolerance = setting(name, value)?,
            "mtu" => mtu = setting(name, value)?,
            "timestamps" => tcp.timestamps = flag(name, value)?,
            "sack" => tcp.sack = flag(name, value)?,
            "window_scaling" => tcp.window_scaling = flag(name, value)?,
            "nodelay" => tcp.nodelay = flag(name, value)?,
            "tail_loss_probes" => tcp.tail_loss_probes = flag(name, value)?,
            "syn_cookies" => tcp.syn_cookies = flag(name, value)?,
            "delayed_ack_ms" => tcp.delayed_ack = ms(name, value)?,
            "initial_rto_ms" => tcp.initial_rto = ms(name, value)?,
            "min_rto_ms" => tcp.min_rto = ms(name, value)?,
            "max_rto_ms" => tcp.max_rto = ms(name, value)?,
            "time_wait_ms" => tcp.time_wait = ms(name, value)?,
            "fin_wait2_ms" => tcp.fin_wait2_timeout = ms(name, value)?,
            "tlp_delayed_ack_allowance_ms" => tcp.tlp_delayed_ack_allowance = ms(name, value)?,
            "syn_retries" => tcp.syn_retries = setting(name, value)?,
            "synack_retries" => tcp.synack_retries = setting(name, value)?,
            "max_retries" => tcp.max_retries = setting(name, value)?,
            "send_buffer" => tcp.send_buffer = setting(name, value)?,
            "recv_buffer" => tcp.recv_buffer = setting(name, value)?,
            "max_backlog" => tcp.max_backlog = setting(name, value)?,
            "challenge_acks_per_sec" => tcp.challenge_acks_per_sec = setting(name, value)?,
            "congestion" => {
                tcp.congestion = Algorithm::from_name(value)
                    .ok_or_else(|| format!("unknown congestion control {value:?}"))?
            }
            _ => return Err(format!("unknown setting --{name}")),
        }
    }
    Ok((tcp, tolerance, mtu))
}

impl Runner {
    fn new(script: &Script) -> Result<Runner, String> {
        let (tcp, tolerance_us, mtu) = configure(script)?;
        let pool = BufPool::with_defaults();
        let pipe = PipeConfig {
            mtu,
            ..PipeConfig::default()
        };
        let (stack_end, wire) = pipe_pair(&pipe, &pool);
        let ends = Ends {
            stack_mac: pipe.macs[0],
            peer_mac: pipe.macs[1],
            stack_ip: STACK_IP,
            peer_ip: PEER_IP,
        };
        let clock = ManualClock::new();
        let config = StackConfig {
            seed: Some(7),
            tcp,
            ..StackConfig::new(Ipv4Cidr {
                addr: STACK_IP,
                prefix_len: 24,
            })
        };
        let mut stack = Stack::new(stack_end, clock.clone(), config);
        stack
            .interface()
            .arp_cache()
            .insert_static(PEER_IP, ends.peer_mac);
        let mut runner = Runner {
            stack,
            wire,
            clock,
            ends,
            tolerance_us,
            last_us: 0,
            pending: VecDeque::new(),
            fds: HashMap::new(),
            written: HashMap::new(),
            read: HashMap::new(),
            flow: Flow::default(),
        };
        runner.poll()?;
        Ok(runner)
    }

    fn now_us(&self) -> u64 {
        self.clock.now().as_nanos() / 1_000
    }

    /// One poll turn of the stack; what it sent joins `pending`.
    fn poll(&mut self) -> Result<(), String> {
        for _ in 0..8 {
            self.stack.poll();
            let mut batch = Vec::new();
            let now = self.clock.now();
            self.wire.receive(now, &mut batch, usize::MAX);
            if batch.is_empty() {
                return Ok(());
            }
            let mut answered_arp = false;
            for buf in batch {
                use dpstack::buf::PacketBuf;
                match frames::classify(&self.ends, buf.data())? {
                    Outbound::Tcp(segment, options) => self.sent(segment, options)?,
                    Outbound::ArpRequest => {
                        self.inject(frames::arp_reply(&self.ends))?;
                        answered_arp = true;
                    }
                    Outbound::OtherArp => {}
                    Outbound::Other(what) => {
                        return Err(format!("the stack sent something unexpected: {what}"))
                    }
                }
            }
            if !answered_arp {
                return Ok(());
            }
        }
        Ok(())
    }

    fn sent(&mut self, segment: TcpFrame, options: Vec<WireOption>) -> Result<(), String> {
        if self.flow.stack_port.is_none() {
            self.flow.stack_port = Some(segment.src_port);
        }
        if Some(segment.src_port) != self.flow.stack_port || segment.dst_port != self.flow.peer_port
        {
            return Err(format!(
                "segment {} -> {} is not the script's connection",
                segment.src_port, segment.dst_port
            ));
        }
        let at_us = self.now_us();
        self.pending.push_back(Sent {
            at_us,
            segment,
            options,
        });
        Ok(())
    }

    fn inject(&mut self, frame: Vec<u8>) -> Result<(), String> {
        use dpstack::buf::PacketBuf;
        let mut buf = self
            .wire
            .alloc_tx(frame.len())
            .ok_or("no buffer for an inbound frame")?;
        buf.data_mut().copy_from_slice(&frame);
        let mut batch = vec![buf];
        let now = self.clock.now();
        if self.wire.transmit(now, &mut batch) != 1 {
            return Err("the pipe refused an inbound frame".into());
        }
        Ok(())
    }

    /// Moves the clock to `to_us`, polling at every deadline on the way.
    fn advance_to(&mut self, to_us: u64) -> Result<(), String> {
        let target = Instant::from_nanos(to_us * 1_000);
        let mut turns = 0u32;
        while let Some(deadline) = self.stack.poll_at() {
            let now = self.clock.now();
            if deadline > target || now >= target {
                break;
            }
            turns += 1;
            if turns > 1_000_000 {
                return Err("timers keep firing without time passing".into());
            }
            // The wheel's deadline is a lower bound: step past it when it
            // names the present.
            let step = deadline.max(now + Duration::from_micros(1)).min(target);
            self.clock.set(step);
            self.poll()?;
        }
        if self.clock.now() < target {
            self.clock.set(target);
        }
        self.poll()
    }

    fn no_pending(&self) -> Result<(), String> {
        match self.pending.front() {
            None => Ok(()),
            Some(sent) => Err(format!(
                "unexpected segment at {:.6}: {}",
                sent.at_us as f64 / 1e6,
                self.describe(&sent.segment, &sent.options)
            )),
        }
    }

    fn event(&mut self, at: u64, action: &Action) -> Result<(), String> {
        if at < self.now_us() {
            return Err(format!(
                "event at {:.6} is before the present {:.6}",
                at as f64 / 1e6,
                self.now_us() as f64 / 1e6
            ));
        }
        match action {
            Action::Outbound(spec) => return self.expect(at, spec),
            Action::Inbound(spec) => {
                self.advance_to(at)?;
                self.no_pending()?;
                let segment = self.inbound_segment(spec)?;
                self.inject(frames::inbound_tcp(&self.ends, &segment))?;
            }
            Action::InboundIcmp(spec) => {
                self.advance_to(at)?;
                self.no_pending()?;
                let frame = self.inbound_icmp(spec)?;
                self.inject(frame)?;
            }
            Action::Call { name, args, expect } => {
                self.advance_to(at)?;
                self.no_pending()?;
                self.call(name, args, expect)?;
            }
            Action::Assert { counter, op, value } => {
                self.advance_to(at)?;
                self.no_pending()?;
                self.assert_counter(counter, op, *value)?;
            }
        }
        self.last_us = at;
        self.poll()
    }

    /// Waits for the stack's next segment, at most until `at` plus the
    /// tolerance, and checks it against `spec`.
    fn expect(&mut self, at: u64, spec: &SegmentSpec) -> Result<(), String> {
        let latest = at + self.tolerance_us;
        while self.pending.is_empty() && self.now_us() < latest {
            let next = self.stack.poll_at().map_or(latest, |d| {
                (d.as_nanos() / 1_000).clamp(self.now_us() + 1, latest)
            });
            self.advance_to(next)?;
        }
        let Some(sent) = self.pending.pop_front() else {
            return Err(format!(
                "expected {} at {:.6}; nothing was sent by {:.6}",
                describe_spec(spec),
                at as f64 / 1e6,
                latest as f64 / 1e6
            ));
        };
        let earliest = at.saturating_sub(self.tolerance_us);
        if sent.at_us < earliest || sent.at_us > latest {
            return Err(format!(
                "expected {} at {:.6}, sent at {:.6}: {}",
                describe_spec(spec),
                at as f64 / 1e6,
                sent.at_us as f64 / 1e6,
                self.describe(&sent.segment, &sent.options)
            ));
        }
        self.match_outbound(spec, &sent).map_err(|e| {
            format!(
                "{e}\n  expected {}\n  sent     {}",
                describe_spec(spec),
                self.describe(&sent.segment, &sent.options)
            )
        })?;
        self.last_us = sent.at_us;
        Ok(())
    }

    fn match_outbound(&mut self, spec: &SegmentSpec, sent: &Sent) -> Result<(), String> {
        let segment = &sent.segment;
        if segment.flags != spec.flags {
            return Err("flags differ".into());
        }
        if spec.flags & SYN != 0 && spec.seq == 0 && self.flow.stack_isn.is_none() {
            self.flow.stack_isn = Some(segment.seq);
        }
        // Before any SYN of ours (resets from a closed port) numbers are absolute.
        let isn = self.flow.stack_isn.unwrap_or(0);
        if segment.seq.wrapping_sub(isn) != spec.seq {
            return Err("sequence number differs".into());
        }
        if segment.payload.len() as u32 != spec.len {
            return Err("payload length differs".into());
        }
        let start = stream_offset(spec);
        if let Some(at) = (0..segment.payload.len())
            .find(|&i| segment.payload[i] != pattern_byte(start + i as u64))
        {
            return Err(format!("payload byte {at} is not what was written"));
        }
        if let Some(ack) = spec.ack {
            if segment.ack.wrapping_sub(PEER_ISN) != ack {
                return Err("acknowledgment number differs".into());
            }
        }
        if let Some(win) = spec.win {
            if segment.window != win {
                return Err("window differs".into());
            }
        }
        if let Some(expected) = &spec.options {
            self.match_options(expected, &sent.options)?;
        }
        Ok(())
    }

    fn match_options(&mut self, expected: &[TcpOpt], actual: &[WireOption]) -> Result<(), String> {
        let expected: Vec<&TcpOpt> = expected
            .iter()
            .filter(|o| !matches!(o, TcpOpt::Nop | TcpOpt::Eol))
            .collect();
        if expected.len() != actual.len() {
            return Err("options differ".into());
        }
        for (want, got) in expected.into_iter().zip(actual) {
            let same = match (want, got) {
                (TcpOpt::Mss(a), WireOption::Mss(b)) => a == b,
                (TcpOpt::WindowScale(a), WireOption::WindowScale(b)) => a == b,
                (TcpOpt::SackPermitted, WireOption::SackPermitted) => true,
                (TcpOpt::Timestamps(val, ecr), WireOption::Timestamps(got_val, got_ecr)) => {
                    let base = *self
                        .flow
                        .stack_ts_base
                        .get_or_insert(got_val.wrapping_sub(val.unwrap_or(0)));
                    // One timestamp tick is a millisecond: allow the tolerance.
                    let slack = (self.tolerance_us / 1_000 + 1) as i64;
                    let val_ok = val.is_none_or(|v| {
                        (i64::from(got_val.wrapping_sub(base) as i32) - i64::from(v as i32)).abs()
                            <= slack
                    });
                    val_ok && ecr.is_none_or(|e| e == *got_ecr)
                }
                (TcpOpt::Sack(blocks), WireOption::Sack(got)) => {
                    blocks.len() == got.len()
                        && blocks.iter().zip(got).all(|(&(l, r), &(gl, gr))| {
                            gl.wrapping_sub(PEER_ISN) == l && gr.wrapping_sub(PEER_ISN) == r
                        })
                }
                _ => false,
            };
            if !same {
                return Err("options differ".into());
            }
        }
        Ok(())
    }

    fn inbound_segment(&mut self, spec: &SegmentSpec) -> Result<TcpFrame, String> {
        if self.flow.stack_port.is_none() {
            self.flow.stack_port = Some(SERVICE_PORT);
            self.flow.peer_port = PEER_PORT;
        }
        let stack_isn = self.flow.stack_isn;
        let ack = match spec.ack {
            Some(rel) => rel.wrapping_add(stack_isn.unwrap_or(0)),
            None => 0,
        };
        let mut options = Vec::new();
        for option in spec.options.iter().flatten() {
            match option {
                TcpOpt::Nop => options.push(1),
                TcpOpt::Eol => options.push(0),
                TcpOpt::Mss(mss) => {
                    options.extend_from_slice(&[2, 4]);
                    options.extend_from_slice(&mss.to_be_bytes());
                }
                TcpOpt::WindowScale(shift) => options.extend_from_slice(&[3, 3, *shift]),
                TcpOpt::SackPermitted => options.extend_from_slice(&[4, 2]),
                TcpOpt::Timestamps(val, ecr) => {
                    let ecr = ecr.unwrap_or(0);
                    let ecr = self.flow.stack_ts_base.map_or(ecr, |b| b.wrapping_add(ecr));
                    options.extend_from_slice(&[8, 10]);
                    options.extend_from_slice(&val.unwrap_or(0).to_be_bytes());
                    options.extend_from_slice(&ecr.to_be_bytes());
                }
                TcpOpt::Sack(blocks) => {
                    let isn = stack_isn.ok_or("a SACK block before the stack's ISN is known")?;
                    options.extend_from_slice(&[5, 2 + 8 * blocks.len() as u8]);
                    for &(l, r) in blocks {
                        options.extend_from_slice(&l.wrapping_add(isn).to_be_bytes());
                        options.extend_from_slice(&r.wrapping_add(isn).to_be_bytes());
                    }
                }
            }
        }
        let start = stream_offset(spec);
        Ok(TcpFrame {
            src_port: self.flow.peer_port,
            dst_port: self.flow.stack_port.unwrap_or(SERVICE_PORT),
            seq: spec.seq.wrapping_add(PEER_ISN),
            ack,
            flags: spec.flags,
            window: spec.win.unwrap_or(65_535),
            options,
            payload: (0..u64::from(spec.len))
                .map(|i| pattern_byte(start + i))
                .collect(),
        })
    }

    fn inbound_icmp(&mut self, spec: &IcmpSpec) -> Result<Vec<u8>, String> {
        let isn = self
            .flow
            .stack_isn
            .ok_or("an ICMP quote before the stack's ISN is known")?;
        let quoted = TcpFrame {
            src_port: self.flow.stack_port.ok_or("no connection to quote")?,
            dst_port: self.flow.peer_port,
            seq: spec.quoted_seq.wrapping_add(isn),
            ack: 0,
            flags: ACK,
            window: 0,
            options: Vec::new(),
            payload: vec![0; spec.quoted_len as usize],
        };
        Ok(frames::inbound_icmp(
            &self.ends,
            spec.icmp_type,
            spec.code,
            spec.mtu,
            &quoted,
        ))
    }

    fn fd(&self, arg: Option<&String>) -> Result<Fd, String> {
        let arg = arg.ok_or("missing descriptor")?;
        let number: i64 = arg.parse().map_err(|_| format!("bad descriptor {arg:?}"))?;
        self.fds
            .get(&number)
            .copied()
            .ok_or_else(|| format!("descriptor {number} was never opened"))
    }

    fn call(&mut self, name: &str, args: &[String], expect: &Expect) -> Result<(), String> {
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        let count = |i: usize| -> Result<usize, String> {
            arg(i)
                .parse()
                .map_err(|_| format!("{name}: bad count {:?}", arg(i)))
        };
        let result: Result<i64, Errno> = match name {
            "socket" => {
                let kind = if arg(1) == "SOCK_DGRAM" {
                    SockType::Dgram
                } else {
                    SockType::Stream
                };
                let result = self.stack.socket(kind);
                if let (Ok(fd), Expect::Value(script_fd)) = (&result, expect) {
                    self.fds.insert(*script_fd, *fd);
                }
                return check(name, result.map(|_| value_of(expect)), expect);
            }
            "accept" => {
                let fd = self.fd(args.first())?;
                let result = self.stack.accept(fd);
                if let (Ok((new, _)), Expect::Value(script_fd)) = (&result, expect) {
                    self.fds.insert(*script_fd, *new);
                }
                return check(name, result.map(|_| value_of(expect)), expect);
            }
            "bind" => {
                let fd = self.fd(args.first())?;
                self.flow.stack_port = Some(SERVICE_PORT);
                self.flow.peer_port = PEER_PORT;
                self.stack
                    .bind(fd, SocketAddrV4::new(STACK_IP, SERVICE_PORT))
                    .map(|()| 0)
            }
            "listen" => {
                let fd = self.fd(args.first())?;
                self.stack.listen(fd, count(1)?).map(|()| 0)
            }
            "connect" => {
                let fd = self.fd(args.first())?;
                if self.flow.stack_port != Some(SERVICE_PORT) {
                    self.flow.stack_port = None;
                }
                self.flow.peer_port = SERVICE_PORT;
                self.stack
                    .connect(fd, SocketAddrV4::new(PEER_IP, SERVICE_PORT))
                    .map(|()| 0)
            }
            "write" | "send" => {
                let fd = self.fd(args.first())?;
                let len = count(2)?;
                let start = *self.written.get(&fd).unwrap_or(&0);
                let data: Vec<u8> = (0..len as u64).map(|i| pattern_byte(start + i)).collect();
                let result = self.stack.send(fd, &data, 0);
                if let Ok(n) = result {
                    *self.written.entry(fd).or_default() += n as u64;
                }
                result.map(|n| n as i64)
            }
            "read" | "recv" => {
                let fd = self.fd(args.first())?;
                let mut buf = vec![0; count(2)?];
                let result = self.stack.recv(fd, &mut buf, 0);
                if let Ok(n) = result {
                    let start = *self.read.get(&fd).unwrap_or(&0);
                    if let Some(at) = (0..n).find(|&i| buf[i] != pattern_byte(start + i as u64)) {
                        return Err(format!("{name}: byte {at} is not what the peer sent"));
                    }
                    *self.read.entry(fd).or_default() += n as u64;
                }
                result.map(|n| n as i64)
            }
            "close" => {
                let fd = self.fd(args.first())?;
                self.stack.close(fd).map(|()| 0)
            }
            "shutdown" => {
                let fd = self.fd(args.first())?;
                let how = match arg(1) {
                    "SHUT_RD" => Shutdown::Read,
                    "SHUT_WR" => Shutdown::Write,
                    "SHUT_RDWR" => Shutdown::Both,
                    other => return Err(format!("shutdown: unknown how {other:?}")),
                };
                self.stack.shutdown(fd, how).map(|()| 0)
            }
            "setsockopt" => {
                let fd = self.fd(args.first())?;
                let option = sock_opt(arg(2), arg(3))?;
                self.stack.setsockopt(fd, option).map(|()| 0)
            }
            "getsockopt" => {
                let fd = self.fd(args.first())?;
                return self.getsockopt(fd, arg(2), arg(3), expect);
            }
            "poll" => return self.poll_call(args, expect),
            _ => return Err(format!("unknown call {name}")),
        };
        check(name, result, expect)
    }

    fn getsockopt(
        &mut self,
        fd: Fd,
        option: &str,
        value: &str,
        expect: &Expect,
    ) -> Result<(), String> {
        if option == "TCP_INFO" {
            let info = self.stack.tcp_info(fd);
            let result = info.map(|_| 0);
            check("getsockopt", result, expect)?;
            if let Ok(info) = info {
                check_tcp_info(&info, value)?;
            }
            return Ok(());
        }
        let name = match option {
            "SO_ERROR" => SockOptName::Error,
            "SO_KEEPALIVE" => SockOptName::KeepAlive,
            "SO_RCVBUF" => SockOptName::RcvBuf,
            "SO_SNDBUF" => SockOptName::SndBuf,
            "TCP_NODELAY" => SockOptName::NoDelay,
            "TCP_KEEPIDLE" => SockOptName::KeepIdle,
            "TCP_KEEPINTVL" => SockOptName::KeepIntvl,
            "TCP_KEEPCNT" => SockOptName::KeepCnt,
            other => return Err(format!("getsockopt: unknown option {other}")),
        };
        let result = self.stack.getsockopt(fd, name);
        check("getsockopt", result.map(|_| 0), expect)?;
        if let Ok(got) = result {
            let want = bracketed(value)?;
            let want = errno_value(want).map_or_else(
                || {
                    want.parse::<i64>()
                        .map_err(|_| format!("getsockopt: bad value {value}"))
                },
                Ok,
            )?;
            if got != want {
                return Err(format!("getsockopt {option}: got {got}, expected {want}"));
            }
        }
        Ok(())
    }

    /// `poll([{fd=N, events=POLLIN|..., revents=...}], 1, 0) = count`,
    /// through an epoll descriptor made for the call.
    fn poll_call(&mut self, args: &[String], expect: &Expect) -> Result<(), String> {
        let list = args.first().ok_or("poll: no descriptor list")?;
        let entry = bracketed(list)?;
        let fields = braced_fields(entry)?;
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let fd = self.fd(get("fd").map(str::to_string).as_ref())?;
        let events = poll_bits(get("events").ok_or("poll: no events")?)?;
        let revents = poll_bits(get("revents").unwrap_or("0"))?;
        let epoll = self
            .stack
            .epoll_create()
            .map_err(|e| format!("epoll_create: {e}"))?;
        self.stack
            .epoll_ctl(epoll, CtlOp::Add, fd, EpollEvent { events, data: 0 })
            .map_err(|e| format!("epoll_ctl: {e}"))?;
        let mut out = [EpollEvent::default(); 1];
        let ready = self.stack.epoll_ready(epoll, &mut out);
        self.stack
            .close(epoll)
            .map_err(|e| format!("close epoll: {e}"))?;
        let ready = ready.map_err(|e| format!("epoll: {e}"))?;
        let got = if ready == 0 { 0 } else { out[0].events };
        check("poll", Ok(ready as i64), expect)?;
        if got != revents {
            return Err(format!("poll: revents {got:#x}, expected {revents:#x}"));
        }
        Ok(())
    }

    fn assert_counter(&self, counter: &str, op: &str, value: u64) -> Result<(), String> {
        let (layer, field) = counter.split_once('.').ok_or("counter is layer.name")?;
        let stats = self.stack.stats();
        let got = stats
            .layers()
            .into_iter()
            .find(|(l, _)| *l == layer)
            .and_then(|(_, fields)| fields.into_iter().find(|(f, _)| *f == field))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("no counter {counter}"))?;
        let holds = match op {
            "==" => got == value,
            "!=" => got != value,
            ">=" => got >= value,
            "<=" => got <= value,
            ">" => got > value,
            _ => got < value,
        };
        if holds {
            Ok(())
        } else {
            Err(format!("assert {counter} {op} {value}: it is {got}"))
        }
    }

    fn describe(&self, segment: &TcpFrame, options: &[WireOption]) -> String {
        let isn = self.flow.stack_isn.unwrap_or(segment.seq);
        let seq = segment.seq.wrapping_sub(isn);
        let len = segment.payload.len() as u32;
        let mut text = format!(
            "{} {}:{}({}) ack {} win {}",
            flag_text(segment.flags),
            seq,
            seq.wrapping_add(len),
            len,
            segment.ack.wrapping_sub(PEER_ISN),
            segment.window
        );
        if !options.is_empty() {
            let base = self.flow.stack_ts_base;
            let items: Vec<String> = options
                .iter()
                .map(|o| match o {
                    WireOption::Mss(m) => format!("mss {m}"),
                    WireOption::WindowScale(s) => format!("wscale {s}"),
                    WireOption::SackPermitted => "sackOK".into(),
                    WireOption::Timestamps(v, e) => match base {
                        Some(b) => format!("TS val {} ecr {e}", v.wrapping_sub(b)),
                        None => format!("TS val (raw) {v} ecr {e}"),
                    },
                    WireOption::Sack(blocks) => {
                        let blocks: Vec<String> = blocks
                            .iter()
                            .map(|(l, r)| {
                                format!("{}:{}", l.wrapping_sub(PEER_ISN), r.wrapping_sub(PEER_ISN))
                            })
                            .collect();
                        format!("sack {}", blocks.join(" "))
                    }
                    WireOption::Unknown(kind) => format!("option {kind}"),
                })
                .collect();
            text.push_str(&format!(" <{}>", items.join(",")));
        }
        text
    }
}

/// The stream offset of a segment's first data byte.
fn stream_offset(spec: &SegmentSpec) -> u64 {
    let syn = u32::from(spec.flags & SYN != 0);
    u64::from(spec.seq.wrapping_add(syn).wrapping_sub(1))
}

fn value_of(expect: &Expect) -> i64 {
    match expect {
        Expect::Value(v) => *v,
        Expect::Errno(_) => -1,
    }
}

fn check(name: &str, result: Result<i64, Errno>, expect: &Expect) -> Result<(), String> {
    match (result, expect) {
        (Ok(got), Expect::Value(want)) if got == *want => Ok(()),
        (Err(errno), Expect::Errno(want)) if format!("{errno:?}") == *want => Ok(()),
        (got, _) => Err(format!("{name} returned {got:?}, expected {expect:?}")),
    }
}

fn flag_text(flags: u8) -> String {
    let mut text = String::new();
    for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (PSH, 'P'), (ACK, '.')] {
        if flags & bit != 0 {
            text.push(c);
        }
    }
    text
}

fn describe_spec(spec: &SegmentSpec) -> String {
    let mut text = format!(
        "{} {}:{}({})",
        flag_text(spec.flags),
        spec.seq,
        spec.seq.wrapping_add(spec.len),
        spec.len
    );
    if let Some(ack) = spec.ack {
        text.push_str(&format!(" ack {ack}"));
    }
    if let Some(win) = spec.win {
        text.push_str(&format!(" win {win}"));
    }
    if let Some(options) = &spec.options {
        text.push_str(&format!(" {options:?}"));
    }
    text
}

fn bracketed(text: &str) -> Result<&str, String> {
    text.trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| format!("expected [value], got {text:?}"))
}

/// `{a=1, b=X}` as (name, value) pairs.
fn braced_fields(text: &str) -> Result<Vec<(String, String)>, String> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("expected {{...}}, got {text:?}"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|field| {
            field
                .split_once('=')
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("field without '=': {field:?}"))
        })
        .collect()
}

fn errno_value(name: &str) -> Option<i64> {
    use Errno::*;
    let all = [
        EAGAIN,
        ECONNRESET,
        ETIMEDOUT,
        ECONNREFUSED,
        EPIPE,
        ENOTCONN,
        EHOSTUNREACH,
        ENETUNREACH,
        EINVAL,
        EISCONN,
        EALREADY,
        EINPROGRESS,
        ENOBUFS,
        EADDRINUSE,
    ];
    all.into_iter()
        .find(|e| format!("{e:?}") == name)
        .map(|e| i64::from(e.code()))
}

fn poll_bits(text: &str) -> Result<u32, String> {
    use dpstack::epoll::*;
    let mut bits = 0;
    for name in text.split('|').map(str::trim) {
        bits |= match name {
            "0" => 0,
            "POLLIN" => EPOLLIN,
            "POLLOUT" => EPOLLOUT,
            "POLLERR" => EPOLLERR,
            "POLLHUP" => EPOLLHUP,
            "POLLRDHUP" => EPOLLRDHUP,
            other => return Err(format!("unknown poll bit {other}")),
        };
    }
    Ok(bits)
}

fn sock_opt(name: &str, value: &str) -> Result<SockOpt, String> {
    let number = || -> Result<u32, String> {
        bracketed(value)?
            .parse()
            .map_err(|_| format!("setsockopt {name}: bad value {value}"))
    };
    Ok(match name {
        "SO_REUSEADDR" => SockOpt::ReuseAddr(number()? != 0),
        "SO_KEEPALIVE" => SockOpt::KeepAlive(number()? != 0),
        "SO_RCVBUF" => SockOpt::RcvBuf(number()? as usize),
        "SO_SNDBUF" => SockOpt::SndBuf(number()? as usize),
        "TCP_NODELAY" => SockOpt::NoDelay(number()? != 0),
        "TCP_KEEPIDLE" => SockOpt::KeepIdle(number()?),
        "TCP_KEEPINTVL" => SockOpt::KeepIntvl(number()?),
        "TCP_KEEPCNT" => SockOpt::KeepCnt(number()?),
        "SO_LINGER" => {
            let fields = braced_fields(value)?;
            let get = |k: &str| -> Result<u32, String> {
                fields
                    .iter()
                    .find(|(n, _)| n == k)
                    .ok_or_else(|| format!("SO_LINGER without {k}"))?
                    .1
                    .parse()
                    .map_err(|_| format!("SO_LINGER: bad {k}"))
            };
            SockOpt::Linger(if get("onoff")? != 0 {
                Some(get("linger")?)
            } else {
                None
            })
        }
        "TCP_CONGESTION" => {
            let algorithm = value.trim().trim_matches('"');
            SockOpt::Congestion(
                Algorithm::from_name(algorithm)
                    .ok_or_else(|| format!("unknown congestion control {algorithm:?}"))?,
            )
        }
        other => return Err(format!("setsockopt: unknown option {other}")),
    })
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Closed => "TCP_CLOSE",
        State::Listen => "TCP_LISTEN",
        State::SynSent => "TCP_SYN_SENT",
        State::SynReceived => "TCP_SYN_RECV",
        State::Established => "TCP_ESTABLISHED",
        State::FinWait1 => "TCP_FIN_WAIT1",
        State::FinWait2 => "TCP_FIN_WAIT2",
        State::CloseWait => "TCP_CLOSE_WAIT",
        State::Closing => "TCP_CLOSING",
        State::LastAck => "TCP_LAST_ACK",
        State::TimeWait => "TCP_TIME_WAIT",
    }
}

/// Checks each `tcpi_*=value` of `{...}` against `info`.
fn check_tcp_info(info: &TcpInfo, text: &str) -> Result<(), String> {
    for (name, want) in braced_fields(text)? {
        let got: String = match name.as_str() {
            "tcpi_state" => state_name(info.state).into(),
            "tcpi_backoff" => info.backoff.to_string(),
            "tcpi_rto" => (info.rto.as_nanos() / 1_000).to_string(),
            "tcpi_snd_mss" => info.snd_mss.to_string(),
            "tcpi_rcv_mss" => info.rcv_mss.to_string(),
            "tcpi_snd_cwnd" => info.snd_cwnd.to_string(),
            "tcpi_snd_ssthresh" => info.snd_ssthresh.to_string(),
            "tcpi_snd_wnd" => info.snd_wnd.to_string(),
            "tcpi_unacked" => info.unacked_bytes.div_ceil(info.snd_mss.max(1)).to_string(),
            other => return Err(format!("TCP_INFO: unknown field {other}")),
        };
        if got != want {
            return Err(format!("TCP_INFO {name}: got {got}, expected {want}"));
        }
    }
    Ok(())
}
