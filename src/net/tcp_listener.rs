//! `TcpListener`: accepting TCP connections, on one socket or, on a multi-worker runtime
//! that spreads them by `SO_REUSEPORT`, on one socket per worker (`group`).

mod group;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use super::addr::{ToSocketAddrs, try_each};
use super::{TcpSocket, TcpStream};
use crate::driver::current;
use crate::driver::reactor::{Reactor, Registration, Shared};
use crate::runtime;
use futures::Stream;
use plexio_backends::Interest;

/// How many connections the operating system queues for `accept`, on each socket.
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
///
/// # On a multi-worker runtime
///
/// [`bind`](Self::bind) on a runtime with several [worker
/// threads](crate::Builder::worker_threads) makes, where the kernel balances them (Linux,
/// Android, FreeBSD, DragonFly BSD), one socket per worker, all bound to the same address
/// with `SO_REUSEPORT` (`SO_REUSEPORT_LB` on FreeBSD) and each registered with its own
/// worker's driver. The kernel spreads incoming connections over them; `accept` waits on
/// all of them at once (starting with a different one each time, so that a busy one does
/// not starve the others) and registers each connection with the driver of the worker whose
/// socket took it. Elsewhere (macOS, Windows, OpenBSD, NetBSD), with
/// [`AcceptSpread::LiveLoad`](crate::AcceptSpread::LiveLoad), or if a socket after the first
/// cannot bind the port, the listener is one socket, and each connection goes to the worker
/// with the fewest sockets registered. See [`AcceptSpread`](crate::AcceptSpread).
///
/// A group behaves as one listener: [`local_addr`](Self::local_addr) is the address they
/// share, [`set_ttl`](Self::set_ttl) sets every socket, and dropping the listener closes
/// them all (connections still queued on them are reset). A listener made with
/// [`from_std`](Self::from_std) or [`TcpSocket::listen`] is always the one socket given.
pub struct TcpListener {
    /// One socket, or one per worker, all bound to the same address.
    sockets: Box<[Listening]>,
    /// Where the next accept starts looking among `sockets`.
    next: AtomicUsize,
}

/// One listening socket of a listener.
struct Listening {
    io: Registration<Shared<std::net::TcpListener>>,
    /// The driver of the worker this socket belongs to in a `SO_REUSEPORT` group, with which
    /// the connections it accepts register; `None` for a listener of one socket, whose
    /// connections go to the least loaded worker.
    worker: Option<Arc<Reactor>>,
}

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn until one binds) and listens.
    ///
    /// The socket is non-blocking and close-on-exec; on Unix it has `SO_REUSEADDR`, so that
    /// a restarted server can bind while old connections linger in `TIME_WAIT`. On a
    /// multi-worker runtime it may be one socket per worker (see [the type's
    /// docs](TcpListener#on-a-multi-worker-runtime)); a port that another socket holds is
    /// refused all the same, whether or not that one has `SO_REUSEPORT`.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        try_each(addr, |addr| async move { TcpListener::bind_addr(addr) }).await
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        if let Some(workers) = runtime::listener_group() {
            let backlog = i32::try_from(BACKLOG).unwrap_or(i32::MAX);
            if let Some(sockets) = group::bind(addr, &workers, backlog)? {
                return Ok(TcpListener { sockets: sockets.into(), next: AtomicUsize::new(0) });
            }
        }
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
        let io = Registration::new(Arc::new(listener), Interest::READABLE)?;
        Ok(TcpListener {
            sockets: Box::new([Listening { io, worker: None }]),
            next: AtomicUsize::new(0),
        })
    }

    /// Deregisters the listener and hands it back (still non-blocking).
    ///
    /// On a completion runtime, fails with [`io::ErrorKind::ResourceBusy`] while an accept
    /// that a dropped future left in flight still holds the listener.
    ///
    /// A listener of one socket per worker hands back its first socket and closes the
    /// others: connections queued on those are reset, and new ones all go to the socket
    /// handed back. Bind with [`TcpSocket`] for a listener meant to be handed over.
    pub fn into_std(mut self) -> io::Result<std::net::TcpListener> {
        let mut sockets = std::mem::take(&mut self.sockets).into_vec();
        for other in sockets.drain(1..) {
            other.stop_listening();
        }
        let first = sockets.pop().expect("a listener has a socket");
        first.io.into_unshared()
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
    ///
    /// On a listener of several sockets, every one of them is polled (each keeps the
    /// task's waker, and on a completion runtime an accept in flight, which the next call
    /// takes), from a start that moves on at each call.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let count = self.sockets.len();
        let start = if count == 1 { 0 } else { self.next.fetch_add(1, Ordering::Relaxed) % count };
        for offset in 0..count {
            if let Poll::Ready(accepted) = self.sockets[(start + offset) % count].poll_accept(cx) {
                return Poll::Ready(accepted);
            }
        }
        Poll::Pending
    }

    /// A stream of incoming connections: [`accept`](Self::accept) in a loop.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to (every socket of a group shares it).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.first().local_addr()
    }

    /// Sets the IP time-to-live of accepted connections, on every socket of the listener.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sockets.iter().try_for_each(|socket| socket.io.get_ref().set_ttl(ttl))
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.first().ttl()
    }

    fn first(&self) -> &std::net::TcpListener {
        self.sockets[0].io.get_ref()
    }
}

