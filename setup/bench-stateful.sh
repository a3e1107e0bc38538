#!/usr/bin/env bash
# Stateful load side by side: dpstack-pktgen --mode http and wrk, 1,000
# kept-alive clients each, against nginx (kernel, in a namespace this run
# creates) and against dpstack-httpd (pktgen over net_memif, wrk through
# net_tap). setup/bench_stateful.py says what runs where.
#
#   setup/bench-stateful.sh [SECONDS_PER_RUN] [RUNS]     (default 5 s, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
setup/install-deps.sh >/dev/null
command -v taskset >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends util-linux >/dev/null
}
setup/hugepages.sh 512 >/dev/null
cargo build --release --quiet --bin dpstack-pktgen --bin dpstack-httpd
# 1,000 connections need more descriptors than the usual soft limit of 1,024.
ulimit -n "$(ulimit -Hn)"
exec python3 setup/bench_stateful.py "$@"
