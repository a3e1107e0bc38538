//! IPv4 with fragments: each piece is an IPv4 packet (header and all, as
//! the fuzzer wrote it) to us; with the first byte's low bit its checksums
//! count as verified by the device, so headers with any field reach
//! reassembly. Reassembly must stay within its byte bound and time out.
#![no_main]
use dpstack_fuzz::{ethernet, pieces, Host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut host = Host::new();
    for (i, piece) in pieces(rest).into_iter().enumerate() {
        host.receive(&ethernet(0x0800, piece), mode & 1 == 1);
        if i % 16 == 15 {
            host.tick(u64::from(mode >> 1) * 100);
        }
        host.check_bounds();
    }
    host.tick(120_000);
    assert_eq!(host.iface.reassembly_load(), (0, 0), "timed out and freed");
});
