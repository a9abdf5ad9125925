//! `select(2)` on Unix: descriptors as bits of an `fd_set`.
//!
//! `FD_SETSIZE` and the layout of `fd_set` come from libc for each target, never assumed.
//! macOS and the BSDs would accept larger, hand-allocated sets (`_DARWIN_UNLIMITED_SELECT`)
//! but Linux's glibc would not, so plexio keeps to `FD_SETSIZE` everywhere and refuses what
//! lies beyond it. Linux rewrites the timeout argument with the time left; a fresh one is
//! built for every wait.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use crate::sys::syscall;
use crate::watch_list::WaitSet;
use crate::{Error, Interest, RawSource, Ready};

/// The number of bits in an `fd_set`: descriptors from 0 up to, not including, this one fit.
pub const FD_SETSIZE: usize = libc::FD_SETSIZE;

/// Whether a descriptor has a bit in an `fd_set`.
fn fits(descriptor: RawSource) -> bool {
    usize::try_from(descriptor).is_ok_and(|descriptor| descriptor < FD_SETSIZE)
}

fn empty_set() -> libc::fd_set {
    let mut set = MaybeUninit::<libc::fd_set>::uninit();
    // SAFETY: `FD_ZERO` initialises every bit of the set it is given, which is live and
    // writable for the call.
    unsafe {
        libc::FD_ZERO(set.as_mut_ptr());
        set.assume_init()
    }
}

/// The read and write sets of one wait, and the descriptors put in them.
pub(crate) struct SelectSet {
    read: libc::fd_set,
    write: libc::fd_set,
    /// The descriptors added since the last `clear`, to read the results back.
    ///
    /// # Invariant
    ///
    /// Each is in `0..FD_SETSIZE` (`add` checks it), so every `FD_SET`/`FD_ISSET` on them
    /// stays inside the sets.
    watched: Vec<RawSource>,
    /// The highest descriptor in `watched`, or -1.
    highest: RawSource,
}

impl Default for SelectSet {
    fn default() -> SelectSet {
        SelectSet { read: empty_set(), write: empty_set(), watched: Vec::new(), highest: -1 }
    }
}

impl WaitSet for SelectSet {
    const NAME: &'static str = "select";

    fn admit(source: RawSource, _registered: usize) -> io::Result<()> {
        if fits(source) {
            return Ok(());
        }
        Err(Error::DescriptorOutOfRange {
            descriptor: i64::from(source),
            limit: FD_SETSIZE,
            backend: Self::NAME,
        }
        .into())
    }

    fn clear(&mut self) {
        for &descriptor in &self.watched {
            // SAFETY: `descriptor` is in range (the invariant on `watched`) and the sets are
            // live fields of `self`.
            unsafe {
                libc::FD_CLR(descriptor, &mut self.read);
                libc::FD_CLR(descriptor, &mut self.write);
            }
        }
        self.watched.clear();
        self.highest = -1;
    }

    fn add(&mut self, source: RawSource, interest: Interest, _shown: Ready) {
        if !fits(source) {
            // `admit` refused it at registration; never write outside the set.
            debug_assert!(false, "descriptor {source} was admitted to select");
            return;
        }
        // SAFETY: `source` is in `0..FD_SETSIZE` (checked above) and the sets are live fields
        // of `self`.
        unsafe {
            if interest.is_readable() {
                libc::FD_SET(source, &mut self.read);
            }
            if interest.is_writable() {
                libc::FD_SET(source, &mut self.write);
            }
        }
        self.watched.push(source);
        self.highest = self.highest.max(source);
    }

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let mut limit = timeout.map(|timeout| {
            let (seconds, micros) = super::timeout_parts(timeout);
            // Both are bounded (seconds by `MAX_WAIT_SECONDS`), so they fit every platform's
            // `time_t` and `suseconds_t`.
            libc::timeval { tv_sec: seconds as libc::time_t, tv_usec: micros as libc::suseconds_t }
        });
        let limit = limit.as_mut().map_or(std::ptr::null_mut(), std::ptr::from_mut);
        // SAFETY: both sets are live, initialised fields of `self` holding only descriptors
        // below `highest + 1 <= FD_SETSIZE`; the exception set may be null; `limit` is null
        // or points to a live local `timeval`.
        syscall!(select(
            self.highest + 1,
            &mut self.read,
            &mut self.write,
            std::ptr::null_mut(),
            limit
        ))?;
        Ok(())
    }

    fn for_each_ready(&self, mut report: impl FnMut(RawSource, Ready)) {
        for &descriptor in &self.watched {
            let mut ready = Ready::EMPTY;
            // SAFETY: `descriptor` is in range (the invariant on `watched`) and the sets are
            // live fields of `self`.
            unsafe {
                if libc::FD_ISSET(descriptor, &self.read) {
                    ready |= Ready::READABLE;
                }
                if libc::FD_ISSET(descriptor, &self.write) {
                    ready |= Ready::WRITABLE;
                }
            }
            if !ready.is_empty() {
                report(descriptor, ready);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, Events, Token};
    use std::os::fd::AsRawFd;

    #[test]
    fn descriptors_past_fd_setsize_are_refused_not_written() {
        let error = SelectSet::admit(FD_SETSIZE as RawSource, 0).unwrap_err();
        let inner = Error::from_io(&error).expect("a plexio error");
        assert!(matches!(inner, Error::DescriptorOutOfRange { limit: FD_SETSIZE, .. }));
        assert!(SelectSet::admit(-1, 0).is_err());
        assert!(SelectSet::admit(FD_SETSIZE as RawSource - 1, 0).is_ok());
    }

    #[test]
    fn a_ready_socket_is_reported_once_until_rearmed() {
        let backend = super::super::SelectBackend::new().unwrap();
        let (left, mut right) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut right, b"x").unwrap();
        // SAFETY: `left` stays open until it is deregistered below.
        unsafe { backend.register(left.as_raw_fd(), Token(7), Interest::READABLE).unwrap() };
        let mut events = Events::with_capacity(8);
        backend.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert_eq!(events.iter().map(|event| event.token).collect::<Vec<_>>(), [Token(7)]);
        events.clear();
        backend.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty(), "a disarmed source was reported again");
        backend.reregister(left.as_raw_fd(), Token(8), Interest::READABLE).unwrap();
        backend.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert_eq!(events.iter().map(|event| event.token).collect::<Vec<_>>(), [Token(8)]);
        backend.deregister(left.as_raw_fd()).unwrap();
    }
}
