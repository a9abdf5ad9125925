//! The reactor: owns a runtime's backend, hands out tokens, and turns the backend's events
//! into readiness and task wake-ups.
//!
//! Tokens carry a generation next to a slot index. A slot's generation changes every time it
//! is freed, so an event that a backend collected for a registration that has since been
//! dropped, even one whose descriptor number and slot were reused within the same batch,
//! finds a generation that no longer matches and is dropped.

mod io_state;
mod registration;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use plexio_backends::completion::{Completion, Completions};
use plexio_backends::{AsBackend, AsSource, Backend, Events, Interest, Token, Triggering};

use crate::driver::completion::Proactor;
use crate::stats::Counters;
use crate::util::{lock, trace};
use io_state::IoState;
pub(crate) use io_state::ReadyEvent;
pub(crate) use registration::{Registration, Shared};

/// A socket registered with a reactor: it reaches the backend through the reactor.
type RegisteredSource<S> = plexio_backends::Registered<S, Arc<Reactor>>;

/// Bits of a token that hold the generation; the rest hold the slot index.
const GENERATION_BITS: u32 = usize::BITS / 4;
const INDEX_BITS: u32 = usize::BITS - GENERATION_BITS;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// The highest slot index; one below the mask so that no token equals `Token::RESERVED`.
const MAX_INDEX: usize = INDEX_MASK - 1;
/// How many events one backend poll hands over at most.
const EVENTS_CAPACITY: usize = 1024;

/// One runtime's reactor, shared by the runtime thread and every I/O object of the runtime.
#[derive(Debug)]
pub(crate) struct Reactor {
    backend: Arc<dyn Backend>,
    triggering: Triggering,
    /// Whether a short read may be taken as an emptied socket: see
    /// `Backend::short_reads_drain` and `Registration::poll_read_io`.
    short_reads_drain: bool,
    slots: Mutex<Slots>,
    shut_down: AtomicBool,
    counters: Arc<Counters>,
    /// The completion side, on a completion driver (whose readiness face `backend` is).
    pub(crate) completion: Option<Arc<Proactor>>,
    /// The multi-worker runtime this reactor is one worker's driver of, as a number unique
    /// in the process; 0 on a runtime of one thread. See `driver::current`.
    group: usize,
}

/// The registrations, by slot index. A live slot holds its registration's state, whose
/// token carries the slot's generation; a free slot holds nothing, its next generation is
/// kept on the free list. One pointer per slot is all a live registration costs here.
#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Option<Arc<IoState>>>,
    /// Free slots, each with the generation its next registration gets.
    free: Vec<FreeSlot>,
}

#[derive(Debug, Clone, Copy)]
struct FreeSlot {
    index: usize,
    generation: usize,
}

/// The buffers the runtime thread polls into; owned by the runtime's core, not the reactor,
/// since only that thread polls. On a completion driver, also the completions of one wait
/// and the tasks they wake, so that the loop moves each completion once and allocates
/// nothing in steady state.
#[derive(Debug)]
pub(crate) struct EventBuffer {
    events: Events,
    completions: Completions,
    arrived: Vec<Completion>,
    woken: Vec<Waker>,
}

impl EventBuffer {
    pub(crate) fn new() -> EventBuffer {
        EventBuffer {
            events: Events::with_capacity(EVENTS_CAPACITY),
            completions: Completions::with_capacity(EVENTS_CAPACITY),
            arrived: Vec::new(),
            woken: Vec::new(),
        }
    }
}

