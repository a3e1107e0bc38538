//! dpstack-httpd's request-head parser: a complete head is exactly the
//! bytes up to and including the first blank line, never more than the
//! buffer, and a buffer without one is incomplete or too large by length.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../apps/http_head.rs"]
mod http_head;
use http_head::{parse, Parsed};

const MAX_HEAD: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let end = data.windows(4).position(|w| w == b"\r\n\r\n");
    match parse(data, MAX_HEAD) {
        Parsed::Incomplete => assert!(end.is_none() && data.len() < MAX_HEAD),
        Parsed::TooLarge => assert!(end.is_none() && data.len() >= MAX_HEAD),
        Parsed::Malformed { len } | Parsed::Request { len, .. } => {
            assert_eq!(Some(len - 4), end);
        }
    }
});
