//! The front end shared by plexio's own `select` and `poll` backends: the list of watched
//! sources, oneshot arming, the wake channel, and everything else that does not depend on
//! which system call waits.
//!
//! Both mechanisms are stateless: every wait hands the kernel the whole set of descriptors
//! again. So the backend keeps the registrations in a table of its own and, on each
//! [`Backend::poll`](crate::Backend::poll), copies the *armed* entries into a [`WaitSet`],
//! waits, and reports what became ready. A reported entry is disarmed (its interest becomes
//! empty) until the reactor re-arms it with `reregister`, which makes these backends
//! [`Triggering::Oneshot`](crate::Triggering::Oneshot): a ready socket that nobody reads is
//! left out of the next wait instead of ending every wait at once.
//!
//! A change made while another thread is blocked in the wait cannot reach the kernel's copy
//! of the set, so it writes to the wake channel, which is always in the set; the waiter
//! returns and the next wait sees the new table.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::sys::wake_channel::WakeChannel;
use crate::{Error, Event, Events, Interest, RawSource, Ready, Token};

/// One wait of a stateless mechanism: filled with sources, waited on, then read back.
///
/// The buffers live across polls, so that a steady state allocates nothing.
pub(crate) trait WaitSet: Default + Send + 'static {
    /// The backend's name, for errors and `Backend::name`.
    const NAME: &'static str;

    /// Refuses a source the mechanism cannot hold, given how many sources the backend
    /// holds already (not counting the wake channel).
    fn admit(source: RawSource, registered: usize) -> io::Result<()>;

    /// Empties the set for the next wait.
    fn clear(&mut self);

    /// Adds a source for a non-empty interest. Only sources that [`WaitSet::admit`]
    /// accepted are added, and no more of them than it allows. `shown` is every flag an
    /// earlier wait found on the source since it was registered: conditions that last (a
    /// peer's hang-up, a finished connect) decide how some mechanisms must watch it.
    fn add(&mut self, source: RawSource, interest: Interest, shown: Ready);

    /// Waits until a source in the set is ready or the timeout passes; `None` waits for
    /// ever. The timeout is rounded up to the mechanism's resolution.
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Calls `report` for each source the last wait found ready.
    fn for_each_ready(&self, report: impl FnMut(RawSource, Ready));
}

/// The state of a `select` or `poll` backend. See the [module documentation](self).
pub(crate) struct WatchList<W> {
    table: Mutex<Table>,
    /// Locked by the polling thread only (the `Backend` contract allows one at a time).
    /// Lock order: `set` before `table`.
    set: Mutex<W>,
    wake: WakeChannel,
    /// True from before the poller copies the table until its wait has returned: a change
    /// made meanwhile must wake it.
    waiting: AtomicBool,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    /// Where each registered source is in `entries`.
    index: HashMap<RawSource, usize>,
}

struct Entry {
    source: RawSource,
    token: Token,
    /// The directions armed for the next wait; empty once reported, until re-armed.
    armed: Interest,
    /// Every flag a wait has found on the source, whether or not it was armed for it.
    shown: Ready,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the table consistent, so a panic elsewhere does not
    // make it unusable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn reserved_token() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "Token::RESERVED is not for registrations")
}

impl<W: WaitSet> WatchList<W> {
    pub(crate) fn new() -> io::Result<WatchList<W>> {
        let wake = WakeChannel::new()?;
        // The wake channel is in every wait, so it must fit like any other source.
        W::admit(wake.source(), 0)?;
        Ok(WatchList {
            table: Mutex::default(),
            set: Mutex::default(),
            wake,
            waiting: AtomicBool::new(false),
        })
    }

    /// The answer for any value that is not in the table, which is every source this
    /// backend does not hold: the table is the whole record, and no such value ever reaches
    /// the kernel.
    fn not_registered(source: RawSource) -> io::Error {
        Error::NotRegistered { descriptor: source, backend: W::NAME }.into()
    }

