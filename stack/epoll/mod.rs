//! epoll: an interest set in an intrusive red-black tree keyed by
//! descriptor (as the kernel's `epitem`s), and an intrusive ready list.
//! Sockets call back into every epoll watching them when their readiness
//! may have changed ([`Epoll::wake`] through the [`Watch`] the socket
//! keeps, as `ep_poll_callback` through the socket's wait queue entry), so
//! collecting events costs O(ready), not O(watched). A wake-up only queues
//! the item: the wait computes its readiness, once, when it reports it.
//!
//! Level-triggered items go back on the ready list after being reported
//! (the next wait re-checks them); edge-triggered ones only come back on
//! the next callback; `EPOLLONESHOT` ones are disabled until `MOD`.

use crate::socket::{Errno, Fd};
use intrusive_collections::{
    intrusive_adapter, KeyAdapter, LinkedList, LinkedListLink, RBTree, RBTreeLink,
};
use std::cell::Cell;
use std::rc::Rc;

/// Readable (or a connection to accept, or end of stream).
pub const EPOLLIN: u32 = 0x001;
/// Writable.
pub const EPOLLOUT: u32 = 0x004;
/// An error is pending (always reported).
pub const EPOLLERR: u32 = 0x008;
/// Hung up (always reported).
pub const EPOLLHUP: u32 = 0x010;
/// The peer shut its sending side.
pub const EPOLLRDHUP: u32 = 0x2000;
/// Report once, then disable until `EPOLL_CTL_MOD`.
pub const EPOLLONESHOT: u32 = 1 << 30;
/// Edge-triggered.
pub const EPOLLET: u32 = 1 << 31;

/// One event as `epoll_wait` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EpollEvent {
    /// `EPOLL*` bits.
    pub events: u32,
    /// The caller's data given to `epoll_ctl`.
    pub data: u64,
}

/// `epoll_ctl` operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlOp {
    /// Start watching.
    Add,
    /// Change the interest and data (re-arms a fired ONESHOT).
    Mod,
    /// Stop watching.
    Del,
}

/// One watched descriptor.
struct Epitem {
    fd: Fd,
    interest: Cell<u32>,
    data: Cell<u64>,
    /// On the ready list now.
    queued: Cell<bool>,
    /// Removed from the interest set (skipped when met on the ready list).
    removed: Cell<bool>,
    /// A ONESHOT item that fired.
    disabled: Cell<bool>,
    tree: RBTreeLink,
    ready: LinkedListLink,
}

intrusive_adapter!(TreeAdapter = Rc<Epitem>: Epitem { tree => RBTreeLink });
intrusive_adapter!(ReadyAdapter = Rc<Epitem>: Epitem { ready => LinkedListLink });

impl<'a> KeyAdapter<'a> for TreeAdapter {
    type Key = Fd;
    fn get_key(&self, item: &'a Epitem) -> Fd {
        item.fd
    }
}

/// A watched descriptor's item in one epoll, kept by the descriptor so
/// a readiness change reaches the item without a search of the interest
/// set ([`Epoll::wake`]).
#[derive(Clone)]
pub struct Watch(Rc<Epitem>);

/// Two handles are equal when they name the same item.
impl PartialEq for Watch {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Watch").field(&self.0.fd).finish()
    }
}

/// One epoll instance.
pub struct Epoll {
    interest: RBTree<TreeAdapter>,
    ready: LinkedList<ReadyAdapter>,
    /// Level-triggered items reported by the current wait, to requeue.
    requeue: Vec<Rc<Epitem>>,
    watched: usize,
}

impl Default for Epoll {
    fn default() -> Self {
        Self::new()
    }
}

/// The bits always reported whatever the interest.
const ALWAYS: u32 = EPOLLERR | EPOLLHUP;

impl Epoll {
    /// An empty interest set.
    pub fn new() -> Self {
        Epoll {
            interest: RBTree::new(TreeAdapter::new()),
            ready: LinkedList::new(ReadyAdapter::new()),
            requeue: Vec::new(),
            watched: 0,
        }
    }

