//! The readiness state of one registered socket: what the reactor has seen, which tasks wait
//! for which direction, and what is armed in the backend.
//!
//! This is where every backend's triggering mode becomes one behaviour for the futures:
//! readiness, once seen, persists until an operation returns `WouldBlock`; it is then
//! cleared, but only if no newer event arrived in between (the tick check, which keeps a
//! wakeup that raced with the failed operation from being lost).

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use plexio_backends::{Backend, Interest, RawSource, Ready, Token, Triggering};

use crate::util::lock;

/// The state word:
///
/// | bits | what |
/// |---|---|
/// | 0–5 | [`Ready`] flags seen and not yet found false |
/// | 6 | [`FOREIGN`]: polled from another worker since the last poll from its own |
/// | 7 | [`RESET`]: the connection was reset, once and for all |
/// | 8– | the event tick, counting dispatched events |
const READY_MASK: usize = 0xff;
const TICK_SHIFT: u32 = 8;
/// Set once an operation on the socket reported that the peer reset the connection. Never
/// cleared: `dispatch` only adds bits, and `clear_readiness` only removes `Ready` flags.
/// Kept in the state word so that remembering a reset costs a connection nothing.
const RESET: usize = 1 << 7;
/// Set by a poll of the socket's owner from another worker of the runtime, cleared by a
/// poll from the worker whose driver the socket is registered with: a poll from there
/// between two from elsewhere starts their count again (see `registration::moving`). Set
/// and cleared only by polls, never by events; on a runtime of one thread never set, so
/// that a poll there pays a test of a word it loads anyway.
const FOREIGN: usize = 1 << 6;

/// What the readiness state needs of a backend: re-arming a source. A trait of its own so
/// that the state machine can be checked against a model of each triggering mode.
pub(crate) trait Rearm {
    fn rearm(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()>;
}

impl Rearm for dyn Backend {
    fn rearm(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()> {
        self.reregister(source, token, interest)
    }
}

/// What a waiter saw: the readiness it may act on, and the tick at which it was seen.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) ready: Ready,
    tick: usize,
}

/// The shared state of one registration.
///
/// Every connection has one, so its size is watched: 72 bytes on 64-bit Linux, which with
/// the `Arc` counts make an 88-byte request, a 96-byte block for glibc's allocator (pinned
/// by a test).
#[derive(Debug)]
pub(crate) struct IoState {
    /// `Ready` bits in the low byte, an event tick above them. Written by the reactor when
    /// an event arrives, cleared by operations that return `WouldBlock`.
    readiness: AtomicUsize,
    token: Token,
    waiters: Mutex<Waiters>,
}

#[derive(Debug)]
struct Waiters {
    /// The first task waiting to read, and to write: one each is the common case, and costs
    /// no allocation.
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// Further tasks waiting on a direction of a shared socket (rare, hence boxed, so that
    /// the common case pays one pointer for it): all are woken.
    #[expect(clippy::box_collection, reason = "a pointer, not a Vec's three words, when unused")]
    others: Option<Box<Vec<(Interest, Waker)>>>,
    /// The socket, for re-arming it: only ever done under this lock, and kept here, where
    /// it fills what would otherwise be padding.
    source: RawSource,
    /// The directions armed in the backend (unused on edge-triggered backends, which have
    /// both directions armed for the life of the registration).
    armed: Interest,
    /// Set once the registration is being dropped or the reactor shut down: from then on
    /// the backend must not be touched for this source.
    closed: bool,
    /// Polls by the socket's owner from another worker of the runtime in a row, with no
    /// poll from the socket's own worker in between (see [`FOREIGN`] and
    /// `registration::moving`); kept here, where it fills padding.
    foreign_polls: u8,
}

impl IoState {
    pub(crate) fn new(token: Token, source: RawSource, armed: Interest) -> IoState {
        IoState {
            readiness: AtomicUsize::new(0),
            token,
            waiters: Mutex::new(Waiters {
                reader: None,
                writer: None,
                others: None,
                source,
                armed,
                closed: false,
                foreign_polls: 0,
            }),
        }
    }