    pub(crate) fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        if token == Token::RESERVED {
            return Err(reserved_token());
        }
        let mut table = lock(&self.table);
        if table.index.contains_key(&source) {
            return Err(Error::AlreadyRegistered { descriptor: source, backend: W::NAME }.into());
        }
        W::admit(source, table.entries.len())?;
        let position = table.entries.len();
        table.entries.push(Entry { source, token, armed: interest, shown: Ready::EMPTY });
        table.index.insert(source, position);
        drop(table);
        if let Err(error) = self.wake_waiter() {
            // A blocked wait would not see the source until its next wake: refuse it rather
            // than report a failure for a source that stays registered.
            let _ = self.remove(source);
            return Err(error);
        }
        Ok(())
    }

    pub(crate) fn reregister(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        if token == Token::RESERVED {
            return Err(reserved_token());
        }
        let mut table = lock(&self.table);
        let position = *table.index.get(&source).ok_or_else(|| Self::not_registered(source))?;
        let entry = &mut table.entries[position];
        entry.token = token;
        entry.armed = interest;
        drop(table);
        self.wake_waiter()
    }

    pub(crate) fn deregister(&self, source: RawSource) -> io::Result<()> {
        self.remove(source)?;
        // A blocked wait still holds the descriptor, which may be closed and reused as soon
        // as we return; ending the wait keeps the stale copy short-lived.
        self.wake_waiter()
    }

    /// Takes a source out of the table.
    fn remove(&self, source: RawSource) -> io::Result<()> {
        let mut table = lock(&self.table);
        let position = table.index.remove(&source).ok_or_else(|| Self::not_registered(source))?;
        table.entries.swap_remove(position);
        if let Some(moved) = table.entries.get(position) {
            let moved = moved.source;
            table.index.insert(moved, position);
        }
        Ok(())
    }

    pub(crate) fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let mut set = lock(&self.set);
        // Set before the table is copied: a change that misses the copy sees the flag.
        self.waiting.store(true, Ordering::SeqCst);
        set.clear();
        set.add(self.wake.source(), Interest::READABLE, Ready::EMPTY);
        for entry in lock(&self.table).entries.iter().filter(|entry| !entry.armed.is_empty()) {
            set.add(entry.source, entry.armed, entry.shown);
        }
        let waited = set.wait(timeout);
        self.waiting.store(false, Ordering::SeqCst);
        match waited {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(error) if crate::sys::is_bad_descriptor(&error) => {
                self.report_closed(events);
                return Ok(());
            }
            Err(error) => return Err(error),
        }

        let mut table = lock(&self.table);
        let wake_source = self.wake.source();
        set.for_each_ready(|source, ready| {
            if source == wake_source {
                self.wake.drain();
                return;
            }
            // A full buffer leaves the rest armed: the mechanism is level-triggered, so the
            // next wait reports them again.
            if events.is_full() {
                return;
            }
            // Looked up again: a source deregistered during the wait is gone, and one
            // disarmed during it is not reported.
            let Some(&position) = table.index.get(&source) else { return };
            let entry = &mut table.entries[position];
            entry.shown |= ready;
            // Only what concerns an armed direction is news. `poll` reports a hang-up and
            // an error whatever it was asked, and winsock's `WSAPoll` reports the peer's FIN
            // as a hang-up for as long as the socket lives: passed to a socket armed only
            // for writing, it would wake the writer, whose write says `WouldBlock`, at
            // every wait. The mechanism must then watch such a socket in a way that waits
            // (see `WaitSet::add`).
            let ready = ready.intersection(Ready::for_interest(entry.armed));
            if ready.is_empty() {
                return;
            }
            entry.armed = Interest::NONE;
            events.push(Event { token: entry.token, ready });
        });
        Ok(())
    }

    /// Reports, and disarms, every armed source whose descriptor was closed while it was
    /// registered (a broken `Backend::register` contract, which must not break the others).
    fn report_closed(&self, events: &mut Events) {
        let mut table = lock(&self.table);
        for entry in &mut table.entries {
            if events.is_full() {
                break;
            }
            if !entry.armed.is_empty() && !crate::sys::is_open(entry.source) {
                entry.armed = Interest::NONE;
                events.push(Event { token: entry.token, ready: Ready::ERROR });
            }
        }
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        self.wake.wake()
    }

    fn wake_waiter(&self) -> io::Result<()> {
        if self.waiting.load(Ordering::SeqCst) { self.wake.wake() } else { Ok(()) }
    }

    pub(crate) fn registered(&self) -> usize {
        lock(&self.table).entries.len()
    }
}

impl<W> fmt::Debug for WatchList<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchList")
            .field("registered", &lock(&self.table).entries.len())
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Implements [`Backend`](crate::Backend) for a newtype over a [`WatchList`], so that each
/// own backend is a public type of its own with one front end behind it.
macro_rules! forward_to_watch_list {
    ($backend:ident, $set:ty) => {
        impl $crate::Backend for $backend {
            fn name(&self) -> &'static str {
                <$set as $crate::watch_list::WaitSet>::NAME
            }

            fn triggering(&self) -> $crate::Triggering {
                $crate::Triggering::Oneshot
            }

            unsafe fn register(
                &self,
                source: $crate::RawSource,
                token: $crate::Token,
                interest: $crate::Interest,
            ) -> std::io::Result<()> {
                self.list.register(source, token, interest)
            }

            fn reregister(
                &self,
                source: $crate::RawSource,
                token: $crate::Token,
                interest: $crate::Interest,
            ) -> std::io::Result<()> {
                self.list.reregister(source, token, interest)
            }

            fn deregister(&self, source: $crate::RawSource) -> std::io::Result<()> {
                self.list.deregister(source)
            }

            fn poll(
                &self,
                events: &mut $crate::Events,
                timeout: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.list.poll(events, timeout)
            }

            fn notify(&self) -> std::io::Result<()> {
                self.list.notify()
            }
        }
    };
}
pub(crate) use forward_to_watch_list;

#[cfg(all(test, windows))]
mod tests {
    use super::*;

    /// Nothing to wait on: only the wake channel matters here.
    #[derive(Default)]
    struct NoWait;

    impl WaitSet for NoWait {
        const NAME: &'static str = "none";
        fn admit(_source: RawSource, _registered: usize) -> io::Result<()> {
            Ok(())
        }
        fn clear(&mut self) {}
        fn add(&mut self, _source: RawSource, _interest: Interest, _shown: Ready) {}
        fn wait(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
        fn for_each_ready(&self, _report: impl FnMut(RawSource, Ready)) {}
    }

    /// A registration that a blocked wait could not be told of is refused whole, not
    /// reported failed and kept.
    #[test]
    fn a_registration_the_waiter_cannot_be_told_of_is_not_kept() {
        let list = WatchList::<NoWait>::new().unwrap();
        list.waiting.store(true, Ordering::SeqCst);
        list.wake.refuse_next_writes(usize::MAX);
        assert!(list.register(42, Token(1), Interest::READABLE).is_err());
        assert_eq!(list.registered(), 0);
        list.wake.refuse_next_writes(0);
        list.register(42, Token(1), Interest::READABLE).unwrap();
        assert_eq!(list.registered(), 1);
    }
}
