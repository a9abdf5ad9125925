//! `WSAPoll` on Windows, and winsock `select` for the waits `WSAPoll` cannot make.
//!
//! Once the peer has shut down its write side, `WSAPoll` reports `POLLHUP` for the socket at
//! every call, whatever it was asked for (observed under wine; Microsoft documents `POLLHUP`
//! as "a stream-oriented connection was either disconnected or aborted"). A socket in that
//! state can still be written to, but a
//! writer waiting for room in its send buffer cannot wait through `WSAPoll`: every wait
//! would end at once. So a wait that holds such a socket, armed only for writing, is made
//! with winsock `select` instead, over every socket of the wait: its write set reports
//! room to write and nothing else. Its exception set, where a failed `connect` shows, is
//! left out (unread urgent data would keep it ready): a connecting socket learns of its
//! failure from `SO_ERROR`, which `TcpStream::connect` asks on Windows every 100 ms
//! because `WSAPoll` before Windows 10 2004 never reports it either.

use std::io;
use std::time::Duration;

use windows_sys::Win32::Networking::WinSock::{
    FD_SET, POLLERR, POLLHUP, POLLNVAL, POLLRDNORM, POLLWRNORM, SOCKET, SOCKET_ERROR, TIMEVAL,
    WSAPOLLFD, WSAPoll, select,
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

    /// What `POLLHUP` means on Windows: the peer has sent its FIN, so reads will end; the
    /// write side may still work (a half-closed peer may go on reading), and a reset that
    /// ends it makes the next write fail.
    pub(crate) const HANG_UP_READY: Ready =
        Ready::from_bits(Ready::READABLE.bits() | Ready::READ_CLOSED.bits());
}

/// The array of one wait.
#[derive(Default)]
pub(crate) struct PollSet {
    entries: Vec<WSAPOLLFD>,
    /// Whether an entry is a socket whose peer hung up, armed only for writing: then the
    /// wait is made with `select`.
    needs_select: bool,
    read: SocketList,
    write: SocketList,
}

impl WaitSet for PollSet {
    const NAME: &'static str = "poll";

    fn admit(_source: RawSource, _registered: usize) -> io::Result<()> {
        Ok(())
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.needs_select = false;
    }

    fn add(&mut self, source: RawSource, interest: Interest, shown: Ready) {
        let events = super::requested(interest);
        self.needs_select |= shown.contains(Ready::READ_CLOSED) && !interest.is_readable();
        // A winsock SOCKET is pointer-sized; `RawSocket` widens it to 64 bits.
        self.entries.push(WSAPOLLFD { fd: source as usize, events, revents: 0 });
    }

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.needs_select {
            return self.wait_with_select(timeout);
        }
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

impl PollSet {
    /// The same wait with winsock `select`, its result written back as `revents`.
    fn wait_with_select(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.read.clear();
        self.write.clear();
        for entry in &self.entries {
            if entry.events & flags::READ != 0 {
                self.read.push(entry.fd);
            }
            if entry.events & flags::WRITE != 0 {
                self.write.push(entry.fd);
            }
        }
        let millis = super::timeout_millis(timeout);
        let limit = (millis >= 0)
            .then(|| TIMEVAL { tv_sec: millis / 1000, tv_usec: (millis % 1000) * 1000 });
        let limit = limit.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
        // SAFETY: both sets are live `SocketList`s, laid out as `FD_SET`s whose count is the
        // number of sockets that follow it (the invariant on `SocketList::words`); winsock
        // rewrites them in place within that count, and reads `limit`, null or a live
        // local, only during the call.
        let result = unsafe {
            select(0, self.read.as_fd_set(), self.write.as_fd_set(), std::ptr::null_mut(), limit)
        };
        if result == SOCKET_ERROR {
            return Err(last_socket_error());
        }
        let (read, write) = (self.read.sorted(), self.write.sorted());
        for entry in &mut self.entries {
            if read.binary_search(&entry.fd).is_ok() {
                entry.revents |= flags::READ;
            }
            if write.binary_search(&entry.fd).is_ok() {
                entry.revents |= flags::WRITE;
            }
        }
        Ok(())
    }
}

/// A winsock `fd_set` of any size: the count, then the sockets.
///
/// An `FD_SET` is a `u32` count followed by an array of `SOCKET`s, which starts one `SOCKET`
/// in (the count is padded to a `SOCKET`'s alignment, checked below). winsock reads as many
/// sockets as the count says, whatever the array's declared size (what defining a larger
/// `FD_SETSIZE` does in C), so a vector whose first word holds the count is a valid
/// `FD_SET`. Windows is little-endian: the count is the low bytes of the first word.
#[derive(Default)]
struct SocketList {
    /// # Invariant
    ///
    /// Empty, or the count in `words[0]` followed by exactly that many sockets.
    words: Vec<SOCKET>,
}

const _: () = assert!(std::mem::offset_of!(FD_SET, fd_array) == size_of::<SOCKET>());
const _: () = assert!(align_of::<FD_SET>() == align_of::<SOCKET>());

impl SocketList {
    fn clear(&mut self) {
        self.words.clear();
        self.words.push(0);
    }

    fn push(&mut self, socket: SOCKET) {
        self.words.push(socket);
        self.words[0] += 1;
    }

    fn as_fd_set(&mut self) -> *mut FD_SET {
        if self.words.is_empty() {
            self.clear();
        }
        self.words.as_mut_ptr().cast()
    }

    /// The sockets a wait left in the set, sorted for lookups.
    fn sorted(&mut self) -> &[SOCKET] {
        // winsock wrote the count as a `u32` into the low bytes of the first word; the
        // high bytes are still the zeros `push` left there.
        let Some((&mut count, sockets)) = self.words.split_first_mut() else { return &[] };
        let count = (count as u32 as usize).min(sockets.len());
        let sockets = &mut sockets[..count];
        sockets.sort_unstable();
        sockets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_lists_hold_more_than_fd_setsize() {
        let mut list = SocketList::default();
        list.clear();
        for socket in (0..100).rev() {
            list.push(socket);
        }
        assert_eq!(list.words[0], 100);
        assert_eq!(list.sorted(), (0..100).collect::<Vec<_>>());
    }
}
