//! The plexio echo server, on any of its backends.
//!
//! Two ways of reading and writing: [`Api::Borrowed`], `read(&mut buffer)` and
//! `write_all(&buffer[..n])` (`futures::io`'s traits), the same program on every backend; and
//! [`Api::Owned`], `read_owned(buffer)` and `write_all_owned(buffer)`, which hand the buffer
//! to the runtime and get it back with the result: on the `uring` backend the kernel receives
//! into it and sends from it with no copy, where the borrowed calls go through the socket's
//! own buffer (a read) or a copy sent write-behind (a write).

use std::io;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream};

use super::{BUFFER_SIZE, Buffers, accept_failed, at_once};

/// How a plexio server reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    /// `read(&mut buffer)`, then `write_all(&buffer[..n])`.
    Borrowed,
    /// `read_owned(buffer)`, then `write_all_owned(buffer)`: the buffer travels with the
    /// operation and comes back with its result.
    Owned,
}

/// How a plexio server runs.
pub(super) struct Serve {
    /// The backend the runtime must run on.
    pub(super) backend: &'static str,
    /// How it reads and writes.
    pub(super) api: Api,
    /// When each connection's buffer is allocated.
    pub(super) buffers: Buffers,
    /// The worker threads of a multi-worker runtime; `None`: a runtime of one thread.
    pub(super) workers: Option<usize>,
}

impl Serve {
    /// Serves on `listener`; calls `announce` once listening. Fails if the runtime does not
    /// run on the backend asked for. With workers, the accept loop runs on the thread of
    /// `block_on` and each connection's task goes to a worker; the listener is bound again
    /// by `TcpListener::bind` on the same address, so that the runtime spreads accepted
    /// connections its own way (one `SO_REUSEPORT` socket per worker on Linux, or by live
    /// load with `PLEXIO_BENCH_ACCEPT=live-load`; see `plexio::AcceptSpread`).
    pub(super) fn run(
        self,
        listener: std::net::TcpListener,
        announce: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<()> {
        let builder = plexio::Runtime::builder().backend(self.backend);
        let builder = match self.workers {
            Some(count) => builder.worker_threads(count),
            None => builder,
        };
        let builder = match std::env::var("PLEXIO_BENCH_ACCEPT").as_deref() {
            Ok("live-load") => builder.accept_spread(plexio::AcceptSpread::LiveLoad),
            _ => builder,
        };
        let runtime = builder.build().map_err(io::Error::other)?;
        let listener = match self.workers {
            Some(_) => {
                let addr = listener.local_addr()?;
                drop(listener);
                Listening::Address(addr)
            }
            None => Listening::Socket(listener),
        };
        serve(&runtime, self.backend, self.api, listener, self.buffers, announce)
    }
}

/// What a server listens on: the socket the driver made, or (with workers) its address,
/// given back to be bound by `TcpListener::bind`.
enum Listening {
    Socket(std::net::TcpListener),
    Address(std::net::SocketAddr),
}

fn serve(
    runtime: &plexio::Runtime,
    backend: &str,
    api: Api,
    listener: Listening,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    runtime.block_on(async {
        // A figure measured on another backend than the one named would be a wrong figure.
        let running = plexio::current_backend();
        if running != Some(backend) {
            return Err(io::Error::other(format!(
                "asked for plexio's {backend:?} backend, running on {running:?}"
            )));
        }
        let listener = match listener {
            Listening::Socket(listener) => TcpListener::from_std(listener)?,
            // The driver's socket is closed by now: nothing connects before `announce`.
            Listening::Address(addr) => TcpListener::bind(addr).await?,
        };
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match (api, buffers) {
                    (Api::Borrowed, Buffers::Eager) => {
                        plexio::spawn(echo(stream));
                    }
                    (Api::Borrowed, Buffers::Lazy) => {
                        plexio::spawn(echo_lazy(stream));
                    }
                    (Api::Owned, Buffers::Eager) => {
                        plexio::spawn(echo_owned(stream));
                    }
                    (Api::Owned, Buffers::Lazy) => {
                        plexio::spawn(echo_owned_lazy(stream));
                    }
                },
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        plexio::time::sleep(pause).await;
                    }
                }
            }
        }
    })
}

/// Echoes one connection until it ends.
async fn echo(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buffer = vec![0; BUFFER_SIZE];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Echoes one connection until it ends, holding no buffer while it waits for data: waits
/// until the socket is readable, then allocates the buffer, reads once (without waiting),
/// writes back what was read, and drops the buffer before waiting again.
async fn echo_lazy(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let mut buffer = vec![0; BUFFER_SIZE];
        // A read that does not wait: readiness may be stale, and the buffer must not be held
        // while waiting.
        let Some(read) = at_once(stream.read(&mut buffer)).await else { continue };
        let Ok(n @ 1..) = read else { return };
        if stream.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// Echoes one connection until it ends with owned buffers: the connection's buffer (allocated
/// zeroed, then emptied: `read_owned` fills its spare capacity) is handed to each read and
/// write and comes back with the result, and is emptied again between rounds.
async fn echo_owned(stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buffer = vec![0; BUFFER_SIZE];
    loop {
        buffer.clear();
        let (read, returned) = stream.read_owned(buffer).await;
        let Ok(1..) = read else { return };
        let (written, returned) = stream.write_all_owned(returned).await;
        if written.is_err() {
            return;
        }
        buffer = returned;
    }
}

/// Echoes one connection until it ends with owned buffers, holding no buffer while it waits
/// for data: waits until the socket is readable (`readable()`, no buffer), then allocates
/// the buffer, reads into it, writes back what was read, and drops it before waiting again.
///
/// The read is awaited, not tried once as in [`echo_lazy`]: on a completion driver an owned
/// read is a receive operation that is submitted when the runtime next enters the kernel, so
/// it never completes on its first poll, and a dropped one would leave its receive, and the
/// buffer in it, with the socket. After `readable()` the data (or end of stream, or an error)
/// is there, and the receive completes as it is submitted.
async fn echo_owned_lazy(stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let mut buffer = vec![0; BUFFER_SIZE];
        buffer.clear();
        let (read, buffer) = stream.read_owned(buffer).await;
        let Ok(1..) = read else { return };
        if stream.write_all_owned(buffer).await.0.is_err() {
            return;
        }
    }
}
