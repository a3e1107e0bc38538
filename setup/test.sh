#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs dependencies, reserves
# hugepages, checks formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

setup/install-deps.sh
setup/hugepages.sh 512

export CARGO_TERM_COLOR=never
cargo fmt --check
cargo fmt --check --manifest-path fuzz/Cargo.toml
cargo clippy --all-targets -- -D warnings
cargo clippy --no-default-features --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
cargo test --no-default-features --lib
cargo test
# The DPDK tests again without hugepages, so the --no-huge fallback a
# machine without hugepages would take is itself tested.
DPSTACK_TEST_NO_HUGE=1 cargo test --test dpdk_ring --test dpdk_tap_kernel
# Every fuzz target briefly, after replaying the inputs that once crashed it
# (the long runs are in docs/fuzzing.md).
setup/fuzz.sh --seconds "${DPSTACK_FUZZ_SECONDS:-10}"

leftover=$(setup/netns.sh list)
if [ -n "$leftover" ]; then
    echo "test.sh: namespaces left behind: $leftover" >&2
    exit 1
fi
