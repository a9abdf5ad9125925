//! The two classic models, standard library only: blocking sockets served one connection at
//! a time, and blocking sockets with a thread per connection (the I/O-models guide's
//! baselines, `examples/echo_blocking.rs` and `examples/echo_threads.rs` in plexio).
//!
//! They keep to the terms of the other servers: the same listening socket (made
//! non-blocking by [`listener`](super::listener), so it is switched back here), a
//! [`BUFFER_SIZE`] buffer per connection, `TCP_NODELAY`, read once then write all of it
//! back. With [`Buffers::Lazy`] a connection waits for data with a one-byte `peek`, which
//! blocks without holding the buffer, then allocates it, reads, writes back and drops it.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use super::{BUFFER_SIZE, Buffers, accept_failed};

/// Each connection thread's stack, as in `examples/echo_threads.rs`: the echo loop needs
/// little (its buffer is on the heap), and only the pages it touches become resident.
const STACK_SIZE: usize = 64 * 1024;

/// Serves on `listener` on the calling thread, one connection at a time: the next one is
/// accepted only when the current one has ended.
pub(super) fn serve_one_at_a_time(
    listener: TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    accept_loop(listener, announce, |stream| echo(stream, buffers))
}

/// Serves on `listener`, accepting on the calling thread and echoing each connection on a
/// thread of its own.
pub(super) fn serve_thread_per_connection(
    listener: TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    accept_loop(listener, announce, |stream| {
        let spawned =
            thread::Builder::new().stack_size(STACK_SIZE).spawn(move || echo(stream, buffers));
        // No thread to be had: the closure, and with it the stream, was dropped, which
        // closes the connection; the load generator reports it.
        if let Err(error) = spawned {
            pause_after(&error);
        }
    })
}

/// Blocking accepts on `listener` for ever, handing each connection to `serve`.
fn accept_loop(
    listener: TcpListener,
    announce: impl FnOnce() -> io::Result<()>,
    mut serve: impl FnMut(TcpStream),
) -> io::Result<()> {
    // `listener()` made it non-blocking for the runtimes; these servers block in `accept`.
    listener.set_nonblocking(false)?;
    announce()?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => serve(stream),
            Err(error) => pause_after(&error),
        }
    }
}

/// Reports an accept (or spawn) failure the way every server does, and pauses if told to.
fn pause_after(error: &io::Error) {
    if let Some(pause) = accept_failed(error) {
        thread::sleep(pause);
    }
}

/// Echoes one connection until it ends, blocking in every call.
fn echo(mut stream: TcpStream, buffers: Buffers) {
    if stream.set_nonblocking(false).is_err() || stream.set_nodelay(true).is_err() {
        return;
    }
    let mut kept = match buffers {
        Buffers::Eager => Some(vec![0; BUFFER_SIZE]),
        Buffers::Lazy => None,
    };
    loop {
        if kept.is_none() {
            // Waits for data without a buffer: end of stream and errors end the connection.
            match stream.peek(&mut [0]) {
                Ok(1..) => {}
                Ok(0) | Err(_) => return,
            }
        }
        let mut fresh = Vec::new();
        let buffer = match &mut kept {
            Some(buffer) => buffer,
            None => {
                fresh = vec![0; BUFFER_SIZE];
                &mut fresh
            }
        };
        match stream.read(buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buffer[..n]).is_err() {
                    return;
                }
            }
        }
        drop(fresh);
    }
}
