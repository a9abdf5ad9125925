//! The operations a completion driver runs, each described once with the buffer it owns,
//! and the completions that hand them back.

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::sync::Arc;

use std::net::SocketAddr;

use socket2::{SockAddr, SockRef, Socket};

use crate::{Interest, RawSource, Ready, SEND_FLAGS, Token};

/// A socket shared with the operations in flight on it: an operation holds one reference,
/// so the socket cannot close (and its number cannot be reused) while the kernel may still
/// act on it. The socket closes when its owner and its last operation have let go.
pub type SharedSource = Arc<dyn SocketSource>;

/// A socket an [`Operation`] can run on: any socket type that lends its descriptor (`AsFd`
/// on Unix, `AsSocket` on Windows), shared between threads.
pub trait SocketSource: crate::sys::AsSocketHandle + Send + Sync + fmt::Debug {}

impl<T: crate::sys::AsSocketHandle + Send + Sync + fmt::Debug> SocketSource for T {}

/// One I/O operation with everything it owns, described once: a completion driver runs it
/// in the kernel, a readiness runtime runs it with [`run_now`](Operation::run_now) once the
/// socket is ready for [`interest`](Operation::interest).
///
/// The fields named as outputs are filled in when the operation completes.
#[non_exhaustive]
pub enum Operation {
    /// Receives from a connected socket into the spare capacity of `buffer` (after its
    /// `len()`, up to its `capacity()`), and grows its `len()` by what was received.
    /// `Ok(0)` with spare capacity left is the end of the stream.
    Receive {
        /// The socket.
        source: SharedSource,
        /// The buffer: bytes before `len()` are kept, received bytes follow them.
        buffer: Vec<u8>,
    },
    /// Sends `buffer[offset..]` on a connected socket; `Ok(n)` bytes of it were sent (a
    /// short send is possible). Never raises `SIGPIPE`.
    Send {
        /// The socket.
        source: SharedSource,
        /// The bytes; those before `offset` were sent earlier.
        buffer: Vec<u8>,
        /// Where the bytes to send start.
        offset: usize,
    },
    /// Accepts a connection: `Ok(0)`, with `accepted` holding the new socket (non-blocking
    /// and close-on-exec) and `peer` its remote address. Dropping the operation closes an
    /// accepted socket nobody took, so a completed accept never leaks a descriptor.
    Accept {
        /// The listening socket.
        listener: SharedSource,
        /// Output: the accepted socket.
        accepted: Option<Socket>,
        /// Output: the address of the peer, where the system gave it.
        peer: Option<SocketAddr>,
    },
    /// Connects a socket (created, not yet connected) to `address`: `Ok(0)` once connected.
    Connect {
        /// The socket.
        source: SharedSource,
        /// Where to connect.
        address: SocketAddr,
    },
    /// Receives one datagram into the spare capacity of `buffer`, growing its `len()` by
    /// its size (a longer datagram is truncated); `from` gets the sender's address.
    ReceiveFrom {
        /// The socket.
        source: SharedSource,
        /// The buffer, as for [`Operation::Receive`].
        buffer: Vec<u8>,
        /// Output: the sender's address.
        from: Option<SocketAddr>,
    },
    /// Sends `buffer` as one datagram to `target`.
    SendTo {
        /// The socket.
        source: SharedSource,
        /// The datagram.
        buffer: Vec<u8>,
        /// Where to send it.
        target: SocketAddr,
    },
    /// Waits until `source` is (probably) ready for `interest`: `Ok(0)` with `ready` saying
    /// what was seen. A hint, as a [`Backend`](crate::Backend)'s events are.
    ///
    /// The only operation that names its socket by number: it owns no buffer, so at worst a
    /// poll that outlives its socket reports a readiness nobody asked about, which every
    /// caller already treats as possibly spurious.
    Poll {
        /// The socket's descriptor (handle on Windows).
        source: RawSource,
        /// The directions to wait for.
        interest: Interest,
        /// Output: what was seen.
        ready: Ready,
    },
}

impl Operation {
    /// The direction a readiness runtime waits for before it calls [`run_now`](Self::run_now).
    pub fn interest(&self) -> Interest {
        match self {
            Operation::Receive { .. }
            | Operation::Accept { .. }
            | Operation::ReceiveFrom { .. } => Interest::READABLE,
            Operation::Send { .. } | Operation::Connect { .. } | Operation::SendTo { .. } => {
                Interest::WRITABLE
            }
            Operation::Poll { interest, .. } => *interest,
        }
    }

