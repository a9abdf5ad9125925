//! `TcpStream`: a TCP connection, with `futures::io::AsyncRead` and `AsyncWrite`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use plexio_backends::completion::Operation;
use plexio_backends::{Interest, connect_in_progress};
use socket2::{SockRef, Socket};

use super::TcpSocket;
use super::addr::{ToSocketAddrs, lookup_host};
use super::byte_stream::{self, forward_async_io};
use super::happy_eyeballs;
use super::split::{OwnedReadHalf, OwnedWriteHalf};
use crate::driver::reactor::{Registration, Shared};

/// A TCP connection between a local and a remote socket.
///
/// Reading and writing go through [`futures::io::AsyncRead`] and
/// [`AsyncWrite`](futures::io::AsyncWrite) (use
/// `AsyncReadExt`/`AsyncWriteExt` for `read`, `write_all`, ...). They are implemented for
/// `&TcpStream` too: a reader and a writer can work on one stream at once, each waiting on
/// its own direction. [`into_split`](TcpStream::into_split) gives owned halves for two tasks.
///
/// # Cancel safety
///
/// Reads and writes are cancel-safe: a dropped `read` future loses no byte (the data stays
/// in the socket for the next read), and a dropped `write` future wrote either nothing or
/// the bytes it would have reported. So are [`peek`](TcpStream::peek),
/// [`readable`](TcpStream::readable) and [`writable`](TcpStream::writable).
///
/// The helpers of `futures`' `AsyncReadExt`, `AsyncBufReadExt` and `AsyncWriteExt` that
/// loop over several reads or writes are not: a dropped `read_exact`, `read_line`,
/// `read_to_end` or `write_all` loses what it had read, or leaves part of its buffer
/// written. Under a timeout, keep a `BufReader` (and the line so far) across tries, or put
/// the timeout around the whole connection: the [guide](crate::guide::from_tokio#cancel-safety) shows
/// both.
///
/// ```no_run
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// plexio::block_on(async {
///     let mut stream = plexio::net::TcpStream::connect("127.0.0.1:7878").await?;
///     stream.write_all(b"hello\n").await?;
///     let mut echo = [0; 6];
///     stream.read_exact(&mut echo).await?;
///     Ok::<(), std::io::Error>(())
/// });
/// ```
pub struct TcpStream {
    io: Registration<Shared<std::net::TcpStream>>,
}

