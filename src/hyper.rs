//! What hyper 1.x needs to run on plexio, written on hyper's public traits (the `hyper`
//! feature): its [`Read`](hyper::rt::Read) and [`Write`](hyper::rt::Write) for plexio's
//! streams, a [`PlexioTimer`] for its timeouts, and a [`PlexioExecutor`] that spawns the
//! tasks of an HTTP/2 connection.
//!
//! hyper has no runtime of its own: a connection is a future, served by whatever runtime
//! polls it. [`TcpStream`] (and [`net::UnixStream`](crate::net::UnixStream) on Unix) implement
//! hyper's I/O traits directly, so a stream goes to hyper as it is, without a wrapper:
//!
//! ```
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::{Request, Response, body::Incoming};
//! use plexio::hyper::PlexioTimer;
//! use plexio::net::{TcpListener, TcpStream};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
//! }
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     plexio::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(PlexioTimer)
//!             .serve_connection(stream, hyper::service::service_fn(hello))
//!             .await
//!             .map_err(std::io::Error::other)
//!     });
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut sender, connection) =
//!         hyper::client::conn::http1::handshake(stream).await.map_err(std::io::Error::other)?;
//!     plexio::spawn(connection);
//!     let request = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
//!     let response = sender.send_request(request).await.map_err(std::io::Error::other)?;
//!     let body = response.into_body().collect().await.map_err(std::io::Error::other)?;
//!     assert_eq!(body.to_bytes(), "hello");
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! The streams keep plexio's semantics under hyper: on a completion runtime (`uring`) a
//! write reports bytes copied into the socket's in-flight buffer as written, and hyper's
//! flush waits until the kernel has taken them; on a readiness runtime writes go straight
//! to the kernel and a flush has nothing to wait for.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;
use plexio_backends::Interest;

use crate::net::TcpStream;
#[cfg(unix)]
use crate::net::UnixStream;

/// The spawn function [`PlexioExecutor`] runs hyper's tasks with: one that accepts futures
/// which are not `Send` (an HTTP/2 connection's tasks are `!Send` when its service or body
/// is), on the calling thread: `spawn_local`, since `spawn` takes only `Send` futures.
use crate::task::spawn_local as spawn_on_this_thread;

/// The most bytes one read takes from the socket into the scratch buffer.
const SCRATCH_LEN: usize = 64 * 1024;

thread_local! {
    /// Where a read lands before hyper's buffer gets a copy of what arrived.
    ///
    /// hyper hands a read its spare capacity as uninitialised memory, and the only safe way
    /// to fill it is `put_slice` (reading into it directly needs `unsafe`, which `src/`
    /// forbids; initialising it first would zero the whole spare capacity, 8 KiB or more, on
    /// every read, however few bytes arrive). So a read goes into this buffer, initialised
    /// once per thread and shared by every connection on it, and only the bytes read are
    /// copied on. A read completes synchronously inside `poll_read`, so it is never borrowed
    /// across a suspension.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads from `stream` into hyper's `cursor`: at most [`SCRATCH_LEN`] bytes, through the
/// thread's scratch buffer. Nothing is read, and nothing copied, until bytes are there.
fn poll_read_into<S: AsyncRead + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    mut cursor: ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    let wanted = cursor.remaining().min(SCRATCH_LEN);
    if wanted == 0 {
        return Poll::Ready(Ok(()));
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            if scratch.len() < SCRATCH_LEN {
                scratch.resize(SCRATCH_LEN, 0);
            }
            let read = ready!(Pin::new(stream).poll_read(cx, &mut scratch[..wanted]))?;
            cursor.put_slice(&scratch[..read]);
            Poll::Ready(Ok(()))
        }
        // Only a read made from inside another read's poll could get here (a stream type
        // of the caller's that reads a plexio stream within its own `poll_read`): it reads
        // through a buffer of its own rather than fail.
        Err(_) => {
            let mut own = vec![0; wanted];
            let read = ready!(Pin::new(stream).poll_read(cx, &mut own))?;
            cursor.put_slice(&own[..read]);
            Poll::Ready(Ok(()))
        }
    })
}

