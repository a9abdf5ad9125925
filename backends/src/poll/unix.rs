//! `poll(2)` on Unix.
//!
//! Where the platforms differ from Linux: macOS's `poll` does not support devices (a tty
//! reports `POLLNVAL`), which plexio never registers, as it watches sockets only; and on
//! macOS and the BSDs a peer's hang-up may come as `POLLHUP` with `POLLIN`, or as `POLLIN`
//! alone with the end of stream left for `read` to find, which the reactor handles the same
//! way (an event is a hint, the operation decides).

use std::io;
use std::time::Duration;

use crate::sys::syscall;
use crate::watch_list::WaitSet;
use crate::{Interest, RawSource, Ready};

/// The `poll(2)` flags plexio asks for and reads back.
pub(super) mod flags {
    use crate::Ready;

    pub(crate) const READ: i16 = libc::POLLIN;
    pub(crate) const WRITE: i16 = libc::POLLOUT;
    pub(crate) const HANG_UP: i16 = libc::POLLHUP;
    pub(crate) const ERROR: i16 = libc::POLLERR;
    pub(crate) const INVALID: i16 = libc::POLLNVAL;

    /// What `POLLHUP` means on Unix: both directions are done (Linux sets it once the peer
    /// has shut down and so have we, or on a reset; a write then fails at once). The
    /// operations say what still works, so both directions try.
    pub(crate) const HANG_UP_READY: Ready = Ready::from_bits(
        Ready::READABLE.bits()
            | Ready::WRITABLE.bits()
            | Ready::READ_CLOSED.bits()
            | Ready::WRITE_CLOSED.bits(),
    );
}

/// The array of one wait.
#[derive(Default)]
pub(crate) struct PollSet {
    entries: Vec<libc::pollfd>,
}

impl WaitSet for PollSet {
    const NAME: &'static str = "poll";

    fn admit(_source: RawSource, _registered: usize) -> io::Result<()> {
        // `poll` holds any descriptor; the kernel's own limits apply at the wait.
        Ok(())
    }

    fn clear(&mut self) {
        self.entries.clear();
    }

    fn add(&mut self, source: RawSource, interest: Interest, _shown: Ready) {
        let events = super::requested(interest);
        self.entries.push(libc::pollfd { fd: source, events, revents: 0 });
    }

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let count = libc::nfds_t::try_from(self.entries.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "too many sources for poll")
        })?;
        // SAFETY: the pointer and count describe the live, initialised `entries`, which the
        // kernel writes `revents` into and nothing else touches during the call.
        syscall!(poll(self.entries.as_mut_ptr(), count, super::timeout_millis(timeout)))?;
        Ok(())
    }

    fn for_each_ready(&self, mut report: impl FnMut(RawSource, Ready)) {
        for entry in self.entries.iter().filter(|entry| entry.revents != 0) {
            report(entry.fd, super::ready(entry.revents));
        }
    }
}
