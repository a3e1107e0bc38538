//! dpstack-httpd: a small HTTP/1.1 server with keep-alive on dpstack: one
//! edge-triggered epoll reactor on the socket API. `GET /bytes/N` streams
//! N bytes of the test pattern (generated as the send buffer drains, never
//! held whole); `GET /` returns a short page.

mod http_head;

use clap::Parser;
use dpstack::device::Device;
use dpstack::epoll::{CtlOp, EpollEvent, EPOLLET, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use dpstack::runtime::{
    fill_pattern, print_cores_summary, run_cores_app, summed_counts, Core, CoreSummary, CoreUser,
    NetOptions, Stack,
};
use dpstack::socket::{Errno, Fd, SockType};
use dpstack::time::{Clock, Duration, MonotonicClock};
use dpstack::timer::IdleTimeouts;
use http_head::{Parsed, RequestHead};
use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;

/// HTTP/1.1 server on dpstack.
#[derive(Parser, Debug)]
#[command(name = "dpstack-httpd", version)]
struct Args {
    #[command(flatten)]
    net: NetOptions,
    /// TCP port to serve on.
    #[arg(long, default_value_t = 80)]
    listen_port: u16,
    /// Listen backlog.
    #[arg(long, default_value_t = 1024)]
    backlog: usize,
    /// Close a connection after this many seconds without any event
    /// (no request, no progress sending); 0 keeps idle connections open.
    #[arg(long, default_value_t = 0)]
    idle_timeout: u64,
}

/// Longest request head accepted (request line and headers), in bytes.
const MAX_HEAD: usize = 16 * 1024;
/// Largest `/bytes/N` served: 1 TiB.
const MAX_BYTES: u64 = 1 << 40;
const INDEX: &str = "<!doctype html>\n<title>dpstack</title>\n<h1>dpstack-httpd</h1>\n<p>A userspace TCP/IP stack over DPDK. Try <a href=\"/bytes/1000000\">/bytes/1000000</a>.</p>\n";

#[derive(Default)]
struct Counts {
    accepted: u64,
    requests: u64,
    status_200: u64,
    status_errors: u64,
    body_bytes: u64,
    idle_closed: u64,
}

/// One connection: request bytes not yet parsed and the response in flight.
struct HttpConn {
    fd: Fd,
    inbuf: Vec<u8>,
    /// Status line, headers and (for small bodies) the body, then `head_sent` of it sent.
    head: Vec<u8>,
    head_sent: usize,
    /// Pattern body: next offset to send and total length.
    body_offset: u64,
    body_len: u64,
    close_after: bool,
    peer_done: bool,
}

enum Step {
    Progress,
    Idle,
    Close,
}

impl HttpConn {
    fn new(fd: Fd) -> Self {
        HttpConn {
            fd,
            inbuf: Vec::with_capacity(1024),
            head: Vec::new(),
            head_sent: 0,
            body_offset: 0,
            body_len: 0,
            close_after: false,
            peer_done: false,
        }
    }

    fn responding(&self) -> bool {
        self.head_sent < self.head.len() || self.body_offset < self.body_len
    }

    /// Sends what the response still holds.
    fn flush<D: Device, C: Clock>(
        &mut self,
        stack: &mut Stack<D, C>,
        counts: &mut Counts,
    ) -> Result<bool, Errno> {
        let mut progress = false;
        while self.head_sent < self.head.len() {
            match stack.send(self.fd, &self.head[self.head_sent..], 0) {
                Ok(n) => {
                    self.head_sent += n;
                    progress = true;
                }
                Err(Errno::EAGAIN) => return Ok(progress),
                Err(e) => return Err(e),
            }
        }
        while self.body_offset < self.body_len {
            // The body is made where it is sent from: in the send buffer.
            let n = usize::try_from(self.body_len - self.body_offset).unwrap_or(usize::MAX);
            let at = self.body_offset;
            let made = stack.send_in_place(self.fd, n, |first, second| {
                fill_pattern(at, first);
                fill_pattern(at + first.len() as u64, second);
                first.len() + second.len()
            });
            match made {
                Ok(sent) => {
                    self.body_offset += sent as u64;
                    counts.body_bytes += sent as u64;
                    progress = true;
                    if sent < n {
                        return Ok(progress);
                    }
                }
                Err(Errno::EAGAIN) => return Ok(progress),
                Err(e) => return Err(e),
            }
        }
        Ok(progress)
    }

    fn turn<D: Device, C: Clock>(&mut self, stack: &mut Stack<D, C>, counts: &mut Counts) -> Step {
        let mut progress = false;
        loop {
            match self.flush(stack, counts) {
                Ok(p) => progress |= p,
                Err(_) => return Step::Close,
            }
            if self.responding() {
                break;
            }
            if self.close_after {
                return Step::Close;
            }
            if self.parse_request(counts) {
                progress = true;
                continue;
            }
            if self.peer_done {
                return Step::Close;
            }
            // Read more of the next request.
            let room = MAX_HEAD - self.inbuf.len();
            let start = self.inbuf.len();
            self.inbuf.resize(start + room, 0);
            match stack.recv(self.fd, &mut self.inbuf[start..], 0) {
                Ok(0) => {
                    self.inbuf.truncate(start);
                    self.peer_done = true;
                }
                Ok(n) => {
                    self.inbuf.truncate(start + n);
                    progress = true;
                }
                Err(Errno::EAGAIN) => {
                    self.inbuf.truncate(start);
                    break;
                }
                Err(_) => return Step::Close,
            }
        }
        if progress {
            Step::Progress
        } else {
            Step::Idle
        }
    }

    /// Parses one complete request from `inbuf` into a response; false
    /// when the head is not complete yet.
    fn parse_request(&mut self, counts: &mut Counts) -> bool {
        let (len, head) = match http_head::parse(&self.inbuf, MAX_HEAD) {
            Parsed::Incomplete => return false,
            Parsed::TooLarge => {
                self.respond(431, "Request Header Fields Too Large", true, counts);
                return true;
            }
            Parsed::Malformed { len } => {
                counts.requests += 1;
                self.inbuf.drain(..len);
                self.respond(400, "Bad Request", true, counts);
                return true;
            }
            Parsed::Request { len, head } => (len, head),
        };
        counts.requests += 1;
        self.inbuf.drain(..len);
        let RequestHead {
            method,
            target,
            version,
            close,
            has_body,
        } = head;
        if !version.starts_with("HTTP/1.") {
            self.respond(505, "HTTP Version Not Supported", true, counts);
        } else if has_body {
            // Request bodies are not read: answer and close rather than misparse.
            self.respond(413, "Content Too Large", true, counts);
        } else if method != "GET" && method != "HEAD" {
            self.respond(405, "Method Not Allowed", true, counts);
        } else if target == "/" {
            self.head = response_head(200, "OK", "text/html", INDEX.len() as u64, close);
            if method == "GET" {
                self.head.extend_from_slice(INDEX.as_bytes());
            }
            self.head_sent = 0;
            self.close_after = close;
            counts.status_200 += 1;
        } else if let Some(n) = target
            .strip_prefix("/bytes/")
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n <= MAX_BYTES)
        {
            self.head = response_head(200, "OK", "application/octet-stream", n, close);
            self.head_sent = 0;
            self.body_offset = 0;
            self.body_len = if method == "GET" { n } else { 0 };
            self.close_after = close;
            counts.status_200 += 1;
        } else {
            self.respond(404, "Not Found", close, counts);
        }
        true
    }

    fn respond(&mut self, code: u16, reason: &str, close: bool, counts: &mut Counts) {
        let body = format!("{code} {reason}\n");
        self.head = response_head(code, reason, "text/plain", body.len() as u64, close);
        self.head.extend_from_slice(body.as_bytes());
        self.head_sent = 0;
        self.body_offset = 0;
        self.body_len = 0;
        self.close_after = close;
        counts.status_errors += 1;
    }
}

