//! The script language: packetdrill's syntax for the subset dpstack's
//! runner understands. One event per line, `TIME EVENT`, where TIME is
//! absolute (`0.100`) or relative to the previous event (`+0.040`), and
//! EVENT is an inbound segment (`<`), an expected outbound segment (`>`),
//! a socket call with its expected result, or `%{ assert ... }%` on a
//! stack counter. `--name=value` lines before the first event set the
//! tolerance and the stack's TCP configuration. `//` starts a comment.

/// When an event happens, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Since the script's start.
    Absolute(u64),
    /// Since the previous event (its actual time, for an outbound segment).
    Relative(u64),
}

/// A TCP option as written between `<` and `>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOpt {
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
    /// `mss N`.
    Mss(u16),
    /// `wscale N`.
    WindowScale(u8),
    /// `sackOK`.
    SackPermitted,
    /// `TS val V ecr E` (`None`: `*`, not checked).
    Timestamps(Option<u32>, Option<u32>),
    /// `sack L:R L:R ...` (relative sequence numbers).
    Sack(Vec<(u32, u32)>),
}

/// A TCP segment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// Control bits (dpstack's `flags` values).
    pub flags: u8,
    /// Relative sequence number of the first byte.
    pub seq: u32,
    /// Payload length, in bytes.
    pub len: u32,
    /// Relative acknowledgment number, if written.
    pub ack: Option<u32>,
    /// Window field, if written.
    pub win: Option<u16>,
    /// Options, if a `<...>` list was written.
    pub options: Option<Vec<TcpOpt>>,
}

/// An ICMP error the peer's path sends to the stack about one of its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpSpec {
    /// ICMP type (3: destination unreachable, 11: time exceeded).
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// Next-hop MTU (fragmentation needed only).
    pub mtu: u16,
    /// The quoted segment: relative sequence number and length, as the stack sent it.
    pub quoted_seq: u32,
    /// Payload length of the quoted segment.
    pub quoted_len: u32,
}

/// A socket call's expected result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `= N`.
    Value(i64),
    /// `= -1 ENAME`.
    Errno(String),
}

/// One event of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `< ...`: a segment the peer sends.
    Inbound(SegmentSpec),
    /// `< icmp ...`: an ICMP error about a segment the stack sent.
    InboundIcmp(IcmpSpec),
    /// `> ...`: a segment the stack must send.
    Outbound(SegmentSpec),
    /// `name(args) = result`.
    Call {
        name: String,
        args: Vec<String>,
        expect: Expect,
    },
    /// `%{ assert layer.counter OP value }%`.
    Assert {
        counter: String,
        op: String,
        value: u64,
    },
}

/// An event and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 1-based line number.
    pub line: usize,
    /// When it happens.
    pub when: When,
    /// What happens.
    pub action: Action,
}

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// `--name=value` settings, in order.
    pub settings: Vec<(String, String)>,
    /// The events, in order.
    pub events: Vec<Event>,
}

/// Parses a whole script; errors name the line.
pub fn parse(text: &str) -> Result<Script, String> {
    let mut script = Script::default();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(setting) = line.strip_prefix("--") {
            if !script.events.is_empty() {
                return Err(format!(
                    "line {line_no}: settings come before the first event"
                ));
            }
            let (name, value) = setting
                .split_once('=')
                .ok_or_else(|| format!("line {line_no}: setting without '=': {line}"))?;
            script
                .settings
                .push((name.trim().into(), value.trim().into()));
            continue;
        }
        let event = parse_event(line).map_err(|e| format!("line {line_no}: {e}: {line}"))?;
        script.events.push(Event {
            line: line_no,
            when: event.0,
            action: event.1,
        });
    }
    Ok(script)
}

