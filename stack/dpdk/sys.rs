//! The raw bindgen output for `ffi/dpdk.h`.
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    missing_docs,
    clippy::all,
    clippy::pedantic
)]

include!(concat!(env!("OUT_DIR"), "/dpdk_bindings.rs"));
