//! The `tap` backend (no DPDK) against the Linux kernel, inside a namespace
//! the test creates and removes.

mod common;

#[test]
fn tap_backend_exchanges_frames_with_the_kernel() {
    common::linkcheck_against_kernel(
        "tap",
        "dpstap0",
        &[
            "--backend".into(),
            "tap".into(),
            "--tap".into(),
            "dpstap0".into(),
        ],
    );
}
