//! The `select` backend: plexio's own, over `select(2)` on Unix and winsock `select` on
//! Windows.
//!
//! `select` takes three bit sets (or, on Windows, arrays) of descriptors and returns when one
//! of them is ready. It keeps no state between calls, so every poll rebuilds the sets from
//! the backend's watch list, which also makes it oneshot: a reported
//! socket is left out of the sets until the reactor re-arms it.
//!
//! # Limits
//!
//! * **Unix:** an `fd_set` is a bitmap of `FD_SETSIZE` bits (1024 on Linux, macOS and the
//!   BSDs), so a descriptor at or above `FD_SETSIZE` cannot be watched at all. Writing such
//!   a descriptor into the set is a buffer overflow, so [`Backend::register`] refuses it
//!   with [`Error::DescriptorOutOfRange`](crate::Error::DescriptorOutOfRange), whatever the
//!   number of sockets. A process that opens many files reaches that limit with few
//!   sockets.
//! * **Windows:** a winsock `fd_set` is an array with a count, 64 entries in the headers.
//!   The count is what winsock reads, so plexio allocates larger sets of `MAX_SOCKETS`
//!   (4,096) entries (the documented way of raising `FD_SETSIZE`). The wake channel takes
//!   one entry, so one backend holds 4,095 registrations, whatever the sockets' handle
//!   values: the 4,096th [`Backend::register`] is refused with
//!   [`Error::TooManySources`](crate::Error::TooManySources) (`limit: 4095`), an
//!   `io::Error` of kind [`QuotaExceeded`](std::io::ErrorKind::QuotaExceeded).
//! * Every wait costs time in proportion to the number of watched sockets (on Unix, to the
//!   highest descriptor number): `select` is here to compare with, and for tiny programs.
//!
//! A failed non-blocking `connect` on Windows is reported in the exception set, never the
//! write set; a socket armed for writing that may still be connecting (one that has never
//! shown writable nor an exception) is therefore also watched for exceptions, and an
//! exception is reported as an error that wakes the writer. No other socket is: the
//! exception set also holds urgent (out-of-band) data not yet read, which would keep it
//! ready for ever, since plexio never reads urgent data (the README's guarantees say what
//! plexio does with it).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::FD_SETSIZE;
#[cfg(unix)]
use unix::SelectSet;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::MAX_SOCKETS;
#[cfg(windows)]
use windows::SelectSet;

use std::io;
use std::time::Duration;

#[cfg(doc)]
use crate::Backend;
use crate::watch_list::{WatchList, forward_to_watch_list};

/// The `select` backend. See the [module documentation](self).
#[derive(Debug)]
pub struct SelectBackend {
    list: WatchList<SelectSet>,
}

impl SelectBackend {
    /// Creates the backend and its wake channel.
    pub fn new() -> io::Result<SelectBackend> {
        Ok(SelectBackend { list: WatchList::new()? })
    }

    /// How many sources are registered now.
    pub fn registered(&self) -> usize {
        self.list.registered()
    }
}

forward_to_watch_list!(SelectBackend, SelectSet);

/// The longest single wait, in seconds: macOS and the BSDs refuse a `select` timeout above
/// 10^8 seconds with `EINVAL`, so a longer one ends early and the reactor waits again.
const MAX_WAIT_SECONDS: u64 = 100_000_000;

/// A timeout as whole seconds and microseconds, rounded *up* to the microsecond so that a
/// timer is never polled for with a zero-length wait before it is due.
fn timeout_parts(timeout: Duration) -> (u64, u32) {
    let micros = timeout.as_nanos().div_ceil(1_000);
    let seconds = u64::try_from(micros / 1_000_000).unwrap_or(u64::MAX);
    if seconds >= MAX_WAIT_SECONDS {
        return (MAX_WAIT_SECONDS, 0);
    }
    // Below one million, so it fits.
    (seconds, (micros % 1_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_the_microsecond() {
        assert_eq!(timeout_parts(Duration::ZERO), (0, 0));
        assert_eq!(timeout_parts(Duration::from_nanos(1)), (0, 1));
        assert_eq!(timeout_parts(Duration::from_nanos(1_001)), (0, 2));
        assert_eq!(timeout_parts(Duration::from_millis(1_500)), (1, 500_000));
        assert_eq!(timeout_parts(Duration::new(2, 999_999_001)), (3, 0));
    }

    #[test]
    fn long_timeouts_are_capped() {
        assert_eq!(timeout_parts(Duration::MAX), (MAX_WAIT_SECONDS, 0));
        assert_eq!(timeout_parts(Duration::from_secs(MAX_WAIT_SECONDS + 1)), (MAX_WAIT_SECONDS, 0));
    }
}
