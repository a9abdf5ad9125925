//! One operation in the kernel's hands: the operation with its buffer, and the memory the
//! kernel reads and writes besides it (addresses, the message header of `recvmsg` and
//! `sendmsg`), in one box whose address does not change until the completion is reaped.

use std::io;
use std::mem;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::ptr;

use io_uring::{opcode, squeue, types::Fd};
use socket2::{SockAddr, Socket};

use crate::completion::{Operation, cancelled};
use crate::{Interest, Ready, Token};

/// `IORING_RECVSEND_POLL_FIRST` (Linux 5.19), in a receive's `ioprio`: the socket is
/// probably empty, so poll before trying.
const RECVSEND_POLL_FIRST: u16 = 1;

/// An operation and the memory the kernel may touch for it.
///
/// # Invariant
///
/// Once [`prepare`](InFlight::prepare) has built a submission from it, the value stays in
/// its box, unmoved and with its operation untouched, until the kernel's completion for that
/// submission has been reaped and handed to [`finish`](InFlight::finish): the submission
/// holds pointers into it and into the operation's buffer.
pub(super) struct InFlight {
    pub(super) token: Token,
    operation: Option<Operation>,
    /// What the operations that name an address need besides their buffer; made on the
    /// first such operation and kept with the box when it is reused, so that the receives
    /// and sends of a connection (most operations, and one per idle connection) stay small.
    addressing: Option<Box<Addressing>>,
}

/// The memory an accept, connect or datagram operation hands the kernel besides its buffer.
struct Addressing {
    address: libc::sockaddr_storage,
    address_len: libc::socklen_t,
    /// The address a connect or a datagram goes to, in the system's form.
    target: Option<SockAddr>,
    iovec: libc::iovec,
    message: libc::msghdr,
}

impl Addressing {
    fn new() -> Box<Addressing> {
        Box::new(Addressing {
            // SAFETY: all-zero bytes are a valid value of these plain C structures.
            address: unsafe { mem::zeroed() },
            address_len: 0,
            target: None,
            iovec: libc::iovec { iov_base: ptr::null_mut(), iov_len: 0 },
            // SAFETY: as above.
            message: unsafe { mem::zeroed() },
        })
    }

    /// The address the kernel wrote into `address`, `length` bytes of it.
    ///
    /// # Safety
    ///
    /// The kernel wrote an address of `length` bytes there.
    unsafe fn socket_address(&self, length: libc::socklen_t) -> Option<SocketAddr> {
        if length == 0 || length as usize > size_of::<libc::sockaddr_storage>() {
            return None;
        }
        // SAFETY: `try_init` hands a zeroed storage big enough for any address; the copy
        // fills it from `address`, whose first `length` bytes the kernel wrote.
        let made = unsafe {
            SockAddr::try_init(|storage, stored_length| {
                ptr::copy_nonoverlapping(
                    ptr::from_ref(&self.address).cast::<u8>(),
                    storage.cast::<u8>(),
                    length as usize,
                );
                *stored_length = length;
                Ok(())
            })
        };
        made.ok().and_then(|((), address)| address.as_socket())
    }
}

// SAFETY: the raw pointers inside (the `Addressing`'s `iovec` and `message`) point into that
// box and into the operation's buffer, both owned here; the kernel is the only one that
// follows them, and the driver touches an `InFlight` only under its ring's lock.
unsafe impl Send for InFlight {}

impl InFlight {
    pub(super) fn new() -> Box<InFlight> {
        Box::new(InFlight { token: Token(0), operation: None, addressing: None })
    }

    /// Whether the box carries address memory (made by an earlier accept, connect or
    /// datagram operation, and kept for the next one).
    pub(super) fn is_addressed(&self) -> bool {
        self.addressing.is_some()
    }

    /// Frees the address memory the box carries, if any.
    pub(super) fn without_addressing(mut self: Box<Self>) -> Box<InFlight> {
        self.addressing = None;
        self
    }

    /// Whether `operation` hands the kernel address memory besides its buffer.
    pub(super) fn needs_addressing(operation: &Operation) -> bool {
        !matches!(
            operation,
            Operation::Receive { .. } | Operation::Send { .. } | Operation::Poll { .. }
        )
    }

