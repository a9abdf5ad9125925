//! Receiving one datagram with the same result on every OS: the bytes that fit the buffer,
//! and whether the datagram was longer.
//!
//! Unix cuts a datagram to the buffer and says so with `MSG_TRUNC` in the flags `recvmsg`
//! returns. Windows fills the buffer too, but then fails the call with `WSAEMSGSIZE`
//! (Microsoft documents this under `WSARecvFrom`), an error that std passes on, so that a
//! datagram that does not fit reads as a failure and is lost. socket2 turns that error
//! into the same truncation flag; this module gives it to plexio's safe code.

use std::io;
use std::mem::MaybeUninit;

use socket2::{MaybeUninitSlice, SockAddr, SockRef};

/// What [`recv_datagram`] received.
#[derive(Debug)]
pub struct Datagram {
    /// How many bytes were written to the front of the buffer.
    pub len: usize,
    /// Whether the datagram was longer than the buffer: the rest of it is gone (or, when
    /// peeking, still queued).
    pub truncated: bool,
    /// Where it came from.
    pub from: SockAddr,
}

/// Receives one datagram on `socket` into `buffer`; with `peek`, leaves it queued.
///
/// A datagram longer than `buffer` is cut to it on every OS, and reported `truncated`; an
/// empty buffer receives nothing but still takes the datagram (unless peeking).
pub fn recv_datagram(socket: SockRef<'_>, buffer: &mut [u8], peek: bool) -> io::Result<Datagram> {
    let flags = if peek { PEEK } else { 0 };
    let capacity = buffer.len();
    // SAFETY: `MaybeUninit<u8>` has the size, alignment and validity of `u8`, so the slice
    // may be viewed as one; socket2 documents that its receive functions never write
    // uninitialised bytes into the buffer, so it is still initialised `u8`s afterwards.
    let uninit = unsafe { &mut *(std::ptr::from_mut(buffer) as *mut [MaybeUninit<u8>]) };
    let mut buffers = [MaybeUninitSlice::new(uninit)];
    let (len, received, from) = socket.recv_from_vectored_with_flags(&mut buffers, flags)?;
    let truncated = received.is_truncated();
    // Windows fills the buffer before it reports `WSAEMSGSIZE`, but does not promise to
    // count those bytes; a cut datagram filled the buffer on every OS.
    let len = if truncated { capacity } else { len };
    Ok(Datagram { len, truncated, from })
}

#[cfg(unix)]
const PEEK: i32 = libc::MSG_PEEK;
#[cfg(windows)]
const PEEK: i32 = windows_sys::Win32::Networking::WinSock::MSG_PEEK;
