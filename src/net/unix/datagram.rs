//! `UnixDatagram`: a Unix domain datagram socket.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use plexio_backends::Interest;

use crate::driver::reactor::Registration;

/// A Unix domain datagram socket: bound to a path, to an abstract name, or unbound.
///
/// Each `recv` returns one datagram; one longer than the buffer is cut to it. Unix datagram
/// sockets are reliable and keep order: a sender waits (`send` is pending) while the
/// receiver's queue is full, instead of losing the datagram. See the
/// [module documentation](super) for the socket file's lifetime.
///
/// ```
/// plexio::block_on(async {
///     let (a, b) = plexio::net::UnixDatagram::pair()?;
///     a.send(b"one datagram").await?;
///     let mut buffer = [0; 64];
///     let n = b.recv(&mut buffer).await?;
///     assert_eq!(&buffer[..n], b"one datagram");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct UnixDatagram {
    io: Registration<std::os::unix::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates a socket file at `path` and binds to it.
    ///
    /// # Errors
    ///
    /// [`AddrInUse`](io::ErrorKind::AddrInUse) if anything exists at `path` (see the
    /// [module documentation](super)); outside of a plexio runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::bind(path)?)
    }

    /// Binds to `addr`: a path, or on Linux and Android an abstract name.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::bind_addr(addr)?)
    }

    /// A socket bound to no address: it can send, and receive answers only once connected
    /// or when its peer sends to it through a pair.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A pair of connected, unnamed sockets (`socketpair`), both registered with this
    /// runtime.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a socket made with the standard library; it is switched to non-blocking.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the runtime's backend refuses the socket.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram { io: Registration::new(socket, Interest::BOTH)? })
    }

    /// Deregisters the socket and hands it back (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        self.io.into_inner()
    }

    /// Sets the default destination of [`send`](Self::send) to the socket bound at `path`,
    /// and accepts datagrams from it alone. Completes at once: there is no handshake.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// [`connect`](Self::connect) to `addr`: a path, or on Linux and Android an abstract
    /// name.
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.io.get_ref().connect_addr(addr)
    }

    /// Sends a datagram to the connected address.
    pub async fn send(&self, buffer: &[u8]) -> io::Result<usize> {
        self.io.io(Interest::WRITABLE, |socket| socket.send(buffer)).await
    }

    /// Receives a datagram; one longer than `buffer` is cut to it.
    ///
    /// Cancel-safe: a dropped `recv` future received nothing.
    pub async fn recv(&self, buffer: &mut [u8]) -> io::Result<usize> {
        self.io.io(Interest::READABLE, |socket| socket.recv(buffer)).await
    }

    /// Sends a datagram to the socket bound at `path`.
    pub async fn send_to(&self, buffer: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.io(Interest::WRITABLE, |socket| socket.send_to(buffer, path)).await
    }

    /// Sends a datagram to `addr`: a path, or on Linux and Android an abstract name.
    pub async fn send_to_addr(&self, buffer: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.io.io(Interest::WRITABLE, |socket| socket.send_to_addr(buffer, addr)).await
    }

    /// Receives a datagram and the address it came from (unnamed for an unbound sender).
    ///
    /// Cancel-safe: a dropped `recv_from` future received nothing.
    pub async fn recv_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buffer)).await
    }

    /// Polls to receive a datagram and the address it came from.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buffer: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(cx, Interest::READABLE, |socket| socket.recv_from(buffer))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the receiving side, the sending side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram").field("local_addr", &self.local_addr().ok()).finish()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
