//! `TcpListener`: accepting TCP connections.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::addr::{ToSocketAddrs, try_each};
use super::{TcpSocket, TcpStream};
use crate::driver::current;
use crate::driver::reactor::{Registration, Shared};
use futures::Stream;
use plexio_backends::Interest;

/// How many connections the operating system queues for `accept`.
const BACKLOG: u32 = 1024;

/// A TCP socket listening for connections.
///
/// ```no_run
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// plexio::block_on(async {
///     let listener = plexio::net::TcpListener::bind("127.0.0.1:7878").await?;
///     loop {
///         let (mut stream, _peer) = listener.accept().await?;
///         plexio::spawn(async move {
///             let mut buffer = [0; 4096];
///             while let Ok(n @ 1..) = stream.read(&mut buffer).await {
///                 if stream.write_all(&buffer[..n]).await.is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// #   #[allow(unreachable_code)]
/// #   Ok::<(), std::io::Error>(())
/// });
/// ```
pub struct TcpListener {
    io: Registration<Shared<std::net::TcpListener>>,
}

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn until one binds) and listens.
    ///
    /// The socket is non-blocking and close-on-exec; on Unix it has `SO_REUSEADDR`, so that
    /// a restarted server can bind while old connections linger in `TIME_WAIT`.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        try_each(addr, |addr| async move { TcpListener::bind_addr(addr) }).await
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = TcpSocket::for_addr(addr)?;
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(BACKLOG)
    }

    /// Wraps a listener made with the standard library; it is switched to non-blocking.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the runtime's backend refuses the socket.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener { io: Registration::new(Arc::new(listener), Interest::READABLE)? })
    }

    /// Deregisters the listener and hands it back (still non-blocking).
    ///
    /// On a completion runtime, fails with [`io::ErrorKind::ResourceBusy`] while an accept
    /// that a dropped future left in flight still holds the listener.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.io.into_unshared()
    }

    /// Accepts a connection.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no connection is lost; it
    /// stays queued for the next `accept`.
    ///
    /// Errors of the accept itself are returned as they are; among them, running out of
    /// descriptors (`EMFILE`) leaves the connection queued, so a caller that loops on
    /// `accept` should pause before trying again. A connection that the runtime's backend
    /// cannot hold (the `select` backend's limits) is closed and its error returned.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection; see [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        if let Some(accepted) = self.io.poll_accept_completion(cx) {
            return accepted.map(|accepted| {
                let (socket, peer) = accepted?;
                let stream = std::net::TcpStream::from(socket);
                let peer = match peer {
                    Some(peer) => peer,
                    None => stream.peer_addr()?,
                };
                Ok((current::spread(|| TcpStream::from_std(stream))?, peer))
            });
        }
        self.io.poll_io(cx, Interest::READABLE, |listener| listener.accept()).map(|accepted| {
            let (stream, peer) = accepted?;
            Ok((current::spread(|| TcpStream::from_std(stream))?, peer))
        })
    }

    /// A stream of incoming connections: [`accept`](Self::accept) in a loop.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets the IP time-to-live of accepted connections.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("local_addr", &self.local_addr().ok()).finish()
    }
}

/// The stream of [`TcpListener::incoming`]; it never ends, and yields each accept's result.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(|accepted| Some(accepted.map(|(stream, _)| stream)))
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsSocket for TcpListener {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.io.get_ref().as_socket()
    }
}
