//! TCP with 2% injected loss against the Linux kernel on the `tap`
//! backend, in a namespace the test creates: uploads and downloads of
//! 200 MB stay byte-identical, and dpstack's SACK blocks show in the
//! capture.

mod common;

#[test]
fn kernel_transfers_survive_two_percent_loss_with_sack() {
    common::tcp_kernel::tcp_with_loss_against_kernel(
        "taploss",
        "dpslosstap",
        &[
            "--backend".into(),
            "tap".into(),
            "--tap".into(),
            "dpslosstap".into(),
        ],
    );
}
