//! dpstack-kv: a key-value server speaking RESP2 (Redis's protocol) on
//! dpstack, so `redis-cli` and `redis-benchmark` drive it. One
//! edge-triggered epoll reactor on one lcore, on purpose: every command
//! runs to completion against one key space with no lock, and the order
//! of a connection's pipelined commands is the order they run (a second
//! core would need a second key space, or locks on the data path).
//! Keys live in a B-tree (ordered: range queries and SCAN walk them in
//! order), values in a size-class pool, under a `--maxmemory` bound; keys
//! expire; idle clients are closed after `--idle-timeout`.

mod commands;
mod resp;
mod store;

use clap::Parser;
use commands::{After, Info};
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use dpstack::runtime::{
    print_cores_summary, run_cores_app, summed_counts, Core, CoreSummary, CoreUser, NetOptions,
    Stack,
};
use dpstack::socket::{Errno, Fd, SockType};
use dpstack::time::{Clock, Duration, MonotonicClock};
use dpstack::timer::IdleTimeouts;
use resp::{Limits, Parsed, Reply};
use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use store::Store;

/// A RESP2 key-value server on dpstack.
#[derive(Parser, Debug)]
#[command(name = "dpstack-kv", version)]
struct Args {
    #[command(flatten)]
    net: NetOptions,
    /// TCP port to serve on.
    #[arg(long, default_value_t = 6379)]
    listen_port: u16,
    /// Listen backlog.
    #[arg(long, default_value_t = 1024)]
    backlog: usize,
    /// Bytes of keys, values and entries held at most; writes past it get
    /// an OOM error.
    #[arg(long, default_value_t = 256 << 20)]
    maxmemory: usize,
    /// Longest value (bulk string) accepted, in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    max_bulk: usize,
    /// Close a client after this many seconds without a command; 0: never.
    #[arg(long, default_value_t = 0)]
    idle_timeout: u64,
}

/// Replies held for a client that is not reading: past this, its
/// requests wait unread (TCP's window then slows it).
const MAX_PENDING_OUTPUT: usize = 1 << 20;

#[derive(Default)]
struct Counts {
    accepted: u64,
    commands: u64,
    protocol_errors: u64,
    idle_closed: u64,
}

struct Client {
    input: Vec<u8>,
    output: Vec<u8>,
    sent: usize,
    closing: bool,
    peer_done: bool,
}

struct Server<'a> {
    store: Store,
    limits: Limits,
    max_request: usize,
    counts: Counts,
    scratch: Vec<u8>,
    args: &'a Args,
}

enum Outcome {
    Open,
    Close,
}

impl Server<'_> {
    /// Reads, runs and answers what a client sent, until it would block.
    fn serve<D: Device, C: Clock>(
        &mut self,
        stack: &mut Stack<D, C>,
        fd: Fd,
        client: &mut Client,
        clients: usize,
        now: u64,
    ) -> Outcome {
        loop {
            // Send what is pending.
            while client.sent < client.output.len() {
                match stack.send(fd, &client.output[client.sent..], 0) {
                    Ok(n) => client.sent += n,
                    Err(Errno::EAGAIN) => break,
                    Err(_) => return Outcome::Close,
                }
            }
            if client.sent == client.output.len() {
                client.output.clear();
                client.sent = 0;
                if client.closing || (client.peer_done && client.input.is_empty()) {
                    return Outcome::Close;
                }
            }
            if client.closing || client.output.len() > MAX_PENDING_OUTPUT {
                return Outcome::Open;
            }
            // Run every whole request buffered.
            let mut consumed = 0;
            let mut ran = false;
            while !client.closing && client.output.len() <= MAX_PENDING_OUTPUT {
                match resp::parse(&client.input[consumed..], &self.limits) {
                    Parsed::Incomplete => break,
                    Parsed::Error(message) => {
                        self.counts.protocol_errors += 1;
                        Reply(&mut client.output).error(&format!("ERR {message}"));
                        client.closing = true;
                    }
                    Parsed::Request { args, len } => {
                        consumed += len;
                        ran = true;
                        self.counts.commands += 1;
                        let info = Info {
                            clients,
                            commands: self.counts.commands,
                            max_memory: self.args.maxmemory,
                        };
                        let mut reply = Reply(&mut client.output);
                        if commands::run(&args, &mut self.store, now, &info, &mut reply)
                            == After::Close
                        {
                            client.closing = true;
                        }
                    }
                }
            }
            client.input.drain(..consumed);
            if ran || client.closing {
                continue;
            }
            if client.input.len() > self.max_request {
                self.counts.protocol_errors += 1;
                Reply(&mut client.output).error("ERR Protocol error: request too large");
                client.closing = true;
                continue;
            }
            if client.peer_done {
                return Outcome::Open;
            }
            // Read more.
            match stack.recv(fd, &mut self.scratch, 0) {
                Ok(0) => client.peer_done = true,
                Ok(n) => client.input.extend_from_slice(&self.scratch[..n]),
                Err(Errno::EAGAIN) => return Outcome::Open,
                Err(_) => return Outcome::Close,
            }
        }
    }
}