/// Implements hyper's `Read` and `Write` for a plexio stream type through its futures
/// `AsyncRead` and `AsyncWrite`; `$stream.registration()` tells whether it runs on a
/// completion runtime.
macro_rules! hyper_io {
    ($type:ty) => {
        impl hyper::rt::Read for $type {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                cursor: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                // hyper reads until a read is pending: twice a request finds the socket
                // drained. On a readiness runtime the registration's readiness says so on
                // its own; asking it first spares those reads the scratch buffer. A socket
                // known to be readable goes straight to the read, whose own readiness wait
                // would only repeat the full one here. (On a completion runtime a readiness
                // wait would let go of the socket's receive buffer, so the read itself asks
                // there.)
                let registration = this.registration();
                if !registration.is_ready(Interest::READABLE) && !registration.is_completion() {
                    ready!(registration.poll_ready(cx, Interest::READABLE))?;
                }
                poll_read_into(this, cx, cursor)
            }
        }

        impl hyper::rt::Write for $type {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buffer: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buffer)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buffers: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, buffers)
            }

            /// On a readiness runtime a vectored write sends every slice in one system
            /// call, so hyper may queue a response's head and body without copying them
            /// together. On a completion runtime a write copies into the socket's one
            /// send buffer, one slice at a time: there hyper does better to gather them
            /// itself and send once.
            fn is_write_vectored(&self) -> bool {
                !self.registration().is_completion()
            }

            /// Waits until the kernel has taken what earlier writes reported written (on a
            /// completion runtime; elsewhere at once).
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            /// Flushes, then shuts the write half down: the peer reads the end of the
            /// stream.
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

hyper_io!(TcpStream);
#[cfg(unix)]
hyper_io!(UnixStream);

/// hyper's [`Timer`](hyper::rt::Timer) on plexio's timers: for HTTP/1's header-read
/// timeout (30 s unless set; hyper skips it, with a warning, on a connection without a
/// timer), keep-alive pings and timeouts of HTTP/2, and the client's pool.
///
/// Its sleeps are plexio [`Sleep`](crate::time::Sleep)s, so they must be polled inside a
/// plexio runtime, as a connection served on one is.
///
/// ```
/// # use plexio::hyper::PlexioTimer;
/// let builder = hyper::server::conn::http1::Builder::new()
///     .timer(PlexioTimer)
///     .header_read_timeout(std::time::Duration::from_secs(5))
///     .clone();
/// # drop(builder);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PlexioTimer;

/// A plexio sleep as hyper's [`Sleep`](hyper::rt::Sleep), which must be `Send + Sync`.
struct TimerSleep(crate::time::Sleep);

// What hyper requires of its sleeps holds for plexio's own: checked here, at compile time,
// so that a change to `time::Sleep` that broke it cannot go unnoticed.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<crate::time::Sleep>();
};

impl Future for TimerSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl hyper::rt::Sleep for TimerSleep {}

impl hyper::rt::Timer for PlexioTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TimerSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TimerSleep(crate::time::sleep_until(deadline)))
    }

    /// Moves one of this timer's sleeps in place (hyper resets a timer it keeps, such as
    /// HTTP/2's keep-alive timer), rather than allocating a new one.
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TimerSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// hyper's [`Executor`](hyper::rt::Executor) on plexio: spawns the tasks of an HTTP/2
/// connection (one per stream) on the runtime of the calling thread. The futures need not
/// be `Send`, as in hyper's single-threaded example: hand it to
/// `hyper::server::conn::http2::Builder::new` or `hyper::client::conn::http2::handshake`.
///
/// # Panics
///
/// `execute` panics outside of a plexio runtime, as [`spawn`](crate::spawn) does; hyper
/// calls it from the connection's future, which a runtime polls.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlexioExecutor;

impl<F> hyper::rt::Executor<F> for PlexioExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        // Detached: hyper's tasks end with their stream or connection.
        drop(spawn_on_this_thread(future));
    }
}
