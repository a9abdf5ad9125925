//! The completion driver interface: the proactor half of plexio.
//!
//! A [`Backend`](crate::Backend) says "you may now read"; a [`CompletionDriver`] is handed
//! the operation *and the buffer it owns* up front and says "done, n bytes" (Linux io_uring,
//! Windows overlapped I/O on a completion port). Each operation is described once, as an
//! [`Operation`] value; a completion driver runs it in the kernel, and plexio's readiness
//! runtimes run the same description with a non-blocking system call once the socket is
//! ready ([`Operation::run_now`]).
//!
//! [`ReadinessOverCompletion`] gives a completion driver the readiness face the reactor
//! needs (for the sockets and calls that only wait for readiness: Unix sockets, `peek`,
//! `readable()`), through [`Operation::Poll`].

#[cfg(feature = "chaos")]
pub mod chaos;
mod operation;
mod readiness;
mod token_map;

use std::fmt::Debug;
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use operation::{
    Completion, Completions, Operation, Refused, SharedSource, SocketSource, cancelled,
    is_cancelled,
};
pub use readiness::ReadinessOverCompletion;
pub use token_map::{TokenHasher, TokenMap};

use crate::Token;

/// The largest token a caller may give [`CompletionDriver::submit`]: tokens with the top bit
/// set are the drivers' own (their notifier, their cancel requests).
pub const MAX_TOKEN: usize = usize::MAX >> 1;

/// A completion (proactor) I/O mechanism: runs operations that own their buffers, and hands
/// each one back with its result.
///
/// plexio's runtime drives one driver per runtime. Implement this trait to run plexio on a
/// completion mechanism of your own and hand it to `Runtime::builder().custom_completion_driver(..)`.
///
/// # The contract
///
/// A driver must guarantee all of the following; plexio's completion contract tests
/// (`tests/completion_contract.rs`) check them for every driver it ships and for a test
/// implementation written against this trait alone.
///
/// * **Threads.** [`complete`](Self::complete) is called by one thread at a time.
///   [`submit`](Self::submit), [`cancel`](Self::cancel) and [`notify`](Self::notify) may be
///   called from any thread at any time. A submission or a cancellation takes effect no
///   later than the next call of `complete` that *starts* after it; a `complete` blocked on
///   another thread need not see it (a caller that needs it seen calls `notify`).
/// * **Ownership.** From a successful `submit` until `complete` hands back the
///   [`Completion`] that carries its token, the driver owns the operation: its buffer and
///   the reference to its socket ([`SharedSource`]), which keeps the socket open. The driver
///   never drops, moves the heap memory of, or reuses an operation's buffer while the kernel
///   may still read or write it.
/// * **Exactly once.** Every submitted operation completes exactly once, with its own token
///   and with the operation itself, whatever happens to it: success, failure, cancellation.
///   A `submit` that fails returns the operation untouched ([`Refused`]); it never started
///   and never completes.
/// * **Cancellation.** `cancel(token)` asks the operation of that token to stop early. Its
///   completion still comes, and carries either the error [`cancelled()`] (nothing was
///   transferred) or the result it reached first: a receive that completed carries its
///   bytes, an accept its connection, a send says what it sent. The caller must not lose
///   them. Cancelling a token that is not in flight (completed already, never submitted)
///   does nothing. Cancelling a stream send may cost the connection: on Windows a send
///   cancelled while in progress aborts it (the socket's state is then undefined, and the
///   peer sees a reset), so a caller that wants the connection kept lets its sends finish.
///   (plexio's runtime cancels a send only when its owner gave it up: a dropped owned-buffer
///   write, or a socket dropped with one in flight; never a write-behind send, whose bytes a
///   write reported as written.)
/// * **Results.** `Ok(n)` is what the operation did (see each [`Operation`] variant); an
///   error is the operating system's, as the same non-blocking call would report it
///   (`ConnectionReset`, `ConnectionRefused`, ...). A driver never reports `WouldBlock` for
///   lack of readiness: it waits. It may, however, complete an operation with an error of
///   kind [`Interrupted`](io::ErrorKind::Interrupted) or
///   [`WouldBlock`](io::ErrorKind::WouldBlock) meaning "nothing happened": the caller
///   submits it again. Sends and receives may be short.
/// * **Waiting.** `complete(.., Some(t))` adds what completed to `completions` (up to their
///   capacity; the rest waits for the next call) and returns once at least one operation
///   completed, a `notify` arrived, or at least `t` passed; `Some(Duration::ZERO)` does not
///   block; `None` waits for a completion or a notify. It may return `Err` of kind
///   `Interrupted`, which is a wake with nothing done. Every submission made before the call
///   goes to the kernel in it (one system call for the submissions and the wait, where the
///   mechanism allows).
/// * **Notify.** `notify` wakes the current or the next `complete` on any thread; many
///   notifies before a wait are one wake; a wake already pending is a success.
/// * **Dropping the driver.** Operations still in flight are cancelled and their
///   completions awaited before their buffers are freed. If the kernel does not hand them
///   back in a bounded time, their memory is leaked on purpose rather than freed while the
///   kernel may still write to it.
pub trait CompletionDriver: Send + Sync + Debug {
    /// The driver's name, as accepted by `Runtime::builder().backend(name)` and
    /// `PLEXIO_BACKEND` for plexio's own drivers.
    fn name(&self) -> &'static str;

    /// Hands `operation` to the driver; its completion will carry `token`, which must be at
    /// most [`MAX_TOKEN`] and not the token of another operation in flight.
    ///
    /// Fails, handing the operation back untouched, if the driver cannot take it now (its
    /// queue is full and the kernel refuses more, say) or does not implement this kind of
    /// operation ([`io::ErrorKind::Unsupported`]). A refusal of kind
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) says the queue is full: the caller submits
    /// the operation again after its next `complete`, which hands the queue to the kernel;
    /// any other refusal is final for that operation.
    fn submit(&self, token: Token, operation: Operation) -> Result<(), Refused>;

    /// Asks the operation of `token` to stop early (see *Cancellation* above).
    fn cancel(&self, token: Token);

    /// Sends what was submitted, waits (see *Waiting* above) and adds the completions to
    /// `completions`, which the caller cleared.
    fn complete(&self, completions: &mut Completions, timeout: Option<Duration>) -> io::Result<()>;

    /// Wakes the `complete` that is blocked now, or else the next one, from any thread.
    fn notify(&self) -> io::Result<()>;
}

/// Forwards every method; lets a shared or boxed driver be wrapped or handed on.
macro_rules! forward_completion_driver {
    ($pointer:ident) => {
        impl<D: CompletionDriver + ?Sized> CompletionDriver for $pointer<D> {
            fn name(&self) -> &'static str {
                (**self).name()
            }

            fn submit(&self, token: Token, operation: Operation) -> Result<(), Refused> {
                (**self).submit(token, operation)
            }

            fn cancel(&self, token: Token) {
                (**self).cancel(token)
            }

            fn complete(
                &self,
                completions: &mut Completions,
                timeout: Option<Duration>,
            ) -> io::Result<()> {
                (**self).complete(completions, timeout)
            }

            fn notify(&self) -> io::Result<()> {
                (**self).notify()
            }
        }
    };
}

forward_completion_driver!(Box);
forward_completion_driver!(Arc);
