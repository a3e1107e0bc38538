//! Opening the device the network options name, optionally recorded to pcap.
//!
//! Devices have different buffer types, so the caller's code is generic over
//! [`Device`] and handed the opened device through [`DeviceUser`]: one
//! monomorphised copy per backend, no dynamic dispatch on the data path.

use super::{Backend, Core, CoreUser, NetOptions, RunControl};
use crate::buf::BufPool;
use crate::device::fault::{FaultConfig, FaultDevice, FaultProfile};
use crate::device::pcap::{PcapDevice, Recorder};
use crate::device::tap::{TapDevice, TapError};
use crate::device::Device;
use crate::wire::MacAddr;
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
    /// The options contradict each other.
    BadOptions(&'static str),
    /// The port cannot give one queue pair per lcore.
    TooFewQueues {
        /// The port.
        port: u16,
        /// Its driver.
        driver: String,
        /// Queue pairs asked for (the lcores in `-l`).
        wanted: u16,
        /// Most queue pairs the port gives.
        max: u16,
    },
    /// `--steering hardware`, but the port cannot take the symmetric key
    /// and a redirection table.
    NoHardwareSteering {
        /// The port.
        port: u16,
        /// Its driver.
        driver: String,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Tap(e) => write!(f, "tap backend: {e}"),
            OpenError::Pcap(e) => write!(f, "pcap file: {e}"),
            #[cfg(feature = "dpdk")]
            OpenError::Dpdk(e) => write!(f, "dpdk backend: {e}"),
            OpenError::NoSuchPort { port, available } => write!(
                f,
                "dpdk backend: no port {port} ({available} found; check --eal: a NIC bound to vfio-pci or a --vdev)"
            ),
            OpenError::DpdkNotBuilt => f.write_str("this build has no DPDK support; use --backend tap"),
            OpenError::BadOptions(why) => f.write_str(why),
            OpenError::TooFewQueues { port, driver, wanted, max } => write!(
                f,
                "dpdk backend: port {port} ({driver}) gives at most {max} queue pair(s), and -l asks for {wanted} lcores (one queue pair each)"
            ),
            OpenError::NoHardwareSteering { port, driver } => write!(
                f,
                "dpdk backend: --steering hardware, but port {port} ({driver}) cannot take the symmetric RSS key and redirection table; use --steering auto or software"
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// Opens the device `options` select (and wraps it in a pcap [`Recorder`]
/// when `--pcap` is given), then hands it to `user`.
pub fn open_device<U: DeviceUser>(options: &NetOptions, user: U) -> Result<U::Output, OpenError> {
    options.validate().map_err(OpenError::BadOptions)?;
    match options.backend {
        Backend::Pcap => {
            let pool = BufPool::with_defaults();
            let mac = options
                .mac
                .unwrap_or(MacAddr::local_from_seed(u64::from(std::process::id())));
            let device = PcapDevice::open(
                options.pcap_in.as_deref(),
                options.pcap_out.as_deref(),
                mac,
                &pool,
            )
            .map_err(OpenError::Pcap)?;
            run_maybe_recorded(options, device, user)
        }
        Backend::Tap => {
            let pool = BufPool::with_defaults();
            let device =
                TapDevice::open(&options.tap, options.mac, &pool).map_err(OpenError::Tap)?;
            Ok(run_maybe_recorded(options, device, user)?)
        }
        Backend::Dpdk => open_dpdk(options, user),
    }
}

/// Wraps `device` in the fault layer when `--fault-rx-loss` or
/// `--fault-tx-loss` ask for it, and in a pcap recorder with `--pcap`.
fn run_maybe_recorded<D: Device, U: DeviceUser>(
    options: &NetOptions,
    device: D,
    user: U,
) -> Result<U::Output, OpenError> {
    if options.fault_rx_loss == 0.0 && options.fault_tx_loss == 0.0 {
        return run_recorded(options, device, user);
    }
    let profile = |loss| FaultProfile {
        loss,
        ..FaultProfile::default()
    };
    let config = FaultConfig {
        seed: options.fault_seed,
        rx: profile(options.fault_rx_loss),
        tx: profile(options.fault_tx_loss),
    };
    let device = FaultDevice::new(device, config)
        .map_err(|_| OpenError::BadOptions("fault probabilities must be within [0, 1]"))?;
    run_recorded(options, device, user)
}

fn run_recorded<D: Device, U: DeviceUser>(
    options: &NetOptions,
    device: D,
    user: U,
) -> Result<U::Output, OpenError> {
    match &options.pcap {
        Some(path) => Ok(user.run(Recorder::create(device, path).map_err(OpenError::Pcap)?)),
        None => Ok(user.run(device)),
    }
}

/// Initialises EAL from the options and starts `--port` with `queues`
/// receive/transmit queue pairs (one per polling lcore), with mbufs and MTU
/// sized for frames of up to `max_frame` bytes (without FCS).
#[cfg(feature = "dpdk")]
pub fn open_dpdk_port(
    options: &NetOptions,
    queues: u16,
    max_frame: usize,
) -> Result<(crate::dpdk::Eal, std::sync::Arc<crate::dpdk::Port>), OpenError> {
    let eal = crate::dpdk::Eal::init(&options.eal_args()).map_err(OpenError::Dpdk)?;
    let port = start_dpdk_port(&eal, options, queues, max_frame, 0)?;
    Ok((eal, port))
}

/// Starts `--port` on an initialised EAL, as [`open_dpdk_port`] does, with
/// `extra_mbufs` more in the pool for frames held outside the queues (the
/// rings between cores).
#[cfg(feature = "dpdk")]
pub fn start_dpdk_port(
    eal: &crate::dpdk::Eal,
    options: &NetOptions,
    queues: u16,
    max_frame: usize,
    extra_mbufs: u32,
) -> Result<std::sync::Arc<crate::dpdk::Port>, OpenError> {
    use crate::dpdk::{Mempool, Port, PortConfig};

    let available = eal.port_count();
    if options.port >= available {
        return Err(OpenError::NoSuchPort {
            port: options.port,
            available,
        });
    }
    let info = Port::info(eal, options.port).map_err(OpenError::Dpdk)?;
    let max = info.max_rx_queues.min(info.max_tx_queues);
    if queues > max {
        return Err(OpenError::TooFewQueues {
            port: options.port,
            driver: info.driver,
            wanted: queues,
            max,
        });
    }
    // Enough mbufs for every queue's descriptors plus bursts in flight.
    let mbufs = (u32::from(queues) * 4096)
        .max(8192)
        .saturating_add(extra_mbufs)
        - 1;
    // Frames up to `max_frame` bytes fit one mbuf (no chaining on transmit).
    let headroom = Mempool::DEFAULT_DATA_ROOM as usize - 2048;
    let data_room = (max_frame + headroom).max(Mempool::DEFAULT_DATA_ROOM as usize);
    let data_room = u16::try_from(data_room)
        .map_err(|_| OpenError::BadOptions("frames too large for an mbuf"))?;
    let pool = Mempool::new(eal, mbufs, 256, data_room, -1).map_err(OpenError::Dpdk)?;
    let config = PortConfig {
        rx_queues: queues,
        tx_queues: queues,
        // Jumbo frames need the MTU raised; standard ones keep the default.
        mtu: (max_frame > 1514).then(|| (max_frame - 14) as u16),
        // A --mac other than the port's own needs the port to accept it.
        promiscuous: options.mac.is_some(),
        ..PortConfig::default()
    };
    Port::start(eal, options.port, &config, &pool).map_err(OpenError::Dpdk)
}

/// Opens the device the options select with one queue pair per core and
/// runs `user` on every core: on DPDK one core per EAL lcore (`-l`), each
/// on its lcore with queue pair `k`, steered as `--steering` says; the
/// other backends have one queue, so one core, on the calling thread.
/// Each core's device gets the fault layer and pcap recorder the options
/// ask for (core `k > 0` records to `FILE.k`). Returns each core's output.
pub fn open_cores<U: CoreUser>(
    options: &NetOptions,
    control: &RunControl,
    user: &U,
) -> Result<Vec<U::Output>, String> {
    let wrapped = Wrapped { options, user };
    match options.backend {
        Backend::Dpdk => open_dpdk_cores(options, control, &wrapped),
        Backend::Tap | Backend::Pcap => {
            let core = Core::single(control.clone());
            let output =
                open_device(options, OnCore { core: &core, user }).map_err(|e| e.to_string())??;
            Ok(vec![output])
        }
    }
}

/// A [`CoreUser`] behind the per-core fault layer and recorder.
struct Wrapped<'a, U> {
    options: &'a NetOptions,
    user: &'a U,
}

impl<U: CoreUser> CoreUser for Wrapped<'_, U> {
    type Output = U::Output;

    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<U::Output, String> {
        let mut options = self.options.clone();
        if core.index() > 0 {
            options.pcap = options
                .pcap
                .map(|path| format!("{}.{}", path.display(), core.index()).into());
            options.fault_seed = options.fault_seed.wrapping_add(core.index() as u64);
        }
        let on_core = OnCore {
            core,
            user: self.user,
        };
        run_maybe_recorded(&options, device, on_core).map_err(|e| e.to_string())?
    }
}

/// Runs a [`CoreUser`] as a [`DeviceUser`] on one given core.
struct OnCore<'a, U> {
    core: &'a Core,
    user: &'a U,
}

