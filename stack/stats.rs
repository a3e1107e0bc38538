//! Counters per layer, read as plain-data snapshots (like `netstat -s`).
//!
//! Counters are kept by the layer that owns them and copied out on request,
//! so reading them never disturbs the data path.

/// Frame counters of one device (one queue pair for multi-queue ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceStats {
    /// Frames handed to the caller by `receive`.
    pub rx_packets: u64,
    /// Bytes in those frames.
    pub rx_bytes: u64,
    /// Frames taken by `transmit` and sent on.
    pub tx_packets: u64,
    /// Bytes in those frames.
    pub tx_bytes: u64,
    /// Received frames dropped by the device layer (no buffer, too large, malformed).
    pub rx_dropped: u64,
    /// Frames the caller gave to `transmit` that the device dropped.
    pub tx_dropped: u64,
    /// Receive-side errors reported by the backend (read errors, NIC errors).
    pub rx_errors: u64,
    /// Transmit-side errors reported by the backend (write errors).
    pub tx_errors: u64,
}

impl DeviceStats {
    /// The counters as `name value` pairs, in a fixed order, for printing.
    pub fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("rx_packets", self.rx_packets),
            ("rx_bytes", self.rx_bytes),
            ("tx_packets", self.tx_packets),
            ("tx_bytes", self.tx_bytes),
            ("rx_dropped", self.rx_dropped),
            ("tx_dropped", self.tx_dropped),
            ("rx_errors", self.rx_errors),
            ("tx_errors", self.tx_errors),
        ]
    }

    /// Counts one frame received.
    pub(crate) fn count_rx(&mut self, len: usize) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
    }

    /// Counts one frame transmitted.
    pub(crate) fn count_tx(&mut self, len: usize) {
        self.tx_packets += 1;
        self.tx_bytes += len as u64;
    }
}
