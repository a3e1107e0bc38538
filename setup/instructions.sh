#!/usr/bin/env bash
# Instructions per unit of work, counted by callgrind (repeatable where
# timings are not): benches/cycles.rs runs each workload over two stacks on
# a pipe; only its measured loop is counted.
#
#   setup/instructions.sh [WORKLOAD...]     default: rr rr-epoll connect bulk
#
# Prints "<workload>: <instructions> per <unit>" for each: rr per round trip
# (two 64-byte segments and their ACKs riding along), rr-epoll per round
# trip driven through epoll_wait as the side-by-side rr scenario drives it,
# connect per short
# connection, bulk per 1,448-byte segment, idle per turn of both stacks
# with nothing to do (not in the default set). For rr, connect and bulk, smoltcp
# running the side-by-side benchmark's loop on a manual clock is counted
# beside (benches/side_by_side --cycles).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}
export CARGO_TERM_COLOR=never
cargo bench --quiet --bench cycles --no-run 2>/dev/null
cargo bench --quiet --bench side_by_side --no-run 2>/dev/null
binary=$(ls -t target/release/deps/cycles-* | grep -v '\.d$' | head -1)
smol=$(ls -t target/release/deps/side_by_side-* | grep -v '\.d$' | head -1)
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(rr rr-epoll connect bulk)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for workload in "${workloads[@]}"; do
    case "$workload" in
        rr|rr-epoll) n=20000 unit="round trip" ;;
        connect) n=5000 unit="connection" ;;
        bulk) n=50000 unit="1,448-byte segment" ;;
        idle) n=100000 unit="turn of both stacks" ;;
        *) echo "instructions: unknown workload $workload" >&2; exit 2 ;;
    esac
    count() {
        valgrind --tool=callgrind --toggle-collect='*measured*' \
            --callgrind-out-file="$out/$1.out" "${@:2}" >/dev/null 2>"$out/$1.log"
        echo $(( $(grep -m1 '^summary:' "$out/$1.out" | awk '{print $2}') / n ))
    }
    ours=$(count "$workload" "$binary" "$workload" "$n")
    case "$workload" in
        rr|connect|bulk)
            theirs=$(count "smoltcp-$workload" "$smol" --cycles smoltcp "$workload" "$n")
            echo "$workload: $ours instructions per $unit (smoltcp 0.14, same loop: $theirs)" ;;
        *) echo "$workload: $ours instructions per $unit" ;;
    esac
done
