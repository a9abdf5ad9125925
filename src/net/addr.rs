//! Socket addresses: what `connect`, `bind` and `send_to` accept, resolved without
//! blocking the runtime's thread, and tried each in turn.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What plexio's `connect`, `bind` and `send_to` accept as an address: the same values as
/// std's [`ToSocketAddrs`](std::net::ToSocketAddrs) (socket addresses, `(ip, port)` pairs,
/// `"host:port"` strings, `(host, port)` pairs, slices of addresses), with one difference:
/// a host name is resolved on the blocking pool ([`spawn_blocking`](crate::task::spawn_blocking)),
/// so that a slow name lookup never stalls the runtime's other tasks. An address written as
/// numbers is parsed in place, with no lookup.
///
/// Sealed: the conversions are plexio's.
pub trait ToSocketAddrs: sealed::Sealed {}

mod sealed {
    use std::net::SocketAddr;

    /// What an address argument turns into: addresses known now, or a name to look up.
    #[derive(Debug)]
    pub enum Resolution {
        /// Known without a lookup.
        Known(Vec<SocketAddr>),
        /// A `host:port` (or `[v6]:port`) string for the system resolver.
        Lookup(String),
    }

    /// The conversion behind [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait Sealed {
        /// What this address argument turns into.
        fn resolution(&self) -> std::io::Result<Resolution>;
    }
}

use sealed::{Resolution, Sealed};

/// Implements the trait for types that name their addresses without a lookup.
macro_rules! known {
    ($($type:ty),* $(,)?) => {
        $(
            impl ToSocketAddrs for $type {}
            impl Sealed for $type {
                fn resolution(&self) -> io::Result<Resolution> {
                    Ok(Resolution::Known(std::net::ToSocketAddrs::to_socket_addrs(self)?.collect()))
                }
            }
        )*
    };
}

known!(SocketAddr, SocketAddrV4, SocketAddrV6, (IpAddr, u16), (Ipv4Addr, u16), (Ipv6Addr, u16),);

impl ToSocketAddrs for [SocketAddr] {}
impl Sealed for [SocketAddr] {
    fn resolution(&self) -> io::Result<Resolution> {
        Ok(Resolution::Known(self.to_vec()))
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {}
impl Sealed for Vec<SocketAddr> {
    fn resolution(&self) -> io::Result<Resolution> {
        self.as_slice().resolution()
    }
}

impl ToSocketAddrs for str {}
impl Sealed for str {
    fn resolution(&self) -> io::Result<Resolution> {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Ok(Resolution::Known(vec![addr])),
            Err(_) => Ok(Resolution::Lookup(self.to_owned())),
        }
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn resolution(&self) -> io::Result<Resolution> {
        self.as_str().resolution()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn resolution(&self) -> io::Result<Resolution> {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Ok(Resolution::Known(vec![SocketAddr::new(ip, port)])),
            // A bare IPv6 host must be bracketed to carry a port through the resolver.
            Err(_) if host.contains(':') => Ok(Resolution::Lookup(format!("[{host}]:{port}"))),
            Err(_) => Ok(Resolution::Lookup(format!("{host}:{port}"))),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn resolution(&self) -> io::Result<Resolution> {
        (self.0.as_str(), self.1).resolution()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: Sealed + ?Sized> Sealed for &T {
    fn resolution(&self) -> io::Result<Resolution> {
        (**self).resolution()
    }
}

/// The addresses `addr` stands for, looked up on the blocking pool if it names a host.
///
/// ```
/// plexio::block_on(async {
///     let addrs = plexio::net::lookup_host("localhost:80").await?;
///     assert!(addrs.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 80));
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn lookup_host(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    match addr.resolution()? {
        Resolution::Known(addrs) => Ok(addrs),
        Resolution::Lookup(name) => {
            let lookup = crate::task::spawn_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&name).map(Iterator::collect)
            });
            lookup.await.map_err(io::Error::from)?
        }
    }
}

/// Tries `attempt` on each address `addr` stands for, in order, until one succeeds; the
/// error of the last attempt otherwise.
pub(crate) async fn try_each<T, F, Fut>(addr: impl ToSocketAddrs, mut attempt: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last_error = None;
    for addr in lookup_host(addr).await? {
        match attempt(addr).await {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to no socket address")
    }))
}
