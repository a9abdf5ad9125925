//! `uring`: a [`CompletionDriver`] on Linux io_uring, through the io-uring crate.
//!
//! Each submission becomes one entry of the ring's submission queue; nothing reaches the
//! kernel until the next [`complete`](CompletionDriver::complete), where one
//! `io_uring_enter` carries every entry of the loop turn together with the wait (with
//! `IORING_FEAT_EXT_ARG`, the wait's timeout rides in the same call). Operations live in
//! boxes (`InFlight`) that keep their address, and so the addresses the kernel writes to,
//! until their completion is reaped; boxes are recycled, so a steady loop allocates nothing.
//!
//! Another thread's notify writes to an eventfd that a read in the ring waits on. Another
//! thread's submission or cancellation, made while the ring is busy waiting, is queued and
//! handed to the kernel by the next wait (the contract allows it: the runtime submits from
//! its own thread, and other threads only cancel when they drop a socket).
//!
//! The ring is cooperative where the kernel allows it (5.19 and later): the kernel finishes
//! completions when the thread that submitted enters the kernel again, rather than
//! interrupting it (see `build_ring`). The ring's own thread enters every loop turn; an
//! entry flushed by another thread (only when the submission queue is full) is finished at
//! that thread's next system call or interrupt.
//!
//! A receive on a socket that the last receive left empty asks the kernel to wait for data
//! before it tries (`IORING_RECVSEND_POLL_FIRST`, see `drained`): a request-response
//! connection then makes one `recvmsg` per message in the kernel instead of up to two.
//!
//! Refusals (`io_uring_disabled`, seccomp, an old kernel) are explained by the `probe` module.

mod drained;
mod epoll_set;
mod in_flight;
mod probe;
mod table;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, opcode, squeue};

use crate::completion::{
    Completion, CompletionDriver, Completions, MAX_TOKEN, Operation, Refused, TokenMap, cancelled,
};
use crate::{Interest, Ready, Token};
use drained::DrainedSockets;
use epoll_set::EpollSet;
use in_flight::InFlight;
pub use probe::Refusal;
use table::{InFlightTable, SpareBoxes};

/// The backend's name.
pub const NAME: &str = "uring";

/// Entries of the submission queue; the completion queue gets twice as many.
const RING_ENTRIES: u32 = 1024;

/// The user data of the eventfd read that wakes a wait, and of cancel requests: above every
/// token a caller may use.
const WAKE: u64 = u64::MAX;
const CANCEL: u64 = u64::MAX - 1;
/// The user data of the poll of the epoll set that poll operations wait in.
const EPOLL_READY: u64 = u64::MAX - 2;

/// How long dropping the driver waits for the kernel to hand back cancelled operations
/// before it leaks their memory rather than free it under the kernel.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// A completion driver on io_uring.
pub struct UringDriver {
    ring: Mutex<Ring>,
    /// Submissions and cancellations made while another thread held the ring.
    queued: Mutex<Vec<Request>>,
    /// Whether `queued` may hold something: spares the lock when it does not.
    any_queued: AtomicBool,
    /// Written by `notify`; a read of it in the ring ends a wait.
    notifier: OwnedFd,
}

enum Request {
    Submit(Token, Operation),
    Cancel(Token),
}

struct Ring {
    ring: IoUring,
    /// Every operation the kernel may still touch, by user data.
    in_flight: InFlightTable,
    /// Finished boxes, for the next operations: each must stay a box, since the kernel is
    /// given addresses inside it.
    spare: SpareBoxes,
    /// What the eventfd read writes into; boxed so that its address stays put.
    wake_buffer: Box<u64>,
    wake_armed: bool,
    /// Where poll operations wait (see `epoll_set`), and whether its poll is in the ring.
    epoll: EpollSet,
    /// The poll operations waiting in `epoll`, by token: the descriptor and the directions,
    /// which is all a poll is. Kept apart from `in_flight`, since a poll gives the kernel
    /// no memory and so needs no box: an idle connection's one operation costs a table
    /// entry, not a box.
    polls: TokenMap<(RawFd, Interest)>,
    epoll_armed: bool,
    /// Completions that did not fit the caller's buffer: handed over first next time.
    overflow: VecDeque<Completion>,
    /// The sockets whose last receive left them empty, and whether the kernel takes the
    /// hint (see `drained`).
    drained: DrainedSockets,
    poll_first: bool,
}

