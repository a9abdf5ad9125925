//! `Registered`: a socket owned together with its registration, so that it is always
//! deregistered before it closes.

use std::fmt;
use std::io;
use std::rc::Rc;
use std::sync::Arc;

use crate::{AsSource, Backend, Interest, RawSource, Token};

/// A value through which a backend is reached: what a [`Registered`] holds to deregister
/// its socket.
///
/// Implemented for `dyn Backend` and for `Arc`, `Rc`, `Box` and references to anything
/// that implements it. A runtime implements it for its own reactor, so that each of its
/// registrations holds one pointer to the reactor rather than a second one to the backend.
pub trait AsBackend {
    /// The backend.
    fn as_backend(&self) -> &dyn Backend;
}

impl AsBackend for dyn Backend {
    fn as_backend(&self) -> &dyn Backend {
        self
    }
}

macro_rules! forward_as_backend {
    ($($pointer:ident),*) => {$(
        impl<B: AsBackend + ?Sized> AsBackend for $pointer<B> {
            fn as_backend(&self) -> &dyn Backend {
                (**self).as_backend()
            }
        }
    )*};
}

forward_as_backend!(Arc, Rc, Box);

impl<B: AsBackend + ?Sized> AsBackend for &B {
    fn as_backend(&self) -> &dyn Backend {
        (**self).as_backend()
    }
}

/// A socket registered with a backend for as long as this value lives.
///
/// It is the one safe way to call [`Backend::register`]: it owns the socket, so the socket
/// cannot close while registered, and its `Drop` (or [`into_inner`](Registered::into_inner))
/// deregisters the socket before the socket is closed or handed back. `B` is how it reaches
/// the backend: an `Arc<dyn Backend>` unless said otherwise (see [`AsBackend`]).
pub struct Registered<S: AsSource, B: AsBackend = Arc<dyn Backend>> {
    /// # Invariant
    ///
    /// `Some` from `new` until `into_inner` or `Drop`, and registered with `backend` all that
    /// time. It is taken out only after `backend.deregister` has been called.
    source: Option<S>,
    backend: B,
}

impl<S: AsSource, B: AsBackend> Registered<S, B> {
    /// Registers `source` with `backend` for `interest`, reported with `token`.
    pub fn new(source: S, backend: B, token: Token, interest: Interest) -> io::Result<Self> {
        let raw = source.as_raw_source();
        // SAFETY: `source` is an open socket (`AsSource` is implemented for I/O-safe handle
        // owners), and it moves into `self`, whose `Drop`/`into_inner` deregister it before
        // it is closed or handed back (the invariant on `source`).
        unsafe { backend.as_backend().register(raw, token, interest)? };
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

    /// What the socket reaches its backend through.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Changes the token and interest (re-arming a oneshot backend).
    pub fn reregister(&self, token: Token, interest: Interest) -> io::Result<()> {
        self.backend.as_backend().reregister(self.raw_source(), token, interest)
    }

    /// Deregisters the socket and hands it back, still open.
    pub fn into_inner(mut self) -> io::Result<S> {
        let raw = self.raw_source();
        let result = self.backend.as_backend().deregister(raw);
        let source = self.source.take().expect("Registered holds its source until dropped");
        result.map(|()| source)
    }
}

impl<S: AsSource, B: AsBackend> Drop for Registered<S, B> {
    fn drop(&mut self) {
        if let Some(source) = &self.source {
            // Nothing to do with a failure here: the socket closes right after, and the
            // backend contract keeps a forgotten registration memory-safe.
            let _ = self.backend.as_backend().deregister(source.as_raw_source());
        }
    }
}

impl<S: AsSource + fmt::Debug, B: AsBackend> fmt::Debug for Registered<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered")
            .field("source", &self.source)
            .field("backend", &self.backend.as_backend().name())
            .finish()
    }
}
