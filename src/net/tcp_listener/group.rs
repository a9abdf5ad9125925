//! Binding a listener as a group of `SO_REUSEPORT` sockets, one per worker of a multi-worker
//! runtime, where the kernel balances incoming connections among the sockets of a port
//! (see `AcceptSpread` for the list, which [`KERNEL_BALANCES`] holds).
//!
//! Every socket of the group binds the same address with the option set before `bind`,
//! which is what lets them share the port; for port 0 the first binds, and the others bind
//! the port the system gave it. Each listening socket is registered with its own worker's
//! driver, so that the connections the kernel queues on it are registered there too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use plexio_backends::Interest;
use socket2::{Domain, Protocol, Socket, Type};

use crate::driver::current;
use crate::driver::reactor::{Reactor, Registration};

use super::Listening;

/// Whether this kernel spreads the connections of a port over every socket bound to it with
/// `SO_REUSEPORT` (FreeBSD: `SO_REUSEPORT_LB`). Apple's systems, OpenBSD and NetBSD accept
/// the option but queue each connection on one socket; Windows has no such option.
pub(super) const KERNEL_BALANCES: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
));

/// Binds `addr` with one listening socket per reactor of `workers`, each registered with its
/// reactor. `Ok(None)` where the kernel does not balance, or when a socket after the first
/// cannot bind the port, or the kernel lacks the option: the caller then binds one socket,
/// as on a runtime of one thread, and nothing of the group is left open. An error only where one socket could not bind
/// either (the address is taken, or not this machine's).
pub(super) fn bind(
    addr: SocketAddr,
    workers: &[Arc<Reactor>],
    backlog: i32,
) -> io::Result<Option<Vec<Listening>>> {
    if !KERNEL_BALANCES {
        return Ok(None);
    }
    if addr.port() != 0 {
        // A port that another listener of this user holds with `SO_REUSEPORT` would be
        // shared silently: it must be refused, as a socket without the option is refused.
        drop(plain(addr)?);
    }
    let Ok(first) = balancing_socket(addr) else {
        // A kernel without the option (FreeBSD before 12): one socket, then.
        return Ok(None);
    };
    first.bind(&addr.into())?;
    let addr = first.local_addr()?.as_socket().unwrap_or(addr);
    let mut sockets = vec![first];
    for _ in 1..workers.len() {
        match balancing_socket(addr).and_then(|socket| socket.bind(&addr.into()).map(|()| socket)) {
            Ok(socket) => sockets.push(socket),
            // Dropping `sockets` closes them: bound only, nothing queued on them yet.
            Err(_) => return Ok(None),
        }
    }
    for socket in &sockets {
        if socket.listen(backlog).is_err() {
            return Ok(None);
        }
    }
    let mut group = Vec::with_capacity(sockets.len());
    for (socket, worker) in sockets.into_iter().zip(workers) {
        let listener = Arc::new(std::net::TcpListener::from(socket));
        // A refusal drops `group`, which deregisters and closes what was registered.
        let io = current::register_with(worker.clone(), || {
            Registration::new(listener, Interest::READABLE)
        })?;
        group.push(Listening { io, worker: Some(worker.clone()) });
    }
    Ok(Some(group))
}

/// A non-blocking socket for `addr` with `SO_REUSEADDR` (as every listener binds: a
/// restarted server binds while old connections linger in `TIME_WAIT`).
fn socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// A socket bound to `addr` without `SO_REUSEPORT`: whether the port is free.
fn plain(addr: SocketAddr) -> io::Result<Socket> {
    let socket = socket(addr)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// A socket for `addr` with the option that makes the kernel balance connections among the
/// sockets of the port, not bound yet.
fn balancing_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = socket(addr)?;
    balance(&socket)?;
    Ok(socket)
}

/// Sets the option that makes the kernel balance connections among the sockets of a port.
fn balance(socket: &Socket) -> io::Result<()> {
    // FreeBSD's plain `SO_REUSEPORT` keeps the old BSD meaning (the port may be bound
    // again, but each connection is queued on one socket, not spread); its balancing
    // option is `SO_REUSEPORT_LB` (FreeBSD 12).
    #[cfg(target_os = "freebsd")]
    return socket.set_reuse_port_lb(true);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "dragonfly"))]
    return socket.set_reuse_port(true);
    // Never reached: `bind` asks for no group where `KERNEL_BALANCES` is false.
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly"
    )))]
    {
        let _ = socket;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}