    /// The raw handle of the operation's socket.
    pub fn raw_source(&self) -> RawSource {
        match self {
            Operation::Receive { source, .. }
            | Operation::Send { source, .. }
            | Operation::Connect { source, .. }
            | Operation::ReceiveFrom { source, .. }
            | Operation::SendTo { source, .. } => crate::sys::raw_of(source.as_socket_handle()),
            Operation::Accept { listener, .. } => crate::sys::raw_of(listener.as_socket_handle()),
            Operation::Poll { source, .. } => *source,
        }
    }

    /// The readiness form: tries the operation once with a non-blocking system call, with
    /// the same result and outputs as its completion. `WouldBlock` means "wait until the
    /// socket is ready for [`interest`](Self::interest) and try again".
    ///
    /// A `Connect` is started by its first call and finished by a later one, once the socket
    /// is writable; a `Poll` reports the readiness it is asked for, since its caller waited
    /// for it already.
    pub fn run_now(&mut self) -> io::Result<usize> {
        match self {
            Operation::Receive { source, buffer } => with_socket(&**source, |socket| {
                receive_into_spare(buffer, |spare| socket.recv(spare))
            }),
            Operation::Send { source, buffer, offset } => with_socket(&**source, |socket| {
                let unsent = buffer.get(*offset..).unwrap_or_default();
                socket.send_with_flags(unsent, SEND_FLAGS)
            }),
            Operation::Accept { listener, accepted, peer } => with_socket(&**listener, |socket| {
                let (socket, address) = socket.accept()?;
                socket.set_nonblocking(true)?;
                *accepted = Some(socket);
                *peer = address.as_socket();
                Ok(0)
            }),
            Operation::Connect { source, address } => {
                with_socket(&**source, |socket| connect_now(socket, &SockAddr::from(*address)))
            }
            Operation::ReceiveFrom { source, buffer, from } => with_socket(&**source, |socket| {
                let mut sender = None;
                let received = receive_into_spare(buffer, |spare| {
                    let (received, address) = socket.recv_from(spare)?;
                    sender = address.as_socket();
                    Ok(received)
                })?;
                *from = sender;
                Ok(received)
            }),
            Operation::SendTo { source, buffer, target } => {
                with_socket(&**source, |socket| socket.send_to(buffer, &SockAddr::from(*target)))
            }
            Operation::Poll { interest, ready, .. } => {
                *ready = Ready::for_interest(*interest);
                Ok(0)
            }
        }
    }

    /// Takes the buffer out of an operation that has one (an empty `Vec` for the others).
    pub fn into_buffer(self) -> Vec<u8> {
        match self {
            Operation::Receive { buffer, .. }
            | Operation::Send { buffer, .. }
            | Operation::ReceiveFrom { buffer, .. }
            | Operation::SendTo { buffer, .. } => buffer,
            Operation::Accept { .. } | Operation::Connect { .. } | Operation::Poll { .. } => {
                Vec::new()
            }
        }
    }
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Operation::Receive { .. } => "Receive",
            Operation::Send { .. } => "Send",
            Operation::Accept { .. } => "Accept",
            Operation::Connect { .. } => "Connect",
            Operation::ReceiveFrom { .. } => "ReceiveFrom",
            Operation::SendTo { .. } => "SendTo",
            Operation::Poll { .. } => "Poll",
        };
        let mut debug = f.debug_struct(name);
        debug.field("source", &self.raw_source());
        match self {
            Operation::Receive { buffer, .. } | Operation::ReceiveFrom { buffer, .. } => {
                debug.field("len", &buffer.len()).field("capacity", &buffer.capacity())
            }
            Operation::Send { buffer, offset, .. } => {
                debug.field("len", &buffer.len()).field("offset", offset)
            }
            Operation::SendTo { buffer, target, .. } => {
                debug.field("len", &buffer.len()).field("target", target)
            }
            Operation::Accept { accepted, .. } => debug.field("accepted", &accepted.is_some()),
            Operation::Connect { address, .. } => debug.field("address", address),
            Operation::Poll { interest, ready, .. } => {
                debug.field("interest", interest).field("ready", ready)
            }
        };
        debug.finish()
    }
}

