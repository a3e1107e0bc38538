#!/usr/bin/env bash
# pktgen against dpdk-testpmd: 64-byte UDP frames on net_null, unlimited
# rate, interleaved runs, with one data-plane core and with two (one queue
# each). testpmd (txonly) copies one fixed header with no UDP checksum;
# pktgen sends 1,000 flows with both checksums, a sequence number and a
# timestamp in every frame. Prints each run and the median ratios.
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
    # $1 forwarding cores. One: main lcore on CPU 0, forwarding on CPU 1.
    # Two: forwarding lcores on CPUs 0 and 1, one queue each; the main
    # lcore (idle between stats lines) shares CPU 0.
    local log cores
    if [ "$1" = 1 ]; then
        cores=(-l 0,1)
    else
        cores=(--lcores '0@0,1@0,2@1')
    fi
    log=$(timeout -s INT "$((secs + 2))" dpdk-testpmd "${cores[@]}" --no-pci --in-memory --vdev=net_null0 -- \
        --forward-mode=txonly --txpkts=64 --auto-start --nb-cores="$1" --rxq="$1" --txq="$1" \
        --stats-period="$secs" 2>&1 || true)
    # The last periodic line holds the average rate of the last period.
    echo "$log" | awk '/Tx-pps:/ {pps=$2} END {printf "%.3f\n", pps / 1e6}'
}

pktgen_mpps() {
    # $1 lcores, one worker and queue each.
    local cores=1
    [ "$1" = 2 ] && cores=0,1
    target/release/dpstack-pktgen --eal "-l $cores --no-pci --in-memory --vdev=net_null0" --tx-only \
        --dst-mac 02:00:00:00:00:02 --src-ip 10.0.0.1 --dst-ip 10.0.1.1 --src-port 1000-1999 \
        --size 64 --duration "$secs" --json 2>/dev/null | tail -n 1 |
        python3 -c 'import json, sys; print("%.3f" % (json.load(sys.stdin)["tx_pps"] / 1e6))'
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

one=()
two=()
for run in $(seq "$runs"); do
    for lcores in 1 2; do
        t=$(testpmd_mpps "$lcores")
        p=$(pktgen_mpps "$lcores")
        r=$(python3 -c "print('%.3f' % ($p / $t))")
        if [ "$lcores" = 1 ]; then one+=("$r"); else two+=("$r"); fi
        echo "run $run lcores=$lcores: testpmd txonly $t Mpps, dpstack-pktgen $p Mpps, ratio $r"
    done
done
echo "median ratio dpstack-pktgen / testpmd, 1 lcore: $(median "${one[@]}")"
echo "median ratio dpstack-pktgen / testpmd, 2 lcores: $(median "${two[@]}")"
