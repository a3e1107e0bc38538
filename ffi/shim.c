#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "shim.h"

uint16_t dps_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t dps_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_tx_burst(port, queue, pkts, n);
}

struct rte_mbuf *dps_pktmbuf_alloc(struct rte_mempool *pool)
{
    return rte_pktmbuf_alloc(pool);
}

int dps_pktmbuf_alloc_bulk_len(struct rte_mempool *pool, struct rte_mbuf **mbufs, unsigned count,
                               uint16_t len)
{
    if (count == 0)
        return 0;
    if (rte_pktmbuf_alloc_bulk(pool, mbufs, count) != 0)
        return -1;
    /* Fresh mbufs of one pool all have the same room. */
    if (len > rte_pktmbuf_tailroom(mbufs[0])) {
        rte_pktmbuf_free_bulk(mbufs, count);
        return -2;
    }
    for (unsigned i = 0; i < count; i++) {
        mbufs[i]->data_len = len;
        mbufs[i]->pkt_len = len;
    }
    return 0;
}

void dps_pktmbuf_free(struct rte_mbuf *m)
{
    rte_pktmbuf_free(m);
}

/* Whether `m` can go straight back to `pool`: what rte_pktmbuf_prefree_seg
 * checks (one reference, direct, one segment, no next) with nothing to reset. */
static inline int dps_mbuf_plain(const struct rte_mbuf *m, const struct rte_mempool *pool)
{
    return m->pool == pool && rte_mbuf_refcnt_read(m) == 1 && m->nb_segs == 1 &&
           RTE_MBUF_DIRECT(m) && m->next == NULL;
}

void dps_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned count)
{
    /* The common burst (received or built here, one pool, nothing shared
     * or chained) goes back to the lcore's mempool cache in one inline
     * put; rte_pktmbuf_free_bulk, a library call that walks every chain
     * and reads the lcore id through the dynamic TLS path, takes the rest. */
    if (count == 0)
        return;
    struct rte_mempool *pool = mbufs[0]->pool;
    unsigned plain = 0;
    while (plain < count && dps_mbuf_plain(mbufs[plain], pool))
        plain++;
    if (plain > 0)
        rte_mempool_put_bulk(pool, (void **)mbufs, plain);
    if (plain < count)
        rte_pktmbuf_free_bulk(mbufs + plain, count - plain);
}

void *dps_pktmbuf_mtod(struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod(m, void *);
}

uint16_t dps_pktmbuf_data_len(const struct rte_mbuf *m)
{
    return rte_pktmbuf_data_len(m);
}

uint32_t dps_pktmbuf_pkt_len(const struct rte_mbuf *m)
{
    return rte_pktmbuf_pkt_len(m);
}

uint16_t dps_pktmbuf_nb_segs(const struct rte_mbuf *m)
{
    return m->nb_segs;
}

uint16_t dps_pktmbuf_headroom(const struct rte_mbuf *m)
{
    return rte_pktmbuf_headroom(m);
}

uint16_t dps_pktmbuf_tailroom(const struct rte_mbuf *m)
{
    return rte_pktmbuf_tailroom(m);
}

char *dps_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_append(m, len);
}

char *dps_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_prepend(m, len);
}

char *dps_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_adj(m, len);
}

int dps_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_trim(m, len);
}

uint16_t dps_mbuf_refcnt_read(const struct rte_mbuf *m)
{
    return rte_mbuf_refcnt_read(m);
}

void dps_mbuf_refcnt_update(struct rte_mbuf *m, int16_t delta)
{
    rte_mbuf_refcnt_update(m, delta);
}

uint64_t dps_mbuf_ol_flags(const struct rte_mbuf *m)
{
    return m->ol_flags;
}

unsigned dps_lcore_id(void)
{
    return rte_lcore_id();
}

uint64_t dps_rdtsc(void)
{
    return rte_rdtsc();
}

uint64_t dps_tsc_hz(void)
{
    return rte_get_tsc_hz();
}

int dps_errno(void)
{
    return rte_errno;
}

void dps_mbuf_request_tx_cksum(struct rte_mbuf *m, unsigned what, uint16_t l2_len, uint16_t l3_len)
{
    uint64_t flags = RTE_MBUF_F_TX_IPV4;
    if (what & DPS_TX_CKSUM_IP)
        flags |= RTE_MBUF_F_TX_IP_CKSUM;
    if (what & DPS_TX_CKSUM_TCP)
        flags |= RTE_MBUF_F_TX_TCP_CKSUM;
    else if (what & DPS_TX_CKSUM_UDP)
        flags |= RTE_MBUF_F_TX_UDP_CKSUM;
    m->ol_flags |= flags;
    m->l2_len = l2_len;
    m->l3_len = l3_len;
}

unsigned dps_mbuf_tx_cksum(const struct rte_mbuf *m)
{
    unsigned what = 0;
    if (m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM)
        what |= DPS_TX_CKSUM_IP;
    switch (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) {
    case RTE_MBUF_F_TX_TCP_CKSUM:
        what |= DPS_TX_CKSUM_TCP;
        break;
    case RTE_MBUF_F_TX_UDP_CKSUM:
        what |= DPS_TX_CKSUM_UDP;
        break;
    }
    return what;
}
