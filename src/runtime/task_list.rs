//! The list of a runtime's live tasks: each task's waker and its abort mark.
//!
//! A runtime does not hold its tasks: a task waiting on a socket or a timer is held by the
//! reactor or the timers, but one waiting on a channel is held only by whoever has its
//! waker, possibly another thread. Dropping the runtime must still drop every task's future
//! (and the sockets it owns), on the runtime's thread; this list is how it reaches them all.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// A live task at its index; `None` for a free index, or for a live task taken to
    /// cancel it.
    tasks: Vec<Option<Listed>>,
    free: Vec<usize>,
    live: usize,
    /// Set when the runtime is dropped: no task is added from then on.
    closed: bool,
}

/// How the runtime reaches a live task to cancel it: its waker, and the mark that its next
/// run reads (the task's `TaskMeta::aborted`).
#[derive(Debug)]
pub(crate) struct Listed {
    waker: Waker,
    aborted: Arc<AtomicBool>,
}

impl Listed {
    pub(crate) fn new(waker: Waker, aborted: Arc<AtomicBool>) -> Listed {
        Listed { waker, aborted }
    }

    /// Marks the task aborted and wakes it: whichever run of it comes next, on whichever
    /// thread, drops its future instead of polling it.
    ///
    /// The mark is what makes this a cancellation. On a multi-worker runtime another worker
    /// may hold the task queued already (one it stole, woken before the runtime began to
    /// drop): the wake then only finds the task scheduled, and that worker's next turn runs
    /// it. Without the mark that run would poll the future as usual, which would wait again
    /// with the wake spent, and the task's home would wait for it for ever.
    pub(crate) fn cancel(self) {
        self.aborted.store(true, Ordering::Release);
        self.waker.wake();
    }
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
                inner.tasks.push(None);
                inner.tasks.len() - 1
            }
        })
    }

    /// Refuses new tasks from now on (another thread may still be spawning one).
    pub(crate) fn close(&self) {
        lock(&self.inner).closed = true;
    }

    /// Records how to reach the task at `index`.
    pub(crate) fn set(&self, index: usize, task: Listed) {
        lock(&self.inner).tasks[index] = Some(task);
    }

    /// Forgets the task at `index`: its future has been dropped.
    pub(crate) fn remove(&self, index: usize) {
        let listed = {
            let mut inner = lock(&self.inner);
            inner.live -= 1;
            self.counters.set_tasks(inner.live);
            inner.free.push(index);
            inner.tasks[index].take()
        };
        // Dropped outside the lock: the last reference to a task frees it.
        drop(listed);
    }

    /// Takes every live task not taken yet, to cancel them all.
    pub(crate) fn take_all(&self) -> Vec<Listed> {
        lock(&self.inner).tasks.iter_mut().filter_map(Option::take).collect()
    }

    /// How many tasks' futures have not been dropped yet.
    pub(crate) fn live(&self) -> usize {
        lock(&self.inner).live
    }
}