fn response_head(code: u16, reason: &str, content_type: &str, len: u64, close: bool) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nServer: dpstack-httpd\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: {}\r\n\r\n",
        if close { "close" } else { "keep-alive" }
    )
    .into_bytes()
}

struct Httpd<'a> {
    args: &'a Args,
}

/// The figures each core reports, summed over the cores for the total.
const FIGURES: [&str; 6] = [
    "accepted",
    "requests",
    "status_200",
    "status_errors",
    "body_bytes",
    "idle_closed",
];

/// One reactor per core, each with its own listener on the port.
impl CoreUser for Httpd<'_> {
    type Output = CoreSummary;

    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<CoreSummary, String> {
        let config = core.stack_config(self.args.net.stack_config()?);
        let mut stack = Stack::new(device, MonotonicClock::new(), config);
        let port = self.args.listen_port;
        let listener = stack
            .socket(SockType::Stream)
            .and_then(|fd| {
                stack.bind(fd, SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port))?;
                stack.listen(fd, self.args.backlog)?;
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
        core.ready(&self.args.net, &mut stack);
        let mut counts = Counts::default();
        let mut conns: HashMap<Fd, HttpConn> = HashMap::new();
        let mut events = vec![EpollEvent::default(); 256];
        let idle_timeout =
            (self.args.idle_timeout > 0).then(|| Duration::from_secs(self.args.idle_timeout));
        let mut idle = idle_timeout.map(IdleTimeouts::new);
        let mut expired = Vec::new();
        while core.control().keep_running() {
            // A short timeout keeps the stop flag checked while idle.
            let n = stack
                .epoll_wait(epfd, &mut events, Some(Duration::from_millis(50)))
                .map_err(|e| e.to_string())?;
            let now = stack.now();
            if let Some(idle) = idle.as_mut() {
                idle.expire(now, &mut expired);
                for fd in expired.drain(..) {
                    conns.remove(&fd);
                    counts.idle_closed += 1;
                    let _ = stack.close(fd);
                }
            }
            for event in &events[..n] {
                let fd = event.data as Fd;
                if fd == listener {
                    // Edge-triggered: accept until EAGAIN.
                    while let Ok((conn, _)) = stack.accept(listener) {
                        counts.accepted += 1;
                        let interest = watch(conn, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
                        if stack.epoll_ctl(epfd, CtlOp::Add, conn, interest).is_err() {
                            let _ = stack.close(conn);
                            continue;
                        }
                        conns.insert(conn, HttpConn::new(conn));
                        if let Some(idle) = idle.as_mut() {
                            idle.insert(conn, now);
                        }
                    }
                    continue;
                }
                let Some(conn) = conns.get_mut(&fd) else {
                    continue;
                };
                if let Some(idle) = idle.as_mut() {
                    idle.touch(fd, now);
                }
                if let Step::Close = conn.turn(&mut stack, &mut counts) {
                    conns.remove(&fd);
                    if let Some(idle) = idle.as_mut() {
                        idle.remove(fd);
                    }
                    // Closing a connection that already failed just frees the descriptor.
                    let _ = stack.close(fd);
                }
            }
        }
        let c = &counts;
        let values = [
            c.accepted,
            c.requests,
            c.status_200,
            c.status_errors,
            c.body_bytes,
            c.idle_closed,
        ];
        Ok(CoreSummary::of_counts(stack.stats(), &FIGURES, &values))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_cores_app(
        "dpstack-httpd",
        &args.net,
        |_| Httpd { args: &args },
        |_, cores| {
            let totals = summed_counts(&cores, &FIGURES);
            print_cores_summary("dpstack-httpd", args.net.json, &totals, &cores);
            Ok(())
        },
    )
}
