//! `WSAPoll` on Windows.

use std::io;
use std::time::Duration;

use windows_sys::Win32::Networking::WinSock::{
    POLLERR, POLLHUP, POLLNVAL, POLLRDNORM, POLLWRNORM, SOCKET_ERROR, WSAPOLLFD, WSAPoll,
};

use crate::sys::last_socket_error;
use crate::watch_list::WaitSet;
use crate::{Interest, RawSource, Ready};

/// The `WSAPoll` flags plexio asks for and reads back. `POLLRDNORM`/`POLLWRNORM`, not
/// `POLLIN`/`POLLOUT`: `WSAPoll` fails with `WSAEINVAL` on the priority-band bits that
/// `POLLIN` includes.
pub(super) mod flags {
    use super::*;

    pub(crate) const READ: i16 = POLLRDNORM;
    pub(crate) const WRITE: i16 = POLLWRNORM;
    pub(crate) const HANG_UP: i16 = POLLHUP;
    pub(crate) const ERROR: i16 = POLLERR;
    pub(crate) const INVALID: i16 = POLLNVAL;
}

/// The array of one wait.
#[derive(Default)]
pub(crate) struct PollSet {
    entries: Vec<WSAPOLLFD>,
}

impl WaitSet for PollSet {
    const NAME: &'static str = "poll";

    fn admit(_source: RawSource, _registered: usize) -> io::Result<()> {
        Ok(())
    }

    fn clear(&mut self) {
        self.entries.clear();
    }

    fn add(&mut self, source: RawSource, interest: Interest) {
        let events = super::requested(interest);
        // A winsock SOCKET is pointer-sized; `RawSocket` widens it to 64 bits.
        self.entries.push(WSAPOLLFD { fd: source as usize, events, revents: 0 });
    }

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let count = u32::try_from(self.entries.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "too many sources for WSAPoll")
        })?;
        // SAFETY: the pointer and count describe the live, initialised `entries`, which
        // winsock writes `revents` into and nothing else touches during the call.
        let result =
            unsafe { WSAPoll(self.entries.as_mut_ptr(), count, super::timeout_millis(timeout)) };
        if result == SOCKET_ERROR { Err(last_socket_error()) } else { Ok(()) }
    }

    fn for_each_ready(&self, mut report: impl FnMut(RawSource, Ready)) {
        for entry in self.entries.iter().filter(|entry| entry.revents != 0) {
            report(entry.fd as RawSource, super::ready(entry.revents));
        }
    }
}
