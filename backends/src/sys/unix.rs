//! Unix handles: a source is a file descriptor.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// The raw handle a backend watches: a file descriptor on Unix.
pub type RawSource = std::os::fd::RawFd;

/// A type that owns (or borrows for its whole life) an open socket that a backend can watch.
///
/// Implemented for every [`AsFd`] type; the I/O-safety promise of `AsFd` is what lets
/// [`Registered`](crate::Registered) keep the descriptor open while it is registered.
pub trait AsSource {
    /// The raw handle of the source.
    fn as_raw_source(&self) -> RawSource;
}

impl<T: AsFd> AsSource for T {
    fn as_raw_source(&self) -> RawSource {
        self.as_fd().as_raw_fd()
    }
}

/// Whether `error`, returned by a non-blocking `connect`, means "in progress, wait until the
/// socket is writable" (`EINPROGRESS` on Unix).
pub fn connect_in_progress(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EINPROGRESS) || error.kind() == io::ErrorKind::WouldBlock
}

/// Flags for `send` on a stream socket: `MSG_NOSIGNAL` where the platform has it, so that a
/// write to a connection the peer reset is an `EPIPE` error, never a `SIGPIPE` that kills the
/// process. Apple platforms lack it and rely on `SO_NOSIGPIPE`, which socket2 sets on the
/// sockets it creates and plexio sets on every stream it wraps (accepted ones included).
#[cfg(not(any(target_vendor = "apple", target_os = "aix")))]
pub const SEND_FLAGS: i32 = libc::MSG_NOSIGNAL;
/// Flags for `send` on a stream socket (see the other platforms' definition).
#[cfg(any(target_vendor = "apple", target_os = "aix"))]
pub const SEND_FLAGS: i32 = 0;

/// The most slices one vectored system call (`readv`, `writev`, `sendmsg`) takes: `IOV_MAX`
/// (1,024 on Linux, Android, macOS, iOS and the BSDs). Passing more fails (`EMSGSIZE` from
/// `sendmsg`, `EINVAL` from `readv`), so vectored I/O hands the system this many at most,
/// as std does.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const MAX_IO_SLICES: usize = libc::UIO_MAXIOV as usize;
/// The most slices one vectored system call takes (see the Linux definition).
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
pub const MAX_IO_SLICES: usize = libc::IOV_MAX as usize;
/// The most slices one vectored system call takes (see the Linux definition): where libc
/// does not say, POSIX's guaranteed minimum (`_XOPEN_IOV_MAX`), as std assumes.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
pub const MAX_IO_SLICES: usize = 16;

/// Calls a libc function and turns its `-1` into `io::Error::last_os_error()`.
#[cfg(any(feature = "select", feature = "poll"))]
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the caller's unsafe block states why the arguments are valid for `$fn`.
        let result = unsafe { libc::$fn($($arg),*) };
        if result == -1 { Err(std::io::Error::last_os_error()) } else { Ok(result) }
    }};
}
#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) use syscall;

/// Whether a wait failed because a descriptor in its set was closed (`EBADF`).
#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) fn is_bad_descriptor(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EBADF)
}

/// Whether `source` is still an open descriptor.
#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) fn is_open(source: RawSource) -> bool {
    // SAFETY: `F_GETFD` only reads the descriptor's flags; any integer is a valid argument,
    // and a closed one fails with `EBADF`.
    unsafe { libc::fcntl(source, libc::F_GETFD) != -1 }
}

/// A descriptor lent for as long as its owner keeps it open.
#[cfg(any(feature = "mio", feature = "polling"))]
pub(crate) type BorrowedSource<'a> = std::os::fd::BorrowedFd<'a>;

/// Lends `source` to a mechanism that takes a borrowed handle.
///
/// # Safety
///
/// `source` must be an open descriptor, and stay open for as long as the borrow lives.
#[cfg(any(feature = "mio", feature = "polling"))]
pub(crate) unsafe fn lend<'a>(source: RawSource) -> BorrowedSource<'a> {
    // SAFETY: our caller's promise is the one `borrow_raw` asks for.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(source) }
}

/// A type that lends its socket's descriptor for as long as it is borrowed: what the
/// operations of a completion driver hold their sockets through. Implemented for every
/// [`AsFd`] type, unsized ones included.
pub trait AsSocketHandle {
    /// The socket, borrowed.
    fn as_socket_handle(&self) -> std::os::fd::BorrowedFd<'_>;
}

impl<T: AsFd + ?Sized> AsSocketHandle for T {
    fn as_socket_handle(&self) -> std::os::fd::BorrowedFd<'_> {
        self.as_fd()
    }
}

/// The raw number of a lent socket.
pub(crate) fn raw_of(handle: std::os::fd::BorrowedFd<'_>) -> RawSource {
    handle.as_raw_fd()
}

/// Whether `error` is the system's code for a cancelled operation (`ECANCELED`).
pub(crate) fn is_cancelled_code(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ECANCELED)
}
