//! The compio echo server: compio's runtime on its default io_uring driver, one thread, with
//! owned buffers (`AsyncRead::read`, `AsyncWriteExt::write_all`, which return a
//! `BufResult`).
//!
//! Reads and writes are io_uring operations that own their buffer while in flight: an eager
//! connection's 64 KiB buffer sits in its pending `recv` while it waits. compio's streams
//! have no `readable()`; for the lazy policy each connection waits on a `PollFd` made from
//! its socket once, at accept (`read_ready()`, an io_uring `POLL_ADD` that holds no buffer),
//! and only then allocates a buffer and reads.

use std::io;

use compio::BufResult;
use compio::driver::DriverType;
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use compio::runtime::Runtime;

use super::{BUFFER_SIZE, Buffers, accept_failed};

/// Serves on `listener` with a compio runtime on the calling thread, allocating each
/// connection's buffer as `buffers` says; calls `announce` once listening. Fails if the
/// runtime did not get the io_uring driver.
pub(super) fn serve(
    listener: std::net::TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let runtime = Runtime::new()?;
    if runtime.driver_type() != DriverType::IoUring {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("compio runs on {:?}, not io_uring", runtime.driver_type()),
        ));
    }
    runtime.block_on(async {
        let listener = TcpListener::from_std(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match buffers {
                    Buffers::Eager => compio::runtime::spawn(echo(stream)).detach(),
                    Buffers::Lazy => compio::runtime::spawn(echo_lazy(stream)).detach(),
                },
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        compio::time::sleep(pause).await;
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
    let mut buffer = empty_buffer();
    loop {
        // A read fills the buffer from its start, up to its capacity, and raises its length
        // to the end of what was read (it never lowers it); `write_all` writes that length
        // back, and `clear` makes it empty again for the next read.
        let BufResult(read, returned) = stream.read(buffer).await;
        let Ok(1..) = read else { return };
        let BufResult(written, returned) = stream.write_all(returned).await;
        if written.is_err() {
            return;
        }
        buffer = returned;
        buffer.clear();
    }
}

/// A [`BUFFER_SIZE`] buffer, allocated zeroed like every server's, but of length zero: a
/// compio read fills a buffer from its start and sets its length to what was read only if
/// that is more than its length, so that a full-length buffer would be echoed whole.
fn empty_buffer() -> Vec<u8> {
    let mut buffer = vec![0; BUFFER_SIZE];
    buffer.clear();
    buffer
}

/// Echoes one connection until it ends, holding no buffer while it waits for data: waits
/// until the socket is readable (an io_uring `POLL_ADD` through the connection's `PollFd`, no
/// buffer), then allocates the buffer, reads once, writes back what was read, and drops the
/// buffer before waiting again.
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
    // Shares the stream's descriptor (a reference count, not a second descriptor).
    let Ok(readiness) = stream.to_poll_fd() else { return };
    loop {
        if readiness.read_ready().await.is_err() {
            return;
        }
        let BufResult(read, buffer) = stream.read(empty_buffer()).await;
        let Ok(1..) = read else { return };
        if stream.write_all(buffer).await.0.is_err() {
            return;
        }
    }
}
