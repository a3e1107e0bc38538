//! Ethernet and ARP: the first byte picks a raw frame (any destination,
//! any EtherType) or an ARP packet behind a valid header to us or to
//! broadcast; ARP replies and requests must leave the cache bounded.
#![no_main]
use dpstack_fuzz::{ethernet, Host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut host = Host::new();
    for (i, piece) in dpstack_fuzz::pieces(rest).into_iter().enumerate() {
        let frame = match mode % 3 {
            0 => piece.to_vec(),
            1 => ethernet(0x0806, piece),
            _ => {
                let mut frame = ethernet(0x0806, piece);
                frame[..6].fill(0xff);
                frame
            }
        };
        host.receive(&frame, false);
        if i % 8 == 7 {
            host.tick(500);
        }
        host.check_bounds();
    }
    host.tick(60_000);
    host.check_bounds();
});
