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

/// Readiness bits live in the low byte of the state word, an event counter above them.
const READY_MASK: usize = 0xff;
const TICK_SHIFT: u32 = 8;

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

impl ReadyEvent {
    /// The same event without its end-of-stream and error flags: what to forget when a
    /// socket was found empty, not closed (those flags must still reach the next read).
    pub(crate) fn without_closed(self) -> ReadyEvent {
        ReadyEvent { ready: self.ready.intersection(Ready::READABLE | Ready::WRITABLE), ..self }
    }
}

/// The shared state of one registration.
#[derive(Debug)]
pub(crate) struct IoState {
    /// `Ready` bits in the low byte, an event tick above them. Written by the reactor when
    /// an event arrives, cleared by operations that return `WouldBlock`.
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

#[derive(Debug)]
struct Waiters {
    reader: WakerList,
    writer: WakerList,
    /// The directions armed in the backend (unused on edge-triggered backends, which have
    /// both directions armed for the life of the registration).
    armed: Interest,
    token: Token,
    source: RawSource,
    /// Set once the registration is being dropped or the reactor shut down: from then on
    /// the backend must not be touched for this source.
    closed: bool,
}

impl IoState {
    pub(crate) fn new(token: Token, source: RawSource, armed: Interest) -> IoState {
        IoState {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters {
                reader: WakerList::default(),
                writer: WakerList::default(),
                armed,
                token,
                source,
                closed: false,
            }),
        }
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
        waiters.list(direction).register(cx.waker());
        // The reactor sets readiness before it takes the wakers under this lock, so looking
        // again here closes the window between the first look and the registration.
        let seen = self.ready_now(direction);
        if !seen.ready.is_empty() {
            return Poll::Ready(Ok(seen));
        }
        if triggering != Triggering::Edge && !waiters.armed.contains(direction) {
            let armed = waiters.armed | direction;
            backend.rearm(waiters.source, waiters.token, armed)?;
            waiters.armed = armed;
        }
        Poll::Pending
    }

    /// Forgets the readiness `seen` described, after an operation returned `WouldBlock`,
    /// unless an event arrived since it was seen.
    pub(crate) fn clear_readiness(&self, seen: ReadyEvent) {
        let clear = seen.ready.bits() as usize;
        let _ = self.readiness.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            (state >> TICK_SHIFT == seen.tick).then_some(state & !clear)
        });
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
        let woken = ready.interest();
        let readers =
            if woken.is_readable() { waiters.reader.take() } else { WakerList::default() };
        let writers =
            if woken.is_writable() { waiters.writer.take() } else { WakerList::default() };
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
                match backend.rearm(waiters.source, waiters.token, desired) {
                    Ok(()) => waiters.armed = desired,
                    Err(_) => {
                        waiters.reader.take().wake_all();
                        waiters.writer.take().wake_all();
                    }
                }
            }
        }
        drop(waiters);
        readers.wake_all();
        writers.wake_all();
    }

    /// Marks the registration closed (it is being dropped, or the runtime shut down) and
    /// wakes its waiters so that they observe it.
    pub(crate) fn close(&self) {
        let mut waiters = lock(&self.waiters);
        waiters.closed = true;
        let readers = waiters.reader.take();
        let writers = waiters.writer.take();
        drop(waiters);
        readers.wake_all();
        writers.wake_all();
    }
}

impl Waiters {
    fn list(&mut self, direction: Interest) -> &mut WakerList {
        if direction.is_readable() { &mut self.reader } else { &mut self.writer }
    }

    fn waiting(&self) -> Interest {
        let mut interest = Interest::NONE;
        if !self.reader.is_empty() {
            interest |= Interest::READABLE;
        }
        if !self.writer.is_empty() {
            interest |= Interest::WRITABLE;
        }
        interest
    }
}

/// The wakers waiting for one direction. One waiter is the common case and costs no
/// allocation; several tasks waiting on one direction of a shared socket are all woken.
#[derive(Debug, Default)]
struct WakerList {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl WakerList {
    fn register(&mut self, waker: &Waker) {
        match &mut self.first {
            Some(first) if first.will_wake(waker) => {}
            None => self.first = Some(waker.clone()),
            Some(_) => {
                if !self.rest.iter().any(|other| other.will_wake(waker)) {
                    self.rest.push(waker.clone());
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn take(&mut self) -> WakerList {
        WakerList { first: self.first.take(), rest: std::mem::take(&mut self.rest) }
    }

    fn wake_all(mut self) {
        if let Some(first) = self.first.take() {
            first.wake();
        }
        for waker in self.rest.drain(..) {
            waker.wake();
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical
/// section here is a few assignments).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod model;
