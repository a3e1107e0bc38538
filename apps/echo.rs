//! dpstack-echo: echoes UDP datagrams back to their sender, on dpstack.
//! (TCP echo and the epoll trigger modes arrive with the TCP and epoll layers.)

use clap::Parser;
use dpstack::device::Device;
use dpstack::runtime::{
    announce_ready, run_app, DeviceUser, IdleBackoff, NetOptions, RunControl, Stack,
};
use dpstack::time::MonotonicClock;
use dpstack::udp::{UdpError, MAX_DATAGRAM};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;

/// UDP echo server on dpstack.
#[derive(Parser, Debug)]
#[command(name = "dpstack-echo", version)]
struct Args {
    #[command(flatten)]
    net: NetOptions,
    /// UDP port to echo on.
    #[arg(long)]
    udp_port: u16,
}

#[derive(Default)]
struct Counts {
    echoed: u64,
    echoed_bytes: u64,
    socket_errors: u64,
}

struct Echo<'a> {
    args: &'a Args,
    control: RunControl,
}

impl DeviceUser for Echo<'_> {
    type Output = Result<(), String>;

    fn run<D: Device>(self, device: D) -> Result<(), String> {
        let config = self.args.net.stack_config()?;
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        let socket = stack.udp_open();
        stack
            .udp_bind(
                socket,
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, self.args.udp_port),
            )
            .map_err(|e| format!("cannot bind UDP port {}: {e}", self.args.udp_port))?;
        announce_ready(&self.args.net, &stack.device().capabilities());

        let mut counts = Counts::default();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        // A datagram received but not yet queued for sending (send queue full).
        let mut held: Option<(usize, SocketAddrV4)> = None;
        let mut backoff = IdleBackoff::default();
        while self.control.keep_running() {
            let mut busy = stack.poll();
            loop {
                let (len, from) = match held.take() {
                    Some(datagram) => datagram,
                    None => match stack.udp_recv_from(socket, &mut buf) {
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
                match stack.udp_send_to(socket, &buf[..len], Some(from)) {
                    Ok(_) => {
                        counts.echoed += 1;
                        counts.echoed_bytes += len as u64;
                    }
                    Err(UdpError::WouldBlock) => {
                        held = Some((len, from));
                        break;
                    }
                    Err(_) => counts.socket_errors += 1,
                }
            }
            backoff.turn(busy);
        }
        print_summary(&self.args.net, &stack, &counts);
        Ok(())
    }
}

fn print_summary<D: Device, C: dpstack::time::Clock>(
    net: &NetOptions,
    stack: &Stack<D, C>,
    counts: &Counts,
) {
    let stats = stack.stats();
    if net.json {
        let mut summary = stats.to_json();
        summary["echoed"] = counts.echoed.into();
        summary["echoed_bytes"] = counts.echoed_bytes.into();
        summary["socket_errors"] = counts.socket_errors.into();
        println!("{summary}");
    } else {
        let mut line = format!(
            "dpstack-echo: echoed={} echoed_bytes={} socket_errors={}",
            counts.echoed, counts.echoed_bytes, counts.socket_errors
        );
        for (layer, fields) in stats.layers() {
            for (name, value) in fields.into_iter().filter(|(_, v)| *v != 0) {
                line.push_str(&format!(" {layer}.{name}={value}"));
            }
        }
        println!("{line}");
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_app("dpstack-echo", &args.net, |control| Echo {
        args: &args,
        control,
    })
}
