//! Signals: [`ctrl_c`], a future that resolves when the process is asked to stop with Ctrl-C.
//!
//! Built on the signal-hook crate's self-pipe: the signal handler writes one byte into a
//! Unix socket pair, whose other end is an ordinary socket of the runtime's reactor. No
//! thread is started and the handler does nothing but that write, so waiting for a signal
//! costs what waiting on a socket costs, on every backend.
//!
//! Unix only for now: elsewhere (Windows) [`ctrl_c`] fails with
//! [`io::ErrorKind::Unsupported`].
//!
//! A graceful shutdown (stop accepting, let the open connections finish within a deadline,
//! then drop the runtime) is in `examples/line_server.rs` and in the
//! [guide](crate::guide::from_tokio#graceful-shutdown).

use std::io;

/// Waits until the process receives Ctrl-C (`SIGINT` on Unix).
///
/// The handler is installed when the future is first polled: a `SIGINT` that arrives before
/// then is not seen by this future. While one is waiting, `SIGINT` wakes it, and every other
/// `ctrl_c` future waiting then, instead of ending the process.
///
/// Installing a handler is for the rest of the process's life, as with tokio's `ctrl_c`:
/// once the first `ctrl_c` future has been polled, a `SIGINT` that no `ctrl_c` future waits
/// for is ignored rather than ending the process. A program that wants a second Ctrl-C to
/// end it at once waits for `ctrl_c()` again while it shuts down.
///
/// # Errors
///
/// Outside of a plexio runtime ([`Error::NoRuntime`](crate::Error::NoRuntime) as the
/// source), if the socket pair or the handler cannot be set up, and always with
/// [`io::ErrorKind::Unsupported`] on systems other than Unix.
///
/// ```no_run
/// plexio::block_on(async {
///     println!("press Ctrl-C");
///     plexio::signal::ctrl_c().await?;
///     println!("bye");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    imp::ctrl_c().await
}

#[cfg(unix)]
mod imp {
    use std::io::{self, Read};
    use std::os::unix::net::UnixStream;

    use plexio_backends::Interest;
    use signal_hook::SigId;
    use signal_hook::consts::SIGINT;

    use crate::driver::reactor::Registration;

    pub(super) async fn ctrl_c() -> io::Result<()> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        // The reader is registered first: outside of a runtime this fails before any
        // handler is installed for good.
        let reader = Registration::new(reader, Interest::READABLE)?;
        let _hook = Hook(signal_hook::low_level::pipe::register(SIGINT, writer)?);
        // One byte per signal; signal-hook owns the writer (and closes it when the hook is
        // removed), so a read of zero cannot happen while the hook is there.
        let mut byte = [0; 1];
        reader.io(Interest::READABLE, |mut stream| stream.read(&mut byte)).await?;
        Ok(())
    }

    /// Removes the signal action when the future completes or is dropped, which also closes
    /// the writing end of the pair.
    struct Hook(SigId);

    impl Drop for Hook {
        fn drop(&mut self) {
            signal_hook::low_level::unregister(self.0);
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::io;

    pub(super) async fn ctrl_c() -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "plexio::signal::ctrl_c is only implemented on Unix so far",
        ))
    }
}
