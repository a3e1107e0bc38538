#!/usr/bin/env bash
# pktgen against dpdk-testpmd: 64-byte UDP frames on net_null, unlimited
# rate, interleaved runs, with one data-plane core and with two (one queue
# each). testpmd (txonly) copies one fixed header with no UDP checksum;
# pktgen sends 1,000 flows with both checksums, a sequence number and a
# timestamp in every frame. Then the receive side: testpmd rxonly against
# dpstack-pktgen --rx-only on the same replayed traffic (see below). Prints
# each run and the median ratios.
#
#   setup/bench-pktgen.sh [SECONDS_PER_RUN] [RUNS]     (default 10 s, 3 runs)
#
# No traffic leaves the process: net_null discards every frame. Every
# DPDK process still runs inside a network namespace made for the run
# (setup/netns.sh) and removed at exit, as every vdev user does here.
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
ns=$(setup/netns.sh create pktgen)
source_pcap=$(mktemp --suffix=.pcap)
trap 'rm -f "$source_pcap"; setup/netns.sh delete "$ns"' EXIT

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
    log=$(timeout -s INT "$((secs + 2))" ip netns exec "$ns" dpdk-testpmd "${cores[@]}" --no-pci --in-memory --vdev=net_null0 -- \
        --forward-mode=txonly --txpkts=64 --auto-start --nb-cores="$1" --rxq="$1" --txq="$1" \
        --stats-period="$secs" 2>&1 || true)
    echo "$log" | grep -q 'Tx-pps:' || echo "$log" | tail -n 5 >&2
    # The last periodic line holds the average rate of the last period.
    echo "$log" | awk '/Tx-pps:/ {pps=$2} END {printf "%.3f\n", pps / 1e6}'
}

pktgen_mpps() {
    # $1 lcores, one worker and queue each.
    local cores=1
    [ "$1" = 2 ] && cores=0,1
    ip netns exec "$ns" target/release/dpstack-pktgen --eal "-l $cores --no-pci --in-memory --vdev=net_null0" --tx-only \
        --dst-mac 02:00:00:00:00:02 --src-ip 10.0.0.1 --dst-ip 10.0.1.1 --src-port 1000-1999 \
        --size 64 --duration "$secs" --json 2>/dev/null | tail -n 1 |
        python3 -c 'import json, sys; print("%.3f" % (json.load(sys.stdin)["tx_pps"] / 1e6))'
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# Receive side: net_pcap replaying a capture of the same 64-byte probes
# (1,000 flows) endlessly from memory, as fast as the receiver takes it:
# the receiver's own ceiling. On CPU 1: testpmd rxonly (counts bursts), or
# dpstack-pktgen --rx-only (also parses every probe for loss, reordering
# and latency). A real sender over net_memif is no yardstick here: memif
# between two processes on this 2-vCPU guest runs at about 7 or about 20
# Mpps from one run to the next, whoever receives.
target/release/dpstack-pktgen --backend pcap --pcap-out "$source_pcap" --dst-mac 02:00:00:00:00:02 \
    --src-mac 02:00:00:00:00:01 --src-ip 10.0.0.1 --dst-ip 10.0.1.1 --src-port 1000-1999 \
    --size 64 --count 4096 --rx-wait-ms 0 >/dev/null
rx_vdev="net_pcap0,rx_pcap=$source_pcap,infinite_rx=1"

testpmd_rx_mpps() {
    local log
    log=$(timeout -s INT "$((secs + 3))" ip netns exec "$ns" dpdk-testpmd --lcores '0@1,1@1' --no-pci --in-memory \
        --vdev="$rx_vdev" -- --forward-mode=rxonly --auto-start --nb-cores=1 \
        --stats-period=1 2>&1 || true)
    # One line a second: the mean of seconds 2 to SECONDS+2, the window
    # pktgen counts.
    echo "$log" | awk -v last="$((secs + 2))" '/Rx-pps:/ {n++; if (n > 2 && n <= last) {sum += $2; k++}}
        END {printf "%.3f\n", (k ? sum / k : 0) / 1e6}'
}

pktgen_rx_mpps() {
    # $@: more flags (--latency).
    ip netns exec "$ns" target/release/dpstack-pktgen --eal "-l 1 --no-pci --in-memory --vdev=$rx_vdev" --rx-only \
        --warmup 2 --duration "$secs" "$@" --json 2>/dev/null | tail -n 1 |
        python3 -c 'import json, sys; print("%.3f" % (json.load(sys.stdin)["rx_pps"] / 1e6))'
}

one=()
two=()
rx=()
rx_latency=()
for run in $(seq "$runs"); do
    for lcores in 1 2; do
        t=$(testpmd_mpps "$lcores")
        if [ "$t" = 0.000 ]; then
            # testpmd did not come up (once, after a long run of other
            # benchmarks, its EAL found no memory): try again, else skip.
            sleep 2
            t=$(testpmd_mpps "$lcores")
        fi
        if [ "$t" = 0.000 ]; then
            echo "bench-pktgen: testpmd txonly reported nothing (lcores=$lcores); run $run skipped" >&2
            continue
        fi
        p=$(pktgen_mpps "$lcores")
        r=$(python3 -c "print('%.3f' % ($p / $t))")
        if [ "$lcores" = 1 ]; then one+=("$r"); else two+=("$r"); fi
        echo "run $run lcores=$lcores: testpmd txonly $t Mpps, dpstack-pktgen $p Mpps, ratio $r"
    done
    t=$(testpmd_rx_mpps)
    p=$(pktgen_rx_mpps)
    r=$(python3 -c "print('%.3f' % ($p / max($t, 1e-9)))")
    rx+=("$r")
    echo "rx run $run source=pcap: testpmd rxonly $t Mpps, dpstack-pktgen $p Mpps, ratio $r"
    # The same with a latency sample per probe (the replayed timestamps
    # are old, so the figures are meaningless; the work is the same).
    p=$(pktgen_rx_mpps --latency)
    r=$(python3 -c "print('%.3f' % ($p / max($t, 1e-9)))")
    rx_latency+=("$r")
    echo "rx run $run source=pcap latency: testpmd rxonly $t Mpps, dpstack-pktgen --latency $p Mpps, ratio $r"
done
echo "median ratio dpstack-pktgen / testpmd, 1 lcore: $(median "${one[@]}")"
echo "median ratio dpstack-pktgen / testpmd, 2 lcores: $(median "${two[@]}")"
echo "median ratio dpstack-pktgen --rx-only / testpmd rxonly (pcap replay): $(median "${rx[@]}")"
echo "median ratio dpstack-pktgen --rx-only --latency / testpmd rxonly (pcap replay): $(median "${rx_latency[@]}")"