    /// The token the registration is reported with.
    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// Whether `direction` is believed ready now: one load, no waker left behind.
    #[cfg(feature = "hyper")]
    #[inline]
    pub(crate) fn is_ready(&self, direction: Interest) -> bool {
        !self.ready_now(direction).ready.is_empty()
    }

    fn ready_now(&self, direction: Interest) -> ReadyEvent {
        let state = self.readiness.load(Ordering::Acquire);
        ReadyEvent {
            ready: Ready::from_bits((state & READY_MASK) as u8)
                .intersection(Ready::for_interest(direction)),
            tick: state >> TICK_SHIFT,
        }
    }

    /// Resolves when `direction` (one of READABLE, WRITABLE) is ready; until then leaves the
    /// task's waker and arms the direction in the backend if the mode needs it.
    pub(crate) fn poll_ready<B: Rearm + ?Sized>(
        &self,
        cx: &mut Context<'_>,
        direction: Interest,
        backend: &B,
        triggering: Triggering,
    ) -> Poll<io::Result<ReadyEvent>> {
        let seen = self.ready_now(direction);
        if !seen.ready.is_empty() {
            return Poll::Ready(Ok(seen));
        }
        let mut waiters = lock(&self.waiters);
        if waiters.closed {
            return Poll::Ready(Err(plexio_backends::Error::RuntimeShutdown.into()));
        }
        waiters.register(direction, cx.waker());
        // The reactor sets readiness before it takes the wakers under this lock, so looking
        // again here closes the window between the first look and the registration.
        let seen = self.ready_now(direction);
        if !seen.ready.is_empty() {
            return Poll::Ready(Ok(seen));
        }
        if triggering != Triggering::Edge && !waiters.armed.contains(direction) {
            let armed = waiters.armed | direction;
            backend.rearm(waiters.source, self.token, armed)?;
            waiters.armed = armed;
        }
        Poll::Pending
    }

    /// Forgets `ready` whatever arrived meanwhile: on a completion runtime a receive took
    /// what a readiness event announced.
    pub(crate) fn forget(&self, ready: Ready) {
        self.readiness.fetch_and(!(ready.bits() as usize), Ordering::AcqRel);
    }

    /// `ready` as seen now, for a readiness the caller knows from elsewhere (bytes a
    /// completion driver received).
    pub(crate) fn known(&self, ready: Ready) -> ReadyEvent {
        let tick = self.readiness.load(Ordering::Acquire) >> TICK_SHIFT;
        ReadyEvent { ready, tick }
    }

