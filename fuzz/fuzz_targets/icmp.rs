//! ICMP: each piece is an ICMP message behind a valid IPv4 header, its
//! checksum trusted or not; echo requests are answered, errors quote
//! packets of any shape.
#![no_main]
use dpstack_fuzz::{ethernet, ipv4, pieces, Host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut host = Host::new();
    for piece in pieces(rest) {
        host.receive(&ethernet(0x0800, &ipv4(1, piece)), mode & 1 == 1);
        host.check_bounds();
    }
    host.tick(1_000);
});
