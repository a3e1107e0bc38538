//! An ethdev port: configuration, queues, start/stop, and what it reports.

use super::{sys, DpdkError, Eal, Mbuf, Mempool};
use crate::device::Offloads;
use crate::device::MAX_BURST;
use crate::wire::MacAddr;
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How to bring a port up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Receive queues (one per polling core).
    pub rx_queues: u16,
    /// Transmit queues.
    pub tx_queues: u16,
    /// Descriptors per receive queue (adjusted to the device's limits).
    pub rx_descriptors: u16,
    /// Descriptors per transmit queue (adjusted to the device's limits).
    pub tx_descriptors: u16,
    /// MTU to set, if not the device's default.
    pub mtu: Option<u16>,
    /// Receive frames for every destination MAC.
    pub promiscuous: bool,
    /// Spread IPv4/TCP/UDP flows over the receive queues by RSS, if the port supports it.
    pub rss: bool,
    /// With `rss` and several queues: program the symmetric Toeplitz key
    /// and a round-robin redirection table, so the software hash
    /// ([`crate::steer`]) predicts the queue of every flow. Whether the
    /// port took both is [`Port::hardware_steering`].
    pub symmetric_rss: bool,
    /// Use IPv4/TCP/UDP checksum offloads the port supports.
    pub checksum_offloads: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_descriptors: 1024,
            tx_descriptors: 1024,
            mtu: None,
            promiscuous: false,
            rss: true,
            symmetric_rss: true,
            checksum_offloads: true,
        }
    }
}

/// What the port's driver reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Driver name, e.g. `net_tap` or `net_ixgbe`.
    pub driver: String,
    /// Device name, e.g. `net_tap0` or a PCI address.
    pub name: String,
    /// Most receive queues the port supports.
    pub max_rx_queues: u16,
    /// Most transmit queues the port supports.
    pub max_tx_queues: u16,
    /// Receive offloads supported (`RTE_ETH_RX_OFFLOAD_*` bits).
    pub rx_offload_capa: u64,
    /// Transmit offloads supported (`RTE_ETH_TX_OFFLOAD_*` bits).
    pub tx_offload_capa: u64,
    /// Flow types RSS can hash (`RTE_ETH_RSS_*` bits).
    pub rss_flow_types: u64,
    /// Smallest MTU the port accepts.
    pub min_mtu: u16,
    /// Largest MTU the port accepts.
    pub max_mtu: u16,
    /// Entries of the RSS redirection table (0: none to program).
    pub reta_size: u16,
    /// Bytes of the RSS hash key (0: the key cannot be set).
    pub hash_key_size: u8,
}

/// Link state as the port reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// Link is up.
    pub up: bool,
    /// Speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// The port's basic hardware counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortStats {
    /// Frames received.
    pub ipackets: u64,
    /// Frames sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Frames dropped by the hardware (RX queue full).
    pub imissed: u64,
    /// Erroneous frames received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Receive failures for lack of an mbuf.
    pub rx_nombuf: u64,
}

impl PortStats {
    /// The counters as `name value` pairs, for printing.
    pub fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("ipackets", self.ipackets),
            ("opackets", self.opackets),
            ("ibytes", self.ibytes),
            ("obytes", self.obytes),
            ("imissed", self.imissed),
            ("ierrors", self.ierrors),
            ("oerrors", self.oerrors),
            ("rx_nombuf", self.rx_nombuf),
        ]
    }
}

const WANTED_RX_OFFLOADS: u64 = (sys::dps_offload_flag_DPS_RX_OFFLOAD_IPV4_CKSUM
    | sys::dps_offload_flag_DPS_RX_OFFLOAD_UDP_CKSUM
    | sys::dps_offload_flag_DPS_RX_OFFLOAD_TCP_CKSUM) as u64;
const WANTED_TX_OFFLOADS: u64 = (sys::dps_offload_flag_DPS_TX_OFFLOAD_IPV4_CKSUM
    | sys::dps_offload_flag_DPS_TX_OFFLOAD_UDP_CKSUM
    | sys::dps_offload_flag_DPS_TX_OFFLOAD_TCP_CKSUM) as u64;
