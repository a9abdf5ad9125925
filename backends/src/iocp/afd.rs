//! Readiness on the completion port: polls of the AFD driver (the kernel side of winsock),
//! as mio and polling wait for readiness on Windows.
//!
//! `Operation::Poll` asks "wake me when this socket is ready"; overlapped I/O has no such
//! call, but the AFD device answers `IOCTL_AFD_POLL` like an overlapped read: the request
//! names a socket and the events wanted, and completes through the port once one of them
//! holds. One device handle, opened per driver and attached to its port, carries every poll.
//! A poll names the socket's base (provider) handle, which it gets with `SIO_BASE_HANDLE`.
//!
//! Limits: the events are AFD's (readable, writable, disconnected, aborted, connect failed),
//! which is what a readiness runtime needs and no more; a layered service provider that
//! hides the base handle makes the poll fail with the error `SIO_BASE_HANDLE` gave.

use std::io;
use std::os::windows::io::{FromRawHandle, OwnedHandle, RawSocket};
use std::ptr;

use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Wdk::Storage::FileSystem::{FILE_OPEN, NtCreateFile};
use windows_sys::Win32::Foundation::{
    HANDLE, NTSTATUS, RtlNtStatusToDosError, STATUS_SUCCESS, UNICODE_STRING,
};
use windows_sys::Win32::Networking::WinSock::SIO_BASE_HANDLE;
use windows_sys::Win32::Storage::FileSystem::{
    FILE_SHARE_READ, FILE_SHARE_WRITE, SYNCHRONIZE, SetFileCompletionNotificationModes,
};
use windows_sys::Win32::System::IO::{CreateIoCompletionPort, IO_STATUS_BLOCK};

use super::socket_calls::control_word;
use crate::{Interest, Ready};

/// The control code of a poll request to the AFD device.
pub(super) const IOCTL_AFD_POLL: u32 = 0x0001_2024;

// The events of an AFD poll.
const RECEIVE: u32 = 0x0001;
const SEND: u32 = 0x0004;
const DISCONNECT: u32 = 0x0008;
const ABORT: u32 = 0x0010;
const LOCAL_CLOSE: u32 = 0x0020;
const ACCEPT: u32 = 0x0080;
const CONNECT_FAIL: u32 = 0x0100;

/// The request and the answer of one poll (the device writes the answer over the request).
#[repr(C)]
#[derive(Debug)]
pub(super) struct PollInfo {
    timeout: i64,
    handle_count: u32,
    exclusive: u32,
    handle: usize,
    events: u32,
    status: NTSTATUS,
}

impl PollInfo {
    pub(super) fn new() -> PollInfo {
        PollInfo { timeout: 0, handle_count: 0, exclusive: 0, handle: 0, events: 0, status: 0 }
    }

    /// Fills in the request: wait without a time limit for `interest` on `base`.
    pub(super) fn request(&mut self, base: RawSocket, interest: Interest) {
        *self = PollInfo {
            timeout: i64::MAX,
            handle_count: 1,
            exclusive: 0,
            handle: base as usize,
            events: events_for(interest),
            status: 0,
        };
    }

    /// What the answer says, as the readiness that `interest` asked for: never empty, since a
    /// completed poll with no event we know (a local close, say) is reported like any other
    /// possibly spurious readiness, and the caller tries its operation to find out.
    pub(super) fn ready(&self, interest: Interest) -> Ready {
        let events = if self.handle_count == 0 { 0 } else { self.events };
        let mut ready = Ready::EMPTY;
        if events & (RECEIVE | ACCEPT) != 0 {
            ready |= Ready::READABLE;
        }
        if events & SEND != 0 {
            ready |= Ready::WRITABLE;
        }
        if events & DISCONNECT != 0 {
            ready |= Ready::READABLE | Ready::READ_CLOSED;
        }
        if events & (ABORT | LOCAL_CLOSE) != 0 {
            ready |= Ready::READABLE | Ready::WRITABLE | Ready::READ_CLOSED | Ready::WRITE_CLOSED;
        }
        if events & CONNECT_FAIL != 0 {
            ready |= Ready::READABLE | Ready::WRITABLE | Ready::ERROR;
        }
        if ready.intersection(Ready::for_interest(interest)).is_empty() {
            ready |= Ready::for_interest(interest);
        }
        ready
    }
}

/// The AFD events that answer `interest`: an abort or a failed connect ends every wait.
fn events_for(interest: Interest) -> u32 {
    let mut events = ABORT | CONNECT_FAIL | LOCAL_CLOSE;
    if interest.is_readable() {
        events |= RECEIVE | ACCEPT | DISCONNECT;
    }
    if interest.is_writable() {
        events |= SEND;
    }
    events
}

/// Opens a handle to the AFD device and attaches it to `port`.
pub(super) fn open(port: HANDLE) -> io::Result<OwnedHandle> {
    // `\Device\Afd\Plexio`: the part after `Afd\` is a name of our choosing.
    let name: Vec<u16> = "\\Device\\Afd\\Plexio".encode_utf16().collect();
    let bytes = (name.len() * 2) as u16;
    let unicode =
        UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: name.as_ptr().cast_mut() };
    let attributes = OBJECT_ATTRIBUTES {
        Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: ptr::null_mut(),
        ObjectName: &unicode,
        Attributes: 0,
        SecurityDescriptor: ptr::null(),
        SecurityQualityOfService: ptr::null(),
    };
    let mut handle: HANDLE = ptr::null_mut();
    let mut status_block = IO_STATUS_BLOCK::default();
    // SAFETY: every pointer is to a live local (`handle`, `attributes` and the name it points
    // to, `status_block`) for the length of the call; no allocation size and no extended
    // attributes are passed.
    let status = unsafe {
        NtCreateFile(
            &mut handle,
            SYNCHRONIZE,
            &attributes,
            &mut status_block,
            ptr::null(),
            0,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            FILE_OPEN,
            0,
            ptr::null(),
            0,
        )
    };
    if status != STATUS_SUCCESS {
        return Err(status_error(status));
    }
    // SAFETY: `NtCreateFile` succeeded, so `handle` is a new handle that nothing else owns.
    let device = unsafe { OwnedHandle::from_raw_handle(handle) };
    // SAFETY: both handles are open (`device` just made, `port` owned by the driver).
    if unsafe { CreateIoCompletionPort(handle, port, 0, 0) }.is_null() {
        return Err(io::Error::last_os_error());
    }
    // No event object is waited on (`FILE_SKIP_SET_EVENT_ON_HANDLE`); failing to say so only
    // costs the kernel a signal.
    // SAFETY: `handle` is open.
    let _ = unsafe { SetFileCompletionNotificationModes(handle, 2) };
    Ok(device)
}

/// The base (provider) handle of `socket`, which AFD polls name.
pub(super) fn base_socket(socket: RawSocket) -> io::Result<RawSocket> {
    control_word(socket as usize, SIO_BASE_HANDLE, &[]).map(|base| base as RawSocket)
}

/// The Windows error that the NT status `status` stands for.
pub(super) fn status_error(status: NTSTATUS) -> io::Error {
    // SAFETY: a pure translation of one number into another.
    io::Error::from_raw_os_error(unsafe { RtlNtStatusToDosError(status) } as i32)
}
