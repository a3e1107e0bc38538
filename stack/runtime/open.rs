//! Opening the device the network options name, optionally recorded to pcap.
//!
//! Devices have different buffer types, so the caller's code is generic over
//! [`Device`] and handed the opened device through [`DeviceUser`]: one
//! monomorphised copy per backend, no dynamic dispatch on the data path.

use super::{Backend, NetOptions};
use crate::buf::BufPool;
use crate::device::pcap::Recorder;
use crate::device::tap::{TapDevice, TapError};
use crate::device::Device;
use std::fmt;

/// Code that runs on whichever device the options select.
pub trait DeviceUser {
    /// What the code returns.
    type Output;
    /// Runs on the opened device.
    fn run<D: Device>(self, device: D) -> Self::Output;
}

/// Why the device could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The TAP interface could not be created.
    Tap(TapError),
    /// The pcap file could not be created.
    Pcap(std::io::Error),
    /// A DPDK call failed (EAL init, mempool, port start).
    #[cfg(feature = "dpdk")]
    Dpdk(crate::dpdk::DpdkError),
    /// `--port` names a port DPDK does not have.
    NoSuchPort {
        /// The port asked for.
        port: u16,
        /// How many ports DPDK found.
        available: u16,
    },
    /// This build has no DPDK support (built without the `dpdk` feature).
    DpdkNotBuilt,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Tap(e) => write!(f, "tap backend: {e}"),
            OpenError::Pcap(e) => write!(f, "cannot create pcap file: {e}"),
            #[cfg(feature = "dpdk")]
            OpenError::Dpdk(e) => write!(f, "dpdk backend: {e}"),
            OpenError::NoSuchPort { port, available } => write!(
                f,
                "dpdk backend: no port {port} ({available} found; check --eal: a NIC bound to vfio-pci or a --vdev)"
            ),
            OpenError::DpdkNotBuilt => f.write_str("this build has no DPDK support; use --backend tap"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Opens the device `options` select (and wraps it in a pcap [`Recorder`]
/// when `--pcap` is given), then hands it to `user`.
pub fn open_device<U: DeviceUser>(options: &NetOptions, user: U) -> Result<U::Output, OpenError> {
    match options.backend {
        Backend::Tap => {
            let pool = BufPool::with_defaults();
            let device =
                TapDevice::open(&options.tap, options.mac, &pool).map_err(OpenError::Tap)?;
            Ok(run_maybe_recorded(options, device, user)?)
        }
        Backend::Dpdk => open_dpdk(options, user),
    }
}

fn run_maybe_recorded<D: Device, U: DeviceUser>(
    options: &NetOptions,
    device: D,
    user: U,
) -> Result<U::Output, OpenError> {
    match &options.pcap {
        Some(path) => Ok(user.run(Recorder::create(device, path).map_err(OpenError::Pcap)?)),
        None => Ok(user.run(device)),
    }
}

#[cfg(feature = "dpdk")]
fn open_dpdk<U: DeviceUser>(options: &NetOptions, user: U) -> Result<U::Output, OpenError> {
    use crate::device::dpdk::DpdkDevice;
    use crate::dpdk::{Eal, Mempool, Port, PortConfig};

    let eal = Eal::init(&options.eal_args()).map_err(OpenError::Dpdk)?;
    let available = eal.port_count();
    if options.port >= available {
        return Err(OpenError::NoSuchPort {
            port: options.port,
            available,
        });
    }
    let pool =
        Mempool::new(&eal, 8191, 256, Mempool::DEFAULT_DATA_ROOM, -1).map_err(OpenError::Dpdk)?;
    let config = PortConfig {
        // A --mac other than the port's own needs the port to accept it.
        promiscuous: options.mac.is_some(),
        ..PortConfig::default()
    };
    let port = Port::start(&eal, options.port, &config, &pool).map_err(OpenError::Dpdk)?;
    let device = DpdkDevice::new(&port, 0).map_err(OpenError::Dpdk)?;
    run_maybe_recorded(options, device, user)
}

#[cfg(not(feature = "dpdk"))]
fn open_dpdk<U: DeviceUser>(_options: &NetOptions, _user: U) -> Result<U::Output, OpenError> {
    Err(OpenError::DpdkNotBuilt)
}
