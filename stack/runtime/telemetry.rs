//! Live telemetry: what a running stack holds (every layer's counters,
//! the connections as `ss` lists them, the neighbour table), read from
//! outside the process while it serves.
//!
//! Each core's [`Stack`] gets a mailbox when it is ready. A reader (the
//! Unix-socket server here, or DPDK's telemetry thread through
//! `dpdk::telemetry`) leaves a query in every core's mailbox and waits; the
//! core answers at its next poll turn, so the data path never takes a lock
//! and pays one relaxed load per turn. A core that does not answer within
//! the timeout (stopped, or stuck in a long call) is left out of the reply.
//!
//! Commands, the same on both transports: `/dpstack/stats` (the counters
//! summed over the cores), `/dpstack/tcp/connections`, `/dpstack/arp`,
//! `/dpstack/cores`.

use super::Stack;
use crate::device::Device;
use crate::iface::arp::Neighbour;
use crate::stats::StackStats;
use crate::tcp::listing::ConnectionInfo;
use crate::time::Clock;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The commands telemetry answers, with what each returns.
pub const COMMANDS: [(&str, &str); 4] = [
    (
        "/dpstack/stats",
        "every layer's counters, summed over the cores",
    ),
    (
        "/dpstack/tcp/connections",
        "TCP listeners, connections and TIME-WAIT pairs, as ss -tan",
    ),
    (
        "/dpstack/arp",
        "the neighbour table of each core, as ip neigh",
    ),
    (
        "/dpstack/cores",
        "each core: its lcore, connections and packets",
    ),
];

/// How long a reader waits for the cores.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// What a reader asks a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// Counters, and how many connections the core holds.
    Stats,
    /// The connection listing.
    Connections,
    /// The neighbour table.
    Arp,
}

/// A core's answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Counters and the number of connections (TIME-WAIT included).
    Stats(Box<StackStats>, usize),
    /// Every listener, connection and TIME-WAIT pair.
    Connections(Vec<ConnectionInfo>),
    /// Every neighbour entry.
    Arp(Vec<Neighbour>),
}

/// One core's answers, with which core gave them.
#[derive(Debug, Clone)]
pub struct CoreAnswer {
    /// The core's index among the app's cores.
    pub core: usize,
    /// The DPDK lcore it runs on, if any.
    pub lcore: Option<u32>,
    /// What it said.
    pub answer: Answer,
}

type Request = (Query, mpsc::Sender<Answer>);

/// A core's mailbox: queries waiting for its next poll turn.
pub struct Mailbox {
    core: usize,
    lcore: Option<u32>,
    pending: AtomicBool,
    requests: Mutex<Vec<Request>>,
}

impl Mailbox {
    /// True when a query waits: one relaxed load, checked every poll turn.
    pub fn has_query(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    fn take(&self) -> Vec<Request> {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        self.pending.store(false, Ordering::Relaxed);
        std::mem::take(&mut *requests)
    }
}

fn mailboxes() -> &'static Mutex<Vec<Arc<Mailbox>>> {
    static MAILBOXES: OnceLock<Mutex<Vec<Arc<Mailbox>>>> = OnceLock::new();
    MAILBOXES.get_or_init(|| Mutex::new(Vec::new()))
}

/// A mailbox for core `core` (replacing any earlier one of that index).
pub fn register_core(core: usize, lcore: Option<u32>) -> Arc<Mailbox> {
    let mailbox = Arc::new(Mailbox {
        core,
        lcore,
        pending: AtomicBool::new(false),
        requests: Mutex::new(Vec::new()),
    });
    let mut all = mailboxes().lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|m| m.core != core);
    all.push(mailbox.clone());
    all.sort_by_key(|m| m.core);
    mailbox
}

