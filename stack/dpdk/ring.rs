//! Two ethdev ports joined by a pair of rte_rings (`net_ring` PMD): what one
//! transmits the other receives, with real mbufs and no NIC.

use super::{sys, DpdkError, Eal};
use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};

static RING_SEQUENCE: AtomicU32 = AtomicU32::new(0);

fn create_ring(name: &str, size: u32) -> Result<*mut sys::rte_ring, DpdkError> {
    let name = CString::new(name).unwrap_or_default();
    // Single producer and single consumer: each ring is one port's TX queue
    // and the other port's RX queue, each used by one thread.
    let flags = sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ;
    // SAFETY: the name is a valid C string copied by DPDK.
    let ring = unsafe { sys::rte_ring_create(name.as_ptr(), size, sys::SOCKET_ID_ANY, flags) };
    if ring.is_null() {
        Err(DpdkError::from_errno("rte_ring_create"))
    } else {
        Ok(ring)
    }
}

/// Creates two `net_ring` ports wired back to back through rings of
/// `ring_size` slots (a power of two), returning their port ids. The rings
/// live as long as the process (ports reference them until EAL cleanup).
pub fn ring_port_pair(_eal: &Eal, ring_size: u32) -> Result<(u16, u16), DpdkError> {
    let sequence = RING_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let a_to_b = create_ring(&format!("dps_r{sequence}_ab"), ring_size)?;
    let b_to_a = create_ring(&format!("dps_r{sequence}_ba"), ring_size)?;
    let port = |name: String, rx: *mut sys::rte_ring, tx: *mut sys::rte_ring| {
        let name = CString::new(name).unwrap_or_default();
        // SAFETY: rx and tx are valid rings that outlive the port; the
        // arrays of one ring pointer each are read during the call only.
        let id = unsafe {
            sys::rte_eth_from_rings(name.as_ptr(), &rx, 1, &tx, 1, sys::SOCKET_ID_ANY as u32)
        };
        u16::try_from(id).map_err(|_| DpdkError::from_errno("rte_eth_from_rings"))
    };
    let a = port(format!("net_ring_dps{sequence}a"), b_to_a, a_to_b)?;
    let b = port(format!("net_ring_dps{sequence}b"), a_to_b, b_to_a)?;
    Ok((a, b))
}
