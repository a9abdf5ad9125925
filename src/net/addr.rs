//! Resolving addresses and trying each in turn.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Tries `attempt` on each address `addr` resolves to, in order, until one succeeds; the
/// error of the last attempt otherwise.
///
/// Host names are resolved by the system resolver on the calling thread (a blocking call);
/// pass `SocketAddr`s, or `"ip:port"` strings, to avoid it.
pub(crate) async fn try_each<T, F, Fut>(addr: impl ToSocketAddrs, mut attempt: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last_error = None;
    for addr in addr.to_socket_addrs()? {
        match attempt(addr).await {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to no socket address")
    }))
}