impl Reactor {
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        counters: Arc<Counters>,
        completion: Option<Arc<Proactor>>,
        group: usize,
    ) -> Reactor {
        let triggering = backend.triggering();
        Reactor {
            completion,
            group,
            triggering,
            short_reads_drain: triggering == Triggering::Edge && backend.short_reads_drain(),
            backend,
            slots: Mutex::new(Slots::default()),
            shut_down: AtomicBool::new(false),
            counters,
        }
    }

    /// How many sockets are registered here now.
    pub(crate) fn registrations(&self) -> usize {
        self.counters.registrations()
    }

    /// Counts a connection a listener accepted and registered here (`RuntimeStats::accepted`).
    pub(crate) fn count_accepted(&self) {
        self.counters.connection_accepted();
    }

    /// The multi-worker runtime this reactor belongs to; 0 for a runtime of one thread.
    pub(crate) fn group(&self) -> usize {
        self.group
    }

    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Registers `source` for `interest` and returns the pieces a `Registration` holds.
    fn register<S: AsSource>(
        self: &Arc<Self>,
        source: S,
        interest: Interest,
    ) -> io::Result<(RegisteredSource<S>, Arc<IoState>)> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(plexio_backends::Error::RuntimeShutdown.into());
        }
        let raw = source.as_raw_source();
        let (token, state) = {
            let mut slots = lock(&self.slots);
            let FreeSlot { index, generation } = match slots.free.pop() {
                Some(free) => free,
                None if slots.entries.len() <= MAX_INDEX => {
                    slots.entries.push(None);
                    FreeSlot { index: slots.entries.len() - 1, generation: 0 }
                }
                None => return Err(io::Error::other("plexio: too many registrations")),
            };
            let token = Token((generation << INDEX_BITS) | index);
            let state = Arc::new(IoState::new(token, raw, interest));
            slots.entries[index] = Some(state.clone());
            self.counters.registration_added();
            (token, state)
        };
        match plexio_backends::Registered::new(source, self.clone(), token, interest) {
            Ok(registered) => {
                trace::event!(trace, token = token.0, ?interest, "registered");
                self.counters.socket_opened();
                Ok((registered, state))
            }
            Err(error) => {
                trace::event!(debug, %error, backend = self.backend.name(), "registration refused");
                self.release(&state);
                Err(error)
            }
        }
    }

    /// Frees a registration's slot; its token is never handed out again for this slot
    /// generation.
    fn release(&self, state: &IoState) {
        state.close();
        let token = state.token().0;
        let index = token & INDEX_MASK;
        let generation = ((token >> INDEX_BITS) + 1) & ((1 << GENERATION_BITS) - 1);
        if let Some(completion) = &self.completion {
            // Dropped outside the proactor's lock: a detached operation that completed
            // already may hold a socket to close.
            let dropped = completion.lock().forget_socket(completion, state.token());
            drop(dropped);
        }
        let mut slots = lock(&self.slots);
        slots.entries[index] = None;
        slots.free.push(FreeSlot { index, generation });
        self.counters.registration_removed();
        trace::event!(trace, token, "deregistered");
    }

    /// Waits for events for at most `timeout` and dispatches them.
    ///
    /// `awake` runs as soon as the wait is over, before the events are dispatched: the wakes
    /// that dispatching causes then find the runtime thread awake and need not notify the
    /// backend (a system call, and a wasted turn of the next wait).
    pub(crate) fn poll(
        &self,
        buffer: &mut EventBuffer,
        timeout: Option<Duration>,
        awake: impl FnOnce(),
    ) {
        let events = &mut buffer.events;
        events.clear();
        #[cfg(feature = "tracing")]
        let started = std::time::Instant::now();
        let waited = match &self.completion {
            Some(proactor) => {
                proactor.waits_here();
                proactor.readiness().poll_completions(
                    events,
                    &mut buffer.completions,
                    &mut buffer.arrived,
                    timeout,
                )
            }
            None => self.backend.poll(events, timeout),
        };
        awake();
        trace::event!(trace, events = events.len(), completions = buffer.arrived.len(), waited = ?started.elapsed(), ?timeout, "turn: waited");
        match waited {
            Ok(()) => {}
            // The contract allows an interrupted wait; it is a wake-up with no events.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return,
            Err(error) => panic!(
                "plexio: the `{}` backend failed to wait for events: {error}",
                self.backend.name()
            ),
        }
        if !events.is_empty() {
            let slots = lock(&self.slots);
            for event in events.iter() {
                // The whole token must match: a slot reused since the event was collected
                // holds a registration of a newer generation.
                if let Some(Some(state)) = slots.entries.get(event.token.0 & INDEX_MASK) {
                    if state.token() == event.token {
                        state.dispatch(event.ready, &*self.backend, self.triggering);
                    }
                }
            }
        }
        if let Some(completion) = &self.completion {
            completion.dispatch(&mut buffer.arrived, &mut buffer.woken);
        }
    }

    /// Wakes the runtime thread's current or next poll.
    pub(crate) fn notify(&self) {
        // A failed notify leaves nothing to do: the contract makes it succeed whenever a
        // wake is already pending, and otherwise the runtime's next timer still ends the wait.
        let _ = self.backend.notify();
    }

    /// Closes every registration: their waiters wake and see `RuntimeShutdown`.
    pub(crate) fn shut_down(&self) {
        self.shut_down.store(true, Ordering::Release);
        let states: Vec<Arc<IoState>> =
            lock(&self.slots).entries.iter().flatten().cloned().collect();
        for state in states {
            state.close();
        }
    }
}

/// Registrations reach the backend through the reactor they already point to.
impl AsBackend for Reactor {
    fn as_backend(&self) -> &dyn Backend {
        &*self.backend
    }
}
