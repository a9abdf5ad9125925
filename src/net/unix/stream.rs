//! `UnixStream`: a connected Unix domain stream socket, with `futures::io::AsyncRead` and
//! `AsyncWrite`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use plexio_backends::{Interest, PeerCredentials, connect_in_progress};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::driver::reactor::{Registration, Shared};
use crate::net::byte_stream::forward_async_io;

/// A connected Unix domain stream socket.
///
/// Reading and writing go through [`futures::io::AsyncRead`] and
/// [`AsyncWrite`](futures::io::AsyncWrite), also for `&UnixStream`, exactly as for
/// [`TcpStream`](crate::net::TcpStream), with the same cancel safety and the same
/// remembered reset. See the [module documentation](super) for addresses and credentials.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// plexio::block_on(async {
///     let (mut a, mut b) = plexio::net::UnixStream::pair()?;
///     a.write_all(b"ping").await?;
///     let mut ping = [0; 4];
///     b.read_exact(&mut ping).await?;
///     assert_eq!(&ping, b"ping");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct UnixStream {
    io: Registration<Shared<std::os::unix::net::UnixStream>>,
}

impl UnixStream {
    /// Connects to the socket bound at `path`.
    ///
    /// A path with no listener is [`NotFound`](io::ErrorKind::NotFound), one whose
    /// listener is gone [`ConnectionRefused`](io::ErrorKind::ConnectionRefused). While the
    /// listener's queue is full (Linux answers `EAGAIN`), the connect is retried after a
    /// pause that grows from 1 ms to 100 ms, until it is accepted into the queue.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_sock_addr(&SockAddr::unix(path)?).await
    }

    /// Connects to `addr`: a path, or on Linux and Android an abstract name.
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect_sock_addr(&super::sock_addr(addr)?).await
    }

    async fn connect_sock_addr(addr: &SockAddr) -> io::Result<UnixStream> {
        let mut pause = Duration::from_millis(1);
        loop {
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            socket.set_nonblocking(true)?;
            let in_progress = match socket.connect(addr) {
                Ok(()) => false,
                // The listener's queue is full: nothing is in progress (Linux), so the
                // socket will never become writable for this connect. Try again later.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    crate::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                    continue;
                }
                Err(error) if connect_in_progress(&error) => true,
                Err(error) => return Err(error),
            };
            let stream = UnixStream::from_std(socket.into())?;
            if in_progress {
                stream.writable().await?;
                if let Some(error) = stream.take_error()? {
                    return Err(error);
                }
            }
            return Ok(stream);
        }
    }

    /// A pair of connected streams (`socketpair`), both registered with this runtime.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a connected stream made with the standard library; it is switched to
    /// non-blocking.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the runtime's backend refuses the socket.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        // Apple platforms have no `MSG_NOSIGNAL`: see `TcpStream::from_std`.
        #[cfg(target_vendor = "apple")]
        socket2::SockRef::from(&stream).set_nosigpipe(true)?;
        Ok(UnixStream { io: Registration::new(std::sync::Arc::new(stream), Interest::BOTH)? })
    }

    /// Deregisters the stream and hands it back (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        self.io.into_unshared()
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
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown_after_writes(how, |how| self.io.get_ref().shutdown(how))
    }

    /// The credentials of the peer process, as the kernel recorded them when the
    /// connection was made.
    ///
    /// # Errors
    ///
    /// [`Unsupported`](io::ErrorKind::Unsupported) on an OS that does not tell them.
    pub fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        plexio_backends::peer_credentials(self.io.get_ref().as_fd())
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// The registration, for the byte-stream operations (`net::byte_stream`).
    pub(crate) fn registration(&self) -> &Registration<Shared<std::os::unix::net::UnixStream>> {
        &self.io
    }
}

forward_async_io!(read: UnixStream, owned, |this| &mut this.io);
forward_async_io!(read: &UnixStream, |this| this.registration());
forward_async_io!(write: UnixStream, owned, |this| &mut this.io);
forward_async_io!(write: &UnixStream, |this| this.registration());

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
