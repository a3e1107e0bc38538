//! One share-nothing stack per core: launching the cores, what each core
//! knows of the others, and the few meeting points an app needs (every
//! core ready, every core connected).
//!
//! An app gives a [`CoreUser`]; each core runs it on its own device (one
//! queue pair of the port, wrapped in the steering stage when there are
//! several cores) on its own thread: an EAL lcore on DPDK, a plain thread
//! for in-memory devices. Nothing on the data path is shared: each core
//! builds its own `Stack` with its own sockets, timers, descriptors and
//! counters. What the cores share is the control path: the stop flag, the
//! meeting counter, and the handoff rings' fixed layout.

use super::{RunControl, StackConfig};
use crate::device::Device;
use crate::steer::{steer_all, CoreSteering, SteeredDevice, Steering};
use crate::time::Clock;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Frames that may wait for one core in the rings from all the others
/// (software steering) before the steering stage drops (and counts) more:
/// enough to ride out a core being off its CPU for a moment.
pub const HANDOFF_FRAMES_PER_CORE: usize = 4096;

/// Frames each ring between two of `cores` cores holds: a core's share of
/// [`HANDOFF_FRAMES_PER_CORE`] per peer, at least 64.
pub fn handoff_ring_frames(cores: usize) -> usize {
    (HANDOFF_FRAMES_PER_CORE / cores.saturating_sub(1).max(1)).max(64)
}

/// One core's place among the cores an app runs on.
pub struct Core {
    index: usize,
    count: usize,
    lcore: Option<u32>,
    steering: Option<CoreSteering>,
    control: RunControl,
    meeting: Arc<AtomicU64>,
    meetings_attended: Cell<u64>,
}

impl Core {
    /// The only core of a single-queue run, on the calling thread.
    pub fn single(control: RunControl) -> Core {
        Core {
            index: 0,
            count: 1,
            lcore: None,
            steering: None,
            control,
            meeting: Arc::new(AtomicU64::new(0)),
            meetings_attended: Cell::new(0),
        }
    }

    /// This core's index, from 0 (the main core) to `count() - 1`; also
    /// the index of its queue pair.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many cores the app runs on.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The EAL lcore this core runs on (DPDK only).
    pub fn lcore(&self) -> Option<u32> {
        self.lcore
    }

    /// The app's stop condition, shared by every core.
    pub fn control(&self) -> &RunControl {
        &self.control
    }

    /// This core's share of the steering (`None` on a single core).
    pub fn steering(&self) -> Option<&CoreSteering> {
        self.steering.as_ref()
    }

    /// `config` for this core's stack: active opens pick ports that land here.
    pub fn stack_config(&self, mut config: StackConfig) -> StackConfig {
        config.core = self.steering.clone();
        config
    }

    /// Waits for every core to be set up and its IPv6 addresses to pass
    /// duplicate address detection (its stack polled meanwhile), then
    /// core 0 prints the `dpstack: ready` line for all of them (with the
    /// core count when there are several). False if a stop came first.
    pub fn ready<D: Device, C: Clock>(
        &self,
        options: &super::NetOptions,
        stack: &mut super::Stack<D, C>,
    ) -> bool {
        stack.attach_telemetry(super::telemetry::register_core(self.index, self.lcore()));
        if let Some(name) = &options.kernel_tap {
            let attached = if self.count > 1 {
                Err(
                    "--kernel-tap takes one lcore (one stack to share the kernel's address with)"
                        .into(),
                )
            } else {
                stack.attach_kernel_tap(name, &options.kernel_ports)
            };
            if let Err(message) = attached {
                // A configuration error at start: say so and fail, as a bad flag does.
                eprintln!("dpstack: {message}");
                std::process::exit(1);
            }
        }
        // `ready` promises usable addresses: IPv6 ones are once duplicate
        // address detection clears them (a second with the default one probe).
        let mut backoff = super::IdleBackoff::default();
        while stack.interface().ip6_tentative() {
            if !self.control.keep_running() {
                return false;
            }
            backoff.turn(stack.poll());
        }
        if !self.meet(|| stack.poll()) {
            return false;
        }
        if self.index == 0 {
            let mut caps = stack.device().capabilities();
            if self.count > 1 {
                caps.name = format!("{} ({} cores)", caps.name, self.count);
            }
            super::announce_ready(options, &caps);
        }
        true
    }

