//! TCP against the Linux kernel on the `dpdk` backend (`net_tap`), inside
//! a namespace the test creates and removes.
#![cfg(feature = "dpdk")]

mod common;

#[test]
fn kernel_and_dpstack_transfer_over_dpdk_net_tap() {
    common::tcp_kernel::tcp_against_kernel(
        "dpdktcp",
        "dpstcpdpdk",
        &common::net_tap_backend("dpstcpdpdk"),
    );
}