const WANTED_RSS: u64 = (sys::dps_offload_flag_DPS_ETH_RSS_IPV4
    | sys::dps_offload_flag_DPS_ETH_RSS_FRAG_IPV4
    | sys::dps_offload_flag_DPS_ETH_RSS_NONFRAG_IPV4_TCP
    | sys::dps_offload_flag_DPS_ETH_RSS_NONFRAG_IPV4_UDP
    | sys::dps_offload_flag_DPS_ETH_RSS_NONFRAG_IPV4_OTHER) as u64;

/// Virtual drivers whose queue choice is not a Toeplitz hash of ours even
/// when they report RSS (the kernel picks a TAP's queue; the others have
/// none): the stack steers for them.
const VIRTUAL_WITHOUT_HASHING: [&str; 8] = [
    "net_tap",
    "net_memif",
    "net_ring",
    "net_af_packet",
    "net_af_xdp",
    "net_null",
    "net_pcap",
    "net_virtio_user",
];

/// Fills port `id`'s redirection table of `reta_size` entries round robin
/// over `queues`; the table size if the port took it.
fn program_round_robin_reta(id: u16, reta_size: u16, queues: u16) -> Option<u16> {
    let size = usize::from(reta_size);
    if size == 0 || !size.is_power_of_two() || size < usize::from(queues) {
        return None;
    }
    let groups = size.div_ceil(64);
    let mut table = vec![sys::rte_eth_rss_reta_entry64::default(); groups];
    for (group, entry) in table.iter_mut().enumerate() {
        let entries = (size - group * 64).min(64);
        entry.mask = if entries == 64 {
            u64::MAX
        } else {
            (1u64 << entries) - 1
        };
        for (k, slot) in entry.reta.iter_mut().take(entries).enumerate() {
            *slot = ((group * 64 + k) % usize::from(queues)) as u16;
        }
    }
    // SAFETY: `table` holds reta_size / 64 (rounded up) entries, every one
    // initialised, as the call reads; the port is configured and started.
    let rc = unsafe { sys::rte_eth_dev_rss_reta_update(id, table.as_mut_ptr(), reta_size) };
    (rc == 0).then_some(reta_size)
}

fn check(op: &'static str, rc: i32) -> Result<(), DpdkError> {
    if rc < 0 {
        Err(DpdkError::from_return(op, rc))
    } else {
        Ok(())
    }
}

/// A configured, started port. Stopped and closed when dropped (after every
/// device using one of its queues, since they hold it in an `Arc`).
pub struct Port {
    id: u16,
    info: PortInfo,
    rx_offloads: u64,
    tx_offloads: u64,
    rss: bool,
    /// Redirection table size, when the symmetric key and a round-robin
    /// table were programmed.
    hardware_steering: Option<u16>,
    rx_claimed: Box<[AtomicBool]>,
    tx_claimed: Box<[AtomicBool]>,
    pool: Mempool,
    _eal: Eal,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.id)
            .field("info", &self.info)
            .finish()
    }
}

/// Exclusive use of one receive queue and one transmit queue of a port.
/// DPDK queues are not thread-safe, so each queue pair has one claimant.
#[derive(Debug)]
pub struct QueueClaim {
    port: Arc<Port>,
    queue: u16,
}

impl QueueClaim {
    /// The port.
    pub fn port(&self) -> &Arc<Port> {
        &self.port
    }