/// Lends `source`'s socket to socket2 for one call.
fn with_socket<R>(source: &dyn SocketSource, call: impl FnOnce(&SockRef<'_>) -> R) -> R {
    let handle = source.as_socket_handle();
    call(&SockRef::from(&handle))
}

/// Receives into the spare capacity of `buffer` with `receive`, then grows `len()` by what
/// it received.
fn receive_into_spare(
    buffer: &mut Vec<u8>,
    receive: impl FnOnce(&mut [MaybeUninit<u8>]) -> io::Result<usize>,
) -> io::Result<usize> {
    let received = receive(buffer.spare_capacity_mut())?;
    let spare = buffer.capacity() - buffer.len();
    assert!(received <= spare, "a receive reported more bytes than its buffer holds");
    // SAFETY: `receive` initialised the first `received` bytes of the spare capacity (the
    // socket calls write what they report), and `received` fits in it, checked above.
    unsafe { buffer.set_len(buffer.len() + received) };
    Ok(received)
}

/// One step of a non-blocking connect: started by the first call, finished by a later one
/// once the socket is writable.
fn connect_now(socket: &SockRef<'_>, address: &SockAddr) -> io::Result<usize> {
    if let Some(error) = socket.take_error()? {
        return Err(error);
    }
    match socket.connect(address) {
        Ok(()) => Ok(0),
        Err(error) if crate::sys::connect_in_progress(&error) || is_already(&error) => {
            Err(io::ErrorKind::WouldBlock.into())
        }
        Err(error) if is_connected(&error) => Ok(0),
        Err(error) => Err(error),
    }
}

#[cfg(unix)]
fn is_already(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EALREADY)
}

#[cfg(windows)]
fn is_already(error: &io::Error) -> bool {
    error.raw_os_error() == Some(windows_sys::Win32::Networking::WinSock::WSAEALREADY)
}

#[cfg(unix)]
fn is_connected(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EISCONN)
}

#[cfg(windows)]
fn is_connected(error: &io::Error) -> bool {
    error.raw_os_error() == Some(windows_sys::Win32::Networking::WinSock::WSAEISCONN)
}

/// A submission the driver could not take, with its operation handed back untouched.
#[derive(Debug)]
pub struct Refused {
    /// Why.
    pub error: io::Error,
    /// The operation, never started.
    pub operation: Operation,
}

/// An operation handed back by [`complete`](super::CompletionDriver::complete), with the
/// token it was submitted with and its result.
#[derive(Debug)]
pub struct Completion {
    /// The token given to `submit`.
    pub token: Token,
    /// What the operation did (see [`Operation`]'s variants) or why it failed.
    pub result: io::Result<usize>,
    /// The operation, with its buffer and outputs.
    pub operation: Operation,
}

/// The reusable buffer completions are handed over in; `complete` stops at its capacity.
#[derive(Debug)]
pub struct Completions {
    entries: Vec<Completion>,
    capacity: usize,
}

impl Completions {
    /// A buffer for up to `capacity` completions per `complete` call (at least one).
    pub fn with_capacity(capacity: usize) -> Completions {
        let capacity = capacity.max(1);
        Completions { entries: Vec::with_capacity(capacity), capacity }
    }

    /// How many completions one call hands over at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether no more fit.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// How many it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a completion; a driver checks [`is_full`](Self::is_full) first and keeps the
    /// rest for the next call. Past the capacity the completion is still kept (nothing is
    /// ever dropped here), so a driver's mistake costs memory, not an operation.
    pub fn push(&mut self, completion: Completion) {
        self.entries.push(completion);
    }

    /// Empties it, for the next call.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Takes the completions out, oldest first, leaving it empty.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Completion> {
        self.entries.drain(..)
    }

    /// The completions, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Completion> {
        self.entries.iter()
    }
}

/// The error an operation that was cancelled before it did anything completes with.
pub fn cancelled() -> io::Error {
    crate::Error::Cancelled.into()
}

/// Whether `error` says an operation was cancelled before it did anything: [`cancelled()`],
/// or the system's own code for it (`ECANCELED`, `ERROR_OPERATION_ABORTED`).
pub fn is_cancelled(error: &io::Error) -> bool {
    matches!(crate::Error::from_io(error), Some(crate::Error::Cancelled))
        || crate::sys::is_cancelled_code(error)
}