struct Kv<'a> {
    args: &'a Args,
}

const FIGURES: [&str; 5] = [
    "accepted",
    "commands",
    "protocol_errors",
    "idle_closed",
    "keys",
];

impl CoreUser for Kv<'_> {
    type Output = CoreSummary;

    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<CoreSummary, String> {
        if core.count() > 1 {
            return Err("dpstack-kv runs one reactor on one lcore (one key space, no locks): give EAL one lcore".into());
        }
        let args = self.args;
        let config = core.stack_config(args.net.stack_config()?);
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        let port = args.listen_port;
        let listener = stack
            .socket(SockType::Stream)
            .and_then(|fd| {
                stack.bind(fd, SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port))?;
                stack.listen(fd, args.backlog)?;
                Ok(fd)
            })
            .map_err(|e| format!("cannot listen on TCP port {port}: {e}"))?;
        let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
        let watch = |fd: Fd, events: u32| EpollEvent {
            events: events | EPOLLET,
            data: fd as u64,
        };
        stack
            .epoll_ctl(epfd, CtlOp::Add, listener, watch(listener, EPOLLIN))
            .map_err(|e| e.to_string())?;
        core.ready(&args.net, &mut stack);
        let mut server = Server {
            store: Store::new(args.maxmemory, args.max_bulk),
            limits: Limits {
                max_bulk: args.max_bulk,
                max_args: 1 << 20,
                max_inline: 64 << 10,
            },
            max_request: args.max_bulk.saturating_mul(2).saturating_add(1 << 20),
            counts: Counts::default(),
            scratch: vec![0; 64 << 10],
            args,
        };
        let mut clients: HashMap<Fd, Client> = HashMap::new();
        let mut idle = (args.idle_timeout > 0)
            .then(|| IdleTimeouts::new(Duration::from_secs(args.idle_timeout)));
        let mut expired = Vec::new();
        let mut events = vec![EpollEvent::default(); 256];
        while core.control().keep_running() {
            let n = stack
                .epoll_wait(epfd, &mut events, Some(Duration::from_millis(50)))
                .map_err(|e| e.to_string())?;
            let now = stack.now();
            let now_ms = now.as_nanos() / 1_000_000;
            server.store.expire(now_ms);
            if let Some(idle) = idle.as_mut() {
                idle.expire(now, &mut expired);
                for fd in expired.drain(..) {
                    clients.remove(&fd);
                    server.counts.idle_closed += 1;
                    let _ = stack.close(fd);
                }
            }
            for event in &events[..n] {
                let fd = event.data as Fd;
                if fd == listener {
                    while let Ok((conn, _)) = stack.accept(listener) {
                        server.counts.accepted += 1;
                        let interest = watch(conn, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
                        if stack.epoll_ctl(epfd, CtlOp::Add, conn, interest).is_err() {
                            let _ = stack.close(conn);
                            continue;
                        }
                        clients.insert(
                            conn,
                            Client {
                                input: Vec::new(),
                                output: Vec::new(),
                                sent: 0,
                                closing: false,
                                peer_done: false,
                            },
                        );
                        if let Some(idle) = idle.as_mut() {
                            idle.insert(conn, now);
                        }
                    }
                    continue;
                }
                let open = clients.len();
                let Some(client) = clients.get_mut(&fd) else {
                    continue;
                };
                if let Some(idle) = idle.as_mut() {
                    idle.touch(fd, now);
                }
                if let Outcome::Close = server.serve(&mut stack, fd, client, open, now_ms) {
                    clients.remove(&fd);
                    if let Some(idle) = idle.as_mut() {
                        idle.remove(fd);
                    }
                    let _ = stack.close(fd);
                }
            }
        }
        let c = &server.counts;
        let values = [
            c.accepted,
            c.commands,
            c.protocol_errors,
            c.idle_closed,
            server.store.len() as u64,
        ];
        Ok(CoreSummary::of_counts(stack.stats(), &FIGURES, &values))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_cores_app(
        "dpstack-kv",
        &args.net,
        |_| Kv { args: &args },
        |_, cores| {
            let totals = summed_counts(&cores, &FIGURES);
            print_cores_summary("dpstack-kv", args.net.json, &totals, &cores);
            Ok(())
        },
    )
}
