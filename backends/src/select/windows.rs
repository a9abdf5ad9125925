//! winsock `select` on Windows: sockets as arrays with a count.

use std::io;
use std::time::Duration;

use windows_sys::Win32::Networking::WinSock::{FD_SET, SOCKET, SOCKET_ERROR, TIMEVAL, select};

use crate::sys::last_socket_error;
use crate::watch_list::WaitSet;
use crate::{Error, Interest, RawSource, Ready};

/// The number of entries in plexio's socket sets, the wake channel's included: one socket
/// fewer than this can be registered.
pub const MAX_SOCKETS: usize = 4096;

/// A winsock `fd_set` with room for [`MAX_SOCKETS`] sockets.
///
/// winsock reads `count` entries, whatever the size of the array in the headers, so a
/// larger array with the same leading fields is a valid `FD_SET` (this is what redefining
/// `FD_SETSIZE` before including winsock2.h does in C).
#[repr(C)]
struct SocketArray {
    /// # Invariant
    ///
    /// At most `MAX_SOCKETS`: winsock reads this many entries of `sockets`.
    count: u32,
    sockets: [SOCKET; MAX_SOCKETS],
}

impl SocketArray {
    fn new() -> Box<SocketArray> {
        Box::new(SocketArray { count: 0, sockets: [0; MAX_SOCKETS] })
    }

    fn push(&mut self, socket: SOCKET) {
        let count = self.count as usize;
        if count == MAX_SOCKETS {
            // `admit` keeps the registrations below the size of the set.
            debug_assert!(false, "more sockets than the select set holds were admitted");
            return;
        }
        self.sockets[count] = socket;
        self.count += 1;
    }

    fn as_slice(&self) -> &[SOCKET] {
        &self.sockets[..(self.count as usize).min(MAX_SOCKETS)]
    }

    fn as_fd_set(&mut self) -> *mut FD_SET {
        std::ptr::from_mut(self).cast()
    }
}

/// The three sets of one wait and, after it, what was ready.
pub(crate) struct SelectSet {
    read: Box<SocketArray>,
    write: Box<SocketArray>,
    /// Sockets armed for writing that may still be connecting, watched for a failed
    /// `connect`.
    except: Box<SocketArray>,
    /// The result of the last wait, one entry per socket.
    ready: Vec<(SOCKET, Ready)>,
}

impl Default for SelectSet {
    fn default() -> SelectSet {
        SelectSet {
            read: SocketArray::new(),
            write: SocketArray::new(),
            except: SocketArray::new(),
            ready: Vec::new(),
        }
    }
}

impl WaitSet for SelectSet {
    const NAME: &'static str = "select";

    fn admit(_source: RawSource, registered: usize) -> io::Result<()> {
        // One entry is the wake channel's.
        if registered + 1 < MAX_SOCKETS {
            return Ok(());
        }
        Err(Error::TooManySources { limit: MAX_SOCKETS - 1, backend: Self::NAME }.into())
    }

    fn clear(&mut self) {
        self.read.count = 0;
        self.write.count = 0;
        self.except.count = 0;
        self.ready.clear();
    }

