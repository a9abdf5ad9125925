//! What the readiness state keeps for moving a registration to another worker's reactor
//! (see `registration::moving`): the count of polls from elsewhere, and what a new
//! registration takes over from the one it replaces.

use std::sync::atomic::Ordering;
use std::task::Waker;

use plexio_backends::Ready;

use super::{FOREIGN, IoState, READY_MASK, RESET, TICK_SHIFT};
use crate::util::lock;

/// How many polls from another worker, in a row, move a registration there (see
/// `registration::moving`, "Hysteresis").
const MOVE_AFTER_FOREIGN_POLLS: u8 = 4;

impl IoState {
    /// Notes a poll from the worker whose driver the socket is registered with: it ends a
    /// run of polls from another worker (see [`count_foreign_poll`](Self::count_foreign_poll)).
    /// A load and a test unless such a run is under way.
    #[inline]
    pub(crate) fn home_poll(&self) {
        if self.readiness.load(Ordering::Relaxed) & FOREIGN != 0 {
            self.readiness.fetch_and(!FOREIGN, Ordering::Relaxed);
        }
    }

    /// Counts a poll by the socket's owner, the task of `waker`, from another worker, and
    /// says whether the registration may move there now: after
    /// `MOVE_AFTER_FOREIGN_POLLS` such polls in a row, with no other task waiting on
    /// either direction (one that does may be polling from a third worker, as the other
    /// half of a `futures::io::split` stream does; finding one starts the count again), and,
    /// on a completion driver (`poll_in_flight` asks), no poll operation of the readiness
    /// face in flight.
    ///
    /// `other_waits` says that another task waits on the socket elsewhere (for an operation
    /// of a completion driver), which starts the count again too.
    pub(crate) fn count_foreign_poll(
        &self,
        waker: &Waker,
        poll_in_flight: bool,
        other_waits: bool,
    ) -> bool {
        let mut waiters = lock(&self.waiters);
        if self.readiness.fetch_or(FOREIGN, Ordering::Relaxed) & FOREIGN == 0 {
            // The first of a run: the socket's own worker polled it since the last one.
            waiters.foreign_polls = 0;
        }
        let own = |waiting: &Option<Waker>| waiting.as_ref().is_none_or(|w| w.will_wake(waker));
        let alone = !other_waits
            && own(&waiters.reader)
            && own(&waiters.writer)
            && waiters
                .others
                .as_ref()
                .is_none_or(|others| others.iter().all(|(_, other)| other.will_wake(waker)));
        if !alone {
            waiters.foreign_polls = 0;
            return false;
        }
        waiters.foreign_polls = waiters.foreign_polls.saturating_add(1);
        !waiters.closed
            && waiters.foreign_polls >= MOVE_AFTER_FOREIGN_POLLS
            && (!poll_in_flight || waiters.armed.is_empty())
    }

    /// Takes over what `old` knew, for a registration that replaces it on another reactor:
    /// its readiness and reset, and both directions as possibly ready, since an event may
    /// have gone to `old` (or nowhere) while the socket moved. The next operation in each
    /// direction tries the socket, and its `WouldBlock` clears what was not so.
    pub(crate) fn inherit(&self, old: &IoState) {
        let taken = Ready::ALL.bits() as usize | RESET;
        let known = old.readiness.load(Ordering::Acquire) & taken;
        let assumed = (Ready::READABLE | Ready::WRITABLE).bits() as usize;
        let _ = self.readiness.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            let tick = (state >> TICK_SHIFT).wrapping_add(1);
            Some((tick << TICK_SHIFT) | (state & READY_MASK) | known | assumed)
        });
    }
}
