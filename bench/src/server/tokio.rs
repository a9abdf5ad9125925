//! The tokio echo servers, on the current-thread and the multi-thread runtime.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};

use super::{BUFFER_SIZE, Buffers, accept_failed, at_once};

/// Serves on `listener` with tokio's current-thread runtime.
pub(super) fn serve_current_thread(
    listener: std::net::TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    serve(Builder::new_current_thread().enable_all().build()?, listener, buffers, announce)
}

/// Serves on `listener` with tokio's multi-thread runtime and `workers` worker threads, by
/// default its own count (one per CPU the process may run on).
pub(super) fn serve_multi_thread(
    listener: std::net::TcpListener,
    buffers: Buffers,
    workers: Option<usize>,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let mut builder = Builder::new_multi_thread();
    if let Some(count) = workers {
        builder.worker_threads(count);
    }
    serve(builder.enable_all().build()?, listener, buffers, announce)
}

/// Serves with `workers` tokio current-thread runtimes (one per CPU by default), each on a
/// thread of its own with a `SO_REUSEPORT` listener of its own bound to `listener`'s
/// address, among which the kernel spreads the connections: thread-per-core.
#[cfg(target_os = "linux")]
pub(super) fn serve_per_core(
    listener: std::net::TcpListener,
    buffers: Buffers,
    workers: Option<usize>,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let count = workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let addr = listener.local_addr()?;
    let mut listeners = vec![listener];
    for _ in 1..count {
        listeners.push(super::listener(addr, super::PortSharing::Shared)?);
    }
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            std::thread::spawn(move || {
                let runtime = Builder::new_current_thread().enable_all().build()?;
                serve(runtime, listener, buffers, || Ok(()))
            })
        })
        .collect();
    announce()?;
    for thread in threads {
        thread.join().map_err(|_| io::Error::other("a tokio-tpc thread panicked"))??;
    }
    Ok(())
}

fn serve(
    runtime: Runtime,
    listener: std::net::TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    runtime.block_on(async {
        let listener = TcpListener::from_std(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match buffers {
                    Buffers::Eager => {
                        tokio::spawn(echo(stream));
                    }
                    Buffers::Lazy => {
                        tokio::spawn(echo_lazy(stream));
                    }
                },
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        tokio::time::sleep(pause).await;
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
