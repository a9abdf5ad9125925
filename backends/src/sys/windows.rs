//! Windows handles: a source is a winsock `SOCKET`.

use std::io;
use std::os::windows::io::{AsRawSocket, AsSocket};

/// The raw handle a backend watches: a winsock `SOCKET` on Windows.
pub type RawSource = std::os::windows::io::RawSocket;

/// A type that owns (or borrows for its whole life) an open socket that a backend can watch.
///
/// Implemented for every [`AsSocket`] type; the I/O-safety promise of `AsSocket` is what lets
/// [`Registered`](crate::Registered) keep the socket open while it is registered.
pub trait AsSource {
    /// The raw handle of the source.
    fn as_raw_source(&self) -> RawSource;
}

impl<T: AsSocket> AsSource for T {
    fn as_raw_source(&self) -> RawSource {
        self.as_socket().as_raw_socket()
    }
}

/// Whether `error`, returned by a non-blocking `connect`, means "in progress, wait until the
/// socket is writable" (`WSAEWOULDBLOCK` on Windows, which std reports as `WouldBlock`).
pub fn connect_in_progress(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
        || error.raw_os_error() == Some(windows_sys::Win32::Networking::WinSock::WSAEINPROGRESS)
}

/// Flags for `send` on a stream socket: none are needed, as Windows raises no signal on a
/// write to a reset connection.
pub const SEND_FLAGS: i32 = 0;

/// The most slices plexio hands one vectored call (`WSASend`, `WSARecv`). Windows documents
/// no limit below the 32-bit count of `WSABUF`s, but wine passes the buffers on to the
/// host's `sendmsg`/`recvmsg` and fails past the host's `IOV_MAX` with `WSAEMSGSIZE`; 1,024
/// (`IOV_MAX` on every Unix host) gives one behaviour on both. A longer vector is a short
/// write or read, as `AsyncWrite` and `AsyncRead` allow.
pub const MAX_IO_SLICES: usize = 1024;

/// Whether a wait failed because a socket in its set was closed (`WSAENOTSOCK`).
#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) fn is_bad_descriptor(error: &io::Error) -> bool {
    error.raw_os_error() == Some(windows_sys::Win32::Networking::WinSock::WSAENOTSOCK)
}

/// Whether `source` is still an open socket.
#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) fn is_open(source: RawSource) -> bool {
    use windows_sys::Win32::Networking::WinSock::{SO_TYPE, SOCKET_ERROR, SOL_SOCKET, getsockopt};
    let mut kind: i32 = 0;
    let mut length = size_of::<i32>() as i32;
    // SAFETY: `kind` and `length` are live locals that describe a buffer of `length` bytes;
    // any handle value is a valid argument, and one that is not a socket fails with
    // `WSAENOTSOCK`.
    let result = unsafe {
        getsockopt(source as usize, SOL_SOCKET, SO_TYPE, (&raw mut kind).cast(), &mut length)
    };
    result != SOCKET_ERROR
}

/// The error of the last failed winsock call.
#[cfg(any(feature = "select", feature = "poll"))]
pub(crate) fn last_socket_error() -> io::Error {
    // SAFETY: `WSAGetLastError` only reads the calling thread's last winsock error.
    io::Error::from_raw_os_error(unsafe {
        windows_sys::Win32::Networking::WinSock::WSAGetLastError()
    })
}

/// A socket lent for as long as its owner keeps it open.
#[cfg(feature = "polling")]
pub(crate) type BorrowedSource<'a> = std::os::windows::io::BorrowedSocket<'a>;

/// Lends `source` to a mechanism that takes a borrowed handle.
///
/// # Safety
///
/// `source` must be an open socket, and stay open for as long as the borrow lives.
#[cfg(feature = "polling")]
pub(crate) unsafe fn lend<'a>(source: RawSource) -> BorrowedSource<'a> {
    // SAFETY: our caller's promise is the one `borrow_raw` asks for.
    unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(source) }
}

/// A type that lends its socket for as long as it is borrowed: what the operations of a
/// completion driver hold their sockets through. Implemented for every [`AsSocket`] type,
/// unsized ones included.
pub trait AsSocketHandle {
    /// The socket, borrowed.
    fn as_socket_handle(&self) -> std::os::windows::io::BorrowedSocket<'_>;
}

impl<T: AsSocket + ?Sized> AsSocketHandle for T {
    fn as_socket_handle(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.as_socket()
    }
}

/// The raw number of a lent socket.
pub(crate) fn raw_of(handle: std::os::windows::io::BorrowedSocket<'_>) -> RawSource {
    handle.as_raw_socket()
}

/// Whether `error` is the system's code for a cancelled operation
/// (`ERROR_OPERATION_ABORTED`, `WSA_OPERATION_ABORTED`).
pub(crate) fn is_cancelled_code(error: &io::Error) -> bool {
    error.raw_os_error() == Some(windows_sys::Win32::Foundation::ERROR_OPERATION_ABORTED as i32)
}