/// Asks every registered core `query` and waits up to `timeout` for all
/// of them; the answers of those that replied, in core order.
pub fn ask(query: Query, timeout: Duration) -> Vec<CoreAnswer> {
    let cores: Vec<Arc<Mailbox>> = mailboxes()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let waiting: Vec<(Arc<Mailbox>, mpsc::Receiver<Answer>)> = cores
        .into_iter()
        .map(|mailbox| {
            let (tx, rx) = mpsc::channel();
            mailbox
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((query, tx));
            mailbox.pending.store(true, Ordering::Relaxed);
            (mailbox, rx)
        })
        .collect();
    let deadline = std::time::Instant::now() + timeout;
    waiting
        .into_iter()
        .filter_map(|(mailbox, rx)| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            rx.recv_timeout(left).ok().map(|answer| CoreAnswer {
                core: mailbox.core,
                lcore: mailbox.lcore,
                answer,
            })
        })
        .collect()
}

impl<D: Device, C: Clock> Stack<D, C> {
    /// Answers telemetry queries at this stack's poll turns.
    pub fn attach_telemetry(&mut self, mailbox: Arc<Mailbox>) {
        self.telemetry = Some(mailbox);
    }

    /// Answers the queries waiting in the mailbox (called by `poll` when
    /// one is there).
    pub(super) fn answer_telemetry(&mut self, mailbox: &Mailbox) {
        let now = self.clock.now();
        for (query, reply) in mailbox.take() {
            let answer = match query {
                Query::Stats => {
                    Answer::Stats(Box::new(self.stats()), self.sockets.tcp.connection_count())
                }
                Query::Connections => Answer::Connections(self.sockets.tcp.connections()),
                Query::Arp => Answer::Arp(self.iface.arp_cache().neighbours(now)),
            };
            // The reader may have given up waiting: nothing to do then.
            let _ = reply.send(answer);
        }
    }
}

fn duration_us(d: Option<crate::time::Duration>) -> Value {
    d.map_or(Value::Null, |d| json!(d.as_nanos() / 1_000))
}

/// One connection as JSON.
pub fn connection_json(core: usize, c: &ConnectionInfo) -> Value {
    json!({
        "core": core,
        "local": c.local.to_string(),
        "remote": c.remote.to_string(),
        "state": c.state.name(),
        "recv_q": c.recv_queued,
        "send_q": c.send_queued,
        "rtt_us": duration_us(c.rtt),
        "rto_us": c.rto.as_nanos() / 1_000,
        "cwnd": c.cwnd,
        "mss": c.mss,
        "backoff": c.backoff,
    })
}

/// One neighbour as JSON.
pub fn neighbour_json(core: usize, n: &Neighbour) -> Value {
    json!({
        "core": core,
        "ip": n.ip.to_string(),
        "mac": n.mac.map_or(Value::Null, |m| json!(m.to_string())),
        "state": n.state.name(),
    })
}

/// Every core's counters summed: (totals, cores that answered, connections).
pub fn total_stats() -> (StackStats, usize, usize) {
    let answers = ask(Query::Stats, ANSWER_TIMEOUT);
    let mut total = StackStats::default();
    let mut connections = 0;
    for a in &answers {
        if let Answer::Stats(stats, count) = &a.answer {
            total.add(stats);
            connections += count;
        }
    }
    (total, answers.len(), connections)
}

/// Runs `command` against the cores; the reply as JSON, or `None` for an
/// unknown command.
pub fn answer_command(command: &str) -> Option<Value> {
    let command = command.trim();
    Some(match command {
        "/" | "" => json!(COMMANDS.iter().map(|(c, _)| *c).collect::<Vec<_>>()),
        "/dpstack/stats" => {
            let (total, cores, connections) = total_stats();
            let mut value = total.to_json();
            value["cores"] = json!(cores);
            value["connections"] = json!(connections);
            value
        }
        "/dpstack/cores" => Value::Array(
            ask(Query::Stats, ANSWER_TIMEOUT)
                .iter()
                .filter_map(|a| match &a.answer {
                    Answer::Stats(stats, count) => Some(json!({
                        "core": a.core,
                        "lcore": a.lcore,
                        "connections": count,
                        "rx_packets": stats.device.rx_packets,
                        "tx_packets": stats.device.tx_packets,
                    })),
                    _ => None,
                })
                .collect(),
        ),
        "/dpstack/tcp/connections" => Value::Array(
            ask(Query::Connections, ANSWER_TIMEOUT)
                .iter()
                .flat_map(|a| match &a.answer {
                    Answer::Connections(list) => {
                        list.iter().map(|c| connection_json(a.core, c)).collect()
                    }
                    _ => Vec::new(),
                })
                .collect(),
        ),
        "/dpstack/arp" => Value::Array(
            ask(Query::Arp, ANSWER_TIMEOUT)
                .iter()
                .flat_map(|a| match &a.answer {
                    Answer::Arp(list) => list.iter().map(|n| neighbour_json(a.core, n)).collect(),
                    _ => Vec::new(),
                })
                .collect(),
        ),
        _ => return None,
    })
}

