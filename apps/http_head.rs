//! The head of an HTTP/1.x request as `dpstack-httpd` reads it, parsed
//! apart from any socket so that it can be tested and fuzzed alone
//! (`fuzz/fuzz_targets/http_head.rs`).

/// A complete request head: its request line and the headers the server
/// acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, as sent (`GET`, `HEAD`, ...).
    pub method: String,
    /// The request target, as sent (`/`, `/bytes/100`, ...).
    pub target: String,
    /// The protocol version, as sent (`HTTP/1.1`, ...).
    pub version: String,
    /// The connection closes after the response: HTTP/1.0 unless
    /// `Connection: keep-alive`, or `Connection: close`.
    pub close: bool,
    /// A body follows (a non-zero `Content-Length` or any
    /// `Transfer-Encoding`), which the server does not read.
    pub has_body: bool,
}

/// What the start of a receive buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// No complete head yet, and fewer than the limit's bytes: read more.
    Incomplete,
    /// The limit's bytes and no end of head: refuse (431).
    TooLarge,
    /// A complete head of `len` bytes (blank line included) whose request
    /// line is not `METHOD TARGET VERSION` (400).
    Malformed {
        /// Bytes the head takes.
        len: usize,
    },
    /// A complete head of `len` bytes (blank line included).
    Request {
        /// Bytes the head takes.
        len: usize,
        /// What it says.
        head: RequestHead,
    },
}

/// Parses the request head at the start of `buf`, whose heads may take at
/// most `max_head` bytes.
pub fn parse(buf: &[u8], max_head: usize) -> Parsed {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() >= max_head {
            Parsed::TooLarge
        } else {
            Parsed::Incomplete
        };
    };
    let len = end + 4;
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Malformed { len };
    };
    let mut close = version != "HTTP/1.1";
    let mut has_body = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        } else if (name.eq_ignore_ascii_case("content-length") && value != "0")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            has_body = true;
        }
    }
    Parsed::Request {
        len,
        head: RequestHead {
            method: method.to_string(),
            target: target.to_string(),
            version: version.to_string(),
            close,
            has_body,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(buf: &[u8]) -> (usize, RequestHead) {
        match parse(buf, 1024) {
            Parsed::Request { len, head } => (len, head),
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn a_keep_alive_get_and_what_follows_it() {
        let buf = b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n";
        let (len, head) = request(buf);
        assert_eq!(&buf[len..], b"GET / HTTP/1.1\r\n", "the next request stays");
        assert_eq!(
            (head.method.as_str(), head.target.as_str()),
            ("GET", "/bytes/10")
        );
        assert!(!head.close && !head.has_body);
        assert_eq!(parse(&buf[len..], 1024), Parsed::Incomplete);
    }

    #[test]
    fn connection_headers_and_bodies() {
        let (_, head) = request(b"GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n");
        assert!(!head.close, "1.0 kept alive on request");
        let (_, head) = request(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(head.close);
        let (_, head) = request(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
        assert!(head.has_body);
        let (_, head) = request(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(!head.has_body);
    }

    #[test]
    fn malformed_and_oversized_heads() {
        assert_eq!(parse(b"GET\r\n\r\n", 1024), Parsed::Malformed { len: 7 });
        assert_eq!(parse(&[b'a'; 1024], 1024), Parsed::TooLarge);
        assert_eq!(parse(&[b'a'; 1023], 1024), Parsed::Incomplete);
        let (_, head) = request(b"\xff\xfe / HTTP/1.1\r\n\r\n");
        assert_eq!(
            head.method, "\u{fffd}\u{fffd}",
            "bytes that are not UTF-8 are replaced"
        );
    }
}
