#!/usr/bin/env bash
# Coverage-guided fuzzing of dpstack (cargo fuzz, libFuzzer, AddressSanitizer):
# one target per parser and two stacks on a fuzzed link (fuzz/; docs/fuzzing.md).
#
#   setup/fuzz.sh [--seconds N] [TARGET...]    default: every target, 15 s each
#
# Each target first replays fuzz/regressions/<target>/* (inputs that once
# crashed it), then fuzzes for N seconds from fuzz/seeds/<target> and the
# corpus it grew before (fuzz/corpus/<target>, not committed). One line per
# target: executions, coverage (libFuzzer's edge count), seconds. A crash
# stops the script with a non-zero status and its input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=15
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done

# libFuzzer's instrumentation needs -Z flags: a nightly compiler, or the
# stable one told it may take them (RUSTC_BOOTSTRAP=1; tried here).
toolchain=+nightly
if ! rustup run nightly rustc --version >/dev/null 2>&1 &&
    ! rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
    echo "fuzz.sh: no nightly toolchain; stable with RUSTC_BOOTSTRAP=1" >&2
    toolchain=+stable
    export RUSTC_BOOTSTRAP=1
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz >/dev/null 2>&1 || {
    echo "fuzz.sh: cargo install cargo-fuzz failed" >&2
    exit 1
}

cd fuzz
export CARGO_TERM_COLOR=never
cargo "$toolchain" fuzz build -O >/dev/null 2>&1 || cargo "$toolchain" fuzz build -O
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo "$toolchain" fuzz list)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
    if compgen -G "regressions/$target/*" >/dev/null; then
        if ! cargo "$toolchain" fuzz run -O "$target" regressions/"$target"/* >"$log" 2>&1; then
            tail -30 "$log" >&2
            echo "fuzz.sh: $target: a regression input fails again" >&2
            exit 1
        fi
    fi
    mkdir -p "corpus/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    started=$(date +%s)
    if ! cargo "$toolchain" fuzz run -O "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz.sh: $target: crash; input saved under fuzz/artifacts/$target/" >&2
        exit 1
    fi
    runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    echo "fuzz $target: $runs executions, coverage $cov edges, $(( $(date +%s) - started )) s, corpus $(ls "corpus/$target" | wc -l) inputs"
done
