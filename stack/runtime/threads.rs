//! The app-threads execution model: the stack runs on a thread of its own
//! and application threads use it through a [`StackHandle`] (`Send +
//! Clone`). Calls cross to the stack thread through a crossbeam-queue
//! ring as closures and come back through a per-call slot. Descriptors made
//! through the handle block as Linux's do: a call that would block
//! (`accept`, `connect`, `send`, `recv`, `epoll_wait`) is tried at once and
//! then again each turn of the stack thread until it completes, its
//! descriptor's `SO_RCVTIMEO`/`SO_SNDTIMEO` passes, or the thread stops;
//! `O_NONBLOCK` (`set_nonblocking`) and `MSG_DONTWAIT` make it return at
//! once instead.
//!
//! Both sides spin before they sleep ([`ThreadConfig`]): the caller
//! watches its slot for `caller_spin` before parking on a condition
//! variable, and the stack thread keeps polling for `stack_spin` after its
//! last work before it naps. A call then costs a few cache-line transfers
//! between two busy cores instead of two scheduler wake-ups (tens of µs
//! each on a VM), at the price of both cores spinning while calls come;
//! with both spins at zero, every call sleeps and wakes as before. See
//! `docs/sockets.md` for measured figures.

use super::Stack;
use crate::device::Device;
use crate::epoll::{CtlOp, EpollEvent};
use crate::socket::{Errno, Fd, Shutdown, SockOpt, SockOptName, SockType, MSG_DONTWAIT};
use crate::stats::StackStats;
use crate::time::Clock;
use crossbeam_queue::ArrayQueue;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Requests waiting for the stack thread, at most.
const QUEUE: usize = 4096;

/// How the two sides of a [`StackHandle`] wait for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadConfig {
    /// How long a caller watches for its reply before parking (each call
    /// and each `epoll_wait`). Zero: park at once.
    pub caller_spin: Duration,
    /// How long the stack thread keeps polling after its last work (a
    /// request, a frame, a timer) before it naps. Zero: nap whenever a
    /// turn found nothing.
    pub stack_spin: Duration,
    /// How long one nap lasts at most; a request ends it at once.
    pub nap: Duration,
}

impl Default for ThreadConfig {
    /// Spin 50 µs on the caller's side and 1 ms on the stack's: round
    /// trips from a busy application never sleep, an idle one costs the
    /// stack thread a millisecond of spinning before it naps.
    fn default() -> Self {
        ThreadConfig {
            caller_spin: Duration::from_micros(50),
            stack_spin: Duration::from_millis(1),
            nap: Duration::from_micros(50),
        }
    }
}

impl ThreadConfig {
    /// No spinning: every call parks its caller, and the stack thread
    /// naps as soon as a turn finds nothing (the cheapest on CPU).
    pub fn sleeping() -> Self {
        ThreadConfig {
            caller_spin: Duration::ZERO,
            stack_spin: Duration::ZERO,
            ..ThreadConfig::default()
        }
    }
}

type Call<D, C> = Box<dyn FnOnce(&mut Stack<D, C>) + Send>;

/// Where a result comes back to the calling thread: `ready` is watched
/// while spinning; the mutex and condition variable serve a parked caller,
/// and the stack thread signals only when `parked` says one is waiting
/// (a signal is a system call).
struct Reply<T> {
    ready: AtomicBool,
    value: Mutex<Slot<T>>,
    wake: Condvar,
}

struct Slot<T> {
    value: Option<T>,
    parked: bool,
    /// The request was dropped unanswered (the stack thread ended).
    abandoned: bool,
}

impl<T> Reply<T> {
    /// A reply slot and the stack thread's end of it.
    fn pair() -> (Arc<Self>, Replier<T>) {
        let reply = Arc::new(Reply {
            ready: AtomicBool::new(false),
            value: Mutex::new(Slot {
                value: None,
                parked: false,
                abandoned: false,
            }),
            wake: Condvar::new(),
        });
        let replier = Replier {
            reply: Arc::clone(&reply),
            answered: false,
        };
        (reply, replier)
    }

