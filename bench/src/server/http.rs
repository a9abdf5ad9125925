//! The HTTP servers of the `http` scenario: the same hyper 1.x HTTP/1.1 server, one thread,
//! on plexio (through plexio's `hyper` feature) and on tokio's current-thread runtime
//! (through hyper-util's `TokioIo` and `TokioTimer`, as hyper's own examples run it).
//!
//! Written alike, like the echo servers: the listening socket from [`listener`], one accept
//! loop, `TCP_NODELAY` on every connection, one task per connection serving keep-alive
//! HTTP/1.1 with a timer (so hyper's header-read timeout is armed on both), and one answer
//! to every request: `200 OK` with [`BODY`].

use std::convert::Infallible;
use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::{PortSharing, accept_failed, listener};

/// What every request is answered with.
pub const BODY: &[u8] = b"Hello, World!";

/// An HTTP server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpServerKind {
    /// hyper on plexio's `mio` backend (epoll).
    PlexioMio,
    /// hyper on plexio's `uring` completion driver (Linux).
    PlexioUring,
    /// hyper on tokio's current-thread runtime.
    TokioCt,
}

impl HttpServerKind {
    /// Every kind, in report order.
    pub const ALL: [HttpServerKind; 3] =
        [HttpServerKind::PlexioMio, HttpServerKind::PlexioUring, HttpServerKind::TokioCt];

    /// The name `http-server --kind` takes.
    pub fn name(self) -> &'static str {
        match self {
            HttpServerKind::PlexioMio => "plexio-mio",
            HttpServerKind::PlexioUring => "plexio-uring",
            HttpServerKind::TokioCt => "tokio-ct",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<HttpServerKind> {
        HttpServerKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether this kind can run on this platform.
    pub fn is_supported(self) -> bool {
        self != HttpServerKind::PlexioUring || cfg!(target_os = "linux")
    }
}

impl fmt::Display for HttpServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The one answer.
async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

/// Runs the HTTP server `kind` on `addr`: binds, prints the bound address and its process
/// id on a line of its own (`127.0.0.1:41234 5678`, as the echo servers do), then serves
/// until killed.
pub fn serve(kind: HttpServerKind, addr: SocketAddr) -> io::Result<()> {
    // Servers of the http scenario run side by side in its shared-core runs.
    let listener = listener(addr, PortSharing::Exclusive)?;
    let bound = listener.local_addr()?;
    let announce = move || -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{bound} {}", std::process::id())?;
        stdout.flush()
    };
    match kind {
        HttpServerKind::PlexioMio => serve_plexio("mio", listener, announce),
        HttpServerKind::PlexioUring => serve_plexio("uring", listener, announce),
        HttpServerKind::TokioCt => serve_tokio(listener, announce),
    }
}

fn serve_plexio(
    backend: &str,
    listener: std::net::TcpListener,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    use plexio::hyper::PlexioTimer;
    let runtime = plexio::Runtime::builder().backend(backend).build().map_err(io::Error::other)?;
    if runtime.backend_name() != backend {
        return Err(io::Error::other(format!("runs on {}, not {backend}", runtime.backend_name())));
    }
    runtime.block_on(async {
        let listener = plexio::net::TcpListener::from_std(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    stream.set_nodelay(true)?;
                    plexio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(PlexioTimer)
                            .serve_connection(stream, hyper::service::service_fn(hello))
                            .await;
                    });
                }
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        plexio::time::sleep(pause).await;
                    }
                }
            }
        }
    })
}

fn serve_tokio(
    listener: std::net::TcpListener,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    stream.set_nodelay(true)?;
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(
                                TokioIo::new(stream),
                                hyper::service::service_fn(hello),
                            )
                            .await;
                    });
                }
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
    })
}
