//! The list of a runtime's live tasks, one waker each.
//!
//! A runtime does not hold its tasks: a task waiting on a socket or a timer is held by the
//! reactor or the timers, but one waiting on a channel is held only by whoever has its
//! waker, possibly another thread. Dropping the runtime must still drop every task's future
//! (and the sockets it owns), on the runtime's thread; this list is how it reaches them all.

use std::sync::{Arc, Mutex};
use std::task::Waker;

use crate::stats::Counters;
use crate::util::lock;

#[derive(Debug)]
pub(crate) struct TaskList {
    inner: Mutex<Inner>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Inner {
    /// A live task's waker at its index; `None` for a free index, or for a live task whose
    /// waker was taken to cancel it.
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
    live: usize,
    /// Set when the runtime is dropped: no task is added from then on.
    closed: bool,
}

impl TaskList {
    pub(crate) fn new(counters: Arc<Counters>) -> TaskList {
        TaskList { inner: Mutex::default(), counters }
    }

    /// Counts a new task and gives it an index, before it has a waker; `None` once the
    /// list is closed.
    pub(crate) fn add(&self) -> Option<usize> {
        let mut inner = lock(&self.inner);
        if inner.closed {
            return None;
        }
        inner.live += 1;
        self.counters.set_tasks(inner.live);
        Some(match inner.free.pop() {
            Some(index) => index,
            None => {
                inner.wakers.push(None);
                inner.wakers.len() - 1
            }
        })
    }

    /// Refuses new tasks from now on (another thread may still be spawning one).
    pub(crate) fn close(&self) {
        lock(&self.inner).closed = true;
    }

    /// Records the waker of the task at `index`.
    pub(crate) fn set_waker(&self, index: usize, waker: Waker) {
        lock(&self.inner).wakers[index] = Some(waker);
    }

    /// Forgets the task at `index`: its future has been dropped.
    pub(crate) fn remove(&self, index: usize) {
        let waker = {
            let mut inner = lock(&self.inner);
            inner.live -= 1;
            self.counters.set_tasks(inner.live);
            inner.free.push(index);
            inner.wakers[index].take()
        };
        // Dropped outside the lock: the last reference to a task frees it.
        drop(waker);
    }

    /// Takes the wakers of every live task, to cancel them all.
    pub(crate) fn take_wakers(&self) -> Vec<Waker> {
        lock(&self.inner).wakers.iter_mut().filter_map(Option::take).collect()
    }

    /// How many tasks' futures have not been dropped yet.
    pub(crate) fn live(&self) -> usize {
        lock(&self.inner).live
    }
}
