//! One overlapped operation: the `OVERLAPPED` the kernel completes, the operation with its
//! buffer, and what the call needs besides (a `WSABUF`, flags, addresses, the socket an
//! accept fills, an AFD poll's request), in one box whose address does not change until the
//! port hands back its packet.

use std::io;
use std::mem;
use std::os::windows::io::AsRawSocket;
use std::ptr;

use socket2::{SockAddr, SockRef, Socket, Type};
use windows_sys::Wdk::System::IO::NtDeviceIoControlFile;
use windows_sys::Win32::Foundation::{HANDLE, STATUS_PENDING, STATUS_SUCCESS};
use windows_sys::Win32::Networking::WinSock::{
    SO_UPDATE_CONNECT_CONTEXT, SOCKADDR, SOCKADDR_STORAGE, SOCKET_ERROR, WSA_IO_PENDING, WSABUF,
    WSARecv, WSARecvFrom, WSASend, WSASendTo,
};
use windows_sys::Win32::System::IO::{IO_STATUS_BLOCK, OVERLAPPED};

use super::afd::{self, IOCTL_AFD_POLL, PollInfo};
use super::errors::{is_truncated, last_socket_code, operation_error};
use super::extensions::Extensions;
use super::socket_calls::{
    accept_context, accept_peer, bind_unspecified, grow, set_option, socket_address, wsabuf,
};
use crate::Token;
use crate::completion::Operation;

/// The room `AcceptEx` needs for each of the two addresses it writes.
pub(super) const ACCEPT_ADDRESS: usize = size_of::<SOCKADDR_STORAGE>() + 16;

/// What a start did.
pub(super) enum Started {
    /// The port will hand back a packet for it.
    Pending,
    /// It finished at once and no packet will come: `Ok(bytes)` or the error code.
    Finished(Result<u32, i32>),
}

/// What a start needs to know besides the operation.
pub(super) struct Context<'a> {
    pub(super) extensions: &'a Extensions,
    /// The AFD device polls go to.
    pub(super) afd: HANDLE,
    /// Whether the socket skips the port on immediate success (no packet then).
    pub(super) skips_port: bool,
}

/// An operation and the memory the kernel may touch for it.
///
/// # Invariant
///
/// From a start that returned [`Started::Pending`] until the port has handed back the packet
/// for `overlapped`, the value stays in its box, unmoved, with its operation untouched: the
/// kernel holds pointers into it and into the operation's buffer. `overlapped` comes first,
/// so the packet's `lpOverlapped` is the box's address.
#[repr(C)]
pub(super) struct InFlight {
    overlapped: OVERLAPPED,
    pub(super) token: Token,
    /// The handle the operation runs on (the socket, or the AFD device for a poll): what
    /// `CancelIoEx` names.
    pub(super) handle: usize,
    operation: Option<Operation>,
    buffer: WSABUF,
    flags: u32,
    /// What operations other than plain receives and sends need; made on the first such
    /// operation and kept with the box when it is reused.
    extra: Option<Box<Extra>>,
}

/// The memory an accept, connect, datagram or poll operation hands the kernel.
struct Extra {
    address: SOCKADDR_STORAGE,
    address_len: i32,
    target: Option<SockAddr>,
    accept_addresses: [u8; 2 * ACCEPT_ADDRESS],
    accepted: Option<Socket>,
    poll: PollInfo,
}

// SAFETY: the raw pointers inside (the `WSABUF`'s, the `OVERLAPPED`'s event, none) point
// into the operation's buffer, owned here; the kernel is the only one that follows them,
// and the driver touches an `InFlight` only under its lock.
unsafe impl Send for InFlight {}

impl InFlight {
    pub(super) fn new() -> Box<InFlight> {
        Box::new(InFlight {
            overlapped: OVERLAPPED::default(),
            token: Token(0),
            handle: 0,
            operation: None,
            buffer: WSABUF { len: 0, buf: ptr::null_mut() },
            flags: 0,
            extra: None,
        })
    }

    /// The address the port's packets for this operation carry.
    pub(super) fn overlapped(&self) -> *const OVERLAPPED {
        &raw const self.overlapped
    }

    /// The NT status the kernel wrote when it completed the operation.
    pub(super) fn status(&self) -> i32 {
        self.overlapped.Internal as i32
    }

