//! `dpstack-perf kv`: a RESP2 load client (the model of `redis-benchmark`)
//! on dpstack, so a key-value server such as `dpstack-kv` can be measured
//! with no kernel on the path. N connections each send a batch of
//! `--pipeline` commands (GET, SET or PING on random keys `key:NNNNNNNNNNNN`
//! of a key space, values of `--value-size` bytes), wait for every reply,
//! and send the next batch, for a set time. Replies are parsed: error
//! replies and malformed ones are counted, never taken for answers.

use crate::rr::{announce_connected, announce_done, connect_share, poll_turn, send_all, RrCore};
use dpstack::device::Device;
use dpstack::epoll::EpollEvent;
use dpstack::runtime::{Core, IdleBackoff, Stack, SummaryValue};
use dpstack::socket::Errno;
use dpstack::time::{Clock, Duration};
use std::net::SocketAddr;

/// The command a run sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KvCommand {
    /// `GET key`; every key of the space is SET once before the timed
    /// phase, so each GET finds a value.
    Get,
    /// `SET key value`.
    Set,
    /// `PING` (no key: the cost of the protocol and the stack alone).
    Ping,
}

/// What the run is asked to do.
pub struct KvOptions {
    /// The server.
    pub connect: SocketAddr,
    /// Connections, each with one batch outstanding.
    pub connections: usize,
    /// Commands per batch (redis-benchmark's `-P`).
    pub pipeline: usize,
    /// The command sent.
    pub command: KvCommand,
    /// Keys are drawn from `0..keys` (redis-benchmark's `-r`).
    pub keys: u64,
    /// Bytes of each SET value (redis-benchmark's `-d`).
    pub value_size: usize,
    /// How long to send once every connection is up.
    pub duration: Duration,
}

/// Batches of SETs that fill the key space before a GET run.
const FILL_BATCH: u64 = 256;

/// What one connection waits for.
#[derive(Default)]
struct Pending {
    /// Reply bytes received but not yet parsed (a reply split by segments).
    input: Vec<u8>,
    /// Replies still due for the batch in flight.
    replies: usize,
    /// When the batch was sent.
    sent_at: Option<std::time::Instant>,
}

/// A small xorshift generator: keys need spread, not quality, and the
/// client must not spend its time drawing them.
struct Keys {
    state: u64,
    space: u64,
}

impl Keys {
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % self.space
    }
}

/// Appends one RESP2 command (an array of bulk strings) to `out`.
fn push_command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends a batch of `count` `command`s on keys drawn from `keys`.
fn push_batch(out: &mut Vec<u8>, command: KvCommand, count: usize, keys: &mut Keys, value: &[u8]) {
    for _ in 0..count {
        let key = format!("key:{:012}", keys.next());
        match command {
            KvCommand::Get => push_command(out, &[b"GET", key.as_bytes()]),
            KvCommand::Set => push_command(out, &[b"SET", key.as_bytes(), value]),
            KvCommand::Ping => push_command(out, &[b"PING"]),
        }
    }
}

/// One whole reply at the start of `input`: its length in bytes and
/// whether it is an error reply; `Ok(None)` if it is not all there yet.
pub fn reply_length(input: &[u8]) -> Result<Option<(usize, bool)>, String> {
    let Some(kind) = input.first() else {
        return Ok(None);
    };
    let Some(line_end) = input.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let header = line_end + 2;
    let number = || -> Result<i64, String> {
        std::str::from_utf8(&input[1..line_end])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "a RESP length that is not a number".to_string())
    };
    match kind {
        b'+' | b':' => Ok(Some((header, false))),
        b'-' => Ok(Some((header, true))),
        b'$' => match number()? {
            -1 => Ok(Some((header, false))),
            n if n >= 0 => {
                let end = header + n as usize + 2;
                if input.len() < end {
                    Ok(None)
                } else if &input[end - 2..end] != b"\r\n" {
                    Err("a bulk string not ended by CRLF".into())
                } else {
                    Ok(Some((end, false)))
                }
            }
            _ => Err("a negative bulk length".into()),
        },
        b'*' => {
            let mut at = header;
            for _ in 0..number()?.max(0) {
                match reply_length(&input[at..])? {
                    Some((n, _)) => at += n,
                    None => return Ok(None),
                }
            }
            Ok(Some((at, false)))
        }
        other => Err(format!("a reply starting with byte {other:#04x}")),
    }
}

