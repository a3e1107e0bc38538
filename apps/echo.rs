//! dpstack-echo: echoes UDP datagrams and TCP streams back to their
//! sender, on dpstack. (The epoll trigger modes arrive with the epoll layer.)

use clap::Parser;
use dpstack::device::Device;
use dpstack::runtime::{
    announce_ready, print_summary, run_app, DeviceUser, IdleBackoff, NetOptions, RunControl, Stack,
    SummaryValue,
};
use dpstack::tcp::{TcpError, TcpHandle};
use dpstack::time::{Clock, MonotonicClock};
use dpstack::udp::{UdpError, UdpHandle, MAX_DATAGRAM};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;

/// UDP and TCP echo server on dpstack.
#[derive(Parser, Debug)]
#[command(name = "dpstack-echo", version)]
struct Args {
    #[command(flatten)]
    net: NetOptions,
    /// UDP port to echo datagrams on.
    #[arg(long)]
    udp_port: Option<u16>,
    /// TCP port to echo streams on.
    #[arg(long)]
    tcp_port: Option<u16>,
    /// Listen backlog of the TCP port.
    #[arg(long, default_value_t = 1024)]
    backlog: usize,
}

#[derive(Default)]
struct Counts {
    echoed: u64,
    echoed_bytes: u64,
    socket_errors: u64,
    tcp_accepted: u64,
    tcp_echoed_bytes: u64,
    tcp_closed: u64,
}

/// One TCP connection: bytes read and not yet sent back.
struct Conn {
    handle: TcpHandle,
    pending: Vec<u8>,
    sent: usize,
    eof: bool,
}

struct Echo<'a> {
    args: &'a Args,
    control: RunControl,
}

impl DeviceUser for Echo<'_> {
    type Output = Result<(), String>;

    fn run<D: Device>(self, device: D) -> Result<(), String> {
        if self.args.udp_port.is_none() && self.args.tcp_port.is_none() {
            return Err("give --udp-port, --tcp-port or both".into());
        }
        let config = self.args.net.stack_config()?;
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        let udp = match self.args.udp_port {
            Some(port) => {
                let socket = stack.udp_open();
                stack
                    .udp_bind(socket, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
                    .map_err(|e| format!("cannot bind UDP port {port}: {e}"))?;
                Some(socket)
            }
            None => None,
        };
        let listener = match self.args.tcp_port {
            Some(port) => Some(
                stack
                    .tcp_listen(port, self.args.backlog)
                    .map_err(|e| format!("cannot listen on TCP port {port}: {e}"))?,
            ),
            None => None,
        };
        announce_ready(&self.args.net, &stack.device().capabilities());

        let mut counts = Counts::default();
        let mut udp_state = UdpEcho {
            buf: vec![0u8; MAX_DATAGRAM],
            held: None,
        };
        let mut conns: Vec<Conn> = Vec::new();
        let mut backoff = IdleBackoff::default();
        while self.control.keep_running() {
            let mut busy = stack.poll();
            if let Some(socket) = udp {
                busy |= udp_state.turn(&mut stack, socket, &mut counts);
            }
            if let Some(listener) = listener {
                busy |= tcp_turn(&mut stack, listener, &mut conns, &mut counts);
            }
            backoff.turn(busy);
        }
        print_summary(
            "dpstack-echo",
            self.args.net.json,
            &stack.stats(),
            &[
                ("echoed", SummaryValue::Count(counts.echoed)),
                ("echoed_bytes", SummaryValue::Count(counts.echoed_bytes)),
                ("socket_errors", SummaryValue::Count(counts.socket_errors)),
                ("tcp_accepted", SummaryValue::Count(counts.tcp_accepted)),
                (
                    "tcp_echoed_bytes",
                    SummaryValue::Count(counts.tcp_echoed_bytes),
                ),
                ("tcp_closed", SummaryValue::Count(counts.tcp_closed)),
            ],
        );
        Ok(())
    }
}

struct UdpEcho {
    buf: Vec<u8>,
    /// A datagram received but not yet queued for sending (send queue full).
    held: Option<(usize, SocketAddrV4)>,
}

impl UdpEcho {
    fn turn<D: Device, C: Clock>(
        &mut self,
        stack: &mut Stack<D, C>,
        socket: UdpHandle,
        counts: &mut Counts,
    ) -> bool {
        let mut busy = false;
        loop {
            let (len, from) = match self.held.take() {
                Some(datagram) => datagram,
                None => match stack.udp_recv_from(socket, &mut self.buf) {
                    Ok(datagram) => datagram,
                    Err(UdpError::WouldBlock) => break,
                    Err(_) => {
                        // An ICMP error reported on the socket; nothing to echo.
                        counts.socket_errors += 1;
                        continue;
                    }
                },
            };
            busy = true;
            match stack.udp_send_to(socket, &self.buf[..len], Some(from)) {
                Ok(_) => {
                    counts.echoed += 1;
                    counts.echoed_bytes += len as u64;
                }
                Err(UdpError::WouldBlock) => {
                    self.held = Some((len, from));
                    break;
                }
                Err(_) => counts.socket_errors += 1,
            }
        }
        busy
    }
}

/// Accepts what waits, echoes what arrived, closes what ended.
fn tcp_turn<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    listener: TcpHandle,
    conns: &mut Vec<Conn>,
    counts: &mut Counts,
) -> bool {
    let mut busy = false;
    while let Ok((handle, _)) = stack.tcp_accept(listener) {
        counts.tcp_accepted += 1;
        busy = true;
        conns.push(Conn {
            handle,
            pending: Vec::with_capacity(64 * 1024),
            sent: 0,
            eof: false,
        });
    }
    conns.retain_mut(|conn| {
        let (progress, keep) = echo_conn(stack, conn, counts);
        busy |= progress;
        if !keep {
            counts.tcp_closed += 1;
            // A connection that failed is already gone on the stack's side.
            let _ = stack.tcp_close(conn.handle);
        }
        keep
    });
    busy
}

/// Moves bytes from the receive side back out; (made progress, keep open).
fn echo_conn<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    conn: &mut Conn,
    counts: &mut Counts,
) -> (bool, bool) {
    let mut progress = false;
    loop {
        // `pending[sent..]` is still to send.
        if conn.sent < conn.filled() {
            match stack.tcp_send(conn.handle, &conn.pending[conn.sent..conn.filled()]) {
                Ok(n) => {
                    conn.sent += n;
                    counts.tcp_echoed_bytes += n as u64;
                    progress = true;
                }
                Err(TcpError::WouldBlock) => return (progress, true),
                Err(_) => return (true, false),
            }
            if conn.sent < conn.filled() {
                return (progress, true);
            }
        }
        if conn.eof {
            return (progress, false);
        }
        conn.reset();
        let capacity = conn.pending.capacity();
        conn.pending.resize(capacity, 0);
        match stack.tcp_recv(conn.handle, &mut conn.pending) {
            Ok(0) => {
                conn.pending.clear();
                conn.eof = true;
            }
            Ok(n) => {
                conn.pending.truncate(n);
                progress = true;
            }
            Err(TcpError::WouldBlock) => {
                conn.pending.clear();
                return (progress, true);
            }
            Err(_) => return (true, false),
        }
    }
}

impl Conn {
    fn filled(&self) -> usize {
        self.pending.len()
    }

    fn reset(&mut self) {
        self.pending.clear();
        self.sent = 0;
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_app("dpstack-echo", &args.net, |control| Echo {
        args: &args,
        control,
    })
}
