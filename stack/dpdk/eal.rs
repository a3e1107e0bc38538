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
    #[inline]
    pub fn rdtsc(&self) -> u64 {
        // Inline on x86-64 (what rte_rdtsc is there): per-burst loops read it.
        #[cfg(target_arch = "x86_64")]
        // SAFETY: reads the time-stamp counter; no memory is touched.
        unsafe {
            std::arch::x86_64::_rdtsc()
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: reads the time-stamp counter; no memory is touched.
        unsafe {
            sys::dps_rdtsc()
        }
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

    /// The lcores EAL was given (`-l`), the main lcore first.
    pub fn lcores(&self) -> Vec<u32> {
        // SAFETY: EAL is initialised; the calls take and return plain values.
        let main = unsafe { sys::rte_get_main_lcore() };
        let mut lcores = vec![main];
        let mut next = u32::MAX;
        loop {
            // SAFETY: as above; `u32::MAX` (-1) starts the walk, skip_main = 1, no wrap.
            next = unsafe { sys::rte_get_next_lcore(next, 1, 0) };
            if next >= sys::RTE_MAX_LCORE {
                return lcores;
            }
            lcores.push(next);
        }
    }

    /// Runs `work(index, lcore)` once on every lcore EAL was given: index 0
    /// on the calling (main) lcore, the others on the worker lcores, all at
    /// once. Returns the results in index order once every lcore is done.
    /// Must be called from the main lcore's thread (the one that ran `init`).
    pub fn run_on_lcores<R, F>(&self, work: F) -> Result<Vec<R>, DpdkError>
    where
        R: Send,
        F: Fn(usize, u32) -> R + Sync,
    {
        self.run_on_lcores_or(work, || {})
    }

    /// As [`run_on_lcores`](Self::run_on_lcores); if a worker lcore cannot
    /// be launched, `abort` runs before the ones already launched are
    /// waited for (it must make them return, e.g. by requesting a stop).
    pub fn run_on_lcores_or<R, F>(&self, work: F, abort: impl FnOnce()) -> Result<Vec<R>, DpdkError>
    where
        R: Send,
        F: Fn(usize, u32) -> R + Sync,
    {
        struct Job<'a, R, F> {
            work: &'a F,
            index: usize,
            lcore: u32,
            result: std::sync::Mutex<Option<R>>,
        }

        extern "C" fn trampoline<R, F: Fn(usize, u32) -> R>(arg: *mut std::ffi::c_void) -> i32 {
            // SAFETY: `arg` points at a Job that run_on_lcores keeps alive
            // until rte_eal_wait_lcore has returned for this lcore.
            let job = unsafe { &*(arg as *const Job<'_, R, F>) };
            let result = (job.work)(job.index, job.lcore);
            if let Ok(mut slot) = job.result.lock() {
                *slot = Some(result);
            }
            0
        }

        let lcores = self.lcores();
        let jobs: Vec<Job<'_, R, F>> = lcores
            .iter()
            .enumerate()
            .map(|(index, &lcore)| Job {
                work: &work,
                index,
                lcore,
                result: std::sync::Mutex::new(None),
            })
            .collect();
        let mut launched = Vec::new();
        let mut failure = None;
        for job in &jobs[1..] {
            let arg = job as *const Job<'_, R, F> as *mut std::ffi::c_void;
            // SAFETY: the trampoline matches lcore_function_t; `jobs` outlives
            // the launch because every launched lcore is waited for below.
            let rc =
                unsafe { sys::rte_eal_remote_launch(Some(trampoline::<R, F>), arg, job.lcore) };
            if rc == 0 {
                launched.push(job.lcore);
            } else {
                failure = Some(DpdkError::from_return("rte_eal_remote_launch", rc));
                break;
            }
        }
        if failure.is_none() {
            let main = &jobs[0];
            let result = work(main.index, main.lcore);
            if let Ok(mut slot) = main.result.lock() {
                *slot = Some(result);
            }
        } else {
            abort();
        }
        for lcore in launched {
            // SAFETY: waits for a worker we launched; plain value in and out.
            unsafe { sys::rte_eal_wait_lcore(lcore) };
        }
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(jobs
            .into_iter()
            .filter_map(|job| job.result.into_inner().ok().flatten())
            .collect())
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
