//! UDP: each piece is a UDP datagram behind a valid IPv4 header, to the
//! bound socket's port or any other, its checksum trusted or not.
#![no_main]
use dpstack_fuzz::{ethernet, ipv4, pieces, Host, UDP_PORT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut host = Host::new();
    for piece in pieces(rest) {
        let mut datagram = piece.to_vec();
        if mode & 2 == 2 && datagram.len() >= 4 {
            datagram[2..4].copy_from_slice(&UDP_PORT.to_be_bytes());
        }
        host.receive(&ethernet(0x0800, &ipv4(17, &datagram)), mode & 1 == 1);
        host.check_bounds();
    }
    host.tick(1_000);
});
