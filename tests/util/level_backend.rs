//! A backend written the way a third party would: outside plexio, against the public
//! `plexio::backend` interface alone. It runs the `polling` crate in *level-triggered* mode,
//! a mode none of plexio's own backends uses, so the suite that runs over it also proves
//! that the reactor normalises level triggering (narrowing interest to what tasks wait on).
//!
//! polling 3.11 on Windows queues a change made while no thread waits for the next `wait`,
//! and checks for a waiting thread before it queues: a `wait` that starts in between blocks
//! with the change queued. The contract says a change reaches a blocked poll, so this
//! backend notes when it waits and, after a change, wakes a wait that may have missed it.
//!
//! polling changes and deletes a source through a borrowed handle, which a safe method may
//! only make for a socket known to be open, so the backend records what it registered, as
//! the contract asks of a third party too, and refuses anything else with `NotFound`.

use std::collections::HashSet;
use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use plexio::backend::{Backend, Events, Interest, RawSource, Ready, Token, Triggering};
use polling::{Event, PollMode, Poller};

#[derive(Debug)]
pub struct LevelBackend {
    poller: Poller,
    /// # Invariant
    ///
    /// Holds exactly the sources added to `poller` and not yet deleted, each of which its
    /// registrant keeps open until `deregister` for it has returned; changed, and used for a
    /// borrow, only under the lock.
    registered: Mutex<HashSet<RawSource>>,
    events: Mutex<polling::Events>,
    /// Set while a thread is in `Poller::wait` (see the module docs).
    waiting: AtomicBool,
}

impl LevelBackend {
    pub fn new() -> io::Result<LevelBackend> {
        let poller = Poller::new()?;
        assert!(poller.supports_level());
        Ok(LevelBackend {
            poller,
            registered: Mutex::default(),
            events: Mutex::new(polling::Events::new()),
            waiting: AtomicBool::new(false),
        })
    }

    /// After a change: wakes a `wait` that may have started without it. The fence pairs
    /// with the one in `poll`: this load sees the flag, or that `wait` began after the
    /// change was queued.
    fn changed(&self) -> io::Result<()> {
        fence(Ordering::SeqCst);
        if cfg!(windows) && self.waiting.load(Ordering::Relaxed) {
            return self.poller.notify();
        }
        Ok(())
    }

    fn registered(&self) -> MutexGuard<'_, HashSet<RawSource>> {
        self.registered.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn not_registered(source: RawSource) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("source {source:?} is not registered"))
}

fn event(token: Token, interest: Interest) -> Event {
    let mut event = Event::none(token.0);
    event.readable = interest.is_readable();
    event.writable = interest.is_writable();
    event
}

/// # Safety
///
/// `source` must be open for as long as the borrow lives.
#[cfg(unix)]
unsafe fn borrow<'a>(source: RawSource) -> std::os::fd::BorrowedFd<'a> {
    // SAFETY: our caller's promise is what `borrow_raw` asks.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(source) }
}

/// # Safety
///
/// `source` must be open for as long as the borrow lives.
#[cfg(windows)]
unsafe fn borrow<'a>(source: RawSource) -> std::os::windows::io::BorrowedSocket<'a> {
    // SAFETY: our caller's promise is what `borrow_raw` asks.
    unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(source) }
}

impl Backend for LevelBackend {
    fn name(&self) -> &'static str {
        super::THIRD_PARTY
    }

    fn triggering(&self) -> Triggering {
        Triggering::Level
    }

    unsafe fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        if token == Token::RESERVED {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "reserved token"));
        }
        let mut registered = self.registered();
        if registered.contains(&source) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "registered already"));
        }
        // SAFETY: our own caller promised that `source` stays open until deregistered, which
        // is what `Poller::add` asks; `deregister` deletes every source recorded here.
        unsafe { self.poller.add_with_mode(source, event(token, interest), PollMode::Level)? };
        registered.insert(source);
        self.changed()
    }

    fn reregister(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()> {
        let registered = self.registered();
        if !registered.contains(&source) {
            return Err(not_registered(source));
        }
        // SAFETY: recorded, and the lock held until `modify` returns: open meanwhile (the
        // invariant on `registered`).
        let source = unsafe { borrow(source) };
        self.poller.modify_with_mode(source, event(token, interest), PollMode::Level)?;
        self.changed()
    }

    fn deregister(&self, source: RawSource) -> io::Result<()> {
        let mut registered = self.registered();
        if !registered.remove(&source) {
            return Err(not_registered(source));
        }
        // SAFETY: recorded until this call, which has not returned: still open (the
        // invariant on `registered`).
        let source = unsafe { borrow(source) };
        self.poller.delete(source)
    }

    fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let mut received = self.events.lock().unwrap();
        let capacity = NonZeroUsize::new(events.capacity() - events.len()).unwrap();
        if received.capacity() != capacity {
            *received = polling::Events::with_capacity(capacity);
        }
        received.clear();
        self.waiting.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let waited = self.poller.wait(&mut received, timeout);
        self.waiting.store(false, Ordering::Relaxed);
        waited?;
        for event in received.iter() {
            let mut ready = Ready::EMPTY;
            if event.readable {
                ready |= Ready::READABLE;
            }
            if event.writable {
                ready |= Ready::WRITABLE;
            }
            events.push(plexio::backend::Event { token: Token(event.key), ready });
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        self.poller.notify()
    }
}
