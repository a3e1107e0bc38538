#!/usr/bin/env bash
# Reserves 2 MB hugepages and mounts hugetlbfs for DPDK, then reports.
# Usage: setup/hugepages.sh [PAGES]   (default 512 pages = 1 GiB)
# Never fails the caller: if pages cannot be reserved, it says so and DPDK
# tests fall back to EAL --no-huge (see tests/common/mod.rs).
set -uo pipefail

pages="${1:-512}"
sysfs=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

current=$(cat "$sysfs" 2>/dev/null || echo 0)
if [ "$current" -lt "$pages" ]; then
    if ! echo "$pages" > "$sysfs" 2>/dev/null; then
        echo "hugepages: cannot reserve $pages pages (not root, or no hugepage support)" >&2
    fi
fi

if ! mountpoint -q /dev/hugepages 2>/dev/null; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null \
        || echo "hugepages: cannot mount hugetlbfs on /dev/hugepages" >&2
fi

total=$(cat "$sysfs" 2>/dev/null || echo 0)
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
echo "hugepages: ${total} x 2MB reserved, ${free} free, hugetlbfs $(mountpoint -q /dev/hugepages && echo mounted || echo 'NOT mounted')"
if [ "${free:-0}" -eq 0 ]; then
    echo "hugepages: WARNING: no free hugepages; DPDK tests will run with --no-huge --no-shconf (slower, fine for tests)" >&2
fi
exit 0