fn strip_comment(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

fn parse_event(line: &str) -> Result<(When, Action), String> {
    let (time, rest) = line
        .split_once(char::is_whitespace)
        .ok_or("no event after the time")?;
    let when = parse_time(time)?;
    let rest = rest.trim();
    let action = if let Some(segment) = rest.strip_prefix('<') {
        let segment = segment.trim();
        if let Some(icmp) = segment.strip_prefix("icmp") {
            Action::InboundIcmp(parse_icmp(icmp.trim())?)
        } else {
            Action::Inbound(parse_segment(segment)?)
        }
    } else if let Some(segment) = rest.strip_prefix('>') {
        Action::Outbound(parse_segment(segment.trim())?)
    } else if let Some(body) = rest.strip_prefix("%{") {
        parse_assert(body.strip_suffix("}%").ok_or("`%{` without `}%`")?)?
    } else {
        parse_call(rest)?
    };
    Ok((when, action))
}

/// Seconds with up to six decimals, to microseconds.
fn parse_time(text: &str) -> Result<When, String> {
    let (relative, number) = match text.strip_prefix('+') {
        Some(n) => (true, n),
        None => (false, text),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.len() > 6 {
        return Err(format!("time {text} finer than a microsecond"));
    }
    let whole: u64 = whole.parse().map_err(|_| format!("bad time {text}"))?;
    let fraction_us: u64 = if fraction.is_empty() {
        0
    } else {
        let digits: u64 = fraction.parse().map_err(|_| format!("bad time {text}"))?;
        digits * 10u64.pow(6 - fraction.len() as u32)
    };
    let us = whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction_us))
        .ok_or_else(|| format!("time {text} too large"))?;
    Ok(if relative {
        When::Relative(us)
    } else {
        When::Absolute(us)
    })
}

/// `FLAGS SEQ:END(LEN) [ack N] [win N] [<options>]`.
fn parse_segment(text: &str) -> Result<SegmentSpec, String> {
    use dpstack::tcp::segment::flags::*;
    let (head, options) = match text.find('<') {
        Some(at) => {
            let list = text[at + 1..]
                .trim_end()
                .strip_suffix('>')
                .ok_or("option list without '>'")?;
            (&text[..at], Some(parse_options(list)?))
        }
        None => (text, None),
    };
    let mut words = head.split_whitespace();
    let flag_text = words.next().ok_or("no flags")?;
    let mut flags = 0;
    for c in flag_text.chars() {
        flags |= match c {
            'S' => SYN,
            'F' => FIN,
            'R' => RST,
            'P' => PSH,
            '.' => ACK,
            _ => return Err(format!("unknown flag {c:?}")),
        };
    }
    let range = words.next().ok_or("no sequence range")?;
    let (seq, len) = parse_range(range)?;
    let mut spec = SegmentSpec {
        flags,
        seq,
        len,
        ack: None,
        win: None,
        options,
    };
    while let Some(word) = words.next() {
        let value = words
            .next()
            .ok_or_else(|| format!("{word} without a value"))?;
        match word {
            "ack" => spec.ack = Some(number(value)?),
            "win" => spec.win = Some(number(value)?),
            _ => return Err(format!("unknown field {word}")),
        }
    }
    Ok(spec)
}

/// `START:END(LEN)`, checking that END - START = LEN.
fn parse_range(text: &str) -> Result<(u32, u32), String> {
    let (start, rest) = text.split_once(':').ok_or("range without ':'")?;
    let (end, len) = rest.split_once('(').ok_or("range without '(len)'")?;
    let len = len.strip_suffix(')').ok_or("range without ')'")?;
    let (start, end, len): (u32, u32, u32) = (number(start)?, number(end)?, number(len)?);
    if end.wrapping_sub(start) != len {
        return Err(format!("range {text}: end - start is not the length"));
    }
    Ok((start, len))
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .trim_end_matches(',')
        .parse()
        .map_err(|_| format!("bad number {text:?}"))
}

