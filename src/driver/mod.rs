//! The I/O drivers: what turns a backend's notifications into woken tasks. Today the
//! readiness [`reactor`]; a completion driver will join it here.
//!
//! A driver imports only the leaves ([`util`](crate::util), [`stats`](crate::stats)); the
//! runtime above makes one current on its thread ([`current`]), and the sockets of `net`
//! and `io` register with it.

pub(crate) mod current;
pub(crate) mod reactor;
