#!/usr/bin/env bash
# Builds the side-by-side benchmark with profile-guided optimisation and
# prints the path of the binary: an instrumented build runs a --quick pass
# of the in-process scenarios (dpstack over pipe and smoltcp, the same
# code for both), LLVM merges the profile, and a second build lays out
# and inlines by it. Both contenders in that binary are optimised from the
# same training run, so their ratio stays a like-for-like comparison.
#
#   setup/pgo.sh            # about 8 minutes here; prints the binary's path
#
# Everything goes under target/pgo/ (its own target directories, so the
# normal release build is untouched). llvm-profdata comes with rustup's
# llvm-tools component, installed here if missing, as it must match
# rustc's LLVM.
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

echo "pgo: instrumented build" >&2
RUSTFLAGS="-Cprofile-generate=$profiles" CARGO_TARGET_DIR=$root/generate \
    cargo bench --quiet --bench side_by_side --no-run >&2
# Build scripts ran instrumented too: only the training run counts.
rm -f "$profiles"/*.profraw
echo "pgo: training run" >&2
"$(binary_in "$root/generate")" --quick --scenarios bulk,rr,connect \
    --contenders "dpstack (pipe,smoltcp" --json "$root/training.json" >/dev/null
"$profdata" merge -o "$root/merged.profdata" "$profiles"/*.profraw
echo "pgo: optimised build" >&2
RUSTFLAGS="-Cprofile-use=$root/merged.profdata" CARGO_TARGET_DIR=$root/use \
    cargo bench --quiet --bench side_by_side --no-run >&2
binary_in "$root/use"
