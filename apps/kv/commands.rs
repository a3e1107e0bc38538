//! The commands: what `redis-cli` and `redis-benchmark` send, on the
//! store. Arity and syntax errors, wrong numbers and unknown commands get
//! the error replies Redis gives.

use crate::resp::Reply;
use crate::store::{Store, WriteError};

/// What the connection does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Read the next one.
    Continue,
    /// Close once the reply is sent (`QUIT`).
    Close,
}

/// Figures `INFO` reports.
pub struct Info {
    /// Connections open on this reactor.
    pub clients: usize,
    /// Commands served so far.
    pub commands: u64,
    /// The memory limit, in bytes.
    pub max_memory: usize,
}

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

fn integer(arg: &[u8]) -> Option<i64> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

fn wrong_arity(reply: &mut Reply<'_>, name: &str) {
    reply.error(&format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ));
}

/// Runs one command at `now` (ms) and writes its reply.
pub fn run(
    args: &[Vec<u8>],
    store: &mut Store,
    now: u64,
    info: &Info,
    reply: &mut Reply<'_>,
) -> After {
    let Some(first) = args.first() else {
        // An empty request (a blank inline line) gets nothing, as in Redis.
        return After::Continue;
    };
    let name = upper(first);
    let argc = args.len();
    let arity_ok = match name.as_str() {
        "PING" => argc <= 2,
        "ECHO" | "GET" | "INCR" | "DECR" | "TTL" | "PTTL" | "PERSIST" | "KEYS" => argc == 2,
        "SET" => argc >= 3,
        "DEL" | "EXISTS" | "MGET" => argc >= 2,
        "INCRBY" | "DECRBY" | "EXPIRE" | "PEXPIRE" => argc == 3,
        "MSET" => argc >= 3 && argc % 2 == 1,
        "DBSIZE" | "QUIT" => argc == 1,
        "FLUSHALL" | "FLUSHDB" => argc <= 2,
        "SCAN" | "RANGE" => argc >= 2,
        "CONFIG" | "CLIENT" | "SELECT" => argc >= 2,
        "COMMAND" | "INFO" => true,
        _ => {
            reply.error(&format!(
                "ERR unknown command '{}', with args beginning with: {}",
                String::from_utf8_lossy(first),
                args[1..]
                    .iter()
                    .take(3)
                    .map(|a| format!("'{}' ", String::from_utf8_lossy(a)))
                    .collect::<String>()
            ));
            return After::Continue;
        }
    };
    if !arity_ok {
        wrong_arity(reply, &name);
        return After::Continue;
    }
    match name.as_str() {
        "PING" => match args.get(1) {
            Some(message) => reply.bulk(message),
            None => reply.simple("PONG"),
        },
        "ECHO" => reply.bulk(&args[1]),
        "QUIT" => {
            reply.simple("OK");
            return After::Close;
        }
        "GET" => match store.get(&args[1], now) {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        },
        "SET" => set(args, store, now, reply),
        "DEL" => {
            let removed = args[1..].iter().filter(|k| store.delete(k, now)).count();
            reply.integer(removed as i64);
        }
        "EXISTS" => {
            let found = args[1..].iter().filter(|k| store.exists(k, now)).count();
            reply.integer(found as i64);
        }
        "INCR" => add(&args[1], 1, store, now, reply),
        "DECR" => add(&args[1], -1, store, now, reply),
        "INCRBY" | "DECRBY" => match integer(&args[2]) {
            Some(by) if name == "INCRBY" => add(&args[1], by, store, now, reply),
            Some(by) => match by.checked_neg() {
                Some(by) => add(&args[1], by, store, now, reply),
                None => reply.error(NOT_INTEGER),
            },
            None => reply.error(NOT_INTEGER),
        },
        "MGET" => {
            reply.array(argc - 1);
            for key in &args[1..] {
                match store.get(key, now) {
                    Some(value) => reply.bulk(value),
                    None => reply.null(),
                }
            }
        }
        "MSET" => {
            for pair in args[1..].chunks(2) {
                if store.set(&pair[0], &pair[1], None, false, now) == Err(WriteError::OutOfMemory) {
                    reply.error(OOM);
                    return After::Continue;
                }
            }
            reply.simple("OK");
        }
        "EXPIRE" | "PEXPIRE" => match integer(&args[2]) {
            Some(amount) => {
                let ms = if name == "EXPIRE" {
                    amount.saturating_mul(1000)
                } else {
                    amount
                };
                let done = if ms <= 0 {
                    store.delete(&args[1], now)
                } else {
                    store.set_expiry(&args[1], Some(now.saturating_add(ms as u64)), now)
                };
                reply.integer(i64::from(done));
            }
            None => reply.error(NOT_INTEGER),
        },
        "TTL" | "PTTL" => reply.integer(match store.expiry(&args[1], now) {
            None => -2,
            Some(None) => -1,
            Some(Some(at)) => {
                let left = at.saturating_sub(now);
                if name == "TTL" {
                    left.div_ceil(1000) as i64
                } else {
                    left as i64
                }
            }
        }),
        "PERSIST" => {
            let had = matches!(store.expiry(&args[1], now), Some(Some(_)));
            reply.integer(i64::from(had && store.set_expiry(&args[1], None, now)));
        }
        "DBSIZE" => {
            store.expire(now);
            reply.integer(store.len() as i64);
        }
        "FLUSHALL" | "FLUSHDB" => {
            store.clear();
            reply.simple("OK");
        }
        "KEYS" => {
            store.expire(now);
            let (keys, _) = store.scan(None, usize::MAX, Some(&args[1]), now);
            reply.array(keys.len());
            for key in keys {
                reply.bulk(key);
            }
        }
        "SCAN" => scan(args, store, now, reply),
        "RANGE" => range(args, store, now, reply),
        "SELECT" => match integer(&args[1]) {
            Some(0) => reply.simple("OK"),
            Some(_) => reply.error("ERR DB index is out of range"),
            None => reply.error(NOT_INTEGER),
        },
        "CONFIG" => config(args, info, reply),
        "CLIENT" => match upper(&args[1]).as_str() {
            "SETNAME" | "SETINFO" | "NO-EVICT" | "NO-TOUCH" | "REPLY" => reply.simple("OK"),
            "GETNAME" => reply.null(),
            "ID" => reply.integer(1),
            other => reply.error(&format!("ERR unknown subcommand '{other}'")),
        },
        // Command introspection is not offered: an empty table, which
        // redis-cli takes as "no hints".
        "COMMAND" => reply.array(0),
        "INFO" => {
            let text = format!(
                "# Server\r\nredis_version:7.0.0\r\ndpstack_kv:1\r\n# Clients\r\nconnected_clients:{}\r\n# Memory\r\nused_memory:{}\r\nmaxmemory:{}\r\n# Stats\r\ntotal_commands_processed:{}\r\n# Keyspace\r\ndb0:keys={},expires=0\r\n",
                info.clients,
                store.used_memory(),
                info.max_memory,
                info.commands,
                store.len()
            );
            reply.bulk(text.as_bytes());
        }
        _ => unreachable!("arity table covers every name"),
    }
    After::Continue
}

