//! One executor's run queue: the tasks woken and waiting for their turn, in the order they
//! were woken, with a length that other threads read without taking the lock (where to place
//! a task, whom to steal from, whether a parked thread has work).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::task::{self, Runnable};
use crate::util::lock;

/// An entry of the run queue.
#[derive(Debug)]
pub(crate) enum Queued {
    /// A `Send` task: any worker of its runtime may run it.
    Task(Runnable),
    /// A task of `spawn_local`: it runs on its executor's thread only.
    Local(Runnable),
    /// The future given to `block_on`, which takes its turn among the tasks in the order
    /// they were all woken.
    Main,
}

impl Queued {
    /// Drops the entry without running it: a task is cancelled, on this thread.
    pub(crate) fn cancel(self) {
        match self {
            Queued::Task(runnable) | Queued::Local(runnable) => task::cancel(runnable),
            Queued::Main => {}
        }
    }
}

/// The queue, and the closed mark that decides, under the same lock, whether an entry may
/// still join it.
#[derive(Debug, Default)]
struct Entries {
    queue: VecDeque<Queued>,
    /// Set when the executor closes: a task that merely runs here now (a stolen one) is
    /// sent back to the executor that lists it, never queued here again (see
    /// [`RunQueue::push_unless_closed`]).
    closed: bool,
}

#[derive(Debug, Default)]
pub(crate) struct RunQueue {
    entries: Mutex<Entries>,
    /// The queue's length, stored under the lock at each change. `SeqCst`, so that a thread
    /// that says it is about to sleep and then reads it pairs with one that queues and then
    /// reads the sleeper's flag: one of the two sees the other.
    len: AtomicUsize,
}

impl RunQueue {
    /// How many entries wait; exact when read by the only thread that takes them while no
    /// other thread queues, an estimate otherwise.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// Queues `entry` at the back, closed or not: the executor that lists the task drains
    /// its queue until the task is gone (see `Shared::schedule`).
    pub(crate) fn push(&self, entry: Queued) {
        let mut entries = lock(&self.entries);
        entries.queue.push_back(entry);
        self.len.store(entries.queue.len(), Ordering::SeqCst);
    }

    /// Queues a task at the back unless the queue is closed, in which case the task is given
    /// back. The check and the push are one step under the lock, and [`close`](Self::close)
    /// sets the mark under it too, so a task either joins before the executor drains its
    /// queue for the last time or is refused.
    pub(crate) fn push_unless_closed(&self, runnable: Runnable) -> Result<(), Runnable> {
        let mut entries = lock(&self.entries);
        if entries.closed {
            return Err(runnable);
        }
        entries.queue.push_back(Queued::Task(runnable));
        self.len.store(entries.queue.len(), Ordering::SeqCst);
        Ok(())
    }

    /// Queues tasks at the back, in their order, under one lock.
    pub(crate) fn push_tasks(&self, runnables: impl Iterator<Item = Runnable>) {
        let mut entries = lock(&self.entries);
        entries.queue.extend(runnables.map(Queued::Task));
        self.len.store(entries.queue.len(), Ordering::SeqCst);
    }

    pub(crate) fn pop(&self) -> Option<Queued> {
        let mut entries = lock(&self.entries);
        let entry = entries.queue.pop_front();
        self.len.store(entries.queue.len(), Ordering::SeqCst);
        entry
    }

    /// Marks the queue closed: from now on [`push_unless_closed`](Self::push_unless_closed)
    /// refuses, and [`steal_into`](Self::steal_into) takes nothing from it.
    pub(crate) fn close(&self) {
        lock(&self.entries).closed = true;
    }

    /// Moves up to `most` entries, the oldest first, to the back of `batch`, and says how
    /// many: one lock for many tasks rather than one per task.
    pub(crate) fn take_batch(&self, batch: &mut VecDeque<Queued>, most: usize) -> usize {
        let mut entries = lock(&self.entries);
        let queue = &mut entries.queue;
        let taken = most.min(queue.len());
        if batch.is_empty() && queue.len() == taken {
            // The whole queue fits: trading the two buffers moves it without touching an
            // entry, and leaves the queue the batch's empty allocation.
            std::mem::swap(queue, batch);
        } else {
            batch.extend(queue.drain(..taken));
        }
        self.len.store(queue.len(), Ordering::SeqCst);
        taken
    }

    /// Takes half of the `Send` tasks that head the queue (rounding up, so a lone task is
    /// taken too) into `stolen`, the oldest first, and says how many. It stops at the
    /// first entry that must stay (a `spawn_local` task or the future of `block_on`), so
    /// the order of what stays is kept and the scan is as short as what it takes. Nothing is
    /// taken from a closed queue, whose tasks its executor is cancelling.
    pub(crate) fn steal_into(&self, stolen: &mut Vec<Runnable>, most: usize) -> usize {
        let mut entries = lock(&self.entries);
        if entries.closed {
            return 0;
        }
        let queue = &mut entries.queue;
        let want = queue.len().div_ceil(2).min(most);
        let before = stolen.len();
        while stolen.len() - before < want {
            match queue.pop_front() {
                Some(Queued::Task(runnable)) => stolen.push(runnable),
                Some(other) => {
                    queue.push_front(other);
                    break;
                }
                None => break,
            }
        }
        self.len.store(queue.len(), Ordering::SeqCst);
        stolen.len() - before
    }
}
