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

use plexio_backends::{AsSource, Interest, Registered};

use super::Reactor;
use super::io_state::{IoState, ReadyEvent};
use crate::runtime::context;
use crate::task::coop;

/// A socket and its registration. Dropping it removes the registration, then closes the
/// socket.
#[derive(Debug)]
pub(crate) struct Registration<S: AsSource> {
    state: Arc<IoState>,
    reactor: Arc<Reactor>,
    /// Taken out by `Drop::drop` after it has released the slot, and dropped then: the
    /// backend deregistration (inside `Registered`) runs, then the socket closes. `None`
    /// once `into_inner` has taken it (and released the slot itself).
    source: Option<Registered<S>>,
}

impl<S: AsSource> Registration<S> {
    /// Registers `source` with the reactor of the runtime running on this thread.
    pub(crate) fn new(source: S, interest: Interest) -> io::Result<Registration<S>> {
        let reactor = context::reactor()?;
        let (source, state) = reactor.register(source, interest)?;
        Ok(Registration { state, reactor, source: Some(source) })
    }

    /// The socket.
    pub(crate) fn get_ref(&self) -> &S {
        self.source.as_ref().expect("a live Registration holds its source").get_ref()
    }

    /// Resolves when `direction` is (believed) ready.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Interest,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.state.poll_ready(cx, direction, &**self.reactor.backend(), self.reactor.triggering)
    }

    /// Forgets the readiness that an operation found false.
    pub(crate) fn clear_readiness(&self, seen: ReadyEvent) {
        self.state.clear_readiness(seen);
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

    /// [`poll_io`](Self::poll_io) for a stream read into `capacity` bytes. A read that
    /// returns less than it asked for emptied the socket; where the backend reports the next
    /// arrival as an event (`Backend::short_reads_drain`), the readiness is forgotten right
    /// away, which saves the next read's `WouldBlock` system call.
    pub(crate) fn poll_read_io(
        &self,
        cx: &mut Context<'_>,
        capacity: usize,
        operation: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let short_reads_drain = self.reactor.short_reads_drain;
        self.poll_io_until_empty(cx, Interest::READABLE, operation, |&read| {
            short_reads_drain && read > 0 && read < capacity
        })
    }

    /// [`poll_io`](Self::poll_io), also forgetting the readiness (but not the end-of-stream
    /// and error flags) when `emptied` says a result left the socket empty.
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
                        self.clear_readiness(seen.without_closed());
                    }
                    return Poll::Ready(Ok(value));
                }
                Err(error) => return Poll::Ready(Err(error)),
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
        self.reactor.release(&self.state);
        let source = self.source.take().expect("a live Registration holds its source");
        source.into_inner()
    }
}

impl<S: AsSource> Drop for Registration<S> {
    fn drop(&mut self) {
        if let Some(source) = self.source.take() {
            self.reactor.release(&self.state);
            // Deregisters from the backend, then closes the socket.
            drop(source);
        }
        // The runtime's count of open sockets: this one is closed now, or was handed back.
        self.reactor.counters.socket_closed();
    }
}