    /// Starts `operation` (its socket attached to the port already).
    ///
    /// # Safety
    ///
    /// If this returns [`Started::Pending`], the caller keeps `self` boxed, unmoved and
    /// alive until the port hands back the packet for it (see the invariant on
    /// [`InFlight`]).
    pub(super) unsafe fn start(
        &mut self,
        token: Token,
        operation: Operation,
        context: &Context<'_>,
    ) -> Started {
        self.token = token;
        self.overlapped = OVERLAPPED::default();
        self.flags = 0;
        let operation = self.operation.insert(operation);
        let needs_extra = !matches!(operation, Operation::Receive { .. } | Operation::Send { .. });
        let extra = match needs_extra {
            true => Some(&mut **self.extra.get_or_insert_with(Extra::new)),
            false => None,
        };
        let overlapped = &raw mut self.overlapped;
        let mut bytes = 0u32;
        self.handle = operation.raw_source() as usize;
        let socket = self.handle;
        // Each call below is given pointers into `self`, its operation's buffer and
        // `extra`, which the invariant keeps in place until the packet comes.
        let called = match operation {
            Operation::Receive { buffer, .. } => {
                let spare = buffer.spare_capacity_mut();
                self.buffer = wsabuf(spare.as_mut_ptr().cast(), spare.len());
                // SAFETY: see above; the buffer describes the spare capacity, which the
                // kernel may write.
                let result = unsafe {
                    WSARecv(socket, &self.buffer, 1, &mut bytes, &mut self.flags, overlapped, None)
                };
                result != SOCKET_ERROR
            }
            Operation::Send { buffer, offset, .. } => {
                let unsent = buffer.get_mut(*offset..).unwrap_or_default();
                self.buffer = wsabuf(unsent.as_mut_ptr(), unsent.len());
                // SAFETY: see above.
                let result =
                    unsafe { WSASend(socket, &self.buffer, 1, &mut bytes, 0, overlapped, None) };
                result != SOCKET_ERROR
            }
            Operation::Accept { listener, .. } => {
                let extra = extra.expect("made above");
                let handle = listener.as_socket_handle();
                let made = SockRef::from(&handle)
                    .local_addr()
                    .and_then(|local| Socket::new(local.domain(), Type::STREAM, None));
                let accepted = match made {
                    Ok(accepted) => extra.accepted.insert(accepted).as_raw_socket() as usize,
                    Err(error) => return Started::Finished(Err(error.raw_os_error().unwrap_or(0))),
                };
                let accept = context.extensions.accept.expect("loaded");
                // SAFETY: see above; the address buffer holds the two addresses with the
                // room `AcceptEx` asks for, and no data is received into it.
                let result = unsafe {
                    accept(
                        socket,
                        accepted,
                        extra.accept_addresses.as_mut_ptr().cast(),
                        0,
                        ACCEPT_ADDRESS as u32,
                        ACCEPT_ADDRESS as u32,
                        &mut bytes,
                        overlapped,
                    )
                };
                result != 0
            }
            Operation::Connect { address, .. } => {
                let extra = extra.expect("made above");
                if let Err(code) = bind_unspecified(socket, address) {
                    return Started::Finished(Err(code));
                }
                let target = extra.target.insert(SockAddr::from(*address));
                let connect = context.extensions.connect.expect("loaded");
                // SAFETY: see above; no data is sent with the connect.
                let result = unsafe {
                    connect(
                        socket,
                        target.as_ptr().cast(),
                        target.len(),
                        ptr::null(),
                        0,
                        ptr::null_mut(),
                        overlapped,
                    )
                };
                result != 0
            }
            Operation::ReceiveFrom { buffer, .. } => {
                let extra = extra.expect("made above");
                let spare = buffer.spare_capacity_mut();
                self.buffer = wsabuf(spare.as_mut_ptr().cast(), spare.len());
                extra.address_len = size_of::<SOCKADDR_STORAGE>() as i32;
                // SAFETY: see above; the address and its length live in `extra`.
                let result = unsafe {
                    WSARecvFrom(
                        socket,
                        &self.buffer,
                        1,
                        &mut bytes,
                        &mut self.flags,
                        (&raw mut extra.address).cast::<SOCKADDR>(),
                        &mut extra.address_len,
                        overlapped,
                        None,
                    )
                };
                result != SOCKET_ERROR
            }
            Operation::SendTo { buffer, target, .. } => {
                let extra = extra.expect("made above");
                self.buffer = wsabuf(buffer.as_mut_ptr(), buffer.len());
                let target = extra.target.insert(SockAddr::from(*target));
                // SAFETY: see above; the target address lives in `extra`.
                let result = unsafe {
                    WSASendTo(
                        socket,
                        &self.buffer,
                        1,
                        &mut bytes,
                        0,
                        target.as_ptr().cast(),
                        target.len(),
                        overlapped,
                        None,
                    )
                };
                result != SOCKET_ERROR
            }
            Operation::Poll { source, interest, .. } => {
                let extra = extra.expect("made above");
                let base = match afd::base_socket(*source) {
                    Ok(base) => base,
                    Err(error) => return Started::Finished(Err(error.raw_os_error().unwrap_or(0))),
                };
                extra.poll.request(base, *interest);
                self.handle = context.afd as usize;
                self.overlapped.Internal = STATUS_PENDING as usize;
                let info = (&raw mut extra.poll).cast();
                let size = size_of::<PollInfo>() as u32;
                // SAFETY: see above; the `OVERLAPPED` serves as the I/O status block (its
                // first two fields have that layout) and as the context the packet carries.
                let status = unsafe {
                    NtDeviceIoControlFile(
                        context.afd,
                        ptr::null_mut(),
                        None,
                        overlapped.cast(),
                        overlapped.cast::<IO_STATUS_BLOCK>(),
                        IOCTL_AFD_POLL,
                        info,
                        size,
                        info,
                        size,
                    )
                };
                // The device is not set to skip the port: a packet comes even for a poll
                // answered at once.
                return match status {
                    STATUS_SUCCESS | STATUS_PENDING => Started::Pending,
                    status => Started::Finished(Err(afd::status_error(status)
                        .raw_os_error()
                        .unwrap_or(0))),
                };
            }
        };
        if called {
            // Done at once: without skipping the port, its packet still comes.
            return match context.skips_port {
                true => Started::Finished(Ok(bytes)),
                false => Started::Pending,
            };
        }
        match last_socket_code() {
            WSA_IO_PENDING => Started::Pending,
            code => Started::Finished(Err(code)),
        }
    }

