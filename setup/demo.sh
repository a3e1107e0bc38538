#!/usr/bin/env bash
# The demo: a DPDK net_tap port inside a fresh network namespace exchanging
# frames with the Linux kernel. dpstack-linkcheck sends probe frames; the
# kernel, pinging an address on the TAP's subnet, sends ARP requests; both
# sides' counters are printed. Nothing leaves the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

setup/install-deps.sh
setup/hugepages.sh 512
cargo build --release --bin dpstack-linkcheck

ns=$(setup/netns.sh create demo)
out=$(mktemp)
cleanup() {
    [ -n "${app_pid:-}" ] && kill -TERM "$app_pid" 2>/dev/null || true
    setup/netns.sh delete "$ns"
    rm -f "$out"
}
trap cleanup EXIT

eal="-l 0 --in-memory --no-pci --vdev=net_tap0,iface=dpsdemo"
if [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -eq 0 ]; then eal="$eal --no-huge -m 512"; fi

echo "demo: starting dpstack-linkcheck on DPDK net_tap in namespace $ns"
setup/netns.sh exec "$ns" target/release/dpstack-linkcheck \
    --eal "$eal" --send 30 --interval-ms 100 --duration 6 >"$out" 2>&1 &
app_pid=$!

for _ in $(seq 100); do grep -q "dpstack: ready" "$out" && break; sleep 0.1; done
grep "dpstack: ready" "$out" || { cat "$out"; echo "demo: app did not start" >&2; exit 1; }

# Address the kernel side only now: starting the port resets the TAP's MAC.
setup/netns.sh addr "$ns" dpsdemo 10.99.0.1/24
echo "demo: kernel pings 10.99.0.2 (nobody answers yet: the stack comes with the next issues), which sends ARP requests"
setup/netns.sh exec "$ns" ping -c 3 -W 1 10.99.0.2 >/dev/null 2>&1 || true

# Read the kernel's counters while the app still owns the TAP (it goes with the app).
echo "demo: kernel side (frames dpstack sent count as RX here):"
setup/netns.sh exec "$ns" ip -s link show dpsdemo

wait "$app_pid"; app_pid=
echo "demo: dpstack side (its exit summary):"
grep "^dpstack" "$out"
