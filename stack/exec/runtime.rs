//! The executor: tasks, the ready queue, the sockets' wakers, timers.

use crate::device::Device;
use crate::epoll::{CtlOp, EpollEvent, EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use crate::runtime::Stack;
use crate::socket::{Errno, Fd};
use crate::time::{Clock, Duration, Instant};
use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type BoxedTask = Pin<Box<dyn Future<Output = ()>>>;

/// The stack calls futures make, whatever the device and clock: a handle
/// erases them so futures need no type parameters.
pub(super) trait StackCalls {
    fn call(&mut self) -> &mut dyn SocketCalls;
    fn now(&self) -> Instant;
    fn stats(&self) -> crate::stats::StackStats;
    fn turn(
        &mut self,
        epoll: Fd,
        events: &mut [EpollEvent],
        timeout: Duration,
    ) -> Result<usize, Errno>;
}

/// The socket calls of [`Stack`] futures use.
pub(super) trait SocketCalls {
    fn socket(&mut self, kind: crate::socket::SockType) -> Result<Fd, Errno>;
    fn bind(&mut self, fd: Fd, addr: std::net::SocketAddr) -> Result<(), Errno>;
    fn listen(&mut self, fd: Fd, backlog: usize) -> Result<(), Errno>;
    fn accept(&mut self, fd: Fd) -> Result<(Fd, std::net::SocketAddr), Errno>;
    fn connect(&mut self, fd: Fd, addr: std::net::SocketAddr) -> Result<(), Errno>;
    fn send(&mut self, fd: Fd, data: &[u8]) -> Result<usize, Errno>;
    fn recv(&mut self, fd: Fd, buf: &mut [u8]) -> Result<usize, Errno>;
    fn send_to(&mut self, fd: Fd, data: &[u8], to: std::net::SocketAddr) -> Result<usize, Errno>;
    fn recv_from(&mut self, fd: Fd, buf: &mut [u8])
        -> Result<(usize, std::net::SocketAddr), Errno>;
    fn shutdown_write(&mut self, fd: Fd) -> Result<(), Errno>;
    fn close(&mut self, fd: Fd) -> Result<(), Errno>;
    fn take_error(&mut self, fd: Fd) -> Result<i64, Errno>;
    fn watch(&mut self, epoll: Fd, fd: Fd) -> Result<(), Errno>;
}

impl<D: Device, C: Clock> SocketCalls for Stack<D, C> {
    fn socket(&mut self, kind: crate::socket::SockType) -> Result<Fd, Errno> {
        Stack::socket(self, kind)
    }
    fn bind(&mut self, fd: Fd, addr: std::net::SocketAddr) -> Result<(), Errno> {
        Stack::bind(self, fd, addr)
    }
    fn listen(&mut self, fd: Fd, backlog: usize) -> Result<(), Errno> {
        Stack::listen(self, fd, backlog)
    }
    fn accept(&mut self, fd: Fd) -> Result<(Fd, std::net::SocketAddr), Errno> {
        Stack::accept(self, fd)
    }
    fn connect(&mut self, fd: Fd, addr: std::net::SocketAddr) -> Result<(), Errno> {
        Stack::connect(self, fd, addr)
    }
    fn send(&mut self, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        Stack::send(self, fd, data, 0)
    }
    fn recv(&mut self, fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
        Stack::recv(self, fd, buf, 0)
    }
    fn send_to(&mut self, fd: Fd, data: &[u8], to: std::net::SocketAddr) -> Result<usize, Errno> {
        Stack::send_to(self, fd, data, Some(to))
    }
    fn recv_from(
        &mut self,
        fd: Fd,
        buf: &mut [u8],
    ) -> Result<(usize, std::net::SocketAddr), Errno> {
        // A UDP socket always names the sender.
        Stack::recv_from(self, fd, buf, 0).map(|(n, from)| {
            (
                n,
                from.unwrap_or(std::net::SocketAddr::new(
                    std::net::Ipv4Addr::UNSPECIFIED.into(),
                    0,
                )),
            )
        })
    }
    fn shutdown_write(&mut self, fd: Fd) -> Result<(), Errno> {
        Stack::shutdown(self, fd, crate::socket::Shutdown::Write)
    }
    fn close(&mut self, fd: Fd) -> Result<(), Errno> {
        Stack::close(self, fd)
    }
    fn take_error(&mut self, fd: Fd) -> Result<i64, Errno> {
        self.getsockopt(fd, crate::socket::SockOptName::Error)
    }
    fn watch(&mut self, epoll: Fd, fd: Fd) -> Result<(), Errno> {
        let events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        self.epoll_ctl(
            epoll,
            CtlOp::Add,
            fd,
            EpollEvent {
                events,
                data: fd as u64,
            },
        )
    }
}

impl<D: Device, C: Clock> StackCalls for Stack<D, C> {
    fn call(&mut self) -> &mut dyn SocketCalls {
        self
    }
    fn now(&self) -> Instant {
        Stack::now(self)
    }
    fn stats(&self) -> crate::stats::StackStats {
        Stack::stats(self)
    }
    fn turn(
        &mut self,
        epoll: Fd,
        events: &mut [EpollEvent],
        timeout: Duration,
    ) -> Result<usize, Errno> {
        self.epoll_wait(epoll, events, Some(timeout))
    }
}

/// Wakers waiting on one socket.
#[derive(Default)]
struct Waiters {
    read: Option<Waker>,
    write: Option<Waker>,
}

/// A timer: when, and whom to wake.
struct Timer {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    // Earliest first out of a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// What the futures of one runtime share.
pub(super) struct Shared {
    pub(super) stack: RefCell<Box<dyn StackCalls>>,
    pub(super) epoll: Fd,
    waiters: RefCell<HashMap<Fd, Waiters>>,
    timers: RefCell<BinaryHeap<Timer>>,
    timer_seq: Cell<u64>,
    /// Tasks spawned and not yet taken by the executor.
    spawned: RefCell<Vec<BoxedTask>>,
}

impl Shared {
    /// Runs `f` on the stack's socket calls.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut dyn SocketCalls) -> T) -> T {
        f(self.stack.borrow_mut().call())
    }

    /// Watches a new socket (edge-triggered, every event).
    pub(super) fn watch(&self, fd: Fd) -> Result<(), Errno> {
        let epoll = self.epoll;
        self.with(|s| s.watch(epoll, fd))
    }

    /// Wakes `waker` when `fd` becomes readable (or writable).
    pub(super) fn wait(&self, fd: Fd, write: bool, waker: &Waker) {
        let mut waiters = self.waiters.borrow_mut();
        let slot = waiters.entry(fd).or_default();
        let place = if write {
            &mut slot.write
        } else {
            &mut slot.read
        };
        match place {
            Some(old) if old.will_wake(waker) => {}
            _ => *place = Some(waker.clone()),
        }
    }

    /// Forgets a closed socket's wakers.
    pub(super) fn forget(&self, fd: Fd) {
        self.waiters.borrow_mut().remove(&fd);
    }

    fn wake_fd(&self, fd: Fd, events: u32) {
        let mut waiters = self.waiters.borrow_mut();
        let Some(slot) = waiters.get_mut(&fd) else {
            return;
        };
        let failed = events & (EPOLLERR | EPOLLHUP) != 0;
        if events & (EPOLLIN | EPOLLRDHUP) != 0 || failed {
            if let Some(waker) = slot.read.take() {
                waker.wake();
            }
        }
        if events & EPOLLOUT != 0 || failed {
            if let Some(waker) = slot.write.take() {
                waker.wake();
            }
        }
    }
}

/// A clonable handle on a runtime: makes sockets, spawns tasks, reads the clock.
#[derive(Clone)]
pub struct Handle {
    pub(super) shared: Rc<Shared>,
}

impl Handle {
    /// Runs `task` on this runtime, beside the others.
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.shared.spawned.borrow_mut().push(Box::pin(task));
    }

    /// Runs another runtime's tasks and stack from this one's loop (two
    /// stacks on one thread: tests and examples).
    pub fn spawn_runtime(&self, mut other: Runtime) {
        self.spawn(async move {
            loop {
                other.turn(Duration::ZERO);
                Yield(false).await;
            }
        });
    }

    /// The stack's time.
    pub fn now(&self) -> Instant {
        self.shared.stack.borrow().now()
    }

    /// Every layer's counters of the stack.
    pub fn stats(&self) -> crate::stats::StackStats {
        self.shared.stack.borrow().stats()
    }
}

