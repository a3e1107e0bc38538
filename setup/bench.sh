#!/usr/bin/env bash
# dpstack side by side with the Linux kernel and smoltcp, every scenario,
# interleaved, median of 5 runs (benches/side_by_side/): bulk TCP, 64-byte
# request/response at 1, 64 and 1,024 connections, connection rate,
# demultiplexing cost with idle connections, memory per idle connection,
# the packet generator against testpmd, a key-value server (dpstack-kv
# against redis-server), and scaling from one core to two.
# Prints one table and writes
# JSON (default target/bench/side_by_side.json).
#
#   setup/bench.sh [--runs N] [--quick] [--scenarios bulk,rr,connect,demux,memory,pktgen,kv,scaling]
#                  [--contenders NAME,...] [--json PATH] [--pgo]
#
# --pgo builds the benchmark process and the apps with profile-guided
# optimisation first (setup/pgo.sh, about 12 minutes): dpstack over pipe
# and smoltcp trained on the same run, and the apps of the memif rows.
#
# Traffic stays on this machine: in-memory links, loopback, a veth pair
# between two namespaces the harness creates (and deletes), and DPDK
# net_memif / net_null vdevs.
set -euo pipefail
cd "$(dirname "$0")/.."

setup/install-deps.sh >/dev/null
setup/hugepages.sh 512 >/dev/null
command -v dpdk-testpmd >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
}

export CARGO_TERM_COLOR=never
cargo build --release --quiet --bins
# --pgo: the benchmark process built with profile-guided optimisation
# (setup/pgo.sh); the rest of the arguments go to the benchmark.
pgo=
args=()
for arg in "$@"; do
    if [ "$arg" = --pgo ]; then pgo=1; else args+=("$arg"); fi
done
case " ${args[*]:-} " in
    *" --json "*) ;;
    *) args+=(--json target/bench/side_by_side.json) ;;
esac
started=$(date +%s)
if [ -n "$pgo" ]; then
    binary=$(setup/pgo.sh)
    started=$(date +%s)
    CARGO_TARGET_DIR=target/pgo/use "$binary" "${args[@]}"
else
    cargo bench --quiet --bench side_by_side -- "${args[@]}"
fi
echo "setup/bench.sh: $(( $(date +%s) - started )) s; $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r)"

leftover=$(setup/netns.sh list)
if [ -n "$leftover" ]; then
    echo "setup/bench.sh: namespaces left behind: $leftover" >&2
    exit 1
fi
