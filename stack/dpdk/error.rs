//! Errors from DPDK calls, carrying `rte_errno` and DPDK's text for it.

use super::sys;
use std::ffi::CStr;
use std::fmt;

/// A failed DPDK call: which operation, and the (positive) errno DPDK reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdkError {
    /// The operation that failed, e.g. `"rte_eth_dev_configure"`.
    pub op: &'static str,
    /// The positive errno value (`rte_errno`, or the negated return code).
    pub code: i32,
}

impl DpdkError {
    /// An error for `op` from a negative return code (`-errno`) or, when the
    /// call returns only a failure marker, from `rte_errno`.
    pub(crate) fn from_return(op: &'static str, rc: i32) -> Self {
        let code = if rc < 0 && rc != -1 {
            -rc
        } else {
            Self::rte_errno()
        };
        DpdkError { op, code }
    }

    /// An error for `op` from the current `rte_errno`.
    pub(crate) fn from_errno(op: &'static str) -> Self {
        DpdkError {
            op,
            code: Self::rte_errno(),
        }
    }

    fn rte_errno() -> i32 {
        // SAFETY: reads a per-lcore variable through the shim; no arguments.
        unsafe { sys::dps_errno() }
    }

    /// DPDK's description of the errno.
    pub fn text(&self) -> String {
        // SAFETY: rte_strerror returns a pointer to a NUL-terminated string
        // that stays valid at least until the next call on this thread.
        let text = unsafe { CStr::from_ptr(sys::rte_strerror(self.code)) };
        text.to_string_lossy().into_owned()
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {} (errno {})",
            self.op,
            self.text(),
            self.code
        )
    }
}

impl std::error::Error for DpdkError {}
