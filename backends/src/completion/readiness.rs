//! `ReadinessOverCompletion`: the readiness face of a completion driver, so that the
//! reactor runs on it unchanged, through poll operations.
//!
//! A completion runtime still has sockets that only ever wait for readiness (Unix sockets,
//! `Async<T>`, `peek`, `readable()`); this adapter serves them as a [`Triggering::Oneshot`]
//! backend: arming a source submits one [`Operation::Poll`] for the directions asked for,
//! and its completion is the event. Every other completion of the driver is kept aside for
//! the runtime, which takes it with [`take_completions`](ReadinessOverCompletion::take_completions)
//! after each wait: one wait serves both.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Completion, CompletionDriver, Completions, Operation};
use crate::{Backend, Error, Event, Events, Interest, RawSource, Ready, Token, Triggering};

/// The token bit that marks the adapter's own poll operations: the runtime's operations
/// use tokens up to [`ReadinessOverCompletion::MAX_TOKEN`], the driver's own have the top bit.
const POLL_BIT: usize = 1 << (usize::BITS - 2);

/// How many completions one wait hands over at most.
const COMPLETIONS_PER_WAIT: usize = 1024;

/// A [`Backend`] made of a [`CompletionDriver`]'s poll operations; see the module docs.
pub struct ReadinessOverCompletion {
    driver: Arc<dyn CompletionDriver>,
    watches: Mutex<Watches>,
    /// What the last waits brought that is not a poll: the runtime's operations.
    others: Mutex<Vec<Completion>>,
    /// The buffer the waits fill; taken by the one thread that waits.
    buffer: Mutex<Completions>,
    /// Set while a thread waits in the driver: a change made meanwhile (from another thread,
    /// since the waiting one is busy) notifies the driver, so that the wait sees it, as the
    /// `Backend` contract asks and the driver's own contract does not promise.
    waiting: AtomicBool,
    /// Whether `watches.overflow` holds events: spares a wait the lock when it does not.
    overflowed: AtomicBool,
}

#[derive(Default)]
struct Watches {
    by_source: HashMap<RawSource, Watch>,
    /// The source of each poll operation in flight that still counts; one cancelled or
    /// replaced is missing, and its completion is ignored.
    polls: HashMap<usize, RawSource>,
    next_poll: usize,
    /// Events that did not fit the caller's buffer: reported first by the next wait.
    overflow: Vec<Event>,
}

struct Watch {
    token: Token,
    /// The poll operation in flight for this source and the directions it waits for.
    armed: Option<(usize, Interest)>,
}

impl ReadinessOverCompletion {
    /// The largest token the runtime may give its own operations on `driver` when it also
    /// uses this adapter: larger ones are the adapter's and the driver's.
    pub const MAX_TOKEN: usize = POLL_BIT - 1;

    /// The readiness face of `driver`.
    pub fn new(driver: Arc<dyn CompletionDriver>) -> ReadinessOverCompletion {
        ReadinessOverCompletion {
            driver,
            watches: Mutex::default(),
            others: Mutex::default(),
            buffer: Mutex::new(Completions::with_capacity(COMPLETIONS_PER_WAIT)),
            waiting: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
        }
    }

    /// The driver underneath.
    pub fn driver(&self) -> &Arc<dyn CompletionDriver> {
        &self.driver
    }

    /// One wait for both faces: readiness events into `events`, and the completions of the
    /// caller's own operations into `others`, with `scratch` as the driver's buffer (the
    /// caller's, so that a runtime's loop moves each completion once and locks nothing for
    /// it). What [`Backend::poll`] does with buffers of its own.
    pub fn poll_completions(
        &self,
        events: &mut Events,
        scratch: &mut Completions,
        others: &mut Vec<Completion>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        if self.overflowed.load(Ordering::Acquire) {
            let mut watches = lock(&self.watches);
            while !events.is_full() {
                let Some(event) = watches.overflow.pop() else { break };
                events.push(event);
            }
            self.overflowed.store(!watches.overflow.is_empty(), Ordering::Release);
        }
        // Events left over from the last wait are this wait's result: no blocking.
        let timeout = if events.is_empty() { timeout } else { Some(Duration::ZERO) };
        scratch.clear();
        self.waiting.store(true, Ordering::SeqCst);
        let waited = self.driver.complete(scratch, timeout);
        self.waiting.store(false, Ordering::SeqCst);
        waited?;
        let mut watches = None;
        for completion in scratch.drain() {
            if completion.token.0 & POLL_BIT == 0 || completion.token.0 > usize::MAX >> 1 {
                others.push(completion);
                continue;
            }
            let watches = watches.get_or_insert_with(|| lock(&self.watches));
            self.sort(completion, watches, events);
        }
        if let Some(watches) = watches {
            self.overflowed.store(!watches.overflow.is_empty(), Ordering::Release);
        }
        Ok(())
    }

