//! The monoio echo server: monoio's io_uring driver (not its epoll "legacy" one), on one
//! thread, with owned buffers (`AsyncReadRent::read`, `AsyncWriteRentExt::write_all`).
//!
//! Reads and writes are io_uring operations that own their buffer while in flight: an eager
//! connection's 64 KiB buffer sits in its pending `recv` while it waits. For the lazy policy
//! the connection waits for readability with `readable()`, an io_uring `POLL_ADD` that holds
//! no buffer, and only then allocates one and reads.

use std::io;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use monoio::{IoUringDriver, RuntimeBuilder};

use super::{BUFFER_SIZE, Buffers, accept_failed};

/// Serves on `listener` with monoio's io_uring runtime on the calling thread, allocating each
/// connection's buffer as `buffers` says; calls `announce` once listening.
pub(super) fn serve(
    listener: std::net::TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    // The timer only serves the pause after running out of descriptors.
    let mut runtime = RuntimeBuilder::<IoUringDriver>::new().enable_timer().build()?;
    runtime.block_on(async {
        let listener = TcpListener::from_std(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match buffers {
                    Buffers::Eager => {
                        monoio::spawn(echo(stream));
                    }
                    Buffers::Lazy => {
                        monoio::spawn(echo_lazy(stream));
                    }
                },
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        monoio::time::sleep(pause).await;
                    }
                }
            }
        }
    })
}

/// Echoes one connection until it ends. The buffer is handed to each read and write and
/// handed back when it completes.
async fn echo(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buffer = vec![0; BUFFER_SIZE];
    loop {
        // A read fills the buffer from its start, up to its capacity, and sets its length to
        // what was read; `write_all` writes that length back.
        let (read, returned) = stream.read(buffer).await;
        let Ok(1..) = read else { return };
        let (written, returned) = stream.write_all(returned).await;
        if written.is_err() {
            return;
        }
        buffer = returned;
    }
}

/// Echoes one connection until it ends, holding no buffer while it waits for data: waits
/// until the socket is readable (an io_uring `POLL_ADD`, no buffer), then allocates the
/// buffer, reads once, writes back what was read, and drops the buffer before waiting again.
///
/// The read is not polled "at once" as in the readiness-based servers: an io_uring operation
/// is only submitted when the runtime next enters the kernel, so it can never complete on its
/// first poll, and dropping it would cancel it. It needs no such guard either: the poll is
/// one-shot and reports readability that only this task can consume, so the data (or the end
/// of stream, or the error) is still there and the kernel completes the `recv` as it is
/// submitted, without waiting while holding the buffer.
async fn echo_lazy(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    loop {
        // `relaxed` only matters to the legacy driver, which this runtime does not use.
        if stream.readable(false).await.is_err() {
            return;
        }
        let (read, buffer) = stream.read(vec![0; BUFFER_SIZE]).await;
        let Ok(1..) = read else { return };
        if stream.write_all(buffer).await.0.is_err() {
            return;
        }
    }
}
