//! `TcpSocket`: options set before `connect` and `listen` reach the socket and stay on the
//! stream or listener it becomes, binding the local end before connecting, and the errors
//! of a socket that cannot connect.

mod util;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpSocket, TcpStream};
use plexio::time::timeout;
use util::run;

per_backend!(
    options_read_back_and_stay_on_the_connected_stream,
    bind_before_connect_is_the_address_the_peer_sees,
    listen_with_a_backlog_accepts_and_echoes,
    connect_to_a_closed_port_is_refused,
    ipv6_socket_connects_over_ipv6_loopback,
);

/// Loopback answers at once; past this, something hangs.
const WAIT: Duration = Duration::from_secs(10);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn options_read_back_and_stay_on_the_connected_stream(backend: &str) {
    run(backend, || async {
        let listener = TcpListener::bind(localhost()).await?;
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        assert!(socket.reuseaddr()?);
        socket.set_nodelay(true)?;
        assert!(socket.nodelay()?);
        socket.set_keepalive(true)?;
        assert!(socket.keepalive()?);
        socket.set_linger(Some(Duration::from_secs(3)))?;
        assert_eq!(socket.linger()?, Some(Duration::from_secs(3)));
        // The system may round a size up, or double it (Linux), never take less than asked
        // below its cap (`net.core.wmem_max` and `rmem_max` are far above 64 KiB).
        socket.set_send_buffer_size(64 * 1024)?;
        assert!(socket.send_buffer_size()? >= 64 * 1024, "{}", socket.send_buffer_size()?);
        socket.set_recv_buffer_size(96 * 1024)?;
        assert!(socket.recv_buffer_size()? >= 96 * 1024, "{}", socket.recv_buffer_size()?);

        let stream = timeout(WAIT, socket.connect(listener.local_addr()?)).await??;
        assert!(stream.nodelay()?, "TCP_NODELAY set before connect is kept");
        assert_eq!(stream.peer_addr()?, listener.local_addr()?);
        let (accepted, _) = timeout(WAIT, listener.accept()).await??;
        assert!(!accepted.nodelay()?, "the option is the socket's own, not the listener's");
        Ok(())
    });
}

fn bind_before_connect_is_the_address_the_peer_sees(backend: &str) {
    run(backend, || async {
        let listener = TcpListener::bind(localhost()).await?;
        let socket = TcpSocket::new_v4()?;
        socket.bind(localhost())?;
        let bound = socket.local_addr()?;
        assert_ne!(bound.port(), 0, "binding to port 0 picks a port");
        let stream = timeout(WAIT, socket.connect(listener.local_addr()?)).await??;
        assert_eq!(stream.local_addr()?, bound);
        let (_accepted, peer) = timeout(WAIT, listener.accept()).await??;
        assert_eq!(peer, bound);
        Ok(())
    });
}

fn listen_with_a_backlog_accepts_and_echoes(backend: &str) {
    run(backend, || async {
        let socket = TcpSocket::for_addr(localhost())?;
        socket.set_reuseaddr(true)?;
        socket.bind(localhost())?;
        let listener = socket.listen(16)?;
        let addr = listener.local_addr()?;
        assert_ne!(addr.port(), 0);
        // The server holds its stream until the client closes: on `uring` under chaos, a
        // stream dropped right after `write_all` was seen to lose the bytes (the client read
        // EOF), which is the completion driver's to answer, not this test's.
        let server = plexio::spawn(async move {
            let (mut stream, _) = listener.accept().await?;
            let mut line = [0; 5];
            stream.read_exact(&mut line).await?;
            stream.write_all(&line).await?;
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await?;
            Ok::<_, io::Error>(())
        });
        let mut client = timeout(WAIT, TcpStream::connect(addr)).await??;
        client.write_all(b"hello").await?;
        let mut echo = [0; 5];
        timeout(WAIT, client.read_exact(&mut echo)).await??;
        assert_eq!(&echo, b"hello");
        drop(client);
        timeout(WAIT, server).await???;
        Ok(())
    });
}

