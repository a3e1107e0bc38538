//! Builds our DPDK binding (feature `dpdk`): finds DPDK with pkg-config,
//! runs bindgen over `ffi/dpdk.h`, and compiles `ffi/shim.c`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "dpdk")]
    dpdk::build();
}

#[cfg(feature = "dpdk")]
mod dpdk {
    use std::env;
    use std::path::PathBuf;

    const MIN_VERSION: &str = "22.11";

    pub fn build() {
        for file in ["ffi/dpdk.h", "ffi/shim.h", "ffi/shim.c"] {
            println!("cargo:rerun-if-changed={file}");
        }
        let library = match pkg_config::Config::new()
            .atleast_version(MIN_VERSION)
            .cargo_metadata(true)
            .probe("libdpdk")
        {
            Ok(library) => library,
            Err(error) => {
                eprintln!(
                    "error: DPDK {MIN_VERSION} or newer was not found with pkg-config ({error}).\n\
                     Run `setup/install-deps.sh` (it installs libdpdk-dev, pkg-config and clang), \
                     or build without DPDK: `cargo build --no-default-features`."
                );
                std::process::exit(1);
            }
        };

        // DPDK's pkg-config flags carry -include rte_config.h and -march; pass
        // them to both compilers so struct layouts agree.
        let cflags = std::process::Command::new(
            env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()),
        )
        .args(["--cflags", "libdpdk"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
        let mut extra: Vec<String> = Vec::new();
        let mut words = cflags.split_whitespace();
        while let Some(word) = words.next() {
            if word == "-include" {
                if let Some(file) = words.next() {
                    extra.push(format!("-include{file}"));
                }
            } else if word.starts_with("-march") || word.starts_with("-m") {
                extra.push(word.to_string());
            }
        }
        let includes: Vec<String> = library
            .include_paths
            .iter()
            .map(|p| format!("-I{}", p.display()))
            .collect();

        let mut shim = cc::Build::new();
        shim.file("ffi/shim.c").opt_level(2).warnings(true);
        for path in &library.include_paths {
            shim.include(path);
        }
        for flag in &extra {
            shim.flag(flag);
        }
        shim.compile("dpstack_shim");
        // Shared-linkage DPDK loads PMDs as plugins, so pkg-config does not
        // link them; the ring PMD's rte_eth_from_rings is called directly.
        println!("cargo:rustc-link-lib=rte_net_ring");

        let bindings = bindgen::Builder::default()
            .header("ffi/dpdk.h")
            .clang_args(&includes)
            .clang_args(&extra)
            .clang_arg("-Iffi")
            .allowlist_function("rte_eal_(init|cleanup|process_type|has_hugepages)")
            .allowlist_function("rte_strerror")
            .allowlist_function("rte_socket_id|rte_lcore_count|rte_get_main_lcore|rte_get_next_lcore")
            .allowlist_function("rte_eal_remote_launch|rte_eal_wait_lcore")
            .allowlist_function("rte_eth_(dev_.*|rx_queue_setup|tx_queue_setup|promiscuous_.*|link_get_nowait|stats_.*|xstats_.*|macaddr_get|from_rings|find_next_owned_by)")
            .allowlist_function("rte_pktmbuf_pool_create|rte_mempool_(free|avail_count|in_use_count|lookup)")
            .allowlist_function("rte_ring_(create|free)")
            .allowlist_function("dps_.*")
            .allowlist_function("rte_telemetry_register_cmd|rte_tel_data_.*")
            .allowlist_type("rte_tel_data|rte_tel_value_type|telemetry_cb")
            .allowlist_type("rte_eth_.*|rte_ether_addr|rte_mbuf|rte_mempool|rte_ring")
            .allowlist_type("dps_offload_flag|dps_tx_cksum")
            .allowlist_var("RTE_MAX_LCORE|RTE_MAX_ETHPORTS|RTE_PKTMBUF_HEADROOM|RTE_MBUF_DEFAULT_BUF_SIZE|RTE_ETH_LINK_.*|RING_F_.*|RTE_ETH_NAME_MAX_LEN|RTE_ETH_XSTATS_NAME_SIZE|SOCKET_ID_ANY")
            .derive_default(true)
            .layout_tests(false)
            .generate_comments(false)
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
            .generate()
            .unwrap_or_else(|error| {
                eprintln!("error: bindgen could not bind ffi/dpdk.h: {error}. Run `setup/install-deps.sh` (libclang-dev).");
                std::process::exit(1);
            });
        let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        bindings
            .write_to_file(out.join("dpdk_bindings.rs"))
            .expect("OUT_DIR is writable");
    }
}
