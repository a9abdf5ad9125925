//! Moving a stream's registration to the driver of the worker that polls it.
//!
//! On a multi-worker runtime a socket registers with the driver of the thread that makes
//! it, and a `Send` task that holds it may run on another worker. Left there, every event
//! of the socket is collected by one worker and handed to another: a cross-thread wake per
//! event. The owner of a stream (whoever polls it through `&mut`, see
//! `net::byte_stream::owned`) asks here before each read and write, and an idle socket
//! moves.
//!
//! # When a socket moves
//!
//! Only when nothing can go to the registration left behind, and only once it is clear
//! that the socket is used from the new worker:
//!
//! - its owner polls it through `&mut` (a stream it owns): the halves of `into_split` and
//!   a `&TcpStream` share it by reference and never move it;
//! - the owner has polled it from that worker `MOVE_AFTER_FOREIGN_POLLS` (4, in
//!   `io_state`) times in a row (see "Hysteresis");
//! - no other task waits on it: not on either direction of the registration, nor, on a
//!   completion driver, for one of its operations. A task that does may be polling from a
//!   third worker, and its wake-up would come from the registration left behind (one left
//!   by a future dropped elsewhere stays until an event takes it; until then the socket
//!   stays);
//! - on a completion driver, nothing is in flight for it in the old ring (receive, send,
//!   accept, poll), no bytes received there wait to be read, no operation holds the socket,
//!   and the platform lets a socket's operations go to another ring (not Windows, where a
//!   socket is attached to one completion port for good).
//!
//! Otherwise the socket stays where it is, as it always did: it is waited on from here and
//! woken across threads, and the next poll asks again. A refusal costs a lock and never
//! makes a task poll again, so it cannot spin.
//!
//! # Hysteresis
//!
//! Two tasks on two workers may take turns owning one socket: the halves of
//! `futures::io::split` (which lend the stream to each half in turn through `&mut`), or a
//! stream behind a mutex. Moving at the first poll from elsewhere would move it back and
//! forth at every turn, two backend calls each (the test of turns counts 100 to 300 moves
//! in 200 turns that way). So a socket moves only after 4 polls in a row from the new
//! worker: any poll from the worker it is registered with starts the count again (it
//! clears a bit of the readiness word that the next poll from elsewhere sets, see
//! `IoState::home_poll`), and so does finding another task waiting on it. A stream handed
//! to a task on another worker is no longer polled where it was, and moves within its
//! first few operations; one used by turns from two workers stays put (the test of turns
//! sees 1 or 2 moves in 200 turns; 23 to 71 with the bit but without the reset by polls
//! from the socket's own worker).
//!
//! # Cost where nothing moves
//!
//! A poll on the socket's own worker, and every poll on a runtime of one thread, pays the
//! owner's check (a thread-local load and a comparison, inside the operation: see
//! `net::byte_stream::owned`) and a load and a test of the readiness word, which it reads
//! anyway; it writes only after a poll from elsewhere. Measured with the bench's
//! `--callgrind`, 64-byte ping-pong on one connection: plexio-mio 1912 → 1962 instructions
//! per message, plexio-uring 5332 → 5380.
//!
//! # How it moves
//!
//! The socket (shared, so it can be in two places at once) is registered with the new
//! driver first, so that a refusal there leaves the old registration as it was; then the
//! old registration is released (its slot freed, so that an event the old driver still
//! collects finds a newer generation and is dropped) and removed from the old backend.
//! The new registration takes over what the old one knew, and both directions as possibly
//! ready: readiness that arrived while moving went to the old registration, or nowhere, and
//! trying the operation once finds out (events are hints).

use std::sync::Arc;
use std::task::Context;

use plexio_backends::completion::SocketSource;
use plexio_backends::{AsSource, Interest};

use super::{Registration, Shared};
use crate::driver::completion::MoveCheck;
use crate::driver::current;
use crate::util::trace;

impl<T> Registration<Shared<T>>
where
    T: SocketSource + 'static,
    Shared<T>: AsSource,
{
    /// Whether the thread polling now is not the one whose reactor the socket is
    /// registered with: then the owner calls [`follow`](Self::follow) before the operation.
    /// On the socket's own worker, and on a runtime of one thread, one thread-local load and
    /// a comparison.
    #[inline]
    pub(crate) fn polled_on_another_thread(&self) -> bool {
        !current::polled_here(self.reactor())
    }

    /// Moves the registration to the driver of the worker polling it, if that is another
    /// worker's of the same runtime and the socket is idle (see the module docs).
    #[cold]
    #[inline(never)]
    pub(crate) fn follow(&mut self, cx: &Context<'_>) {
        self.move_here(cx);
    }

    fn move_here(&mut self, cx: &Context<'_>) {
        let Some(here) = current::worker_reactor_to_move_to(self.reactor()) else { return };
        if !self.may_move(cx) {
            return;
        }
        // Byte streams, the only sockets that move, are registered for both directions.
        let (registered, state) = match here.register(self.get_ref().clone(), Interest::BOTH) {
            Ok(new) => new,
            Err(_error) => {
                trace::event!(debug, error = %_error, "registration not moved");
                return;
            }
        };
        let old_state = std::mem::replace(&mut self.state, state);
        let old = self.source.replace(registered).expect("a live Registration holds its source");
        let there = old.backend().clone();
        there.release(&old_state);
        // Removed from the old backend; the socket stays open, shared with the new one.
        drop(old);
        there.counters.socket_closed();
        // After the release: an event the old driver was dispatching is in `old_state` now.
        self.state.inherit(&old_state);
        here.counters.registration_moved_in();
        trace::event!(trace, token = self.state.token().0, "registration moved to this worker");
    }

    /// Whether nothing would go to the registration left behind (see the module docs),
    /// counting this poll from another worker.
    fn may_move(&self, cx: &Context<'_>) -> bool {
        let reactor = self.reactor();
        let completion = reactor.completion.as_deref();
        let check =
            completion.map(|proactor| proactor.lock().move_check(self.state.token(), cx.waker()));
        let other_waits = check == Some(MoveCheck::OtherTaskWaits);
        if !self.state.count_foreign_poll(cx.waker(), completion.is_some(), other_waits) {
            return false;
        }
        match check {
            None => true,
            // An operation still holding the socket (a dropped one, cancelled but not yet
            // reaped) is in the old ring.
            Some(check) => check == MoveCheck::Idle && Arc::strong_count(self.get_ref()) == 1,
        }
    }
}
