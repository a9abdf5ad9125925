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

#[cfg(test)]
mod tests {
    //! The two rules of a move that a test from outside cannot see: the old registration's
    //! waiters are woken when it goes, and the kernel reports the socket again, so a move
    //! made while another task waits, or one that forgot the readiness that went to the old
    //! registration, still looks right there, only slower or by luck.

    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::task::{Context, Wake, Waker};

    use plexio_backends::{Interest, RawSource, Ready, Token, Triggering};

    use super::{IoState, MOVE_AFTER_FOREIGN_POLLS};
    use crate::driver::reactor::io_state::Rearm;

    struct Task;

    impl Wake for Task {
        fn wake(self: Arc<Self>) {}
    }

    fn task() -> Waker {
        Waker::from(Arc::new(Task))
    }

    /// A backend whose re-arming always succeeds and is not looked at.
    struct Backend;

    impl Rearm for Backend {
        fn rearm(&self, _: RawSource, _: Token, _: Interest) -> io::Result<()> {
            Ok(())
        }
    }

    fn socket() -> IoState {
        IoState::new(Token(1), RawSource::default(), Interest::BOTH)
    }

    /// `waker`'s task waits on `direction` of `state`.
    fn wait(state: &IoState, waker: &Waker, direction: Interest) {
        let mut cx = Context::from_waker(waker);
        let polled = state.poll_ready(&mut cx, direction, &Backend, Triggering::Level);
        assert!(polled.is_pending(), "nothing was ready");
    }

    /// Polls by the owner from another worker, until the registration may move; `None` if
    /// it may not within `most` polls.
    fn polls_until_it_may_move(state: &IoState, owner: &Waker, most: usize) -> Option<usize> {
        (1..=most).find(|_| state.count_foreign_poll(owner, false, false))
    }

    // Miri gives each use of a waker's vtable its own address, so `Waker::will_wake` never
    // knows the owner's waiting waker there (a move then never happens: the safe side).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn the_owner_alone_moves_it_after_a_run_of_polls_from_another_worker() {
        let state = socket();
        let owner = task();
        wait(&state, &owner, Interest::READABLE);
        assert_eq!(polls_until_it_may_move(&state, &owner, 10), Some(4));
        // A poll from the socket's own worker starts the run again.
        let state = socket();
        for _ in 1..MOVE_AFTER_FOREIGN_POLLS {
            assert!(!state.count_foreign_poll(&owner, false, false));
        }
        state.home_poll();
        assert_eq!(polls_until_it_may_move(&state, &owner, 10), Some(4));
    }

    #[test]
    fn a_socket_another_task_waits_on_never_moves() {
        for direction in [Interest::READABLE, Interest::WRITABLE] {
            let state = socket();
            let (owner, other) = (task(), task());
            wait(&state, &other, direction);
            assert_eq!(polls_until_it_may_move(&state, &owner, 20), None, "{direction:?}");
        }
        // Nor one whose operation another task waits for on a completion driver; and
        // finding it starts the run again.
        let state = socket();
        let owner = task();
        for _ in 1..MOVE_AFTER_FOREIGN_POLLS {
            assert!(!state.count_foreign_poll(&owner, false, false));
        }
        assert!(!state.count_foreign_poll(&owner, false, true));
        assert_eq!(polls_until_it_may_move(&state, &owner, 10), Some(4));
    }

    #[test]
    fn a_moved_registration_takes_both_directions_as_ready_and_keeps_what_was_known() {
        let old = socket();
        old.readiness.fetch_or(Ready::PRIORITY.bits() as usize, Ordering::Relaxed);
        let new = socket();
        new.inherit(&old);
        for direction in [Interest::READABLE, Interest::WRITABLE] {
            assert!(!new.ready_now(direction).ready.is_empty(), "{direction:?} not assumed");
        }
        let known = new.readiness.load(Ordering::Relaxed) & Ready::PRIORITY.bits() as usize;
        assert_ne!(known, 0, "the old registration's urgent data was forgotten");
    }
}