fn parse_options(list: &str) -> Result<Vec<TcpOpt>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let words: Vec<&str> = item.split_whitespace().collect();
        let option = match words.as_slice() {
            ["nop"] => TcpOpt::Nop,
            ["eol"] => TcpOpt::Eol,
            ["sackOK"] => TcpOpt::SackPermitted,
            ["mss", n] => TcpOpt::Mss(number(n)?),
            ["wscale", n] => TcpOpt::WindowScale(number(n)?),
            ["TS", "val", v, "ecr", e] => TcpOpt::Timestamps(wild(v)?, wild(e)?),
            ["sack", blocks @ ..] if !blocks.is_empty() => {
                let mut ranges = Vec::new();
                for block in blocks {
                    let (l, r) = block.split_once(':').ok_or("sack block without ':'")?;
                    ranges.push((number(l)?, number(r)?));
                }
                TcpOpt::Sack(ranges)
            }
            _ => return Err(format!("unknown option {item:?}")),
        };
        out.push(option);
    }
    Ok(out)
}

fn wild(text: &str) -> Result<Option<u32>, String> {
    if text == "*" {
        Ok(None)
    } else {
        number(text).map(Some)
    }
}

/// `unreachable frag_needed mtu N [SEQ:END(LEN)]`, `unreachable
/// host_unreachable [..]`, `time_exceeded [..]`, ...
fn parse_icmp(text: &str) -> Result<IcmpSpec, String> {
    let (head, quote) = text
        .split_once('[')
        .ok_or("icmp without a quoted [segment]")?;
    let quote = quote
        .trim()
        .strip_suffix(']')
        .ok_or("quoted segment without ']'")?;
    let (quoted_seq, quoted_len) = parse_range(quote.trim())?;
    let words: Vec<&str> = head.split_whitespace().collect();
    let (icmp_type, code, mtu) = match words.as_slice() {
        ["unreachable", "net_unreachable"] => (3, 0, 0),
        ["unreachable", "host_unreachable"] => (3, 1, 0),
        ["unreachable", "protocol_unreachable"] => (3, 2, 0),
        ["unreachable", "port_unreachable"] => (3, 3, 0),
        ["unreachable", "frag_needed", "mtu", n] => (3, 4, number(n)?),
        ["time_exceeded"] => (11, 0, 0),
        _ => return Err(format!("unknown icmp message {head:?}")),
    };
    Ok(IcmpSpec {
        icmp_type,
        code,
        mtu,
        quoted_seq,
        quoted_len,
    })
}

/// `name(arg, arg, ...) = result [ERRNO [(text)]]`; arguments split at
/// top-level commas (brackets and braces kept whole).
fn parse_call(text: &str) -> Result<Action, String> {
    let open = text.find('(').ok_or("not a segment, call or assertion")?;
    let name = text[..open].trim().to_string();
    let mut depth = 0usize;
    let mut close = None;
    for (at, c) in text.char_indices().skip(open) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.checked_sub(1).ok_or("unbalanced brackets")?;
                if depth == 0 {
                    close = Some(at);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.ok_or("call without ')'")?;
    let args = split_top_level(&text[open + 1..close]);
    let result = text[close + 1..]
        .trim()
        .strip_prefix('=')
        .ok_or("call without '= result'")?;
    let mut words = result.split_whitespace();
    let value: i64 = number(words.next().ok_or("no result")?)?;
    let expect = if value == -1 {
        Expect::Errno(words.next().ok_or("-1 without an errno name")?.to_string())
    } else {
        Expect::Value(value)
    };
    Ok(Action::Call { name, args, expect })
}

fn split_top_level(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        args.push(current.trim().to_string());
    }
    args
}

/// `assert layer.counter OP value`.
fn parse_assert(body: &str) -> Result<Action, String> {
    let words: Vec<&str> = body.split_whitespace().collect();
    match words.as_slice() {
        ["assert", counter, op, value] if ["==", "!=", ">=", "<=", ">", "<"].contains(op) => {
            Ok(Action::Assert {
                counter: counter.to_string(),
                op: op.to_string(),
                value: number(value)?,
            })
        }
        _ => Err("expected `%{ assert layer.counter OP value }%`".into()),
    }
}