    /// The queue index, used for both receive and transmit.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives up to `max` frames and appends them to `out`; returns how many.
    pub fn rx_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        out.reserve(max);
        let mut taken = 0;
        while taken < max {
            let want = (max - taken).min(MAX_BURST);
            let len = out.len();
            // SAFETY: this claim is the only user of the queue; the reserved
            // spare capacity holds `want` `rte_mbuf *` (`Mbuf` is a
            // transparent non-null pointer); the PMD writes `got` valid mbufs
            // there and hands us their ownership, and only those become
            // part of `out`. The port is started while the Arc lives.
            let got = usize::from(unsafe {
                let slots = out.as_mut_ptr().add(len) as *mut *mut sys::rte_mbuf;
                let got = sys::dps_rx_burst(self.port.id, self.queue, slots, want as u16);
                out.set_len(len + usize::from(got));
                got
            });
            taken += got;
            if got < want {
                break;
            }
        }
        taken
    }

    /// Transmits frames from the front of `batch`, removing those the port
    /// took (it frees them once sent); returns how many and their bytes.
    /// Frames the queue had no room for stay in `batch`, in order.
    pub fn tx_burst(&mut self, batch: &mut Vec<Mbuf>) -> (usize, u64) {
        let total = batch.len();
        let mut sent = 0;
        let mut bytes = 0;
        while sent < total {
            let n = (total - sent).min(MAX_BURST);
            // Counted before the burst: once the PMD has them, their fields
            // are no longer ours to read.
            let chunk_bytes: u64 = batch[sent..sent + n]
                .iter()
                .map(|m| u64::from(m.pkt_len()))
                .sum();
            // SAFETY: as rx_burst; `batch` is an array of valid mbuf
            // pointers (`Mbuf` is transparent), and ownership of the first
            // `took` of this chunk passes to the PMD.
            let took = usize::from(unsafe {
                sys::dps_tx_burst(
                    self.port.id,
                    self.queue,
                    batch.as_mut_ptr().add(sent) as *mut *mut sys::rte_mbuf,
                    n as u16,
                )
            });
            if took < n {
                let kept: u64 = batch[sent + took..sent + n]
                    .iter()
                    .map(|m| u64::from(m.pkt_len()))
                    .sum();
                bytes += chunk_bytes - kept;
                sent += took;
                break;
            }
            bytes += chunk_bytes;
            sent += n;
        }
        // SAFETY: the first `sent` entries were handed to the PMD and must
        // not be dropped: the rest slide to the front over them and the
        // length shrinks, so each mbuf stays owned exactly once.
        unsafe {
            let base = batch.as_mut_ptr();
            std::ptr::copy(base.add(sent), base, total - sent);
            batch.set_len(total - sent);
        }
        (sent, bytes)
    }
}

impl Drop for QueueClaim {
    fn drop(&mut self) {
        let q = usize::from(self.queue);
        self.port.rx_claimed[q].store(false, Ordering::Release);
        self.port.tx_claimed[q].store(false, Ordering::Release);
    }
}