fn connect_to_a_closed_port_is_refused(backend: &str) {
    run(backend, || async {
        let closed = util::ClosedPort::new();
        let error = timeout(WAIT, TcpSocket::new_v4()?.connect(closed.addr())).await?.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        Ok(())
    });
}

fn ipv6_socket_connects_over_ipv6_loopback(backend: &str) {
    run(backend, || async {
        let Ok(listener) = TcpListener::bind("[::1]:0").await else {
            // A host without IPv6 loopback cannot run this; say so on the test's output.
            eprintln!("no ::1 on this host: IPv6 connect not exercised");
            return Ok(());
        };
        let socket = TcpSocket::new_v6()?;
        socket.set_nodelay(true)?;
        let stream = timeout(WAIT, socket.connect(listener.local_addr()?)).await??;
        assert!(stream.local_addr()?.is_ipv6());
        // An IPv4 address cannot be reached from an IPv6 socket without mapping: an error,
        // not a hang.
        let mismatch = TcpSocket::new_v6()?.connect("127.0.0.1:9".parse().unwrap());
        assert!(timeout(WAIT, mismatch).await?.is_err());
        Ok(())
    });
}

/// `SO_REUSEPORT` lets two listeners share a port, which is refused without it.
#[cfg(all(unix, not(any(target_os = "illumos", target_os = "solaris"))))]
#[test]
fn reuseport_lets_two_listeners_share_a_port() {
    plexio::block_on(async {
        let first = TcpSocket::new_v4()?;
        first.set_reuseport(true)?;
        assert!(first.reuseport()?);
        first.bind(localhost())?;
        let addr = first.local_addr()?;
        let _first = first.listen(8)?;

        let without = TcpSocket::new_v4()?;
        let refused = without.bind(addr).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AddrInUse, "{refused}");

        let second = TcpSocket::new_v4()?;
        second.set_reuseport(true)?;
        second.bind(addr)?;
        let _second = second.listen(8)?;
        Ok::<(), io::Error>(())
    })
    .unwrap();
}

/// The keepalive timings read back where the system lets them be read.
#[test]
fn keepalive_time_and_interval_turn_keepalive_on() {
    let socket = TcpSocket::new_v4().unwrap();
    assert!(!socket.keepalive().unwrap(), "off by default");
    socket.set_keepalive_time(Duration::from_secs(42)).unwrap();
    assert!(socket.keepalive().unwrap());
    #[cfg(all(unix, not(target_os = "openbsd")))]
    assert_eq!(socket.keepalive_time().unwrap(), Duration::from_secs(42));
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple", windows))]
    {
        socket.set_keepalive_interval(Duration::from_secs(7)).unwrap();
        #[cfg(not(windows))]
        assert_eq!(socket.keepalive_interval().unwrap(), Duration::from_secs(7));
    }
}

/// A socket that is already connected cannot become a `TcpSocket` to connect again.
#[test]
fn a_connected_std_stream_is_refused_with_already_exists() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let error = TcpSocket::from_std_stream(stream).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists, "{error}");
    assert!(error.to_string().contains("already connected"), "{error}");
}

/// A listening socket handed in as a stream is refused, where the system can tell.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
#[test]
fn a_listening_socket_is_refused_with_invalid_input() {
    use std::os::fd::OwnedFd;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let as_stream = std::net::TcpStream::from(OwnedFd::from(listener));
    let error = TcpSocket::from_std_stream(as_stream).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
}

/// A socket made and set up outside any runtime connects inside one.
#[test]
fn a_socket_made_outside_a_runtime_connects_inside_one() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_nodelay(true).unwrap();
    let stream = plexio::block_on(socket.connect(addr)).unwrap();
    assert!(stream.nodelay().unwrap());
    assert!(listener.accept().is_ok());
}
