//! The smol echo server: `smol::block_on` driving a `LocalExecutor` on one thread.

use std::io;
use std::sync::Arc;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use smol::{Async, LocalExecutor, Timer};

use super::{BUFFER_SIZE, Buffers, accept_failed, at_once};

/// Serves on `listener` on the calling thread, allocating each connection's buffer as
/// `buffers` says.
pub(super) fn serve(
    listener: std::net::TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let executor = LocalExecutor::new();
    smol::block_on(executor.run(async {
        let listener = TcpListener::try_from(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match buffers {
                    Buffers::Eager => executor.spawn(echo(stream)).detach(),
                    Buffers::Lazy => executor.spawn(echo_lazy(stream.into())).detach(),
                },
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        Timer::after(pause).await;
                    }
                }
            }
        }
    }))
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
///
/// `smol::net::TcpStream` has no `readable()`; it is a wrapper around this
/// `Arc<Async<TcpStream>>`, which has, and which reads and writes through `&Async`.
async fn echo_lazy(stream: Arc<Async<std::net::TcpStream>>) {
    if stream.get_ref().set_nodelay(true).is_err() {
        return;
    }
    let mut stream = &*stream;
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