    fn add(&mut self, source: RawSource, interest: Interest, shown: Ready) {
        // A winsock SOCKET is pointer-sized; `RawSocket` widens it to 64 bits.
        let socket = source as SOCKET;
        if interest.is_readable() {
            self.read.push(socket);
        }
        if interest.is_writable() {
            self.write.push(socket);
            // The exception set holds two things: a failed `connect`, and urgent data not
            // yet read, which plexio never reads (it leaves SO_OOBINLINE off), so the set
            // would stay ready for the life of the socket. Only a socket that may still be
            // connecting is put there: one that has shown writable (a connect finished) or
            // an exception (a connect failed) once has nothing left to learn from it.
            if !shown.intersects(Ready::WRITABLE | Ready::ERROR) {
                self.except.push(socket);
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let limit = timeout.map(|timeout| {
            let (seconds, micros) = super::timeout_parts(timeout);
            // Both are bounded (seconds by `MAX_WAIT_SECONDS`), so they fit an `i32`.
            TIMEVAL { tv_sec: seconds as i32, tv_usec: micros as i32 }
        });
        let limit = limit.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
        // SAFETY: each set is a live `SocketArray`, layout-compatible with `FD_SET`, whose
        // count is within its array (the invariant on `count`); winsock rewrites the sets in
        // place and reads `limit`, which is null or a live local, only during the call.
        let result = unsafe {
            select(0, self.read.as_fd_set(), self.write.as_fd_set(), self.except.as_fd_set(), limit)
        };
        if result == SOCKET_ERROR {
            return Err(last_socket_error());
        }
        self.collect_ready();
        Ok(())
    }

    fn for_each_ready(&self, mut report: impl FnMut(RawSource, Ready)) {
        for &(socket, ready) in &self.ready {
            report(socket as RawSource, ready);
        }
    }
}

impl SelectSet {
    /// Reads the sets as a wait left them: winsock keeps only the ready sockets in each.
    /// They are merged per socket, so that one event carries every direction.
    fn collect_ready(&mut self) {
        let sets = [
            (&self.read, Ready::READABLE),
            (&self.write, Ready::WRITABLE),
            // A failed connect: the writer waiting for it asks `SO_ERROR`.
            (&self.except, Ready::ERROR | Ready::WRITABLE),
        ];
        for (set, ready) in sets {
            self.ready.extend(set.as_slice().iter().map(|&socket| (socket, ready)));
        }
        self.ready.sort_unstable_by_key(|&(socket, _)| socket);
        self.ready.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 |= later.1;
            }
            same
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_past_the_set_are_refused_with_a_clear_error() {
        assert!(SelectSet::admit(1, MAX_SOCKETS - 2).is_ok());
        let error = SelectSet::admit(1, MAX_SOCKETS - 1).unwrap_err();
        let inner = Error::from_io(&error).expect("a plexio error");
        assert!(matches!(inner, Error::TooManySources { limit, .. } if *limit == MAX_SOCKETS - 1));
        assert!(error.to_string().contains("poll"), "{error}");
        assert_eq!(error.kind(), io::ErrorKind::QuotaExceeded);
    }

    /// The documented limit, on real sockets: 4,095 registrations, then `QuotaExceeded`.
    #[test]
    fn the_backend_holds_4095_sockets_and_refuses_the_next() {
        use std::os::windows::io::AsRawSocket;

        use crate::{Backend, Token};

        let backend = super::super::SelectBackend::new().unwrap();
        let sockets: Vec<_> =
            (0..MAX_SOCKETS).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        let register = |index: usize| {
            let socket = sockets[index].as_raw_socket();
            // SAFETY: every socket stays open until the end of the test, after the backend
            // that holds them is dropped.
            unsafe { backend.register(socket, Token(index), Interest::READABLE) }
        };
        for index in 0..MAX_SOCKETS - 1 {
            register(index).unwrap();
        }
        assert_eq!(backend.registered(), 4095);
        let error = register(MAX_SOCKETS - 1).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::QuotaExceeded);
        assert!(matches!(
            Error::from_io(&error),
            Some(Error::TooManySources { limit: 4095, backend: "select" })
        ));
        drop(backend);
    }

    #[test]
    fn only_sockets_that_may_be_connecting_are_watched_for_exceptions() {
        let mut set = SelectSet::default();
        set.add(3, Interest::WRITABLE, Ready::EMPTY);
        set.add(4, Interest::WRITABLE, Ready::WRITABLE | Ready::READABLE);
        set.add(5, Interest::BOTH, Ready::ERROR);
        set.add(6, Interest::READABLE, Ready::EMPTY);
        assert_eq!(set.except.as_slice(), [3]);
        assert_eq!(set.write.as_slice(), [3, 4, 5]);
    }

    #[test]
    fn results_merge_per_socket() {
        let mut set = SelectSet::default();
        set.add(9, Interest::READABLE, Ready::EMPTY);
        set.add(7, Interest::BOTH, Ready::EMPTY);
        set.add(5, Interest::WRITABLE, Ready::EMPTY);
        // As winsock leaves the sets after a wait: 7 and 9 readable, 7 writable, 5 failed.
        set.read.count = 2;
        set.write.sockets[0] = 7;
        set.write.count = 1;
        set.except.sockets[0] = 5;
        set.except.count = 1;
        set.collect_ready();
        let error = Ready::ERROR | Ready::WRITABLE;
        assert_eq!(
            set.ready,
            [(5, error), (7, Ready::READABLE | Ready::WRITABLE), (9, Ready::READABLE)]
        );
    }
}
