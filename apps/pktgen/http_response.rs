//! An HTTP/1.x response read incrementally, as the stateful load
//! (`--mode http`) receives it: the status line and headers, then a body
//! delimited by `Content-Length`, by chunked transfer coding, or by the
//! end of the connection. Bounded: a head is at most [`MAX_HEAD`] bytes.

/// Longest response head accepted, in bytes (nginx's default buffer for
/// large headers is 8 KiB; this leaves room).
pub const MAX_HEAD: usize = 16 * 1024;

/// Where the response stands after the bytes given so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    More,
    /// The response is complete.
    Done(Response),
    /// The bytes are not a response this client can read.
    Bad(&'static str),
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The server closes the connection after it (`Connection: close`,
    /// HTTP/1.0 without keep-alive, or a body delimited by the close).
    pub close: bool,
    /// Bytes of body (after removing any chunked coding).
    pub body: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// This many bytes still to come.
    Length(u64),
    /// Until the server closes.
    UntilClose,
    /// Reading a chunk-size line.
    ChunkSize,
    /// Inside a chunk, this many bytes still to come.
    Chunk(u64),
    /// After a chunk's data, its CRLF.
    ChunkEnd,
    /// After the last chunk: trailer lines up to an empty one.
    Trailer,
}

/// Reads one response; [`reset`](Self::reset) readies it for the next.
#[derive(Debug, Default)]
pub struct ResponseReader {
    /// Head bytes so far, or the current line in chunked framing.
    line: Vec<u8>,
    head: Option<(u16, bool)>,
    body: Option<Body>,
    body_bytes: u64,
    /// The request was HEAD-like or the status has no body (1xx, 204, 304).
    no_body: bool,
}

impl ResponseReader {
    /// A reader for the response to a request with a body-less method when
    /// `head_request` (HEAD: the response has headers only).
    pub fn new(head_request: bool) -> Self {
        ResponseReader {
            no_body: head_request,
            ..Self::default()
        }
    }

    /// Readies the reader for the next response (same kind of request).
    pub fn reset(&mut self) {
        self.line.clear();
        self.head = None;
        self.body = None;
        self.body_bytes = 0;
    }

    /// Takes received bytes; returns the progress. Bytes after a complete
    /// response are ignored (one request is outstanding at a time).
    pub fn feed(&mut self, mut data: &[u8]) -> Progress {
        while !data.is_empty() {
            let Some(body) = self.body else {
                // The head: up to the empty line, within MAX_HEAD bytes
                // (however the bytes are split).
                let take = data.len().min(MAX_HEAD - self.line.len());
                let start = self.line.len().saturating_sub(3);
                self.line.extend_from_slice(&data[..take]);
                data = &data[take..];
                let Some(end) = find(&self.line[start..], b"\r\n\r\n").map(|i| start + i + 4)
                else {
                    if self.line.len() >= MAX_HEAD {
                        return Progress::Bad("response head too large");
                    }
                    continue;
                };
                // Bytes past the head belong to the body.
                let rest = self.line.split_off(end);
                match self.parse_head() {
                    Ok(()) => {}
                    Err(why) => return Progress::Bad(why),
                }
                self.line.clear();
                if let Some(done) = self.done_if_complete() {
                    return done;
                }
                let progress = self.feed(&rest);
                if progress != Progress::More {
                    return progress;
                }
                continue;
            };
            match body {
                Body::Length(left) => {
                    let take = (data.len() as u64).min(left);
                    self.body_bytes += take;
                    data = &data[take as usize..];
                    self.body = Some(Body::Length(left - take));
                }
                Body::UntilClose => {
                    self.body_bytes += data.len() as u64;
                    data = &[];
                }
                Body::Chunk(left) => {
                    let take = (data.len() as u64).min(left);
                    self.body_bytes += take;
                    data = &data[take as usize..];
                    self.body = Some(if take == left {
                        Body::ChunkEnd
                    } else {
                        Body::Chunk(left - take)
                    });
                }
                Body::ChunkSize | Body::ChunkEnd | Body::Trailer => {
                    // Line-framed parts: collect up to LF.
                    let (line_part, rest, complete) = match data.iter().position(|&b| b == b'\n') {
                        Some(i) => (&data[..=i], &data[i + 1..], true),
                        None => (data, &[][..], false),
                    };
                    if self.line.len() + line_part.len() > 1024 {
                        return Progress::Bad("chunk framing line too long");
                    }
                    self.line.extend_from_slice(line_part);
                    data = rest;
                    if !complete {
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    let text = trim_crlf(&line);
                    self.body = Some(match body {
                        Body::ChunkEnd if text.is_empty() => Body::ChunkSize,
                        Body::ChunkEnd => return Progress::Bad("chunk data longer than its size"),
                        Body::ChunkSize => {
                            let size_text = text.split(|&b| b == b';').next().unwrap_or(b"");
                            let size = std::str::from_utf8(size_text)
                                .ok()
                                .map(str::trim)
                                .and_then(|s| u64::from_str_radix(s, 16).ok())
                                .ok_or("bad chunk size");
                            match size {
                                Ok(0) => Body::Trailer,
                                Ok(n) => Body::Chunk(n),
                                Err(why) => return Progress::Bad(why),
                            }
                        }
                        _ if text.is_empty() => {
                            self.body = None;
                            return self.finish();
                        }
                        _ => Body::Trailer,
                    });
                }
            }
            if let Some(done) = self.done_if_complete() {
                return done;
            }
        }
        Progress::More
    }

    /// The server closed the connection: completes a close-delimited body,
    /// anything else unfinished is an error.
    pub fn eof(&mut self) -> Progress {
        match self.body {
            Some(Body::UntilClose) => self.finish(),
            _ if self.head.is_none() && self.line.is_empty() => {
                Progress::Bad("closed before a response")
            }
            _ => Progress::Bad("closed in the middle of a response"),
        }
    }

    fn done_if_complete(&mut self) -> Option<Progress> {
        (self.body == Some(Body::Length(0))).then(|| self.finish())
    }

    fn finish(&mut self) -> Progress {
        let (status, close) = self.head.unwrap_or((0, true));
        let close = close || self.body == Some(Body::UntilClose);
        self.body = None;
        Progress::Done(Response {
            status,
            close,
            body: self.body_bytes,
        })
    }

    fn parse_head(&mut self) -> Result<(), &'static str> {
        let text = std::str::from_utf8(&self.line).map_err(|_| "response head is not text")?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err("not an HTTP/1.x status line");
        }
        let status: u16 = parts
            .next()
            .and_then(|code| code.parse().ok())
            .filter(|code| (100..1000).contains(code))
            .ok_or("bad status code")?;
        let mut close = version == "HTTP/1.0";
        let mut length = None;
        let mut chunked = false;
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').ok_or("header line without a colon")?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<u64>().map_err(|_| "bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        close = false;
                    }
                }
            }
        }
        self.head = Some((status, close));
        let bodiless = self.no_body || status < 200 || status == 204 || status == 304;
        self.body = Some(if bodiless {
            Body::Length(0)
        } else if chunked {
            Body::ChunkSize
        } else if let Some(length) = length {
            Body::Length(length)
        } else {
            Body::UntilClose
        });
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step`; the last progress.
    fn feed_in(reader: &mut ResponseReader, bytes: &[u8], step: usize) -> Progress {
        let mut last = Progress::More;
        for piece in bytes.chunks(step) {
            last = reader.feed(piece);
            if last != Progress::More {
                break;
            }
        }
        last
    }

    #[test]
    fn content_length_bodies_in_any_split() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nServer: x\r\n\r\n0123456789";
        for step in [1, 2, 3, 7, 64, 1000] {
            let mut reader = ResponseReader::new(false);
            assert_eq!(
                feed_in(&mut reader, response, step),
                Progress::Done(Response {
                    status: 200,
                    close: false,
                    body: 10
                }),
                "pieces of {step}"
            );
            reader.reset();
            assert_eq!(
                feed_in(&mut reader, response, step),
                Progress::Done(Response {
                    status: 200,
                    close: false,
                    body: 10
                })
            );
        }
    }

    #[test]
    fn chunked_bodies_and_trailers() {
        let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: y\r\n\r\n";
        for step in [1, 5, 1000] {
            let mut reader = ResponseReader::new(false);
            assert_eq!(
                feed_in(&mut reader, response, step),
                Progress::Done(Response {
                    status: 200,
                    close: false,
                    body: 20
                })
            );
        }
        let mut reader = ResponseReader::new(false);
        assert_eq!(
            reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Progress::Bad("bad chunk size")
        );
    }

    #[test]
    fn close_delimited_and_bodiless_responses() {
        let mut reader = ResponseReader::new(false);
        assert_eq!(reader.feed(b"HTTP/1.0 200 OK\r\n\r\nhello"), Progress::More);
        assert_eq!(
            reader.eof(),
            Progress::Done(Response {
                status: 200,
                close: true,
                body: 5
            })
        );
        let mut reader = ResponseReader::new(false);
        assert_eq!(
            reader.feed(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"),
            Progress::Done(Response {
                status: 304,
                close: false,
                body: 0
            })
        );
        let mut reader = ResponseReader::new(true);
        assert_eq!(
            reader
                .feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"),
            Progress::Done(Response {
                status: 404,
                close: true,
                body: 0
            })
        );
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\xff\xfe: x\r\n\r\n",
        ] {
            let mut reader = ResponseReader::new(false);
            assert!(matches!(reader.feed(bad), Progress::Bad(_)), "{bad:?}");
        }
        let mut reader = ResponseReader::new(false);
        let endless = vec![b'a'; MAX_HEAD + 100];
        assert_eq!(
            reader.feed(&endless),
            Progress::Bad("response head too large")
        );
        // A head ending just past the limit is too large whether it comes
        // whole or in pieces; one of exactly the limit is read.
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.resize(MAX_HEAD - 2, b'a');
        long.extend_from_slice(b"\r\n\r\n");
        for step in [1, 100, long.len()] {
            let mut reader = ResponseReader::new(false);
            assert_eq!(
                feed_in(&mut reader, &long, step),
                Progress::Bad("response head too large"),
                "pieces of {step}"
            );
        }
        long.truncate(MAX_HEAD - 4);
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(long.len(), MAX_HEAD);
        for step in [1, 100, long.len()] {
            let mut reader = ResponseReader::new(false);
            assert!(
                // Read: its body (no length given) runs until the close.
                feed_in(&mut reader, &long, step) == Progress::More,
                "pieces of {step}"
            );
        }
        let mut reader = ResponseReader::new(false);
        assert_eq!(
            reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123"),
            Progress::More
        );
        assert_eq!(
            reader.eof(),
            Progress::Bad("closed in the middle of a response")
        );
        assert_eq!(
            ResponseReader::new(false).eof(),
            Progress::Bad("closed before a response")
        );
    }
}
