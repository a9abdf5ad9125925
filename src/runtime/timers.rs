//! The timers of one runtime: a min-heap of deadlines over a slab of wakers, with cancelled
//! timers left in the heap and swept out in bulk.
//!
//! # Why this shape
//!
//! Most timers of a server are cancelled long before they are due: hyper arms a header-read
//! timeout (30 s) for every request and drops it a fraction of a millisecond later, when the
//! head has arrived. So the two operations that must be cheap are adding a timer and
//! cancelling it; firing one is rare. An ordered map pays a tree insertion and a tree
//! removal (with rebalancing) for each; here:
//!
//! - a timer is a slot of a slab (`slots`, reused through a free list) holding its waker, and
//!   an entry of a binary min-heap (`heap`) holding its deadline and the slot's place;
//! - **adding** takes a free slot and pushes the entry: O(log n) compares at worst, and
//!   usually none, since a new timeout is later than those already pending;
//! - **cancelling** empties the slot and leaves the entry in the heap, dead: O(1). An entry
//!   is live only while its slot still holds its `id` (ids are never reused, so a slot taken
//!   again by a new timer does not revive an old entry);
//! - dead entries leave the heap all at once when they outnumber the live ones (and
//!   [`COMPACT_AFTER`]): a rebuild of the heap from the live entries, O(n) once per n/2
//!   cancellations, so O(1) per cancellation, and the heap never holds more than about
//!   twice the live timers. Otherwise one leaves only when it is due, or when it is the root
//!   as the runtime asks for the next deadline before it blocks (so that the wait is not
//!   cut short by a cancelled timer); not at every turn, where a pop (a sift through the
//!   heap) would cost as much as the tree removal this design avoids.
//!
//! Deadlines stay exact (no rounding to a wheel's tick): a timer fires on the first turn
//! at which its deadline has passed, and the runtime's wait ends at the earliest deadline.
//! Timers of the same deadline fire in the order they were added.
//!
//! Each runtime (each worker of a multi-worker runtime) has its own `Timers`, behind a lock:
//! a `Sleep` first polled on one runtime keeps its timer there, and is cancelled there from
//! whichever thread drops it.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Instant;

use crate::stats::Counters;
use crate::util::lock;

/// Dead heap entries tolerated before a sweep, however few timers are live: a sweep of a
/// small heap would cost more than the entries it drops.
const COMPACT_AFTER: usize = 64;

/// A pending timer, as its `Sleep` names it: the slot of its waker and the id that says the
/// slot is still its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: usize,
    id: u64,
}

#[derive(Debug)]
pub(crate) struct Timers {
    inner: Mutex<Inner>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Live and dead entries; the earliest (deadline, id) at the root.
    heap: BinaryHeap<Reverse<Entry>>,
    slots: Vec<Slot>,
    /// Empty slots, to be reused before the slab grows.
    free: Vec<usize>,
    /// Timers pending: slots holding a waker.
    live: usize,
    /// The id of the next timer; starts at 1, so that no timer has the id of a fresh slot.
    next_id: u64,
}

/// A heap entry. Ordered by deadline, then by id (the order timers were added), which
/// also makes every entry distinct.
#[derive(Debug)]
struct Entry {
    deadline: Instant,
    id: u64,
    slot: usize,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> Ordering {
        (self.deadline, self.id).cmp(&(other.deadline, other.id))
    }
}

/// A slab slot: the waker of timer `id`, or `None` once it has fired or been cancelled.
#[derive(Debug)]
struct Slot {
    id: u64,
    waker: Option<Waker>,
}

impl Inner {
    fn is_live(&self, entry: &Entry) -> bool {
        let slot = &self.slots[entry.slot];
        slot.id == entry.id && slot.waker.is_some()
    }

    /// Empties a live timer's slot and returns its waker.
    fn take(&mut self, slot: usize) -> Option<Waker> {
        let waker = self.slots[slot].waker.take()?;
        self.free.push(slot);
        self.live -= 1;
        Some(waker)
    }

    /// Pops the dead entries at the root, so that the root, if any, is live.
    fn drop_dead_root(&mut self) {
        while let Some(Reverse(root)) = self.heap.peek() {
            if self.is_live(root) {
                return;
            }
            self.heap.pop();
        }
    }
}

