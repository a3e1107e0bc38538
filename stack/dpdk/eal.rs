//! The Environment Abstraction Layer: DPDK's once-per-process initialisation.

use super::{sys, DpdkError};
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

static INIT_ATTEMPTED: AtomicBool = AtomicBool::new(false);
/// Set when a mempool could not be freed because mbufs were still out; then
/// `rte_eal_cleanup` must not run, since those mbufs would point into freed memory.
pub(super) static CLEANUP_UNSAFE: AtomicBool = AtomicBool::new(false);

struct EalGuard;

impl Drop for EalGuard {
    fn drop(&mut self) {
        if !CLEANUP_UNSAFE.load(Ordering::SeqCst) {
            // SAFETY: every Mempool and Port holds a clone of the Eal, so none
            // is alive here, and no mbuf is outstanding (CLEANUP_UNSAFE unset).
            unsafe {
                sys::rte_eal_cleanup();
            }
        }
    }
}

/// An initialised EAL. Clones share it; DPDK is cleaned up when the last
/// clone (including those held by mempools and ports) is dropped.
#[derive(Clone)]
pub struct Eal {
    _guard: Arc<EalGuard>,
}

impl std::fmt::Debug for Eal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Eal")
    }
}

impl Eal {
    /// Initialises DPDK with EAL arguments such as
    /// `["-l", "0", "--in-memory", "--no-pci", "--vdev=net_tap0,iface=dps0"]`
    /// (no program name). DPDK can be initialised once per process: a second
    /// call, even after a failure, returns an error with `EALREADY`.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, DpdkError> {
        if INIT_ATTEMPTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError {
                op: "rte_eal_init",
                code: libc::EALREADY,
            });
        }
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("dpstack").unwrap_or_default());
        for arg in args {
            let arg = CString::new(arg.as_ref()).map_err(|_| DpdkError {
                op: "rte_eal_init",
                code: libc::EINVAL,
            })?;
            owned.push(arg);
        }
        // EAL may keep pointers into argv for the life of the process, so the
        // strings are deliberately leaked (once per process, a few bytes).
        let mut argv: Vec<*mut c_char> = owned.into_iter().map(CString::into_raw).collect();
        let argc = argv.len() as i32;
        let argv_ptr = argv.as_mut_ptr();
        std::mem::forget(argv);
        // SAFETY: argv holds argc valid NUL-terminated strings that live for
        // the rest of the process; EAL may reorder them.
        let rc = unsafe { sys::rte_eal_init(argc, argv_ptr) };
        if rc < 0 {
            return Err(DpdkError::from_errno("rte_eal_init"));
        }
        Ok(Eal {
            _guard: Arc::new(EalGuard),
        })
    }

    /// TSC ticks per second.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: EAL is initialised (self exists); the call has no arguments.
        unsafe { sys::dps_tsc_hz() }
    }

    /// The current TSC value, in ticks.
    pub fn rdtsc(&self) -> u64 {
        // SAFETY: reads the time-stamp counter; no memory is touched.
        unsafe { sys::dps_rdtsc() }
    }

    /// The calling thread's lcore id (`u32::MAX` for a non-EAL thread).
    pub fn lcore_id(&self) -> u32 {
        // SAFETY: reads a per-thread variable.
        unsafe { sys::dps_lcore_id() }
    }

    /// Number of lcores EAL was given.
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised; the call has no arguments.
        unsafe { sys::rte_lcore_count() }
    }

    /// Number of ethdev ports available.
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised; the call has no arguments.
        unsafe { sys::rte_eth_dev_count_avail() }
    }

    /// The port id of the device named `name` (e.g. `net_tap0`).
    pub fn port_by_name(&self, name: &str) -> Option<u16> {
        let name = CString::new(name).ok()?;
        let mut id = 0u16;
        // SAFETY: name is a valid C string and id a valid out-pointer.
        let rc = unsafe { sys::rte_eth_dev_get_port_by_name(name.as_ptr(), &mut id) };
        (rc == 0).then_some(id)
    }

    /// The device name of port `id`.
    pub fn port_name(&self, id: u16) -> Option<String> {
        let mut name = [0 as c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: the buffer is RTE_ETH_NAME_MAX_LEN bytes, as the call requires.
        let rc = unsafe { sys::rte_eth_dev_get_name_by_port(id, name.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: on success DPDK wrote a NUL-terminated name into the buffer.
        let name = unsafe { CStr::from_ptr(name.as_ptr()) };
        Some(name.to_string_lossy().into_owned())
    }
}
