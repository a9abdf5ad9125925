//! The `polling` backend: epoll on Linux and Android, kqueue on macOS, iOS and the BSDs,
//! event ports on illumos and Solaris, and IOCP with the AFD driver on Windows, through the
//! polling crate.
//!
//! Where the mechanism supports edge triggering (epoll, kqueue) sources are registered in
//! `PollMode::Edge` and the backend is [`Triggering::Edge`]; elsewhere (IOCP, event ports)
//! it uses `PollMode::Oneshot` and is [`Triggering::Oneshot`]: after an event the source is
//! silent until the reactor re-arms it with `reregister` (event ports must re-associate after
//! every event anyway). polling rounds timeouts up, never down, so short timers do not spin.
//!
//! On Windows, polling 3.11 applies a change made while no thread is in `wait` at the start of
//! the next `wait`, and one made during a `wait` at once; but it checks which case holds
//! before it queues the change, so a `wait` that starts in between misses the change and
//! blocks with it queued (a lost re-arm: a reader on one worker whose socket is registered
//! with another worker's poller hung that way). The backend keeps its own flag around
//! `wait` and, after a change, notifies a poller that may be waiting: that wait returns and
//! the next one applies what was queued. Elsewhere the kernel applies changes at once.
//!
//! polling changes and deletes a source through a borrowed handle, and answers for an
//! unknown one as its mechanism does (`EBADF`, or nothing at all on Windows), so the backend
//! keeps its own `SourceSet` (`source_set.rs`): a value it does not hold is refused with
//! `NotFound` before it is ever made into a handle.

use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::sync::Mutex;
#[cfg(windows)]
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::time::Duration;

use polling::{PollMode, Poller};

use crate::source_set::SourceSet;
use crate::{Backend, Event, Events, Interest, RawSource, Ready, Token, Triggering};

/// The polling backend. See the [module documentation](self).
pub struct PollingBackend {
    poller: Poller,
    /// What the poller holds: every source added to it and not yet deleted.
    sources: SourceSet,
    mode: PollMode,
    /// Only the polling thread locks it.
    received: Mutex<polling::Events>,
    /// Set while a thread is in `Poller::wait` (see the module docs).
    #[cfg(windows)]
    waiting: AtomicBool,
}

impl PollingBackend {
    /// Creates the poller.
    pub fn new() -> io::Result<PollingBackend> {
        let poller = Poller::new()?;
        let mode = if poller.supports_edge() { PollMode::Edge } else { PollMode::Oneshot };
        Ok(PollingBackend {
            poller,
            sources: SourceSet::new("polling"),
            mode,
            received: Mutex::new(polling::Events::new()),
            #[cfg(windows)]
            waiting: AtomicBool::new(false),
        })
    }

    /// After a change to a source: a `wait` that began while polling queued the change
    /// may not have seen it (see the module docs), so it is woken to start again. The fence
    /// pairs with the one in `poll`: either this load sees the flag, or that `wait` began
    /// after the change was queued and applies it.
    fn changed(&self) -> io::Result<()> {
        #[cfg(windows)]
        {
            fence(Ordering::SeqCst);
            if self.waiting.load(Ordering::Relaxed) {
                return self.poller.notify();
            }
        }
        Ok(())
    }
}

fn interest_event(token: Token, interest: Interest) -> io::Result<polling::Event> {
    if token == Token::RESERVED {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Token::RESERVED is not for registrations",
        ));
    }
    let mut event = polling::Event::none(token.0);
    event.readable = interest.is_readable();
    event.writable = interest.is_writable();
    Ok(event)
}

fn ready(event: &polling::Event) -> Ready {
    let mut ready = Ready::EMPTY;
    if event.readable {
        ready |= Ready::READABLE;
    }
    if event.writable {
        ready |= Ready::WRITABLE;
    }
    if event.is_interrupt() {
        // A hang-up: the operations will say whether reading or writing still works.
        ready |= Ready::READABLE | Ready::WRITABLE | Ready::READ_CLOSED | Ready::WRITE_CLOSED;
    }
    if event.is_err() == Some(true) {
        ready |= Ready::ERROR | Ready::READABLE | Ready::WRITABLE;
    }
    ready
}

impl Backend for PollingBackend {
    fn name(&self) -> &'static str {
        "polling"
    }

    fn triggering(&self) -> Triggering {
        match self.mode {
            PollMode::Edge => Triggering::Edge,
            _ => Triggering::Oneshot,
        }
    }

    unsafe fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        let event = interest_event(token, interest)?;
        let add = || {
            // SAFETY: `Poller::add_with_mode` needs the source to be deleted before it is
            // closed: our own caller keeps it open until it has been deregistered (the Safety
            // section of `Backend::register`), and `deregister` deletes every source the set
            // records, which is every source added here.
            unsafe { self.poller.add_with_mode(source, event, self.mode) }
        };
        // SAFETY: the same promise of our caller is what the set needs.
        unsafe { self.sources.register(source, add)? };
        self.changed()
    }

    fn reregister(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()> {
        let event = interest_event(token, interest)?;
        self.sources
            .reregister(source, |source| self.poller.modify_with_mode(source, event, self.mode))?;
        self.changed()
    }

    fn deregister(&self, source: RawSource) -> io::Result<()> {
        self.sources.deregister(source, |source| self.poller.delete(source))
    }

    fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let mut received = self.received.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // An edge-triggered event taken from the kernel but not kept would be lost: take no
        // more than the caller's buffer holds.
        let room = NonZeroUsize::new(events.capacity() - events.len()).unwrap_or(NonZeroUsize::MIN);
        if received.capacity() != room {
            *received = polling::Events::with_capacity(room);
        }
        received.clear();
        #[cfg(windows)]
        {
            self.waiting.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
        }
        let waited = self.poller.wait(&mut received, timeout);
        #[cfg(windows)]
        self.waiting.store(false, Ordering::Relaxed);
        waited?;
        for event in received.iter() {
            events.push(Event { token: Token(event.key), ready: ready(&event) });
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        self.poller.notify()
    }
}

impl fmt::Debug for PollingBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollingBackend").field("triggering", &self.triggering()).finish()
    }
}