    /// Moves the completions of the runtime's own operations that the last waits collected
    /// into `completions`.
    pub fn take_completions(&self, completions: &mut Vec<Completion>) {
        completions.append(&mut lock(&self.others));
    }

    /// Submits a poll of `source` for `interest`, replacing the one in flight (which is
    /// cancelled, and its completion ignored).
    fn arm(&self, watches: &mut Watches, source: RawSource, interest: Interest) -> io::Result<()> {
        let Some(watch) = watches.by_source.get_mut(&source) else {
            return Err(not_registered(source, self.driver.name()));
        };
        if let Some((poll, armed)) = watch.armed {
            if armed == interest {
                return Ok(());
            }
            watches.polls.remove(&poll);
            watch.armed = None;
            self.driver.cancel(Token(poll));
        }
        if interest.is_empty() {
            return Ok(());
        }
        let poll = POLL_BIT | (watches.next_poll & (POLL_BIT - 1));
        watches.next_poll = watches.next_poll.wrapping_add(1);
        let operation = Operation::Poll { source, interest, ready: Ready::EMPTY };
        self.driver.submit(Token(poll), operation).map_err(|refused| refused.error)?;
        watch.armed = Some((poll, interest));
        watches.polls.insert(poll, source);
        self.reach_the_wait();
        Ok(())
    }

    /// Makes a wait in progress on another thread see a change.
    fn reach_the_wait(&self) {
        if self.waiting.load(Ordering::SeqCst) {
            let _ = self.driver.notify();
        }
    }

    /// Turns the completion of one of the adapter's polls into an event.
    fn sort(&self, completion: Completion, watches: &mut Watches, events: &mut Events) {
        let token = completion.token.0;
        let Some(source) = watches.polls.remove(&token) else { return };
        let Some(watch) = watches.by_source.get_mut(&source) else { return };
        let Some((_, interest)) = watch.armed.take() else { return };
        let ready = match (&completion.result, &completion.operation) {
            (Ok(_), Operation::Poll { ready, .. }) => *ready,
            // A failed poll (the socket closed under it, say) wakes every direction asked
            // for: the operation that follows reports the error.
            _ => Ready::for_interest(interest) | Ready::ERROR,
        };
        let event = Event { token: watch.token, ready };
        if !events.push(event) {
            watches.overflow.push(event);
        }
    }
}

impl Backend for ReadinessOverCompletion {
    fn name(&self) -> &'static str {
        self.driver.name()
    }

    fn triggering(&self) -> Triggering {
        Triggering::Oneshot
    }

    unsafe fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        if token == Token::RESERVED {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "Token::RESERVED is reserved"));
        }
        let mut watches = lock(&self.watches);
        if watches.by_source.contains_key(&source) {
            return Err(
                Error::AlreadyRegistered { descriptor: source, backend: self.name() }.into()
            );
        }
        watches.by_source.insert(source, Watch { token, armed: None });
        let armed = self.arm(&mut watches, source, interest);
        if armed.is_err() {
            watches.by_source.remove(&source);
        }
        armed
    }

    fn reregister(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()> {
        if token == Token::RESERVED {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "Token::RESERVED is reserved"));
        }
        let mut watches = lock(&self.watches);
        match watches.by_source.get_mut(&source) {
            Some(watch) => watch.token = token,
            None => return Err(not_registered(source, self.name())),
        }
        self.arm(&mut watches, source, interest)
    }

    fn deregister(&self, source: RawSource) -> io::Result<()> {
        let mut watches = lock(&self.watches);
        let Some(watch) = watches.by_source.remove(&source) else {
            return Err(not_registered(source, self.name()));
        };
        if let Some((poll, _)) = watch.armed {
            watches.polls.remove(&poll);
            self.driver.cancel(Token(poll));
        }
        let token = watch.token;
        watches.overflow.retain(|event| event.token != token);
        self.overflowed.store(!watches.overflow.is_empty(), Ordering::Release);
        Ok(())
    }

    fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let mut buffer = lock(&self.buffer);
        let mut others = std::mem::take(&mut *lock(&self.others));
        let polled = self.poll_completions(events, &mut buffer, &mut others, timeout);
        lock(&self.others).append(&mut others);
        polled
    }

    fn notify(&self) -> io::Result<()> {
        self.driver.notify()
    }
}

impl fmt::Debug for ReadinessOverCompletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessOverCompletion").field("driver", &self.driver).finish()
    }
}

fn not_registered(source: RawSource, backend: &'static str) -> io::Error {
    Error::NotRegistered { descriptor: source, backend }.into()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
