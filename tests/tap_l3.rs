//! ARP, IPv4, ICMP and UDP against the Linux kernel on the `tap` backend,
//! inside a namespace the test creates and removes.

mod common;

#[test]
fn kernel_pings_and_echoes_udp_through_tap() {
    common::l3_against_kernel(
        "tapl3",
        "dpsl3tap",
        &[
            "--backend".into(),
            "tap".into(),
            "--tap".into(),
            "dpsl3tap".into(),
        ],
    );
}