/// `SET key value [EX s | PX ms] [NX | XX] [KEEPTTL]`.
fn set(args: &[Vec<u8>], store: &mut Store, now: u64, reply: &mut Reply<'_>) {
    let (mut expires_at, mut nx, mut xx, mut keep_ttl) = (None, false, false, false);
    let mut i = 3;
    while i < args.len() {
        match upper(&args[i]).as_str() {
            unit @ ("EX" | "PX") if i + 1 < args.len() && expires_at.is_none() && !keep_ttl => {
                let Some(amount) = integer(&args[i + 1]).filter(|n| *n > 0) else {
                    reply.error("ERR invalid expire time in 'set' command");
                    return;
                };
                let ms = if unit == "EX" {
                    amount.saturating_mul(1000)
                } else {
                    amount
                };
                expires_at = Some(now.saturating_add(ms as u64));
                i += 2;
            }
            "NX" if !xx => {
                nx = true;
                i += 1;
            }
            "XX" if !nx => {
                xx = true;
                i += 1;
            }
            "KEEPTTL" if expires_at.is_none() => {
                keep_ttl = true;
                i += 1;
            }
            _ => {
                reply.error("ERR syntax error");
                return;
            }
        }
    }
    let exists = store.exists(&args[1], now);
    if (nx && exists) || (xx && !exists) {
        reply.null();
        return;
    }
    match store.set(&args[1], &args[2], expires_at, keep_ttl, now) {
        Ok(()) => reply.simple("OK"),
        Err(WriteError::OutOfMemory) => reply.error(OOM),
    }
}