    /// Applies the result (`Ok(bytes)` or an error code) to the operation and hands both back.
    ///
    /// # Safety
    ///
    /// `result` is the kernel's for the start made last: the packet for it was handed back,
    /// or the start finished at once, and what the kernel wrote is what it reports.
    pub(super) unsafe fn finish(
        &mut self,
        result: Result<u32, i32>,
        extensions: &Extensions,
    ) -> (io::Result<usize>, Operation) {
        let mut operation = self.operation.take().expect("a finished operation was started");
        self.buffer = wsabuf(ptr::null_mut(), 0);
        let extra = self.extra.as_deref_mut();
        let bytes = match result {
            Ok(bytes) => bytes as usize,
            // A datagram longer than the buffer: the buffer holds its start.
            Err(code)
                if is_truncated(code) && matches!(operation, Operation::ReceiveFrom { .. }) =>
            {
                if let Operation::ReceiveFrom { buffer, .. } = &operation {
                    buffer.capacity() - buffer.len()
                } else {
                    0
                }
            }
            Err(code) => {
                if let Some(extra) = extra {
                    // Closes a socket an accept made and did not fill.
                    extra.accepted = None;
                    extra.target = None;
                }
                return (Err(operation_error(code)), operation);
            }
        };
        let outcome = match &mut operation {
            Operation::Receive { buffer, .. } => {
                // SAFETY: the kernel wrote `bytes` bytes into the spare capacity it was
                // given (never more than it was given).
                unsafe { grow(buffer, bytes) };
                Ok(bytes)
            }
            Operation::Send { .. } | Operation::SendTo { .. } => Ok(bytes),
            Operation::ReceiveFrom { buffer, from, .. } => {
                // SAFETY: as for `Receive`.
                unsafe { grow(buffer, bytes) };
                let extra = extra.expect("started with it");
                // SAFETY: the kernel wrote the sender's address and its length there.
                *from =
                    unsafe { socket_address((&raw const extra.address).cast(), extra.address_len) };
                Ok(bytes)
            }
            Operation::Accept { listener, accepted, peer } => {
                let extra = extra.expect("started with it");
                let socket = extra.accepted.take().expect("an accept starts with its socket");
                let listening = listener.as_socket_handle().as_raw_socket();
                // SAFETY: the kernel filled the address buffer, laid out as `start` gave it.
                *peer = unsafe { accept_peer(&extra.accept_addresses, extensions) };
                match accept_context(&socket, listening) {
                    Ok(()) => {
                        *accepted = Some(socket);
                        Ok(0)
                    }
                    Err(error) => Err(error),
                }
            }
            Operation::Connect { source, .. } => {
                let raw = source.as_socket_handle().as_raw_socket();
                set_option(raw, SO_UPDATE_CONNECT_CONTEXT, &[]).map(|()| 0)
            }
            Operation::Poll { interest, ready, .. } => {
                *ready = extra.expect("started with it").poll.ready(*interest);
                Ok(0)
            }
        };
        if let Some(extra) = self.extra.as_deref_mut() {
            extra.target = None;
        }
        (outcome, operation)
    }
}

impl Extra {
    fn new() -> Box<Extra> {
        Box::new(Extra {
            // SAFETY: all-zero bytes are a valid `SOCKADDR_STORAGE`.
            address: unsafe { mem::zeroed() },
            address_len: 0,
            target: None,
            accept_addresses: [0; 2 * ACCEPT_ADDRESS],
            accepted: None,
            poll: PollInfo::new(),
        })
    }
}