/// Yields once to the executor.
struct Yield(bool);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A future ready once the stack's clock reaches a deadline.
pub struct Sleep {
    shared: Rc<Shared>,
    at: Instant,
    armed: bool,
}

/// Sleeps for `duration` on the stack's clock.
pub fn sleep(handle: &Handle, duration: Duration) -> Sleep {
    Sleep {
        at: handle.now() + duration,
        shared: handle.shared.clone(),
        armed: false,
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.stack.borrow().now() >= self.at {
            return Poll::Ready(());
        }
        if !self.armed {
            let seq = self.shared.timer_seq.get() + 1;
            self.shared.timer_seq.set(seq);
            self.shared.timers.borrow_mut().push(Timer {
                at: self.at,
                seq,
                waker: cx.waker().clone(),
            });
            self.armed = true;
        }
        Poll::Pending
    }
}

/// Wakes a task by putting its index on the ready queue.
struct TaskWaker {
    index: usize,
    ready: Arc<Mutex<Vec<usize>>>,
    queued: std::sync::atomic::AtomicBool,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.index);
        }
    }
}

struct Task {
    future: BoxedTask,
    waker: Arc<TaskWaker>,
}

/// An executor on one stack.
pub struct Runtime {
    shared: Rc<Shared>,
    tasks: Vec<Option<Task>>,
    free: Vec<usize>,
    ready: Arc<Mutex<Vec<usize>>>,
    events: Vec<EpollEvent>,
    polls: u64,
}

