//! `UdpSocket`: datagrams.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use plexio_backends::completion::Operation;
use plexio_backends::{Datagram, Interest, recv_datagram};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::addr::{ToSocketAddrs, try_each};
use crate::driver::reactor::{Registration, Shared};

/// A UDP socket.
///
/// Every operation is cancel-safe: a datagram is either received by the operation that
/// completes, or left in the socket's queue; a dropped `send` or `send_to` sent nothing.
///
/// A datagram longer than the buffer given to receive it is cut to the buffer, the same way
/// on every OS (Windows reports it as the error `WSAEMSGSIZE`, which plexio does not pass
/// on): the receive returns the bytes that fit and the rest of the datagram is discarded.
/// [`recv_msg`](UdpSocket::recv_msg) also says whether that happened. A receive into an
/// empty buffer returns `Ok(0)` and takes the datagram.
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
    io: Registration<Shared<std::net::UdpSocket>>,
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
        Ok(UdpSocket { io: Registration::new(Arc::new(socket), Interest::BOTH)? })
    }

    /// Deregisters the socket and hands it back (still non-blocking).
    ///
    /// On a completion runtime, fails with [`io::ErrorKind::ResourceBusy`] while an
    /// operation still holds the socket.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.io.into_unshared()
    }

    /// Sends `buffer` as one datagram to `target`, returning how many bytes were sent and
    /// the buffer. On a completion driver (`uring`) the kernel sends from `buffer` itself.
    pub async fn send_to_owned(
        &self,
        buffer: Vec<u8>,
        target: SocketAddr,
    ) -> (io::Result<usize>, Vec<u8>) {
        let send = Operation::SendTo { source: self.io.shared_source(), buffer, target };
        let (sent, operation) = self.io.run(send).await;
        (sent, operation.into_buffer())
    }

    /// Receives one datagram into the spare capacity of `buffer` (after its `len()`, up to
    /// its `capacity()`; a longer datagram is cut), growing its `len()` by its size, and
    /// returns its size, its sender and the buffer. On a completion driver (`uring`) the
    /// kernel receives straight into `buffer`; a dropped future cancels the receive there,
    /// and a datagram the kernel had already delivered to it is dropped with it.
    pub async fn recv_from_owned(
        &self,
        buffer: Vec<u8>,
    ) -> (io::Result<(usize, SocketAddr)>, Vec<u8>) {
        let receive =
            Operation::ReceiveFrom { source: self.io.shared_source(), buffer, from: None };
        let (received, operation) = self.io.run(receive).await;
        let Operation::ReceiveFrom { buffer, from, .. } = operation else {
            unreachable!("the operation comes back as it went")
        };
        let result = received.and_then(|received| match from {
            Some(from) => Ok((received, from)),
            None => Err(io::Error::other("the system gave no sender address")),
        });
        (result, buffer)
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
    /// cut to it (see [`recv_msg`](Self::recv_msg) to learn whether it was).
    pub async fn recv(&self, buffer: &mut [u8]) -> io::Result<usize> {
        self.io.io(Interest::READABLE, |socket| receive(socket, buffer, false)).await.map(|d| d.len)
    }

    /// Sends a datagram to `target`.
    pub async fn send_to(&self, buffer: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        try_each(target, |target| {
            self.io.io(Interest::WRITABLE, move |socket| socket.send_to(buffer, target))
        })
        .await
    }

    /// Receives a datagram and the address it came from; a datagram longer than `buffer` is
    /// cut to it (see [`recv_msg`](Self::recv_msg) to learn whether it was).
    pub async fn recv_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buffer)).await
    }

    /// Receives a datagram, and says how long it was cut, where it came from, and whether
    /// it was longer than `buffer`.
    ///
    /// ```
    /// plexio::block_on(async {
    ///     let a = plexio::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = plexio::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"a datagram of 22 bytes", b.local_addr()?).await?;
    ///     let mut buffer = [0; 10];
    ///     let meta = b.recv_msg(&mut buffer).await?;
    ///     assert_eq!((meta.len, meta.truncated), (10, true));
    ///     assert_eq!(&buffer, b"a datagram");
    ///     Ok::<(), std::io::Error>(())
    /// }).unwrap();
    /// ```
    pub async fn recv_msg(&self, buffer: &mut [u8]) -> io::Result<RecvMeta> {
        let datagram = self.io.io(Interest::READABLE, |socket| receive(socket, buffer, false));
        RecvMeta::new(datagram.await?)
    }

    /// Polls to receive a datagram and the address it came from; a datagram longer than
    /// `buffer` is cut to it.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buffer: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io
            .poll_io(cx, Interest::READABLE, |socket| receive(socket, buffer, false))
            .map(|received| RecvMeta::new(received?).map(|meta| (meta.len, meta.from)))
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

    /// Receives a datagram without removing it from the queue; a datagram longer than
    /// `buffer` is cut to it, and stays queued whole.
    pub async fn peek_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let datagram = self.io.io(Interest::READABLE, |socket| receive(socket, buffer, true));
        RecvMeta::new(datagram.await?).map(|meta| (meta.len, meta.from))
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

    /// Joins the IPv4 multicast group `multiaddr` on the interface whose address is
    /// `interface` ([`Ipv4Addr::UNSPECIFIED`]: one the system picks by its routes). The
    /// socket then receives the datagrams sent to the group and to its own port.
    ///
    /// On Linux a socket bound to the wildcard address also receives datagrams sent to its
    /// port for any group that *another* socket on the host has joined on that interface
    /// (`IP_MULTICAST_ALL`, on by default), even after it has left the group itself. Give
    /// unrelated programs different groups or ports.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// plexio::block_on(async {
    ///     let socket = plexio::net::UdpSocket::bind("0.0.0.0:0").await?;
    ///     // 127.0.0.1 names the loopback interface, which needs no multicast route.
    ///     match socket.join_multicast_v4(Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::LOCALHOST) {
    ///         Ok(()) => socket.leave_multicast_v4(Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::LOCALHOST)?,
    ///         // Some systems cannot do multicast on their loopback interface.
    ///         Err(error) => eprintln!("no multicast here: {error}"),
    ///     }
    ///     Ok::<(), std::io::Error>(())
    /// }).unwrap();
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface of index `interface`
    /// (0: one the system picks). A link-local group (`ff02::/16`) needs an interface.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether the IPv4 multicast datagrams this socket sends
    /// are delivered to the sockets of this host that joined the group too (on by default).
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`, as [`set_multicast_loop_v4`](Self::set_multicast_loop_v4)
    /// for IPv6.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v6(on)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v6()
    }

    /// Sets `IP_MULTICAST_TTL`: how many routers the IPv4 multicast datagrams this socket
    /// sends may cross (1, the default, keeps them on the local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL` setting.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get_ref().multicast_ttl_v4()
    }

    /// Sets `IP_MULTICAST_IF`: the interface, by its address, that the IPv4 multicast
    /// datagrams this socket sends leave from ([`Ipv4Addr::UNSPECIFIED`]: by the routes).
    pub fn set_multicast_if_v4(&self, interface: Ipv4Addr) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_multicast_if_v4(&interface)
    }

    /// The `IP_MULTICAST_IF` setting.
    pub fn multicast_if_v4(&self) -> io::Result<Ipv4Addr> {
        SockRef::from(self.io.get_ref()).multicast_if_v4()
    }

    /// Sets `IPV6_MULTICAST_IF`: the index of the interface the IPv6 multicast datagrams
    /// this socket sends leave from (0: by the routes).
    pub fn set_multicast_if_v6(&self, interface: u32) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_multicast_if_v6(interface)
    }

    /// The `IPV6_MULTICAST_IF` setting.
    pub fn multicast_if_v6(&self) -> io::Result<u32> {
        SockRef::from(self.io.get_ref()).multicast_if_v6()
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

/// What [`UdpSocket::recv_msg`] learned about the datagram it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecvMeta {
    /// How many bytes were written to the front of the buffer.
    pub len: usize,
    /// The address the datagram came from.
    pub from: SocketAddr,
    /// Whether the datagram was longer than the buffer: its other bytes are discarded.
    pub truncated: bool,
}

impl RecvMeta {
    fn new(datagram: Datagram) -> io::Result<RecvMeta> {
        let from = datagram.from.as_socket().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "a datagram from a non-IP address")
        })?;
        Ok(RecvMeta { len: datagram.len, from, truncated: datagram.truncated })
    }
}

/// One receive, with the same result for a datagram longer than `buffer` on every OS.
fn receive(socket: &std::net::UdpSocket, buffer: &mut [u8], peek: bool) -> io::Result<Datagram> {
    recv_datagram(SockRef::from(socket), buffer, peek)
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
