#!/usr/bin/env bash
# Binds a PCI NIC to vfio-pci for DPDK, or gives it back to its kernel driver.
# For real hardware only; tests and the demo use virtual devices.
#
#   setup/bind-nic.sh status
#   setup/bind-nic.sh bind 0000:03:00.0
#   setup/bind-nic.sh unbind 0000:03:00.0 ixgbe
#
# The NIC must be down and not carrying your SSH session.
set -euo pipefail

devbind=$(command -v dpdk-devbind.py || true)
[ -n "$devbind" ] || { echo "bind-nic: dpdk-devbind.py not found; run setup/install-deps.sh" >&2; exit 1; }

case "${1:-}" in
    status)
        "$devbind" --status-dev net
        ;;
    bind)
        [ $# -eq 2 ] || { echo "usage: $0 bind PCI_ADDR" >&2; exit 2; }
        modprobe vfio-pci
        "$devbind" --bind=vfio-pci "$2"
        "$devbind" --status-dev net
        ;;
    unbind)
        [ $# -eq 3 ] || { echo "usage: $0 unbind PCI_ADDR KERNEL_DRIVER" >&2; exit 2; }
        "$devbind" --bind="$3" "$2"
        "$devbind" --status-dev net
        ;;
    *)
        echo "usage: $0 status | bind PCI_ADDR | unbind PCI_ADDR KERNEL_DRIVER" >&2
        exit 2
        ;;
esac
