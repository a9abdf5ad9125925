//! Who is at the other end of a Unix domain socket: the credentials the kernel recorded
//! when the peer connected (`SO_PEERCRED` on Linux and Android, `getpeereid` on macOS, iOS
//! and the BSDs).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The credentials of the process at the other end of a connected Unix domain socket, as
/// the kernel recorded them when the connection was made (not as they are now).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
    /// The peer's process id, where the OS tells it (Linux, Android, macOS, iOS).
    pub pid: Option<i32>,
}

/// The credentials of the peer of `socket`, a connected Unix domain socket.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_credentials(socket: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    let mut credentials = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut length = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the descriptor is open for the borrow's life; `credentials` is valid for
    // writes of `length` bytes, its own size, which is all `SO_PEERCRED` writes, and
    // `length` is valid for the kernel to write back. On a socket of another kind the call
    // fails and writes nothing.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut credentials).cast(),
            &raw mut length,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials { uid: credentials.uid, gid: credentials.gid, pid: Some(credentials.pid) })
}

/// The credentials of the peer of `socket`, a connected Unix domain socket.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
pub fn peer_credentials(socket: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    let (mut uid, mut gid): (libc::uid_t, libc::gid_t) = (0, 0);
    // SAFETY: the descriptor is open for the borrow's life, and `uid` and `gid` are valid
    // for writes; on a socket of another kind the call fails.
    if unsafe { libc::getpeereid(socket.as_raw_fd(), &raw mut uid, &raw mut gid) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials { uid, gid, pid: peer_pid(socket) })
}

/// The peer's process id (`LOCAL_PEERPID`), if the OS tells it.
#[cfg(target_vendor = "apple")]
fn peer_pid(socket: BorrowedFd<'_>) -> Option<i32> {
    let mut pid: libc::pid_t = 0;
    let mut length = size_of::<libc::pid_t>() as libc::socklen_t;
    // SAFETY: the descriptor is open for the borrow's life; `pid` is valid for writes of
    // `length` bytes, its own size, and `length` for the kernel to write back.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_LOCAL,
            libc::LOCAL_PEERPID,
            (&raw mut pid).cast(),
            &raw mut length,
        )
    };
    (result == 0).then_some(pid)
}

/// The peer's process id: the BSDs' `getpeereid` does not tell it.
#[cfg(any(
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn peer_pid(_: BorrowedFd<'_>) -> Option<i32> {
    None
}

/// The credentials of the peer of `socket`: not available on this OS.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
pub fn peer_credentials(_: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "peer credentials of a Unix domain socket are not available on this OS",
    ))
}
