//! `Registered`: a socket owned together with its registration, so that it is always
//! deregistered before it closes.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::{AsSource, Backend, Interest, RawSource, Token};

/// A socket registered with a backend for as long as this value lives.
///
/// It is the one safe way to call [`Backend::register`]: it owns the socket, so the socket
/// cannot close while registered, and its `Drop` (or [`into_inner`](Registered::into_inner))
/// deregisters the socket before the socket is closed or handed back.
pub struct Registered<S: AsSource> {
    /// # Invariant
    ///
    /// `Some` from `new` until `into_inner` or `Drop`, and registered with `backend` all that
    /// time. It is taken out only after `backend.deregister` has been called.
    source: Option<S>,
    backend: Arc<dyn Backend>,
}

impl<S: AsSource> Registered<S> {
    /// Registers `source` with `backend` for `interest`, reported with `token`.
    pub fn new(
        source: S,
        backend: Arc<dyn Backend>,
        token: Token,
        interest: Interest,
    ) -> io::Result<Registered<S>> {
        let raw = source.as_raw_source();
        // SAFETY: `source` is an open socket (`AsSource` is implemented for I/O-safe handle
        // owners), and it moves into `self`, whose `Drop`/`into_inner` deregister it before
        // it is closed or handed back (the invariant on `source`).
        unsafe { backend.register(raw, token, interest)? };
        Ok(Registered { source: Some(source), backend })
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        self.source.as_ref().expect("Registered holds its source until dropped")
    }

    /// The raw handle of the socket.
    pub fn raw_source(&self) -> RawSource {
        self.get_ref().as_raw_source()
    }

    /// The backend the socket is registered with.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Changes the token and interest (re-arming a oneshot backend).
    pub fn reregister(&self, token: Token, interest: Interest) -> io::Result<()> {
        self.backend.reregister(self.raw_source(), token, interest)
    }

    /// Deregisters the socket and hands it back, still open.
    pub fn into_inner(mut self) -> io::Result<S> {
        let raw = self.raw_source();
        let result = self.backend.deregister(raw);
        let source = self.source.take().expect("Registered holds its source until dropped");
        result.map(|()| source)
    }
}

impl<S: AsSource> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(source) = &self.source {
            // Nothing to do with a failure here: the socket closes right after, and the
            // backend contract keeps a forgotten registration memory-safe.
            let _ = self.backend.deregister(source.as_raw_source());
        }
    }
}

impl<S: AsSource + fmt::Debug> fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered")
            .field("source", &self.source)
            .field("backend", &self.backend.name())
            .finish()
    }
}
