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

/// Serves on `listener` with tokio's multi-thread runtime and its default worker count (one
/// per CPU the process may run on).
pub(super) fn serve_multi_thread(
    listener: std::net::TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    serve(Builder::new_multi_thread().enable_all().build()?, listener, buffers, announce)
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
