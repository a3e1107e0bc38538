//! The app-threads execution model: the stack runs on a thread of its own
//! and application threads use it through a [`StackHandle`] (`Send +
//! Clone`). Calls cross to the stack thread through a crossbeam-queue
//! ring as closures and come back through a per-call slot; a blocking
//! `epoll_wait` parks the calling thread (a condition variable, no
//! spinning) until the stack thread finds an event or the timeout passes.
//!
//! Each call costs a queue push, a wake-up of the stack thread if it
//! naps, and a wake-up of the caller: cross-thread wake-ups that
//! run-to-completion (the app inside the poll loop) never pays. See
//! `docs/sockets.md` for measured figures.

use super::Stack;
use crate::device::Device;
use crate::epoll::{CtlOp, EpollEvent};
use crate::socket::{Errno, Fd, Shutdown, SockOpt, SockOptName, SockType};
use crate::stats::StackStats;
use crate::time::Clock;
use crossbeam_queue::ArrayQueue;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Requests waiting for the stack thread, at most.
const QUEUE: usize = 4096;
/// Idle turns before the stack thread naps between polls.
const SPINS: u32 = 2000;
/// How long one nap lasts (a request wakes it at once).
const NAP: Duration = Duration::from_micros(50);

type Call<D, C> = Box<dyn FnOnce(&mut Stack<D, C>) + Send>;

/// Where a result comes back to the calling thread.
struct Reply<T> {
    value: Mutex<Option<T>>,
    ready: Condvar,
}

impl<T> Reply<T> {
    fn new() -> Arc<Self> {
        Arc::new(Reply {
            value: Mutex::new(None),
            ready: Condvar::new(),
        })
    }

    fn put(&self, value: T) {
        let mut slot = self.value.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(value);
        self.ready.notify_one();
    }

