//! RESP2, the Redis protocol: requests as arrays of bulk strings (or an
//! inline line of words, as `redis-benchmark`'s inline PING sends), and
//! replies written straight into a connection's output buffer. Parsing is
//! incremental and bounded: an incomplete request waits for more bytes, a
//! malformed one or one past the limits is a protocol error (answered,
//! then the connection is closed, as Redis does).

/// Limits on what a request may claim.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest bulk string, in bytes.
    pub max_bulk: usize,
    /// Most arguments in one request.
    pub max_args: usize,
    /// Longest inline request line, in bytes.
    pub max_inline: usize,
}

/// What the bytes at the front of a buffer hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet.
    Incomplete,
    /// A request of `args`, `len` bytes long.
    Request { args: Vec<Vec<u8>>, len: usize },
    /// Broken or past the limits: the reply's message.
    Error(String),
}

/// Finds `\r\n` from `from`; the index of `\r`.
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// A decimal integer line (`-1` allowed), at most 20 digits.
fn number(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Parses the request at the front of `buf`.
pub fn parse(buf: &[u8], limits: &Limits) -> Parsed {
    let Some(&first) = buf.first() else {
        return Parsed::Incomplete;
    };
    if first != b'*' {
        return parse_inline(buf, limits);
    }
    let Some(end) = line_end(buf, 1) else {
        return if buf.len() > 32 {
            Parsed::Error("Protocol error: invalid multibulk length".into())
        } else {
            Parsed::Incomplete
        };
    };
    let count = match number(&buf[1..end]) {
        Some(n) if n <= 0 => {
            return Parsed::Request {
                args: Vec::new(),
                len: end + 2,
            }
        }
        Some(n) if (n as u64) <= limits.max_args as u64 => n as usize,
        _ => return Parsed::Error("Protocol error: invalid multibulk length".into()),
    };
    let mut at = end + 2;
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        match buf.get(at) {
            None => return Parsed::Incomplete,
            Some(b'$') => {}
            Some(&other) => {
                return Parsed::Error(format!(
                    "Protocol error: expected '$', got '{}'",
                    other as char
                ))
            }
        }
        let Some(end) = line_end(buf, at + 1) else {
            return if buf.len() - at > 32 {
                Parsed::Error("Protocol error: invalid bulk length".into())
            } else {
                Parsed::Incomplete
            };
        };
        let len = match number(&buf[at + 1..end]) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk as u64 => n as usize,
            _ => return Parsed::Error("Protocol error: invalid bulk length".into()),
        };
        let start = end + 2;
        if buf.len() < start + len + 2 {
            return Parsed::Incomplete;
        }
        if &buf[start + len..start + len + 2] != b"\r\n" {
            return Parsed::Error("Protocol error: bulk string not followed by CRLF".into());
        }
        args.push(buf[start..start + len].to_vec());
        at = start + len + 2;
    }
    Parsed::Request { args, len: at }
}

fn parse_inline(buf: &[u8], limits: &Limits) -> Parsed {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > limits.max_inline {
            Parsed::Error("Protocol error: too big inline request".into())
        } else {
            Parsed::Incomplete
        };
    };
    if end > limits.max_inline {
        return Parsed::Error("Protocol error: too big inline request".into());
    }
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args: Vec<Vec<u8>> = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    if args.len() > limits.max_args {
        return Parsed::Error("Protocol error: too many arguments".into());
    }
    Parsed::Request { args, len: end + 1 }
}

/// Writes replies into an output buffer.
pub struct Reply<'a>(pub &'a mut Vec<u8>);

impl Reply<'_> {
    /// `+text`.
    pub fn simple(&mut self, text: &str) {
        self.0.extend_from_slice(b"+");
        self.0.extend_from_slice(text.as_bytes());
        self.0.extend_from_slice(b"\r\n");
    }

    /// `-message` (the message starts with its kind: `ERR`, `WRONGTYPE`, `OOM`).
    pub fn error(&mut self, message: &str) {
        self.0.extend_from_slice(b"-");
        // A reply is one line: no CR or LF from an argument may end it early.
        self.0.extend(
            message
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.0.extend_from_slice(b"\r\n");
    }

    /// `:n`.
    pub fn integer(&mut self, n: i64) {
        self.0.extend_from_slice(format!(":{n}\r\n").as_bytes());
    }

    /// `$len\r\nbytes\r\n`.
    pub fn bulk(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
        self.0.extend_from_slice(bytes);
        self.0.extend_from_slice(b"\r\n");
    }

    /// `$-1`: no value.
    pub fn null(&mut self) {
        self.0.extend_from_slice(b"$-1\r\n");
    }

    /// `*n`: an array of `n` replies follows.
    pub fn array(&mut self, n: usize) {
        self.0.extend_from_slice(format!("*{n}\r\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bulk: 1024,
        max_args: 16,
        max_inline: 256,
    };

    fn request(args: &[&str], len: usize) -> Parsed {
        Parsed::Request {
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            len,
        }
    }

    #[test]
    fn arrays_of_bulk_strings_parse_when_whole() {
        let wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(parse(wire, &LIMITS), request(&["SET", "k", "value"], 31));
        for cut in 1..31 {
            assert_eq!(
                parse(&wire[..cut], &LIMITS),
                Parsed::Incomplete,
                "cut at {cut}"
            );
        }
        assert_eq!(parse(&wire[31..], &LIMITS), request(&["PING"], 14));
    }

    #[test]
    fn inline_requests_split_on_spaces() {
        assert_eq!(parse(b"PING\r\n", &LIMITS), request(&["PING"], 6));
        assert_eq!(
            parse(b"set  a b\n", &LIMITS),
            request(&["set", "a", "b"], 9)
        );
        assert_eq!(parse(b"PIN", &LIMITS), Parsed::Incomplete);
    }

    #[test]
    fn lies_and_excess_are_protocol_errors() {
        for wire in [
            &b"*x\r\n"[..],
            b"*99\r\n",
            b"*1\r\n$2000\r\n",
            b"*1\r\n$-5\r\n",
            b"*1\r\n:1\r\n",
            b"*1\r\n$1\r\nabc\r\n",
            b"*99999999999999999999999\r\n",
        ] {
            assert!(matches!(parse(wire, &LIMITS), Parsed::Error(_)), "{wire:?}");
        }
        let long = vec![b'a'; 300];
        assert!(matches!(parse(&long, &LIMITS), Parsed::Error(_)));
    }

    #[test]
    fn replies_are_well_formed() {
        let mut out = Vec::new();
        let mut reply = Reply(&mut out);
        reply.simple("OK");
        reply.error("ERR bad\r\nthing");
        reply.integer(-3);
        reply.bulk(b"hi");
        reply.null();
        reply.array(2);
        assert_eq!(
            out,
            b"+OK\r\n-ERR bad  thing\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*2\r\n"
        );
    }
}