    /// Takes `operation` in and builds its submission entry; a stream receive waits for
    /// data before it tries if `poll_first` (see `drained`).
    ///
    /// # Safety
    ///
    /// The caller keeps `self` boxed, unmoved and alive until the completion of the returned
    /// entry has been reaped (see the invariant on [`InFlight`]).
    pub(super) unsafe fn prepare(
        &mut self,
        token: Token,
        operation: Operation,
        poll_first: bool,
    ) -> squeue::Entry {
        self.token = token;
        let operation = self.operation.insert(operation);
        let fd = Fd(operation.raw_source() as RawFd);
        let parts = if InFlight::needs_addressing(operation) {
            Some(&mut **self.addressing.get_or_insert_with(Addressing::new))
        } else {
            None
        };
        match operation {
            Operation::Receive { buffer, .. } => {
                let spare = buffer.spare_capacity_mut();
                let length = u32::try_from(spare.len()).unwrap_or(u32::MAX);
                let flags = if poll_first { RECVSEND_POLL_FIRST } else { 0 };
                opcode::Recv::new(fd, spare.as_mut_ptr().cast(), length).ioprio(flags).build()
            }
            Operation::Send { buffer, offset, .. } => {
                let unsent = buffer.get(*offset..).unwrap_or_default();
                let length = u32::try_from(unsent.len()).unwrap_or(u32::MAX);
                opcode::Send::new(fd, unsent.as_ptr(), length).flags(libc::MSG_NOSIGNAL).build()
            }
            Operation::Accept { .. } => {
                let parts = parts.expect("made above for accepts");
                parts.address_len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                let address = ptr::from_mut(&mut parts.address).cast();
                opcode::Accept::new(fd, address, &raw mut parts.address_len)
                    .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                    .build()
            }
            Operation::Connect { address, .. } => {
                let parts = parts.expect("made above for connects");
                let target = parts.target.insert(SockAddr::from(*address));
                opcode::Connect::new(fd, target.as_ptr().cast(), target.len()).build()
            }
            Operation::ReceiveFrom { buffer, .. } => {
                let parts = parts.expect("made above for datagrams");
                let spare = buffer.spare_capacity_mut();
                parts.iovec =
                    libc::iovec { iov_base: spare.as_mut_ptr().cast(), iov_len: spare.len() };
                parts.address_len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                parts.message.msg_name = ptr::from_mut(&mut parts.address).cast();
                parts.message.msg_namelen = parts.address_len;
                parts.message.msg_iov = &raw mut parts.iovec;
                parts.message.msg_iovlen = 1;
                opcode::RecvMsg::new(fd, &raw mut parts.message).build()
            }
            Operation::SendTo { buffer, target, .. } => {
                let parts = parts.expect("made above for datagrams");
                parts.iovec =
                    libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: buffer.len() };
                let target = parts.target.insert(SockAddr::from(*target));
                parts.message.msg_name = target.as_ptr().cast_mut().cast();
                parts.message.msg_namelen = target.len();
                parts.message.msg_iov = &raw mut parts.iovec;
                parts.message.msg_iovlen = 1;
                opcode::SendMsg::new(fd, &raw const parts.message)
                    .flags(libc::MSG_NOSIGNAL as u32)
                    .build()
            }
            // Polls wait in the driver's epoll set (see `epoll_set`), never as entries; one
            // reaching here is a readiness check the ring can still answer.
            Operation::Poll { interest, .. } => {
                opcode::PollAdd::new(fd, poll_mask(*interest)).build()
            }
        }
    }

    /// Applies the kernel's result to the operation and hands both back.
    ///
    /// # Safety
    ///
    /// `result` is the kernel's completion of the entry [`prepare`](Self::prepare) built
    /// last: what the kernel wrote is what it reports.
    pub(super) unsafe fn finish(&mut self, result: i32) -> (io::Result<usize>, Operation) {
        let mut operation = self.operation.take().expect("a reaped operation was prepared");
        // `recvmsg` reports the sender's address length in the header.
        let (name_len, address_len) = match self.addressing.as_deref_mut() {
            Some(parts) => {
                let lengths = (parts.message.msg_namelen, parts.address_len);
                parts.message = unsafe_zeroed_message();
                parts.iovec = libc::iovec { iov_base: ptr::null_mut(), iov_len: 0 };
                parts.target = None;
                lengths
            }
            None => (0, 0),
        };
        let parts = self.addressing.as_deref();
        if result < 0 {
            let error = if -result == libc::ECANCELED {
                cancelled()
            } else {
                io::Error::from_raw_os_error(-result)
            };
            return (Err(error), operation);
        }
        let value = result as usize;
        // What the operation did, as `Operation` documents it: bytes for the transfers, 0
        // for an accept (whose result here is the new descriptor) and for a poll (whose
        // result here is the event mask).
        let reported = match &operation {
            Operation::Accept { .. } | Operation::Poll { .. } => 0,
            _ => value,
        };
        match &mut operation {
            Operation::Receive { buffer, .. } => {
                // SAFETY: the kernel wrote `value` bytes into the spare capacity it was
                // given (never more than it was given), so they are initialised.
                unsafe { grow(buffer, value) };
            }
            Operation::ReceiveFrom { buffer, from, .. } => {
                // SAFETY: as for `Receive`.
                unsafe { grow(buffer, value) };
                // SAFETY: the kernel wrote the sender's address and its length.
                *from = parts.and_then(|parts| unsafe { parts.socket_address(name_len) });
            }
            Operation::Accept { accepted, peer, .. } => {
                // SAFETY: a successful accept's result is a new descriptor that nothing
                // else owns; the socket takes it over and closes it when dropped.
                *accepted = Some(unsafe { Socket::from_raw_fd(value as RawFd) });
                // SAFETY: the kernel wrote the peer's address and its length.
                *peer = parts.and_then(|parts| unsafe { parts.socket_address(address_len) });
            }
            Operation::Poll { ready, .. } => *ready = ready_from_mask(value as u32),
            Operation::Send { .. } | Operation::Connect { .. } | Operation::SendTo { .. } => {}
        }
        (Ok(reported), operation)
    }
}

