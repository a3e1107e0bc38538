//! TCP against the Linux kernel on the `tap` backend, inside a namespace
//! the test creates and removes.

mod common;

#[test]
fn kernel_and_dpstack_transfer_over_tap() {
    common::tcp_kernel::tcp_against_kernel(
        "taptcp",
        "dpstcptap",
        &[
            "--backend".into(),
            "tap".into(),
            "--tap".into(),
            "dpstcptap".into(),
        ],
    );
}
