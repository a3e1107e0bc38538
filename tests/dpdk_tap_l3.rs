//! ARP, IPv4, ICMP and UDP against the Linux kernel on the `dpdk` backend
//! (`net_tap`), inside a namespace the test creates and removes.
#![cfg(feature = "dpdk")]

mod common;

#[test]
fn kernel_pings_and_echoes_udp_through_dpdk_net_tap() {
    let mut eal = String::from("-l 0 --in-memory --no-pci --vdev=net_tap0,iface=dpsl3dpdk");
    for arg in common::eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    common::l3_against_kernel(
        "dpdkl3",
        "dpsl3dpdk",
        &["--backend".into(), "dpdk".into(), "--eal".into(), eal],
    );
}
