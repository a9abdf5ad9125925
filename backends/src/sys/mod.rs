//! The thin OS layer shared by plexio's own backends: raw handle types, the `syscall!`
//! helper, and the wake channel that interrupts a blocked `select`/`poll`.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) mod wake_channel;
