//! The `poll` backend: plexio's own, over `poll(2)` on Unix and `WSAPoll` on Windows.
//!
//! `poll` takes an array of `(descriptor, wanted events)` and fills in what happened to
//! each. Unlike `select` it has no descriptor-number limit, but it keeps no state between
//! calls either: every poll rebuilds the array from the backend's
//! watch list, which makes it oneshot (a reported socket is left out
//! until the reactor re-arms it), and every wait costs time in proportion to the number of
//! watched sockets.
//!
//! `POLLHUP` means what each OS makes it mean: on Unix both directions are closed and
//! ready; on Windows only the read side (`WSAPoll` reports the peer's FIN as `POLLHUP`).
//! `POLLERR` is an error that wakes both directions, and `POLLNVAL` (a descriptor closed
//! while registered) an error.
//!
//! `poll` reports `POLLHUP` whatever a socket is watched for, and `WSAPoll` keeps reporting
//! it for as long as the socket lives once the peer has shut down its write side; so on
//! Windows a socket in that state that is armed only for writing is not handed to
//! `WSAPoll`, which could not wait for it: that wait is made with winsock `select`, whose
//! write set ignores the peer's FIN (see `windows.rs`).
//!
//! On Windows versions before 10 2004, `WSAPoll` never reports a failed non-blocking
//! `connect`, so this backend cannot see a refused connection there. plexio's
//! `TcpStream::connect` does not wait on the event alone: on Windows it also asks the
//! socket's error (`SO_ERROR`) every 100 ms, and so reports the refusal within about that.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix::{PollSet, flags};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows::{PollSet, flags};

use std::io;
use std::time::Duration;

use crate::watch_list::{WatchList, forward_to_watch_list};
use crate::{Interest, Ready};

/// The `poll` backend. See the [module documentation](self).
#[derive(Debug)]
pub struct PollBackend {
    list: WatchList<PollSet>,
}

impl PollBackend {
    /// Creates the backend and its wake channel.
    pub fn new() -> io::Result<PollBackend> {
        Ok(PollBackend { list: WatchList::new()? })
    }

    /// How many sources are registered now.
    pub fn registered(&self) -> usize {
        self.list.registered()
    }
}

forward_to_watch_list!(PollBackend, PollSet);

/// A timeout in whole milliseconds as `poll` and `WSAPoll` take it: rounded *up*, so that a
/// timer is never polled for with zero-length waits before it is due; capped at the
/// largest wait they accept (a longer one ends early and the reactor waits again); -1 for
/// none.
fn timeout_millis(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(timeout) => i32::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
    }
}

/// The `events` of an entry watching for `interest`.
fn requested(interest: Interest) -> i16 {
    let mut events = 0;
    if interest.is_readable() {
        events |= flags::READ;
    }
    if interest.is_writable() {
        events |= flags::WRITE;
    }
    events
}

/// What the `revents` of one entry mean for the reactor.
fn ready(revents: i16) -> Ready {
    let mut ready = Ready::EMPTY;
    if revents & flags::READ != 0 {
        ready |= Ready::READABLE;
    }
    if revents & flags::WRITE != 0 {
        ready |= Ready::WRITABLE;
    }
    if revents & flags::HANG_UP != 0 {
        ready |= flags::HANG_UP_READY;
    }
    if revents & flags::ERROR != 0 {
        ready |= Ready::ERROR | Ready::READABLE | Ready::WRITABLE;
    }
    if revents & flags::INVALID != 0 {
        ready |= Ready::ERROR;
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_the_millisecond() {
        assert_eq!(timeout_millis(None), -1);
        assert_eq!(timeout_millis(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_millis(Some(Duration::from_nanos(1))), 1);
        assert_eq!(timeout_millis(Some(Duration::from_micros(1_001))), 2);
        assert_eq!(timeout_millis(Some(Duration::from_secs(3))), 3_000);
        assert_eq!(timeout_millis(Some(Duration::MAX)), i32::MAX);
    }

    #[test]
    fn revents_map_to_readiness() {
        assert_eq!(ready(flags::READ), Ready::READABLE);
        assert_eq!(ready(flags::WRITE), Ready::WRITABLE);
        assert!(ready(flags::HANG_UP).contains(Ready::READ_CLOSED | Ready::READABLE));
        #[cfg(unix)]
        assert!(ready(flags::HANG_UP).contains(Ready::WRITE_CLOSED | Ready::WRITABLE));
        // The peer's FIN, on Windows: writing may still work, and must be waited for.
        #[cfg(windows)]
        assert!(!ready(flags::HANG_UP).intersects(Ready::WRITE_CLOSED | Ready::WRITABLE));
        assert!(ready(flags::ERROR).contains(Ready::ERROR | Ready::READABLE | Ready::WRITABLE));
        assert_eq!(ready(flags::INVALID), Ready::ERROR);
        assert_eq!(ready(0), Ready::EMPTY);
    }
}
