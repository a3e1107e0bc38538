//! dpstack-pktgen's HTTP response reader (`--mode http`): any bytes, in any
//! pieces, never panic; the same bytes give the same outcome however they
//! are split; a body never counts more bytes than were given.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../apps/pktgen/http_response.rs"]
#[allow(dead_code)]
mod http_response;
use http_response::{Progress, ResponseReader};

/// Feeds `data` in pieces of `step` bytes, then the close if still reading.
fn outcome(data: &[u8], step: usize, head_request: bool) -> Progress {
    let mut reader = ResponseReader::new(head_request);
    for piece in data.chunks(step.max(1)) {
        let progress = reader.feed(piece);
        if progress != Progress::More {
            return progress;
        }
    }
    reader.eof()
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let head_request = control & 0x80 != 0;
    let step = usize::from(control & 0x7f) + 1;
    let whole = outcome(data, data.len(), head_request);
    assert_eq!(outcome(data, step, head_request), whole, "split at {step}");
    if let Progress::Done(response) = whole {
        assert!(response.body <= data.len() as u64);
        assert!((100..1000).contains(&response.status));
    }
});