/// Grows `buffer`'s length by `received`, capped at its capacity.
///
/// # Safety
///
/// The first `received` bytes of `buffer`'s spare capacity are initialised.
unsafe fn grow(buffer: &mut Vec<u8>, received: usize) {
    let length = (buffer.len() + received).min(buffer.capacity());
    // SAFETY: the caller's promise; the length stays within the capacity.
    unsafe { buffer.set_len(length) };
}

fn unsafe_zeroed_message() -> libc::msghdr {
    // SAFETY: all-zero bytes are a valid `msghdr` (null pointers, zero lengths).
    unsafe { mem::zeroed() }
}

/// The `poll(2)` events that answer `interest`.
fn poll_mask(interest: Interest) -> u32 {
    let mut mask = 0;
    if interest.is_readable() {
        mask |= libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP;
    }
    if interest.is_writable() {
        mask |= libc::POLLOUT;
    }
    mask as u32
}

/// What the `poll(2)` events of a completed poll say.
pub(super) fn ready_from_mask(mask: u32) -> Ready {
    let mask = mask as i16;
    let mut ready = Ready::EMPTY;
    if mask & libc::POLLIN != 0 {
        ready |= Ready::READABLE;
    }
    if mask & libc::POLLOUT != 0 {
        ready |= Ready::WRITABLE;
    }
    if mask & libc::POLLPRI != 0 {
        ready |= Ready::READABLE | Ready::PRIORITY;
    }
    if mask & libc::POLLRDHUP != 0 {
        ready |= Ready::READABLE | Ready::READ_CLOSED;
    }
    if mask & libc::POLLHUP != 0 {
        ready |= Ready::READABLE | Ready::WRITABLE | Ready::READ_CLOSED | Ready::WRITE_CLOSED;
    }
    if mask & libc::POLLERR != 0 {
        ready |= Ready::READABLE | Ready::WRITABLE | Ready::ERROR;
    }
    ready
}
