//! The readiness half of the `uring` driver: poll operations wait in an epoll instance of
//! the driver's own, whose descriptor waits in the ring.
//!
//! io_uring's own poll operation cannot wait for writability alone: it always reports
//! `EPOLLRDHUP` (it is in the kernel's `IO_POLL_UNMASK`, with `EPOLLERR`, `EPOLLHUP` and
//! `EPOLLNVAL`), so a poll for `POLLOUT` on a socket whose peer closed its side completes
//! at once, every time, and a writer waiting on such a socket would spin. epoll reports
//! `EPOLLRDHUP` only when asked. Each poll operation is therefore an `EPOLLONESHOT`
//! registration of its socket (`epoll_ctl`, at submission), and one `IORING_OP_POLL_ADD` on
//! the epoll descriptor in the ring says when to collect them (`epoll_wait` without
//! blocking). Readiness waits are the minority path of a completion runtime (the data moves
//! through receive and send operations), so one `epoll_ctl` per wait costs what it costs
//! the epoll backends.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::Interest;

/// How many readiness events one collection takes; the rest wait for the next.
const EVENTS_PER_COLLECTION: usize = 256;

/// The driver's epoll instance and the buffer its events are collected into.
pub(super) struct EpollSet {
    epoll: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl EpollSet {
    pub(super) fn new() -> io::Result<EpollSet> {
        // SAFETY: `epoll_create1` takes a flag and returns a new descriptor or -1.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `epoll` is a new descriptor that nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        let events = Vec::with_capacity(EVENTS_PER_COLLECTION);
        Ok(EpollSet { epoll, events })
    }

    /// The descriptor the ring waits on.
    pub(super) fn raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }

    /// Waits once for `interest` on `source`; the event will carry `key`.
    pub(super) fn arm(&self, source: RawFd, interest: Interest, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events: mask(interest), u64: key };
        // A socket that waited before is still in the set, disabled by `EPOLLONESHOT`:
        // modify it; a new one is added.
        match self.control(libc::EPOLL_CTL_MOD, source, &mut event) {
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => {
                self.control(libc::EPOLL_CTL_ADD, source, &mut event)
            }
            other => other,
        }
    }

    /// Stops a wait armed on `source`. A socket no longer in the set (closed, which leaves
    /// every epoll set) is not an error.
    pub(super) fn disarm(&self, source: RawFd) {
        let mut unused = libc::epoll_event { events: 0, u64: 0 };
        let _ = self.control(libc::EPOLL_CTL_DEL, source, &mut unused);
    }

    fn control(
        &self,
        operation: i32,
        source: RawFd,
        event: &mut libc::epoll_event,
    ) -> io::Result<()> {
        // SAFETY: `event` is a valid, writable `epoll_event`; any descriptor number is a
        // valid argument (a bad one fails with `EBADF`, one that is no socket with `EPERM`).
        let result = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), operation, source, event) };
        if result == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Collects the events that are due, without blocking: `(key, epoll events)` each.
    pub(super) fn collect(&mut self, mut each: impl FnMut(u64, u32)) {
        self.events.clear();
        // SAFETY: the buffer has room for `capacity` events, and `epoll_wait` writes at most
        // that many, returning how many it wrote (or -1).
        let collected = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.capacity() as i32,
                0,
            )
        };
        if collected <= 0 {
            return;
        }
        // SAFETY: `epoll_wait` initialised the first `collected` entries.
        unsafe { self.events.set_len(collected as usize) };
        for event in &self.events {
            let key = event.u64;
            each(key, event.events);
        }
    }
}

/// The epoll events that answer `interest`, once.
fn mask(interest: Interest) -> u32 {
    let mut mask = libc::EPOLLONESHOT as u32;
    if interest.is_readable() {
        mask |= (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP) as u32;
    }
    if interest.is_writable() {
        mask |= libc::EPOLLOUT as u32;
    }
    mask
}