impl UringDriver {
    /// Sets up a ring and checks that the kernel has everything plexio needs; a refusal
    /// says why, in words the user can act on.
    pub fn new() -> Result<UringDriver, Refusal> {
        // `since_5_19`: the kernel took the cooperative flags, so it also knows
        // `IORING_RECVSEND_POLL_FIRST` (both came with Linux 5.19); an older kernel refuses
        // a receive that carries it.
        let (ring, since_5_19) = build_ring(true)
            .map(|ring| (ring, true))
            .or_else(|error| match error.raw_os_error() {
                // A kernel before 5.19 knows neither flag: the ring works without them.
                Some(libc::EINVAL) => build_ring(false).map(|ring| (ring, false)),
                _ => Err(error),
            })
            .map_err(|error| probe::setup_refused(error, probe::disabled_setting()))?;
        probe::check(&ring)?;
        // SAFETY: `eventfd` takes two integers and returns a new descriptor or -1.
        let notifier = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if notifier == -1 {
            let error = io::Error::last_os_error();
            return Err(Refusal {
                reason: format!("could not create the eventfd that wakes the ring: {error}"),
                source: Some(error),
            });
        }
        // SAFETY: `notifier` is a new descriptor that nothing else owns.
        let notifier = unsafe { OwnedFd::from_raw_fd(notifier) };
        let epoll = EpollSet::new().map_err(|error| Refusal {
            reason: format!("could not create the epoll set that readiness waits use: {error}"),
            source: Some(error),
        })?;
        Ok(UringDriver {
            ring: Mutex::new(Ring {
                ring,
                in_flight: InFlightTable::default(),
                spare: SpareBoxes::default(),
                wake_buffer: Box::new(0),
                wake_armed: false,
                epoll,
                polls: TokenMap::default(),
                epoll_armed: false,
                overflow: VecDeque::new(),
                drained: DrainedSockets::default(),
                poll_first: since_5_19,
            }),
            queued: Mutex::new(Vec::new()),
            any_queued: AtomicBool::new(false),
            notifier,
        })
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ring if no other thread holds it (waiting in it, most likely).
    fn ring_if_free(&self) -> Option<MutexGuard<'_, Ring>> {
        match self.ring.try_lock() {
            Ok(ring) => Some(ring),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    fn queue(&self, request: Request) {
        self.queued.lock().unwrap_or_else(PoisonError::into_inner).push(request);
        self.any_queued.store(true, Ordering::Release);
    }

    /// Hands what other threads queued to the ring, in the order they queued it, so that a
    /// cancellation never overtakes the submission it cancels.
    fn start_queued(&self, ring: &mut Ring) {
        if !self.any_queued.swap(false, Ordering::AcqRel) {
            return;
        }
        let queued =
            std::mem::take(&mut *self.queued.lock().unwrap_or_else(PoisonError::into_inner));
        for request in queued {
            match request {
                Request::Submit(token, operation) => {
                    if let Err(Refused { error, operation }) = ring.start(token, operation) {
                        // Taken while the ring was busy, refused now: it completes with
                        // the reason, as the contract's "exactly once" asks.
                        ring.overflow.push_back(Completion {
                            token,
                            result: Err(error),
                            operation,
                        });
                    }
                }
                Request::Cancel(token) => ring.cancel(token),
            }
        }
    }
}

/// Sets up a ring, cooperative (`cooperative`) or not.
///
/// Cooperative task running (`IORING_SETUP_COOP_TASKRUN`) lets the kernel finish
/// completions when the ring's thread next enters the kernel, instead of interrupting it
/// with an inter-processor interrupt for each: the ring's thread enters the kernel every
/// loop turn anyway (its one `io_uring_enter`), and a thread asleep in that wait is still
/// woken. It measured about a tenth less server CPU per message at 64 B x 50 here (bench
/// results, `uring.md`). `IORING_SETUP_TASKRUN_FLAG` marks the submission ring when such
/// work waits, so that a wait that does not block still runs it.
fn build_ring(cooperative: bool) -> io::Result<IoUring> {
    let mut builder = IoUring::builder();
    builder.setup_cqsize(RING_ENTRIES * 2);
    if cooperative {
        builder.setup_coop_taskrun().setup_taskrun_flag();
    }
    builder.build(RING_ENTRIES)
}

impl Ring {
    /// Hands `operation` to the submission queue.
    fn start(&mut self, token: Token, operation: Operation) -> Result<(), Refused> {
        let key = token.0 as u64;
        if token.0 > MAX_TOKEN || self.in_flight.contains(token) || self.polls.contains_key(&token)
        {
            let error = io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("token {:#x} is out of range or in flight already", token.0),
            );
            return Err(Refused { error, operation });
        }
        if let Operation::Poll { source, interest, .. } = operation {
            if let Err(error) = self.epoll.arm(source as RawFd, interest, key) {
                return Err(Refused { error, operation });
            }
            self.polls.insert(token, (source as RawFd, interest));
            return Ok(());
        }
        let poll_first = self.poll_first
            && matches!(operation, Operation::Receive { .. })
            && self.drained.contains(operation.raw_source() as RawFd);
        let mut in_flight = self.spare.take(InFlight::needs_addressing(&operation));
        // SAFETY: the box goes into `in_flight` below (or is handed back before the entry
        // reaches the queue), and leaves it only when the entry's completion is reaped, or
        // is leaked by `Drop` if the kernel never hands it back.
        let entry = unsafe { in_flight.prepare(token, operation, poll_first) }.user_data(key);
        if let Err(error) = self.push(&entry) {
            // SAFETY: the entry never reached the queue: "finishing" it with a made-up
            // error only takes the operation back out.
            let (_, operation) = unsafe { in_flight.finish(-libc::EBUSY) };
            self.spare.keep(in_flight);
            return Err(Refused { error, operation });
        }
        self.in_flight.insert(token, in_flight);
        Ok(())
    }

    /// Asks the kernel to cancel the operation of `token`; its completion still comes.
    fn cancel(&mut self, token: Token) {
        let key = token.0 as u64;
        if let Some((source, interest)) = self.polls.remove(&token) {
            // A poll waits in the epoll set, not in the ring: it ends here.
            self.epoll.disarm(source);
            let operation = Operation::Poll { source: source as _, interest, ready: Ready::EMPTY };
            self.overflow.push_back(Completion { token, result: Err(cancelled()), operation });
            return;
        }
        if !self.in_flight.contains(token) {
            return;
        }
        let entry = opcode::AsyncCancel::new(key).build().user_data(CANCEL);
        // A cancel that finds the queue full even after a flush is dropped: the operation
        // then completes on its own, which the contract allows.
        let _ = self.push(&entry);
    }

    /// Pushes `entry`, flushing the queue to the kernel once if it is full.
    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY: every entry built here points into memory that stays valid until its
        // completion is reaped (see `start`, `arm_wake`); a cancel entry points nowhere.
        if unsafe { self.ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        self.ring.submit()?;
        // SAFETY: as above.
        unsafe { self.ring.submission().push(entry) }.map_err(|_| {
            io::Error::new(io::ErrorKind::WouldBlock, "the io_uring submission queue is full")
        })
    }

    /// Puts the poll of the epoll set in the ring, unless it is there already.
    fn arm_epoll(&mut self) {
        if self.epoll_armed {
            return;
        }
        let mask = libc::POLLIN as u32;
        let entry =
            opcode::PollAdd::new(Fd(self.epoll.raw_fd()), mask).build().user_data(EPOLL_READY);
        if self.push(&entry).is_ok() {
            self.epoll_armed = true;
        }
    }

    /// Puts the eventfd read in the ring, unless it is there already.
    fn arm_wake(&mut self, notifier: &OwnedFd) {
        if self.wake_armed {
            return;
        }
        let buffer = std::ptr::from_mut(&mut *self.wake_buffer).cast::<u8>();
        let entry = opcode::Read::new(Fd(notifier.as_raw_fd()), buffer, 8).build().user_data(WAKE);
        // The buffer is boxed and lives as long as the ring (leaked if the read never
        // completes by `Drop`).
        if self.push(&entry).is_ok() {
            self.wake_armed = true;
        }
    }

    /// Submits what is queued and waits as `timeout` says. `Ok(false)`: interrupted.
    fn enter(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let entered = match timeout {
            Some(Duration::ZERO) => self.ring.submit(),
            None => self.ring.submit_and_wait(1),
            Some(timeout) => {
                let timespec = Timespec::from(timeout);
                let arguments = SubmitArgs::new().timespec(&timespec);
                self.ring.submitter().submit_with_args(1, &arguments)
            }
        };
        match entered {
            Ok(_) => Ok(true),
            Err(error) => match error.raw_os_error() {
                Some(libc::ETIME) => Ok(true),
                Some(libc::EINTR) => Ok(false),
                // The completion queue is full (or the kernel is short of memory for the
                // moment): reaping makes room, and the entries stay queued for next time.
                Some(libc::EBUSY | libc::EAGAIN) => Ok(true),
                _ => Err(error),
            },
        }
    }

    /// Moves every completion the kernel posted into `completions`, the rest into the
    /// overflow.
    fn reap(&mut self, completions: &mut Completions) {
        let Ring {
            ring,
            in_flight,
            spare,
            overflow,
            wake_armed,
            epoll,
            polls,
            epoll_armed,
            drained,
            ..
        } = self;
        let mut readiness_due = false;
        let mut deliver = |completion: Completion, completions: &mut Completions| {
            if completions.is_full() {
                overflow.push_back(completion);
            } else {
                completions.push(completion);
            }
        };
        for entry in ring.completion() {
            match entry.user_data() {
                WAKE => *wake_armed = false,
                EPOLL_READY => {
                    *epoll_armed = false;
                    readiness_due = true;
                }
                CANCEL => {}
                key => {
                    let Some(mut boxed) = in_flight.remove(Token(key as usize)) else { continue };
                    // SAFETY: this is the completion of the entry the box prepared last.
                    let (result, operation) = unsafe { boxed.finish(entry.result()) };
                    if let Operation::Receive { buffer, .. } = &operation {
                        // A receive that did not fill its buffer emptied the socket.
                        let empty = match &result {
                            Ok(_) => buffer.len() < buffer.capacity(),
                            Err(error) => error.kind() == io::ErrorKind::WouldBlock,
                        };
                        drained.record(operation.raw_source() as RawFd, empty);
                    }
                    let completion = Completion { token: boxed.token, result, operation };
                    spare.keep(boxed);
                    deliver(completion, completions);
                }
            }
        }
        if readiness_due {
            epoll.collect(|key, events| {
                let token = Token(key as usize);
                let Some((source, interest)) = polls.remove(&token) else { return };
                // The epoll events have `poll(2)`'s values on Linux.
                let ready = in_flight::ready_from_mask(events & 0x7fff_ffff);
                let operation = Operation::Poll { source: source as _, interest, ready };
                deliver(Completion { token, result: Ok(0), operation }, completions);
            });
        }
    }
}

impl CompletionDriver for UringDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn submit(&self, token: Token, operation: Operation) -> Result<(), Refused> {
        match self.ring_if_free() {
            Some(mut ring) => {
                self.start_queued(&mut ring);
                ring.start(token, operation)
            }
            None => {
                self.queue(Request::Submit(token, operation));
                Ok(())
            }
        }
    }

