//! `AcceptSpread`: how a multi-worker runtime spreads the connections a `TcpListener`
//! accepts over its workers, chosen on the [`Builder`](super::Builder), and what the
//! listeners of `net` ask of the runtime running on their thread.

use std::sync::Arc;

use super::context;
use crate::driver::reactor::Reactor;

/// How a multi-worker runtime spreads the connections that a
/// [`TcpListener::bind`](crate::net::TcpListener::bind) accepts over its workers' drivers
/// ([`Builder::accept_spread`](super::Builder::accept_spread)). A runtime of one thread
/// has one driver, and a listener there is one socket whichever is chosen.
///
/// Either way one [`accept`](crate::net::TcpListener::accept) loop takes every
/// connection, and the task spawned for each goes to the worker with the fewest tasks
/// queued; what differs is which worker's driver (event collection) each connection is
/// registered with. Statistics per worker
/// ([`RuntimeStats::accepted`](crate::RuntimeStats::accepted)) show the spread.
///
/// | where | `ReusePort` (the default) runs | `LiveLoad` runs |
/// |---|---|---|
/// | Linux, Android | one `SO_REUSEPORT` socket per worker | one socket, live load |
/// | FreeBSD (12+) | one `SO_REUSEPORT_LB` socket per worker | one socket, live load |
/// | DragonFly BSD | one `SO_REUSEPORT` socket per worker | one socket, live load |
/// | macOS, iOS, OpenBSD, NetBSD, Windows, others | one socket, live load | one socket, live load |
///
/// Where the kernel does not balance connections among the sockets of a port (Apple's
/// systems, OpenBSD and NetBSD let several sockets bind it but queue each connection on
/// one of them; Windows has no such option), `ReusePort` falls back to live load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptSpread {
    /// One listening socket per worker, all bound to the same port with `SO_REUSEPORT`
    /// (`SO_REUSEPORT_LB` on FreeBSD), each registered with its own worker's driver: the
    /// kernel spreads incoming connections over the sockets by a hash of their addresses,
    /// and each connection is registered with the driver of the worker whose socket the
    /// kernel chose. The spread costs nothing per connection and needs no shared count; it
    /// is even on average, not connection by connection (400 connections on four workers:
    /// 91 to 114 per worker, where live load gives 100 each). Live load where the kernel
    /// cannot (see the table above), and when a socket after the first cannot bind the port.
    #[default]
    ReusePort,
    /// One listening socket; each accepted connection is registered with the driver of
    /// the worker that has the fewest sockets registered at that moment: as even as the
    /// workers' loads, connection by connection.
    LiveLoad,
}

/// The workers' reactors, one listening socket for each, when a listener bound on this
/// thread should be a group of `SO_REUSEPORT` sockets: on a multi-worker runtime of more
/// than one worker that chose [`AcceptSpread::ReusePort`]. `None` on a runtime of one
/// thread, outside any runtime, or for [`AcceptSpread::LiveLoad`]. (Whether the kernel
/// balances such a group is the listener's to know.)
pub(crate) fn listener_group() -> Option<Arc<[Arc<Reactor>]>> {
    let pool = context::current()?.pool?;
    let reactors = pool.reactors();
    (pool.accept_spread() == AcceptSpread::ReusePort && reactors.len() > 1).then_some(reactors)
}
