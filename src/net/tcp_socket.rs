//! `TcpSocket`: a TCP socket not yet connected or listening, for the options that must be
//! set before `connect` or `listen` (address reuse, buffer sizes, binding the local end).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use super::{TcpListener, TcpStream};
use crate::util::trace;

/// A TCP socket before it connects or listens: set its options, optionally
/// [`bind`](TcpSocket::bind) it, then turn it into a [`TcpStream`] with
/// [`connect`](TcpSocket::connect) or into a [`TcpListener`] with
/// [`listen`](TcpSocket::listen).
///
/// The socket is non-blocking and close-on-exec from the start. Nothing here needs a
/// runtime except `connect` and `listen`, which register the socket with the runtime of
/// the thread that calls them. `connect` and `listen` take the socket, so that a socket is
/// never both; a socket handed in by [`from_std_stream`](TcpSocket::from_std_stream) that
/// is already connected or listening is refused with a clear error.
///
/// ```
/// use plexio::net::{TcpSocket, TcpStream};
///
/// plexio::block_on(async {
///     let server = TcpSocket::new_v4()?;
///     server.set_reuseaddr(true)?;
///     server.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = server.listen(64)?;
///
///     let client = TcpSocket::new_v4()?;
///     client.set_nodelay(true)?;
///     client.set_send_buffer_size(64 * 1024)?;
///     let stream: TcpStream = client.connect(listener.local_addr()?).await?;
///     assert!(stream.nodelay()?);
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct TcpSocket {
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A new TCP socket of the family of `addr` (IPv4 or IPv6), to bind to it or connect
    /// to it.
    pub fn for_addr(addr: SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::for_address(addr))
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        Ok(TcpSocket { socket })
    }

    /// Takes a TCP socket made by the standard library (or converted into one from a raw
    /// descriptor) that has neither connected nor listened yet; it is switched to
    /// non-blocking.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::AlreadyExists`] if the socket is already connected, and, where the
    /// system can tell (Linux, Android, FreeBSD), [`io::ErrorKind::InvalidInput`] if it is
    /// listening.
    pub fn from_std_stream(stream: std::net::TcpStream) -> io::Result<TcpSocket> {
        let socket = Socket::from(stream);
        if let Ok(peer) = socket.peer_addr() {
            let peer = peer.as_socket().map_or_else(|| "a peer".to_owned(), |p| p.to_string());
            let message = format!("the socket is already connected, to {peer}");
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, message));
        }
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
        if socket.is_listener()? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the socket is listening: a listening socket cannot connect",
            ));
        }
        socket.set_nonblocking(true)?;
        Ok(TcpSocket { socket })
    }

    /// Sets `SO_REUSEADDR`: on Unix, whether the socket may bind to an address that
    /// connections of an earlier socket still hold in `TIME_WAIT`, so that a restarted
    /// server can bind at once. On Windows the option means something else (another socket
    /// may take over a port in use), which is rarely wanted.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.socket.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: whether several sockets may bind to the same address and port
    /// (on Linux and FreeBSD 12+ the kernel then spreads incoming connections among the
    /// listeners of one user). Unix only; illumos and Solaris have no such option.
    #[cfg(all(unix, not(any(target_os = "illumos", target_os = "solaris"))))]
    #[cfg_attr(docsrs, doc(cfg(all(unix, not(any(target_os = "illumos", target_os = "solaris"))))))]
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    #[cfg(all(unix, not(any(target_os = "illumos", target_os = "solaris"))))]
    #[cfg_attr(docsrs, doc(cfg(all(unix, not(any(target_os = "illumos", target_os = "solaris"))))))]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.socket.reuse_port()
    }

    /// Sets `SO_SNDBUF`, the size of the kernel's send buffer. The system may round it, or
    /// (Linux) double it for its own bookkeeping: read it back with
    /// [`send_buffer_size`](Self::send_buffer_size).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_send_buffer_size(to_usize(size))
    }

    /// The size of the kernel's send buffer, as the system reports it.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.socket.send_buffer_size().map(saturate)
    }

    /// Sets `SO_RCVBUF`, the size of the kernel's receive buffer, which bounds the TCP
    /// window. Set it before `connect` or `listen` for a window larger than the default
    /// to be negotiated. The system may round or double it, as with the send buffer.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_recv_buffer_size(to_usize(size))
    }

    /// The size of the kernel's receive buffer, as the system reports it.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.socket.recv_buffer_size().map(saturate)
    }

    /// Sets `SO_KEEPALIVE`: whether the system probes an idle connection, so that a peer
    /// that vanished is noticed.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.socket.set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.socket.keepalive()
    }

    /// Turns keepalive on, with the first probe after `time` without traffic
    /// (`TCP_KEEPIDLE`, `TCP_KEEPALIVE` on Apple systems, `SIO_KEEPALIVE_VALS` on Windows).
    pub fn set_keepalive_time(&self, time: Duration) -> io::Result<()> {
        self.socket.set_tcp_keepalive(&TcpKeepalive::new().with_time(time))
    }

    /// The idle time before the first keepalive probe. Not on Windows, which cannot read
    /// it back, nor OpenBSD, which sets it for the whole system.
    #[cfg(all(unix, not(target_os = "openbsd")))]
    #[cfg_attr(docsrs, doc(cfg(all(unix, not(target_os = "openbsd")))))]
    pub fn keepalive_time(&self) -> io::Result<Duration> {
        self.socket.tcp_keepalive_time()
    }

    /// Turns keepalive on, with `interval` between unanswered probes (`TCP_KEEPINTVL`).
    /// Where the system sets it per socket: Linux, Android, the BSDs but OpenBSD, Apple
    /// systems, illumos and Windows.
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "illumos",
        target_vendor = "apple",
        windows
    ))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "illumos",
            target_vendor = "apple",
            windows
        )))
    )]
    pub fn set_keepalive_interval(&self, interval: Duration) -> io::Result<()> {
        self.socket.set_tcp_keepalive(&TcpKeepalive::new().with_interval(interval))
    }

    /// The time between unanswered keepalive probes; as its setter, but not on Windows,
    /// which cannot read it back.
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "illumos",
        target_vendor = "apple"
    ))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "illumos",
            target_vendor = "apple"
        )))
    )]
    pub fn keepalive_interval(&self) -> io::Result<Duration> {
        self.socket.tcp_keepalive_interval()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes closing the connection reset it
    /// rather than close it gracefully; `None` (the default) closes it in the background.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.socket.set_linger(linger)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.socket.linger()
    }

    /// Sets `TCP_NODELAY`: whether small writes go out at once rather than being coalesced
    /// (Nagle's algorithm). A connected stream keeps it.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.socket.tcp_nodelay()
    }

    /// Binds the local end to `addr`: before [`listen`](Self::listen), the address to
    /// listen on; before [`connect`](Self::connect), the address and port the connection
    /// leaves from (port 0: one the system picks).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket.bind(&addr.into())
    }

    /// The local address: where [`bind`](Self::bind) put the socket, with the port the
    /// system picked for port 0.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let addr = self.socket.local_addr()?;
        addr.as_socket().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "the socket has a non-IP local address")
        })
    }

    /// Connects to `addr` without blocking the runtime's thread, and returns the stream,
    /// registered with the runtime of the calling thread and with the options set here.
    ///
    /// A refused connection is an error of kind [`io::ErrorKind::ConnectionRefused`].
    /// Dropping the future closes the socket and abandons the connection.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let connected = TcpStream::connect_socket(self.socket, addr).await;
        trace::io_error!(&connected, "connect failed");
        connected
    }

    /// Starts listening, with room for `backlog` connections that are waiting for
    /// [`accept`](TcpListener::accept) (the system may cap it: `somaxconn` on Linux), and
    /// returns the listener, registered with the runtime of the calling thread. Binds to an
    /// address the system picks if [`bind`](Self::bind) was not called.
    ///
    /// # Errors
    ///
    /// Outside of a plexio runtime, or if the runtime's backend refuses the socket; a
    /// `backlog` above `i32::MAX` is [`io::ErrorKind::InvalidInput`].
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "a listen backlog above i32::MAX")
        })?;
        self.socket.listen(backlog)?;
        TcpListener::from_std(self.socket.into())
    }
}

/// Buffer sizes cross the API as `u32`, as the system stores them.
fn to_usize(size: u32) -> usize {
    usize::try_from(size).unwrap_or(usize::MAX)
}

fn saturate(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket").field("local_addr", &self.local_addr().ok()).finish()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.socket)
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsSocket for TcpSocket {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        std::os::windows::io::AsSocket::as_socket(&self.socket)
    }
}