/// `INCR`/`DECR`/`INCRBY`: the value as a 64-bit integer, plus `by`.
fn add(key: &[u8], by: i64, store: &mut Store, now: u64, reply: &mut Reply<'_>) {
    let current = match store.get(key, now) {
        None => 0,
        Some(value) => match integer(value) {
            Some(n) => n,
            None => return reply.error(NOT_INTEGER),
        },
    };
    let Some(next) = current.checked_add(by) else {
        return reply.error("ERR increment or decrement would overflow");
    };
    let expiry = store.expiry(key, now).flatten();
    match store.set(key, next.to_string().as_bytes(), expiry, false, now) {
        Ok(()) => reply.integer(next),
        Err(WriteError::OutOfMemory) => reply.error(OOM),
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT n]`: the cursor is `0` to start and
/// to end; between, the hex of the last key walked (keys are in order).
fn scan(args: &[Vec<u8>], store: &mut Store, now: u64, reply: &mut Reply<'_>) {
    let after = match args[1].as_slice() {
        b"0" => None,
        cursor => match cursor.strip_prefix(b"k").and_then(decode_hex) {
            Some(key) => Some(key),
            None => return reply.error("ERR invalid cursor"),
        },
    };
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = 2;
    while i + 1 < args.len() {
        match upper(&args[i]).as_str() {
            "MATCH" => pattern = Some(args[i + 1].as_slice()),
            "COUNT" => match integer(&args[i + 1]).filter(|n| *n > 0) {
                Some(n) => count = n.min(100_000) as usize,
                None => return reply.error(NOT_INTEGER),
            },
            _ => return reply.error("ERR syntax error"),
        }
        i += 2;
    }
    if i != args.len() {
        return reply.error("ERR syntax error");
    }
    let (keys, last) = store.scan(after.as_deref(), count, pattern, now);
    reply.array(2);
    match last {
        Some(key) => {
            let mut cursor = b"k".to_vec();
            cursor.extend(key.iter().flat_map(|b| format!("{b:02x}").into_bytes()));
            reply.bulk(&cursor);
        }
        None => reply.bulk(b"0"),
    }
    reply.array(keys.len());
    for key in keys {
        reply.bulk(key);
    }
}

fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// `RANGE start end [LIMIT n]`: the keys from `start` to `end` inclusive,
/// in byte order, each followed by its value (at most 1,000 pairs unless
/// LIMIT says otherwise).
fn range(args: &[Vec<u8>], store: &mut Store, now: u64, reply: &mut Reply<'_>) {
    let limit = match args.len() {
        3 => 1_000,
        5 if upper(&args[3]) == "LIMIT" => match integer(&args[4]).filter(|n| *n >= 0) {
            Some(n) => n.min(1_000_000) as usize,
            None => return reply.error(NOT_INTEGER),
        },
        _ => return reply.error("ERR syntax error: RANGE start end [LIMIT n]"),
    };
    let pairs = store.range(&args[1], &args[2], limit, now);
    reply.array(pairs.len() * 2);
    for (key, value) in pairs {
        reply.bulk(key);
        reply.bulk(value);
    }
}

/// `CONFIG GET name`: what redis-benchmark asks (save, appendonly) and
/// maxmemory; `CONFIG SET` is refused.
fn config(args: &[Vec<u8>], info: &Info, reply: &mut Reply<'_>) {
    match (upper(&args[1]).as_str(), args.get(2)) {
        ("GET", Some(name)) => {
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            let value = match name.as_str() {
                "save" => Some(String::new()),
                "appendonly" => Some("no".to_string()),
                "maxmemory" => Some(info.max_memory.to_string()),
                "databases" => Some("1".to_string()),
                _ => None,
            };
            match value {
                Some(value) => {
                    reply.array(2);
                    reply.bulk(name.as_bytes());
                    reply.bulk(value.as_bytes());
                }
                None => reply.array(0),
            }
        }
        ("GET", None) => wrong_arity(reply, "config|get"),
        (sub, _) => reply.error(&format!("ERR CONFIG {sub} is not supported by dpstack-kv")),
    }
}
