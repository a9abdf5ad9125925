//! The timers of one runtime: deadlines ordered in a map, each with the waker to call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Instant;

use crate::stats::Counters;
use crate::util::lock;

/// A timer's place in the map: its deadline, and a sequence number that orders timers with
/// the same deadline by creation and keeps keys unique.
pub(crate) type TimerKey = (Instant, u64);

#[derive(Debug)]
pub(crate) struct Timers {
    inner: Mutex<Inner>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Inner {
    pending: BTreeMap<TimerKey, Waker>,
    next_sequence: u64,
}

impl Timers {
    pub(crate) fn new(counters: Arc<Counters>) -> Timers {
        Timers { inner: Mutex::default(), counters }
    }

    /// Adds a timer; also says whether it is now the earliest one (and so must shorten a
    /// wait the runtime thread may be blocked in).
    pub(crate) fn insert(&self, deadline: Instant, waker: &Waker) -> (TimerKey, bool) {
        let mut inner = lock(&self.inner);
        let key = (deadline, inner.next_sequence);
        inner.next_sequence += 1;
        let earliest = inner.pending.first_key_value().is_none_or(|(first, _)| key < *first);
        inner.pending.insert(key, waker.clone());
        self.counters.set_timers(inner.pending.len());
        (key, earliest)
    }

    /// Replaces the waker of a pending timer; false if the timer is no longer pending.
    pub(crate) fn update(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut inner = lock(&self.inner);
        match inner.pending.get_mut(&key) {
            Some(current) => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&self, key: TimerKey) {
        let mut inner = lock(&self.inner);
        if inner.pending.remove(&key).is_some() {
            self.counters.set_timers(inner.pending.len());
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        lock(&self.inner).pending.first_key_value().map(|((deadline, _), _)| *deadline)
    }

    /// Moves the wakers of every timer due by now into `expired`, earliest first. `now` is
    /// only asked when a timer is pending: the runtime fires timers on every turn, and most
    /// turns of a busy server have none.
    pub(crate) fn fire(&self, now: impl FnOnce() -> Instant, expired: &mut Vec<Waker>) {
        let mut inner = lock(&self.inner);
        if inner.pending.is_empty() {
            return;
        }
        let now = now();
        while let Some(entry) = inner.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            expired.push(entry.remove());
        }
        self.counters.set_timers(inner.pending.len());
    }

    /// Removes every timer, handing back their wakers (used when the runtime shuts down).
    pub(crate) fn take_all(&self) -> Vec<Waker> {
        let mut inner = lock(&self.inner);
        let pending = std::mem::take(&mut inner.pending);
        self.counters.set_timers(0);
        drop(inner);
        pending.into_values().collect()
    }
}
