//! Which sockets are attached to the driver's completion port, and how they complete.

use std::collections::HashMap;
use std::io;
use std::os::windows::io::{AsRawSocket, RawSocket};
use std::ptr;
use std::sync::{Arc, Weak};

use windows_sys::Win32::Foundation::{ERROR_INVALID_PARAMETER, HANDLE};
use windows_sys::Win32::Networking::WinSock::{
    SO_PROTOCOL_INFOW, SOCKET_ERROR, SOL_SOCKET, WSAPROTOCOL_INFOW, XP1_IFS_HANDLES, getsockopt,
};
use windows_sys::Win32::Storage::FileSystem::SetFileCompletionNotificationModes;
use windows_sys::Win32::System::IO::CreateIoCompletionPort;

use crate::completion::{Operation, SocketSource};

/// The sockets attached to the port, by handle: the shared socket each was attached through
/// (a handle number is reused once its socket closes, so the number alone does not say the
/// socket is the same) and whether it skips the port on immediate success. An entry stays
/// after its socket closes, until the number is reused: bounded by the most sockets open at
/// once.
#[derive(Default)]
pub(super) struct AttachedSockets {
    by_handle: HashMap<RawSocket, Attached>,
}

struct Attached {
    source: Weak<dyn SocketSource>,
    skips_port: bool,
}

impl AttachedSockets {
    /// Attaches the socket of `operation` to `port` unless it is attached already; says
    /// whether it skips the port on immediate success.
    pub(super) fn attach(&mut self, port: HANDLE, operation: &Operation) -> io::Result<bool> {
        let source = match operation {
            Operation::Receive { source, .. }
            | Operation::Send { source, .. }
            | Operation::Connect { source, .. }
            | Operation::ReceiveFrom { source, .. }
            | Operation::SendTo { source, .. } => source,
            Operation::Accept { listener, .. } => listener,
            // Polls run on the AFD device, attached when the driver was made.
            Operation::Poll { .. } => return Ok(false),
        };
        let raw = source.as_socket_handle().as_raw_socket();
        let known = self.by_handle.get(&raw);
        if let Some(attached) = known {
            if ptr::addr_eq(attached.source.as_ptr(), Arc::as_ptr(source)) {
                return Ok(attached.skips_port);
            }
        }
        // SAFETY: the operation's shared reference keeps the socket open; attaching an open
        // socket handle to our port has no other effect on it.
        if unsafe { CreateIoCompletionPort(raw as HANDLE, port, 0, 0) }.is_null() {
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(ERROR_INVALID_PARAMETER as i32) {
                return Err(error);
            }
            // Attached to a port already. A socket of this number that we attached (the
            // same socket, shared anew after `into_std` and `from_std`) is on ours; any other
            // is on another port, where its packets would go: refuse rather than wait for
            // ever.
            if known.is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the socket belongs to another completion port (another runtime's `iocp` \
                     driver?): Windows lets a socket use one port for its whole life",
                ));
            }
        }
        let skips_port = skip_port_on_success(raw);
        self.by_handle.insert(raw, Attached { source: Arc::downgrade(source), skips_port });
        Ok(skips_port)
    }
}

/// Sets `socket` to queue no packet for an operation done at once, where its provider is an
/// IFS one (for others, skipping loses completions: golang/go#77448); says whether it did.
fn skip_port_on_success(socket: RawSocket) -> bool {
    // SAFETY: all-zero bytes are a valid `WSAPROTOCOL_INFOW`.
    let mut info: WSAPROTOCOL_INFOW = unsafe { std::mem::zeroed() };
    let mut length = size_of::<WSAPROTOCOL_INFOW>() as i32;
    // SAFETY: `info` and `length` are live locals that describe a buffer of `length` bytes.
    let result = unsafe {
        getsockopt(
            socket as usize,
            SOL_SOCKET,
            SO_PROTOCOL_INFOW,
            (&raw mut info).cast(),
            &mut length,
        )
    };
    if result == SOCKET_ERROR || info.dwServiceFlags1 & XP1_IFS_HANDLES == 0 {
        return false;
    }
    let modes = (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE) as u8;
    // SAFETY: `socket` is open (see `attach`); the call only changes how it completes.
    unsafe { SetFileCompletionNotificationModes(socket as HANDLE, modes) != 0 }
}

/// `SetFileCompletionNotificationModes`' flags: no packet for an operation done at once, and
/// no signal of the handle's event (nobody waits on it).
const FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: u32 = 1;
const FILE_SKIP_SET_EVENT_ON_HANDLE: u32 = 2;
