//! Which runtime is running on this thread.

use std::cell::{Cell, RefCell};
use std::io;
use std::sync::Arc;

use super::shared::Shared;
use crate::reactor::Reactor;

thread_local! {
    static CURRENT: RefCell<Option<(Arc<Shared>, &'static str)>> = const { RefCell::new(None) };
    /// The address of the current runtime's reactor, 0 while none runs: what every I/O
    /// operation compares its socket's reactor with, as one load rather than a borrow of
    /// `CURRENT`. Addresses stay unique for as long as a socket can ask, since every
    /// registration keeps its reactor alive.
    static CURRENT_REACTOR: Cell<usize> = const { Cell::new(0) };
}

#[inline]
fn address(reactor: &Reactor) -> usize {
    std::ptr::from_ref(reactor) as usize
}

/// Whether `reactor` belongs to the runtime running on this thread; if not, the error that
/// says why an operation of one of its sockets cannot wait here: no runtime runs on this
/// thread, or another one does.
///
/// Every readiness wait asks, so the answer is one thread-local load and a comparison,
/// inlined; the error is built out of line.
#[inline]
pub(crate) fn check_current(reactor: &Reactor) -> io::Result<()> {
    let current = CURRENT_REACTOR.with(Cell::get);
    if current == address(reactor) { Ok(()) } else { Err(not_current(current)) }
}

#[cold]
#[inline(never)]
fn not_current(current: usize) -> io::Error {
    if current == 0 {
        plexio_backends::Error::NoRuntime.into()
    } else {
        plexio_backends::Error::OtherRuntime.into()
    }
}

/// The shared part of the runtime running on this thread.
pub(crate) fn shared() -> Option<Arc<Shared>> {
    CURRENT.with(|current| current.borrow().as_ref().map(|(shared, _)| shared.clone()))
}

/// The reactor of the runtime running on this thread, or the `NoRuntime` error.
pub(crate) fn reactor() -> io::Result<Arc<Reactor>> {
    CURRENT
        .with(|current| current.borrow().as_ref().map(|(shared, _)| shared.reactor.clone()))
        .ok_or_else(|| plexio_backends::Error::NoRuntime.into())
}

/// The backend name of the runtime running on this thread.
pub(crate) fn backend_name() -> Option<&'static str> {
    CURRENT.with(|current| current.borrow().as_ref().map(|(_, name)| *name))
}

/// Makes a runtime current on this thread until the guard drops.
pub(crate) fn enter(shared: Arc<Shared>, backend: &'static str) -> EnterGuard {
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        assert!(
            current.is_none(),
            "cannot start a plexio runtime from within a runtime: block_on was called inside \
             block_on or inside a task; use .await or plexio::spawn instead"
        );
        CURRENT_REACTOR.with(|reactor| reactor.set(address(&shared.reactor)));
        *current = Some((shared, backend));
    });
    EnterGuard(())
}

/// Makes a runtime current on this thread while it is being dropped, so that the
/// destructors of its tasks find it. Whatever was current (a runtime may be dropped inside
/// another one's task) comes back when the guard drops.
pub(crate) fn enter_for_drop(shared: Arc<Shared>, backend: &'static str) -> DropGuard {
    let previous_reactor =
        CURRENT_REACTOR.with(|reactor| reactor.replace(address(&shared.reactor)));
    let previous = CURRENT.with(|current| current.borrow_mut().replace((shared, backend)));
    DropGuard { previous, previous_reactor }
}

/// Puts back the runtime that was current before `enter_for_drop`.
#[derive(Debug)]
pub(crate) struct DropGuard {
    previous: Option<(Arc<Shared>, &'static str)>,
    previous_reactor: usize,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT_REACTOR.with(|reactor| reactor.set(self.previous_reactor));
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

/// Clears the current runtime when dropped (also when `block_on` unwinds).
#[derive(Debug)]
pub(crate) struct EnterGuard(());

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT_REACTOR.with(|reactor| reactor.set(0));
        CURRENT.with(|current| current.borrow_mut().take());
    }
}
