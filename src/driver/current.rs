//! Which reactor is current on this thread: the one whose runtime runs here.
//!
//! The runtime makes its reactor current while it runs (see `runtime::context`, which
//! keeps the rest of what is current); sockets read it here, below the runtime, to
//! register with it and to check that they are polled on its thread.

use std::cell::{Cell, RefCell};
use std::io;
use std::sync::Arc;

use super::reactor::Reactor;

thread_local! {
    /// The current reactor, `None` while no runtime runs on this thread.
    static CURRENT: RefCell<Option<Arc<Reactor>>> = const { RefCell::new(None) };
    /// The address of the current reactor, 0 while none runs: what every I/O operation
    /// compares its socket's reactor with, as one load rather than a borrow of `CURRENT`.
    /// Addresses stay unique for as long as a socket can ask, since every registration
    /// keeps its reactor alive.
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

/// The reactor of the runtime running on this thread, or the `NoRuntime` error.
pub(crate) fn reactor() -> io::Result<Arc<Reactor>> {
    CURRENT
        .with(|current| current.borrow().clone())
        .ok_or_else(|| plexio_backends::Error::NoRuntime.into())
}

/// Makes `reactor` current on this thread until the guard drops, which puts back whatever
/// was current before (nothing, unless a runtime is dropped inside another one's task).
pub(crate) fn enter(reactor: Arc<Reactor>) -> ReactorGuard {
    CURRENT_REACTOR.with(|current| current.set(address(&reactor)));
    let previous = CURRENT.with(|current| current.replace(Some(reactor)));
    ReactorGuard { previous }
}

/// Puts back the reactor that was current before [`enter`].
#[derive(Debug)]
pub(crate) struct ReactorGuard {
    previous: Option<Arc<Reactor>>,
}

impl Drop for ReactorGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT_REACTOR.with(|current| current.set(previous.as_deref().map_or(0, address)));
        // Dropped outside the borrow.
        let _left = CURRENT.with(|current| current.replace(previous));
    }
}
