//! Whether a socket's registration may move to another worker's ring now (see
//! `registration::moving`): what the completion side holds for it must not be left behind.

use std::task::Waker;

use plexio_backends::Token;

use super::{Inner, OpId, Slot};

/// What [`Inner::move_check`] found about a socket whose registration might move to
/// another ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MoveCheck {
    /// Nothing in flight, nothing kept: it may move.
    Idle,
    /// Something of its own is in flight or kept here: not now.
    Busy,
    /// Another task waits for one of its operations (the other half of a stream shared by
    /// turns, on another worker): not now, and the count of polls from the new worker
    /// starts again.
    OtherTaskWaits,
}

impl Inner {
    /// Whether the socket of `token` may move to another ring now, for the task of `waker`
    /// (see `registration::moving`).
    pub(crate) fn move_check(&self, token: Token, waker: &Waker) -> MoveCheck {
        if cfg!(windows) {
            // A socket is attached to one completion port for good (by its first
            // operation, a connect perhaps), and its completions would keep going there.
            return MoveCheck::Busy;
        }
        let Some(ops) = self.sockets.get(&token) else { return MoveCheck::Idle };
        let other = |waiting: Option<&Waker>| waiting.is_some_and(|w| !w.will_wake(waker));
        let waits = |id: Option<OpId>| {
            id.is_some_and(|id| {
                matches!(&self.slots[id.index()], Slot::Pending(w) if other(w.as_ref()))
                    || self.watchers.iter().any(|(at, w)| *at == id.index() && other(Some(w)))
            })
        };
        let (write, flush) = ops.write_in_flight();
        if waits(ops.read_in_flight()) || waits(write) || other(flush) {
            MoveCheck::OtherTaskWaits
        } else if !ops.nothing_to_leave_behind() {
            MoveCheck::Busy
        } else {
            MoveCheck::Idle
        }
    }
}
