/* The DPDK headers dpstack binds with bindgen (build.rs), plus our shim. */
#ifndef DPSTACK_FFI_DPDK_H
#define DPSTACK_FFI_DPDK_H

#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_telemetry.h>

#include "shim.h"

#endif