    fn put(&self, value: T) {
        let mut slot = self.value.lock().unwrap_or_else(|e| e.into_inner());
        slot.value = Some(value);
        self.ready.store(true, Ordering::Release);
        if slot.parked {
            self.wake.notify_one();
        }
    }

    /// No value will come: wakes the caller empty-handed.
    fn abandon(&self) {
        let mut slot = self.value.lock().unwrap_or_else(|e| e.into_inner());
        slot.abandoned = true;
        self.ready.store(true, Ordering::Release);
        if slot.parked {
            self.wake.notify_one();
        }
    }

    /// Watches for the value for `spin`, then parks until it arrives;
    /// `None` if the request was dropped unanswered.
    fn take(&self, spin: Duration) -> Option<T> {
        if !spin.is_zero() {
            let until = Instant::now() + spin;
            let mut turns = 0u32;
            while !self.ready.load(Ordering::Acquire) {
                std::hint::spin_loop();
                turns = turns.wrapping_add(1);
                // The clock is read once in a while: it costs more than a look.
                if turns % 64 == 0 && Instant::now() >= until {
                    break;
                }
            }
        }
        let mut slot = self.value.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(value) = slot.value.take() {
                return Some(value);
            }
            if slot.abandoned {
                return None;
            }
            slot.parked = true;
            slot = self.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The stack thread's end of a [`Reply`], carried inside a request: if
/// the request is dropped before answering (the stack thread ended, or a
/// caller cleared a queue nobody serves), the caller is woken with nothing
/// rather than left parked.
struct Replier<T> {
    reply: Arc<Reply<T>>,
    answered: bool,
}

impl<T> Replier<T> {
    fn put(&mut self, value: T) {
        self.answered = true;
        self.reply.put(value);
    }
}

impl<T> Drop for Replier<T> {
    fn drop(&mut self) {
        if !self.answered {
            self.reply.abandon();
        }
    }
}

/// A call that may wait: tried once per turn of the stack thread, with
/// the time and whether the thread is stopping, until it returns true
/// (it has put its reply). When stopping it must answer at once.
type Retry<D, C> = Box<dyn FnMut(&mut Stack<D, C>, Instant, bool) -> bool + Send>;

enum Request<D: Device, C: Clock> {
    Call(Call<D, C>),
    Retry(Retry<D, C>),
}

/// Which timeout bounds a blocking call.
#[derive(Clone, Copy)]
enum Direction {
    /// `SO_RCVTIMEO`: accept, recv.
    Receive,
    /// `SO_SNDTIMEO`: connect, send.
    Send,
}

/// When a blocking call on a descriptor gives up, decided at its first
/// try from the descriptor's `O_NONBLOCK` and timeout.
struct Patience {
    fd: Fd,
    direction: Direction,
    /// Forced non-blocking (`MSG_DONTWAIT`).
    dont_wait: bool,
    /// `None` until the first try; then the deadline (`None`: none).
    deadline: Option<Option<Instant>>,
}

impl Patience {
    fn new(fd: Fd, direction: Direction, dont_wait: bool) -> Self {
        Patience {
            fd,
            direction,
            dont_wait,
            deadline: None,
        }
    }

    /// True when the call must return what it has now rather than wait.
    fn give_up<D: Device, C: Clock>(&mut self, stack: &mut Stack<D, C>, now: Instant) -> bool {
        let (fd, direction, dont_wait) = (self.fd, self.direction, self.dont_wait);
        let deadline = *self
            .deadline
            .get_or_insert_with(|| match stack.blocking(fd) {
                Ok(b) if !b.nonblocking && !dont_wait => {
                    let timeout = match direction {
                        Direction::Receive => b.recv_timeout,
                        Direction::Send => b.send_timeout,
                    };
                    timeout.map(|t| now + Duration::from_nanos(t.as_nanos()))
                }
                // Non-blocking, or not a descriptor (the call itself says so).
                _ => Some(now),
            });
        deadline.is_some_and(|at| now >= at)
    }
}

struct Shared<D: Device, C: Clock> {
    requests: ArrayQueue<Request<D, C>>,
    stop: AtomicBool,
    /// The stack thread serves no more requests (it stopped or panicked):
    /// a caller who queued one drops the queue's requests itself.
    finished: AtomicBool,
    stack_thread: OnceLock<Thread>,
    config: ThreadConfig,
}

/// A `Send + Clone` handle on a stack running on its own thread.
pub struct StackHandle<D: Device + 'static, C: Clock + 'static> {
    shared: Arc<Shared<D, C>>,
}

impl<D: Device + 'static, C: Clock + 'static> Clone for StackHandle<D, C> {
    fn clone(&self) -> Self {
        StackHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<D: Device + 'static, C: Clock + 'static> StackHandle<D, C> {
    /// Starts a thread that builds the stack with `make` and runs its poll
    /// loop until [`stop`](Self::stop), with the default
    /// [`ThreadConfig`]; joining it gives the final counters.
    pub fn spawn(
        make: impl FnOnce() -> Stack<D, C> + Send + 'static,
    ) -> std::io::Result<(Self, JoinHandle<StackStats>)> {
        Self::spawn_with(ThreadConfig::default(), move || {
            (make(), |_: &mut Stack<D, C>| false)
        })
    }

    /// As [`spawn`](Self::spawn), waiting as `config` says. `make` runs on
    /// the stack thread and gives the stack and a hook the thread calls
    /// once per turn of its poll loop: the place for a run-to-completion
    /// hot path beside the app threads (built there, it need not be
    /// `Send`; it returns true when it did work, which keeps the thread
    /// spinning).
    pub fn spawn_with<H: FnMut(&mut Stack<D, C>) -> bool>(
        config: ThreadConfig,
        make: impl FnOnce() -> (Stack<D, C>, H) + Send + 'static,
    ) -> std::io::Result<(Self, JoinHandle<StackStats>)> {
        let shared = Arc::new(Shared {
            requests: ArrayQueue::new(QUEUE),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            stack_thread: OnceLock::new(),
            config,
        });
        let inner = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("dpstack".into())
            .spawn(move || {
                let (stack, on_turn) = make();
                run(stack, &inner, on_turn)
            })?;
        let _ = shared.stack_thread.set(thread.thread().clone());
        Ok((StackHandle { shared }, thread))
    }

    /// How this handle's calls and its stack thread wait.
    pub fn config(&self) -> ThreadConfig {
        self.shared.config
    }

    fn submit(&self, mut request: Request<D, C>) {
        loop {
            match self.shared.requests.push(request) {
                Ok(()) => break,
                // The ring is full: the stack thread is behind; let it run.
                Err(back) => {
                    request = back;
                    std::thread::yield_now();
                }
            }
        }
        if let Some(thread) = self.shared.stack_thread.get() {
            thread.unpark();
        }
        // Paired with the fence in `FinishGuard`: either the stack thread's
        // last drain sees this request, or this sees `finished` and drops
        // what is queued (each dropped request wakes its caller).
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.shared.finished.load(Ordering::SeqCst) {
            while self.shared.requests.pop().is_some() {}
        }
    }

    /// Runs `f` on the stack thread and returns its result;
    /// `Err(ESHUTDOWN)` if the stack thread has ended.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stack<D, C>) -> T + Send + 'static,
    ) -> Result<T, Errno> {
        let (reply, mut back) = Reply::pair();
        self.submit(Request::Call(Box::new(move |stack| back.put(f(stack)))));
        reply
            .take(self.shared.config.caller_spin)
            .ok_or(Errno::ESHUTDOWN)
    }

    /// Runs `attempt` on the stack thread once per turn, with the time and
    /// whether the thread is stopping, until it gives a result.
    fn retry<T: Send + 'static>(
        &self,
        mut attempt: impl FnMut(&mut Stack<D, C>, Instant, bool) -> Option<T> + Send + 'static,
    ) -> Result<T, Errno> {
        let (reply, mut back) = Reply::pair();
        self.submit(Request::Retry(Box::new(
            move |stack, now, stopping| match attempt(stack, now, stopping) {
                Some(value) => {
                    back.put(value);
                    true
                }
                None => false,
            },
        )));
        reply
            .take(self.shared.config.caller_spin)
            .ok_or(Errno::ESHUTDOWN)
    }

    /// A call on `fd` that waits as the descriptor says: `op(stack,
    /// give_up)` tries it, returning `None` to wait; with `give_up` it
    /// must return what it has (non-blocking, timed out, or stopping).
    fn blocking<T: Send + 'static>(
        &self,
        fd: Fd,
        direction: Direction,
        dont_wait: bool,
        mut op: impl FnMut(&mut Stack<D, C>, bool) -> Option<Result<T, Errno>> + Send + 'static,
    ) -> Result<T, Errno> {
        let mut patience = Patience::new(fd, direction, dont_wait);
        self.retry(move |stack, now, stopping| {
            let give_up = patience.give_up(stack, now) || stopping;
            op(stack, give_up)
        })
        .and_then(|result| result)
    }

    /// [`call`](Self::call) for a stack call that gives a `Result`: one
    /// `Result`, with `ESHUTDOWN` if the stack thread has ended.
    fn call_result<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stack<D, C>) -> Result<T, Errno> + Send + 'static,
    ) -> Result<T, Errno> {
        self.call(f).and_then(|result| result)
    }

    /// Stops the stack thread (after the requests already queued).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.shared.stack_thread.get() {
            thread.unpark();
        }
    }

    /// `socket`: blocking, as Linux's are (`set_nonblocking` changes it).
    pub fn socket(&self, kind: SockType) -> Result<Fd, Errno> {
        self.call_result(move |s| {
            let fd = s.socket(kind)?;
            s.set_nonblocking(fd, false)?;
            Ok(fd)
        })
    }

    /// `fcntl(F_SETFL, O_NONBLOCK)`: whether calls on `fd` wait.
    pub fn set_nonblocking(&self, fd: Fd, nonblocking: bool) -> Result<(), Errno> {
        self.call_result(move |s| s.set_nonblocking(fd, nonblocking))
    }

    /// `fcntl(F_GETFL) & O_NONBLOCK`.
    pub fn is_nonblocking(&self, fd: Fd) -> Result<bool, Errno> {
        self.call_result(move |s| s.blocking(fd).map(|b| b.nonblocking))
    }

    /// `bind`.
    pub fn bind(&self, fd: Fd, addr: impl Into<SocketAddr>) -> Result<(), Errno> {
        let addr = addr.into();
        self.call_result(move |s| s.bind(fd, addr))
    }

    /// `listen`.
    pub fn listen(&self, fd: Fd, backlog: usize) -> Result<(), Errno> {
        self.call_result(move |s| s.listen(fd, backlog))
    }

    /// `accept`: on a blocking listener, waits for a connection (up to
    /// `SO_RCVTIMEO`, then `EAGAIN`). The new descriptor is blocking.
    pub fn accept(&self, fd: Fd) -> Result<(Fd, SocketAddr), Errno> {
        self.blocking(fd, Direction::Receive, false, move |s, give_up| {
            match s.accept(fd) {
                Ok((conn, peer)) => Some(s.set_nonblocking(conn, false).map(|()| (conn, peer))),
                Err(Errno::EAGAIN) if !give_up => None,
                other => Some(other),
            }
        })
    }

    /// `connect`: on a blocking TCP socket, waits for the handshake to end
    /// (`ECONNREFUSED`, `ETIMEDOUT` as it fails; past `SO_SNDTIMEO`,
    /// `EINPROGRESS` while it goes on); non-blocking, `EINPROGRESS` at once.
    pub fn connect(&self, fd: Fd, addr: impl Into<SocketAddr>) -> Result<(), Errno> {
        let addr = addr.into();
        let mut tries = 0u32;
        self.blocking(fd, Direction::Send, false, move |s, give_up| {
            tries += 1;
            match s.connect(fd, addr) {
                // Connected by this call's own earlier try.
                Err(Errno::EISCONN) if tries > 1 => Some(Ok(())),
                Err(e @ (Errno::EINPROGRESS | Errno::EALREADY)) => {
                    give_up.then_some(Err(if tries > 1 { Errno::EINPROGRESS } else { e }))
                }
                other => Some(other),
            }
        })
    }

    /// `send`: on a blocking socket, waits until all of `data` is queued
    /// (past `SO_SNDTIMEO`: what was queued, or `EAGAIN`); `MSG_DONTWAIT`
    /// or non-blocking, as much as fits now. The data is copied to the
    /// stack thread.
    pub fn send(&self, fd: Fd, data: &[u8], flags: u32) -> Result<usize, Errno> {
        let data = data.to_vec();
        let dont_wait = flags & MSG_DONTWAIT != 0;
        let mut sent = 0;
        self.blocking(fd, Direction::Send, dont_wait, move |s, give_up| {
            while sent < data.len() {
                match s.send(fd, &data[sent..], flags) {
                    Ok(0) | Err(Errno::EAGAIN) => break,
                    Ok(n) => sent += n,
                    Err(_) if sent > 0 => return Some(Ok(sent)),
                    Err(e) => return Some(Err(e)),
                }
            }
            if sent == data.len() || (give_up && sent > 0) {
                Some(Ok(sent))
            } else {
                give_up.then_some(Err(Errno::EAGAIN))
            }
        })
    }

    /// `recv` of at most `max` bytes: on a blocking socket, waits for data
    /// or the end of the stream (past `SO_RCVTIMEO`, `EAGAIN`).
    pub fn recv(&self, fd: Fd, max: usize, flags: u32) -> Result<Vec<u8>, Errno> {
        let dont_wait = flags & MSG_DONTWAIT != 0;
        let mut buf = vec![0u8; max];
        self.blocking(fd, Direction::Receive, dont_wait, move |s, give_up| match s
            .recv(fd, &mut buf, flags)
        {
            Err(Errno::EAGAIN) if !give_up => None,
            Ok(n) => Some(Ok(buf[..n].to_vec())),
            Err(e) => Some(Err(e)),
        })
    }

    /// `sendto` (UDP): waits as `send` does while the device queue is full.
    pub fn send_to(&self, fd: Fd, data: &[u8], to: Option<SocketAddr>) -> Result<usize, Errno> {
        let data = data.to_vec();
        self.blocking(fd, Direction::Send, false, move |s, give_up| {
            match s.send_to(fd, &data, to) {
                Err(Errno::EAGAIN) if !give_up => None,
                other => Some(other),
            }
        })
    }

    /// `recvfrom` of at most `max` bytes: waits as `recv` does.
    pub fn recv_from(
        &self,
        fd: Fd,
        max: usize,
        flags: u32,
    ) -> Result<(Vec<u8>, Option<SocketAddr>), Errno> {
        let dont_wait = flags & MSG_DONTWAIT != 0;
        let mut buf = vec![0u8; max];
        self.blocking(fd, Direction::Receive, dont_wait, move |s, give_up| match s
            .recv_from(fd, &mut buf, flags)
        {
            Err(Errno::EAGAIN) if !give_up => None,
            Ok((n, from)) => Some(Ok((buf[..n].to_vec(), from))),
            Err(e) => Some(Err(e)),
        })
    }

    /// `writev`: the slices as one `send` (one datagram on UDP), waiting as
    /// `send` does.
    pub fn writev(&self, fd: Fd, slices: &[std::io::IoSlice<'_>]) -> Result<usize, Errno> {
        let gathered: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
        self.send(fd, &gathered, 0)
    }

    /// `readv`: one `recv` of up to the slices' total, spread over them in
    /// order, waiting as `recv` does (a longer datagram is cut).
    pub fn readv(&self, fd: Fd, slices: &mut [std::io::IoSliceMut<'_>]) -> Result<usize, Errno> {
        let room = slices.iter().map(|s| s.len()).sum();
        let data = self.recv(fd, room, 0)?;
        Ok(super::socket_api::scatter(&data, slices))
    }

    /// `shutdown`.
    pub fn shutdown(&self, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        self.call_result(move |s| s.shutdown(fd, how))
    }

    /// `close`.
    pub fn close(&self, fd: Fd) -> Result<(), Errno> {
        self.call_result(move |s| s.close(fd))
    }

    /// `setsockopt`.
    pub fn setsockopt(&self, fd: Fd, option: SockOpt) -> Result<(), Errno> {
        self.call_result(move |s| s.setsockopt(fd, option))
    }

    /// `getsockopt`.
    pub fn getsockopt(&self, fd: Fd, name: SockOptName) -> Result<i64, Errno> {
        self.call_result(move |s| s.getsockopt(fd, name))
    }

    /// `epoll_create`.
    pub fn epoll_create(&self) -> Result<Fd, Errno> {
        self.call_result(|s| s.epoll_create())
    }

    /// `epoll_ctl`.
    pub fn epoll_ctl(&self, epfd: Fd, op: CtlOp, fd: Fd, event: EpollEvent) -> Result<(), Errno> {
        self.call_result(move |s| s.epoll_ctl(epfd, op, fd, event))
    }

    /// `epoll_wait`: parks this thread until at most `max` events are
    /// ready or `timeout` passes (`None`: no limit); an empty result is
    /// the timeout.
    pub fn epoll_wait(
        &self,
        epfd: Fd,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<EpollEvent>, Errno> {
        if max == 0 {
            return Err(Errno::EINVAL);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut events = vec![EpollEvent::default(); max];
        self.retry(
            move |stack, now, stopping| match stack.epoll_ready(epfd, &mut events) {
                Ok(0) if !stopping && deadline.is_none_or(|d| now < d) => None,
                Ok(n) => Some(Ok(events[..n].to_vec())),
                Err(e) => Some(Err(e)),
            },
        )
        .and_then(|result| result)
    }
}

/// The stack thread: requests, one poll turn, the turn hook, the calls
/// that wait; spins `stack_spin` past its last work, then naps.
/// Marks the stack thread finished and drops what is still queued when it
/// ends, normally or by a panic, so that no caller waits for it.
struct FinishGuard<'a, D: Device, C: Clock>(&'a Shared<D, C>);

impl<D: Device, C: Clock> FinishGuard<'_, D, C> {
    fn finish(&self) {
        self.0.finished.store(true, Ordering::SeqCst);
        // Paired with the fence in `StackHandle::submit`.
        std::sync::atomic::fence(Ordering::SeqCst);
    }
}

impl<D: Device, C: Clock> Drop for FinishGuard<'_, D, C> {
    fn drop(&mut self) {
        self.finish();
        while self.0.requests.pop().is_some() {}
    }
}

