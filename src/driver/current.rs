//! Which reactor is current on this thread: the one whose runtime runs here.
//!
//! The runtime makes its reactor current while it runs (see `runtime::context`, which
//! keeps the rest of what is current); sockets read it here, below the runtime, to
//! register with it and to check that they are polled on its thread.
//!
//! On a multi-worker runtime every worker has its own reactor, and all of them carry the
//! runtime's *group* number (`Reactor::group`). A socket registered with one worker's
//! reactor may be waited on from any thread of the same runtime: every worker polls its
//! reactor for as long as the runtime lives, and the backend contract lets another thread
//! register, re-arm and deregister while the owner waits. So the check below accepts a
//! reactor of the current group, and refuses one of another runtime (`OtherRuntime`).
//! An owned stream polled on a worker whose reactor is not its own may then move its
//! registration here ([`worker_reactor_to_move_to`]; see `registration::moving` for when
//! it does not); until it does, it is woken across threads.

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
    /// The group of the runtime running on this thread; 0 for none, or for a runtime of
    /// one thread (whose reactors are never shared by another thread).
    static CURRENT_GROUP: Cell<usize> = const { Cell::new(0) };
    /// The workers' reactors of the multi-worker runtime running on this thread, among which
    /// accepted connections are spread; `None` on a runtime of one thread.
    static GROUP_REACTORS: RefCell<Option<Arc<[Arc<Reactor>]>>> = const { RefCell::new(None) };
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
    if current == address(reactor) { Ok(()) } else { same_group_or_error(reactor, current) }
}

/// Whether this thread polls `reactor`: the same single load and comparison as
/// [`check_current`], for the owner of a socket to ask before it considers moving it.
#[inline]
pub(crate) fn polled_here(reactor: &Reactor) -> bool {
    CURRENT_REACTOR.with(Cell::get) == address(reactor)
}

/// The reactor that a socket registered with `reactor` may move to: that of the worker
/// running on this thread, when it is another worker of the same multi-worker runtime.
/// `None` on a runtime of one thread, on another runtime's thread, and on the thread of
/// `block_on` (whose own driver is polled only inside `block_on`, so that the sockets made
/// there register with a worker's; moving there would gain nothing).
#[cold]
pub(crate) fn worker_reactor_to_move_to(reactor: &Reactor) -> Option<Arc<Reactor>> {
    let group = reactor.group();
    if group == 0 || CURRENT_GROUP.with(Cell::get) != group {
        return None;
    }
    let polled = CURRENT_REACTOR.with(Cell::get);
    CURRENT.with(|current| {
        let current = current.borrow();
        let here = current.as_ref()?;
        // On a worker the reactor it polls is the one its sockets register with.
        (address(here) == polled && polled != address(reactor)).then(|| here.clone())
    })
}

#[cold]
#[inline(never)]
fn same_group_or_error(reactor: &Reactor, current: usize) -> io::Result<()> {
    let group = reactor.group();
    if group != 0 && CURRENT_GROUP.with(Cell::get) == group {
        return Ok(());
    }
    Err(not_current(current))
}

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
///
/// `polled` is the reactor this thread polls; new sockets register with `reactor`. They
/// differ on the thread that calls `block_on` on a multi-worker runtime: it polls a driver
/// of its own, only while inside `block_on`, so its sockets register with a worker's reactor,
/// which is polled for as long as the runtime lives.
///
/// `group` lists the workers' reactors of a multi-worker runtime (see [`least_loaded`]).
pub(crate) fn enter(
    reactor: Arc<Reactor>,
    polled: &Reactor,
    group: Option<Arc<[Arc<Reactor>]>>,
) -> ReactorGuard {
    let previous_polled = CURRENT_REACTOR.with(|current| current.replace(address(polled)));
    let previous_group = CURRENT_GROUP.with(|current| current.replace(reactor.group()));
    let previous_reactors = GROUP_REACTORS.with(|current| current.replace(group));
    let previous = CURRENT.with(|current| current.replace(Some(reactor)));
    ReactorGuard { previous, previous_polled, previous_group, previous_reactors }
}

/// The reactor of the worker that has the fewest sockets registered, on a multi-worker
/// runtime: where an accept loop that hands connections off by live load registers the
/// next one, so that the connections it takes are spread over the workers' drivers. `None`
/// on a runtime of one thread.
pub(crate) fn least_loaded() -> Option<Arc<Reactor>> {
    GROUP_REACTORS.with(|group| {
        let group = group.borrow();
        group.as_ref()?.iter().min_by_key(|reactor| reactor.registrations()).cloned()
    })
}

/// Runs `register`, which registers a new socket, with `reactor` as the current one: how a
/// socket is placed on a chosen worker's driver (an accepted connection, one listening
/// socket of a group).
pub(crate) fn register_with<R>(reactor: Arc<Reactor>, register: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|current| current.replace(Some(reactor)));
    // Put back also if `register` unwinds.
    struct Restore(Option<Arc<Reactor>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let chosen = CURRENT.with(|current| current.replace(self.0.take()));
            drop(chosen);
        }
    }
    let _restore = Restore(previous);
    register()
}

/// Puts back the reactor that was current before [`enter`].
#[derive(Debug)]
pub(crate) struct ReactorGuard {
    previous: Option<Arc<Reactor>>,
    previous_polled: usize,
    previous_group: usize,
    previous_reactors: Option<Arc<[Arc<Reactor>]>>,
}

impl Drop for ReactorGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT_REACTOR.with(|current| current.set(self.previous_polled));
        CURRENT_GROUP.with(|current| current.set(self.previous_group));
        let reactors = self.previous_reactors.take();
        let _left_reactors = GROUP_REACTORS.with(|current| current.replace(reactors));
        // Dropped outside the borrow.
        let _left = CURRENT.with(|current| current.replace(previous));
    }
}