    /// Waits until every core has reached its matching call, running `poll`
    /// meanwhile (a core keeps its stack turning while it waits; `poll`
    /// says whether it did work, as [`Stack::poll`](super::Stack::poll)
    /// does). False if a stop was requested first.
    pub fn meet(&self, mut poll: impl FnMut() -> bool) -> bool {
        let round = self.meetings_attended.get() + 1;
        self.meetings_attended.set(round);
        if self.count == 1 {
            return true;
        }
        self.meeting.fetch_add(1, Ordering::AcqRel);
        let everyone = round * self.count as u64;
        let mut backoff = super::IdleBackoff::default();
        while self.meeting.load(Ordering::Acquire) < everyone {
            if !self.control.keep_running() {
                return false;
            }
            backoff.turn(poll());
        }
        true
    }
}

/// Code that runs on every core, each with its own device.
pub trait CoreUser: Sync {
    /// What one core returns.
    type Output: Send;
    /// Runs on `core` with its `device` (its queue pair).
    fn run_core<D: Device>(&self, core: &Core, device: D) -> Result<Self::Output, String>;
}

/// What launches code on EAL lcores: the EAL itself.
#[cfg(feature = "dpdk")]
pub(super) type Lcores = crate::dpdk::Eal;
/// Without DPDK there are no lcores to launch on.
#[cfg(not(feature = "dpdk"))]
pub(super) enum Lcores {}

/// Where the cores run.
pub(super) enum Launcher<'a> {
    /// Plain threads; core 0 on the calling thread.
    Threads,
    /// EAL lcores, in `Eal::lcores` order; core 0 on the main lcore.
    #[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
    Lcores(&'a Lcores),
}

/// Runs `user` on one core per device (device `k` is core `k`'s queue
/// pair), on plain threads: the in-memory multi-queue pipe's way, for
/// tests. Several devices are wrapped in the steering stage by `steering`
/// (which must have one core per device). Returns each core's output, in
/// order; a core's error stops the others and is returned.
pub fn run_on_threads<D, U>(
    devices: Vec<D>,
    steering: &Steering,
    control: &RunControl,
    user: &U,
) -> Result<Vec<U::Output>, String>
where
    D: Device + Send,
    D::Buf: Send,
    U: CoreUser,
{
    run_cores(devices, Some(steering), control, &Launcher::Threads, user)
}

/// The body of [`run_on_threads`] and of DPDK runs: devices into cores.
pub(super) fn run_cores<D, U>(
    devices: Vec<D>,
    steering: Option<&Steering>,
    control: &RunControl,
    launcher: &Launcher<'_>,
    user: &U,
) -> Result<Vec<U::Output>, String>
where
    D: Device + Send,
    D::Buf: Send,
    U: CoreUser,
{
    let count = devices.len();
    if count > 1 && steering.is_none_or(|s| s.cores() != count) {
        return Err(format!("steering for {count} cores is needed"));
    }
    let meeting = Arc::new(AtomicU64::new(0));
    let core_of = |index: usize, lcore: Option<u32>| Core {
        index,
        count,
        lcore,
        steering: steering.filter(|_| count > 1).map(|s| CoreSteering {
            steering: s.clone(),
            core: index as u16,
        }),
        control: control.clone(),
        meeting: Arc::clone(&meeting),
        meetings_attended: Cell::new(0),
    };
    let (Some(steering), true) = (steering, count > 1) else {
        // One core: no steering stage, on the calling thread (the main
        // lcore on DPDK), exactly as before there were several.
        let device = devices.into_iter().next().ok_or("no device to run on")?;
        let lcore = match launcher {
            Launcher::Threads => None,
            Launcher::Lcores(eal) => main_lcore(eal),
        };
        return Ok(vec![user.run_core(&core_of(0, lcore), device)?]);
    };
    // The rings live in the steered devices only: the last device dropped
    // frees frames still in them while its queue (and so the port and its
    // mempool) is still there.
    let slots: Vec<Mutex<Option<SteeredDevice<D>>>> =
        steer_all(devices, steering, handoff_ring_frames(count))
            .into_iter()
            .map(|steered| Mutex::new(Some(steered)))
            .collect();
    let run = |index: usize, lcore: Option<u32>| -> Result<U::Output, String> {
        // Whatever way this core ends (an error, a panic), the others must
        // not wait for it at a meeting.
        let _stop_others = StopOnUnwind(control);
        let device = slots[index]
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .ok_or("a core's device was taken twice")?;
        let outcome = user.run_core(&core_of(index, lcore), device);
        if outcome.is_err() {
            control.request_stop();
        }
        outcome
    };
    let outcomes = launch(launcher, count, control, &run)?;
    let mut outputs = Vec::with_capacity(count);
    for (index, outcome) in outcomes.into_iter().enumerate() {
        outputs.push(outcome.map_err(|e| format!("core {index}: {e}"))?);
    }
    Ok(outputs)
}

