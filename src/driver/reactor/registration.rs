//! `Registration`: a socket registered with the current runtime's reactor, and the bridge
//! from readiness to futures.
//!
//! Every I/O operation goes through one loop: wait until the direction is ready, try the
//! operation, and if it says `WouldBlock`, forget that readiness and wait again. Events are
//! hints; the operation decides.

use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use plexio_backends::{AsSource, Interest, Ready};

mod moving;
mod operations;

pub(crate) use operations::Shared;

use super::io_state::{IoState, ReadyEvent};
use super::{Reactor, RegisteredSource};
use crate::driver::completion::ReadReadiness;
use crate::driver::current;
use crate::util::{coop, trace};

/// A socket and its registration. Dropping it removes the registration, then closes the
/// socket.
///
/// Kept small, since every connection's task holds one: the state, and the socket
/// together with the reactor it is registered with.
#[derive(Debug)]
pub(crate) struct Registration<S: AsSource> {
    state: Arc<IoState>,
    /// Taken out by `Drop::drop` after it has released the slot, and dropped then: the
    /// backend deregistration (inside `Registered`) runs, then the socket closes. `None`
    /// only inside `into_inner` and `drop`.
    source: Option<RegisteredSource<S>>,
}

impl<S: AsSource> Registration<S> {
    /// Whether the runtime running on this thread runs a completion driver (its sockets'
    /// operations then go to the kernel with their buffers); `NoRuntime` outside of one.
    pub(crate) fn current_is_completion() -> io::Result<bool> {
        Ok(current::reactor()?.completion.is_some())
    }

    /// Registers `source` with the reactor of the runtime running on this thread.
    pub(crate) fn new(source: S, interest: Interest) -> io::Result<Registration<S>> {
        let reactor = current::reactor()?;
        let (source, state) = reactor.register(source, interest)?;
        Ok(Registration { state, source: Some(source) })
    }

    fn registered(&self) -> &RegisteredSource<S> {
        self.source.as_ref().expect("a live Registration holds its source")
    }

    fn reactor(&self) -> &Reactor {
        self.registered().backend()
    }

    /// The socket.
    pub(crate) fn get_ref(&self) -> &S {
        self.registered().get_ref()
    }

