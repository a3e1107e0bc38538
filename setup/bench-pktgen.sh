#!/usr/bin/env bash
# pktgen against dpdk-testpmd: 64-byte UDP frames on net_null, one data-plane
# core, unlimited rate, interleaved runs. testpmd (txonly) copies a fixed
# header template; pktgen writes every header and both checksums for 1,000
# varying flows. Prints each run and the median ratio pktgen / testpmd.
#
#   setup/bench-pktgen.sh [SECONDS_PER_RUN] [RUNS]     (default 10 s, 3 runs)
#
# No traffic leaves the process: net_null discards every frame.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
runs="${2:-3}"

setup/install-deps.sh >/dev/null
command -v dpdk-testpmd >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
}
setup/hugepages.sh 512 >/dev/null
cargo build --release --quiet --bin dpstack-pktgen

testpmd_mpps() {
    # Core 0 runs testpmd's main loop; core 1 forwards (generates).
    local log
    log=$(timeout -s INT "$((secs + 2))" dpdk-testpmd -l 0,1 --no-pci --in-memory --vdev=net_null0 -- \
        --forward-mode=txonly --txpkts=64 --auto-start --nb-cores=1 --stats-period="$secs" 2>&1 || true)
    # The last periodic line holds the average rate of the last period.
    echo "$log" | awk '/Tx-pps:/ {pps=$2} END {printf "%.3f\n", pps / 1e6}'
}

pktgen_mpps() {
    target/release/dpstack-pktgen --eal "-l 1 --no-pci --in-memory --vdev=net_null0" --tx-only \
        --dst-mac 02:00:00:00:00:02 --src-ip 10.0.0.1 --dst-ip 10.0.1.1 --src-port 1000-1999 \
        --size 64 --duration "$secs" --json 2>/dev/null | tail -n 1 |
        python3 -c 'import json, sys; print("%.3f" % (json.load(sys.stdin)["tx_pps"] / 1e6))'
}

ratios=()
for run in $(seq "$runs"); do
    t=$(testpmd_mpps)
    p=$(pktgen_mpps)
    r=$(python3 -c "print('%.3f' % ($p / $t))")
    ratios+=("$r")
    echo "run $run: testpmd txonly $t Mpps, dpstack-pktgen $p Mpps, ratio $r"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median ratio dpstack-pktgen / testpmd: $median"
