//! Which runtime is running on this thread.
//!
//! Entering a runtime also makes a reactor the current one of the driver layer
//! (`driver::current`), which the sockets read; this module keeps what only the layers
//! above the drivers ask for: the executor of this thread, its backend's name, and on a
//! multi-worker runtime the pool of workers (where `spawn` sends `Send` tasks) and this
//! thread's place in it.

use std::cell::RefCell;
use std::sync::Arc;

use super::shared::Shared;
use super::workers::Pool;
use crate::driver::current::{self, ReactorGuard};

/// What is current on a thread that runs a runtime.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    /// The executor of this thread: where `spawn_local` puts a task.
    pub(crate) shared: Arc<Shared>,
    pub(crate) backend: &'static str,
    /// The workers of a multi-worker runtime; `None` on a runtime of one thread.
    pub(crate) pool: Option<Arc<Pool>>,
    /// This thread's index among the workers; `None` on the thread of `block_on`.
    pub(crate) worker: Option<usize>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// What is current on this thread, if a runtime runs here.
pub(crate) fn current() -> Option<Current> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The executor of the runtime running on this thread.
pub(crate) fn shared() -> Option<Arc<Shared>> {
    CURRENT.with(|current| current.borrow().as_ref().map(|current| current.shared.clone()))
}

/// The backend name of the runtime running on this thread.
pub(crate) fn backend_name() -> Option<&'static str> {
    CURRENT.with(|current| current.borrow().as_ref().map(|current| current.backend))
}

/// The index of the worker running on this thread, on a multi-worker runtime.
pub(crate) fn worker() -> Option<usize> {
    CURRENT.with(|current| current.borrow().as_ref().and_then(|current| current.worker))
}

/// The reactor new sockets of this thread register with: this thread's own, except on the
/// thread of `block_on` of a multi-worker runtime, whose driver is polled only inside
/// `block_on`; there a worker's, which is polled for as long as the runtime lives.
fn reactor_guard(current: &Current) -> ReactorGuard {
    let polled = &current.shared.reactor;
    let register_with = match (&current.pool, current.worker) {
        (Some(pool), None) => pool.reactor_for_registration(),
        _ => polled.clone(),
    };
    let group = current.pool.as_ref().map(|pool| pool.reactors());
    current::enter(register_with, polled, group)
}

/// Makes a runtime current on this thread until the guard drops.
pub(crate) fn enter(entered: Current) -> EnterGuard {
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        assert!(
            current.is_none(),
            "cannot start a plexio runtime from within a runtime: block_on was called inside \
             block_on or inside a task; use .await or plexio::spawn instead"
        );
        let reactor = reactor_guard(&entered);
        *current = Some(entered);
        EnterGuard { _reactor: reactor }
    })
}

/// Makes a runtime current on this thread while it is being dropped, so that the
/// destructors of its tasks find it. Whatever was current (a runtime may be dropped inside
/// another one's task) comes back when the guard drops.
pub(crate) fn enter_for_drop(entered: Current) -> DropGuard {
    let reactor = reactor_guard(&entered);
    let previous = CURRENT.with(|current| current.borrow_mut().replace(entered));
    DropGuard { previous, _reactor: reactor }
}

/// Puts back the runtime that was current before `enter_for_drop`.
#[derive(Debug)]
pub(crate) struct DropGuard {
    previous: Option<Current>,
    /// Dropped after `drop` ran: puts back the reactor that was current.
    _reactor: ReactorGuard,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _left = CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), previous));
    }
}

/// Clears the current runtime when dropped (also when `block_on` unwinds).
#[derive(Debug)]
pub(crate) struct EnterGuard {
    /// Dropped after `drop` ran: clears the current reactor.
    _reactor: ReactorGuard,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _left = CURRENT.with(|current| current.borrow_mut().take());
    }
}
