//! The `dpdk` backend on a `net_tap` vdev against the Linux kernel, inside a
//! namespace the test creates and removes.
#![cfg(feature = "dpdk")]

mod common;

#[test]
fn dpdk_net_tap_exchanges_frames_with_the_kernel() {
    common::linkcheck_against_kernel("dpdktap", "dpsdtap0", &common::net_tap_backend("dpsdtap0"));
}
