//! ARP, IPv4, ICMP and UDP against the Linux kernel on the `dpdk` backend
//! (`net_tap`), inside a namespace the test creates and removes.
#![cfg(feature = "dpdk")]

mod common;

#[test]
fn kernel_pings_and_echoes_udp_through_dpdk_net_tap() {
    common::l3_against_kernel("dpdkl3", "dpsl3dpdk", &common::net_tap_backend("dpsl3dpdk"));
}
