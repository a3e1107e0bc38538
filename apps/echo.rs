//! dpstack-echo: echoes UDP datagrams and TCP streams back to their
//! sender: one epoll reactor on dpstack's socket API, level- or
//! edge-triggered (`--trigger`). The edge-triggered reactor accepts and
//! reads until EAGAIN, as an ET reactor must.

use clap::{Parser, ValueEnum};
use dpstack::device::Device;
use dpstack::epoll::{EpollEvent, EPOLLET, EPOLLIN};
use dpstack::runtime::{
    announce_ready, print_summary, run_app, DeviceUser, NetOptions, RunControl, Stack, SummaryValue,
};
use dpstack::socket::{SockOpt, SockType};
use dpstack::time::{Duration, MonotonicClock};
use echo_reactor::Reactor;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;

mod echo_reactor;

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
    /// Keepalive on accepted TCP connections: IDLE:INTERVAL:COUNT (seconds,
    /// seconds, probes), as TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT.
    #[arg(long, value_parser = parse_keepalive)]
    keepalive: Option<(u32, u32, u32)>,
    /// epoll mode: level-triggered or edge-triggered.
    #[arg(long, value_enum, default_value_t = Trigger::Lt)]
    trigger: Trigger,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Lt,
    Et,
}

struct Echo<'a> {
    args: &'a Args,
    control: RunControl,
}

impl DeviceUser for Echo<'_> {
    type Output = Result<(), String>;

    fn run<D: Device>(self, device: D) -> Result<(), String> {
        let args = self.args;
        if args.udp_port.is_none() && args.tcp_port.is_none() {
            return Err("give --udp-port, --tcp-port or both".into());
        }
        let config = args.net.stack_config()?;
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
        let trigger = if args.trigger == Trigger::Et {
            EPOLLET
        } else {
            0
        };
        let mut reactor = Reactor::new(epfd, trigger);
        if let Some(port) = args.udp_port {
            let fd = stack.socket(SockType::Dgram).map_err(|e| e.to_string())?;
            stack
                .bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
                .map_err(|e| format!("cannot bind UDP port {port}: {e}"))?;
            reactor
                .watch(&mut stack, fd, EPOLLIN)
                .map_err(|e| e.to_string())?;
            reactor.udp = Some(fd);
        }
        if let Some(port) = args.tcp_port {
            let fd = stack.socket(SockType::Stream).map_err(|e| e.to_string())?;
            stack
                .bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
                .and_then(|()| stack.listen(fd, args.backlog))
                .map_err(|e| format!("cannot listen on TCP port {port}: {e}"))?;
            if let Some((idle, interval, count)) = args.keepalive {
                // Accepted connections inherit the listener's keepalive.
                [
                    SockOpt::KeepIdle(idle),
                    SockOpt::KeepIntvl(interval),
                    SockOpt::KeepCnt(count),
                    SockOpt::KeepAlive(true),
                ]
                .into_iter()
                .try_for_each(|option| stack.setsockopt(fd, option))
                .map_err(|e| format!("cannot set keepalive: {e}"))?;
            }
            reactor
                .watch(&mut stack, fd, EPOLLIN)
                .map_err(|e| e.to_string())?;
            reactor.listener = Some(fd);
        }
        announce_ready(&args.net, &stack.device().capabilities());

        let mut events = vec![EpollEvent::default(); 256];
        while self.control.keep_running() {
            // A short timeout keeps the stop flag checked while idle.
            let n = stack
                .epoll_wait(epfd, &mut events, Some(Duration::from_millis(50)))
                .map_err(|e| e.to_string())?;
            reactor.dispatch(&mut stack, &events[..n]);
        }
        let c = &reactor.counts;
        print_summary(
            "dpstack-echo",
            args.net.json,
            &stack.stats(),
            &[
                ("echoed", SummaryValue::Count(c.echoed)),
                ("echoed_bytes", SummaryValue::Count(c.echoed_bytes)),
                ("socket_errors", SummaryValue::Count(c.socket_errors)),
                ("tcp_accepted", SummaryValue::Count(c.tcp_accepted)),
                ("tcp_echoed_bytes", SummaryValue::Count(c.tcp_echoed_bytes)),
                ("tcp_closed", SummaryValue::Count(c.tcp_closed)),
                ("tcp_failed", SummaryValue::Count(c.tcp_failed)),
            ],
        );
        Ok(())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_app("dpstack-echo", &args.net, |control| Echo {
        args: &args,
        control,
    })
}

/// `IDLE:INTERVAL:COUNT`, each at least 1.
fn parse_keepalive(text: &str) -> Result<(u32, u32, u32), String> {
    let parts: Vec<u32> = text
        .split(':')
        .map(|part| part.parse::<u32>().map_err(|e| format!("{part:?}: {e}")))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [idle, interval, count] if idle > 0 && interval > 0 && count > 0 => {
            Ok((idle, interval, count))
        }
        _ => Err("expected IDLE:INTERVAL:COUNT, each at least 1".into()),
    }
}
