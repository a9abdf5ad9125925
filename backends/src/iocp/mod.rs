//! `iocp`: a [`CompletionDriver`] on a Windows I/O completion port, with overlapped winsock
//! calls.
//!
//! Each operation is started at once, in [`submit`](CompletionDriver::submit), by the call
//! that does it with an `OVERLAPPED`: `WSARecv`, `WSASend`, `AcceptEx` (into a socket made
//! beforehand), `ConnectEx` (on a socket bound first), `WSARecvFrom`, `WSASendTo`; a poll is
//! an AFD poll request (see `afd`). Operations live in boxes (`InFlight`) that keep their
//! address, and so the addresses the kernel writes to, until the port hands back their
//! packet; [`complete`](CompletionDriver::complete) harvests packets in batches with
//! `GetQueuedCompletionStatusEx`, whose timeout is the wait's. A socket is attached to the
//! port the first time an operation runs on it, and set to skip the port on immediate
//! success where its provider allows it (an IFS provider, and
//! `SetFileCompletionNotificationModes` agreeing): an operation done at once then completes
//! in `submit`, with no packet, and is handed over by the next `complete`.
//!
//! `notify` posts a packet of its own (`PostQueuedCompletionStatus`), at most one at a time.
//! `cancel` is `CancelIoEx` on the operation's `OVERLAPPED`; the box stays until its packet
//! comes, whatever the packet says.
//!
//! # What dropping the driver does
//!
//! Closing a completion port cancels nothing, so the driver cancels every operation in flight
//! and waits for their packets, for up to five seconds; an operation the kernel has not handed
//! back by then is leaked on purpose (its box, its buffer, its socket reference, and for an
//! accept the socket made for it), never freed while the kernel may still write to it.
//!
//! # Limits
//!
//! A socket attached to another completion port (another runtime's `iocp` driver) cannot be
//! attached to this one: Windows allows one port per socket for its life.

mod afd;
mod attached;
mod errors;
mod extensions;
mod in_flight;
mod socket_calls;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{HANDLE, WAIT_TIMEOUT};
use windows_sys::Win32::System::IO::{
    CancelIoEx, CreateIoCompletionPort, GetQueuedCompletionStatusEx, OVERLAPPED_ENTRY,
    PostQueuedCompletionStatus,
};
use windows_sys::Win32::System::Threading::INFINITE;

use crate::Token;
use crate::completion::{
    Completion, CompletionDriver, Completions, MAX_TOKEN, Operation, Refused, TokenMap,
};
use attached::AttachedSockets;
use extensions::Extensions;
use in_flight::{Context, InFlight, Started};

/// The backend's name.
pub const NAME: &str = "iocp";

/// The completion key of `notify`'s packets (sockets are attached with key 0).
const WAKE: usize = usize::MAX;

/// Packets taken from the port per `GetQueuedCompletionStatusEx` at most.
const PACKETS_PER_WAIT: usize = 256;

/// Boxes kept for reuse at most; beyond, a finished operation's box is freed.
const SPARE_BOXES: usize = 4096;

/// How long dropping the driver waits for the packets of cancelled operations before it
/// leaks their memory rather than free it under the kernel.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Why the driver cannot run here, in words the user can act on.
#[derive(Debug)]
pub struct Refusal {
    /// What failed, and what it means.
    pub reason: String,
    /// The system's error, where there was one.
    pub source: Option<io::Error>,
}

/// A completion driver on a Windows I/O completion port.
pub struct IocpDriver {
    port: OwnedHandle,
    /// The AFD device that poll operations go to, attached to `port`.
    afd: OwnedHandle,
    extensions: Extensions,
    state: Mutex<State>,
    /// Where `complete` receives packets; taken by the one thread that waits.
    packets: Mutex<Packets>,
    /// Whether a wake packet is on the port and not yet taken: many notifies, one packet.
    wake_posted: AtomicBool,
}

struct State {
    /// Every operation the kernel may still touch, by token.
    in_flight: TokenMap<Box<InFlight>>,
    /// Finished boxes, for the next operations: each must stay a box, since the kernel is
    /// given addresses inside it.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<InFlight>>,
    /// Operations finished in `submit` (done at once, or failed at once), and completions
    /// that did not fit the caller's buffer: handed over first by the next `complete`.
    finished: VecDeque<Completion>,
    /// The sockets attached to the port.
    attached: AttachedSockets,
}

/// Room for the packets of one wait.
struct Packets(Vec<OVERLAPPED_ENTRY>);

// SAFETY: an `OVERLAPPED_ENTRY` holds a raw pointer only as a value the port wrote, never
// followed through this type; the entries are scratch, read by the thread that holds them.
unsafe impl Send for Packets {}

