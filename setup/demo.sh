#!/usr/bin/env bash
# The demo: dpstack on a DPDK net_tap port inside a fresh network namespace,
# talking to the Linux kernel. dpstack-echo answers ARP and ping (including
# an 8000-byte ping that travels fragmented) and echoes UDP; then both sides'
# counters are printed. Nothing leaves the namespace, which is deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

setup/install-deps.sh
setup/hugepages.sh 512
cargo build --release --bin dpstack-echo

ns=$(setup/netns.sh create demo)
out=$(mktemp)
cleanup() {
    if [ -n "${app_pid:-}" ]; then kill -TERM "$app_pid" 2>/dev/null || true; fi
    setup/netns.sh delete "$ns"
    rm -f "$out"
}
trap cleanup EXIT

eal="-l 0 --no-pci --vdev=net_tap0,iface=dpsdemo"
# --no-huge cannot be combined with --in-memory; --no-shconf keeps it file-free.
if [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -eq 0 ]; then
    eal="$eal --no-huge --no-shconf -m 512 --file-prefix dpsdemo$$"
else
    eal="$eal --in-memory"
fi

echo "demo: starting dpstack-echo (10.99.0.2/24, UDP port 7) on DPDK net_tap in namespace $ns"
setup/netns.sh exec "$ns" target/release/dpstack-echo \
    --eal "$eal" --ip 10.99.0.2/24 --udp-port 7 --duration 30 >"$out" 2>&1 &
app_pid=$!

for _ in $(seq 200); do grep -q "dpstack: ready" "$out" && break; sleep 0.1; done
grep "dpstack: ready" "$out" || { cat "$out"; echo "demo: app did not start" >&2; exit 1; }

# Address the kernel side only now: starting the port resets the TAP's MAC.
setup/netns.sh addr "$ns" dpsdemo 10.99.0.1/24

echo; echo "demo: the kernel pings dpstack"
setup/netns.sh exec "$ns" ping -c 5 -i 0.2 10.99.0.2
echo; echo "demo: an 8000-byte ping, fragmented both ways"
setup/netns.sh exec "$ns" ping -c 2 -i 0.2 -s 8000 10.99.0.2
echo; echo "demo: the kernel's neighbour entry for dpstack"
setup/netns.sh exec "$ns" ip neigh show 10.99.0.2
echo; echo "demo: a UDP datagram echoed by dpstack"
setup/netns.sh exec "$ns" bash -c \
    'exec 3<>/dev/udp/10.99.0.2/7; printf "hello from the kernel\n" >&3; timeout 2 head -n 1 <&3'

kill -TERM "$app_pid"; wait "$app_pid" || true; app_pid=
echo; echo "demo: dpstack's counters on exit"
grep "^dpstack-echo:" "$out" | tr ' ' '\n' | sed 's/^/  /'