/// Requests a stop when dropped during a panic, so the other cores leave
/// their meetings instead of waiting for a core that is gone.
struct StopOnUnwind<'a>(&'a RunControl);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.request_stop();
        }
    }
}

/// The main lcore's id, where EAL runs the calling thread.
#[cfg(feature = "dpdk")]
fn main_lcore(eal: &Lcores) -> Option<u32> {
    eal.lcores().first().copied()
}

#[cfg(not(feature = "dpdk"))]
fn main_lcore(eal: &Lcores) -> Option<u32> {
    match *eal {}
}

/// Runs `work(index, lcore)` for every core at once; results in index
/// order. If a core cannot be launched, a stop is requested so the ones
/// already running leave their meetings.
#[cfg_attr(not(feature = "dpdk"), allow(unused_variables))]
fn launch<R: Send>(
    launcher: &Launcher<'_>,
    count: usize,
    control: &RunControl,
    work: &(dyn Fn(usize, Option<u32>) -> R + Sync),
) -> Result<Vec<R>, String> {
    match launcher {
        Launcher::Threads => Ok(std::thread::scope(|scope| {
            let others: Vec<_> = (1..count)
                .map(|index| scope.spawn(move || work(index, None)))
                .collect();
            let mut results = vec![work(0, None)];
            for handle in others {
                match handle.join() {
                    Ok(result) => results.push(result),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            results
        })),
        #[cfg(not(feature = "dpdk"))]
        Launcher::Lcores(none) => match **none {},
        #[cfg(feature = "dpdk")]
        Launcher::Lcores(eal) => {
            let results = eal
                .run_on_lcores_or(
                    |index, lcore| work(index, Some(lcore)),
                    || control.request_stop(),
                )
                .map_err(|e| format!("cannot launch the lcores: {e}"))?;
            if results.len() != count {
                return Err(format!("{} lcores ran, {count} were needed", results.len()));
            }
            Ok(results)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::BufPool;
    use crate::device::pipe::{multi_queue_pipe, PipeConfig, PipeSpread};
    use crate::steer::{SteeringMode, DEFAULT_RETA_SIZE};
    use std::sync::atomic::AtomicBool;

    /// Core 1 panics while core 0 waits for it at a meeting.
    struct PanicsOnCoreOne;

    impl CoreUser for PanicsOnCoreOne {
        type Output = ();

        fn run_core<D: Device>(&self, core: &Core, _device: D) -> Result<(), String> {
            if core.index() == 1 {
                panic!("core 1 fails");
            }
            if core.meet(|| false) {
                Ok(())
            } else {
                Err("stopped".into())
            }
        }
    }

    #[test]
    fn a_core_that_panics_does_not_leave_the_others_waiting() {
        let pool = BufPool::with_defaults();
        let (devices, _peer) =
            multi_queue_pipe(&PipeConfig::default(), &pool, 2, &PipeSpread::SameQueue);
        let steering = Steering::new(2, DEFAULT_RETA_SIZE, SteeringMode::Software).unwrap();
        let control = RunControl::without_signals(Arc::new(AtomicBool::new(false)), None);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_on_threads(devices, &steering, &control, &PanicsOnCoreOne)
        }));
        assert!(outcome.is_err(), "the panic reaches the caller");
        assert!(!control.keep_running(), "and stopped the other core");
    }

    #[test]
    fn one_core_runs_on_the_calling_thread_without_steering() {
        struct Where;
        impl CoreUser for Where {
            type Output = (std::thread::ThreadId, bool);
            fn run_core<D: Device>(&self, core: &Core, _device: D) -> Result<Self::Output, String> {
                Ok((std::thread::current().id(), core.steering().is_none()))
            }
        }
        let pool = BufPool::with_defaults();
        let (devices, _peer) =
            multi_queue_pipe(&PipeConfig::default(), &pool, 1, &PipeSpread::SameQueue);
        let steering = Steering::new(1, DEFAULT_RETA_SIZE, SteeringMode::Software).unwrap();
        let control = RunControl::without_signals(Arc::new(AtomicBool::new(false)), None);
        let out = run_on_threads(devices, &steering, &control, &Where).unwrap();
        assert_eq!(out, [(std::thread::current().id(), true)]);
    }
}