impl TcpStream {
    /// Connects to `addr`. Where it resolves to several addresses, they are raced as
    /// Happy Eyeballs (RFC 8305) says: IPv6 and IPv4 in turn, IPv6 first, the next attempt
    /// starting when the one before fails or after 250 ms without an answer, and the first
    /// connection made wins; the others are abandoned and closed. If every attempt fails,
    /// the error is that of the first attempt that reached a host (a refusal, say), or the
    /// first error if none did: it speaks of the address most preferred, and a "network
    /// unreachable" from a family the host has no route for would hide a refusal.
    ///
    /// A refused connection is an error of kind [`io::ErrorKind::ConnectionRefused`]. To
    /// set options before connecting, or bind the local end, use
    /// [`TcpSocket`](super::TcpSocket).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        happy_eyeballs::connect(lookup_host(addr).await?, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpSocket::for_addr(addr)?.connect(addr).await
    }

    /// Connects `socket` (non-blocking, not connected) to `addr`: the kernel does it on a
    /// completion driver, a non-blocking `connect` and a wait for writability on a
    /// readiness backend.
    pub(crate) async fn connect_socket(socket: Socket, addr: SocketAddr) -> io::Result<TcpStream> {
        if Registration::<Shared<std::net::TcpStream>>::current_is_completion()? {
            // The kernel connects it: the operation owns the address until it completes.
            let io = Registration::new(Arc::new(socket.into()), Interest::BOTH)?;
            let connect = Operation::Connect { source: io.shared_source(), address: addr };
            io.run(connect).await.0?;
            return Ok(TcpStream { io });
        }
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(error) if connect_in_progress(&error) => {}
            Err(error) => return Err(error),
        }
        let stream = TcpStream { io: Registration::new(Arc::new(socket.into()), Interest::BOTH)? };
        stream.connected().await?;
        Ok(stream)
    }

    #[cfg(not(windows))]
    async fn connected(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_connected(cx)).await
    }

    /// On Windows before 10 version 2004, `WSAPoll` never reports a non-blocking `connect`
    /// that failed (it neither sets `POLLHUP`/`POLLERR` nor `POLLWRNORM`; Microsoft documents
    /// this under `WSAPoll`), so a refused connection would wait for ever on the `poll`
    /// backend. Asking `SO_ERROR` now and then ends it; on the other backends the event comes
    /// first and the check costs one timer.
    #[cfg(windows)]
    async fn connected(&self) -> io::Result<()> {
        const RECHECK: std::time::Duration = std::time::Duration::from_millis(100);
        loop {
            match crate::time::timeout(RECHECK, poll_fn(|cx| self.poll_connected(cx))).await {
                Ok(result) => return result,
                Err(_) => {
                    if let Some(error) = self.io.get_ref().take_error()? {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Resolves once a non-blocking connect has finished: writable, then `SO_ERROR` says
    /// whether it failed. A writable event before the connect is done is spurious: wait again.
    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let seen = ready!(self.io.poll_ready(cx, Interest::WRITABLE))?;
            if let Some(error) = self.io.get_ref().take_error()? {
                return Poll::Ready(Err(error));
            }
            match self.io.get_ref().peer_addr() {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(error) if error.kind() == io::ErrorKind::NotConnected => {
                    self.io.clear_readiness(seen);
                }
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    /// Wraps a connected stream made with the standard library; it is switched to
    /// non-blocking.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the runtime's backend refuses the socket.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        // Apple platforms have no `MSG_NOSIGNAL`: without `SO_NOSIGPIPE` a write to a reset
        // connection would raise SIGPIPE and kill the process. Set here, since whether an
        // accepted socket inherits it from its listener is not documented.
        #[cfg(target_vendor = "apple")]
        SockRef::from(&stream).set_nosigpipe(true)?;
        Ok(TcpStream { io: Registration::new(Arc::new(stream), Interest::BOTH)? })
    }

    /// Deregisters the stream and hands it back (still non-blocking).
    ///
    /// On a completion runtime, fails with [`io::ErrorKind::ResourceBusy`] while a receive
    /// that a dropped read left in flight still holds the socket (it may hold bytes it read
    /// from it, which would be lost).
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        self.io.into_unshared()
    }

    /// Splits the stream into a read half and a write half that two tasks can own and use
    /// at once. [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        super::split::split(self)
    }

    /// Reads into `buffer` without removing the data from the socket's queue; waits until
    /// some data (or EOF) is there.
    pub async fn peek(&self, buffer: &mut [u8]) -> io::Result<usize> {
        byte_stream::check_reset(&self.io)?;
        let peeked = self.io.io(Interest::READABLE, |stream| stream.peek(buffer)).await;
        byte_stream::note_reset(&self.io, peeked)
    }

    /// Waits until the stream is (probably) readable.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Interest::READABLE)).await.map(drop)
    }

    /// Waits until the stream is (probably) writable.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Interest::WRITABLE)).await.map(drop)
    }

    /// Shuts down the read half, the write half, or both. After `Shutdown::Write` the peer
    /// reads EOF once it has read everything sent before, and can still send to us.
    ///
    /// On a completion runtime, where a write hands the kernel a copy and reports it
    /// written at once, shutting the write side down waits (without blocking) for those
    /// bytes: the peer reads them all, then EOF.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown_after_writes(how, |how| self.io.get_ref().shutdown(how))
    }

    /// Reads into the spare capacity of `buffer` (after its `len()`, up to its
    /// `capacity()`) and grows its `len()` by what it read; `Ok(0)` with spare capacity
    /// left is the end of the stream. The buffer comes back whatever happens.
    ///
    /// The proactor's natural form: on a completion driver (`uring`) the kernel receives
    /// straight into `buffer`, with no copy; on a readiness backend it is an ordinary read.
    /// Cancel-safe: on a completion driver a dropped `read_owned` leaves its receive in
    /// flight, and the next read of the stream gets its bytes.
    ///
    /// ```
    /// use plexio::net::{TcpListener, TcpStream};
    ///
    /// plexio::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (written, _) = client.write_all_owned(b"hello".to_vec()).await;
    ///     written?;
    ///     let (read, buffer) = server.read_owned(Vec::with_capacity(16)).await;
    ///     assert!(read? > 0 && b"hello".starts_with(&buffer));
    ///     Ok::<(), std::io::Error>(())
    /// }).unwrap();
    /// ```
    pub async fn read_owned(&self, buffer: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        if let Err(error) = byte_stream::check_reset(&self.io) {
            return (Err(error), buffer);
        }
        let (read, buffer) = self.io.read_owned(buffer).await;
        (byte_stream::note_reset(&self.io, read), buffer)
    }

    /// Writes from `buffer` (all of it, from the start), returning how many bytes were
    /// written and the buffer. On a completion driver the kernel sends from `buffer`
    /// itself, after what earlier writes took.
    ///
    /// Dropped before it completes, it cancels its send on a completion driver (the buffer
    /// stays with the driver until the kernel hands it back): how much was sent is then
    /// unknown, and on Windows (`iocp`) a send cancelled in progress aborts the connection.
    /// A write that must not be lost is awaited to the end.
    pub async fn write_owned(&self, buffer: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let (written, buffer) = self.io.write_owned(buffer, 0).await;
        (byte_stream::note_reset(&self.io, written), buffer)
    }

    /// Writes all of `buffer`, returning the buffer; on an error, how much was written is
    /// unknown, as with `write_all`.
    pub async fn write_all_owned(&self, buffer: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let mut buffer = buffer;
        let mut offset = 0;
        while offset < buffer.len() {
            let (written, returned) = self.io.write_owned(buffer, offset).await;
            buffer = returned;
            match byte_stream::note_reset(&self.io, written) {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buffer),
                Ok(written) => offset += written,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return (Err(error), buffer),
            }
        }
        (Ok(()), buffer)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY`: whether small writes go out at once rather than being coalesced
    /// (Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes dropping the stream reset the
    /// connection rather than close it gracefully.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_linger(linger)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// The registration, for the byte-stream operations (`net::byte_stream`).
    pub(crate) fn registration(&self) -> &Registration<Shared<std::net::TcpStream>> {
        &self.io
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

forward_async_io!(read: TcpStream, owned, |this| &mut this.io);
forward_async_io!(read: &TcpStream, |this| this.registration());
forward_async_io!(write: TcpStream, owned, |this| &mut this.io);
forward_async_io!(write: &TcpStream, |this| this.registration());

#[cfg(unix)]
impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsSocket for TcpStream {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.io.get_ref().as_socket()
    }
}
