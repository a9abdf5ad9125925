//! The thin OS layer shared by plexio's own backends: raw handle types, the `syscall!`
//! helper, the wake channel that interrupts a blocked `select`/`poll`, and the one receive
//! call whose result differs by OS.

#[cfg(unix)]
mod unix;
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