    fn cancel(&self, token: Token) {
        match self.ring_if_free() {
            Some(mut ring) => {
                self.start_queued(&mut ring);
                ring.cancel(token);
            }
            None => self.queue(Request::Cancel(token)),
        }
    }

    fn complete(&self, completions: &mut Completions, timeout: Option<Duration>) -> io::Result<()> {
        let mut ring = self.ring();
        self.start_queued(&mut ring);
        while !completions.is_full() {
            let Some(completion) = ring.overflow.pop_front() else { break };
            completions.push(completion);
        }
        let timeout = if completions.is_empty() { timeout } else { Some(Duration::ZERO) };
        ring.arm_wake(&self.notifier);
        ring.arm_epoll();
        let finished = ring.enter(timeout)?;
        ring.reap(completions);
        if !finished && completions.is_empty() {
            return Err(io::ErrorKind::Interrupted.into());
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one` to the eventfd this driver owns.
        let written =
            unsafe { libc::write(self.notifier.as_raw_fd(), std::ptr::from_ref(&one).cast(), 8) };
        match written {
            8 => Ok(()),
            _ => {
                let error = io::Error::last_os_error();
                // A counter at its maximum means a wake is pending already.
                if error.kind() == io::ErrorKind::WouldBlock { Ok(()) } else { Err(error) }
            }
        }
    }
}

impl Drop for UringDriver {
    /// Cancels every operation in flight and reaps its completion before its memory goes;
    /// what the kernel has not handed back after `DRAIN_LIMIT` is leaked, never freed.
    fn drop(&mut self) {
        let ring = self.ring.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Polls wait in the epoll set, which closes with the driver: nothing to reap.
        ring.polls.clear();
        let keys: Vec<u64> = ring.in_flight.tokens().iter().map(|token| token.0 as u64).collect();
        for key in keys {
            let _ = ring.push(&opcode::AsyncCancel::new(key).build().user_data(CANCEL));
        }
        if ring.wake_armed {
            let _ = ring.push(&opcode::AsyncCancel::new(WAKE).build().user_data(CANCEL));
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        let mut completions = Completions::with_capacity(1024);
        while !ring.in_flight.is_empty() || ring.wake_armed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || ring.enter(Some(left.min(Duration::from_millis(100)))).is_err() {
                break;
            }
            // Handed back operations are dropped here: buffers freed, accepted sockets closed.
            ring.reap(&mut completions);
            completions.clear();
            ring.overflow.clear();
        }
        // Whatever the kernel still holds stays allocated for ever, as it may still write.
        for boxed in ring.in_flight.drain() {
            Box::leak(boxed);
        }
        if ring.wake_armed {
            Box::leak(std::mem::replace(&mut ring.wake_buffer, Box::new(0)));
        }
    }
}

impl fmt::Debug for UringDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let in_flight =
            self.ring.try_lock().map(|ring| ring.in_flight.len() + ring.polls.len()).ok();
        f.debug_struct("UringDriver").field("in_flight", &in_flight).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;

    use super::*;
    use crate::completion::{SharedSource, is_cancelled};
    use crate::{Interest, Ready};

    /// Waits until the completion of `token` arrives; keeps the others in `seen`.
    fn wait_for(driver: &UringDriver, seen: &mut Vec<Completion>, token: Token) -> Completion {
        let mut completions = Completions::with_capacity(16);
        for _ in 0..100 {
            if let Some(index) = seen.iter().position(|c| c.token == token) {
                return seen.remove(index);
            }
            completions.clear();
            driver.complete(&mut completions, Some(Duration::from_millis(100))).unwrap();
            seen.extend(completions.drain());
        }
        panic!("no completion for {token:?}");
    }

    #[test]
    fn accepts_connects_sends_receives_and_cancels() {
        let driver = UringDriver::new().expect("io_uring is usable on this machine");
        let mut seen = Vec::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let listener: SharedSource = Arc::new(listener);
        let accept = Operation::Accept { listener, accepted: None, peer: None };
        driver.submit(Token(1), accept).unwrap();
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let client: SharedSource = Arc::new(TcpStream::from(client));
        driver.submit(Token(2), Operation::Connect { source: client.clone(), address }).unwrap();
        assert_eq!(wait_for(&driver, &mut seen, Token(2)).result.unwrap(), 0);
        let accepted = wait_for(&driver, &mut seen, Token(1));
        let Operation::Accept { accepted: Some(server), peer, .. } = accepted.operation else {
            panic!("{accepted:?}")
        };
        assert!(peer.is_some());
        let server: SharedSource = Arc::new(TcpStream::from(server));
        // The accept's and the connect's boxes are kept with their address memory...
        assert_eq!(driver.ring().spare.counts(), (0, 2));
        let send = Operation::Send { source: client.clone(), buffer: b"hello".to_vec(), offset: 1 };
        driver.submit(Token(3), send).unwrap();
        assert_eq!(wait_for(&driver, &mut seen, Token(3)).result.unwrap(), 4);
        let receive = Operation::Receive { source: server.clone(), buffer: Vec::with_capacity(16) };
        driver.submit(Token(4), receive).unwrap();
        let received = wait_for(&driver, &mut seen, Token(4));
        assert_eq!(received.result.unwrap(), 4);
        assert_eq!(received.operation.into_buffer(), b"ello");
        // ... which the send, taking one of those boxes, let go of; the receive then took
        // the send's box back, plain.
        assert_eq!(driver.ring().spare.counts(), (1, 1));
        let poll = Operation::Poll { source: 0, interest: Interest::READABLE, ready: Ready::EMPTY };
        drop(poll);
        // A receive with nothing to receive waits; cancelled, it comes back cancelled.
        let receive = Operation::Receive { source: server, buffer: Vec::with_capacity(16) };
        driver.submit(Token(5), receive).unwrap();
        driver.complete(&mut Completions::with_capacity(4), Some(Duration::ZERO)).unwrap();
        driver.cancel(Token(5));
        let cancelled = wait_for(&driver, &mut seen, Token(5));
        assert!(is_cancelled(cancelled.result.as_ref().unwrap_err()), "{cancelled:?}");
    }

    /// A poll gives the kernel no memory, so it takes no box: an idle connection's one
    /// operation must not hold the box an accept left with its address memory.
    #[test]
    fn a_poll_holds_no_box_and_comes_back_whole() {
        let driver = UringDriver::new().unwrap();
        let mut seen = Vec::new();
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let source = reader.as_raw_fd();
        let boxes = |driver: &UringDriver| {
            let ring = driver.ring();
            (ring.in_flight.len(), ring.spare.counts(), ring.polls.len())
        };
        let poll = Operation::Poll { source, interest: Interest::READABLE, ready: Ready::EMPTY };
        driver.submit(Token(7), poll).unwrap();
        assert_eq!(boxes(&driver), (0, (0, 0), 1), "(boxes in flight, spare boxes, polls)");
        let again = Operation::Poll { source, interest: Interest::READABLE, ready: Ready::EMPTY };
        assert!(driver.submit(Token(7), again).is_err(), "a token in flight is refused");
        std::io::Write::write_all(&mut writer, b"x").unwrap();
        let ready = wait_for(&driver, &mut seen, Token(7));
        let Operation::Poll { source: polled, interest, ready } = ready.operation else {
            panic!("{ready:?}")
        };
        assert_eq!((polled, interest), (source, Interest::READABLE));
        assert!(ready.contains(Ready::READABLE), "{ready:?}");
        assert_eq!(boxes(&driver), (0, (0, 0), 0));
        // Cancelled, it comes back at the next wait with what it asked for.
        let poll = Operation::Poll { source, interest: Interest::WRITABLE, ready: Ready::EMPTY };
        driver.submit(Token(8), poll).unwrap();
        driver.cancel(Token(8));
        let cancelled = wait_for(&driver, &mut seen, Token(8));
        assert!(is_cancelled(cancelled.result.as_ref().unwrap_err()), "{cancelled:?}");
        assert!(matches!(
            cancelled.operation,
            Operation::Poll { interest: Interest::WRITABLE, .. }
        ));
        assert_eq!(boxes(&driver), (0, (0, 0), 0));
    }

    /// A receive that leaves its socket empty marks it, and the next receive there polls
    /// before it tries (`drained`): it still takes bytes that were waiting already and
    /// bytes that come later; a receive that fills its buffer clears the mark.
    #[test]
    fn a_receive_after_an_emptying_one_polls_first_and_loses_nothing() {
        let driver = UringDriver::new().unwrap();
        let mut seen = Vec::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let fd = server.as_raw_fd();
        let server: SharedSource = Arc::new(server);
        let receive = |driver: &UringDriver, token: usize, capacity: usize| {
            let buffer = Vec::with_capacity(capacity);
            driver.submit(Token(token), Operation::Receive { source: server.clone(), buffer })
        };
        let bytes = |completion: Completion| {
            assert!(completion.result.is_ok(), "{completion:?}");
            completion.operation.into_buffer()
        };
        let drained = |driver: &UringDriver| driver.ring().drained.contains(fd);
        std::io::Write::write_all(&mut client, b"ab").unwrap();
        receive(&driver, 1, 16).unwrap();
        assert_eq!(bytes(wait_for(&driver, &mut seen, Token(1))), b"ab");
        assert!(drained(&driver), "a short receive emptied the socket");
        // Data that arrived before the receive that polls first.
        std::io::Write::write_all(&mut client, b"cd").unwrap();
        receive(&driver, 2, 16).unwrap();
        assert_eq!(bytes(wait_for(&driver, &mut seen, Token(2))), b"cd");
        // Data that arrives while it waits.
        receive(&driver, 3, 16).unwrap();
        driver.complete(&mut Completions::with_capacity(4), Some(Duration::ZERO)).unwrap();
        std::io::Write::write_all(&mut client, b"ef").unwrap();
        assert_eq!(bytes(wait_for(&driver, &mut seen, Token(3))), b"ef");
        // A receive that fills its buffer leaves bytes behind: the next one tries at once.
        std::io::Write::write_all(&mut client, b"0123456789").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        receive(&driver, 4, 4).unwrap();
        assert_eq!(bytes(wait_for(&driver, &mut seen, Token(4))), b"0123");
        assert!(!drained(&driver), "a full receive may have left bytes");
        receive(&driver, 5, 16).unwrap();
        assert_eq!(bytes(wait_for(&driver, &mut seen, Token(5))), b"456789");
        assert!(drained(&driver));
    }

    #[test]
    fn a_notify_from_another_thread_ends_a_wait() {
        let driver = Arc::new(UringDriver::new().unwrap());
        let notifier = driver.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            notifier.notify().unwrap();
        });
        let started = Instant::now();
        driver.complete(&mut Completions::with_capacity(4), None).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        thread.join().unwrap();
    }
}