fn run<D: Device, C: Clock>(
    mut stack: Stack<D, C>,
    shared: &Shared<D, C>,
    mut on_turn: impl FnMut(&mut Stack<D, C>) -> bool,
) -> StackStats {
    let finish = FinishGuard(shared);
    let mut waiting: Vec<Retry<D, C>> = Vec::new();
    let mut last_work = Instant::now();
    while !shared.stop.load(Ordering::Acquire) {
        let mut busy = false;
        while let Some(request) = shared.requests.pop() {
            busy = true;
            match request {
                Request::Call(call) => call(&mut stack),
                // Tried at once: most calls need not wait for a turn.
                Request::Retry(mut retry) => {
                    if !retry(&mut stack, Instant::now(), false) {
                        waiting.push(retry);
                    }
                }
            }
        }
        busy |= stack.poll();
        busy |= on_turn(&mut stack);
        let now = Instant::now();
        waiting.retain_mut(|retry| !retry(&mut stack, now, false));
        if busy {
            last_work = now;
        } else if now.duration_since(last_work) >= shared.config.stack_spin {
            std::thread::park_timeout(shared.config.nap);
        } else {
            std::hint::spin_loop();
        }
    }
    // Every caller gets an answer: calls queued late run, waits end now;
    // a call queued after this last drain is dropped by its caller (the
    // guard's flag), and returns ESHUTDOWN.
    finish.finish();
    let now = Instant::now();
    while let Some(request) = shared.requests.pop() {
        match request {
            Request::Call(call) => call(&mut stack),
            Request::Retry(mut retry) => {
                retry(&mut stack, now, true);
            }
        }
    }
    for mut retry in waiting {
        retry(&mut stack, now, true);
    }
    stack.stats()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::BufPool;
    use crate::device::pipe::{pipe_pair, PipeConfig, PipeDevice};
    use crate::epoll::EPOLLIN;
    use crate::runtime::StackConfig;
    use crate::time::MonotonicClock;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::sync::atomic::AtomicU64;

    const A: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

    /// A handle on a stack at A whose thread also turns a stack at B (the
    /// hook) and counts the hook's turns; B echoes UDP on port 7.
    fn handle_with_peer(
        config: ThreadConfig,
    ) -> (
        StackHandle<PipeDevice, MonotonicClock>,
        JoinHandle<StackStats>,
        Arc<AtomicU64>,
    ) {
        let pool = BufPool::with_defaults();
        let (pa, pb) = pipe_pair(&PipeConfig::default(), &pool);
        let (a_mac, b_mac) = (pa.capabilities().mac, pb.capabilities().mac);
        let turns = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&turns);
        let (handle, thread) = StackHandle::spawn_with(config, move || {
            let mut a = Stack::new(pa, MonotonicClock::new(), StackConfig::seeded(A, 24, 1));
            a.interface().arp_cache().insert_static(B, b_mac);
            let mut b = Stack::new(pb, MonotonicClock::new(), StackConfig::seeded(B, 24, 2));
            b.interface().arp_cache().insert_static(A, a_mac);
            let echo = b.socket(SockType::Dgram).unwrap();
            b.bind(echo, SocketAddrV4::new(B, 7)).unwrap();
            let hook = move |_: &mut Stack<PipeDevice, MonotonicClock>| {
                counted.fetch_add(1, Ordering::Relaxed);
                let mut busy = b.poll();
                let mut buf = [0u8; 2048];
                while let Ok((n, from)) = b.recv_from(echo, &mut buf, 0) {
                    b.send_to(echo, &buf[..n], from).unwrap();
                    busy = true;
                }
                busy
            };
            (a, hook)
        })
        .unwrap();
        (handle, thread, turns)
    }

    /// A datagram to the hook's echo and back, through the handle.
    fn echo_once(handle: &StackHandle<PipeDevice, MonotonicClock>, message: &[u8]) -> Vec<u8> {
        let fd = handle.socket(SockType::Dgram).unwrap();
        let epfd = handle.epoll_create().unwrap();
        let event = EpollEvent {
            events: EPOLLIN,
            data: 1,
        };
        handle.epoll_ctl(epfd, CtlOp::Add, fd, event).unwrap();
        let data = message.to_vec();
        handle
            .call(move |s| s.send_to(fd, &data, Some(SocketAddrV4::new(B, 7).into())))
            .unwrap()
            .unwrap();
        let ready = handle
            .epoll_wait(epfd, 4, Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(ready.len(), 1, "the echo came back before the timeout");
        let reply = handle.recv(fd, 2048, 0).unwrap();
        handle.close(fd).unwrap();
        handle.close(epfd).unwrap();
        reply
    }

    #[test]
    fn the_hook_turns_beside_the_stack_spinning_or_sleeping() {
        for config in [ThreadConfig::default(), ThreadConfig::sleeping()] {
            let (handle, thread, turns) = handle_with_peer(config);
            assert_eq!(handle.config(), config);
            for i in 0..50u8 {
                assert_eq!(echo_once(&handle, &[i; 100]), vec![i; 100], "{config:?}");
            }
            assert!(turns.load(Ordering::Relaxed) > 0);
            handle.stop();
            let stats = thread.join().unwrap();
            assert!(stats.udp.rx_datagrams >= 50, "{config:?}");
        }
    }

    #[test]
    fn calls_after_the_stack_thread_ends_fail_instead_of_waiting() {
        for config in [ThreadConfig::default(), ThreadConfig::sleeping()] {
            let (handle, thread, _) = handle_with_peer(config);
            let fd = handle.socket(SockType::Dgram).unwrap();
            // Callers on other threads keep calling while the stack stops:
            // each call is answered or fails with ESHUTDOWN, none waits on.
            let (done, finished) = std::sync::mpsc::channel();
            let callers: Vec<_> = (0..4)
                .map(|_| {
                    let handle = handle.clone();
                    let done = done.clone();
                    std::thread::spawn(move || {
                        let mut answered = 0u32;
                        let refused = loop {
                            match handle.recv(fd, 100, MSG_DONTWAIT) {
                                Ok(_) | Err(Errno::EAGAIN) => answered += 1,
                                Err(e) => break e,
                            }
                        };
                        let _ = done.send((answered, refused));
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(20));
            handle.stop();
            thread.join().unwrap();
            for _ in &callers {
                let (answered, refused) = finished
                    .recv_timeout(Duration::from_secs(10))
                    .expect("every caller returns after the stop");
                assert_eq!(refused, Errno::ESHUTDOWN);
                assert!(answered > 0, "{config:?}");
            }
            for caller in callers {
                caller.join().unwrap();
            }
            // After the end: plain calls, waiting calls and epoll_wait (on
            // a thread of their own, so that a regression fails, not hangs).
            let (answers, after) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = answers.send([
                    handle.call(|_| 1).map(|_| ()),
                    handle.socket(SockType::Stream).map(|_| ()),
                    handle.recv(fd, 100, 0).map(|_| ()),
                    handle.epoll_wait(1, 4, None).map(|_| ()),
                ]);
            });
            let after = after
                .recv_timeout(Duration::from_secs(10))
                .expect("calls after the end return");
            assert_eq!(after, [Err(Errno::ESHUTDOWN); 4], "{config:?}");
        }
    }

    #[test]
    fn a_reply_later_than_the_spin_parks_the_caller_and_still_arrives() {
        let config = ThreadConfig {
            caller_spin: Duration::from_micros(1),
            ..ThreadConfig::default()
        };
        let (handle, thread, _) = handle_with_peer(config);
        // The stack thread answers 20 ms later: far past the caller's spin.
        let answer = handle.call(|_| {
            std::thread::sleep(Duration::from_millis(20));
            42
        });
        assert_eq!(answer, Ok(42));
        // A spin longer than the wait returns without parking.
        let patient = ThreadConfig {
            caller_spin: Duration::from_secs(5),
            ..ThreadConfig::default()
        };
        let (spinning, spinning_thread, _) = handle_with_peer(patient);
        assert_eq!(spinning.call(|_| 7), Ok(7));
        // An epoll_wait with nothing to find times out, empty, either way.
        for h in [&handle, &spinning] {
            let epfd = h.epoll_create().unwrap();
            let fd = h.socket(SockType::Dgram).unwrap();
            let event = EpollEvent {
                events: EPOLLIN,
                data: 0,
            };
            h.epoll_ctl(epfd, CtlOp::Add, fd, event).unwrap();
            let started = Instant::now();
            let events = h.epoll_wait(epfd, 4, Some(Duration::from_millis(30)));
            assert_eq!(events, Ok(Vec::new()));
            assert!(started.elapsed() >= Duration::from_millis(30));
        }
        for (h, t) in [(handle, thread), (spinning, spinning_thread)] {
            h.stop();
            t.join().unwrap();
        }
    }
}
