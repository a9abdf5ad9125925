//! Unix domain sockets: [`UnixListener`], [`UnixStream`] and [`UnixDatagram`], on every
//! backend, on Unix only.
//!
//! They behave like their TCP and UDP counterparts: the same readiness, cancel safety and
//! runtime rules (see the [`net`](crate::net) module), with filesystem paths, or on Linux
//! and Android abstract names, for addresses.
//!
//! # The socket file
//!
//! Binding to a path creates a socket file there; binding fails with
//! [`AddrInUse`](std::io::ErrorKind::AddrInUse) if anything exists at that path, a socket
//! file left by an earlier run included. plexio never removes the file: dropping the
//! listener or the datagram socket closes the socket and leaves the file behind, as std and
//! the operating system do, because only the program knows whether another process may
//! still be about to use the path. Remove it yourself (`std::fs::remove_file`) before
//! binding again or when you are done.
//!
//! # Abstract names (Linux, Android)
//!
//! An abstract name lives in the kernel, not the filesystem: no file is created, nothing
//! is left behind, and the name is free again once the last socket bound to it closes. Make
//! one with `std::os::linux::net::SocketAddrExt::from_abstract_name` and use the `*_addr`
//! functions ([`UnixListener::bind_addr`], [`UnixStream::connect_addr`],
//! [`UnixDatagram::bind_addr`], [`UnixDatagram::send_to_addr`]).
//!
//! # Peer credentials
//!
//! [`UnixStream::peer_credentials`] gives the user, group and (on Linux, Android, macOS and
//! iOS) process id of the peer, as the kernel recorded them when the connection was made.

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use plexio_backends::PeerCredentials;
pub use stream::UnixStream;

use std::io;
use std::os::unix::net::SocketAddr;

use socket2::SockAddr;

/// `addr` in the form socket2 binds and connects with: a path, or an abstract name (which
/// socket2 takes as a path that starts with a NUL byte).
fn sock_addr(addr: &SocketAddr) -> io::Result<SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return SockAddr::unix(path);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        if let Some(name) = addr.as_abstract_name() {
            let mut path = vec![0];
            path.extend_from_slice(name);
            return SockAddr::unix(std::ffi::OsStr::from_bytes(&path));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "an unnamed address cannot be bound or connected to",
    ))
}
