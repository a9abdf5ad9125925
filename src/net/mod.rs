//! Networking: TCP listeners and streams, UDP sockets.
//!
//! Every type registers its socket with the runtime running on the thread that creates it,
//! and removes the registration when dropped. Creating one outside of a runtime fails with
//! an error whose source is [`Error::NoRuntime`](crate::Error::NoRuntime). Once that runtime
//! is dropped, every operation that waits for the socket fails with
//! [`Error::RuntimeShutdown`](crate::Error::RuntimeShutdown); the socket itself stays open
//! until the object is dropped.
//!
//! Which operations are cancel-safe, and which `futures` helpers are not, is in the
//! [guide](crate::guide#cancel-safety).

mod addr;
mod split;
mod tcp_listener;
mod tcp_stream;
mod udp_socket;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use tcp_listener::{Incoming, TcpListener};
pub use tcp_stream::TcpStream;
pub use udp_socket::UdpSocket;