/// The Unix socket a process serves telemetry on by default.
pub fn default_socket_path() -> PathBuf {
    PathBuf::from(format!("/run/dpstack/dpstack-{}.sock", std::process::id()))
}

/// Serves telemetry on a Unix stream socket until the process ends; the
/// socket file goes when the returned guard drops. Protocol: one command
/// per connection, a line such as `/dpstack/stats`; the reply is one line
/// of JSON (an `error` object for an unknown command), then the server
/// closes.
pub fn serve_unix(path: &Path) -> std::io::Result<SocketGuard> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A file left by a process that died is in the way; a live server's
    // socket is refused.
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("{} is served by another process", path.display()),
        ));
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::thread::Builder::new()
        .name("dpstack-telemetry".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                // One short line: a client cannot make the server hold more.
                let mut reader = BufReader::new((&mut stream).take(4096));
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                drop(reader);
                let reply = answer_command(&line).unwrap_or_else(|| {
                    json!({"error": format!("unknown command {:?}", line.trim()), "commands": COMMANDS.iter().map(|(c, _)| *c).collect::<Vec<_>>()})
                });
                let _ = writeln!(stream, "{reply}");
            }
        })?;
    Ok(SocketGuard {
        path: path.to_path_buf(),
    })
}

/// Removes the telemetry socket file when dropped.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::pipe::PipeConfig;
    use crate::runtime::{pipe_stacks, StackConfig};
    use crate::socket::SockType;
    use crate::tcp::State;
    use crate::time::ManualClock;
    use std::net::{Ipv4Addr, SocketAddrV4};

    #[test]
    fn a_query_is_answered_at_the_next_poll_turn_and_rendered() {
        let ip = Ipv4Addr::new(10, 9, 0, 1);
        let (mut a, _b) = pipe_stacks(
            StackConfig::seeded(ip, 24, 1),
            StackConfig::seeded(Ipv4Addr::new(10, 9, 0, 2), 24, 2),
            ManualClock::new(),
            &PipeConfig::default(),
        );
        let listener = a.socket(SockType::Stream).unwrap();
        a.bind(listener, SocketAddrV4::new(ip, 80)).unwrap();
        a.listen(listener, 16).unwrap();
        // The only core this test binary registers.
        a.attach_telemetry(register_core(7, Some(3)));
        let reader = std::thread::spawn(|| {
            (
                ask(Query::Connections, Duration::from_secs(10)),
                answer_command("/dpstack/cores"),
                answer_command("/dpstack/nonsense"),
            )
        });
        while !reader.is_finished() {
            a.poll();
            std::thread::sleep(Duration::from_millis(1));
        }
        let (answers, cores, unknown) = reader.join().unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!((answers[0].core, answers[0].lcore), (7, Some(3)));
        let Answer::Connections(list) = &answers[0].answer else {
            panic!("a listing");
        };
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].state, list[0].local.port()), (State::Listen, 80));
        let cores = cores.expect("a known command");
        assert_eq!(cores[0]["core"], 7);
        assert_eq!(cores[0]["lcore"], 3);
        assert!(unknown.is_none());
    }
}
