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

/// Clears the current runtime when dropped (also when `block_on` unwinds).
#[derive(Debug)]
pub(crate) struct EnterGuard(());

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}
