//! The I/O drivers: what turns a backend's notifications into woken tasks: the readiness
//! [`reactor`], and on a completion driver (io_uring) the [`completion`] side next to it,
//! which runs the operations whose buffers the kernel owns until they complete.
//!
//! A driver imports only the leaves ([`util`](crate::util), [`stats`](crate::stats)); the
//! runtime above makes one current on its thread ([`current`]), and the sockets of `net`
//! and `io` register with it.

pub(crate) mod completion;
pub(crate) mod current;
pub(crate) mod reactor;
