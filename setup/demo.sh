#!/usr/bin/env bash
# The demo: dpstack-httpd on a DPDK net_tap port inside a fresh network
# namespace, serving the Linux kernel. curl fetches the index page and a
# large /bytes/N body (checked against the pattern), then ping and the
# kernel's view of the connection are shown, and dpstack's counters and the
# transfer's rate printed. Nothing leaves the namespace, deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${DEMO_BYTES:-1000000000}
setup/install-deps.sh
setup/hugepages.sh 512
cargo build --release --bin dpstack-httpd

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

echo "demo: starting dpstack-httpd (10.99.0.2/24, port 80) on DPDK net_tap in namespace $ns"
setup/netns.sh exec "$ns" target/release/dpstack-httpd \
    --eal "$eal" --ip 10.99.0.2/24 --listen-port 80 --duration 120 >"$out" 2>&1 &
app_pid=$!

for _ in $(seq 200); do grep -q "dpstack: ready" "$out" && break; sleep 0.1; done
grep "dpstack: ready" "$out" || { cat "$out"; echo "demo: app did not start" >&2; exit 1; }

# Address the kernel side only now: starting the port resets the TAP's MAC.
setup/netns.sh addr "$ns" dpsdemo 10.99.0.1/24

echo; echo "demo: the kernel pings dpstack"
setup/netns.sh exec "$ns" ping -c 3 -i 0.2 10.99.0.2
echo; echo "demo: curl fetches the index page"
setup/netns.sh exec "$ns" curl -sS --max-time 10 http://10.99.0.2/
echo; echo "demo: curl downloads /bytes/$bytes (the body is checked against the pattern)"
setup/netns.sh exec "$ns" bash -c "curl -sS --max-time 120 -o >(python3 -c '
import sys
data = sys.stdin.buffer
offset, bad = 0, 0
while True:
    chunk = data.read(1 << 20)
    if not chunk:
        break
    # Byte i is ((i * 2654435761) >> 24) & 0xff; compare a sample of each chunk.
    for k in range(0, len(chunk), 4093):
        i = offset + k
        bad += chunk[k] != ((i * 2654435761) >> 24) & 0xff
    offset += len(chunk)
print(f\"demo: received {offset} bytes, {bad} sampled bytes off the pattern\")
') -w 'demo: curl: %{size_download} bytes in %{time_total} s = %{speed_download} bytes/s\n' \
    http://10.99.0.2/bytes/$bytes"
sleep 0.5
echo; echo "demo: the kernel's TCP counters in the namespace"
setup/netns.sh exec "$ns" nstat -az TcpActiveOpens TcpRetransSegs TcpInCsumErrors | sed 's/^/  /'

kill -TERM "$app_pid"; wait "$app_pid" || true; app_pid=
echo; echo "demo: dpstack's counters on exit"
grep "^dpstack-httpd:" "$out" | tr ' ' '\n' | sed 's/^/  /'