impl IocpDriver {
    /// Creates a completion port, opens the AFD device that polls use, and loads the winsock
    /// extension functions; a refusal says which of them failed.
    pub fn new() -> Result<IocpDriver, Refusal> {
        let refused = |what: &str, error: io::Error| Refusal {
            reason: format!("could not {what}: {error}"),
            source: Some(error),
        };
        // Also starts winsock, which the calls below need.
        let extensions = Extensions::load()
            .map_err(|error| refused("load AcceptEx and ConnectEx from winsock", error))?;
        // SAFETY: creating a new port: no handle is attached, no key given.
        let port = unsafe { CreateIoCompletionPort(INVALID_HANDLE, ptr::null_mut(), 0, 1) };
        if port.is_null() {
            return Err(refused("create a completion port", io::Error::last_os_error()));
        }
        // SAFETY: `port` is a new handle that nothing else owns.
        let port = unsafe { OwnedHandle::from_raw_handle(port) };
        let afd = afd::open(port.as_raw_handle())
            .map_err(|error| refused("open the AFD device that readiness polls use", error))?;
        Ok(IocpDriver {
            port,
            afd,
            extensions,
            state: Mutex::new(State {
                in_flight: TokenMap::default(),
                spare: Vec::new(),
                finished: VecDeque::new(),
                attached: AttachedSockets::default(),
            }),
            packets: Mutex::new(Packets(vec![OVERLAPPED_ENTRY::default(); PACKETS_PER_WAIT])),
            wake_posted: AtomicBool::new(false),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn port(&self) -> HANDLE {
        self.port.as_raw_handle()
    }

    /// Takes up to `packets.len()` packets from the port, waiting as `timeout` says.
    fn wait(
        &self,
        packets: &mut [OVERLAPPED_ENTRY],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        // A timeout too far to represent is no timeout.
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        loop {
            let milliseconds = match deadline {
                None => INFINITE,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    // Rounded up: a wait never ends before its timeout.
                    let rounded = left.as_nanos().div_ceil(1_000_000);
                    u32::try_from(rounded).unwrap_or(INFINITE - 1).min(INFINITE - 1)
                }
            };
            let mut removed = 0u32;
            // SAFETY: `packets` is a live buffer of the length passed; `removed` a live local.
            let taken = unsafe {
                GetQueuedCompletionStatusEx(
                    self.port(),
                    packets.as_mut_ptr(),
                    packets.len() as u32,
                    &mut removed,
                    milliseconds,
                    0,
                )
            };
            if taken != 0 {
                return Ok(removed as usize);
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(WAIT_TIMEOUT as i32) {
                return Err(error);
            }
            // The system's timer may end a wait a little early: finish it.
            match deadline {
                Some(deadline) if Instant::now() < deadline => {}
                _ => return Ok(0),
            }
        }
    }

    /// Finishes the operations of `packets` into `completions` (past its capacity, into
    /// the queue for the next call).
    fn finish_packets(&self, packets: &[OVERLAPPED_ENTRY], completions: &mut Completions) {
        let mut state = self.state();
        for packet in packets {
            if packet.lpOverlapped.is_null() {
                if packet.lpCompletionKey == WAKE {
                    self.wake_posted.store(false, Ordering::Release);
                }
                continue;
            }
            let address = packet.lpOverlapped.cast_const().cast::<InFlight>();
            // SAFETY: only this driver's operations complete on its port with an
            // `OVERLAPPED`, which is the first field of their box (see `InFlight`); the box
            // stays in `in_flight` until this packet is handled, under the lock held here.
            let token = unsafe { (*address).token };
            let Some(mut boxed) = state.in_flight.remove(&token) else { continue };
            if !ptr::eq(&*boxed, address) {
                // Not this box's packet (cannot happen): leave the box where it was.
                state.in_flight.insert(token, boxed);
                continue;
            }
            let status = boxed.status();
            let result = match status >= 0 {
                true => Ok(packet.dwNumberOfBytesTransferred),
                false => Err(afd::status_error(status).raw_os_error().unwrap_or(0)),
            };
            // SAFETY: this is the packet of the operation the box started last.
            let (result, operation) = unsafe { boxed.finish(result, &self.extensions) };
            state.deliver(Completion { token, result, operation }, completions);
            state.recycle(boxed);
        }
    }
}

impl State {
    fn deliver(&mut self, completion: Completion, completions: &mut Completions) {
        if completions.is_full() {
            self.finished.push_back(completion);
        } else {
            completions.push(completion);
        }
    }

    fn recycle(&mut self, boxed: Box<InFlight>) {
        if self.spare.len() < SPARE_BOXES {
            self.spare.push(boxed);
        }
    }
}

/// The handle value that asks `CreateIoCompletionPort` for a new port.
const INVALID_HANDLE: HANDLE = -1isize as HANDLE;

impl CompletionDriver for IocpDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn submit(&self, token: Token, operation: Operation) -> Result<(), Refused> {
        let mut state = self.state();
        if token.0 > MAX_TOKEN || state.in_flight.contains_key(&token) {
            let error = io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("token {:#x} is out of range or in flight already", token.0),
            );
            return Err(Refused { error, operation });
        }
        let skips_port = match state.attached.attach(self.port(), &operation) {
            Ok(skips_port) => skips_port,
            Err(error) => return Err(Refused { error, operation }),
        };
        let context =
            Context { extensions: &self.extensions, afd: self.afd.as_raw_handle(), skips_port };
        let mut boxed = state.spare.pop().unwrap_or_else(InFlight::new);
        // SAFETY: a pending box goes into `in_flight` below, before the lock is released (so
        // that `complete` finds it when its packet comes), and leaves it only when that
        // packet is handled, or is leaked by `Drop` if the packet never comes.
        match unsafe { boxed.start(token, operation, &context) } {
            Started::Pending => {
                state.in_flight.insert(token, boxed);
            }
            Started::Finished(result) => {
                // SAFETY: the start finished at once with this result; no packet comes.
                let (result, operation) = unsafe { boxed.finish(result, &self.extensions) };
                state.finished.push_back(Completion { token, result, operation });
                state.recycle(boxed);
            }
        }
        Ok(())
    }

    fn cancel(&self, token: Token) {
        let state = self.state();
        if let Some(boxed) = state.in_flight.get(&token) {
            // SAFETY: the box is in flight on `handle` (kept open by the operation, or the
            // driver's AFD device); cancelling only makes its packet come sooner. A failure
            // (`ERROR_NOT_FOUND`: done already) leaves the packet to come as it would.
            let _ = unsafe { CancelIoEx(boxed.handle as HANDLE, boxed.overlapped()) };
        }
    }

    fn complete(&self, completions: &mut Completions, timeout: Option<Duration>) -> io::Result<()> {
        {
            let mut state = self.state();
            while !completions.is_full() {
                let Some(completion) = state.finished.pop_front() else { break };
                completions.push(completion);
            }
        }
        if completions.is_full() {
            return Ok(());
        }
        let timeout = if completions.is_empty() { timeout } else { Some(Duration::ZERO) };
        let mut packets = self.packets.lock().unwrap_or_else(PoisonError::into_inner);
        let packets = &mut packets.0;
        let room = (completions.capacity() - completions.len()).clamp(1, packets.len());
        let taken = self.wait(&mut packets[..room], timeout)?;
        self.finish_packets(&packets[..taken], completions);
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        if self.wake_posted.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // SAFETY: posts a packet with no `OVERLAPPED` to the driver's own port.
        if unsafe { PostQueuedCompletionStatus(self.port(), 0, WAKE, ptr::null()) } == 0 {
            self.wake_posted.store(false, Ordering::Release);
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for IocpDriver {
    /// Cancels every operation in flight and waits for its packet before its memory goes;
    /// what the port has not handed back after `DRAIN_LIMIT` is leaked, never freed.
    fn drop(&mut self) {
        {
            let state = self.state();
            for boxed in state.in_flight.values() {
                // SAFETY: as in `cancel`.
                let _ = unsafe { CancelIoEx(boxed.handle as HANDLE, boxed.overlapped()) };
            }
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        let mut packets = vec![OVERLAPPED_ENTRY::default(); PACKETS_PER_WAIT];
        let mut completions = Completions::with_capacity(PACKETS_PER_WAIT);
        while !self.state().in_flight.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let Ok(taken) = self.wait(&mut packets, Some(left.min(Duration::from_millis(100))))
            else {
                break;
            };
            // Handed back operations are dropped here: buffers freed, sockets let go.
            self.finish_packets(&packets[..taken], &mut completions);
            completions.clear();
            self.state().finished.clear();
        }
        // Whatever the kernel still holds stays allocated for ever, as it may still write.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (_, boxed) in state.in_flight.drain() {
            Box::leak(boxed);
        }
    }
}

impl fmt::Debug for IocpDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let in_flight = self.state.try_lock().map(|state| state.in_flight.len()).ok();
        f.debug_struct("IocpDriver").field("in_flight", &in_flight).finish()
    }
}
