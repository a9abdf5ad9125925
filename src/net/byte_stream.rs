//! The operations that every byte-stream socket (TCP, and Unix stream sockets on Unix)
//! shares, written once: reads whose short results the reactor may take as draining,
//! vectored reads and writes within the system's limits, shutting the write side down, and
//! a reset remembered for the reads that come after it.

use std::io::{self, IoSlice, IoSliceMut, Read};
use std::net::Shutdown;
use std::task::{Context, Poll, ready};

use plexio_backends::completion::SocketSource;
use plexio_backends::{AsSource, Interest, MAX_IO_SLICES, SEND_FLAGS};
use socket2::SockRef;

use crate::driver::reactor::{Registration, Shared};

pub(crate) mod owned;

/// The operations of a stream shared by reference (see [`forward_async_io`]).
pub(crate) mod shared {
    pub(crate) use super::{poll_read, poll_read_vectored, poll_write, poll_write_vectored};
}

#[cfg(not(any(unix, windows)))]
compile_error!("plexio runs on Unix and Windows");

/// The most one write call hands to the kernel. It keeps every call far from the limits
/// that break large writes: a `writev` whose total exceeds 2^31 bytes fails on macOS, and
/// Windows `WSABUF` lengths are 32-bit. A larger write is a short write, as the
/// `AsyncWrite` contract allows.
const MAX_WRITE: usize = 1 << 30;

/// The system's own handle trait: `AsFd` on Unix, `AsSocket` on Windows.
#[cfg(unix)]
pub(crate) use std::os::fd::AsFd as SystemSocket;
#[cfg(windows)]
pub(crate) use std::os::windows::io::AsSocket as SystemSocket;

/// A connected byte-stream socket of the standard library.
pub(crate) trait StreamSocket: SocketSource + SystemSocket + 'static {
    /// The socket, for the calls std does not offer (`send` with flags).
    fn socket(&self) -> SockRef<'_>;

    /// Reads into `buffer`.
    fn read_into(&self, buffer: &mut [u8]) -> io::Result<usize>;

    /// Reads into `buffers`, at most [`MAX_IO_SLICES`] of them.
    fn read_into_vectored(&self, buffers: &mut [IoSliceMut<'_>]) -> io::Result<usize>;

    /// Shuts down one or both directions.
    fn shut_down(&self, how: Shutdown) -> io::Result<()>;
}

/// Implements [`StreamSocket`] for a std stream type that has `Read for &Self` and
/// `shutdown`.
macro_rules! stream_socket {
    ($type:ty) => {
        impl StreamSocket for $type {
            fn socket(&self) -> SockRef<'_> {
                SockRef::from(self)
            }

            fn read_into(&self, buffer: &mut [u8]) -> io::Result<usize> {
                (&*self).read(buffer)
            }

            fn read_into_vectored(&self, buffers: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                (&*self).read_vectored(buffers)
            }

            fn shut_down(&self, how: Shutdown) -> io::Result<()> {
                self.shutdown(how)
            }
        }
    };
}

stream_socket!(std::net::TcpStream);
#[cfg(unix)]
stream_socket!(std::os::unix::net::UnixStream);

/// What a read of a stream that was reset earlier reports: the kernel told one operation,
/// and would read the rest as a clean end of stream.
fn reset_earlier() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "the connection was reset by the peer")
}

/// Fails if an earlier operation saw the peer reset the connection.
pub(crate) fn check_reset<S: AsSource>(io: &Registration<S>) -> io::Result<()> {
    if io.was_reset() { Err(reset_earlier()) } else { Ok(()) }
}

/// Remembers a reset that `result` reports, for the reads that come after it.
pub(crate) fn note_reset<S: AsSource, T>(
    io: &Registration<S>,
    result: io::Result<T>,
) -> io::Result<T> {
    if matches!(&result, Err(error) if error.kind() == io::ErrorKind::ConnectionReset) {
        io.remember_reset();
    }
    result
}

/// Reads into `buffer`.
pub(crate) fn poll_read<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffer: &mut [u8],
) -> Poll<io::Result<usize>> {
    read(io, cx, buffer)
}

