//! What an overlapped operation's failure means, in the terms a Unix user of plexio sees.
//!
//! A completion packet carries an NT status, which `RtlNtStatusToDosError` turns into a
//! Windows error (`ERROR_NETNAME_DELETED` for a reset connection, `ERROR_CONNECTION_REFUSED`
//! for a refused connect, ...). std's `io::ErrorKind` knows the winsock codes
//! (`WSAECONNRESET`, ...) but not most of these, so they are mapped here to the winsock code
//! of the same event: a reset reads as `ConnectionReset` on every backend and system.

use std::io;

use windows_sys::Win32::Foundation::{
    ERROR_ADDRESS_ALREADY_ASSOCIATED, ERROR_CONNECTION_ABORTED, ERROR_CONNECTION_INVALID,
    ERROR_CONNECTION_REFUSED, ERROR_HOST_UNREACHABLE, ERROR_INVALID_NETNAME, ERROR_MORE_DATA,
    ERROR_NETNAME_DELETED, ERROR_NETWORK_UNREACHABLE, ERROR_OPERATION_ABORTED,
    ERROR_PORT_UNREACHABLE, ERROR_SEM_TIMEOUT,
};
use windows_sys::Win32::Networking::WinSock::{
    WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAECONNABORTED, WSAECONNREFUSED, WSAECONNRESET,
    WSAEHOSTUNREACH, WSAEMSGSIZE, WSAENETUNREACH, WSAENOTCONN, WSAETIMEDOUT, WSAGetLastError,
};

use crate::completion::cancelled;

/// The winsock code for the Windows error `code`, or `code` itself where std already knows it.
pub(super) fn winsock_code(code: i32) -> i32 {
    match code as u32 {
        // A reset, or a connection the peer or the network dropped (`STATUS_CONNECTION_RESET`,
        // `STATUS_REMOTE_DISCONNECT`, `STATUS_LOCAL_DISCONNECT`).
        ERROR_NETNAME_DELETED => WSAECONNRESET,
        ERROR_CONNECTION_ABORTED => WSAECONNABORTED,
        ERROR_CONNECTION_REFUSED => WSAECONNREFUSED,
        // An ICMP "port unreachable" for a datagram sent earlier: Linux reports it to the
        // next receive as `ECONNREFUSED`.
        ERROR_PORT_UNREACHABLE => WSAECONNREFUSED,
        ERROR_NETWORK_UNREACHABLE => WSAENETUNREACH,
        ERROR_HOST_UNREACHABLE => WSAEHOSTUNREACH,
        ERROR_SEM_TIMEOUT => WSAETIMEDOUT,
        ERROR_CONNECTION_INVALID => WSAENOTCONN,
        ERROR_ADDRESS_ALREADY_ASSOCIATED => WSAEADDRINUSE,
        ERROR_INVALID_NETNAME => WSAEADDRNOTAVAIL,
        ERROR_MORE_DATA => WSAEMSGSIZE,
        _ => code,
    }
}

/// The error an operation failed with, from the Windows or winsock code `code`: a
/// cancellation is plexio's [`cancelled()`], everything else the winsock code of the event.
pub(super) fn operation_error(code: i32) -> io::Error {
    if code as u32 == ERROR_OPERATION_ABORTED {
        return cancelled();
    }
    io::Error::from_raw_os_error(winsock_code(code))
}

/// Whether `code` says a datagram was longer than the buffer (it was truncated).
pub(super) fn is_truncated(code: i32) -> bool {
    winsock_code(code) == WSAEMSGSIZE
}

/// The error of the last failed winsock call on this thread.
pub(super) fn last_socket_error() -> io::Error {
    io::Error::from_raw_os_error(last_socket_code())
}

/// The code of the last failed winsock call on this thread.
pub(super) fn last_socket_code() -> i32 {
    // SAFETY: `WSAGetLastError` only reads the calling thread's last winsock error.
    unsafe { WSAGetLastError() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_errors_read_as_the_unix_kinds_of_the_same_event() {
        let kind = |code: u32| operation_error(code as i32).kind();
        assert_eq!(kind(ERROR_NETNAME_DELETED), io::ErrorKind::ConnectionReset);
        assert_eq!(kind(ERROR_CONNECTION_ABORTED), io::ErrorKind::ConnectionAborted);
        assert_eq!(kind(ERROR_CONNECTION_REFUSED), io::ErrorKind::ConnectionRefused);
        assert_eq!(kind(ERROR_PORT_UNREACHABLE), io::ErrorKind::ConnectionRefused);
        assert_eq!(kind(ERROR_SEM_TIMEOUT), io::ErrorKind::TimedOut);
        assert!(crate::completion::is_cancelled(&operation_error(ERROR_OPERATION_ABORTED as i32)));
        assert!(is_truncated(ERROR_MORE_DATA as i32));
    }
}