impl Listening {
    /// Polls this socket for a connection, and registers the connection with its worker's
    /// driver (or the least loaded one).
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        if let Some(accepted) = self.io.poll_accept_completion(cx) {
            return accepted.map(|accepted| {
                let (socket, peer) = accepted?;
                let stream = std::net::TcpStream::from(socket);
                let peer = match peer {
                    Some(peer) => peer,
                    None => stream.peer_addr()?,
                };
                Ok((self.register(stream)?, peer))
            });
        }
        self.io.poll_io(cx, Interest::READABLE, |listener| listener.accept()).map(|accepted| {
            let (stream, peer) = accepted?;
            Ok((self.register(stream)?, peer))
        })
    }

    /// Stops a socket of a group listening, before it is closed. The sockets of a group are
    /// registered with the drivers of several workers, whose threads may be inside a
    /// `poll(2)` or `select(2)` that holds a reference to a socket until it returns: closing
    /// the descriptor alone could leave the port listening a moment after the drop.
    /// Shutting a listening socket down stops it at once (Linux); where the system refuses,
    /// the close does it. A listener of one socket is left as it was (the socket may be
    /// shared through a duplicated descriptor).
    fn stop_listening(&self) {
        if self.worker.is_some() {
            let _ = socket2::SockRef::from(self.io.get_ref()).shutdown(std::net::Shutdown::Both);
        }
    }

    /// Registers an accepted connection: with this socket's worker in a group, else with
    /// the least loaded worker of a multi-worker runtime, else with the current driver.
    fn register(&self, stream: std::net::TcpStream) -> io::Result<TcpStream> {
        let reactor = match self.worker.clone().or_else(current::least_loaded) {
            Some(reactor) => reactor,
            None => current::reactor()?,
        };
        let stream = current::register_with(reactor.clone(), || TcpStream::from_std(stream))?;
        reactor.count_accepted();
        Ok(stream)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        for socket in self.sockets.iter() {
            socket.stop_listening();
        }
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .field("sockets", &self.sockets.len())
            .finish()
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

/// The listener's socket; for a group, its first socket (options set through it apply to
/// that one only).
#[cfg(unix)]
impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.first().as_fd()
    }
}

/// The listener's socket; for a group, its first socket (options set through it apply to
/// that one only).
#[cfg(windows)]
impl std::os::windows::io::AsSocket for TcpListener {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.first().as_socket()
    }
}