/// The body of [`poll_read`], also inlined into `owned::poll_read`.
#[inline(always)]
fn read<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffer: &mut [u8],
) -> Poll<io::Result<usize>> {
    check_reset(io)?;
    if let Some(read) = io.poll_read_completion(cx, buffer) {
        return read.map(|read| note_reset(io, read));
    }
    let capacity = buffer.len();
    let read = ready!(io.poll_read_io(cx, capacity, |stream| stream.read_into(buffer)));
    Poll::Ready(note_reset(io, read))
}

/// Reads into `buffers`: the first [`MAX_IO_SLICES`] of them, all the system takes.
pub(crate) fn poll_read_vectored<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffers: &mut [IoSliceMut<'_>],
) -> Poll<io::Result<usize>> {
    read_vectored(io, cx, buffers)
}

/// The body of [`poll_read_vectored`], also inlined into `owned::poll_read_vectored`.
#[inline(always)]
fn read_vectored<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffers: &mut [IoSliceMut<'_>],
) -> Poll<io::Result<usize>> {
    check_reset(io)?;
    if io.is_completion() {
        // Through the socket's own buffer: into the first non-empty slice.
        let first = buffers.iter_mut().find(|buffer| !buffer.is_empty());
        return poll_read(io, cx, first.map_or(&mut [][..], |buffer| &mut **buffer));
    }
    // The capacity that tells a short read must count only the slices the system reads
    // into: counting more would take a full read for a short one, and lose the readiness
    // of the bytes still queued.
    let taken = buffers.len().min(MAX_IO_SLICES);
    let buffers = &mut buffers[..taken];
    let capacity = buffers.iter().map(|buffer| buffer.len()).sum();
    let read = ready!(io.poll_read_io(cx, capacity, |stream| stream.read_into_vectored(buffers)));
    Poll::Ready(note_reset(io, read))
}

/// Writes from `buffer`, [`MAX_WRITE`] bytes at most.
pub(crate) fn poll_write<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffer: &[u8],
) -> Poll<io::Result<usize>> {
    write(io, cx, buffer)
}

/// The body of [`poll_write`], also inlined into `owned::poll_write`.
#[inline(always)]
fn write<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffer: &[u8],
) -> Poll<io::Result<usize>> {
    let buffer = &buffer[..buffer.len().min(MAX_WRITE)];
    if let Some(written) = io.poll_write_completion(cx, buffer) {
        return written.map(|written| note_reset(io, written));
    }
    let written = ready!(io.poll_io(cx, Interest::WRITABLE, |stream| {
        stream.socket().send_with_flags(buffer, SEND_FLAGS)
    }));
    Poll::Ready(note_reset(io, written))
}

/// Writes from `buffers`: the first [`MAX_IO_SLICES`] of them, within [`MAX_WRITE`] bytes.
pub(crate) fn poll_write_vectored<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffers: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    write_vectored(io, cx, buffers)
}

/// The body of [`poll_write_vectored`], also inlined into `owned::poll_write_vectored`.
#[inline(always)]
fn write_vectored<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffers: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    // More slices than the system takes in one call fail (`EMSGSIZE`) instead of writing
    // what fits; the rest is a later write's, as `AsyncWrite` allows.
    let buffers = &buffers[..buffers.len().min(MAX_IO_SLICES)];
    if io.is_completion() {
        // Copied into the socket's own send buffer: the first non-empty slice.
        let first = buffers.iter().find(|buffer| !buffer.is_empty());
        return poll_write(io, cx, first.map_or(&[][..], |buffer| &**buffer));
    }
    let total = buffers.iter().fold(0usize, |sum, buffer| sum.saturating_add(buffer.len()));
    if total > MAX_WRITE {
        let first = buffers.iter().find(|buffer| !buffer.is_empty()).map_or(&[][..], |b| b);
        return poll_write(io, cx, first);
    }
    let written = ready!(io.poll_io(cx, Interest::WRITABLE, |stream| {
        stream.socket().send_vectored_with_flags(buffers, SEND_FLAGS)
    }));
    Poll::Ready(note_reset(io, written))
}