impl Port {
    /// Reads the driver's description of port `id`.
    pub fn info(eal: &Eal, id: u16) -> Result<PortInfo, DpdkError> {
        let mut raw = sys::rte_eth_dev_info::default();
        // SAFETY: raw is a valid out-struct; DPDK checks the port id.
        check("rte_eth_dev_info_get", unsafe {
            sys::rte_eth_dev_info_get(id, &mut raw)
        })?;
        let driver = if raw.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: driver_name points at the driver's static NUL-terminated name.
            unsafe { CStr::from_ptr(raw.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(PortInfo {
            driver,
            name: eal.port_name(id).unwrap_or_default(),
            max_rx_queues: raw.max_rx_queues,
            max_tx_queues: raw.max_tx_queues,
            rx_offload_capa: raw.rx_offload_capa,
            tx_offload_capa: raw.tx_offload_capa,
            rss_flow_types: raw.flow_type_rss_offloads,
            min_mtu: raw.min_mtu,
            max_mtu: raw.max_mtu,
            reta_size: raw.reta_size,
            hash_key_size: raw.hash_key_size,
        })
    }

    /// Configures port `id` by `config`, sets up its queues with mbufs from
    /// `pool`, and starts it.
    pub fn start(
        eal: &Eal,
        id: u16,
        config: &PortConfig,
        pool: &Mempool,
    ) -> Result<Arc<Port>, DpdkError> {
        let info = Self::info(eal, id)?;
        let invalid = |op| DpdkError {
            op,
            code: libc::EINVAL,
        };
        if config.rx_queues == 0
            || config.tx_queues == 0
            || config.rx_queues > info.max_rx_queues
            || config.tx_queues > info.max_tx_queues
        {
            return Err(invalid("rte_eth_dev_configure (queue count)"));
        }
        let mut conf = sys::rte_eth_conf::default();
        let rss = config.rss && config.rx_queues > 1 && info.rss_flow_types & WANTED_RSS != 0;
        // The symmetric key, as long as the port's key (its pattern repeats
        // every 2 bytes, so any length keeps the symmetry).
        let mut key: Vec<u8> = (0..usize::from(info.hash_key_size))
            .map(|i| crate::steer::SYMMETRIC_KEY[i % 2])
            .collect();
        // The software hash predicts the queue only if the NIC hashes TCP
        // and UDP on their 4-tuple, as it does.
        let four_tuple = (sys::dps_offload_flag_DPS_ETH_RSS_NONFRAG_IPV4_TCP
            | sys::dps_offload_flag_DPS_ETH_RSS_NONFRAG_IPV4_UDP) as u64;
        let program_key = rss
            && config.symmetric_rss
            && !key.is_empty()
            && info.rss_flow_types & four_tuple == four_tuple;
        if rss {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = info.rss_flow_types & WANTED_RSS;
            if program_key {
                conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
                conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
            }
        }
        let (rx_offloads, tx_offloads) = if config.checksum_offloads {
            (
                info.rx_offload_capa & WANTED_RX_OFFLOADS,
                info.tx_offload_capa & WANTED_TX_OFFLOADS,
            )
        } else {
            (0, 0)
        };
        conf.rxmode.offloads = rx_offloads;
        conf.txmode.offloads = tx_offloads;
        // SAFETY: conf is a fully initialised rte_eth_conf; its RSS key
        // pointer (when set) points into `key`, which outlives the call and
        // holds rss_key_len bytes; DPDK copies the key and validates the rest.
        check("rte_eth_dev_configure", unsafe {
            sys::rte_eth_dev_configure(id, config.rx_queues, config.tx_queues, &conf)
        })?;
        let (mut rx_desc, mut tx_desc) = (config.rx_descriptors, config.tx_descriptors);
        // SAFETY: valid out-pointers to the two counts.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rx_desc, &mut tx_desc)
        })?;
        // SAFETY: plain query of a valid port id.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id) };
        let socket = u32::try_from(socket).unwrap_or(sys::SOCKET_ID_ANY as u32);
        for queue in 0..config.rx_queues {
            // SAFETY: the pool outlives the port (the Port keeps a clone);
            // a null rxconf asks for the driver's defaults.
            check("rte_eth_rx_queue_setup", unsafe {
                sys::rte_eth_rx_queue_setup(
                    id,
                    queue,
                    rx_desc,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            })?;
        }
        for queue in 0..config.tx_queues {
            // SAFETY: a null txconf asks for the driver's defaults.
            check("rte_eth_tx_queue_setup", unsafe {
                sys::rte_eth_tx_queue_setup(id, queue, tx_desc, socket, std::ptr::null())
            })?;
        }
        if let Some(mtu) = config.mtu {
            // SAFETY: plain call on a configured port.
            check("rte_eth_dev_set_mtu", unsafe {
                sys::rte_eth_dev_set_mtu(id, mtu)
            })?;
        }
        // SAFETY: the port is configured with all its queues set up.
        check("rte_eth_dev_start", unsafe { sys::rte_eth_dev_start(id) })?;
        let hardware_steering = (program_key
            && VIRTUAL_WITHOUT_HASHING.iter().all(|d| *d != info.driver))
        .then(|| program_round_robin_reta(id, info.reta_size, config.rx_queues))
        .flatten();
        let port = Port {
            id,
            info,
            rx_offloads,
            tx_offloads,
            rss,
            hardware_steering,
            rx_claimed: (0..config.rx_queues)
                .map(|_| AtomicBool::new(false))
                .collect(),
            tx_claimed: (0..config.tx_queues)
                .map(|_| AtomicBool::new(false))
                .collect(),
            pool: pool.clone(),
            _eal: eal.clone(),
        };
        if config.promiscuous {
            port.set_promiscuous(true)?;
        }
        Ok(Arc::new(port))
    }

    /// Claims queue pair `queue` for exclusive use; `EBUSY` if already
    /// claimed, `EINVAL` if the port has no such queue pair.
    pub fn claim_queue(self: &Arc<Self>, queue: u16) -> Result<QueueClaim, DpdkError> {
        let q = usize::from(queue);
        let (Some(rx), Some(tx)) = (self.rx_claimed.get(q), self.tx_claimed.get(q)) else {
            return Err(DpdkError {
                op: "claim_queue",
                code: libc::EINVAL,
            });
        };
        if rx.swap(true, Ordering::AcqRel) {
            return Err(DpdkError {
                op: "claim_queue",
                code: libc::EBUSY,
            });
        }
        if tx.swap(true, Ordering::AcqRel) {
            rx.store(false, Ordering::Release);
            return Err(DpdkError {
                op: "claim_queue",
                code: libc::EBUSY,
            });
        }
        Ok(QueueClaim {
            port: Arc::clone(self),
            queue,
        })
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// What the driver reported when the port was started.
    pub fn port_info(&self) -> &PortInfo {
        &self.info
    }

    /// The mempool receive queues fill from.
    pub fn mempool(&self) -> &Mempool {
        &self.pool
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<MacAddr, DpdkError> {
        let mut addr = sys::rte_ether_addr::default();
        // SAFETY: valid out-pointer.
        check("rte_eth_macaddr_get", unsafe {
            sys::rte_eth_macaddr_get(self.id, &mut addr)
        })?;
        Ok(MacAddr(addr.addr_bytes))
    }

    /// The port's MTU in bytes.
    pub fn mtu(&self) -> Result<u16, DpdkError> {
        let mut mtu = 0u16;
        // SAFETY: valid out-pointer.
        check("rte_eth_dev_get_mtu", unsafe {
            sys::rte_eth_dev_get_mtu(self.id, &mut mtu)
        })?;
        Ok(mtu)
    }

    /// Sets the port's MTU in bytes.
    pub fn set_mtu(&self, mtu: u16) -> Result<(), DpdkError> {
        // SAFETY: plain call; DPDK validates the value.
        check("rte_eth_dev_set_mtu", unsafe {
            sys::rte_eth_dev_set_mtu(self.id, mtu)
        })
    }

    /// Turns promiscuous reception on or off.
    pub fn set_promiscuous(&self, on: bool) -> Result<(), DpdkError> {
        // SAFETY: plain calls on a valid port.
        let rc = unsafe {
            if on {
                sys::rte_eth_promiscuous_enable(self.id)
            } else {
                sys::rte_eth_promiscuous_disable(self.id)
            }
        };
        check("rte_eth_promiscuous_enable/disable", rc)
    }

    /// The link state, without waiting for negotiation.
    pub fn link(&self) -> Result<LinkStatus, DpdkError> {
        let mut link = sys::rte_eth_link::default();
        // SAFETY: valid out-pointer.
        check("rte_eth_link_get_nowait", unsafe {
            sys::rte_eth_link_get_nowait(self.id, &mut link)
        })?;
        Ok(LinkStatus {
            up: link.link_status() == sys::RTE_ETH_LINK_UP as u16,
            speed_mbps: link.link_speed,
            full_duplex: link.link_duplex() == sys::RTE_ETH_LINK_FULL_DUPLEX as u16,
        })
    }

    /// The redirection table size, when the port steers by the symmetric
    /// Toeplitz key through a round-robin table (queue `i % queues` for
    /// entry `i`): then every flow arrives on the queue
    /// [`crate::steer::Steering`] predicts. `None`: the stack must steer.
    pub fn hardware_steering(&self) -> Option<u16> {
        self.hardware_steering
    }

    /// Offloads in force on this port, and whether RSS is on.
    pub fn offloads(&self) -> Offloads {
        let rx = |flag: u32| self.rx_offloads & u64::from(flag) != 0;
        let tx = |flag: u32| self.tx_offloads & u64::from(flag) != 0;
        Offloads {
            rx_ipv4_checksum: rx(sys::dps_offload_flag_DPS_RX_OFFLOAD_IPV4_CKSUM),
            rx_tcp_checksum: rx(sys::dps_offload_flag_DPS_RX_OFFLOAD_TCP_CKSUM),
            rx_udp_checksum: rx(sys::dps_offload_flag_DPS_RX_OFFLOAD_UDP_CKSUM),
            tx_ipv4_checksum: tx(sys::dps_offload_flag_DPS_TX_OFFLOAD_IPV4_CKSUM),
            tx_tcp_checksum: tx(sys::dps_offload_flag_DPS_TX_OFFLOAD_TCP_CKSUM),
            tx_udp_checksum: tx(sys::dps_offload_flag_DPS_TX_OFFLOAD_UDP_CKSUM),
            rss: self.rss,
        }
    }

    /// Number of receive queues configured.
    pub fn rx_queues(&self) -> u16 {
        self.rx_claimed.len() as u16
    }

    /// Number of transmit queues configured.
    pub fn tx_queues(&self) -> u16 {
        self.tx_claimed.len() as u16
    }

    /// The port's basic counters.
    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        let mut raw = sys::rte_eth_stats::default();
        // SAFETY: valid out-pointer.
        check("rte_eth_stats_get", unsafe {
            sys::rte_eth_stats_get(self.id, &mut raw)
        })?;
        Ok(PortStats {
            ipackets: raw.ipackets,
            opackets: raw.opackets,
            ibytes: raw.ibytes,
            obytes: raw.obytes,
            imissed: raw.imissed,
            ierrors: raw.ierrors,
            oerrors: raw.oerrors,
            rx_nombuf: raw.rx_nombuf,
        })
    }

    /// The driver's extended counters, as `(name, value)` pairs.
    pub fn xstats(&self) -> Result<Vec<(String, u64)>, DpdkError> {
        // SAFETY: a null array with size 0 asks only for the count.
        let count = unsafe { sys::rte_eth_xstats_get_names(self.id, std::ptr::null_mut(), 0) };
        check("rte_eth_xstats_get_names", count)?;
        let count = count as usize;
        let mut names = vec![sys::rte_eth_xstat_name::default(); count];
        let mut values = vec![sys::rte_eth_xstat::default(); count];
        // SAFETY: both arrays have `count` elements, as passed.
        let got_names =
            unsafe { sys::rte_eth_xstats_get_names(self.id, names.as_mut_ptr(), count as u32) };
        check("rte_eth_xstats_get_names", got_names)?;
        // SAFETY: as above.
        let got_values =
            unsafe { sys::rte_eth_xstats_get(self.id, values.as_mut_ptr(), count as u32) };
        check("rte_eth_xstats_get", got_values)?;
        let n = (got_names as usize).min(got_values as usize).min(count);
        Ok(values[..n]
            .iter()
            .filter_map(|v| {
                let name = names.get(v.id as usize)?;
                // SAFETY: DPDK writes NUL-terminated names into the fixed arrays.
                let name = unsafe { CStr::from_ptr(name.name.as_ptr()) };
                Some((name.to_string_lossy().into_owned(), v.value))
            })
            .collect())
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: no queue claim is alive (each holds an Arc to self), so
        // nothing polls the port while it stops. Failures here have nowhere
        // to go and leave the port as DPDK left it.
        unsafe {
            sys::rte_eth_dev_stop(self.id);
            sys::rte_eth_dev_close(self.id);
        }
    }
}
