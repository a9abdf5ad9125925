//! The winsock calls around an overlapped operation that are not the operation itself:
//! binding before `ConnectEx`, the context updates after `AcceptEx` and `ConnectEx`, and
//! reading the addresses the kernel wrote.

use std::io;
use std::net::SocketAddr;
use std::os::windows::io::{AsRawSocket, RawSocket};
use std::ptr;

use socket2::{SockAddr, Socket};
use windows_sys::Win32::Networking::WinSock::{
    SO_UPDATE_ACCEPT_CONTEXT, SOCKADDR, SOCKADDR_STORAGE, SOCKET_ERROR, SOL_SOCKET, WSABUF,
    WSAEINVAL, WSAIoctl, bind, setsockopt,
};

use super::errors::last_socket_code;
use super::extensions::Extensions;
use super::in_flight::ACCEPT_ADDRESS;

/// Binds `socket` to the unspecified address of `target`'s family, as `ConnectEx` needs; a
/// socket bound already (`WSAEINVAL`) is left as it is.
pub(super) fn bind_unspecified(socket: usize, target: &SocketAddr) -> Result<(), i32> {
    let unspecified: SocketAddr = match target {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let address = SockAddr::from(unspecified);
    // SAFETY: `address` is a live socket address of the length passed.
    let result = unsafe { bind(socket, address.as_ptr().cast(), address.len()) };
    match result {
        SOCKET_ERROR => match last_socket_code() {
            WSAEINVAL => Ok(()),
            code => Err(code),
        },
        _ => Ok(()),
    }
}

/// Sets the option `name` of `socket` to `value`'s bytes.
pub(super) fn set_option(socket: RawSocket, name: i32, value: &[u8]) -> io::Result<()> {
    // SAFETY: `value` is a live slice of the length passed.
    let result = unsafe {
        setsockopt(socket as usize, SOL_SOCKET, name, value.as_ptr(), value.len() as i32)
    };
    match result {
        SOCKET_ERROR => Err(super::errors::last_socket_error()),
        _ => Ok(()),
    }
}

/// Gives an accepted socket its listener's properties, without which `getpeername` and
/// `shutdown` fail on it with `WSAENOTCONN`; and makes it non-blocking, as plexio's are.
pub(super) fn accept_context(socket: &Socket, listener: RawSocket) -> io::Result<()> {
    set_option(
        socket.as_raw_socket(),
        SO_UPDATE_ACCEPT_CONTEXT,
        &(listener as usize).to_ne_bytes(),
    )?;
    socket.set_nonblocking(true)
}

/// The peer's address from an accept's address buffer.
///
/// # Safety
///
/// `AcceptEx` filled `addresses`, with no data and the address room `start` gave it.
pub(super) unsafe fn accept_peer(
    addresses: &[u8; 2 * ACCEPT_ADDRESS],
    extensions: &Extensions,
) -> Option<SocketAddr> {
    let mut local: *mut SOCKADDR = ptr::null_mut();
    let mut local_len = 0i32;
    let mut remote: *mut SOCKADDR = ptr::null_mut();
    let mut remote_len = 0i32;
    let split = extensions.accept_addresses.expect("loaded");
    // SAFETY: the caller's promise; the function only sets the four outputs, live locals,
    // to point into `addresses`.
    unsafe {
        split(
            addresses.as_ptr().cast(),
            0,
            ACCEPT_ADDRESS as u32,
            ACCEPT_ADDRESS as u32,
            &mut local,
            &mut local_len,
            &mut remote,
            &mut remote_len,
        )
    };
    if remote.is_null() {
        return None;
    }
    // SAFETY: `remote` points at an address of `remote_len` bytes inside `addresses`.
    unsafe { socket_address(remote.cast_const(), remote_len) }
}

/// The socket address of `length` bytes at `address`.
///
/// # Safety
///
/// `address` points at `length` readable bytes, when `length` is within a `SOCKADDR_STORAGE`.
pub(super) unsafe fn socket_address(address: *const SOCKADDR, length: i32) -> Option<SocketAddr> {
    if length <= 0 || length as usize > size_of::<SOCKADDR_STORAGE>() {
        return None;
    }
    // SAFETY: `try_init` hands a zeroed storage big enough for any address; the copy fills
    // `length` bytes of it from `address`, which the caller promises are readable.
    let made = unsafe {
        SockAddr::try_init(|storage, stored_length| {
            ptr::copy_nonoverlapping(address.cast::<u8>(), storage.cast::<u8>(), length as usize);
            *stored_length = length;
            Ok(())
        })
    };
    made.ok().and_then(|((), address)| address.as_socket())
}

/// A synchronous `WSAIoctl` of `code` on `socket` with `input`, whose answer is one word (a
/// handle, an address).
pub(super) fn control_word(socket: usize, code: u32, input: &[u8]) -> io::Result<usize> {
    let mut word: usize = 0;
    let mut returned = 0u32;
    // SAFETY: the input is `input`, a live slice of the length passed; the output is `word`,
    // a live local of the size passed, which bounds what the call writes; no overlapped
    // structure, so the call is synchronous. Any handle value is a valid argument (one that
    // is not a socket fails with `WSAENOTSOCK`).
    let result = unsafe {
        WSAIoctl(
            socket,
            code,
            input.as_ptr().cast(),
            input.len() as u32,
            (&raw mut word).cast(),
            size_of::<usize>() as u32,
            &mut returned,
            ptr::null_mut(),
            None,
        )
    };
    if result == SOCKET_ERROR {
        return Err(super::errors::last_socket_error());
    }
    Ok(word)
}

/// The `WSABUF` of `length` bytes at `start` (at most 4 GiB: a longer one is a short call).
pub(super) fn wsabuf(start: *mut u8, length: usize) -> WSABUF {
    WSABUF { len: u32::try_from(length).unwrap_or(u32::MAX), buf: start }
}

/// Grows `buffer`'s length by `received`, capped at its capacity.
///
/// # Safety
///
/// The first `received` bytes of `buffer`'s spare capacity are initialised.
pub(super) unsafe fn grow(buffer: &mut Vec<u8>, received: usize) {
    let length = (buffer.len() + received).min(buffer.capacity());
    // SAFETY: the caller's promise; the length stays within the capacity.
    unsafe { buffer.set_len(length) };
}