/// Waits until what the writes took has been sent: on a completion runtime they hand the
/// kernel a copy and report it written at once; on a readiness runtime nothing is buffered.
pub(crate) fn poll_flush<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    match io.poll_flush_completion(cx) {
        Some(flushed) => flushed.map(|result| note_reset(io, result)),
        None => Poll::Ready(Ok(())),
    }
}

/// Shuts the write half down; a peer that is already gone is not an error here.
pub(crate) fn poll_close<S: StreamSocket>(
    io: &Registration<Shared<S>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    // What earlier writes took must go out before the end of the stream.
    ready!(poll_flush(io, cx))?;
    match io.get_ref().shut_down(Shutdown::Write) {
        Err(error) if error.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(error)),
        _ => Poll::Ready(Ok(())),
    }
}

/// Implements futures' `AsyncRead` and `AsyncWrite`, and with the `tokio` feature tokio's,
/// with the operations of this module on the registration `$stream` reaches from `self` (a
/// `TcpStream`'s, a `UnixStream`'s, or one shared by split halves).
///
/// A type that owns its stream names the `owned` operations and its registration as
/// `&mut`: before each read and write the registration may move to the driver of the
/// worker polling it (see [`owned`]). The others (`&TcpStream`, the split halves) share it,
/// take the `shared` ones, and their stream stays where it is registered.
macro_rules! forward_async_io {
    (read: $type:ty, |$this:ident| $stream:expr) => {
        $crate::net::byte_stream::forward_async_io!(read: $type, shared, |$this| $stream);
    };
    (write: $type:ty, |$this:ident| $stream:expr) => {
        $crate::net::byte_stream::forward_async_io!(write: $type, shared, |$this| $stream);
    };
    (read: $type:ty, $kind:ident, |$this:ident| $stream:expr) => {
        impl ::futures::io::AsyncRead for $type {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buffer: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::$kind::poll_read($stream, cx, buffer)
            }

            fn poll_read_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buffers: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::$kind::poll_read_vectored($stream, cx, buffers)
            }
        }

        /// The same reads for tokio's traits (the `tokio` feature); no tokio runtime is
        /// involved.
        #[cfg(feature = "tokio")]
        impl ::tokio::io::AsyncRead for $type {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buffer: &mut ::tokio::io::ReadBuf<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let $this = ::std::pin::Pin::get_mut(self);
                // Initialised once per buffer (tokio tracks it), then read into safely.
                let read = ::std::task::ready!($crate::net::byte_stream::$kind::poll_read(
                    $stream,
                    cx,
                    buffer.initialize_unfilled()
                ))?;
                buffer.advance(read);
                ::std::task::Poll::Ready(Ok(()))
            }
        }
    };
    (write: $type:ty, $kind:ident, |$this:ident| $stream:expr) => {
        impl ::futures::io::AsyncWrite for $type {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buffer: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::$kind::poll_write($stream, cx, buffer)
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buffers: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::$kind::poll_write_vectored($stream, cx, buffers)
            }

            /// Waits until what earlier writes took has been sent (on a completion
            /// runtime; elsewhere writes are not buffered and this returns at once).
            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::poll_flush($stream, cx)
            }

            /// Flushes, then shuts the write half down (the peer reads EOF); reading goes
            /// on.
            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::poll_close($stream, cx)
            }
        }

        /// The same writes for tokio's traits (the `tokio` feature); no tokio runtime is
        /// involved.
        #[cfg(feature = "tokio")]
        impl ::tokio::io::AsyncWrite for $type {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buffer: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::$kind::poll_write($stream, cx, buffer)
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buffers: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::$kind::poll_write_vectored($stream, cx, buffers)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            /// Waits until what earlier writes took has been sent (see futures'
            /// `poll_flush` above).
            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::poll_flush($stream, cx)
            }

            /// Flushes, then shuts the write half down (the peer reads EOF); reading goes
            /// on.
            fn poll_shutdown(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let $this = ::std::pin::Pin::get_mut(self);
                $crate::net::byte_stream::poll_close($stream, cx)
            }
        }
    };
}
pub(crate) use forward_async_io;