    /// Descriptors watched.
    pub fn len(&self) -> usize {
        self.watched
    }

    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.watched == 0
    }

    /// True when something may be ready (the ready list is not empty).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// True if `fd` is watched.
    pub fn watches(&self, fd: Fd) -> bool {
        !self.interest.find(&fd).is_null()
    }

    /// The watched descriptors, in order.
    pub fn watched_fds(&self) -> Vec<Fd> {
        self.interest.iter().map(|item| item.fd).collect()
    }

    /// `EPOLL_CTL_ADD`/`MOD`/`DEL` for `fd`, whose readiness is `current`
    /// now (an item already ready goes on the ready list at once). `ADD`
    /// returns the new item's [`Watch`], for the descriptor to keep.
    pub fn ctl(
        &mut self,
        op: CtlOp,
        fd: Fd,
        event: EpollEvent,
        current: u32,
    ) -> Result<Option<Watch>, Errno> {
        let watch = match op {
            CtlOp::Add => {
                if self.watches(fd) {
                    return Err(Errno::EEXIST);
                }
                let item = Rc::new(Epitem {
                    fd,
                    interest: Cell::new(event.events),
                    data: Cell::new(event.data),
                    queued: Cell::new(false),
                    removed: Cell::new(false),
                    disabled: Cell::new(false),
                    tree: RBTreeLink::new(),
                    ready: LinkedListLink::new(),
                });
                self.interest.insert(Rc::clone(&item));
                self.watched += 1;
                Watch(item)
            }
            CtlOp::Mod => {
                let item = self
                    .interest
                    .find(&fd)
                    .clone_pointer()
                    .ok_or(Errno::ENOENT)?;
                item.interest.set(event.events);
                item.data.set(event.data);
                item.disabled.set(false);
                Watch(item)
            }
            CtlOp::Del => {
                let item = self.interest.find_mut(&fd).remove().ok_or(Errno::ENOENT)?;
                item.removed.set(true);
                self.watched -= 1;
                return Ok(None);
            }
        };
        self.offer(&watch, current);
        Ok((op == CtlOp::Add).then_some(watch))
    }

    /// The callback a socket's readiness change makes through its
    /// [`Watch`] (from this epoll): the item joins the ready list unless it
    /// is there already, disabled or removed. Its readiness is checked
    /// when a wait collects it, so a change that does not interest this
    /// epoll costs one check then, and nothing here.
    pub fn wake(&mut self, watch: &Watch) {
        let item = &watch.0;
        if item.queued.get() || item.disabled.get() || item.removed.get() {
            return;
        }
        item.queued.set(true);
        self.ready.push_back(Rc::clone(item));
    }

    /// Readiness known for `fd`: `fd` now has `events`; it joins the
    /// ready list if they interest this epoll.
    pub fn notify(&mut self, fd: Fd, events: u32) {
        if let Some(item) = self.interest.find(&fd).clone_pointer() {
            self.offer(&Watch(item), events);
        }
    }

    /// Wakes `watch`'s item if `events` (its readiness, known) interest
    /// this epoll.
    fn offer(&mut self, watch: &Watch, events: u32) {
        if events & (watch.0.interest.get() | ALWAYS) != 0 {
            self.wake(watch);
        }
    }

    /// Fills `out` with ready events; `poll(fd)` gives a descriptor's
    /// readiness now (an item no longer ready is dropped silently, as the
    /// kernel re-polls before reporting). Returns how many were written.
    pub fn collect(&mut self, out: &mut [EpollEvent], mut poll: impl FnMut(Fd) -> u32) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(item) = self.ready.pop_front() else {
                break;
            };
            item.queued.set(false);
            if item.removed.get() || item.disabled.get() {
                continue;
            }
            let interest = item.interest.get();
            let events = poll(item.fd) & (interest | ALWAYS);
            if events == 0 {
                continue;
            }
            out[n] = EpollEvent {
                events,
                data: item.data.get(),
            };
            n += 1;
            if interest & EPOLLONESHOT != 0 {
                item.disabled.set(true);
            } else if interest & EPOLLET == 0 {
                self.requeue.push(item);
            }
        }
        for item in self.requeue.drain(..) {
            item.queued.set(true);
            self.ready.push_back(item);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(events: u32, data: u64) -> EpollEvent {
        EpollEvent { events, data }
    }

    #[test]
    fn ctl_errors_as_linux() {
        let mut ep = Epoll::new();
        ep.ctl(CtlOp::Add, 5, event(EPOLLIN, 5), 0).unwrap();
        assert_eq!(
            ep.ctl(CtlOp::Add, 5, event(EPOLLIN, 5), 0),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            ep.ctl(CtlOp::Mod, 6, event(EPOLLIN, 6), 0),
            Err(Errno::ENOENT)
        );
        assert_eq!(ep.ctl(CtlOp::Del, 6, event(0, 0), 0), Err(Errno::ENOENT));
        ep.ctl(CtlOp::Del, 5, event(0, 0), 0).unwrap();
        assert!(ep.is_empty());
    }

    #[test]
    fn level_triggered_repeats_edge_triggered_does_not() {
        let mut ep = Epoll::new();
        ep.ctl(CtlOp::Add, 3, event(EPOLLIN, 30), EPOLLIN).unwrap();
        ep.ctl(CtlOp::Add, 4, event(EPOLLIN | EPOLLET, 40), EPOLLIN)
            .unwrap();
        let mut out = [EpollEvent::default(); 8];
        let ready = |_fd: Fd| EPOLLIN;
        assert_eq!(ep.collect(&mut out, ready), 2);
        assert_eq!(ep.collect(&mut out, ready), 1, "only the LT item again");
        assert_eq!(out[0].data, 30);
        ep.notify(4, EPOLLIN);
        assert_eq!(ep.collect(&mut out, ready), 2, "a new edge re-arms ET");
    }

    #[test]
    fn oneshot_until_mod_and_removed_items_vanish() {
        let mut ep = Epoll::new();
        ep.ctl(CtlOp::Add, 3, event(EPOLLIN | EPOLLONESHOT, 3), EPOLLIN)
            .unwrap();
        let mut out = [EpollEvent::default(); 8];
        assert_eq!(ep.collect(&mut out, |_| EPOLLIN), 1);
        ep.notify(3, EPOLLIN);
        assert_eq!(ep.collect(&mut out, |_| EPOLLIN), 0, "disabled");
        ep.ctl(CtlOp::Mod, 3, event(EPOLLIN | EPOLLONESHOT, 3), EPOLLIN)
            .unwrap();
        assert_eq!(ep.collect(&mut out, |_| EPOLLIN), 1, "re-armed by MOD");
        ep.ctl(CtlOp::Add, 9, event(EPOLLIN, 9), EPOLLIN).unwrap();
        ep.ctl(CtlOp::Del, 9, event(0, 0), 0).unwrap();
        assert_eq!(ep.collect(&mut out, |_| EPOLLIN), 0, "deleted while queued");
    }

    #[test]
    fn errors_and_hangups_are_reported_whatever_the_interest() {
        let mut ep = Epoll::new();
        ep.ctl(CtlOp::Add, 3, event(EPOLLIN, 3), 0).unwrap();
        ep.notify(3, EPOLLOUT);
        let mut out = [EpollEvent::default(); 2];
        assert_eq!(
            ep.collect(&mut out, |_| EPOLLOUT),
            0,
            "not interested in OUT"
        );
        ep.notify(3, EPOLLHUP | EPOLLERR);
        assert_eq!(ep.collect(&mut out, |_| EPOLLHUP | EPOLLERR), 1);
        assert_eq!(out[0].events, EPOLLHUP | EPOLLERR);
    }

    #[test]
    fn collect_costs_the_ready_items_only() {
        let mut ep = Epoll::new();
        for fd in 0..10_000 {
            ep.ctl(CtlOp::Add, fd, event(EPOLLIN | EPOLLET, fd as u64), 0)
                .unwrap();
        }
        ep.notify(4242, EPOLLIN);
        let mut polled = 0;
        let mut out = [EpollEvent::default(); 16];
        let n = ep.collect(&mut out, |_| {
            polled += 1;
            EPOLLIN
        });
        assert_eq!((n, out[0].data, polled), (1, 4242, 1));
    }

    #[test]
    fn a_wake_queues_once_and_the_wait_decides() {
        let mut ep = Epoll::new();
        let watch = ep
            .ctl(CtlOp::Add, 3, event(EPOLLIN | EPOLLET, 3), 0)
            .unwrap()
            .expect("ADD gives the item's handle");
        ep.wake(&watch);
        ep.wake(&watch);
        let mut out = [EpollEvent::default(); 4];
        let mut polled = 0;
        let n = ep.collect(&mut out, |_| {
            polled += 1;
            EPOLLOUT
        });
        assert_eq!(
            (n, polled),
            (0, 1),
            "queued once, dropped: no interest in OUT"
        );
        ep.wake(&watch);
        assert_eq!(ep.collect(&mut out, |_| EPOLLIN | EPOLLOUT), 1);
        assert_eq!(out[0], event(EPOLLIN, 3));
        ep.ctl(CtlOp::Del, 3, event(0, 0), 0).unwrap();
        ep.wake(&watch);
        assert!(!ep.has_ready(), "a removed item is not queued");
    }

    #[test]
    fn a_fired_oneshot_ignores_wakes_until_mod() {
        let mut ep = Epoll::new();
        let watch = ep
            .ctl(CtlOp::Add, 5, event(EPOLLIN | EPOLLONESHOT, 5), EPOLLIN)
            .unwrap()
            .expect("ADD gives the item's handle");
        let mut out = [EpollEvent::default(); 4];
        assert_eq!(ep.collect(&mut out, |_| EPOLLIN), 1);
        ep.wake(&watch);
        assert!(!ep.has_ready(), "disabled");
        ep.ctl(CtlOp::Mod, 5, event(EPOLLIN | EPOLLONESHOT, 5), 0)
            .unwrap();
        ep.wake(&watch);
        assert_eq!(ep.collect(&mut out, |_| EPOLLIN), 1, "re-armed by MOD");
    }
}
