//! Which runtime is running on this thread.
//!
//! Entering a runtime also makes its reactor the current one of the driver layer
//! (`driver::current`), which the sockets read; this module keeps what only the layers
//! above the drivers ask for: the runtime's shared part and its backend's name.

use std::cell::RefCell;
use std::sync::Arc;

use super::shared::Shared;
use crate::driver::current::{self, ReactorGuard};

thread_local! {
    static CURRENT: RefCell<Option<(Arc<Shared>, &'static str)>> = const { RefCell::new(None) };
}

/// The shared part of the runtime running on this thread.
pub(crate) fn shared() -> Option<Arc<Shared>> {
    CURRENT.with(|current| current.borrow().as_ref().map(|(shared, _)| shared.clone()))
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
        let reactor = current::enter(shared.reactor.clone());
        *current = Some((shared, backend));
        EnterGuard { _reactor: reactor }
    })
}

/// Makes a runtime current on this thread while it is being dropped, so that the
/// destructors of its tasks find it. Whatever was current (a runtime may be dropped inside
/// another one's task) comes back when the guard drops.
pub(crate) fn enter_for_drop(shared: Arc<Shared>, backend: &'static str) -> DropGuard {
    let reactor = current::enter(shared.reactor.clone());
    let previous = CURRENT.with(|current| current.borrow_mut().replace((shared, backend)));
    DropGuard { previous, _reactor: reactor }
}

/// Puts back the runtime that was current before `enter_for_drop`.
#[derive(Debug)]
pub(crate) struct DropGuard {
    previous: Option<(Arc<Shared>, &'static str)>,
    /// Dropped after `drop` ran: puts back the reactor that was current.
    _reactor: ReactorGuard,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
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
        CURRENT.with(|current| current.borrow_mut().take());
    }
}
