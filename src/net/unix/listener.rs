//! `UnixListener`: accepting connections on a Unix domain socket.

use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use plexio_backends::Interest;

use super::UnixStream;
use crate::driver::reactor::Registration;

/// How many connections the operating system queues for `accept`.
const BACKLOG: i32 = 1024;

/// A Unix domain socket listening for connections.
///
/// See the [module documentation](super) for the socket file's lifetime.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use plexio::net::{UnixListener, UnixStream};
///
/// plexio::block_on(async {
///     let directory = std::env::temp_dir().join(format!("plexio-doc-{}", std::process::id()));
///     std::fs::create_dir_all(&directory)?;
///     let path = directory.join("listener.sock");
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path)?;
///     let server = plexio::spawn(async move {
///         let (mut stream, _) = listener.accept().await?;
///         stream.write_all(b"hello").await
///     });
///     let mut client = UnixStream::connect(&path).await?;
///     let mut greeting = [0; 5];
///     client.read_exact(&mut greeting).await?;
///     assert_eq!(&greeting, b"hello");
///     server.await??;
///     std::fs::remove_file(&path)?;
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct UnixListener {
    io: Registration<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Creates a socket file at `path` and listens on it.
    ///
    /// # Errors
    ///
    /// [`AddrInUse`](io::ErrorKind::AddrInUse) if anything exists at `path` (see the
    /// [module documentation](super)); outside of a plexio runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::listen(&socket2::SockAddr::unix(path)?)
    }

    /// Listens on `addr`: a path, or on Linux and Android an abstract name.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::listen(&super::sock_addr(addr)?)
    }

    fn listen(addr: &socket2::SockAddr) -> io::Result<UnixListener> {
        let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.bind(addr)?;
        socket.listen(BACKLOG)?;
        UnixListener::from_std(socket.into())
    }

    /// Wraps a listener made with the standard library; it is switched to non-blocking.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the runtime's backend refuses the socket.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener { io: Registration::new(listener, Interest::READABLE)? })
    }

    /// Deregisters the listener and hands it back (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        self.io.into_inner()
    }

    /// Accepts a connection.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no connection is lost; it
    /// stays queued for the next `accept`.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection; see [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io.poll_io(cx, Interest::READABLE, |listener| listener.accept()).map(|accepted| {
            let (stream, peer) = accepted?;
            Ok((UnixStream::from_std(stream)?, peer))
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").field("local_addr", &self.local_addr().ok()).finish()
    }
}

impl std::os::fd::AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