impl<U: CoreUser> DeviceUser for OnCore<'_, U> {
    type Output = Result<U::Output, String>;

    fn run<D: Device>(self, device: D) -> Self::Output {
        self.user.run_core(self.core, device)
    }
}

#[cfg(feature = "dpdk")]
fn open_dpdk_cores<U: CoreUser>(
    options: &NetOptions,
    control: &RunControl,
    user: &U,
) -> Result<Vec<U::Output>, String> {
    use super::SteeringChoice;
    use crate::steer::{Steering, SteeringMode, DEFAULT_RETA_SIZE};

    let eal =
        crate::dpdk::Eal::init(&options.eal_args()).map_err(|e| OpenError::Dpdk(e).to_string())?;
    let cores = eal.lcores().len();
    if cores > crate::steer::MAX_CORES {
        return Err(format!(
            "{cores} lcores: at most {} cores are supported",
            crate::steer::MAX_CORES
        ));
    }
    let queues = cores as u16;
    // Room for full rings between every pair of cores (software steering).
    let handoff = (cores * (cores - 1) * super::cores::handoff_ring_frames(cores)) as u32;
    let port = start_dpdk_port(&eal, options, queues, 1514, handoff).map_err(|e| e.to_string())?;
    let steering = if cores == 1 {
        None
    } else {
        let (reta, mode) = match (port.hardware_steering(), options.steering) {
            (Some(reta), SteeringChoice::Auto | SteeringChoice::Hardware) => {
                (usize::from(reta), SteeringMode::Hardware)
            }
            (None, SteeringChoice::Hardware) => {
                return Err(OpenError::NoHardwareSteering {
                    port: options.port,
                    driver: port.port_info().driver.clone(),
                }
                .to_string())
            }
            _ => (
                DEFAULT_RETA_SIZE.max(cores.next_power_of_two()),
                SteeringMode::Software,
            ),
        };
        Some(Steering::new(cores, reta, mode).map_err(|e| e.to_string())?)
    };
    let devices = (0..queues)
        .map(|queue| crate::device::dpdk::DpdkDevice::new(&port, queue))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OpenError::Dpdk(e).to_string())?;
    drop(port);
    let launcher = super::cores::Launcher::Lcores(&eal);
    super::cores::run_cores(devices, steering.as_ref(), control, &launcher, user)
}

#[cfg(not(feature = "dpdk"))]
fn open_dpdk_cores<U: CoreUser>(
    _options: &NetOptions,
    _control: &RunControl,
    _user: &U,
) -> Result<Vec<U::Output>, String> {
    Err(OpenError::DpdkNotBuilt.to_string())
}

#[cfg(feature = "dpdk")]
fn open_dpdk<U: DeviceUser>(options: &NetOptions, user: U) -> Result<U::Output, OpenError> {
    let (_eal, port) = open_dpdk_port(options, 1, 1514)?;
    let device = crate::device::dpdk::DpdkDevice::new(&port, 0).map_err(OpenError::Dpdk)?;
    run_maybe_recorded(options, device, user)
}

#[cfg(not(feature = "dpdk"))]
fn open_dpdk<U: DeviceUser>(_options: &NetOptions, _user: U) -> Result<U::Output, OpenError> {
    Err(OpenError::DpdkNotBuilt)
}
