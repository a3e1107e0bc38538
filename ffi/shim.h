/*
 * Real functions wrapping DPDK's static inline ones (bindgen cannot bind an
 * inline function), and enums carrying flag macros built with RTE_BIT64,
 * which bindgen cannot evaluate. Every wrapper does exactly what the DPDK
 * function of the same name does.
 */
#ifndef DPSTACK_FFI_SHIM_H
#define DPSTACK_FFI_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

enum dps_offload_flag {
    DPS_RX_OFFLOAD_IPV4_CKSUM = (int)RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
    DPS_RX_OFFLOAD_UDP_CKSUM = (int)RTE_ETH_RX_OFFLOAD_UDP_CKSUM,
    DPS_RX_OFFLOAD_TCP_CKSUM = (int)RTE_ETH_RX_OFFLOAD_TCP_CKSUM,
    DPS_RX_OFFLOAD_RSS_HASH = (int)RTE_ETH_RX_OFFLOAD_RSS_HASH,
    DPS_TX_OFFLOAD_IPV4_CKSUM = (int)RTE_ETH_TX_OFFLOAD_IPV4_CKSUM,
    DPS_TX_OFFLOAD_UDP_CKSUM = (int)RTE_ETH_TX_OFFLOAD_UDP_CKSUM,
    DPS_TX_OFFLOAD_TCP_CKSUM = (int)RTE_ETH_TX_OFFLOAD_TCP_CKSUM,
    DPS_ETH_RSS_IPV4 = (int)RTE_ETH_RSS_IPV4,
    DPS_ETH_RSS_FRAG_IPV4 = (int)RTE_ETH_RSS_FRAG_IPV4,
    DPS_ETH_RSS_NONFRAG_IPV4_TCP = (int)RTE_ETH_RSS_NONFRAG_IPV4_TCP,
    DPS_ETH_RSS_NONFRAG_IPV4_UDP = (int)RTE_ETH_RSS_NONFRAG_IPV4_UDP,
    DPS_ETH_RSS_NONFRAG_IPV4_OTHER = (int)RTE_ETH_RSS_NONFRAG_IPV4_OTHER,
    DPS_MBUF_RX_IP_CKSUM_MASK = (int)RTE_MBUF_F_RX_IP_CKSUM_MASK,
    DPS_MBUF_RX_IP_CKSUM_GOOD = (int)RTE_MBUF_F_RX_IP_CKSUM_GOOD,
    DPS_MBUF_RX_IP_CKSUM_BAD = (int)RTE_MBUF_F_RX_IP_CKSUM_BAD,
    DPS_MBUF_RX_L4_CKSUM_MASK = (int)RTE_MBUF_F_RX_L4_CKSUM_MASK,
    DPS_MBUF_RX_L4_CKSUM_GOOD = (int)RTE_MBUF_F_RX_L4_CKSUM_GOOD,
    DPS_MBUF_RX_L4_CKSUM_BAD = (int)RTE_MBUF_F_RX_L4_CKSUM_BAD,
};

/* What a transmitted frame asks the NIC to checksum (rte_mbuf ol_flags). */
enum dps_tx_cksum {
    DPS_TX_CKSUM_IP = 1,
    DPS_TX_CKSUM_TCP = 2,
    DPS_TX_CKSUM_UDP = 4,
};

uint16_t dps_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t dps_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

struct rte_mbuf *dps_pktmbuf_alloc(struct rte_mempool *pool);
/* rte_pktmbuf_alloc_bulk, each mbuf then holding `len` bytes of data: 0, or
 * -1 (too few mbufs) or -2 (`len` longer than an mbuf's room), none taken. */
int dps_pktmbuf_alloc_bulk_len(struct rte_mempool *pool, struct rte_mbuf **mbufs, unsigned count,
                               uint16_t len);
void dps_pktmbuf_free(struct rte_mbuf *m);
void dps_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned count);

void *dps_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t dps_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t dps_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t dps_pktmbuf_nb_segs(const struct rte_mbuf *m);
uint16_t dps_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t dps_pktmbuf_tailroom(const struct rte_mbuf *m);
char *dps_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *dps_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *dps_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int dps_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint16_t dps_mbuf_refcnt_read(const struct rte_mbuf *m);
void dps_mbuf_refcnt_update(struct rte_mbuf *m, int16_t delta);
uint64_t dps_mbuf_ol_flags(const struct rte_mbuf *m);
/* Sets RTE_MBUF_F_TX_IPV4 and the checksum flags `what` (dps_tx_cksum bits)
 * asks for, with the header lengths the NIC needs (l2_len, l3_len). */
void dps_mbuf_request_tx_cksum(struct rte_mbuf *m, unsigned what, uint16_t l2_len, uint16_t l3_len);
/* The TX checksum bits of ol_flags, as dps_tx_cksum bits. */
unsigned dps_mbuf_tx_cksum(const struct rte_mbuf *m);

unsigned dps_lcore_id(void);
uint64_t dps_rdtsc(void);
uint64_t dps_tsc_hz(void);
int dps_errno(void);

#endif