    /// Resolves when `direction` is (believed) ready.
    ///
    /// Fails at once on a thread that does not run the socket's runtime: only that
    /// runtime's thread polls its backend, so a wait anywhere else would last until that
    /// runtime happened to run, for ever if it never does.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Interest,
    ) -> Poll<io::Result<ReadyEvent>> {
        let reactor = self.reactor();
        if current::polled_here(reactor) {
            self.state.home_poll();
        } else if let Err(error) = current::check_current(reactor) {
            return Poll::Ready(Err(self.polled_elsewhere(error)));
        }
        if let (Some(proactor), true) = (&reactor.completion, direction.is_readable()) {
            // A receive of the completion driver takes the bytes a readiness event
            // announced: what it holds or will hold is the readiness that counts.
            match proactor.lock().read_readiness(proactor, self.state.token(), cx) {
                ReadReadiness::Ready => return Poll::Ready(Ok(self.state.known(Ready::READABLE))),
                ReadReadiness::InFlight => return Poll::Pending,
                ReadReadiness::Idle => {}
            }
        }
        self.state.poll_ready(cx, direction, &**reactor.backend(), reactor.triggering)
    }

    /// The error of an operation polled off its runtime's thread: `error`, unless the
    /// runtime is gone, which a socket then says wherever it is polled from. Out of line, so
    /// that the check costs the hot path only its comparison.
    #[cold]
    #[inline(never)]
    fn polled_elsewhere(&self, error: io::Error) -> io::Error {
        if self.state.is_closed() { plexio_backends::Error::RuntimeShutdown.into() } else { error }
    }

    /// Whether `direction` is believed ready now, as far as readiness events tell: a peek
    /// that leaves no waker and runs none of [`poll_ready`](Self::poll_ready)'s checks,
    /// for a caller that then goes through an operation (which makes them) anyway.
    #[cfg(feature = "hyper")]
    #[inline]
    pub(crate) fn is_ready(&self, direction: Interest) -> bool {
        self.state.is_ready(direction)
    }

    /// Forgets the readiness that an operation found false.
    pub(crate) fn clear_readiness(&self, seen: ReadyEvent) {
        self.state.clear_readiness(seen);
    }

    /// Remembers that the peer reset the connection (see [`was_reset`](Self::was_reset)).
    pub(crate) fn remember_reset(&self) {
        self.state.remember_reset();
    }

    /// Whether an operation on this socket has reported that the peer reset the
    /// connection, which the kernel reports only once.
    pub(crate) fn was_reset(&self) -> bool {
        self.state.was_reset()
    }

    /// Runs `operation` once `direction` is ready, as many times as it returns `WouldBlock`.
    ///
    /// Each call spends one unit of the task's cooperative budget, so that a socket that is
    /// always ready cannot keep its task from yielding.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Interest,
        operation: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_until_empty(cx, direction, operation, |_| false)
    }

    /// [`poll_io`](Self::poll_io) for a stream read into `capacity` bytes, counting only
    /// the buffers the system call is handed. A read that returns less than it asked for
    /// emptied the socket; where the backend reports the next arrival as an event
    /// (`Backend::short_reads_drain`), the readiness is forgotten right away, which saves the
    /// next read's `WouldBlock` system call (but see `IoState::clear_after_short_read` for
    /// urgent data, at whose mark a read stops short).
    pub(crate) fn poll_read_io(
        &self,
        cx: &mut Context<'_>,
        capacity: usize,
        operation: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let short_reads_drain = self.reactor().short_reads_drain;
        self.poll_io_until_empty(cx, Interest::READABLE, operation, |&read| {
            short_reads_drain && read > 0 && read < capacity
        })
    }

    /// [`poll_io`](Self::poll_io), also forgetting the readiness as after a short read when
    /// `emptied` says a result left the socket empty.
    fn poll_io_until_empty<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Interest,
        mut operation: impl FnMut(&S) -> io::Result<R>,
        emptied: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        ready!(coop::poll_proceed(cx));
        loop {
            let seen = ready!(self.poll_ready(cx, direction))?;
            match operation(self.get_ref()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_readiness(seen);
                }
                Ok(value) => {
                    if emptied(&value) {
                        self.state.clear_after_short_read(seen);
                    }
                    return Poll::Ready(Ok(value));
                }
                Err(error) => {
                    trace::event!(debug, %error, kind = ?error.kind(), "I/O error");
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    /// The `async` form of [`poll_io`](Self::poll_io).
    pub(crate) async fn io<R>(
        &self,
        direction: Interest,
        mut operation: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(cx, direction, &mut operation)).await
    }

    /// Deregisters the socket and hands it back, open.
    pub(crate) fn into_inner(mut self) -> io::Result<S> {
        let source = self.source.take().expect("a live Registration holds its source");
        let reactor = source.backend().clone();
        reactor.release(&self.state);
        let handed_back = source.into_inner();
        // The runtime's count of open sockets: this one is no longer the runtime's.
        reactor.counters.socket_closed();
        handed_back
    }
}

impl<S: AsSource> Drop for Registration<S> {
    fn drop(&mut self) {
        // `None` after `into_inner`, which has released everything itself.
        if let Some(source) = self.source.take() {
            let reactor = source.backend().clone();
            reactor.release(&self.state);
            // Deregisters from the backend, then closes the socket.
            drop(source);
            reactor.counters.socket_closed();
        }
    }
}

#[cfg(all(test, target_os = "linux", target_pointer_width = "64"))]
mod size {
    /// Every connection's task holds a `TcpStream`, that is, one of these: three words.
    #[test]
    fn registration_is_three_words() {
        assert_eq!(size_of::<super::Registration<std::net::TcpStream>>(), 24);
    }
}