impl Timers {
    pub(crate) fn new(counters: Arc<Counters>) -> Timers {
        Timers { inner: Mutex::default(), counters }
    }

    /// Adds a timer; also says whether it may now be the earliest one (and so must shorten
    /// a wait the runtime thread may be blocked in). A dead root counts as later than
    /// anything: the answer is then true, which costs at most a needless wake-up.
    pub(crate) fn insert(&self, deadline: Instant, waker: &Waker) -> (TimerKey, bool) {
        let mut inner = lock(&self.inner);
        inner.next_id += 1;
        let id = inner.next_id;
        let slot = match inner.free.pop() {
            Some(slot) => {
                inner.slots[slot] = Slot { id, waker: Some(waker.clone()) };
                slot
            }
            None => {
                inner.slots.push(Slot { id, waker: Some(waker.clone()) });
                inner.slots.len() - 1
            }
        };
        let entry = Entry { deadline, id, slot };
        let earliest = match inner.heap.peek() {
            Some(Reverse(root)) => entry < *root || !inner.is_live(root),
            None => true,
        };
        inner.heap.push(Reverse(entry));
        inner.live += 1;
        self.counters.set_timers(inner.live);
        (TimerKey { slot, id }, earliest)
    }

    /// Replaces the waker of a pending timer; false if the timer is no longer pending.
    pub(crate) fn update(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut inner = lock(&self.inner);
        let slot = &mut inner.slots[key.slot];
        match &mut slot.waker {
            Some(current) if slot.id == key.id => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
                true
            }
            _ => false,
        }
    }

    /// Cancels a timer, if it is still pending: its entry stays in the heap, dead, until it
    /// reaches the root or a sweep drops it.
    pub(crate) fn remove(&self, key: TimerKey) {
        let mut inner = lock(&self.inner);
        if inner.slots[key.slot].id != key.id {
            return;
        }
        let Some(waker) = inner.take(key.slot) else {
            return;
        };
        let dead = inner.heap.len() - inner.live;
        if dead > COMPACT_AFTER && dead > inner.live {
            let Inner { heap, slots, .. } = &mut *inner;
            heap.retain(|Reverse(entry)| {
                let slot = &slots[entry.slot];
                slot.id == entry.id && slot.waker.is_some()
            });
        }
        self.counters.set_timers(inner.live);
        drop(inner);
        // Outside the lock: a waker's destructor may be arbitrary code.
        drop(waker);
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut inner = lock(&self.inner);
        inner.drop_dead_root();
        inner.heap.peek().map(|Reverse(root)| root.deadline)
    }

    /// Moves the wakers of every timer due by now into `expired`, earliest first. `now` is
    /// only asked when a timer is pending: the runtime fires timers on every turn, and most
    /// turns of a busy server have none due.
    pub(crate) fn fire(&self, now: impl FnOnce() -> Instant, expired: &mut Vec<Waker>) {
        let mut inner = lock(&self.inner);
        if inner.live == 0 {
            inner.heap.clear();
            return;
        }
        let now = now();
        // A dead root that is not due stays: popping it costs a sift through the heap, and
        // nothing under it is due either. Sweeps and `next_deadline` drop it.
        while let Some(Reverse(root)) = inner.heap.peek() {
            if root.deadline > now {
                break;
            }
            let (slot, live) = (root.slot, inner.is_live(root));
            inner.heap.pop();
            if live {
                expired.extend(inner.take(slot));
            }
        }
        self.counters.set_timers(inner.live);
    }

    /// Removes every timer, handing back their wakers (used when the runtime shuts down).
    pub(crate) fn take_all(&self) -> Vec<Waker> {
        let mut inner = lock(&self.inner);
        let mut pending: Vec<&Entry> = inner.heap.iter().map(|Reverse(entry)| entry).collect();
        pending.retain(|entry| inner.is_live(entry));
        pending.sort_unstable();
        let order: Vec<usize> = pending.iter().map(|entry| entry.slot).collect();
        let wakers = order.into_iter().filter_map(|slot| inner.take(slot)).collect();
        inner.heap.clear();
        self.counters.set_timers(inner.live);
        wakers
    }
}

#[cfg(test)]
mod tests;
