#!/usr/bin/env bash
# Builds the side-by-side benchmark and the apps with profile-guided
# optimisation and prints the path of the benchmark binary: an
# instrumented build runs a --quick pass of bulk, rr and connect for
# dpstack over pipe, smoltcp and the apps over DPDK net_memif, LLVM merges
# the profiles, and a second build lays out and inlines by them. smoltcp
# and dpstack in the benchmark binary are optimised from the same
# training run, so their ratio stays a like-for-like comparison.
#
#   setup/pgo.sh            # about 12 minutes here; prints the binary's path
#
# Everything goes under target/pgo/ (its own target directories, so the
# normal release build is untouched): the apps are in
# target/pgo/use/release/, where the benchmark finds them when run with
# CARGO_TARGET_DIR=target/pgo/use (setup/bench.sh --pgo does). A user's
# own application is optimised the same way, trained on its own load.
# llvm-profdata comes with rustup's llvm-tools component, installed here
# if missing, as it must match rustc's LLVM.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    rustup component add llvm-tools >&2
fi
[ -x "$profdata" ] || { echo "pgo: no llvm-profdata at $profdata" >&2; exit 1; }

root=$PWD/target/pgo
profiles=$root/profiles
rm -rf "$profiles"
mkdir -p "$profiles"

binary_in() {
    ls -t "$1"/release/deps/side_by_side-* | grep -v '\.d$' | head -1
}

build() {
    RUSTFLAGS="$1" CARGO_TARGET_DIR=$2 cargo build --release --quiet --bins >&2
    RUSTFLAGS="$1" CARGO_TARGET_DIR=$2 cargo bench --quiet --bench side_by_side --no-run >&2
}

setup/hugepages.sh 512 >/dev/null
echo "pgo: instrumented build" >&2
build "-Cprofile-generate=$profiles" "$root/generate"
# Build scripts ran instrumented too: only the training run counts.
rm -f "$profiles"/*.profraw
echo "pgo: training run" >&2
CARGO_TARGET_DIR=$root/generate "$(binary_in "$root/generate")" --quick \
    --scenarios bulk,rr,connect --contenders "dpstack (pipe,smoltcp,dpstack (two" \
    --json "$root/training.json" >/dev/null 2>&1
"$profdata" merge -o "$root/merged.profdata" "$profiles"/*.profraw
echo "pgo: optimised build" >&2
build "-Cprofile-use=$root/merged.profdata" "$root/use"
binary_in "$root/use"