    /// Parks until the value arrives.
    fn take(&self) -> T {
        let mut slot = self.value.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(value) = slot.take() {
                return value;
            }
            slot = self.ready.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// An `epoll_wait` parked until events or its deadline.
struct Wait {
    epfd: Fd,
    max: usize,
    deadline: Option<Instant>,
    reply: Arc<Reply<Result<Vec<EpollEvent>, Errno>>>,
}

enum Request<D: Device, C: Clock> {
    Call(Call<D, C>),
    Wait(Wait),
}

struct Shared<D: Device, C: Clock> {
    requests: ArrayQueue<Request<D, C>>,
    stop: AtomicBool,
    stack_thread: OnceLock<Thread>,
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
    /// loop until [`stop`](Self::stop); joining it gives the final counters.
    pub fn spawn(
        make: impl FnOnce() -> Stack<D, C> + Send + 'static,
    ) -> std::io::Result<(Self, JoinHandle<StackStats>)> {
        let shared = Arc::new(Shared {
            requests: ArrayQueue::new(QUEUE),
            stop: AtomicBool::new(false),
            stack_thread: OnceLock::new(),
        });
        let inner = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("dpstack".into())
            .spawn(move || run(make(), &inner))?;
        let _ = shared.stack_thread.set(thread.thread().clone());
        Ok((StackHandle { shared }, thread))
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
    }

    /// Runs `f` on the stack thread and returns its result.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stack<D, C>) -> T + Send + 'static,
    ) -> T {
        let reply = Reply::new();
        let back = Arc::clone(&reply);
        self.submit(Request::Call(Box::new(move |stack| back.put(f(stack)))));
        reply.take()
    }

    /// Stops the stack thread (after the requests already queued).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.shared.stack_thread.get() {
            thread.unpark();
        }
    }

    /// `socket`.
    pub fn socket(&self, kind: SockType) -> Result<Fd, Errno> {
        self.call(move |s| s.socket(kind))
    }

    /// `bind`.
    pub fn bind(&self, fd: Fd, addr: SocketAddrV4) -> Result<(), Errno> {
        self.call(move |s| s.bind(fd, addr))
    }

    /// `listen`.
    pub fn listen(&self, fd: Fd, backlog: usize) -> Result<(), Errno> {
        self.call(move |s| s.listen(fd, backlog))
    }

    /// `accept`.
    pub fn accept(&self, fd: Fd) -> Result<(Fd, SocketAddrV4), Errno> {
        self.call(move |s| s.accept(fd))
    }

    /// `connect` (`EINPROGRESS` for TCP, as in run-to-completion).
    pub fn connect(&self, fd: Fd, addr: SocketAddrV4) -> Result<(), Errno> {
        self.call(move |s| s.connect(fd, addr))
    }

    /// `send`: the data is copied to the stack thread.
    pub fn send(&self, fd: Fd, data: &[u8], flags: u32) -> Result<usize, Errno> {
        let data = data.to_vec();
        self.call(move |s| s.send(fd, &data, flags))
    }

    /// `recv` of at most `max` bytes.
    pub fn recv(&self, fd: Fd, max: usize, flags: u32) -> Result<Vec<u8>, Errno> {
        self.call(move |s| {
            let mut buf = vec![0u8; max];
            let n = s.recv(fd, &mut buf, flags)?;
            buf.truncate(n);
            Ok(buf)
        })
    }

    /// `shutdown`.
    pub fn shutdown(&self, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        self.call(move |s| s.shutdown(fd, how))
    }

    /// `close`.
    pub fn close(&self, fd: Fd) -> Result<(), Errno> {
        self.call(move |s| s.close(fd))
    }

    /// `setsockopt`.
    pub fn setsockopt(&self, fd: Fd, option: SockOpt) -> Result<(), Errno> {
        self.call(move |s| s.setsockopt(fd, option))
    }

    /// `getsockopt`.
    pub fn getsockopt(&self, fd: Fd, name: SockOptName) -> Result<i64, Errno> {
        self.call(move |s| s.getsockopt(fd, name))
    }

    /// `epoll_create`.
    pub fn epoll_create(&self) -> Result<Fd, Errno> {
        self.call(|s| s.epoll_create())
    }

    /// `epoll_ctl`.
    pub fn epoll_ctl(&self, epfd: Fd, op: CtlOp, fd: Fd, event: EpollEvent) -> Result<(), Errno> {
        self.call(move |s| s.epoll_ctl(epfd, op, fd, event))
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
        let reply = Reply::new();
        self.submit(Request::Wait(Wait {
            epfd,
            max,
            deadline: timeout.map(|t| Instant::now() + t),
            reply: Arc::clone(&reply),
        }));
        reply.take()
    }
}

/// The stack thread: requests, one poll turn, parked waits; naps when idle.
fn run<D: Device, C: Clock>(mut stack: Stack<D, C>, shared: &Shared<D, C>) -> StackStats {
    let mut waits: Vec<Wait> = Vec::new();
    let mut events = Vec::new();
    let mut idle = 0u32;
    while !shared.stop.load(Ordering::Acquire) {
        let mut busy = false;
        while let Some(request) = shared.requests.pop() {
            busy = true;
            match request {
                Request::Call(call) => call(&mut stack),
                Request::Wait(wait) => waits.push(wait),
            }
        }
        busy |= stack.poll();
        let now = Instant::now();
        waits.retain(|wait| {
            events.clear();
            events.resize(wait.max, EpollEvent::default());
            match stack.epoll_ready(wait.epfd, &mut events) {
                Ok(0) if wait.deadline.is_none_or(|d| now < d) => true,
                Ok(n) => {
                    wait.reply.put(Ok(events[..n].to_vec()));
                    false
                }
                Err(e) => {
                    wait.reply.put(Err(e));
                    false
                }
            }
        });
        if busy {
            idle = 0;
        } else {
            idle = idle.saturating_add(1);
            if idle > SPINS {
                std::thread::park_timeout(NAP);
            }
        }
    }
    for wait in waits {
        wait.reply.put(Ok(Vec::new()));
    }
    stack.stats()
}
