//! Which runtime is running on this thread.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use super::shared::Shared;
use crate::reactor::Reactor;

thread_local! {
    static CURRENT: RefCell<Option<(Arc<Shared>, &'static str)>> = const { RefCell::new(None) };
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
        *current = Some((shared, backend));
    });
    EnterGuard(())
}

/// Makes a runtime current on this thread while it is being dropped, so that the
/// destructors of its tasks find it. Whatever was current (a runtime may be dropped inside
/// another one's task) comes back when the guard drops.
pub(crate) fn enter_for_drop(shared: Arc<Shared>, backend: &'static str) -> DropGuard {
    let previous = CURRENT.with(|current| current.borrow_mut().replace((shared, backend)));
    DropGuard { previous }
}

/// Puts back the runtime that was current before `enter_for_drop`.
#[derive(Debug)]
pub(crate) struct DropGuard {
    previous: Option<(Arc<Shared>, &'static str)>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

/// Clears the current runtime when dropped (also when `block_on` unwinds).
#[derive(Debug)]
pub(crate) struct EnterGuard(());

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}
