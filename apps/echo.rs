//! dpstack-echo: echoes UDP datagrams and TCP streams back to their
//! sender: one epoll reactor on dpstack's socket API, level- or
//! edge-triggered (`--trigger`), or async/await tasks on `dpstack::exec`
//! (`--trigger async`: a task per connection). The edge-triggered reactor
//! accepts and reads until EAGAIN, as an ET reactor must.

use clap::{Parser, ValueEnum};
use dpstack::device::Device;
use dpstack::epoll::{EpollEvent, EPOLLET, EPOLLIN};
use dpstack::runtime::{
    print_cores_summary, run_cores_app, summed_counts, Core, CoreSummary, CoreUser, NetOptions,
    Stack,
};
use dpstack::socket::{Fd, SockOpt, SockType};
use dpstack::time::{Duration, MonotonicClock};
use echo_reactor::Reactor;
use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;

mod echo_async;
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
    /// TCP port to echo streams on, or a range P-Q of ports (at most
    /// 1,024), one listener each: a client gets about 28,000 ephemeral
    /// ports towards each.
    #[arg(long, value_parser = parse_port_range)]
    tcp_port: Option<(u16, u16)>,
    /// Listen backlog of each TCP port.
    #[arg(long, default_value_t = 1024)]
    backlog: usize,
    /// Keepalive on accepted TCP connections: IDLE:INTERVAL:COUNT (seconds,
    /// seconds, probes), as TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT.
    #[arg(long, value_parser = parse_keepalive)]
    keepalive: Option<(u32, u32, u32)>,
    /// epoll mode: level-triggered, edge-triggered, or async/await tasks
    /// (one per connection) on the stack's executor.
    #[arg(long, value_enum, default_value_t = Trigger::Lt)]
    trigger: Trigger,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Lt,
    Et,
    Async,
}

struct Echo<'a> {
    args: &'a Args,
}

/// The figures each core reports, summed over the cores for the total.
const FIGURES: [&str; 7] = [
    "echoed",
    "echoed_bytes",
    "socket_errors",
    "tcp_accepted",
    "tcp_echoed_bytes",
    "tcp_closed",
    "tcp_failed",
];

/// One reactor per core: each core listens on the same ports (per-core
/// listeners) and echoes the flows steered to it.
impl CoreUser for Echo<'_> {
    type Output = CoreSummary;

    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<CoreSummary, String> {
        let args = self.args;
        let config = core.stack_config(args.net.stack_config()?);
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
                .bind(fd, SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port))
                .map_err(|e| format!("cannot bind UDP port {port}: {e}"))?;
            reactor
                .watch(&mut stack, fd, EPOLLIN)
                .map_err(|e| e.to_string())?;
            reactor.udp = Some(fd);
        }
        if let Some((first, last)) = args.tcp_port {
            for port in first..=last {
                let fd = listen(&mut stack, port, args)?;
                reactor
                    .watch(&mut stack, fd, EPOLLIN)
                    .map_err(|e| e.to_string())?;
                reactor.listeners.push(fd);
            }
        }
        core.ready(&args.net, &mut stack);
        if args.trigger == Trigger::Async {
            return echo_async::run(core, stack, reactor.listeners, reactor.udp, &FIGURES);
        }

        let mut events = vec![EpollEvent::default(); 256];
        while core.control().keep_running() {
            // A short timeout keeps the stop flag checked while idle.
            let n = stack
                .epoll_wait(epfd, &mut events, Some(Duration::from_millis(50)))
                .map_err(|e| e.to_string())?;
            reactor.dispatch(&mut stack, &events[..n]);
        }
        let c = &reactor.counts;
        let counts = [
            c.echoed,
            c.echoed_bytes,
            c.socket_errors,
            c.tcp_accepted,
            c.tcp_echoed_bytes,
            c.tcp_closed,
            c.tcp_failed,
        ];
        Ok(CoreSummary::of_counts(stack.stats(), &FIGURES, &counts))
    }
}

/// A TCP listener on `port` with the backlog and keepalive `args` ask for.
fn listen<D: Device>(
    stack: &mut Stack<D, MonotonicClock>,
    port: u16,
    args: &Args,
) -> Result<Fd, String> {
    let fd = stack.socket(SockType::Stream).map_err(|e| e.to_string())?;
    stack
        .bind(fd, SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port))
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
    Ok(fd)
}

/// Most ports one `--tcp-port` range may hold.
const MAX_PORT_RANGE: u32 = 1024;

/// `P` or `P-Q` (inclusive, P <= Q, at most `MAX_PORT_RANGE` ports).
fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port (0-65535)"))
    };
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (port(first)?, port(last)?),
        None => (port(text)?, port(text)?),
    };
    if first > last {
        return Err(format!("{text}: the range's first port is above its last"));
    }
    if u32::from(last - first) + 1 > MAX_PORT_RANGE {
        return Err(format!("{text}: at most {MAX_PORT_RANGE} ports"));
    }
    Ok((first, last))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.udp_port.is_none() && args.tcp_port.is_none() {
        eprintln!("dpstack-echo: give --udp-port, --tcp-port or both");
        return ExitCode::FAILURE;
    }
    run_cores_app(
        "dpstack-echo",
        &args.net,
        |_| Echo { args: &args },
        |_, cores| {
            let totals = summed_counts(&cores, &FIGURES);
            print_cores_summary("dpstack-echo", args.net.json, &totals, &cores);
            Ok(())
        },
    )
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

#[cfg(test)]
mod tests {
    use super::parse_port_range;

    #[test]
    fn port_ranges_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_port_range("7"), Ok((7, 7)));
        assert_eq!(parse_port_range("7-10"), Ok((7, 10)));
        assert_eq!(parse_port_range("1000-2023"), Ok((1000, 2023)));
        for bad in ["", "x", "7-", "-7", "10-7", "1000-2024", "70000", "1-2-3"] {
            assert!(parse_port_range(bad).is_err(), "{bad:?}");
        }
    }
}
