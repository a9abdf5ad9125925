//! Bringing your own I/O objects: [`Async`] makes any socket (or, on Unix, any descriptor
//! the backend can watch) usable on a plexio runtime, whatever the backend.
//!
//! plexio wraps TCP, UDP and Unix domain sockets itself. For anything else (a raw or
//! netlink socket, a socket with options plexio does not expose, a serial port or pipe on
//! Unix), put the object in an [`Async`]: it registers with the current runtime's backend,
//! and its `read_with`/`write_with` run your non-blocking operation each time the reactor
//! reports the direction ready, until it stops saying `WouldBlock`.

mod async_source;

pub use async_source::{Async, ReadyGuard, WouldBlock};
