//! TCP: the segment parser on the raw bytes (whatever it accepts must
//! describe the bytes it was given), then each piece as a segment behind a
//! valid IPv4 header to the listener's port, its checksum trusted or not,
//! with the clock moving so that timers run on whatever state results.
#![no_main]
use dpstack::tcp::segment;
use dpstack_fuzz::{ethernet, ipv4, pieces, Host, OUR_IP, PEER_IP, TCP_PORT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if let Ok(seg) = segment::parse(PEER_IP, OUR_IP, rest) {
        let header = usize::from(rest[12] >> 4) * 4;
        assert_eq!(
            seg.payload.len(),
            rest.len() - header,
            "payload is what follows the header"
        );
        assert_eq!(seg.src_port, u16::from_be_bytes([rest[0], rest[1]]));
    }
    let mut host = Host::new();
    for (i, piece) in pieces(rest).into_iter().enumerate() {
        let mut seg = piece.to_vec();
        if mode & 2 == 2 && seg.len() >= 4 {
            seg[2..4].copy_from_slice(&TCP_PORT.to_be_bytes());
        }
        host.receive(&ethernet(0x0800, &ipv4(6, &seg)), mode & 1 == 1);
        if i % 4 == 3 {
            host.tick(u64::from(mode >> 2) * 50);
        }
        host.check_bounds();
    }
    host.tick(200_000);
    host.check_bounds();
});
