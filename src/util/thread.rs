//! The calling thread's id, cached.
//!
//! `std::thread::current()` clones the thread's handle (an atomic increment and decrement)
//! on every call; the proactor asks which thread it is on each time it is unlocked, so the
//! id is read once per thread and kept in a thread-local.

use std::thread::ThreadId;

thread_local! {
    static ID: ThreadId = std::thread::current().id();
}

/// The id of the calling thread.
#[inline]
pub(crate) fn id() -> ThreadId {
    // During a thread-local's destruction the cache may be gone: ask the slow way then.
    ID.try_with(|id| *id).unwrap_or_else(|_| std::thread::current().id())
}
