//! `Async<T>`: any I/O object with a descriptor or socket, driven by the runtime's reactor.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use plexio_backends::{AsSource, Interest};

use crate::driver::reactor::{ReadyEvent, Registration};

/// An I/O object of your own, registered with the current runtime's backend.
///
/// `T` must own (or borrow for its whole life) an open socket, or on Unix a descriptor that
/// the backend can watch (`epoll` and `kqueue` take pipes, terminals and character devices;
/// `select` and `poll` take any descriptor; Windows backends take sockets only), and it
/// must be in non-blocking mode: an operation that would block must fail with
/// [`WouldBlock`](io::ErrorKind::WouldBlock) rather than wait. `Async` does not switch it,
/// since only the type knows how.
///
/// The object is deregistered, then dropped (closing it), when the `Async` is dropped;
/// [`into_inner`](Async::into_inner) deregisters it and hands it back open. As with
/// plexio's own sockets, its operations work only on the runtime it was registered with.
///
/// ```
/// use plexio::io::Async;
///
/// plexio::block_on(async {
///     // A UDP socket made with socket2, as one would to set options plexio does not offer.
///     let make = || -> std::io::Result<socket2::Socket> {
///         let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
///         socket.set_nonblocking(true)?;
///         socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into())?;
///         Ok(socket)
///     };
///     let (a, b) = (Async::new(make()?)?, Async::new(make()?)?);
///     let to = b.get_ref().local_addr()?;
///     a.write_with(|socket| socket.send_to(b"raw", &to)).await?;
///     let mut buffer = [0; 8];
///     let n = b.read_with(|socket| std::io::Read::read(&mut &*socket, &mut buffer)).await?;
///     assert_eq!(&buffer[..n], b"raw");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Async<T: AsSource> {
    io: Registration<T>,
}

impl<T: AsSource> Async<T> {
    /// Registers `io` with the runtime running on this thread, for both directions.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the backend refuses the object (a descriptor it
    /// cannot watch, or past its limits).
    pub fn new(io: T) -> io::Result<Async<T>> {
        Ok(Async { io: Registration::new(io, Interest::BOTH)? })
    }

    /// The object.
    pub fn get_ref(&self) -> &T {
        self.io.get_ref()
    }

    /// Deregisters the object and hands it back, open and still non-blocking.
    pub fn into_inner(self) -> io::Result<T> {
        self.io.into_inner()
    }

    /// Runs `operation` once the object is readable, again each time it fails with
    /// `WouldBlock` (after waiting for the next readiness), and gives its first other
    /// result.
    ///
    /// Cancel-safe as far as `operation` is: a dropped future runs no operation after the
    /// last one that returned, and every operation it ran returned `WouldBlock`.
    pub async fn read_with<R>(&self, operation: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io.io(Interest::READABLE, operation).await
    }

    /// [`read_with`](Self::read_with) for writing: runs `operation` once the object is
    /// writable, until it stops saying `WouldBlock`.
    pub async fn write_with<R>(&self, operation: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io.io(Interest::WRITABLE, operation).await
    }

    /// The poll form of [`read_with`](Self::read_with), for implementing traits such as
    /// `AsyncRead` on your own type.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        operation: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.io.poll_io(cx, Interest::READABLE, operation)
    }

    /// The poll form of [`write_with`](Self::write_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        operation: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.io.poll_io(cx, Interest::WRITABLE, operation)
    }

    /// Waits until the reactor believes the object readable, and gives a guard through
    /// which to act on it. Readiness persists until an operation finds it false: run the
    /// operation with [`ReadyGuard::try_io`] (or call [`ReadyGuard::clear_ready`] after a
    /// `WouldBlock`), or the next `readable` resolves at once again.
    pub async fn readable(&self) -> io::Result<ReadyGuard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// [`readable`](Self::readable) for writing.
    pub async fn writable(&self) -> io::Result<ReadyGuard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    async fn ready(&self, direction: Interest) -> io::Result<ReadyGuard<'_, T>> {
        let seen = poll_fn(|cx| self.io.poll_ready(cx, direction)).await?;
        Ok(ReadyGuard { io: &self.io, seen })
    }
}

impl<T: AsSource + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Async").field(self.get_ref()).finish()
    }
}

/// A readiness [`Async::readable`] or [`Async::writable`] saw, to act on once.
pub struct ReadyGuard<'a, T: AsSource> {
    io: &'a Registration<T>,
    seen: ReadyEvent,
}

impl<T: AsSource> ReadyGuard<'_, T> {
    /// The object.
    pub fn get_ref(&self) -> &T {
        self.io.get_ref()
    }

    /// Runs `operation`; if it fails with `WouldBlock`, forgets the readiness (unless a
    /// newer event came meanwhile) and gives `Err(guard)` back, spent, so that the caller
    /// waits for the next readiness. Any other result is `Ok`.
    pub fn try_io<R>(
        self,
        operation: impl FnOnce(&T) -> io::Result<R>,
    ) -> Result<io::Result<R>, WouldBlock> {
        match operation(self.io.get_ref()) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(WouldBlock(()))
            }
            result => Ok(result),
        }
    }

    /// Forgets the readiness this guard saw, unless a newer event came meanwhile: call it
    /// when an operation found the object not ready after all.
    pub fn clear_ready(self) {
        self.io.clear_readiness(self.seen);
    }
}

impl<T: AsSource> fmt::Debug for ReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyGuard").field("ready", &self.seen.ready).finish()
    }
}

/// What [`ReadyGuard::try_io`] gives when the operation would block: the readiness was
/// forgotten; wait for the next one.
#[derive(Debug)]
pub struct WouldBlock(());
