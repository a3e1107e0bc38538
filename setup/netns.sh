#!/usr/bin/env bash
# Network namespace helper for dpstack tests and demos. Every namespace it
# makes is named dps-<purpose>-<pid>-<random> so parallel runs never collide,
# and nothing here addresses the root namespace.
#
#   setup/netns.sh create PURPOSE             prints the new namespace's name
#   setup/netns.sh veth NS IF_A IF_B          a veth pair, both ends inside NS
#   setup/netns.sh addr NS IF A.B.C.D/LEN     address and bring up IF in NS
#   setup/netns.sh exec NS CMD...             run CMD inside NS
#   setup/netns.sh delete NS                  delete NS (killing what runs in it)
#   setup/netns.sh list                       namespaces this helper made
#
# Scripts call `delete` from an EXIT trap; Rust tests call it from Drop.
set -euo pipefail

die() { echo "netns: $*" >&2; exit 2; }

valid_name() {
    case "$1" in
        dps-*) [[ "$1" =~ ^[A-Za-z0-9_.-]+$ ]] ;;
        *) return 1 ;;
    esac
}

cmd="${1:-}"; shift || true
case "$cmd" in
    create)
        purpose="${1:-test}"
        [[ "$purpose" =~ ^[A-Za-z0-9_]{1,16}$ ]] || die "purpose must be 1-16 letters, digits or _"
        name="dps-${purpose}-$$-${RANDOM}${RANDOM}"
        ip netns add "$name"
        ip -n "$name" link set lo up
        echo "$name"
        ;;
    veth)
        [ $# -eq 3 ] || die "usage: veth NS IF_A IF_B"
        valid_name "$1" || die "not a dpstack namespace: $1"
        ip -n "$1" link add "$2" type veth peer name "$3"
        ;;
    addr)
        [ $# -eq 3 ] || die "usage: addr NS IF A.B.C.D/LEN"
        valid_name "$1" || die "not a dpstack namespace: $1"
        ip -n "$1" addr add "$3" dev "$2"
        ip -n "$1" link set "$2" up
        ;;
    exec)
        [ $# -ge 2 ] || die "usage: exec NS CMD..."
        ns="$1"; shift
        valid_name "$ns" || die "not a dpstack namespace: $ns"
        exec ip netns exec "$ns" "$@"
        ;;
    delete)
        [ $# -eq 1 ] || die "usage: delete NS"
        valid_name "$1" || die "not a dpstack namespace: $1"
        if ip netns list | awk '{print $1}' | grep -qx "$1"; then
            # End what still runs inside, by PID, then remove the namespace.
            for pid in $(ip netns pids "$1" 2>/dev/null); do
                kill -TERM "$pid" 2>/dev/null || true
            done
            sleep 0.2
            for pid in $(ip netns pids "$1" 2>/dev/null); do
                kill -KILL "$pid" 2>/dev/null || true
            done
            ip netns delete "$1"
        fi
        ;;
    list)
        ip netns list | awk '{print $1}' | grep '^dps-' || true
        ;;
    *)
        die "usage: $0 create|veth|addr|exec|delete|list ..."
        ;;
esac