impl Pending {
    /// Reads what `fd` holds (until it would block) and takes every whole
    /// reply; returns how many, and how many of them were errors.
    fn receive<D: Device, C: Clock>(
        &mut self,
        stack: &mut Stack<D, C>,
        fd: dpstack::socket::Fd,
        buf: &mut [u8],
    ) -> Result<(usize, u64), String> {
        loop {
            match stack.recv(fd, buf, 0) {
                Ok(0) => return Err("the server closed".into()),
                Ok(got) => self.input.extend_from_slice(&buf[..got]),
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        take_replies(self)
    }
}

/// Takes every whole reply off the front of `pending.input`; returns how
/// many, and how many of them were errors.
fn take_replies(pending: &mut Pending) -> Result<(usize, u64), String> {
    let (mut at, mut replies, mut errors) = (0, 0, 0);
    while let Some((n, error)) = reply_length(&pending.input[at..])? {
        at += n;
        replies += 1;
        errors += u64::from(error);
    }
    pending.input.drain(..at);
    Ok((replies, errors))
}

/// Connects this core's share, fills the key space (GET runs), then sends
/// batches until `options.duration` has passed. Requests answered with an
/// error count in `failed`, not in `requests`.
pub fn run<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    core: &Core,
    options: &KvOptions,
) -> Result<RrCore, String> {
    let epfd = stack.epoll_create().map_err(|e| e.to_string())?;
    let (mine, conns) = connect_share(stack, core, epfd, options.connections, |_| options.connect)?;
    let mut pending: Vec<Pending> = conns.iter().map(|_| Pending::default()).collect();
    let mut events = vec![EpollEvent::default(); 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let mut batch = Vec::new();
    let value = vec![b'x'; options.value_size];
    let mut keys = Keys {
        state: 0x9E37_79B9_7F4A_7C15 ^ (core.index() as u64 + 1),
        space: options.keys.max(1),
    };
    if options.command == KvCommand::Get && core.index() == 0 && !conns.is_empty() {
        fill(stack, epfd, conns[0].fd, options, &value)?;
    }
    if !core.meet(|| stack.poll()) {
        return Err("stopped before every core was ready".into());
    }
    announce_connected(core);
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_nanos(options.duration.as_nanos());
    let send_batch = |stack: &mut Stack<D, C>,
                      j: usize,
                      pending: &mut Pending,
                      batch: &mut Vec<u8>,
                      keys: &mut Keys|
     -> Result<(), String> {
        batch.clear();
        push_batch(batch, options.command, options.pipeline, keys, &value);
        pending.replies = options.pipeline;
        pending.sent_at = Some(std::time::Instant::now());
        send_all(stack, conns[j].fd, batch)
    };
    for (j, p) in pending.iter_mut().enumerate() {
        send_batch(stack, j, p, &mut batch, &mut keys)?;
    }
    let (mut requests, mut failed) = (0u64, 0u64);
    let mut latencies: Vec<u32> = Vec::new();
    let mut backoff = IdleBackoff::default();
    while core.control().keep_running() && started.elapsed() < limit {
        let n = poll_turn(stack, epfd, &mut events, &mut backoff)?;
        for event in &events[..n] {
            let j = event.data as usize;
            let p = &mut pending[j];
            let (replies, errors) = p
                .receive(stack, conns[j].fd, &mut buf)
                .map_err(|e| format!("connection {}: {e}", mine[j]))?;
            if replies > p.replies {
                return Err(format!("connection {}: replies nobody asked for", mine[j]));
            }
            p.replies -= replies;
            requests += replies as u64 - errors;
            failed += errors;
            if p.replies == 0 {
                if let Some(sent) = p.sent_at {
                    let ns = sent.elapsed().as_nanos().min(u128::from(u32::MAX));
                    latencies.push(ns as u32);
                }
                send_batch(stack, j, p, &mut batch, &mut keys)?;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    announce_done(core);
    core.meet(|| stack.poll());
    for conn in &conns {
        let _ = stack.close(conn.fd);
    }
    Ok(RrCore {
        requests,
        failed,
        seconds,
        latencies,
    })
}

/// SETs every key of the space once on `fd`, `FILL_BATCH` at a time.
fn fill<D: Device, C: Clock>(
    stack: &mut Stack<D, C>,
    epfd: dpstack::socket::Fd,
    fd: dpstack::socket::Fd,
    options: &KvOptions,
    value: &[u8],
) -> Result<(), String> {
    let mut events = vec![EpollEvent::default(); 16];
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = Pending::default();
    let mut batch = Vec::new();
    let mut backoff = IdleBackoff::default();
    let mut next = 0u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while next < options.keys {
        let end = (next + FILL_BATCH).min(options.keys);
        batch.clear();
        for k in next..end {
            let key = format!("key:{k:012}");
            push_command(&mut batch, &[b"SET", key.as_bytes(), value]);
        }
        send_all(stack, fd, &batch)?;
        pending.replies = (end - next) as usize;
        while pending.replies > 0 {
            if std::time::Instant::now() > deadline {
                return Err("filling the key space took over 60 s".into());
            }
            poll_turn(stack, epfd, &mut events, &mut backoff)?;
            let (replies, errors) = pending
                .receive(stack, fd, &mut buf)
                .map_err(|e| format!("while the keys were set: {e}"))?;
            if errors > 0 {
                return Err("the server refused a SET while the keys were set".into());
            }
            pending.replies = pending.replies.saturating_sub(replies);
        }
        next = end;
    }
    Ok(())
}

/// The summary figures of kv over every core: requests answered, error
/// replies, seconds, requests per second and batch latency percentiles.
pub fn kv_figures(options: &KvOptions, cores: &mut [RrCore]) -> Vec<(&'static str, SummaryValue)> {
    let failed: u64 = cores.iter().map(|c| c.failed).sum();
    let rr = crate::rr::RrOptions {
        connect: options.connect,
        connections: options.connections,
        idle: 0,
        idle_ports: 1,
        size: 0,
        duration: options.duration,
    };
    let mut figures = crate::rr::rr_figures(&rr, cores);
    figures.retain(|(name, _)| *name != "idle");
    figures.push(("pipeline", SummaryValue::Count(options.pipeline as u64)));
    figures.push(("error_replies", SummaryValue::Count(failed)));
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_of_every_kind_are_measured_whole() {
        assert_eq!(reply_length(b"+OK\r\n"), Ok(Some((5, false))));
        assert_eq!(reply_length(b"-ERR no\r\n+OK"), Ok(Some((9, true))));
        assert_eq!(reply_length(b":42\r\n"), Ok(Some((5, false))));
        assert_eq!(reply_length(b"$3\r\nxxx\r\n"), Ok(Some((9, false))));
        assert_eq!(reply_length(b"$-1\r\n"), Ok(Some((5, false))));
        assert_eq!(
            reply_length(b"*2\r\n$1\r\na\r\n$-1\r\n"),
            Ok(Some((16, false)))
        );
    }

    #[test]
    fn a_reply_cut_by_a_segment_boundary_waits_for_the_rest() {
        for cut in [
            b"".as_slice(),
            b"+OK",
            b"$3\r\nxx",
            b"$3\r\nxxx\r",
            b"*2\r\n$1\r\na\r\n",
        ] {
            assert_eq!(reply_length(cut), Ok(None), "{cut:?}");
        }
    }

    #[test]
    fn malformed_replies_are_errors_not_answers() {
        assert!(reply_length(b"$x\r\n").is_err());
        assert!(reply_length(b"$-5\r\n").is_err());
        assert!(reply_length(b"$3\r\nxxxyz").is_err());
        assert!(reply_length(b"hello\r\n").is_err());
    }

    #[test]
    fn a_batch_is_pipelined_commands_in_resp() {
        let mut keys = Keys {
            state: 1,
            space: 10,
        };
        let mut out = Vec::new();
        push_batch(&mut out, KvCommand::Set, 2, &mut keys, b"ab");
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.matches("*3\r\n$3\r\nSET\r\n$16\r\nkey:0000000000")
                .count(),
            2
        );
        assert_eq!(text.matches("\r\n$2\r\nab\r\n").count(), 2);
        let mut pending = Pending {
            input: b"+OK\r\n-OOM\r\n+O".to_vec(),
            ..Pending::default()
        };
        assert_eq!(take_replies(&mut pending), Ok((2, 1)));
        assert_eq!(pending.input, b"+O");
    }
}
