//! `UdpSocket`: datagrams.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll};

use plexio_backends::Interest;
use socket2::{Domain, Protocol, Socket, Type};

use super::addr::try_each;
use crate::reactor::Registration;

/// A UDP socket.
///
/// Every operation is cancel-safe: a datagram is either received by the operation that
/// completes, or left in the socket's queue; a dropped `send` or `send_to` sent nothing.
///
/// ```
/// plexio::block_on(async {
///     let a = plexio::net::UdpSocket::bind("127.0.0.1:0").await?;
///     let b = plexio::net::UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buffer = [0; 16];
///     let (n, from) = b.recv_from(&mut buffer).await?;
///     assert_eq!((&buffer[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct UdpSocket {
    io: Registration<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (each resolved address in turn until one binds).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        try_each(addr, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_nonblocking(true)?;
            socket.bind(&addr.into())?;
            UdpSocket::from_std(socket.into())
        })
        .await
    }

    /// Wraps a socket made with the standard library; it is switched to non-blocking.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the runtime's backend refuses the socket.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket { io: Registration::new(socket, Interest::BOTH)? })
    }

    /// Deregisters the socket and hands it back (still non-blocking).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.io.into_inner()
    }

    /// Sets the default destination of [`send`](Self::send), and accepts datagrams from it
    /// alone.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        try_each(addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends a datagram to the connected address.
    pub async fn send(&self, buffer: &[u8]) -> io::Result<usize> {
        self.io.io(Interest::WRITABLE, |socket| socket.send(buffer)).await
    }

    /// Receives a datagram from the connected address; a datagram longer than `buffer` is
    /// truncated.
    pub async fn recv(&self, buffer: &mut [u8]) -> io::Result<usize> {
        self.io.io(Interest::READABLE, |socket| socket.recv(buffer)).await
    }

    /// Sends a datagram to `target`.
    pub async fn send_to(&self, buffer: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        try_each(target, |target| {
            self.io.io(Interest::WRITABLE, move |socket| socket.send_to(buffer, target))
        })
        .await
    }

    /// Receives a datagram and the address it came from.
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

    /// Polls to send a datagram to `target`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buffer: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Interest::WRITABLE, |socket| socket.send_to(buffer, target))
    }

    /// Receives a datagram without removing it from the queue.
    pub async fn peek_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(Interest::READABLE, |socket| socket.peek_from(buffer)).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(broadcast)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("local_addr", &self.local_addr().ok()).finish()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsSocket for UdpSocket {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.io.get_ref().as_socket()
    }
}