    /// Forgets the readiness `seen` described, after an operation returned `WouldBlock`,
    /// unless an event arrived since it was seen.
    pub(crate) fn clear_readiness(&self, seen: ReadyEvent) {
        let clear = seen.ready.bits() as usize;
        let _ = self.readiness.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            (state >> TICK_SHIFT == seen.tick).then_some(state & !clear)
        });
    }

    /// Forgets the readiness `seen` described after a read that returned less than it asked
    /// for, which on a backend whose short reads drain (`Backend::short_reads_drain`) means
    /// that the socket is empty, unless an event arrived since it was seen.
    ///
    /// Only `READABLE` (and `WRITABLE`) are forgotten. The end-of-stream and error flags
    /// must still reach the next read. So must `PRIORITY`: a read stops short at the urgent
    /// mark with ordinary bytes queued behind it, for which no new event will come, so
    /// while urgent data is known to be pending the next read tries the socket and only its
    /// `WouldBlock` clears the flag.
    pub(crate) fn clear_after_short_read(&self, seen: ReadyEvent) {
        let emptied = seen.ready.intersection(Ready::READABLE | Ready::WRITABLE);
        self.clear_readiness(ReadyEvent { ready: emptied, ..seen });
    }

    /// Records an event from the backend, wakes the tasks it concerns and, on oneshot and
    /// level backends, leaves armed exactly the directions that still have a waiter.
    pub(crate) fn dispatch<B: Rearm + ?Sized>(
        &self,
        ready: Ready,
        backend: &B,
        triggering: Triggering,
    ) {
        let _ = self.readiness.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            let tick = (state >> TICK_SHIFT).wrapping_add(1);
            Some((tick << TICK_SHIFT) | (state & READY_MASK) | ready.bits() as usize)
        });
        let mut waiters = lock(&self.waiters);
        if waiters.closed {
            return;
        }
        let woken = waiters.take(ready.interest());
        if triggering != Triggering::Edge {
            if triggering == Triggering::Oneshot {
                waiters.armed = Interest::NONE;
            }
            let known =
                Ready::from_bits((self.readiness.load(Ordering::Acquire) & READY_MASK) as u8);
            let desired = waiters.waiting().without(known.interest());
            let rearm = match triggering {
                Triggering::Oneshot => !desired.is_empty(),
                _ => desired != waiters.armed,
            };
            if rearm {
                // A failed re-arm leaves the waiter without a wake-up; make it poll again so
                // that its own re-arm reports the error instead of hanging.
                match backend.rearm(waiters.source, self.token, desired) {
                    Ok(()) => waiters.armed = desired,
                    Err(_) => waiters.take(Interest::BOTH).wake_all(),
                }
            }
        }
        drop(waiters);
        woken.wake_all();
    }

    /// Whether the registration was closed: its runtime shut down, or it is being dropped.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.waiters).closed
    }

    /// Remembers that the peer reset the connection: the kernel reports a reset to one
    /// operation only, and reads would then look like a clean end of stream.
    pub(crate) fn remember_reset(&self) {
        self.readiness.fetch_or(RESET, Ordering::AcqRel);
    }

    /// Whether [`remember_reset`](Self::remember_reset) was called.
    pub(crate) fn was_reset(&self) -> bool {
        self.readiness.load(Ordering::Acquire) & RESET != 0
    }

    /// Marks the registration closed (it is being dropped, or the runtime shut down) and
    /// wakes its waiters so that they observe it.
    pub(crate) fn close(&self) {
        let mut waiters = lock(&self.waiters);
        waiters.closed = true;
        let woken = waiters.take(Interest::BOTH);
        drop(waiters);
        woken.wake_all();
    }
}

impl Waiters {
    fn register(&mut self, direction: Interest, waker: &Waker) {
        let first = if direction.is_readable() { &mut self.reader } else { &mut self.writer };
        match first {
            None => *first = Some(waker.clone()),
            Some(first) if first.will_wake(waker) => {}
            Some(_) => {
                let others = self.others.get_or_insert_with(Box::default);
                let known = others
                    .iter()
                    .any(|(waiting, other)| *waiting == direction && other.will_wake(waker));
                if !known {
                    others.push((direction, waker.clone()));
                }
            }
        }
    }

    /// Takes the wakers of every task waiting on one of `directions`, in one pass: an event
    /// usually reports both directions, and this runs for every event.
    fn take(&mut self, directions: Interest) -> Woken {
        let reader = if directions.is_readable() { self.reader.take() } else { None };
        let writer = if directions.is_writable() { self.writer.take() } else { None };
        let mut rest = Vec::new();
        if let Some(others) = &mut self.others {
            others.retain(|(waiting, waker)| {
                let taken = directions.contains(*waiting);
                if taken {
                    rest.push(waker.clone());
                }
                !taken
            });
            if others.is_empty() {
                self.others = None;
            }
        }
        Woken { reader, writer, rest }
    }

    fn waiting(&self) -> Interest {
        let mut interest = Interest::NONE;
        if self.reader.is_some() {
            interest |= Interest::READABLE;
        }
        if self.writer.is_some() {
            interest |= Interest::WRITABLE;
        }
        interest
    }
}

/// The wakers taken for an event, woken once the lock is released.
#[derive(Debug)]
struct Woken {
    reader: Option<Waker>,
    writer: Option<Waker>,
    rest: Vec<Waker>,
}

impl Woken {
    fn wake_all(self) {
        if let Some(reader) = self.reader {
            reader.wake();
        }
        if let Some(writer) = self.writer {
            writer.wake();
        }
        for waker in self.rest {
            waker.wake();
        }
    }
}

mod moves;

#[cfg(test)]
mod model;

#[cfg(all(test, target_os = "linux", target_pointer_width = "64"))]
mod size {
    /// Each connection pays for one `IoState`: growing it shows up in every idle connection.
    #[test]
    fn io_state_stays_within_72_bytes() {
        assert!(size_of::<super::IoState>() <= 72, "{}", size_of::<super::IoState>());
    }
}
