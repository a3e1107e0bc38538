//! dpstack-kv's RESP parser and command table: any bytes parse to a
//! request within the buffer and the limits, an error, or "incomplete"
//! (and then every prefix is incomplete too); every request runs against a
//! small store without a panic, and the store never holds more than its
//! memory bound.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../apps/kv/commands.rs"]
mod commands;
#[path = "../../apps/kv/resp.rs"]
mod resp;
#[path = "../../apps/kv/store.rs"]
mod store;

use resp::{Limits, Parsed, Reply};

const LIMITS: Limits = Limits {
    max_bulk: 4096,
    max_args: 64,
    max_inline: 1024,
};
const MAX_MEMORY: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut store = store::Store::new(MAX_MEMORY, LIMITS.max_bulk);
    let info = commands::Info {
        clients: 1,
        commands: 0,
        max_memory: MAX_MEMORY,
    };
    let mut at = 0;
    let mut now = 0u64;
    let mut output = Vec::new();
    while at < data.len() {
        match resp::parse(&data[at..], &LIMITS) {
            Parsed::Incomplete => break,
            Parsed::Error(message) => {
                assert!(!message.is_empty());
                break;
            }
            Parsed::Request { args, len } => {
                assert!(len > 0 && at + len <= data.len());
                assert!(args.len() <= LIMITS.max_args);
                assert!(args
                    .iter()
                    .all(|a| a.len() <= LIMITS.max_bulk.max(LIMITS.max_inline)));
                at += len;
                now += 7;
                output.clear();
                commands::run(&args, &mut store, now, &info, &mut Reply(&mut output));
                store.expire(now);
                assert!(store.used_memory() <= MAX_MEMORY);
            }
        }
    }
});
