//! The sources a backend holds, recorded by the backends whose mechanism cannot be asked
//! (mio on Unix, polling): `reregister` and `deregister` look a source up here before it
//! reaches the mechanism, so that any value a safe method receives has the one answer the
//! `Backend` contract gives it, and a borrowed handle is only ever made for a socket that is
//! known to be open.
//!
//! The mechanisms' own answers are no contract: epoll says `EBADF` for a number that is not
//! open, a `BorrowedFd` of -1 panics, kqueue's `EV_ADD` registers an unknown source when
//! asked to modify it, and mio's kqueue selector and polling's IOCP poller take deleting an
//! unknown source as done.
//!
//! The lookup is one hash probe under a read lock, which matters where re-arming is the hot
//! path (mio and polling are oneshot on Windows): re-arms on many threads do not wait for
//! each other, only for a `register` or `deregister`.

use std::collections::HashSet;
use std::io;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::sys::{BorrowedSource, lend};
use crate::{Error, RawSource};

/// The registered sources of one backend. See the [module documentation](self).
pub(crate) struct SourceSet {
    backend: &'static str,
    /// # Invariant
    ///
    /// A source is in the set only from a successful [`SourceSet::register`], whose caller
    /// keeps it open until a [`SourceSet::deregister`] for it has returned, and only
    /// `deregister` takes it out, under the write lock. So while a lock on the set is held, a
    /// source in it is open, and stays open until that lock is released.
    sources: RwLock<HashSet<RawSource>>,
}

impl SourceSet {
    /// An empty set for the backend named `backend` (named in its errors).
    pub(crate) fn new(backend: &'static str) -> SourceSet {
        SourceSet { backend, sources: RwLock::default() }
    }

    fn read(&self) -> RwLockReadGuard<'_, HashSet<RawSource>> {
        // The set is changed only after the mechanism has succeeded, so a panic elsewhere
        // cannot leave it out of step.
        self.sources.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashSet<RawSource>> {
        self.sources.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn not_registered(&self, source: RawSource) -> io::Error {
        Error::NotRegistered { descriptor: source, backend: self.backend }.into()
    }

    /// Records `source` once `add` has registered it with the mechanism. A source recorded
    /// already is refused with [`Error::AlreadyRegistered`] and `add` is not called, so that
    /// the first registration stands whatever the mechanism would make of a second one.
    ///
    /// # Safety
    ///
    /// `source` must be an open socket, and stay open until a [`SourceSet::deregister`] for
    /// it has returned (the contract of `Backend::register`).
    pub(crate) unsafe fn register(
        &self,
        source: RawSource,
        add: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<()> {
        // Held across `add`: a `deregister` of the same number must not slip in between the
        // check and the record.
        let mut sources = self.write();
        if sources.contains(&source) {
            return Err(
                Error::AlreadyRegistered { descriptor: source, backend: self.backend }.into()
            );
        }
        add()?;
        sources.insert(source);
        Ok(())
    }

    /// Lends `source` to `modify` if it is registered; fails with [`Error::NotRegistered`],
    /// without calling `modify`, for any other value.
    pub(crate) fn reregister(
        &self,
        source: RawSource,
        modify: impl FnOnce(BorrowedSource<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        let sources = self.read();
        if !sources.contains(&source) {
            return Err(self.not_registered(source));
        }
        // SAFETY: `source` is in the set and the read lock is held until `modify` returns,
        // so it stays open all that time (the invariant on `sources`); the borrow cannot
        // outlive `modify`, which takes it for any lifetime.
        modify(unsafe { lend(source) })
    }

    /// Takes `source` out of the set and lends it to `delete`, which removes it from the
    /// mechanism; fails with [`Error::NotRegistered`], without calling `delete`, for any
    /// source that is not in the set. A source is forgotten even if `delete` fails: its
    /// owner takes it as gone and may close it.
    pub(crate) fn deregister(
        &self,
        source: RawSource,
        delete: impl FnOnce(BorrowedSource<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut sources = self.write();
        if !sources.remove(&source) {
            return Err(self.not_registered(source));
        }
        // SAFETY: `source` was in the set until this call took it out, and this call has not
        // returned, so its owner keeps it open (the invariant on `sources`); the borrow
        // cannot outlive `delete`.
        delete(unsafe { lend(source) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recorded_source_reaches_the_mechanism() {
        let set = SourceSet::new("test");
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let source = crate::AsSource::as_raw_source(&socket);
        let reached = std::cell::Cell::new(0);
        let count = |_: BorrowedSource<'_>| {
            reached.set(reached.get() + 1);
            Ok(())
        };
        let missing = set.reregister(source, count).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(matches!(Error::from_io(&missing), Some(Error::NotRegistered { .. })));
        assert_eq!(set.deregister(source, count).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(reached.get(), 0);

        // SAFETY: `socket` lives past the deregistration below.
        let refused = unsafe { set.register(source, || Err(io::ErrorKind::OutOfMemory.into())) };
        assert_eq!(refused.unwrap_err().kind(), io::ErrorKind::OutOfMemory);
        assert_eq!(set.deregister(source, count).unwrap_err().kind(), io::ErrorKind::NotFound);
        // SAFETY: as above.
        unsafe { set.register(source, || Ok(())).unwrap() };
        // SAFETY: as above.
        let twice =
            unsafe { set.register(source, || unreachable!("refused before the mechanism")) };
        assert_eq!(twice.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        set.reregister(source, count).unwrap();
        set.deregister(source, count).unwrap();
        assert_eq!(reached.get(), 2);
        assert_eq!(set.deregister(source, count).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