impl Runtime {
    /// A runtime that owns `stack` and drives it.
    pub fn new<D: Device, C: Clock + 'static>(mut stack: Stack<D, C>) -> Result<Runtime, Errno> {
        let epoll = stack.epoll_create()?;
        Ok(Runtime {
            shared: Rc::new(Shared {
                stack: RefCell::new(Box::new(stack)),
                epoll,
                waiters: RefCell::new(HashMap::new()),
                timers: RefCell::new(BinaryHeap::new()),
                timer_seq: Cell::new(0),
                spawned: RefCell::new(Vec::new()),
            }),
            tasks: Vec::new(),
            free: Vec::new(),
            ready: Arc::new(Mutex::new(Vec::new())),
            events: vec![EpollEvent::default(); 256],
            polls: 0,
        })
    }

    /// A handle for making sockets and spawning tasks.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// Task polls so far: a turn polls the tasks woken, not every task.
    pub fn task_polls(&self) -> u64 {
        self.polls
    }

    /// Tasks alive (spawned and not finished).
    pub fn tasks(&self) -> usize {
        self.tasks.iter().flatten().count() + self.shared.spawned.borrow().len()
    }

    fn adopt_spawned(&mut self) {
        let spawned: Vec<BoxedTask> = self.shared.spawned.borrow_mut().drain(..).collect();
        for future in spawned {
            let index = self.free.pop().unwrap_or_else(|| {
                self.tasks.push(None);
                self.tasks.len() - 1
            });
            let waker = Arc::new(TaskWaker {
                index,
                ready: self.ready.clone(),
                queued: std::sync::atomic::AtomicBool::new(false),
            });
            waker.wake_by_ref();
            self.tasks[index] = Some(Task { future, waker });
        }
    }

    /// Polls the tasks woken since the last call, once each (a task that
    /// wakes itself runs again next turn, after the stack has turned);
    /// true if any ran.
    fn run_ready(&mut self) -> bool {
        let mut ran = false;
        {
            self.adopt_spawned();
            let ready: Vec<usize> =
                std::mem::take(&mut *self.ready.lock().unwrap_or_else(|e| e.into_inner()));
            for index in ready {
                let Some(task) = self.tasks.get_mut(index).and_then(Option::as_mut) else {
                    continue;
                };
                task.waker
                    .queued
                    .store(false, std::sync::atomic::Ordering::Release);
                let waker = Waker::from(task.waker.clone());
                let mut cx = Context::from_waker(&waker);
                ran = true;
                self.polls += 1;
                if task.future.as_mut().poll(&mut cx).is_ready() {
                    self.tasks[index] = None;
                    self.free.push(index);
                }
            }
        }
        ran
    }

    /// One turn: runs what is ready, turns the stack (waiting up to
    /// `timeout` when nothing is ready), wakes the tasks whose sockets or
    /// timers fired.
    pub fn turn(&mut self, timeout: Duration) {
        let ran = self.run_ready();
        let next_timer = self.shared.timers.borrow().peek().map(|t| t.at);
        let now = self.shared.stack.borrow().now();
        let pending = !self
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        let wait = if ran || pending || !self.shared.spawned.borrow().is_empty() {
            Duration::ZERO
        } else {
            next_timer.map_or(timeout, |at| at.saturating_duration_since(now).min(timeout))
        };
        let epoll = self.shared.epoll;
        let n = self
            .shared
            .stack
            .borrow_mut()
            .turn(epoll, &mut self.events, wait)
            .unwrap_or(0);
        for event in &self.events[..n] {
            self.shared.wake_fd(event.data as Fd, event.events);
        }
        let now = self.shared.stack.borrow().now();
        let mut timers = self.shared.timers.borrow_mut();
        while timers.peek().is_some_and(|t| t.at <= now) {
            if let Some(timer) = timers.pop() {
                timer.waker.wake();
            }
        }
    }

    /// Runs `future` (and every spawned task meanwhile) to completion.
    pub fn block_on<T: 'static>(&mut self, future: impl Future<Output = T> + 'static) -> T {
        let result = Rc::new(RefCell::new(None));
        let slot = result.clone();
        self.handle().spawn(async move {
            *slot.borrow_mut() = Some(future.await);
        });
        loop {
            if let Some(value) = result.borrow_mut().take() {
                return value;
            }
            self.turn(Duration::from_millis(1));
        }
    }
}
