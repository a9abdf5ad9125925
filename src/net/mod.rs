//! Networking: TCP listeners and streams, UDP sockets, and on Unix, Unix domain sockets.
//!
//! Every type registers its socket with the runtime running on the thread that creates it,
//! and removes the registration when dropped. Creating one outside of a runtime fails with
//! an error whose source is [`Error::NoRuntime`](crate::Error::NoRuntime). Once that runtime
//! is dropped, every operation that waits for the socket fails with
//! [`Error::RuntimeShutdown`](crate::Error::RuntimeShutdown); the socket itself stays open
//! until the object is dropped.
//!
//! A socket serves the runtime it was created on. The types are `Send`, so that a socket
//! can travel inside a value, but its operations work only inside that runtime's
//! `block_on` (in its tasks or its main future): on a thread that runs another runtime they
//! fail at once with [`Error::OtherRuntime`](crate::Error::OtherRuntime), and outside any
//! runtime with `NoRuntime`, rather than wait for a runtime that may never poll for them.
//! To move a socket to another runtime, take it out with `into_std` and wrap it again with
//! `from_std` on the other runtime's thread.
//!
//! Which operations are cancel-safe, and which `futures` helpers are not, is in the
//! [guide](crate::guide::from_tokio#cancel-safety).

mod addr;
mod byte_stream;
mod happy_eyeballs;
mod split;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp_socket;
#[cfg(unix)]
pub mod unix;

pub use addr::{ToSocketAddrs, lookup_host};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use tcp_listener::{Incoming, TcpListener};
pub use tcp_socket::TcpSocket;
pub use tcp_stream::TcpStream;
pub use udp_socket::{RecvMeta, UdpSocket};
#[cfg(unix)]
pub use unix::{PeerCredentials, UnixDatagram, UnixListener, UnixStream};
