//! The `dpdk` backend on a `net_tap` vdev against the Linux kernel, inside a
//! namespace the test creates and removes.
#![cfg(feature = "dpdk")]

mod common;

#[test]
fn dpdk_net_tap_exchanges_frames_with_the_kernel() {
    let mut eal = String::from("-l 0 --in-memory --no-pci --vdev=net_tap0,iface=dpsdtap0");
    for arg in common::eal_memory_args() {
        eal.push(' ');
        eal.push_str(&arg);
    }
    common::linkcheck_against_kernel(
        "dpdktap",
        "dpsdtap0",
        &["--backend".into(), "dpdk".into(), "--eal".into(), eal],
    );
}
