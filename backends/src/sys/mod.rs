//! The thin OS layer shared by plexio's own backends: raw handle types, the `syscall!`
//! helper, the wake channel that interrupts a blocked `select`/`poll`, the one receive call
//! whose result differs by OS, and the peer credentials of Unix domain sockets.

#[cfg(unix)]
mod peer_credentials;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use peer_credentials::{PeerCredentials, peer_credentials};
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

mod datagram;
pub use datagram::{Datagram, recv_datagram};

#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) mod wake_channel;
