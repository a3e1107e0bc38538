#!/usr/bin/env bash
# Installs (idempotently) everything dpstack's build, tests and demo need from
# Debian's packages: DPDK 22.11 headers and libraries, its tools (dpdk-dev:
# dpdk-telemetry.py for the telemetry test, dpdk-testpmd as the packet
# generator's baseline), pkg-config, clang for
# bindgen, iproute2 for network namespaces, ping/arping, tcpdump to read pcaps,
# curl and python3 for the demo and the TCP tests against the kernel,
# redis-tools and redis-server to drive and compare dpstack-kv, nginx and wrk
# as the stateful generator's peer and baseline.
set -euo pipefail

packages=(libdpdk-dev dpdk dpdk-dev pkg-config clang libclang-dev iproute2 iputils-ping arping tcpdump curl python3 redis-tools redis-server nginx wrk)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages with a service (nginx, redis-server) are not started: the tests
# run their own instances, in namespaces they create.
blocker=/usr/sbin/policy-rc.d
placed=0
if [ ! -e "$blocker" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$blocker"
    chmod +x "$blocker"
    placed=1
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$placed" = 1 ]; then
    rm -f "$blocker"
fi
echo "install-deps: done"
