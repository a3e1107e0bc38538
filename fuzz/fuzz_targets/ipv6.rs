//! IPv6: each piece becomes a raw IPv6 packet, or an ICMPv6 message
//! (checksummed) to our address or to our solicited-node group (echo,
//! neighbour solicitations and advertisements, anything), or a packet
//! whose extension-header chain the fuzzer writes (fragment headers
//! included, so reassembly is fuzzed too; TCP and UDP get right
//! checksums, so segments reach the dual-stack listener and socket). The
//! neighbour cache and reassembly stay within their bounds.
#![no_main]
use dpstack_fuzz::{ethernet, ethernet_to, ipv6, our_solicited_node, pieces, Host, OUR_IP6};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut host = Host::new();
    let (group, group_mac) = our_solicited_node();
    for piece in pieces(rest) {
        let hop_limit = if mode & 4 == 0 { 255 } else { 64 };
        let frame = match mode & 3 {
            0 => ethernet(0x86dd, piece),
            1 => ethernet(0x86dd, &ipv6(OUR_IP6, 58, hop_limit, piece)),
            2 => ethernet_to(group_mac, 0x86dd, &ipv6(group, 58, hop_limit, piece)),
            _ => {
                let Some((&first, chain)) = piece.split_first() else {
                    continue;
                };
                ethernet(0x86dd, &ipv6(OUR_IP6, first, hop_limit, chain))
            }
        };
        host.receive(&frame, false);
        host.check_bounds();
        host.tick(1);
    }
    host.tick(1_000);
});
